#!/bin/sh
# test_media.sh - `khreset bake` and `khreset lint` on real WIM files made by
# wimlib-imagex from generated trees, checked with an independent reader (7z)
# and `wimlib-imagex verify`; every positive case has its negative twin (the
# WIM's checksum must not change).  Also runs SetupComplete.cmd under Wine
# (media/setupcomplete-wine.sh) when wine64 and mingw-w64 are installed.
# Prints ok/not ok lines and ends with "N passed, M failed".
#
# tests/win/media.sh runs these cases again through khreset.exe under Wine
# (KH_WINE: the wine program, KH_WINE_EXE: khreset.exe): every khreset call
# then goes to khreset.exe and, on copies of the WIMs it names (in lx/), to
# this Linux build as well: stdout (so every --json document) and the exit
# code must be the same.  Cases only Linux can run are skipped there.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/lib.sh"
chmod 755 "$T"
cd "$T" || exit 1

if [ -n "${KH_WINE:-}" ]; then
	STRIP_CR=1
	mkdir lx
	exec 3>&1             # the suite's own output (run redirects kh_exec's)
	# khreset.exe, then the Linux build on lx/'s copies of the files and
	# folders ARGS name (relative names, as the cases use); khreset.exe's
	# output and exit code are kh_exec's
	kh_exec() {
		for tw_a in "$@"; do
			case $tw_a in /* | -*) continue ;; esac
			if [ -f "$tw_a" ] && [ "${tw_a#*/}" = "$tw_a" ]; then cp "$tw_a" "lx/$tw_a"
			elif [ -d "${tw_a%%/*}" ] && [ ! -e "lx/${tw_a%%/*}" ]; then cp -R "${tw_a%%/*}" lx/; fi
		done
		tw_rc=0
		"$KH_WINE" "$KH_WINE_EXE" "$@" >tw.out 2>tw.err || tw_rc=$?
		lx_rc=0
		(cd lx && "$KH" "$@") >lx.out 2>lx.err || lx_rc=$?
		tw_say=$(lib_say kh "$@")
		{
			check "Linux build alike: $tw_say: exit $tw_rc" same "$tw_rc" "$lx_rc"
			check "Linux build alike: $tw_say: stdout" same "$(tr -d '\r' <tw.out)" "$(cat lx.out)"
		} >&3 2>&3
		cat tw.out
		cat tw.err >&2
		return $tw_rc
	}
fi

# unchanged NAME WIM SUM: the WIM's bytes are what they were
unchanged() { check "$1: WIM unchanged" same "$(sum "$2")" "$3"; }
sevs() { jq -r --argjson i "$1" '.images[] | select(.index == $i) | .findings[] | .id' out | sort | tr '\n' ' '; }
x7() { 7z x -so "$1" "$2" 2>/dev/null; }   # one file of a WIM, read by 7-Zip
l7() { 7z l -ba -slt "$1" 2>/dev/null | sed -n 's/^Path = //p' | tr '\\' /; }
listed() { grep -qix -- "$1" list.txt || { echo "  7z does not list $1" >&2; return 1; }; }
unlisted() { ! grep -qi -- "$1" list.txt || { echo "  7z lists $(grep -i -- "$1" list.txt | head -n 1)" >&2; return 1; }; }
# wimlist WIM: 7z's listing in list.txt; a WIM 7z cannot list fails
wimlist() { l7 "$1" >list.txt && grep -q '^1/Windows' list.txt; }

[ -x "$KH" ] || { notok "$KH built"; finish; exit 1; }

# ---------------------------------------------------------------- fixtures
OLD=61afd8e2-0000-4000-8000-000000000001.xml
mkfile() { mkdir -p "$(dirname "$1")"; printf '%b' "$2" >"$1"; }
base() {
	mkdir -p "$1/Windows/System32/config" "$1/Program Files"
	head -c 20000 /dev/urandom >"$1/Windows/System32/ntoskrnl.exe"
	printf 'base %s\n' "$1" >"$1/Windows/win.ini"
}
# 1 Clean: no SetupComplete; the official keyholder staged in Install
base t1
mkfile t1/ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder/$ROOT_KH "$PAYLOAD_KH_XML"
# 2 Customized: a foreign SetupComplete.cmd calling a helper beside it (by a
#   relative name and by %~dp0), archive captured from a used system, a
#   different file in Install
base t2
FOREIGN='@echo off\r\nrem the customer'"'"'s own post-setup step\r\ncall helper.cmd\r\ncall "%~dp0helper.cmd" /again\r\nreg add HKLM\\SOFTWARE\\Office /v Fix /d 1 /f\r\n'
mkfile t2/Windows/Setup/Scripts/SetupComplete.cmd "$FOREIGN"
mkfile t2/Windows/Setup/Scripts/helper.cmd 'echo helper %*\r\n'
mkfile t2/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder/$ROOT_KH '<License>old root</License>'
mkfile t2/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder/$OLD '<License>carried over</License>'
mkfile t2/ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder/$ROOT_KH '<License>other</License>'
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

fixture "wimlib-imagex captures the 4 images" sh -c '
	wimlib-imagex capture t1 media.wim "CMGE V2020-L clean" >/dev/null &&
	wimlib-imagex append t2 media.wim "CMGE V2020-L customized" >/dev/null &&
	wimlib-imagex append t3 media.wim "CMGE V2020-L vendor fix" >/dev/null &&
	wimlib-imagex append t4 media.wim "lowercase" >/dev/null'
for i in 1 2 3 4; do
	fixture "image $i properties set" quiet wimlib-imagex info media.wim $i --image-property WINDOWS/EDITIONID=EnterpriseG \
		--image-property WINDOWS/VERSION/BUILD=17763
