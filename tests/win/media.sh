#!/bin/sh
# tests/win/media.sh - `khreset.exe bake` and `lint` under Wine, checked with
# the Linux tools (issue 11):
#
#   1. every case of tests/integration/test_media.sh again, with khreset.exe
#      doing the work (KH_WINE): lint findings and exit codes, bake results
#      read back by wimlib-imagex verify and 7z (payload bytes, the chained
#      script, no double chain, a non-WIM refused and unchanged, a kill
#      mid-commit leaving the old WIM valid), and for every call the Linux
#      build on copies of the same files: the same exit code and the same
#      stdout, --json documents included (they hold no time, and the
#      relative paths are the same);
#   2. a WIM and a payload in a folder whose name has spaces and Chinese
#      characters (C:\镜像 工作\install.wim): lint, bake, lint again, the
#      result read by wimlib-imagex and 7z, the names round-trip in --json;
#   3. progress: the percent of bytes written on a console (a pty, which
#      Wine turns into a console), nothing with -q, nothing when stdout or
#      stderr is a file.
#
# Prefix as tests/win/smoke.sh (tests/win/wine-lib.sh): the template
# build/win/wine-template copied fresh to build/win/wine-media.  Needs
# wine64, build/win/khreset.exe with bake and lint (make windows; a build
# without wimlib - its source package not served - is one skip line), the
# Linux build/khreset,
# wimtools, p7zip-full, jq, script (bsdutils).  Ends with "N passed, N failed".
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
. "$TOP/tests/lib.sh"
. "$TOP/tests/win/wine-lib.sh"
W=${W:-build/win}
case $W in /*) ;; *) W=$TOP/$W ;; esac
EXE=$W/khreset.exe
wine_find media
[ -s "$EXE" ] || { notok "$EXE built (make windows)"; finish; exit 1; }
[ -x "$KH" ] || { notok "$KH built (make)"; finish; exit 1; }
if [ -f "$W/deps/.wimlib-missing" ]; then
	# not a failure of khreset's: the archive did not serve wimlib's source
	skip "khreset.exe bake and lint: built without wimlib ($(head -n 1 "$W/deps/.wimlib-missing") see $W/deps/.wimlib-missing)"
	finish
	exit 0
fi
STRIP_CR=1
# Wine turns the command line into UTF-16 with the locale's character set
export LC_ALL=C.UTF-8

wine_env
wine_prefix media "$W/wine-template" "$W/wine-media"
wine_start
C=$WINEPREFIX/drive_c
kh_exec() { "$WINE" "$EXE" "$@"; }

# --- 1. the Linux media suite through khreset.exe ------------------------------
rc=0
KH_WINE=$WINE KH_WINE_EXE=$EXE BUILD=$BUILD sh tests/integration/test_media.sh >"$T/suite.txt" 2>&1 || rc=$?
adopt "$rc" "$T/suite.txt" "media suite (khreset.exe): "

# --- 2. spaces and Chinese characters in the paths -----------------------------
D="$C/镜像 工作"
WD='C:\镜像 工作'
mkdir -p "$D" "$T/img/Windows/System32" "$T/img/Windows/Setup/Scripts" "$T/img/$ARCH_REL"
printf 'kernel\n' >"$T/img/Windows/System32/ntoskrnl.exe"
printf '@echo off\r\necho theirs\r\n' >"$T/img/Windows/Setup/Scripts/SetupComplete.cmd"
printf '<License>carried over</License>' >"$T/img/$ARCH_REL/$OLD_KH"
fixture "a WIM in a folder named with spaces and Chinese" \
	quiet wimlib-imagex capture "$T/img" "$D/install.wim" "镜像 一" || { finish; exit 1; }
head -c 50000 /dev/urandom >"$T/exe.bin"
fixture "a payload beside it" mkpayload "$D/payload" "$T/exe.bin" || { finish; exit 1; }
CASE="lint $WD\\install.wim"
expect_exit 3 kh --json lint "$WD\\install.wim"
check "lint: the WIM's name comes back in the document" jq_is .wim "$WD\\install.wim"
check "lint: the image name (Chinese) from the WIM's XML" jq_is '.images[0].name' "镜像 一"
check "lint: the captured archive found" jq_is '.images[0].fresh_deployment.archive_entries[0]' "$OLD_KH"
cp "$D/install.wim" "$T/twin.wim"
check "lint: the same findings as the Linux build" same \
	"$(jq -c '[.images[].findings[].id]' "$T/out")" \
	"$("$KH" --json lint "$T/twin.wim" | jq -c '[.images[].findings[].id]')"
run kh_exec --json lint "$WD\\install.wim" --bundle "$WD\\payload\\bundle"
check "lint --bundle in the Chinese folder: exit 3" rc_is 3
check "lint --bundle: the bundle read from the Chinese folder" jq_is .bundle "$WD\\payload\\bundle"
check "lint --bundle: its keyholder missing from the image" \
	jq_is '[.images[0].findings[].id] | index("install-keyholder-missing") != null' true
CASE="bake into $WD\\install.wim"
expect_exit 0 kh bake "$WD\\install.wim" --payload "$WD\\payload" --clean-archive
check "bake: says what it did" out_has '^baked: 1 image(s) of C:.镜像 工作.install.wim, re-read and verified'
check "bake: wimlib-imagex verify accepts the WIM" quiet wimlib-imagex verify "$D/install.wim"
check "bake: khreset.exe in the image, byte for byte (7z)" \
	same "$(7z x -so "$D/install.wim" Windows/Setup/Scripts/khreset/khreset.exe 2>/dev/null | sha256sum)" \
	"$(sha256sum <"$T/exe.bin")"
check "bake: their script chained, byte for byte (7z)" \
	same "$(7z x -so "$D/install.wim" Windows/Setup/Scripts/SetupComplete.chained.cmd 2>/dev/null | od -c)" \
	"$(printf '@echo off\r\necho theirs\r\n' | od -c)"
CASE="lint after the bake"
expect_exit 0 kh --json lint "$WD\\install.wim"
check "lint after the bake: ready" jq_is '"\(.images[0].ready) \(.summary_line)"' "true all 1 image ready for fresh installs and upgrades"
CASE="not a WIM, named in Chinese"
printf 'not a wim' >"$D/不是.wim"
expect_exit 65 kh bake "$WD\\不是.wim" --payload "$WD\\payload"
check "not a WIM: the error names it" err_has '不是.wim'
check "not a WIM: unchanged" same "$(cat "$D/不是.wim")" 'not a wim'

# a read-only file in the image (Wine gives a 0444 file FILE_ATTRIBUTE_READONLY,
# and the bake captures it): read through the scratch folder, which must
# still be removed afterwards
cp -r "$D/payload" "$T/ro-payload" && chmod 0444 "$T/ro-payload/SetupComplete.cmd"
fixture "a WIM for the read-only case" quiet wimlib-imagex capture "$T/img" "$T/ro.wim" ro
CASE="bake, a read-only payload file"
expect_exit 0 kh bake "$T/ro.wim" --payload "$T/ro-payload"
check "the image's SetupComplete.cmd is read-only (wimlib-imagex dir)" sh -c \
	"wimlib-imagex dir '$T/ro.wim' 1 --path=/Windows/Setup/Scripts/SetupComplete.cmd --detailed | grep -q 'FILE_ATTRIBUTE_READONLY is set'"
TEMPDIR=$C/users/$(id -un)/Temp
rm -rf "$TEMPDIR"/khreset-wim.*
CASE="lint, a read-only file in the image"
expect_exit 3 kh lint "$T/ro.wim"
check "lint of a read-only file: no scratch folder left in TEMP" \
	sh -c "! ls -d '$TEMPDIR'/khreset-wim.* 2>/dev/null"

# --- 3. progress -------------------------------------------------------------------
# console: script(1) gives khreset.exe a pty, which Wine makes its console;
# its cursor moves are taken out, a move right read as a space
console() { # OUTFILE CMD...: CMD on a console, what it showed in OUTFILE
	lib_o=$1
	shift
	script -qec "$*" /dev/null </dev/null 2>&1 | sed -e 's/\x1b\[1C/ /g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' |
		tr '\r' '\n' >"$lib_o"
}
cp "$D/install.wim" "$T/p1.wim"
console "$T/con1.txt" "'$WINE' '$EXE' bake '$T/p1.wim' --payload '$D/payload' --rebuild"
check "progress on a console: percent of bytes written, up to 100%" \
	file_has "$T/con1.txt" 'khreset: writing *100% (.* MiB)'
check "progress on a console: then the result" file_has "$T/con1.txt" 'baked: 1 image'
cp "$D/install.wim" "$T/p2.wim"
console "$T/con2.txt" "'$WINE' '$EXE' -q bake '$T/p2.wim' --payload '$D/payload' --rebuild"
check "progress with -q: none" file_lacks "$T/con2.txt" 'writing'
check "-q on a console: the WIM is baked all the same" quiet wimlib-imagex verify "$T/p2.wim"
cp "$D/install.wim" "$T/p4.wim"
console "$T/con4.txt" "'$WINE' '$EXE' bake '$T/p4.wim' --payload '$D/payload' --rebuild >'$T/p4.out'"
check "progress when stdout is a file (stderr a console): none" file_lacks "$T/con4.txt" 'writing'
check "... and the result in the file" file_has "$T/p4.out" 'baked: 1 image'
cp "$D/install.wim" "$T/p3.wim"
CASE="stderr a file"
expect_exit 0 kh bake "$T/p3.wim" --payload "$D/payload" --rebuild
check "progress when stderr is not a console: none" same "$ERR" ""

# --- 4. one payload for both hosts: make media's folder ------------------------------
fixture "make media's payload (signed demo bundle, khreset.exe)" \
	quiet env BUILD="$BUILD" sh setupcomplete/make-media.sh "$T/media" || { finish; exit 1; }
check "the payload carries this khreset.exe" cmp -s "$T/media/khreset.exe" "$EXE"
fixture "a WIM for both bakes" quiet wimlib-imagex capture "$T/img" "$T/m-lin.wim" "two hosts" &&
	cp "$T/m-lin.wim" "$T/m-win.wim"
CASE="make media, baked from Linux"
run "$KH" bake "$T/m-lin.wim" --payload "$T/media"
check "make media, baked from Linux: exit 0" rc_is 0
CASE="make media, baked from Windows"
expect_exit 0 kh bake "$T/m-win.wim" --payload "$T/media"
check "make media, both bakes: wimlib-imagex verify accepts both" \
	sh -c "wimlib-imagex verify '$T/m-lin.wim' >/dev/null 2>&1 && wimlib-imagex verify '$T/m-win.wim' >/dev/null 2>&1"
mkdir "$T/x-lin" "$T/x-win"
fixture "both baked images applied (wimlib-imagex)" \
	sh -c "wimlib-imagex apply '$T/m-lin.wim' 1 '$T/x-lin' >/dev/null && wimlib-imagex apply '$T/m-win.wim' 1 '$T/x-win' >/dev/null"
check "make media, both bakes: the same files, byte for byte" diff -r "$T/x-lin" "$T/x-win"
check "make media, both bakes: the signed bundle's key is in the image" \
	test -f "$T/x-win/Windows/Setup/Scripts/khreset/bundle/signing.pub"
check "make media, both bakes: lint says the same of both" same \
	"$(kh_exec --json lint "$T/m-win.wim" | tr -d '\r' | jq -c 'del(.wim)')" \
	"$("$KH" --json lint "$T/m-lin.wim" | jq -c 'del(.wim)')"
# the twin: the comparison sees a difference (an unbaked WIM, a baked one)
check "make media: lint of an unbaked WIM says otherwise (the comparison can fail)" sh -c \
	"[ \"\$('$KH' --json lint '$T/twin.wim' | jq -c 'del(.wim)')\" != \"\$('$KH' --json lint '$T/m-lin.wim' | jq -c 'del(.wim)')\" ]"

wine_stop
if [ "$FAIL" = 0 ]; then
	rm -rf "$WINEPREFIX"        # ~700 MB; kept when something failed
else
	echo "# prefix kept: $WINEPREFIX"
fi
finish
