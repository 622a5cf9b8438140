#!/bin/sh
# tests/win/e2e.sh - the field case end to end under Wine, with the REAL
# build/win/khreset.exe (issue 3 item 3).  The same scenarios as
# tests/integration/test_live_fake.sh, but the services are real Windows
# services run by Wine's SCM and the licence state comes through slc.dll:
#
#   build/win/tests/standin_clipsvc.exe     ClipSVC stand-in (tests/win/standin_clipsvc.c):
#                                           copies Install\KeyHolder files into the
#                                           archive only when that name is not archived
#   build/win/tests/standin_activation.exe  CmitClientSVC stand-in: activates only with
#                                           the V2020-L root keyholder and nothing stale
#   build/win/tests/slc.dll                 test-only native slc.dll (tests/win/slc_test.c)
#                                           reporting what the activation stand-in recorded
#
# Prefix: a private copy of the template prefix (build/win/wine-template, made
# by tests/win/smoke.sh or here) per run in build/win/wine-e2e; a persistent
# `wineserver -p` is started before any other wine command and killed at the
# end; crash dialog off; WINEDEBUG=-all except the runs whose +eventlog trace
# is checked.  The field case (keyholders, bundle, signed manifest) is made
# by tests/mkvolume.sh and laid out on the prefix's C: drive; khreset.exe runs
# from C:\Windows\Setup\Scripts\khreset\ as `bake` puts it there.
#
# Usage: make windows && W=build/win sh tests/win/e2e.sh
# Prints `ok - ...` / `not ok - ...` / `skip - ...`, then `N passed, M failed`;
# exit 0 only if nothing failed.  KEEP=1 keeps the prefix even on success.
# khreset runs with the working folder C:\Windows\System32 (as a scheduled
# task does).  Debugging knobs: KHEXE=PATH tests another khreset.exe;
# E2E_CWD=payload runs it from its own folder instead.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
. "$TOP/tests/lib.sh"
. "$TOP/tests/win/wine-lib.sh"
W=${W:-build/win}
case $W in /*) ;; *) W=$TOP/$W ;; esac
CC=x86_64-w64-mingw32-gcc-win32
command -v $CC >/dev/null || CC=x86_64-w64-mingw32-gcc
wine_find e2e
KHEXE=${KHEXE:-$W/khreset.exe}   # override: a khreset.exe built elsewhere
[ -f "$KHEXE" ] || { notok "$KHEXE built (make windows)"; finish; exit 1; }
command -v jq >/dev/null || { notok "jq installed"; finish; exit 1; }
START=$(date +%s)
STRIP_CR=1
ACT_KH=451b310a-7d1e-4c52-9a0b-3f6c1e2d8a47.xml

# --- build the stand-ins and the test slc.dll ------------------------------------
wine_standins || { finish; exit 1; }

# --- Wine prefix --------------------------------------------------------------------
export WINEDEBUG=-all           # also when the caller set it
# slc=n: the test slc.dll copied into system32 replaces Wine's builtin stub
wine_env slc=n
unset KHRESET_TEST_NOT_ELEVATED KHRESET_TEST_STOP_AT KHRESET_TEST_FAIL 2>/dev/null || true
wine_prefix e2e "$W/wine-template" "$W/wine-e2e"
C=$WINEPREFIX/drive_c
# the test slc.dll, before any wine process could map the builtin one
rm -f "$C/windows/system32/slc.dll"
cp "$TW/slc.dll" "$C/windows/system32/slc.dll"
wine_start

# w ARGS...: a wine command the fixture needs; w_try: one that may fail
# (a stop of a stopped service, a delete of what is not there)
w() { fixture "wine $*" quiet "$WINE" "$@"; }
w_try() { quiet "$WINE" "$@" || :; }

# reg_get KEY NAME: the value's data (DWORD as decimal), empty when missing
reg_get() {
	"$WINE" reg query "$1" /v "$2" 2>/dev/null | tr -d '\r' |
		sed -n "s/^ *$2 *\(REG_[A-Z_]*\) *//p" | head -n 1 |
		{ read -r v || true; case $v in 0x*) printf '%d\n' "$v" ;; *) printf '%s\n' "$v" ;; esac; }
}
TKEY='HKLM\SOFTWARE\khreset-test'
SKEY='HKLM\SOFTWARE\khreset\Status'
tset() { w reg add "$TKEY" /v "$1" /t REG_DWORD /d "$2" /f; }
tget() { reg_get "$TKEY" "$1"; }
sget() { reg_get "$SKEY" "$1"; }