done
fixture "the WIM holds 4 images" same "$(wimlib-imagex info media.wim | sed -n 's/^Image Count: *//p')" 4

# payload (SPEC 7): khreset.exe (any file here), khreset.ini, bundle/, SetupComplete.cmd
head -c 70000 /dev/urandom >khreset-exe.bin
fixture "the payload is made (khreset bundle create)" mkpayload payload khreset-exe.bin
chmod -R a+rX "$T"
cp media.wim orig.wim

# ---------------------------------------------------------------- lint
CASE=lint
expect_exit 3 kh --json lint media.wim
check "lint --json: stdout is only JSON" is_json
check "lint --json: summary counts 3 errors" jq_is .summary.error 3
check "lint --json: exit_code 3 in the document" jq_is .exit_code 3
check "lint: image 1 only lacks the hook" same "$(sevs 1)" "hook-missing "
check "lint: image 2 archive keyholders, no hook, foreign SetupComplete" \
	same "$(sevs 2)" "archive-keyholders-present hook-missing setupcomplete-foreign "
check "lint: image 3 program-in-temp in SetupComplete and in the UTF-16 task" \
	same "$(jq -r '.images[2].findings[] | select(.id == "program-in-temp") | .path' out | tr '\n' ' ')" \
	'\Windows\Setup\Scripts\SetupComplete.cmd \Windows\System32\Tasks\Vendor\ActivateRetry '
check "lint: image 4 lacks the hook, its lower-case script foreign" same "$(sevs 4)" "hook-missing setupcomplete-foreign "
check "lint: name, edition and build from the WIM XML" \
	jq_is '.images[1] | "\(.name)|\(.edition)|\(.build)"' "CMGE V2020-L customized|EnterpriseG|17763"
for f in "$OLD" "$ROOT_KH"; do
	check "lint: the archive finding names $f" \
		jq_is ".images[1].findings[] | select(.id == \"archive-keyholders-present\") | .detail | contains(\"$f\")" true
done
CASE="lint: fresh deployment and summary"
expect_exit 3 kh --json lint media.wim
check "lint: image 2 a fresh deployment carries the captured archive" \
	jq_is '.images[1].fresh_deployment.carries_archive' true
check "lint: image 2 the captured entries named" \
	same "$(jq -r '.images[1].fresh_deployment.archive_entries[]' out | sort | tr '\n' ' ')" "$OLD $ROOT_KH "
check "lint: image 2 not repaired at first boot (no khreset in the image)" \
	jq_is '.images[1].fresh_deployment.repaired_at_first_boot' false
check "lint: images 1, 3, 4 carry no archive into a fresh deployment" \
	jq_is '[.images[] | select(.index != 2) | .fresh_deployment.carries_archive] | map(tostring) | join(",")' "false,false,false"
check "lint: no image ready before the bake" jq_is '[.images[].ready] | any' false
check "lint: image 2 summary says what a fresh install gets and the fix" \
	jq_is '.images[1].summary | test("^not ready: a fresh install copies 2 licence files .*--clean-archive.*upgrade does not run")' true
check "lint: image 1 summary only asks for the bake" \
	jq_is '.images[0].summary' "not ready: an upgrade does not run khreset's keyholder reset (fix: khreset bake)"
check "lint: image 3 summary names the Temp program" jq_is '.images[2].summary | test("Windows\\\\Temp")' true
check "lint: summary line counts the ready images" jq_is '"\(.ready_images) \(.summary_line)"' \
	"0 0 of 4 images ready; fix the others as their summary says, then lint again"
expect_exit 3 kh lint media.wim
check "lint: human output, one summary per image" same "$(grep -c '^    summary: ' out)" 4
check "lint: human output, fresh deployment of image 2" \
	out_has '^    fresh deployment: carries 2 captured archive entries into new machines (khreset is not in the image)'
check "lint: human output ends with the summary line" \
	same "$(tail -n 1 out)" "summary: 0 of 4 images ready; fix the others as their summary says, then lint again"
CASE="lint --bundle"
expect_exit 3 kh --json lint media.wim --bundle payload/bundle
check "lint --bundle: image 1 has the official file (no install finding)" same "$(sevs 1)" "hook-missing "
check "lint --bundle: image 2 mismatch" sh -c "jq -r '.images[1].findings[].id' out | grep -qx install-keyholder-mismatch"
check "lint --bundle: image 3 missing" sh -c "jq -r '.images[2].findings[].id' out | grep -qx install-keyholder-missing"
CASE="lint, human output"
expect_exit 3 kh lint media.wim
check "lint: human output starts with the verdict" out_first '^lint: FAIL: '
unchanged "lint" media.wim "$(sum orig.wim)"
fixture "image 1 exported" quiet wimlib-imagex export orig.wim 1 clean.wim
CASE="lint, clean image"
expect_exit 0 kh lint clean.wim
check "lint: clean image without --bundle: only a warning" out_has 'hook-missing'
echo "not a wim" >junk.wim
CASE="lint, not a WIM"
expect_exit 65 kh lint junk.wim
CASE="lint, --bundle failing verification"
expect_exit 65 kh lint media.wim --bundle "$T/nonexistent"
CASE="lint, usage"
expect_exit 64 kh lint

# ---------------------------------------------------------------- odd WIMs (issue 8 item 19)
# scripts over 1 MiB: inspected up to 16 MiB (lint skipped them in silence),
# above that a finding of their own
base t7
{ i=0; while [ $i -lt 60000 ]; do printf 'rem padding line %05d\r\n' $i; i=$((i + 1)); done
  printf '"%%WINDIR%%\\Temp\\Late.exe" /q\r\n'; } >t7.cmd
