#!/bin/sh
# demo.sh - the field case, reproduced on a sample volume and repaired.
set -u
. tests/lib.sh
D=$BUILD/demo
rm -rf "$D"
BUILD=$BUILD sh tests/mkvolume.sh "$D" >/dev/null 2>&1 || { echo "demo: could not build the sample volume" >&2; exit 1; }
V=$D/vol

echo "Sample volume: $V"
echo "  a Windows 10 CMGE VM upgraded in place from build 17134 (V0-H) to 17763 (V2020-L):"
echo "  its ClipSVC archive still holds the old root keyholder and a carried-over 61afd... file;"
echo "  the signed official keyholder set sits where 'bake' puts it (Windows/Setup/Scripts/khreset)."

say "1. check: what is wrong, and what run would do (changes nothing; exit 3 = attention)" \
    "khreset --root $V check"
"$KH" --root "$V" check
echo "(exit $?)"

say "2. run: back up the archive, stage the official set, set the VDI registry values (exit 2 = pending: ClipSVC regenerates the archive at next boot)" \
    "khreset --root $V run"
"$KH" --root "$V" run
echo "(exit $?)"

say "3. check again: the stale keyholders are gone; the official set waits in Install\\KeyHolder for ClipSVC" \
    "khreset --root $V check"
"$KH" --root "$V" check
echo "(exit $?)"

say "4. restore --list: nothing was lost; the old archive is a backup that 'restore' can put back" \
    "khreset --root $V restore --list"
"$KH" --root "$V" restore --list
echo "(exit $?)"

say "5. media: bake khreset into a sample two-image install.wim and lint it before and after"
BUILD=$BUILD sh tests/demo-media.sh "" "$D/media"