# --- the system: Windows 10 CMGE V2020-L (17763), upgraded in place from 17134 ---
CV='HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
SRC='HKLM\SYSTEM\Setup\Source OS (Updated on 3/14/2020 10:20:30)'
w reg add "$CV" /v CurrentBuild /t REG_SZ /d 17763 /f
w reg add "$CV" /v ProductName /t REG_SZ /d 'Windows 10 Enterprise G' /f
w reg add "$CV" /v EditionID /t REG_SZ /d EnterpriseG /f
w reg add "$CV\\ClipSVC" /v AltActivationClient /t REG_EXPAND_SZ \
	/d '%ProgramFiles%\CMITActivation\CmitClient.exe' /f
w reg add "$SRC" /v CurrentBuild /t REG_SZ /d 17134 /f
w reg add "$SRC" /v ProductName /t REG_SZ /d 'Windows 10 Enterprise G' /f
w reg add "$SRC" /v EditionID /t REG_SZ /d EnterpriseG /f
tset Licensed 0

# the two services (Wine's sc.exe: create/start/stop/query/delete)
mkdir -p "$C/khtest"
cp "$TW/standin_clipsvc.exe" "$TW/standin_activation.exe" "$C/khtest/"
w sc create ClipSVC binPath= 'C:\khtest\standin_clipsvc.exe' type= own start= demand
w sc create CmitClientSVC binPath= 'C:\khtest\standin_activation.exe' type= own start= demand

# the payload, as `bake` leaves it (never Windows\Temp)
P=$C/windows/Setup/Scripts/khreset
PW='C:\windows\Setup\Scripts\khreset'
mkdir -p "$P"
cp "$KHEXE" "$P/khreset.exe"
cp -r "$FX/bundle" "$P/bundle"
cp "$FX/keys/demo.pub" "$P/demo.pub"
cat >"$P/khreset.ini" <<'INI'
; khreset configuration for the Wine end-to-end suite (tests/win/e2e.sh)
[bundle]
dir        = bundle
public_key = demo.pub
[policy]
require_upgrade = true
keep_backups    = 10
[clipsvc]
service = ClipSVC
timeout = 10
[activation]
service  = CmitClientSVC
timeout  = 3
interval = 1
[registry]
value1 = HKLM\SOFTWARE\CMIT\Active | IntranetActivationServer | REG_SZ | http://vdi.example.local
value2 = HKLM\SOFTWARE\CMIT\Active | IntranetSkuId | REG_SZ | VDI
value3 = HKLM\SOFTWARE\CMIT\Active | ActiveMode | REG_DWORD | 1
[task]
jitter       = 0
max_attempts = 2
INI

A=$C/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder
I=$C/ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder
STATE=$C/ProgramData/khreset
# Wine's template spells some folders in lower case (windows\logs,
# system32\tasks); Windows names are case-insensitive, so is khreset
ci() { # the existing spelling of a path under $C, or the path as given
	cd_=$C
	for part in $(echo "$1" | tr '/' ' '); do
		hit=$(ls -1 "$cd_" 2>/dev/null | grep -ix -- "$part" | head -n 1)
		cd_=$cd_/${hit:-$part}
	done
	echo "$cd_"
}
LOG=$(ci windows/Logs)/khreset/khreset.log