mkfile t7/Windows/Setup/Scripts/SetupComplete.cmd ''
cp t7.cmd t7/Windows/Setup/Scripts/SetupComplete.cmd
base t8
mkdir -p t8/Windows/Setup/Scripts
head -c 17000000 /dev/zero | tr '\0' 'r' >t8/Windows/Setup/Scripts/SetupComplete.cmd
fixture "wimlib-imagex captures the big-script images" sh -c '
	wimlib-imagex capture t7 big.wim "1.3 MiB script" >/dev/null &&
	wimlib-imagex append t8 big.wim "17 MB script" >/dev/null'
fixture "the script is over 1 MiB" test "$(stat -c %s t7.cmd)" -gt 1048576
CASE="lint, big scripts"
expect_exit 3 kh --json lint big.wim
check "lint: a 1.3 MiB SetupComplete.cmd is read: program-in-temp found" \
	jq_is '[.images[0].findings[] | select(.id == "program-in-temp") | .detail] | any(contains("Late.exe"))' true
check "lint: a 17 MB one is a finding, not skipped" \
	jq_is '[.images[1].findings[] | select(.id == "script-too-big") | .severity] | join(",")' warning
check "lint: ... and not reported as missing" \
	jq_is '[.images[1].findings[] | select(.id == "hook-missing")] | length' 0
# a split WIM's part: bad input for bake (it said 77, not permitted) and lint
mkdir t6
head -c 1500000 /dev/urandom >t6/a.bin
head -c 1500000 /dev/urandom >t6/b.bin
fixture "wimlib-imagex makes a split WIM" sh -c '
	wimlib-imagex capture t6 whole.wim whole --compress=none >/dev/null &&
	wimlib-imagex split whole.wim part.swm 1 >/dev/null && [ -f part2.swm ]'
SP=$(sum part.swm)
CASE="bake, a split WIM's first part"
expect_exit 65 kh bake part.swm --payload payload
check "bake: split WIM: says so" err_has 'split WIM'
unchanged "bake: split WIM" part.swm "$SP"
CASE="lint, a split WIM's first part"
expect_exit 65 kh lint part.swm
check "lint: split WIM: says so" err_has 'split WIM'
# Windows\Setup\Scripts a symbolic link in the image (bake said exit 1,
# naming nothing)
base t9
mkdir -p t9/Windows/Setup t9/Windows/Temp
ln -s ../Temp t9/Windows/Setup/Scripts
fixture "wimlib-imagex captures a linked Scripts folder" sh -c '
	wimlib-imagex capture t9 link.wim linked >/dev/null &&
	wimlib-imagex dir link.wim 1 --detailed | grep -A5 "^Full Path *= \"/Windows/Setup/Scripts\"" | grep -q REPARSE_POINT'
SL=$(sum link.wim)
CASE="bake, Windows\\Setup\\Scripts a symbolic link"
expect_exit 65 kh bake link.wim --payload payload
check "bake: the linked folder named" err_has 'image 1: \\Windows\\Setup\\Scripts is a symbolic link or junction'
unchanged "bake: linked Scripts folder" link.wim "$SL"
check "twin: the same image without the link bakes" sh -c '
	rm "$1/t9/Windows/Setup/Scripts" && mkdir "$1/t9/Windows/Setup/Scripts" &&
	wimlib-imagex capture "$1/t9" "$1/nolink.wim" plain >/dev/null &&
	"$2" bake "$1/nolink.wim" --payload "$1/payload" >/dev/null' _ "$T" "$KH"

# ---------------------------------------------------------------- bake: negative twins
S0=$(sum media.wim)
CASE="bake, --payload missing"
expect_exit 64 kh bake media.wim
CASE="bake, --index neither a number nor all"
expect_exit 64 kh bake media.wim --payload payload --index two
CASE="bake, not a WIM"
expect_exit 65 kh bake junk.wim --payload payload
check "bake: not a WIM: file unchanged" same "$(cat junk.wim)" "not a wim"
CASE="bake, index out of range"
expect_exit 65 kh bake media.wim --payload payload --index 5
unchanged "bake: index out of range" media.wim "$S0"
check "bake: index error names the image count" err_has "has 4"
cp -r payload no-exe && rm no-exe/khreset.exe
CASE="bake, payload without khreset.exe"
expect_exit 65 kh bake media.wim --payload no-exe
check "bake: missing file named" err_has "khreset.exe missing"
unchanged "bake: payload missing khreset.exe" media.wim "$S0"
cp -r payload no-setupcomplete && rm no-setupcomplete/SetupComplete.cmd
CASE="bake, payload without SetupComplete.cmd"
expect_exit 65 kh bake media.wim --payload no-setupcomplete
check "bake: missing SetupComplete.cmd named" err_has "SetupComplete.cmd"
cp -r payload edited-bundle && printf 'X' | dd of=edited-bundle/bundle/$ROOT_KH bs=1 seek=5 conv=notrunc 2>/dev/null
CASE="bake, payload bundle with one byte edited"
expect_exit 65 kh bake media.wim --payload edited-bundle
check "bake: bundle error names the file" err_has "$ROOT_KH"
unchanged "bake: bundle fails verification" media.wim "$S0"
cp -r payload foreign-script && printf '@echo off\r\nrem someone else\r\n' >foreign-script/SetupComplete.cmd
CASE="bake, payload SetupComplete.cmd without our marker"
expect_exit 65 kh bake media.wim --payload foreign-script
cp -r payload no-bundle && rm -r no-bundle/bundle
CASE="bake, payload without bundle/"
expect_exit 65 kh bake media.wim --payload no-bundle
unchanged "bake: payload errors" media.wim "$S0"
cp media.wim ro.wim && chmod 0444 ro.wim
if [ -n "${KH_WINE:-}" ]; then
	skip "bake: read-only WIM as nobody (Linux only: Wine runs as administrator)"
