#!/bin/sh
# tests/win/collect.sh - the evidence collector under Wine with the REAL
# build/win/khreset.exe: `collect` and `run --evidence` against real
# services of Wine's SCM (the stand-ins of tests/win/e2e.sh), the test
# slc.dll (per-SKU licence), the registry's two views, access lists and the
# console code page, the collector as a child process of the run.
#
# What Wine 8 cannot show: service triggers (QueryServiceConfig2W
# SERVICE_CONFIG_TRIGGER_INFO answers ERROR_INVALID_LEVEL, and no trigger
# can be set) and delayed auto-start (level 3) - the collector records the
# error or null, which is what is checked; the trigger list itself needs the
# pilot VM.  Access lists are Wine's
# (it does not enforce them): checked to be SDDL text, not their content.
#
# Prefix as tests/win/e2e.sh: the template build/win/wine-template, copied
# fresh to build/win/wine-collect; a persistent wineserver (-p), killed at
# the end; crash dialog off (tests/win/wine-lib.sh).  Needs wine64 (Debian
# 8.0), mingw-w64 and build/win/khreset.exe (make windows).  Ends with
# "N passed, N failed"; KEEP=1 keeps the prefix.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
. "$TOP/tests/lib.sh"
. "$TOP/tests/win/wine-lib.sh"
W=${W:-build/win}
case $W in /*) ;; *) W=$TOP/$W ;; esac
CC=x86_64-w64-mingw32-gcc-win32
command -v $CC >/dev/null || CC=x86_64-w64-mingw32-gcc
wine_find collect
KHEXE=$W/khreset.exe
[ -f "$KHEXE" ] || { notok "$KHEXE built (make windows)"; finish; exit 1; }
command -v jq >/dev/null || { notok "jq installed"; finish; exit 1; }
STRIP_CR=1

# --- the stand-ins, the test slc.dll, the field case -----------------------------------
wine_standins || { finish; exit 1; }

# --- Wine prefix --------------------------------------------------------------------------
export WINEDEBUG=-all
wine_env slc=n
wine_prefix collect "$W/wine-template" "$W/wine-collect"
C=$WINEPREFIX/drive_c
rm -f "$C/windows/system32/slc.dll"
cp "$TW/slc.dll" "$C/windows/system32/slc.dll"
wine_start
w() { fixture "wine $*" quiet "$WINE" "$@"; }
w_try() { quiet "$WINE" "$@" || :; }
# the existing spelling of a path under $C (Wine's template has lower-case folders)
ci() {
	cd_=$C
	for part in $(echo "$1" | tr '/' ' '); do
		hit=$(ls -1 "$cd_" 2>/dev/null | grep -ix -- "$part" | head -n 1)
		cd_=$cd_/${hit:-$part}
	done
	echo "$cd_"
}

CV='HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
SRC='HKLM\SYSTEM\Setup\Source OS (Updated on 3/14/2020 10:20:30)'
w reg add "$CV" /v CurrentBuild /t REG_SZ /d 17763 /f
w reg add "$SRC" /v CurrentBuild /t REG_SZ /d 17134 /f
w reg add "$SRC" /v ProductName /t REG_SZ /d 'Windows 10 Enterprise G' /f
w reg add 'HKLM\SOFTWARE\khreset-test' /v Licensed /t REG_DWORD /d 0 /f
mkdir -p "$C/khtest"
cp "$TW/standin_clipsvc.exe" "$TW/standin_activation.exe" "$C/khtest/"
w sc create ClipSVC binPath= 'C:\khtest\standin_clipsvc.exe' type= own start= demand
w sc create CmitClientSVC binPath= 'C:\khtest\standin_activation.exe' type= own start= demand

P=$C/windows/Setup/Scripts/khreset
PW='C:\windows\Setup\Scripts\khreset'
mkdir -p "$P"
cp "$KHEXE" "$P/khreset.exe"
cp -r "$FX/bundle" "$P/bundle"
cp "$FX/keys/demo.pub" "$P/demo.pub"
cat >"$P/khreset.ini" <<'INI'
; khreset configuration for the Wine collector suite (tests/win/collect.sh)
[bundle]
dir        = bundle
public_key = demo.pub
[clipsvc]
service = ClipSVC
timeout = 10
[activation]
service  = CmitClientSVC
timeout  = 5
interval = 1
[registry]
value1 = HKLM\SOFTWARE\CMIT\Active | IntranetActivationServer | REG_SZ | http://vdi.example.local
value2 = HKLM\SOFTWARE\CMIT\Active | IntranetSkuId | REG_SZ | VDI
[task]
jitter = 0
INI
A=$C/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder
I=$C/ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder
mkdir -p "$A" "$I"
cp -p "$FXA/"*.xml "$A/"
LOGS=$(ci windows/Logs)/khreset
mkdir -p "$LOGS"
printf 'setupcomplete start version=0.1.0\r\n' >"$LOGS/setupcomplete.log"
PANTHER=$(ci windows/Panther)/UnattendGC
mkdir -p "$PANTHER"
printf '2026-01-01 10:00:00, Info  [windeployFlow] Windeploy\r\n2026-01-01 10:00:01, Info  [SETUPGC.EXE] Found SetupComplete.cmd\r\n' \
	>"$PANTHER/setupact.log"
printf 'outside\n' >"$C/outside.txt"
ln -s "$C/outside.txt" "$A/aaaaaaaa-link.xml"

kh_exec() { (cd "$C/windows/system32" && exec "$WINE" "$PW\\khreset.exe" "$@"); }
# EV NAME: the Unix path of C:\NAME
ev() { echo "$C/$1"; }
jqs() { lib_got=$(jq -r -s "$1" "$3" 2>&1); same "$lib_got" "$2"; }
nsamples() { wc -l <"$1/samples.jsonl" | tr -d ' '; }
regview() {
	jq -r --arg k "$2" --arg v "$3" --arg n "$4" \
		'.registry[] | select(.key == $k and .view == $v) | .values[$n] // ""' "$1/once.json"
}
CMIT='HKLM\SOFTWARE\CMIT\Active'

# === 1. collect with both services stopped ===============================================
w reg add "$CMIT" /v IntranetActivationServer /t REG_SZ /d http://vdi64.example.local /f
w reg add "$CMIT" /v Extra /t REG_DWORD /d 7 /f
w reg add 'HKLM\SOFTWARE\Wow6432Node\CMIT\Active' /v IntranetSkuId /t REG_SZ /d VDI32 /f
CASE=stopped
E=$(ev ev1)
expect_exit 0 kh collect 'C:\ev1' --for 2 --every 1
check "collect: README.txt, samples.jsonl, once.json" \
	sh -c "test -s '$E/README.txt' && test -s '$E/samples.jsonl' && test -s '$E/once.json'"
check "collect: --for 2 --every 1: 1..3 samples ($(nsamples "$E"))" \
	sh -c "[ $(nsamples "$E") -ge 1 ] && [ $(nsamples "$E") -le 3 ]"
check "collect: mode live" jq_is .mode live "$E/once.json"
check "services: both stopped, no PID" \
	jqs '.[0].services | map("\(.name):\(.state):\(.pid)") | join(",")' "ClipSVC:stopped:0,CmitClientSVC:stopped:0" "$E/samples.jsonl"
check "services: config, demand start and the binary path sc create gave" \
	jq_is '.services[0].config | "\(.start) \(.binary_path)"' 'demand C:\khtest\standin_clipsvc.exe' "$E/once.json"
check "services: the account (LocalSystem)" jq_is '.services[1].config.account' LocalSystem "$E/once.json"
check "services: delayed auto-start false, or null where Wine does not answer it" \
	jq_is '.services[0].config.delayed_auto_start | . == false or . == null' true "$E/once.json"
check "services: triggers recorded - Wine answers ERROR_INVALID_LEVEL, named" \
	jq_is '[.services[].triggers | (type == "array") or (.error | test("error 124"))] | all' true "$E/once.json"
check "licence: per SKU through slc.dll (notification, hrReason 0xC004F074)" \
	jqs '.[0].licence.skus | map("\(.status):\(.reason)") | join(",")' "notification:0xC004F074" "$E/samples.jsonl"
check "licence: the SKU ID as GUID text" \
	jqs '.[0].licence.skus[0].sku' 2f7c1e4b-8d3a-4e21-9b6c-1a2b3c4d5e6f "$E/samples.jsonl"
check "acl: the KeyHolder folders' access lists as SDDL" \
	jq_is '[.acl[0:2][] | .sddl | test("^O:.*D:")] | all' true "$E/once.json"
check "console: code pages recorded at start and end (numbers)" \
	jq_is '[.console_codepage.start, .console_codepage.end | .ansi, .oem | type == "number" and . > 0] | all' true "$E/once.json"
check "registry: the 64-bit view (reg add set it)" same "$(regview "$E" "$CMIT" 64 IntranetActivationServer)" http://vdi64.example.local
check "registry: the 32-bit view is Wow6432Node" same "$(regview "$E" "$CMIT" 32 IntranetSkuId)" VDI32
check "registry twin: the 32-bit value is not in the 64-bit view" same "$(regview "$E" "$CMIT" 64 IntranetSkuId)" ""
check "registry twin: the 64-bit value is not in the 32-bit view" same "$(regview "$E" "$CMIT" 32 IntranetActivationServer)" ""
check "registry: live, every value of the key is listed (Extra, a DWORD)" same "$(regview "$E" "$CMIT" 64 Extra)" 7
# Wine lists a Unix symlink to a file as a file; opened as itself it
# resolves outside the archive, so it is refused all the same
check "archive: the link is never followed (no digest; a link, or refused as resolving outside)" \
	jqs '[.[0].archive.entries[] | select(.name == "aaaaaaaa-link.xml") |
	      (has("sha256") | not) and (.type == "link" or (.error | test("outside the expected folder")))] | all' \
	true "$E/samples.jsonl"
check "archive: the files' SHA-256 (sha256sum agrees)" \
	same "$(jq -r -s '.[0].archive.entries[] | select(has("sha256")) | "\(.sha256)  \(.name)"' "$E/samples.jsonl")" \
	"$(cat "$FX/originals.sha256")"
check "logs: setupcomplete.log copied" cmp -s "$LOGS/setupcomplete.log" "$E/setupcomplete.log"
check "setupact: the SetupComplete line" same "$(tr -d '\r' <"$E/setupact-SetupComplete.log")" \
	"2026-01-01 10:00:01, Info  [SETUPGC.EXE] Found SetupComplete.cmd"

# === 2. ClipSVC running: state and PID ======================================================
w sc start ClipSVC
fixture "ClipSVC running" wait_for 10 service_is ClipSVC RUNNING
CASE=running
E=$(ev ev2)
expect_exit 0 kh collect 'C:\ev2' --for 0
check "running: ClipSVC running with a PID" jqs '.[0].services[0] | "\(.state) \(.pid > 0)"' "running true" "$E/samples.jsonl"
check "twin: the activation service still stopped, no PID" jqs '.[0].services[1] | "\(.state) \(.pid)"' "stopped 0" "$E/samples.jsonl"
w_try sc stop ClipSVC
fixture "ClipSVC stopped" wait_for 10 service_is ClipSVC STOPPED

# === 3. a non-ASCII folder name (wide-character paths) ======================================
CASE="non-ASCII DIR"
expect_exit 0 kh collect 'C:\证据' --for 0
check "non-ASCII DIR: the evidence is there" test -s "$C/证据/once.json"

# === 4. the folder: never a non-empty one ====================================================
CASE="DIR not empty"
mkdir -p "$C/full"
printf 'keep\n' >"$C/full/x"
expect_exit 1 kh collect 'C:\full' --for 0
check "DIR not empty: refused, saying so" err_has 'exists and is not empty'
check "DIR not empty: left as it was" same "$(ls -A "$C/full")" x
CASE="DIR empty"
mkdir -p "$C/empty"
expect_exit 0 kh collect 'C:\empty' --for 0
check "twin: an empty DIR is accepted" test -s "$C/empty/once.json"

# === 5. run --evidence: the collector as the run's child ====================================
CASE="run --evidence"
before=$(treedigest "$A" "$I")
expect_exit 1 kh run --wait 10 --evidence 'C:\full'
check "run --evidence on a non-empty DIR: refused before anything changes" same "$(treedigest "$A" "$I")" "$before"
rm -f "$A/aaaaaaaa-link.xml"
E=$(ev ev-run)
expect_exit 0 kh run --wait 20 --evidence 'C:\ev-run'
check "run --evidence: repaired" out_has '^outcome: *repaired'
check "run --evidence: the collector ran (once.json written by it)" jq_is .collector collect "$E/once.json"
check "run --evidence: stopped by the run's end" jq_is .stopped true "$E/once.json"
check "run --evidence: the last sample is the stop" jqs '.[-1].reason' stop "$E/samples.jsonl"
check "run --evidence: samples.jsonl one JSON object a line" \
	jq -e -s 'length >= 1 and ([.[].seq] == [range(length)])' "$E/samples.jsonl"
check "run --evidence: ClipSVC running with a PID at the end" \
	jqs '.[-1].services[0] | "\(.state) \(.pid > 0)"' "running true" "$E/samples.jsonl"
check "run --evidence: licensed at the end (slc.dll per SKU)" jqs '.[-1].licence.skus[0].status' licensed "$E/samples.jsonl"
check "run --evidence: the regenerated root keyholder in the last listing" \
	jqs ".[-1].archive.entries[] | select(.name == \"$ROOT_KH\") | .sha256" "$(sum "$FX/bundle/$ROOT_KH")" "$E/samples.jsonl"
check "run --evidence: the run's log copied with its outcome" file_has "$E/khreset.log" 'outcome repaired'
check "run --evidence: Status in the 64-bit view" same "$(regview "$E" 'HKLM\SOFTWARE\khreset\Status' 64 Outcome)" repaired
check "run --evidence: the configured value as run set it" same "$(regview "$E" "$CMIT" 64 IntranetActivationServer)" http://vdi.example.local

w_try sc stop CmitClientSVC
w_try sc stop ClipSVC
wine_stop
if [ "$FAIL" = 0 ] && [ "${KEEP:-0}" != 1 ]; then
	rm -rf "$WINEPREFIX"
else
	echo "# prefix kept: $WINEPREFIX"
fi
finish