# stopped SERVICE: stop it (if running) and wait until Wine's SCM says so
stopped() {
	w_try sc stop "$1"
	fixture "$1 stopped" wait_for 10 service_is "$1" STOPPED
}
# unrecord: no repair record (SPEC section 3, never loop): the registry
# values, repair.json and status.json's "repair"
unrecord() {
	for v in RepairUpgrade RepairTime RepairBackup; do
		w_try reg delete 'HKLM\SOFTWARE\khreset' /v "$v" /f
	done
	rm -f "$STATE/repair.json"
	[ ! -f "$STATE/status.json" ] || { jq '.repair = null' "$STATE/status.json" >"$T/unrec.json" &&
		cp "$T/unrec.json" "$STATE/status.json"; }
}
# field_case: the archive the old OS left behind (two V0-H files dated before
# the upgrade), nothing staged, not licensed, no CMIT values, services stopped.
field_case() {
	stopped CmitClientSVC
	stopped ClipSVC
	rm -rf "$C/ProgramData/Microsoft/Windows/ClipSVC"
	mkdir -p "$A" "$I"
	cp -p "$FXA/"*.xml "$A/"
	w_try reg delete 'HKLM\SOFTWARE\CMIT' /f
	unrecord
	tset Licensed 0
	tset ClipSvcFail 0
	tset ActivationNever 0
}

# kh ARGS...: the real khreset.exe from its payload folder (tests/lib.sh:
# RC, OUT, ERR).  Working folder C:\Windows\System32, as for a scheduled
# task (SetupComplete runs from Windows\Setup\Scripts): nothing may depend
# on the caller's folder.  E2E_CWD=payload runs from the payload folder
# instead (debugging only).
RUNDIR=$C/windows/system32
[ "${E2E_CWD:-}" = payload ] && RUNDIR=$P
kh_exec() { (cd "$RUNDIR" && exec "$WINE" "$PW\\khreset.exe" "$@"); }
sj() { jq -r "$1" "$STATE/status.json" 2>/dev/null; }       # status.json field
sj_is() { jq_is "$1" "$2" "$STATE/status.json"; }
# archive and install listing with digests and times: "nothing moved"
digest() { treedigest "$A" "$I"; }
nbackups() { ls -1 "$STATE/backup" 2>/dev/null | wc -l; }
originals_back() {
	(cd "$A" && sha256sum -c --quiet "$FX/originals.sha256") >/dev/null 2>&1 &&
		same "$(ls -1 "$A" | wc -l)" 2
}
# event_in TRACE CHANNEL TEXT: ReportEventW with TEXT in its insertion string,
# at Wine's channel for the type (trace: information, warn: warning, err: error)
event_in() {
	grep -a ":$2:eventlog:ReportEventW L\".*$3" "$1" >/dev/null ||
		{ echo "  no $2 event with '$3' in $1:" >&2
		  grep -a 'eventlog:ReportEventW' "$1" | head -n 5 >&2; return 1; }
}
TASKFILE=$(ci windows/system32/Tasks)/khreset/Retry      # Wine's task store
log_says() { grep -q "$1" "$LOG" 2>/dev/null; }
tget_set() { [ -n "$(tget "$1")" ]; }

echo "# prefix $WINEPREFIX ready after $(($(date +%s) - START)) s"

# === 1. the field failure, reproduced ==============================================
field_case
CASE=setup
expect_exit 3 kh --json check
check "setup: khreset sees the field case (verdict repair)" jq_is .verdict repair
check "setup: build 17763" jq_is .system.build 17763
check "setup: upgraded from 17134" jq_is .system.upgraded_from.build 17134
check "setup: licence from the test slc.dll is notification (hrReason reported)" jq_is .licence.status notification
check "setup: archive classes outdated + carried-over" \
	jq_is '[.archive[] | "\(.name | .[0:8]):\(.class)"] | join(",")' "61afd3c2:carried-over,f912421d:outdated"