elif setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
	CASE="bake, read-only WIM as nobody"
	expect_exit 77 setpriv --reuid=nobody --regid=nogroup --clear-groups "$KH" bake ro.wim --payload payload
	unchanged "bake: read-only WIM" ro.wim "$S0"
else
	skip "bake: read-only WIM as nobody (setpriv cannot drop to nobody here)"
fi

# ---------------------------------------------------------------- bake: dry run
CASE="bake --dry-run"
expect_exit 0 kh bake media.wim --payload payload --dry-run
unchanged "bake --dry-run" media.wim "$S0"
check "bake --dry-run: says the foreign script would be chained" \
	out_has '^    rename  .Windows.Setup.Scripts.SetupComplete.cmd -> .Windows.Setup.Scripts.SetupComplete.chained.cmd$'
check "bake --dry-run: one plan per image" same "$(grep -c '^  image' out)" 4

# ---------------------------------------------------------------- bake
CASE=bake
expect_exit 0 kh --json bake media.wim --payload payload
check "bake --json: every image verified" jq_is '[.images[].verified] | map(tostring) | join(",")' "true,true,true,true"
check "bake --json: result ok" jq_is .result.ok true
check "bake: SetupComplete states absent/foreign/foreign/foreign" \
	jq_is '[.images[].setupcomplete] | join(",")' "absent,foreign,foreign,foreign"
check "bake: wimlib-imagex verify accepts the WIM" quiet wimlib-imagex verify media.wim
check "bake: 7z t accepts the WIM" quiet 7z t media.wim
fixture "7z lists the baked WIM" wimlist media.wim
for i in 1 2 3; do
	for f in khreset/khreset.exe khreset/bundle/$ROOT_KH khreset/bundle/manifest.ini SetupComplete.cmd; do
		check "bake: 7z sees $f in image $i" listed "$i/Windows/Setup/Scripts/$f"
	done
	check "bake: image $i SetupComplete.cmd is ours, byte for byte (7z)" \
		same "$(x7 media.wim "$i/Windows/Setup/Scripts/SetupComplete.cmd" | sha256sum)" "$(sha256sum <payload/SetupComplete.cmd)"
	check "bake: image $i khreset.exe byte for byte (7z)" \
		same "$(x7 media.wim "$i/Windows/Setup/Scripts/khreset/khreset.exe" | sha256sum)" "$(sha256sum <payload/khreset.exe)"
done
check "bake: nothing under Windows\\Temp" unlisted '^[0-9]*/Windows/Temp/khreset'
check "bake: image 1 (no foreign script) has no chained script" unlisted '^1/.*SetupComplete.chained'
check "bake --json: image 1 not chained, image 2 chained beside ours" \
	jq_is '[.images[0:2][] | "\(.chained) \(.chained_path)"] | join(",")' \
	'false null,true \Windows\Setup\Scripts\SetupComplete.chained.cmd'
check "bake: image 2 foreign SetupComplete kept byte for byte as the chained script (7z)" \
	same "$(x7 media.wim 2/Windows/Setup/Scripts/SetupComplete.chained.cmd | od -c)" "$(printf '%b' "$FOREIGN" | od -c)"
mkdir xc
fixture "image 2's chained script extracted (wimlib-imagex extract)" quiet \
	wimlib-imagex extract media.wim 2 /Windows/Setup/Scripts/SetupComplete.chained.cmd \
	/Windows/Setup/Scripts/helper.cmd --dest-dir=xc --no-acls
check "bake: the chained script's sha256 is the foreign script's (wimlib-imagex extract)" \
	same "$(sha256sum <xc/SetupComplete.chained.cmd)" "$(sha256sum <t2/Windows/Setup/Scripts/SetupComplete.cmd)"
check "bake: the helper it calls by relative name and %~dp0 is still beside it" \
	same "$(sha256sum <xc/helper.cmd)" "$(sha256sum <t2/Windows/Setup/Scripts/helper.cmd)"
check "bake: no chained script in the khreset\\ subfolder (its %~dp0 would be wrong there)" \
	unlisted '^2/Windows/Setup/Scripts/khreset/SetupComplete.chained'
check "bake: lowercase image: one windows folder" same "$(grep -ci '^4/windows$' list.txt)" 1
check "bake: lowercase image: its script chained beside ours" listed '4/windows/setup/scripts/setupcomplete.chained.cmd'
check "bake: lowercase image: one SetupComplete.cmd, ours" same "$(grep -ci '^4/windows/setup/scripts/setupcomplete.cmd$' list.txt)" 1
check "bake: other files of the image untouched (7z)" \
	same "$(x7 media.wim 1/Windows/System32/ntoskrnl.exe | sha256sum)" "$(sha256sum <t1/Windows/System32/ntoskrnl.exe)"
CASE="lint after bake"
expect_exit 3 kh --json lint media.wim
cp out media-lint.json
check "lint after bake: image 1 clean" same "$(sevs 1)" ""
check "lint after bake: image 2 no hook-missing, chained script reported" \
	same "$(sevs 2)" "archive-keyholders-present setupcomplete-foreign "
check "lint after bake: program-in-temp found in the chained script" \
	jq_is '[.images[2].findings[] | select(.id == "program-in-temp") | .path] | any(endswith("SetupComplete.chained.cmd"))' true

