#!/bin/sh
# demo-media.sh - builds a sample two-image install.wim (a clean image and a
# customized one with a foreign SetupComplete.cmd and a captured keyholder
# archive), bakes the sample payload into it, and shows `lint` before and after.
# usage: demo-media.sh [PAYLOAD_DIR [WORK_DIR]]   (or env PAYLOAD, WORK, BUILD)
#   PAYLOAD_DIR: khreset.exe, khreset.ini, bundle/, SetupComplete.cmd; when
#   absent, a sample payload is made in WORK_DIR from setupcomplete/ (the
#   Linux khreset binary stands in for khreset.exe).
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
K="$BUILD/khreset"
PAYLOAD=${1:-${PAYLOAD:-}}
WORK=${2:-${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/khreset-demo-media.XXXXXX")}}
mkdir -p "$WORK"
cd "$WORK" || exit 1
say() { printf '\n== %s\n' "$*"; }
KH=f912421d-3371-f33c-3cf8-22df25e5851f.xml

if [ -z "$PAYLOAD" ]; then
	PAYLOAD="$WORK/payload"
	rm -rf "$PAYLOAD"
	mkdir -p "$PAYLOAD/bundle"
	cp "$K" "$PAYLOAD/khreset.exe"
	cp "$REPO/setupcomplete/khreset.ini" "$REPO/setupcomplete/SetupComplete.cmd" "$PAYLOAD/"
	printf '<?xml version="1.0" encoding="utf-8"?><License xmlns="urn:khreset:demo"><Id>root</Id></License>' \
		>"$PAYLOAD/bundle/$KH"
	"$K" -q bundle create "$PAYLOAD/bundle" >/dev/null || exit 1
fi

rm -rf img1 img2 install.wim
mkdir -p img1/Windows/System32 img2/Windows/Setup/Scripts \
	img2/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder
echo "stock V2020-L" >img1/Windows/System32/version.txt
cp -r img1/Windows img2/
printf '@echo off\r\nrem office registry fix of the customized image\r\nreg add HKLM\\SOFTWARE\\Demo /v Fix /d 1 /f\r\n' \
	>img2/Windows/Setup/Scripts/SetupComplete.cmd
echo '<License>from the old OS</License>' >img2/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder/$KH
echo '<License>carried over</License>' >img2/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder/61afd8e2-0000-4000-8000-000000000001.xml
wimlib-imagex capture img1 install.wim "CMGE V2020-L stock" >/dev/null &&
wimlib-imagex append img2 install.wim "CMGE V2020-L customized" >/dev/null || exit 1
for i in 1 2; do
	wimlib-imagex info install.wim $i --image-property WINDOWS/EDITIONID=EnterpriseG \
		--image-property WINDOWS/VERSION/BUILD=17763 >/dev/null
done

say "lint before bake: the stock image lacks the hook; the customized one also carries a used keyholder archive"
"$K" lint install.wim
say "bake --dry-run: what would change, per image"
"$K" bake install.wim --payload "$PAYLOAD" --dry-run
say "bake: payload into every image; the customized image's SetupComplete.cmd is chained, not replaced"
"$K" bake install.wim --payload "$PAYLOAD" || exit 1
say "lint after bake: the hook is there; the captured archive is still an error only a recapture fixes"
"$K" lint install.wim
say "7-Zip sees the same (independent reader)"
7z l -ba install.wim 2>/dev/null | grep -i 'Setup' | awk '{print $NF}'
exit 0