# what the operators tried on site: stage the official set, restart ClipSVC
cp "$FX/bundle/"*.xml "$I/"
w_try reg delete "$TKEY" /v ActivationResult /f
stopped ClipSVC
w sc start ClipSVC
fixture "ClipSVC running" wait_for 10 service_is ClipSVC RUNNING
w sc start CmitClientSVC
fixture "the activation stand-in recorded a result" wait_for 10 tget_set ActivationResult
check "field failure: the activation stand-in ran and failed ($(tget ActivationResult))" \
	sh -c 'case "$1" in failed*) exit 0 ;; *) exit 1 ;; esac' _ "$(tget ActivationResult)"
check "field failure: licence still not activated" same "$(tget Licensed)" 0
check "field failure: the old root keyholder is still V0-H" file_has "$A/$ROOT_KH" 'V0-H'
check "field failure: the old root keyholder is not V2020-L" file_lacks "$A/$ROOT_KH" 'V2020-L'
check "field failure: the carried-over file is still there" test -f "$A/$OLD_KH"
check "field failure: no activation keyholder" test ! -e "$A/$ACT_KH"

# === 2. khreset run repairs it ====================================================
CASE=run
WINEDEBUG=+eventlog expect_exit 0 kh --json run --wait 20
cp "$T/err" "$T/repair.trace"
check "run: status.json outcome repaired" sj_is .result.outcome repaired
check "run: status.json exit_code 0" sj_is .result.exit_code 0
check "run: status.json mode live" sj_is .mode live
check "run: --json on stdout is the status document" jq_is .result.outcome repaired
check "run: every live step ran and succeeded" \
	sj_is '[.result.steps[] | select(.step != "task") | "\(.step):\(.ok)"] | join(",")' \
	"stop-clipsvc:true,backup:true,stage:true,restart-clipsvc:true,verify:true,registry:true,trigger:true,wait:true"
check "run: the retry task step removes any task (outcome repaired)" \
	sj_is '.result.steps[] | select(.step == "task") | .ok' true
check "run: archive regenerated: root keyholder equals the bundle's" cmp -s "$FX/bundle/$ROOT_KH" "$A/$ROOT_KH"
check "run: carried-over file gone from the archive" test ! -e "$A/$OLD_KH"
check "run: activation stand-in wrote its keyholder" test -f "$A/$ACT_KH"
check "run: licence licensed (status.json licence.status after the run)" sj_is .licence.status licensed
BID=$(sj .result.backup_id)
check "run: originals kept byte for byte in backup $BID" \
	sh -c 'cd "$1/backup/$2/archive" && sha256sum -c --quiet "$3"' _ "$STATE" "$BID" "$FX/originals.sha256"
check "run: CMIT\\Active IntranetActivationServer set" \
	same "$(reg_get 'HKLM\SOFTWARE\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"
check "run: CMIT\\Active IntranetSkuId set" same "$(reg_get 'HKLM\SOFTWARE\CMIT\Active' IntranetSkuId)" VDI
check "run: CMIT\\Active ActiveMode set (REG_DWORD)" same "$(reg_get 'HKLM\SOFTWARE\CMIT\Active' ActiveMode)" 1
check "run: log written (Windows\\Logs\\khreset\\khreset.log)" file_has "$LOG" 'outcome repaired'
check "run: HKLM\\SOFTWARE\\khreset\\Status Outcome=repaired" same "$(sget Outcome)" repaired
check "run: Status ExitCode=0" same "$(sget ExitCode)" 0
check "run: Status BackupId is the backup made" same "$(sget BackupId)" "$BID"
check "run: Status LastRun is a UTC time" sh -c 'printf "%s\n" "$1" | grep -Eqx "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"' _ "$(sget LastRun)"
check "run: Status Version is KH_VERSION" same "$(sget Version)" "$KH_VERSION"
check "run: the repair record names the upgrade (HKLM\\SOFTWARE\\khreset RepairUpgrade)" \
	same "$(reg_get 'HKLM\SOFTWARE\khreset' RepairUpgrade)" "${SRC#HKLM\\SYSTEM\\Setup\\}"