# ---------------------------------------------------------------- bake twice
for i in 1 2 3 4; do
	fixture "wimlib-imagex dir of image $i" sh -c "wimlib-imagex dir media.wim $i --detailed >dir1.$i && [ -s dir1.$i ]"
done
mkdir x1
fixture "first bake applied" quiet wimlib-imagex apply media.wim all x1
CASE="bake again"
expect_exit 0 kh --json bake media.wim --payload payload
check "bake again: SetupComplete recognised as ours everywhere" \
	jq_is '[.images[].setupcomplete] | join(",")' "ours,ours,ours,ours"
check "bake again: nothing renamed (the chain is not moved again)" \
	jq_is '[.images[].actions[] | select(.op == "rename")] | length' 0
check "bake again: images 2-4 keep their chain, image 1 still has none" \
	jq_is '[.images[].chained] | map(tostring) | join(",")' "false,true,true,true"
for i in 1 2 3 4; do
	fixture "wimlib-imagex dir of image $i again" sh -c "wimlib-imagex dir media.wim $i --detailed >dir2.$i"
	check "bake again: identical metadata of image $i (wimlib-imagex dir --detailed)" cmp -s dir1.$i dir2.$i
done
mkdir x2
fixture "second bake applied" quiet wimlib-imagex apply media.wim all x2
check "bake again: the applied tree holds the payload" test -f "x2/CMGE V2020-L clean/Windows/Setup/Scripts/khreset/khreset.exe"
check "bake again: identical extracted trees" diff -r x1 x2
check "bake again: never chains twice (chained script is still the foreign one)" \
	same "$(x7 media.wim 2/Windows/Setup/Scripts/SetupComplete.chained.cmd | od -c)" "$(printf '%b' "$FOREIGN" | od -c)"
check "bake again: one chained script per image" same "$(l7 media.wim | grep -ci '^2/.*chained')" 1

# someone overwrote our SetupComplete.cmd after a bake: theirs is chained, the
# old chained script (no longer called by anyone) is kept aside, never lost
printf '@echo off\r\necho newer customization\r\n' >newer.cmd
echo "add '$T/newer.cmd' /Windows/Setup/Scripts/SetupComplete.cmd" >update.txt
fixture "image 2 script overwritten" quiet sh -c 'wimlib-imagex update media.wim 2 <update.txt'
CASE="bake over a foreign script written after an earlier bake"
expect_exit 0 kh bake media.wim --payload payload --index 2
check "re-chain: the newer foreign script is the chained one (7z)" \
	same "$(x7 media.wim 2/Windows/Setup/Scripts/SetupComplete.chained.cmd | sha256sum)" "$(sha256sum <newer.cmd)"
check "re-chain: the earlier chained script kept as SetupComplete.chained.prev.cmd (7z)" \
	same "$(x7 media.wim 2/Windows/Setup/Scripts/SetupComplete.chained.prev.cmd | od -c)" "$(printf '%b' "$FOREIGN" | od -c)"
printf '@echo off\r\necho newest customization\r\n' >newest.cmd
echo "add '$T/newest.cmd' /Windows/Setup/Scripts/SetupComplete.cmd" >update.txt
fixture "image 2 script overwritten again" quiet sh -c 'wimlib-imagex update media.wim 2 <update.txt'
CASE="bake over a second foreign script"
expect_exit 0 kh bake media.wim --payload payload --index 2
check "re-chain twice: the newest is chained (7z)" \
	same "$(x7 media.wim 2/Windows/Setup/Scripts/SetupComplete.chained.cmd | sha256sum)" "$(sha256sum <newest.cmd)"
check "re-chain twice: the first prev kept, the next one is prev2 (7z)" \
	same "$(x7 media.wim 2/Windows/Setup/Scripts/SetupComplete.chained.prev.cmd | sha256sum) $(x7 media.wim 2/Windows/Setup/Scripts/SetupComplete.chained.prev2.cmd | sha256sum)" \
	"$(printf '%b' "$FOREIGN" | sha256sum) $(sha256sum <newer.cmd)"

# ---------------------------------------------------------------- the old layout
# bakes before issue 10 kept the foreign script in khreset\, where its %~dp0
# was khreset\: such an image made by hand (wimlib-imagex update), as that
# bake left it - the payload in khreset\, the foreign script renamed into
# it, an older chained one beside it, and the old SetupComplete.cmd calling
# khreset\SetupComplete.chained.cmd
fixture "image 2 exported" quiet wimlib-imagex export orig.wim 2 old.wim
sed 's/^set "KH_CHAINED=.*/set "KH_CHAINED=%KH_DIR%\\SetupComplete.chained.cmd"\r/' payload/SetupComplete.cmd >old-sc.cmd
printf '@echo off\r\necho an older chained one\r\n' >old-prev.cmd
cat >update.txt <<EOF_UPD
add '$T/payload/khreset.exe' /Windows/Setup/Scripts/khreset/khreset.exe
add '$T/payload/khreset.ini' /Windows/Setup/Scripts/khreset/khreset.ini
add '$T/payload/bundle' /Windows/Setup/Scripts/khreset/bundle
rename /Windows/Setup/Scripts/SetupComplete.cmd /Windows/Setup/Scripts/khreset/SetupComplete.chained.cmd
add '$T/old-prev.cmd' /Windows/Setup/Scripts/khreset/SetupComplete.chained.prev.cmd
add '$T/old-sc.cmd' /Windows/Setup/Scripts/SetupComplete.cmd
EOF_UPD
fixture "an image baked by the old layout (wimlib-imagex update)" quiet sh -c 'wimlib-imagex update old.wim 1 <update.txt'
fixture "the old layout: the foreign script in khreset\\, the old script calls it there" sh -c \
	"7z x -so old.wim Windows/Setup/Scripts/khreset/SetupComplete.chained.cmd 2>/dev/null | cmp -s - t2/Windows/Setup/Scripts/SetupComplete.cmd &&
	 7z x -so old.wim Windows/Setup/Scripts/SetupComplete.cmd 2>/dev/null | grep -q 'KH_CHAINED=%KH_DIR%'"
