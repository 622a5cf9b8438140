#!/bin/sh
# test_media.sh - `khreset bake` and `khreset lint` on real WIM files made by
# wimlib-imagex from generated trees, checked with an independent reader (7z)
# and `wimlib-imagex verify`; every positive case has its negative twin (the
# WIM's checksum must not change).  Also runs SetupComplete.cmd under Wine
# (media/setupcomplete-wine.sh) when wine64 and mingw-w64 are installed.
# Prints ok/not ok lines and ends with "N passed, M failed".
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
K="$BUILD/khreset"
T=$(mktemp -d "${TMPDIR:-/tmp}/khreset-media.XXXXXX")
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
nok() { echo "not ok - $1"; fail=$((fail + 1)); }
check() { name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
# kh EXPECTED NAME ARGS...: runs khreset, checks the exit code, keeps output
kh() {
	want=$1 name=$2; shift 2
	"$K" "$@" >out.txt 2>err.txt
	code=$?
	if [ "$code" = "$want" ]; then ok "$name (exit $code)"; else
		nok "$name (exit $code, want $want)"; sed 's/^/# /' err.txt; fi
}
# unchanged NAME WIM SUM: the WIM's bytes are what they were
unchanged() { check "$1: WIM unchanged" [ "$(sum "$2")" = "$3" ]; }
jqt() { jq -e "$1" out.txt >/dev/null; }
sevs() { jq -r --argjson i "$1" '.images[] | select(.index == $i) | .findings[] | .id' out.txt | sort | tr '\n' ' '; }
x7() { 7z x -so "$1" "$2" 2>/dev/null; }   # one file of a WIM, read by 7-Zip
l7() { 7z l -ba -slt "$1" 2>/dev/null | sed -n 's/^Path = //p' | tr '\\' /; }

[ -x "$K" ] || { echo "not ok - $K not built"; echo "0 passed, 1 failed"; exit 1; }

# ---------------------------------------------------------------- fixtures
KH=f912421d-3371-f33c-3cf8-22df25e5851f.xml
OLD=61afd8e2-0000-4000-8000-000000000001.xml
KHXML='<?xml version="1.0" encoding="utf-8"?><License xmlns="urn:khreset:test"><Id>root</Id></License>'
mkfile() { mkdir -p "$(dirname "$1")"; printf '%b' "$2" >"$1"; }
base() {
	mkdir -p "$1/Windows/System32/config" "$1/Program Files"
	head -c 20000 /dev/urandom >"$1/Windows/System32/ntoskrnl.exe"
	printf 'base %s\n' "$1" >"$1/Windows/win.ini"
}
# 1 Clean: no SetupComplete; the official keyholder staged in Install
base t1
mkfile t1/ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder/$KH "$KHXML"
# 2 Customized: a foreign SetupComplete.cmd, archive captured from a used system,
#   a different file in Install
base t2
FOREIGN='@echo off\r\nrem the customer'"'"'s own post-setup step\r\nreg add HKLM\\SOFTWARE\\Office /v Fix /d 1 /f\r\n'
mkfile t2/Windows/Setup/Scripts/SetupComplete.cmd "$FOREIGN"
mkfile t2/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder/$KH '<License>old root</License>'
mkfile t2/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder/$OLD '<License>carried over</License>'
mkfile t2/ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder/$KH '<License>other</License>'
# 3 Vendor: the vendor's fix, a program in Windows\Temp run by SetupComplete
#   and by a scheduled task (task XML is UTF-16LE, as Windows writes it)
base t3
mkfile t3/Windows/Setup/Scripts/SetupComplete.cmd \
	'@echo off\r\n"%WINDIR%\\Temp\\KeyHolderFix.exe" /silent\r\nexit /b 0\r\n'
mkfile t3/Windows/Temp/KeyHolderFix.exe 'MZ vendor'
mkdir -p t3/Windows/System32/Tasks/Vendor
printf '\357\273\277<?xml version="1.0" encoding="UTF-16"?>\r\n<Task><Actions Context="Author"><Exec><Command>C:\\Windows\\Temp\\ActivateRetry.exe</Command></Exec></Actions></Task>\r\n' |
	iconv -f UTF-8 -t UTF-16 >t3/Windows/System32/Tasks/Vendor/ActivateRetry
# 4 Lowercase: names spelled differently, a foreign script too
mkdir -p t4/windows/setup/scripts t4/windows/system32
printf 'x' >t4/windows/system32/kernel32.dll
mkfile t4/windows/setup/scripts/setupcomplete.cmd '@echo off\r\necho lower\r\n'

wimlib-imagex capture t1 media.wim "CMGE V2020-L clean" >/dev/null &&
wimlib-imagex append t2 media.wim "CMGE V2020-L customized" >/dev/null &&
wimlib-imagex append t3 media.wim "CMGE V2020-L vendor fix" >/dev/null &&
wimlib-imagex append t4 media.wim "lowercase" >/dev/null
for i in 1 2 3 4; do
	wimlib-imagex info media.wim $i --image-property WINDOWS/EDITIONID=EnterpriseG \
		--image-property WINDOWS/VERSION/BUILD=17763 >/dev/null
done
check "fixture: 4-image WIM made by wimlib-imagex" [ "$(wimlib-imagex info media.wim | sed -n 's/^Image Count: *//p')" = 4 ]

# payload (SPEC 7): khreset.exe (any file here), khreset.ini, bundle/, SetupComplete.cmd
mkdir -p payload/bundle
head -c 70000 /dev/urandom >payload/khreset.exe
cp "$REPO/setupcomplete/khreset.ini" "$REPO/setupcomplete/SetupComplete.cmd" payload/
printf '%s' "$KHXML" >payload/bundle/$KH
"$K" bundle create payload/bundle >/dev/null 2>&1 || {
	# before the bundle verb exists: write the manifest by hand (SPEC 5)
	printf '[bundle]\nformat = 1\nname = test\n[install]\n%s = %s\n' $KH \
		"$(sum payload/bundle/$KH)" >payload/bundle/manifest.ini
}
chmod -R a+rX "$T"
cp media.wim orig.wim

# ---------------------------------------------------------------- lint
kh 3 "lint: errors in the customized images" --json lint media.wim
check "lint: image 1 only lacks the hook" [ "$(sevs 1)" = "hook-missing " ]
check "lint: image 2 archive keyholders, no hook, foreign SetupComplete" \
	[ "$(sevs 2)" = "archive-keyholders-present hook-missing setupcomplete-foreign " ]
check "lint: image 3 program-in-temp in SetupComplete and in the UTF-16 task" \
	[ "$(jq -r '.images[2].findings[] | select(.id == "program-in-temp") | .path' out.txt | tr '\n' ' ')" = \
	  '\Windows\Setup\Scripts\SetupComplete.cmd \Windows\System32\Tasks\Vendor\ActivateRetry ' ]
check "lint: name, edition and build from the WIM XML" \
	[ "$(jq -r '.images[1] | "\(.name)|\(.edition)|\(.build)"' out.txt)" = "CMGE V2020-L customized|EnterpriseG|17763" ]
check "lint: archive finding names both files" grep -q "$OLD" out.txt
check "lint --json: stdout is only JSON, summary counts errors" jqt '.summary.error == 3 and .exit_code == 3'
kh 3 "lint --bundle: install keyholders checked" --json lint media.wim --bundle payload/bundle
check "lint --bundle: image 1 has the official file (no install finding)" [ "$(sevs 1)" = "hook-missing " ]
check "lint --bundle: image 2 mismatch" sh -c "jq -r '.images[1].findings[].id' out.txt | grep -qx install-keyholder-mismatch"
check "lint --bundle: image 3 missing" sh -c "jq -r '.images[2].findings[].id' out.txt | grep -qx install-keyholder-missing"
kh 3 "lint: human output, verdict first" lint media.wim
check "lint: human output starts with the verdict" sh -c "head -n 1 out.txt | grep -q '^lint: FAIL: '"
unchanged "lint" media.wim "$(sum orig.wim)"
wimlib-imagex export orig.wim 1 clean.wim >/dev/null
kh 0 "lint: clean image without --bundle: only a warning" lint clean.wim
echo "not a wim" >junk.wim
kh 65 "lint: not a WIM" lint junk.wim
kh 65 "lint: --bundle failing verification" lint media.wim --bundle "$T/nonexistent"
kh 64 "lint: usage" lint

# ---------------------------------------------------------------- bake: negative twins
S0=$(sum media.wim)
kh 64 "bake: --payload missing is a usage error" bake media.wim
kh 64 "bake: --index must be a number or all" bake media.wim --payload payload --index two
kh 65 "bake: not a WIM" bake junk.wim --payload payload
check "bake: not a WIM: file unchanged" [ "$(cat junk.wim)" = "not a wim" ]
kh 65 "bake: index out of range" bake media.wim --payload payload --index 5
unchanged "bake: index out of range" media.wim "$S0"
check "bake: index error names the image count" grep -q "has 4" err.txt
cp -r payload bad1 && rm bad1/khreset.exe
kh 65 "bake: payload missing khreset.exe" bake media.wim --payload bad1
check "bake: missing file named" grep -q "khreset.exe missing" err.txt
unchanged "bake: payload missing files" media.wim "$S0"
cp -r payload bad2 && rm bad2/SetupComplete.cmd
kh 65 "bake: payload missing SetupComplete.cmd" bake media.wim --payload bad2
cp -r payload bad3 && printf 'X' | dd of=bad3/bundle/$KH bs=1 seek=5 conv=notrunc 2>/dev/null
kh 65 "bake: payload bundle fails verification (one byte edited)" bake media.wim --payload bad3
check "bake: bundle error names the file" grep -q "$KH" err.txt
unchanged "bake: bundle fails verification" media.wim "$S0"
cp -r payload bad4 && printf '@echo off\r\nrem someone else\r\n' >bad4/SetupComplete.cmd
kh 65 "bake: payload SetupComplete.cmd without our marker" bake media.wim --payload bad4
cp -r payload bad5 && rm -r bad5/bundle
kh 65 "bake: payload without bundle/" bake media.wim --payload bad5
unchanged "bake: payload errors" media.wim "$S0"
cp media.wim ro.wim && chmod 0444 ro.wim
if setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$K" bake ro.wim --payload payload >out.txt 2>err.txt
	code=$?
	check "bake: read-only WIM as nobody (exit $code, want 77)" [ "$code" = 77 ]
	unchanged "bake: read-only WIM" ro.wim "$S0"
else
	echo "# setpriv cannot drop to nobody here; read-only case not run"
fi

# ---------------------------------------------------------------- bake: dry run
kh 0 "bake --dry-run" bake media.wim --payload payload --dry-run
unchanged "bake --dry-run" media.wim "$S0"
check "bake --dry-run: says what would change per image" \
	sh -c "grep -q 'rename .*SetupComplete.cmd -> .*khreset.SetupComplete.chained.cmd' out.txt && grep -c '^  image' out.txt | grep -qx 4"

# ---------------------------------------------------------------- bake
kh 0 "bake: all images" --json bake media.wim --payload payload
check "bake --json: every image verified" jqt '[.images[].verified] == [true,true,true,true] and .result.ok'
check "bake: SetupComplete states absent/foreign/foreign/foreign" \
	[ "$(jq -r '[.images[].setupcomplete] | join(",")' out.txt)" = "absent,foreign,foreign,foreign" ]
check "bake: wimlib-imagex verify accepts the WIM" sh -c 'wimlib-imagex verify media.wim >/dev/null 2>&1'
check "bake: 7z t accepts the WIM" sh -c '7z t media.wim >/dev/null 2>&1'
l7 media.wim >list.txt
for i in 1 2 3; do
	check "bake: 7z sees payload in image $i" sh -c "grep -qx '$i/Windows/Setup/Scripts/khreset/khreset.exe' list.txt &&
		grep -qx '$i/Windows/Setup/Scripts/khreset/bundle/$KH' list.txt &&
		grep -qx '$i/Windows/Setup/Scripts/khreset/bundle/manifest.ini' list.txt &&
		grep -qx '$i/Windows/Setup/Scripts/SetupComplete.cmd' list.txt"
	check "bake: image $i SetupComplete.cmd is ours, byte for byte (7z)" \
		[ "$(x7 media.wim "$i/Windows/Setup/Scripts/SetupComplete.cmd" | sha256sum)" = "$(sha256sum <payload/SetupComplete.cmd)" ]
	check "bake: image $i khreset.exe byte for byte (7z)" \
		[ "$(x7 media.wim "$i/Windows/Setup/Scripts/khreset/khreset.exe" | sha256sum)" = "$(sha256sum <payload/khreset.exe)" ]
done
check "bake: nothing under Windows\\Temp" sh -c "! grep -i '^[0-9]*/Windows/Temp/khreset' list.txt"
check "bake: image 1 has no chained script" sh -c "! grep -qi '^1/.*SetupComplete.chained' list.txt"
check "bake: image 2 foreign SetupComplete kept byte for byte as the chained script (7z)" \
	[ "$(x7 media.wim 2/Windows/Setup/Scripts/khreset/SetupComplete.chained.cmd | od -c)" = "$(printf '%b' "$FOREIGN" | od -c)" ]
check "bake: lowercase image: one windows folder, chained, ours in place" \
	sh -c "[ \$(grep -ci '^4/windows\$' list.txt) = 1 ] && grep -qi '^4/windows/setup/scripts/khreset/setupcomplete.chained.cmd\$' list.txt &&
	[ \$(grep -ci '^4/windows/setup/scripts/setupcomplete.cmd\$' list.txt) = 1 ]"
check "bake: other files of the image untouched (7z)" \
	[ "$(x7 media.wim 1/Windows/System32/ntoskrnl.exe | sha256sum)" = "$(sha256sum <t1/Windows/System32/ntoskrnl.exe)" ]
kh 3 "lint after bake: hook present, image errors remain" --json lint media.wim
check "lint after bake: image 1 clean" [ "$(sevs 1)" = "" ]
check "lint after bake: image 2 no hook-missing, chained script reported" \
	[ "$(sevs 2)" = "archive-keyholders-present setupcomplete-foreign " ]
check "lint after bake: program-in-temp found in the chained script" \
	jqt '[.images[2].findings[] | select(.id == "program-in-temp") | .path] | any(endswith("SetupComplete.chained.cmd"))'

# ---------------------------------------------------------------- bake twice
for i in 1 2 3 4; do wimlib-imagex dir media.wim $i --detailed >dir1.$i; done
mkdir x1 && wimlib-imagex apply media.wim all x1 >/dev/null 2>&1
kh 0 "bake again" --json bake media.wim --payload payload
check "bake again: SetupComplete recognised as ours everywhere" \
	[ "$(jq -r '[.images[].setupcomplete] | join(",")' out.txt)" = "ours,ours,ours,ours" ]
same=1
for i in 1 2 3 4; do wimlib-imagex dir media.wim $i --detailed >dir2.$i; cmp -s dir1.$i dir2.$i || same=0; done
check "bake again: identical image metadata (wimlib-imagex dir --detailed)" [ "$same" = 1 ]
mkdir x2 && wimlib-imagex apply media.wim all x2 >/dev/null 2>&1
check "bake again: identical extracted trees" diff -r x1 x2
check "bake again: never chains twice (chained script is still the foreign one)" \
	[ "$(x7 media.wim 2/Windows/Setup/Scripts/khreset/SetupComplete.chained.cmd | od -c)" = "$(printf '%b' "$FOREIGN" | od -c)" ]
check "bake again: one chained script per image" [ "$(l7 media.wim | grep -ci '^2/.*chained')" = 1 ]

# someone overwrote our SetupComplete.cmd after a bake: theirs is chained, the
# old chained script (no longer called by anyone) is kept aside, never lost
printf '@echo off\r\necho newer customization\r\n' >newer.cmd
echo "add '$T/newer.cmd' /Windows/Setup/Scripts/SetupComplete.cmd" | wimlib-imagex update media.wim 2 >/dev/null
kh 0 "bake over a foreign script written after an earlier bake" bake media.wim --payload payload --index 2
check "re-chain: the newer foreign script is the chained one (7z)" \
	[ "$(x7 media.wim 2/Windows/Setup/Scripts/khreset/SetupComplete.chained.cmd | sha256sum)" = "$(sha256sum <newer.cmd)" ]
check "re-chain: the earlier chained script kept as SetupComplete.chained.prev.cmd (7z)" \
	[ "$(x7 media.wim 2/Windows/Setup/Scripts/khreset/SetupComplete.chained.prev.cmd | od -c)" = "$(printf '%b' "$FOREIGN" | od -c)" ]

# ---------------------------------------------------------------- index, rebuild, integrity
cp orig.wim one.wim
kh 0 "bake --index 2" bake one.wim --payload payload --index 2
l7 one.wim >list.txt
check "bake --index 2: image 2 changed (7z)" grep -q '^2/Windows/Setup/Scripts/khreset/khreset.exe' list.txt
check "bake --index 2: images 1, 3, 4 not changed (7z)" sh -c "! grep -qi '^[134]/Windows/Setup/Scripts/khreset' list.txt"
cp orig.wim integ.wim && wimlib-imagex optimize integ.wim --check >/dev/null 2>&1
check "fixture: WIM with an integrity table" sh -c "wimlib-imagex info integ.wim | grep -q '^Attributes:.*Integrity info'"
kh 0 "bake: WIM with an integrity table" bake integ.wim --payload payload
check "bake: integrity table kept and valid" sh -c "wimlib-imagex info integ.wim | grep -q '^Attributes:.*Integrity info' && wimlib-imagex verify integ.wim >v.txt 2>&1 && grep -q 'Verifying integrity' v.txt"
cp orig.wim rebuilt.wim
kh 0 "bake --rebuild" bake rebuilt.wim --payload payload --rebuild
check "bake --rebuild: wimlib-imagex verify and 7z t accept the rebuilt WIM" \
	sh -c "wimlib-imagex verify rebuilt.wim >/dev/null 2>&1 && 7z t rebuilt.wim >/dev/null 2>&1"
check "bake --rebuild: payload in every image (7z)" [ "$(l7 rebuilt.wim | grep -ci '^[0-9]/Windows/Setup/Scripts/khreset/khreset.exe$')" = 4 ]

# ---------------------------------------------------------------- crash mid-commit
cp orig.wim crash.wim
KHRESET_TEST_STOP_AT=bake-commit "$K" bake crash.wim --payload payload >out.txt 2>err.txt
code=$?
check "crash: bake SIGKILLed mid-commit (exit $code)" [ "$code" = 137 ]
check "crash: new data was already appended" [ "$(stat -c %s crash.wim)" -gt "$(stat -c %s orig.wim)" ]
check "crash: wimlib-imagex verify accepts the WIM" sh -c 'wimlib-imagex verify crash.wim >/dev/null 2>&1'
check "crash: 7z t accepts the WIM" sh -c '7z t crash.wim >/dev/null 2>&1'
check "crash: old contents (no payload in any image, 7z)" sh -c "! 7z l -ba crash.wim | grep -qi 'khreset'"
check "crash: old foreign SetupComplete still in place (7z)" \
	[ "$(x7 crash.wim 2/Windows/Setup/Scripts/SetupComplete.cmd | od -c)" = "$(printf '%b' "$FOREIGN" | od -c)" ]
kh 0 "crash: a later bake succeeds" bake crash.wim --payload payload
check "crash: the later bake verifies" sh -c 'wimlib-imagex verify crash.wim >/dev/null 2>&1'

# ---------------------------------------------------------------- SetupComplete.cmd itself
check "SetupComplete.cmd: CRLF line endings only" awk '!/\r$/ { bad = 1 } END { exit bad }' "$REPO/setupcomplete/SetupComplete.cmd"
V=$(sed -n 's/^#define KH_VERSION "\(.*\)"/\1/p' "$REPO/hook/khreset.h")
check "SetupComplete.cmd: marker carries KH_VERSION $V" grep -q "^rem khreset-setupcomplete version=$V" "$REPO/setupcomplete/SetupComplete.cmd"
check "SetupComplete.cmd: never reboots, always exits 0" \
	sh -c "! grep -Eiq 'shutdown|restart-computer|wpeutil' '$REPO/setupcomplete/SetupComplete.cmd' && tail -n 1 '$REPO/setupcomplete/SetupComplete.cmd' | tr -d '\r' | grep -qx 'exit /b 0'"
mkdir wine
sh "$REPO/tests/integration/media/setupcomplete-wine.sh" "$REPO" "$T/wine" >wine.txt 2>&1
wc=$?
if [ "$wc" = 2 ]; then
	echo "# SetupComplete.cmd under Wine: skipped (wine64 / gcc-mingw-w64-x86-64 missing)"
else
	grep -E '^(not )?ok - ' wine.txt | sed 's/^\(not \)\{0,1\}ok - /&SetupComplete.cmd (wine): /' >wine-ok.txt
	cat wine-ok.txt
	pass=$((pass + $(grep -c '^ok - ' wine-ok.txt)))
	fail=$((fail + $(grep -c '^not ok - ' wine-ok.txt)))
	[ "$wc" = 0 ] || [ -s wine-ok.txt ] || nok "SetupComplete.cmd under Wine ran"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