check "run: the repair record's RepairBackup is the backup made" \
	same "$(reg_get 'HKLM\SOFTWARE\khreset' RepairBackup)" "$BID"
check "run: status.json carries the record" sj_is .repair.backup_id "$BID"
check "run: event 101 (information) text in the +eventlog trace" event_in "$T/repair.trace" trace repaired
check "run: event source registered with the executable as message file" \
	sh -c 'case "$1" in *[Kk]hreset.exe) exit 0 ;; *) exit 1 ;; esac' _ \
	"$(reg_get 'HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\khreset' EventMessageFile)"
CASE="after repair"
expect_exit 0 kh check
check "after repair: check says healthy" out_first '^verdict: *healthy'
check "after repair: check reads licensed through slc.dll" sj_is .licence.status licensed
check "after repair: the activation file is post-upgrade evidence" \
	sj_is '.archive[] | select(.name | startswith("451b310a")) | .class' post-upgrade

# === 3. a healthy system is left untouched ========================================
before=$(digest) nb=$(nbackups) starts=$(tget ClipSvcStarts) acts=$(tget ActivationAttempts)
CASE=healthy
expect_exit 0 kh run
check "healthy: outcome healthy" sj_is .result.outcome healthy
check "healthy: nothing moved (archive + install digest)" same "$(digest)" "$before"
check "healthy: no new backup" same "$(nbackups)" "$nb"
check "healthy: ClipSVC not touched (stand-in start counter unchanged)" same "$(tget ClipSvcStarts)" "$starts"
check "healthy: CmitClientSVC not touched (activation attempts unchanged)" same "$(tget ActivationAttempts)" "$acts"

# === 4. ClipSVC fails to start: rolled back, byte for byte =========================
field_case
tset ClipSvcFail 1
starts=$(tget ClipSvcStarts)
CASE="ClipSVC start fails"
WINEDEBUG=+eventlog expect_exit 1 kh --json run --wait 1
cp "$T/err" "$T/clipfail.trace"
check "ClipSVC start fails: outcome failed" sj_is .result.outcome failed
check "ClipSVC start fails: the failing steps are restart-clipsvc, then rollback" \
	sj_is '[.result.steps[] | select(.ok == false) | .step] | join(",")' "restart-clipsvc,rollback"
check "ClipSVC start fails: the error names the service" \
	sh -c 'jq -r ".result.steps[] | select(.step == \"restart-clipsvc\") | .detail" "$1" | grep -q "ClipSVC"' \
	_ "$STATE/status.json"
check "ClipSVC start fails: the original archive back byte for byte" originals_back
check "ClipSVC start fails: staged files removed" is_empty "$I"
check "ClipSVC start fails: the rollback started ClipSVC again" \
	same "$(tget ClipSvcStarts)" "$((starts + 2))"
check "ClipSVC start fails: registry untouched (no CMIT\\Active)" \
	same "$(reg_get 'HKLM\SOFTWARE\CMIT\Active' IntranetActivationServer)" ""
check "ClipSVC start fails: the stand-ins' key still reads (the registry is readable)" same "$(tget ClipSvcFail)" 1
check "ClipSVC start fails: Status Outcome=failed" same "$(sget Outcome)" failed
check "ClipSVC start fails: Status ExitCode=1" same "$(sget ExitCode)" 1
check "ClipSVC start fails: event 200 (error) in the +eventlog trace" event_in "$T/clipfail.trace" err failed
tset ClipSvcFail 0

# === 5+6. activation never succeeds: pending, the retry task; a concurrent run ======
field_case
tset ActivationNever 1
rm -f "$LOG"
( cd "$RUNDIR" && WINEDEBUG=+eventlog "$WINE" "$PW\\khreset.exe" --json run --wait 20 >"$T/bg.out" 2>"$T/bg.trace"
  echo $? >"$T/bg.rc" ) &