# times, attributes and digest of the chained script, to compare after the move
meta() { wimlib-imagex dir "$1" 1 --path="$2" --detailed |
	grep -E '^(Attributes|Creation Time|Last Write Time|Hash|Uncompressed size|Security)'; }
meta old.wim /Windows/Setup/Scripts/khreset/SetupComplete.chained.cmd >meta-old.txt
S6=$(sum old.wim)
CASE="lint, an image baked by the old layout"
expect_exit 3 kh --json lint old.wim
check "lint: the old layout's chained scripts are warnings (chained-old-layout)" \
	same "$(jq -r '.images[0].findings[] | select(.id == "chained-old-layout") | .path' out | tr '\n' ' ')" \
	'\Windows\Setup\Scripts\khreset\SetupComplete.chained.cmd \Windows\Setup\Scripts\khreset\SetupComplete.chained.prev.cmd '
check "lint: the warning says what bake does" \
	jq_is '[.images[0].findings[] | select(.id == "chained-old-layout") | .detail][0] | test("khreset bake moves it up to .Windows.Setup.Scripts.SetupComplete.chained.cmd")' true
check "lint: the old layout's called script is still inspected" \
	jq_is '.images[0].findings | map(.id) | index("setupcomplete-foreign") == null' true
CASE="bake --dry-run, the old layout"
expect_exit 0 kh bake old.wim --payload payload --dry-run
unchanged "bake --dry-run, the old layout" old.wim "$S6"
check "bake --dry-run: the old chained script would move up beside ours" \
	out_has '^    rename  .Windows.Setup.Scripts.khreset.SetupComplete.chained.cmd -> .Windows.Setup.Scripts.SetupComplete.chained.cmd$'
check "bake --dry-run: the old prev one too" \
	out_has '^    rename  .Windows.Setup.Scripts.khreset.SetupComplete.chained.prev.cmd -> .Windows.Setup.Scripts.SetupComplete.chained.prev.cmd$'
check "bake --dry-run: the summary line says so" out_has 'replaced, chain kept; 2 chained scripts of an older bake to move up from khreset'
CASE="bake, the old layout"
expect_exit 0 kh --json bake old.wim --payload payload
check "bake, the old layout: ours recognised, 2 migrated, verified" \
	jq_is '.images[0] | "\(.setupcomplete) \(.chained) \(.migrated) \(.verified)"' "ours true 2 true"
check "bake, the old layout: wimlib-imagex verify accepts the WIM" quiet wimlib-imagex verify old.wim
check "bake, the old layout: the chained script moved up, byte for byte (7z)" \
	same "$(x7 old.wim Windows/Setup/Scripts/SetupComplete.chained.cmd | sha256sum)" "$(sha256sum <t2/Windows/Setup/Scripts/SetupComplete.cmd)"
check "bake, the old layout: its times, attributes and digest kept (wimlib-imagex dir)" \
	same "$(meta old.wim /Windows/Setup/Scripts/SetupComplete.chained.cmd)" "$(cat meta-old.txt)"
check "bake, the old layout: the older chained one moved up as prev (7z)" \
	same "$(x7 old.wim Windows/Setup/Scripts/SetupComplete.chained.prev.cmd | sha256sum)" "$(sha256sum <old-prev.cmd)"
l7 old.wim >list.txt
fixture "7z lists old.wim" grep -q '^Windows' list.txt
check "bake, the old layout: nothing chained left in khreset\\ (7z)" unlisted 'khreset/SetupComplete.chained'
check "bake, the old layout: the old script replaced by ours (7z)" \
	same "$(x7 old.wim Windows/Setup/Scripts/SetupComplete.cmd | sha256sum)" "$(sha256sum <payload/SetupComplete.cmd)"
check "bake, the old layout: the helper untouched beside the chained script (7z)" \
	same "$(x7 old.wim Windows/Setup/Scripts/helper.cmd | sha256sum)" "$(sha256sum <t2/Windows/Setup/Scripts/helper.cmd)"
CASE="lint after migrating the old layout"
expect_exit 3 kh --json lint old.wim
check "lint after the migration: no chained-old-layout, the chained script reported" \
	same "$(sevs 1)" "archive-keyholders-present setupcomplete-foreign setupcomplete-foreign "
CASE="bake the migrated image again"
expect_exit 0 kh --json bake old.wim --payload payload
check "bake again after the migration: nothing moved, chained once" \
	jq_is '.images[0] | "\(.migrated) \([.actions[] | select(.op == "rename")] | length) \(.chained)"' "0 0 true"
check "bake again after the migration: one chained script, the foreign one (7z)" \
	same "$(7z l -ba -slt old.wim 2>/dev/null | grep -ci '^Path = .*SetupComplete.chained.cmd$') $(x7 old.wim Windows/Setup/Scripts/SetupComplete.chained.cmd | sha256sum)" \
	"1 $(sha256sum <t2/Windows/Setup/Scripts/SetupComplete.cmd)"

