#!/bin/sh
# demo-media.sh - builds a sample two-image install.wim (a clean image and a
# customized one with a foreign SetupComplete.cmd and a captured keyholder
# archive), bakes the sample payload into it, and shows `lint` before and after.
# usage: demo-media.sh [PAYLOAD_DIR [WORK_DIR]]   (or env PAYLOAD, WORK, BUILD)
#   PAYLOAD_DIR: khreset.exe, khreset.ini, bundle/, SetupComplete.cmd; when
#   absent, a sample payload is made in WORK_DIR from setupcomplete/ (the
#   Linux khreset binary stands in for khreset.exe).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib.sh"
PAYLOAD=${1:-${PAYLOAD:-}}
WORK=${2:-${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/khreset-demo-media.XXXXXX")}}
mkdir -p "$WORK"
cd "$WORK" || exit 1

if [ -z "$PAYLOAD" ]; then
	PAYLOAD="$WORK/payload"
	mkpayload "$PAYLOAD" "$KH" || { echo "demo-media: could not make the sample payload" >&2; exit 1; }
fi

rm -rf img1 img2 install.wim
mkdir -p img1/Windows/System32 img2/Windows/Setup/Scripts \
	img2/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder
echo "stock V2020-L" >img1/Windows/System32/version.txt
cp -r img1/Windows img2/
printf '@echo off\r\nrem office registry fix of the customized image\r\nreg add HKLM\\SOFTWARE\\Demo /v Fix /d 1 /f\r\n' \
	>img2/Windows/Setup/Scripts/SetupComplete.cmd
echo '<License>from the old OS</License>' >img2/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder/$ROOT_KH
echo '<License>carried over</License>' >img2/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder/61afd8e2-0000-4000-8000-000000000001.xml
wimlib-imagex capture img1 install.wim "CMGE V2020-L stock" >/dev/null &&
wimlib-imagex append img2 install.wim "CMGE V2020-L customized" >/dev/null || exit 1
for i in 1 2; do
	wimlib-imagex info install.wim $i --image-property WINDOWS/EDITIONID=EnterpriseG \
		--image-property WINDOWS/VERSION/BUILD=17763 >/dev/null
done

say "lint before bake: the stock image lacks the hook; the customized one also carries a used keyholder archive"
"$KH" lint install.wim
say "bake --dry-run: what would change, per image"
"$KH" bake install.wim --payload "$PAYLOAD" --dry-run
say "bake: payload into every image; the customized image's SetupComplete.cmd is chained, not replaced"
"$KH" bake install.wim --payload "$PAYLOAD" || exit 1
say "lint after bake: the hook is there; a fresh install would still copy the captured archive into new machines"
"$KH" lint install.wim
say "bake --clean-archive: the captured Archive\\KeyHolder entries go too"
"$KH" bake install.wim --payload "$PAYLOAD" --clean-archive || exit 1
say "lint again: every image ready"
"$KH" lint install.wim
say "7-Zip sees the same (independent reader)"
7z l -ba install.wim 2>/dev/null | grep -i 'Setup' | awk '{print $NF}'
exit 0