BG=$!
check "concurrent: the first run reached its wait step" wait_for 30 log_says 'trigger *done'
CASE=concurrent
expect_exit 75 kh run --wait 1
check "concurrent: the second run says why" err_has 'another khreset instance'
wait $BG
RC=$(cat "$T/bg.rc")
cp "$T/bg.out" "$T/out"
OUT=$(tr -d '\r' <"$T/out")
check "activation never: exit 2" rc_is 2
check "activation never: outcome pending" sj_is .result.outcome pending
check "activation never: the wait step failed" sj_is '.result.steps[] | select(.step == "wait") | .ok' false
check "activation never: the wait step says why" \
	sj_is '.result.steps[] | select(.step == "wait") | .detail | test("not licensed after [0-9]+ s")' true
check "activation never: archive repaired all the same" cmp -s "$FX/bundle/$ROOT_KH" "$A/$ROOT_KH"
check "activation never: Status Outcome=pending" same "$(sget Outcome)" pending
check "activation never: Status ExitCode=2" same "$(sget ExitCode)" 2
check "activation never: Status Attempts=0 (no retry has run yet)" same "$(sget Attempts)" 0
check "activation never: event 102 (warning) in the +eventlog trace" event_in "$T/bg.trace" warn pending
CASE="activation never"
expect_exit 0 kh task status
check "activation never: retry task registered (khreset task status)" out_has 'task \\khreset\\Retry: installed'
check "activation never: Wine's task store holds \\khreset\\Retry" test -f "$TASKFILE"
# the retry task's command, run as the task would (Wine does not fire boot triggers)
CASE="from-task attempt 1"
expect_exit 2 kh run --from-task
check "from-task attempt 1: Status Attempts=1" same "$(sget Attempts)" 1
check "from-task attempt 1: verdict activate (archive already repaired)" sj_is .verdict activate
expect_exit 0 kh task status
check "from-task attempt 1: the task is still registered" out_has 'task \\khreset\\Retry: installed'
CASE="from-task attempt 2 = task.max_attempts"
expect_exit 1 kh run --from-task
check "from-task attempt 2: outcome failed" sj_is .result.outcome failed
check "from-task attempt 2: the task step says it gave up after attempt 2 of 2" \
	sj_is '.result.steps[] | select(.step == "task") | .detail | test("attempt 2 of 2")' true
check "from-task attempt 2: Status Outcome=failed" same "$(sget Outcome)" failed
check "from-task attempt 2: Status ExitCode=1" same "$(sget ExitCode)" 1
check "from-task attempt 2: Status Attempts=2 (the count stays after giving up)" same "$(sget Attempts)" 2
CASE="from-task last attempt"
expect_exit 0 kh task status
check "from-task last attempt: the task removed" out_has 'task \\khreset\\Retry: not installed'
check "from-task last attempt: gone from Wine's task store" test ! -e "$TASKFILE"
tset ActivationNever 0

# non-elevated: Wine runs every process as an administrator (a full token, no
# UAC filtering), so a real non-elevated token cannot be made here; the
# KHRESET_TEST_NOT_ELEVATED seam takes the right away inside plat_writable().
before=$(digest) nb=$(nbackups)
CASE="not elevated (simulated: Wine is always administrator)"
KHRESET_TEST_NOT_ELEVATED=1 expect_exit 77 kh run --wait 1
check "not elevated: says why" err_has 'not elevated'
check "not elevated: nothing moved" same "$(digest)" "$before"
check "not elevated: no backup made" same "$(nbackups)" "$nb"

# ------------------------------------------------------------------------------------
w_try sc stop CmitClientSVC
w_try sc stop ClipSVC
echo "# $(($(date +%s) - START)) s"
wine_stop
if [ "$FAIL" = 0 ] && [ "${KEEP:-0}" != 1 ]; then
	rm -rf "$WINEPREFIX"         # ~700 MB; kept when something failed
else
	echo "# prefix kept: $WINEPREFIX"
fi
finish