# ---------------------------------------------------------------- index, rebuild, integrity
cp orig.wim one.wim
CASE="bake --index 2"
expect_exit 0 kh bake one.wim --payload payload --index 2
fixture "7z lists one.wim" wimlist one.wim
check "bake --index 2: image 2 changed (7z)" listed '2/Windows/Setup/Scripts/khreset/khreset.exe'
check "bake --index 2: images 1, 3, 4 not changed (7z)" unlisted '^[134]/Windows/Setup/Scripts/khreset'
cp orig.wim integ.wim
fixture "integrity table added" quiet wimlib-imagex optimize integ.wim --check
fixture "the WIM has an integrity table" sh -c "wimlib-imagex info integ.wim | grep -q '^Attributes:.*Integrity info'"
CASE="bake, WIM with an integrity table"
expect_exit 0 kh bake integ.wim --payload payload
check "bake: integrity table kept" sh -c "wimlib-imagex info integ.wim | grep -q '^Attributes:.*Integrity info'"
check "bake: integrity table valid (wimlib-imagex verify checks it)" \
	sh -c "wimlib-imagex verify integ.wim >v.txt 2>&1 && grep -q 'Verifying integrity' v.txt"
cp orig.wim rebuilt.wim
CASE="bake --rebuild"
expect_exit 0 kh bake rebuilt.wim --payload payload --rebuild
check "bake --rebuild: wimlib-imagex verify accepts the rebuilt WIM" quiet wimlib-imagex verify rebuilt.wim
check "bake --rebuild: 7z t accepts the rebuilt WIM" quiet 7z t rebuilt.wim
check "bake --rebuild: payload in every image (7z)" same "$(l7 rebuilt.wim | grep -ci '^[0-9]/Windows/Setup/Scripts/khreset/khreset.exe$')" 4

# ---------------------------------------------------------------- --clean-archive
check "lint after bake: image 1 ready, its summary says so" \
	jq_is '.images[0] | "\(.ready) \(.summary)"' \
	"true ready: a fresh install starts without captured licence files and an upgrade runs khreset's keyholder reset" media-lint.json
check "lint after bake: image 2 still carries the archive; khreset leaves it (acts after upgrades only)" \
	jq_is '.images[1].fresh_deployment | "\(.carries_archive) \(.repaired_at_first_boot)"' "true false" media-lint.json
fixture "image 2 exported" quiet wimlib-imagex export orig.wim 2 custom.wim
cp custom.wim custom-orig.wim
S2=$(sum custom.wim)
CASE="bake --clean-archive --dry-run"
expect_exit 0 kh --json bake custom.wim --payload payload --clean-archive --dry-run
unchanged "bake --clean-archive --dry-run" custom.wim "$S2"
check "bake --clean-archive --dry-run: both captured entries listed for deletion" \
	same "$(jq -r '.images[0].actions[] | select(.op == "delete") | .path' out | grep -i 'Archive' | sort | tr '\n' ' ')" \
	"\\ProgramData\\Microsoft\\Windows\\ClipSVC\\Archive\\KeyHolder\\$OLD \\ProgramData\\Microsoft\\Windows\\ClipSVC\\Archive\\KeyHolder\\$ROOT_KH "
check "bake --clean-archive --dry-run: archive_removed 2, clean_archive true" \
	jq_is '"\(.clean_archive) \(.images[0].archive_removed)"' "true 2"
expect_exit 0 kh bake custom.wim --payload payload --clean-archive --dry-run
check "bake --clean-archive --dry-run: the human plan lists them" \
	out_has "^    delete  .*ClipSVC.Archive.KeyHolder.$OLD"
check "bake --clean-archive --dry-run: says what it would remove" out_has '2 captured archive entries to remove'
CASE="bake without --clean-archive"
expect_exit 0 kh --json bake custom.wim --payload payload --dry-run
check "bake without --clean-archive: no archive entry deleted" \
	jq_is '[.images[0].actions[] | select(.path | test("Archive"))] | length' 0
CASE="bake --clean-archive"
expect_exit 0 kh --json bake custom.wim --payload payload --clean-archive
check "bake --clean-archive: verified" jq_is '"\(.images[0].verified) \(.images[0].archive_removed)"' "true 2"
check "bake --clean-archive: wimlib-imagex verify accepts the WIM" quiet wimlib-imagex verify custom.wim
# a one-image WIM: 7z lists its paths without the image number
wimlist1() { l7 "$1" >list.txt && grep -q '^Windows' list.txt; }
fixture "7z lists custom.wim" wimlist1 custom.wim
check "bake --clean-archive: no archive entry left (7z)" unlisted 'ClipSVC/Archive/KeyHolder/'
check "bake --clean-archive: the Archive\\KeyHolder folder stays (7z)" listed 'ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder'
check "bake --clean-archive: Install\\KeyHolder untouched (7z)" \
	same "$(x7 custom.wim "ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder/$ROOT_KH")" '<License>other</License>'
check "bake --clean-archive: the payload is in (7z)" \
	same "$(x7 custom.wim Windows/Setup/Scripts/SetupComplete.cmd | sha256sum)" "$(sha256sum <payload/SetupComplete.cmd)"
CASE="lint after bake --clean-archive"
expect_exit 0 kh --json lint custom.wim
check "lint after bake --clean-archive: no error, no warning" jq_is '"\(.summary.error) \(.summary.warning)"' "0 0"
check "lint after bake --clean-archive: a fresh deployment carries nothing" \
	jq_is '.images[0].fresh_deployment.carries_archive' false
check "lint after bake --clean-archive: ready, and the summary line says so" \
	jq_is '"\(.images[0].ready) \(.summary_line)"' "true all 1 image ready for fresh installs and upgrades"
CASE="bake --clean-archive again"
expect_exit 0 kh --json bake custom.wim --payload payload --clean-archive
check "bake --clean-archive again: nothing left to remove" jq_is '.images[0].archive_removed' 0
# the payload's policy decides whether the baked khreset repairs a machine
# that was never upgraded: require_upgrade = false
cp -r payload no-gate && sed -i 's/^require_upgrade *=.*/require_upgrade = false/' no-gate/khreset.ini
cp custom-orig.wim gate.wim
fixture "a payload with require_upgrade = false is baked" quiet kh_exec bake gate.wim --payload no-gate
CASE="lint, the baked khreset repairs fresh deployments"
expect_exit 3 kh --json lint gate.wim
check "lint: with require_upgrade = false the archive is reset at first boot" \
	jq_is '.images[0].fresh_deployment | "\(.carries_archive) \(.repaired_at_first_boot)"' "true true"
check "lint: ... and the summary says so" jq_is '.images[0].summary | test("until khreset resets them at first boot")' true
# Archive\KeyHolder that is a file, not a folder: refused, WIM unchanged
mkdir -p t5/Windows/System32 t5/ProgramData/Microsoft/Windows/ClipSVC/Archive
printf 'x' >t5/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder
fixture "a WIM whose Archive\\KeyHolder is a file" quiet wimlib-imagex capture t5 odd.wim odd
S5=$(sum odd.wim)
CASE="bake --clean-archive, Archive\\KeyHolder not a folder"
expect_exit 65 kh bake odd.wim --payload payload --clean-archive
check "bake --clean-archive: the refusal names the path" err_has 'Archive.KeyHolder exists and is not a folder'
unchanged "bake --clean-archive, not a folder" odd.wim "$S5"

# ---------------------------------------------------------------- progress
# on a terminal (script(1)'s pty) the percent written, else nothing
pty() { script -qec "$2" /dev/null </dev/null 2>&1 | tr '\r' '\n' >"$1"; }
if [ -n "${KH_WINE:-}" ]; then
	skip "progress (tests/win/media.sh checks khreset.exe's on Wine's console)"
elif command -v script >/dev/null; then
	cp orig.wim prog.wim
	pty prog1.txt "'$KH' bake prog.wim --payload payload --rebuild"
	check "progress on a terminal: the percent written, up to 100%" file_has prog1.txt 'khreset: writing *100% (.* MiB)'
	cp orig.wim prog.wim
	pty prog2.txt "'$KH' -q bake prog.wim --payload payload --rebuild"
	check "progress with -q: none" file_lacks prog2.txt 'writing'
	check "-q: baked all the same" quiet wimlib-imagex verify prog.wim
	cp orig.wim prog.wim
	pty prog3.txt "'$KH' bake prog.wim --payload payload --rebuild >prog3.out"
	check "progress when stdout is a file: none" file_lacks prog3.txt 'writing'
	cp orig.wim prog.wim
	CASE="progress, stderr a file"
	expect_exit 0 kh bake prog.wim --payload payload --rebuild
	check "progress when stderr is a file: none" same "$ERR" ""
else
	skip "progress on a terminal (script(1) missing)"
fi

# ---------------------------------------------------------------- crash mid-commit
cp orig.wim crash.wim
CASE="crash: bake SIGKILLed mid-commit"
# its scratch folder (TMPDIR/khreset-wim.*) cannot be removed by a killed
# process: keep it inside $T
mkdir scratch
KHRESET_TEST_STOP_AT=bake-commit TMPDIR=$T/scratch expect_exit 137 kh bake crash.wim --payload payload
check "crash: new data was already appended" test "$(stat -c %s crash.wim)" -gt "$(stat -c %s orig.wim)"
check "crash: wimlib-imagex verify accepts the WIM" quiet wimlib-imagex verify crash.wim
check "crash: 7z t accepts the WIM" quiet 7z t crash.wim
fixture "7z lists crash.wim" wimlist crash.wim
check "crash: old contents (no payload in any image, 7z)" unlisted 'khreset'
check "crash: old foreign SetupComplete still in place (7z)" \
	same "$(x7 crash.wim 2/Windows/Setup/Scripts/SetupComplete.cmd | od -c)" "$(printf '%b' "$FOREIGN" | od -c)"
CASE="crash: a later bake"
expect_exit 0 kh bake crash.wim --payload payload
check "crash: the later bake verifies" quiet wimlib-imagex verify crash.wim

# ---------------------------------------------------------------- SetupComplete.cmd itself
SC=$TOP/setupcomplete/SetupComplete.cmd
check "SetupComplete.cmd: CRLF line endings only" awk '!/\r$/ { bad = 1 } END { exit bad }' "$SC"
check "SetupComplete.cmd: marker carries KH_VERSION $KH_VERSION" file_has "$SC" "^rem khreset-setupcomplete version=$KH_VERSION"
check "SetupComplete.cmd: every version= it says is KH_VERSION" \
	same "$(grep -o 'version=[^ ]*' "$SC" | tr -d '\r' | sort -u)" "version=$KH_VERSION"
check "SetupComplete.cmd: never reboots" sh -c "! grep -Eiq 'shutdown|restart-computer|wpeutil' '$SC'"
check "SetupComplete.cmd: always exits 0" sh -c "tail -n 1 '$SC' | tr -d '\r' | grep -qx 'exit /b 0'"
mkdir wine
wc=0
[ -n "${KH_WINE:-}" ] ||
	sh "$TOP/tests/integration/media/setupcomplete-wine.sh" "$TOP" "$T/wine" >wine.txt 2>&1 || wc=$?
if [ -n "${KH_WINE:-}" ]; then
	skip "SetupComplete.cmd under Wine (the Linux suite runs it)"
elif [ "$wc" = 2 ]; then
	skip "SetupComplete.cmd under Wine (wine64 / gcc-mingw-w64-x86-64 missing)"
else
	adopt "$wc" wine.txt "SetupComplete.cmd (wine): "
fi

finish
