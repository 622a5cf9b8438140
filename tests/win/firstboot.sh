#!/bin/sh
# tests/win/firstboot.sh - the first boot under Wine with stand-ins that
# misbehave (issue 10), with the REAL build/win/khreset.exe: each case is a
# fresh field case (the archive the old OS left, nothing staged, no state),
# then `khreset run --wait 10` as SetupComplete runs it (short budget; the
# stand-in's delay, where there is one, goes beyond it), then what a later
# `run --from-task` does.  Every misbehaving case has the well-behaved run
# as its negative twin (repaired, exit 0, task removed).
#
# Stand-ins (tests/win/standin_*.c, built by wine_standins, tests/win/wine-lib.sh),
# driven by control values under HKLM\SOFTWARE\khreset-test:
#   ClipSVC           ClipSvcDelay (regenerates late), ClipSvcRename (under
#                     another name), ClipSvcAlter (other bytes), ClipSvcPartial
#                     (only the root keyholder), ClipSvcHold (holds its archive
#                     open while running), ClipSvcRetrigger (started again right
#                     after a stop, as a trigger start does), ClipSvcIdleStop
#                     (stopping on its own: "cannot accept control now")
#   CmitClientSVC     deleted until "logon" (the test creates it again)
#   standin_hold.exe  another process holding an archive file open, no sharing
#                     (or reads shared: only the rename is refused)
#   standin_command.exe  the activation command, exit code as configured
#
# Checked per case: exit code and outcome (SPEC section 3 and issue 10's
# design: repaired / pending / failed), nothing lost (every file digest
# before the run is found after it, in the archive, the install folder or
# the backup; the backup holds the originals byte for byte), whether the
# retry task exists, and that `run --from-task` afterwards moves neither the
# regenerated nor the activation files (digests and times unchanged, no new
# backup).  No timed assertions: the budget is measured by
# bench/firstboot-wine.sh.
#
# A check that needs a part of issue 10 this tree does not have yet (fbcore:
# run order, budget, pending after the repair, activation.command; neverloop:
# the repair record; winbody: busy files and service stops) is reported as
#   skip - expected failure (TREE LACKS PART): NAME
# only when it fails AND the tree lacks that part; with the part present it
# is an ordinary check.
#
# The VM itself (stand-ins, prefix, system, payload) is tests/win/firstboot-lib.sh.
# Usage: make windows && W=build/win sh tests/win/firstboot.sh
# Prints `ok - ...` / `not ok - ...` / `skip - ...`, then `N passed, M failed`;
# exit 0 only if nothing failed.  KEEP=1 keeps the prefix.  ONLY="late rename"
# runs only the cases named (debugging).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
. "$TOP/tests/lib.sh"
. "$TOP/tests/win/wine-lib.sh"
W=${W:-build/win}
case $W in /*) ;; *) W=$TOP/$W ;; esac
CC=x86_64-w64-mingw32-gcc-win32
command -v $CC >/dev/null || CC=x86_64-w64-mingw32-gcc
wine_find firstboot
KHEXE=${KHEXE:-$W/khreset.exe}
[ -f "$KHEXE" ] || { notok "$KHEXE built (make windows)"; finish; exit 1; }
command -v jq >/dev/null || { notok "jq installed"; finish; exit 1; }
START=$(date +%s)
STRIP_CR=1
ACT_KH=451b310a-7d1e-4c52-9a0b-3f6c1e2d8a47.xml
RENAMED_ROOT=06edbde2-3371-f33c-3cf8-22df25e5851f.xml   # ClipSvcRename of ROOT_KH
WAIT=10

# --- the parts of issue 10 this tree has (for the expected failures) -------------
has_part() {
	case $1 in
	fbcore) grep -q root_keyholder hook/config.c 2>/dev/null ;;
	neverloop) grep -rqi 'RepairUpgrade' hook/ 2>/dev/null ;;
	winbody) grep -q KH_ERR_INUSE hook/win32/files.c hook/win32/services.c 2>/dev/null ;;
	*) return 1 ;;
	esac
}
# xcheck PARTS NAME CMD...: a check of what PARTS (space-separated) bring
xcheck() {
	xc_parts=$1 xc_name=$2
	shift 2
	if "$@" 2>"$T/xc.err"; then ok "$xc_name"; return; fi
	xc_lack=
	for xc_p in $xc_parts; do has_part "$xc_p" || xc_lack="$xc_lack $xc_p"; done
	if [ -n "$xc_lack" ]; then
		skip "expected failure (tree lacks${xc_lack}): $xc_name"
		sed 's/^/    /' "$T/xc.err"
	else
		cat "$T/xc.err" >&2
		notok "$xc_name"
	fi
}
# xexit PARTS CODE: the last run exited CODE (named after CASE)
xexit() { xcheck "$1" "$CASE: exit $2 (outcome $(sj .result.outcome))" rc_is "$2"; }

. "$TOP/tests/win/firstboot-lib.sh"

# every file digest under the archive, install and backup folders, sorted
digests() {
	find "$A" "$I" "$STATE/backup" -type f 2>/dev/null | grep -v 'manifest\.ini$' |
		while IFS= read -r f; do sha256sum <"$f" | cut -d' ' -f1; done | sort -u
}
# nothing_lost BEFORE: every digest of BEFORE is still somewhere
nothing_lost() {
	digests >"$T/dg.now"
	lost=$(printf '%s\n' "$1" | comm -23 - "$T/dg.now")
	[ -z "$lost" ] || { echo "  lost: $lost" >&2; return 1; }
}
BID=
# backup_intact: the run's backup holds the original archive byte for byte
backup_intact() {
	BID=$(sj .result.backup_id)
	[ -n "$BID" ] && [ "$BID" != null ] || { echo "  no backup_id in status.json" >&2; return 1; }
	(cd "$STATE/backup/$BID/archive" && sha256sum -c --quiet "$FX/originals.sha256") >&2
}
nbackups() { ls -1 "$STATE/backup" 2>/dev/null | wc -l; }
# listing FILE...: name, size, time and digest of each (moved = changed)
listing() {
	for f in "$@"; do
		[ -f "$f" ] && echo "$(basename "$f") $(stat -c '%s %Y' "$f") $(sha256sum <"$f" | cut -d' ' -f1)" ||
			echo "$(basename "$f") missing"
	done
}
task_is() { # installed | not installed
	run kh_exec task status
	printf '%s\n' "$OUT" | grep -q "task \\\\khreset\\\\Retry: $1" ||
		{ echo "  task status: $OUT" >&2; return 1; }
}
no_rollback() {
	[ "$(sj '[.result.steps[]? | select(.step == "rollback")] | length')" = 0 ] ||
		{ echo "  steps: $(sj '[.result.steps[] | "\(.step):\(.ok)"] | join(",")')" >&2; return 1; }
}
# record_done: the repair record names this upgrade and the run's backup
# (HKLM\SOFTWARE\khreset, read by Wine's reg; check --json repair.current)
record_done() {
	same "$(reg_get 'HKLM\SOFTWARE\khreset' RepairUpgrade)" "${SRC##*\\}" &&
		same "$(reg_get 'HKLM\SOFTWARE\khreset' RepairBackup)" "$(sj .result.backup_id)" &&
		{ kh --json check; jq_is .repair.current true; }
}
stale_gone() { [ ! -e "$A/$OLD_KH" ] || { echo "  $OLD_KH is back in the archive" >&2; return 1; }; }
is_bundle() { cmp -s "$FX/bundle/$1" "$A/$1" || { echo "  archive $1 is not the bundle's" >&2; return 1; }; }
wanted() { [ -z "${ONLY:-}" ] || case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# from_task PARTS CODE FILE...: `run --from-task` exits CODE and moves none
# of FILE (the regenerated and activation files), no new backup; then a
# second one moves nothing at all (never loops)
from_task() {
	ft_parts=$1 ft_code=$2
	shift 2
	ft_files=$(listing "$@") ft_nb=$(nbackups)
	CASE="$CASE, from-task"
	expect_exit_x "$ft_parts" "$ft_code" run --from-task
	xcheck "$ft_parts" "$CASE: regenerated and activation files not moved" \
		same "$(listing "$@")" "$ft_files"
	xcheck "$ft_parts" "$CASE: no new backup" same "$(nbackups)" "$ft_nb"
	ft_all=$(treedigest "$A") ft_nb=$(nbackups)
	kh run --from-task
	xcheck "$ft_parts" "$CASE again: the archive not touched (digests, times)" \
		same "$(treedigest "$A")" "$ft_all"
	xcheck "$ft_parts" "$CASE again: no new backup" same "$(nbackups)" "$ft_nb"
}
expect_exit_x() { # PARTS CODE ARGS...
	ex_parts=$1 ex_code=$2
	shift 2
	kh "$@"
	xexit "$ex_parts" "$ex_code"
}
# first_boot PARTS CODE: `run --wait $WAIT` exits CODE
first_boot() {
	fb_before=$(digests)
	kh --json run --wait "$WAIT"
	xexit "$1" "$2"
	check "$CASE: nothing lost (every digest before is found after)" nothing_lost "$fb_before"
}

echo "# prefix $WINEPREFIX ready after $(($(date +%s) - START)) s"

# === well-behaved stand-ins: the negative twin of every case below ===============
if wanted good; then
field_case
CASE="well-behaved"
first_boot "" 0
check "$CASE: outcome repaired" sj_is .result.outcome repaired
check "$CASE: backup holds the originals byte for byte" backup_intact
check "$CASE: root keyholder regenerated" is_bundle "$ROOT_KH"
check "$CASE: activation file written" test -f "$A/$ACT_KH"
check "$CASE: retry task removed" task_is 'not installed'
xcheck neverloop "$CASE: the repair is recorded for this upgrade" record_done
from_task "" 0 "$A/$ROOT_KH" "$A/$CHILD_KH" "$A/$ACT_KH"
fi

# === ClipSVC regenerates after the budget ==========================================
if wanted late; then
field_case
tset ClipSvcDelay 20
CASE="late regeneration (20 s, budget $WAIT s)"
first_boot fbcore 2
xcheck fbcore "$CASE: outcome pending" sj_is .result.outcome pending
xcheck fbcore "$CASE: no rollback" no_rollback
xcheck fbcore "$CASE: the stale entries stay in the backup" stale_gone
xcheck fbcore "$CASE: backup holds the originals byte for byte" backup_intact
xcheck fbcore "$CASE: retry task registered" task_is installed
xcheck "fbcore neverloop" "$CASE: the repair is recorded for this upgrade" record_done
check "$CASE: the stand-in regenerated later all the same" wait_for 40 tget_is ClipSvcCopied 2
from_task "fbcore neverloop" 0 "$A/$ROOT_KH" "$A/$CHILD_KH"
xcheck "fbcore neverloop" "$CASE: licensed by the retry" test -f "$A/$ACT_KH"
check "$CASE: the regenerated root keyholder is the bundle's" is_bundle "$ROOT_KH"
fi

# === ClipSVC archives under another name ===========================================
if wanted rename; then
field_case
tset ClipSvcRename 1
CASE="different name"
first_boot fbcore 2
xcheck fbcore "$CASE: outcome pending" sj_is .result.outcome pending
xcheck fbcore "$CASE: no rollback" no_rollback
xcheck fbcore "$CASE: the renamed file stays in the archive" test -f "$A/$RENAMED_ROOT"
xcheck fbcore "$CASE: backup holds the originals byte for byte" backup_intact
xcheck fbcore "$CASE: retry task registered" task_is installed
from_task "fbcore neverloop" 2 "$A/$RENAMED_ROOT"
fi

# === ClipSVC archives other bytes ==================================================
if wanted alter; then
field_case
tset ClipSvcAlter 1
CASE="different bytes, [archive] digests listed"
first_boot fbcore 2
xcheck fbcore "$CASE: outcome pending" sj_is .result.outcome pending
xcheck fbcore "$CASE: no rollback" no_rollback
xcheck fbcore "$CASE: backup holds the originals byte for byte" backup_intact
xcheck fbcore "$CASE: retry task registered" task_is installed
xcheck fbcore "$CASE: the archived root keyholder (other bytes) stays" file_has "$A/$ROOT_KH" 'archived by the ClipSVC stand-in'
alt=$(listing "$A/$ROOT_KH")
kh run --from-task
xcheck "fbcore neverloop" "$CASE, from-task: the archived root keyholder not moved" \
	same "$(listing "$A/$ROOT_KH")" "$alt"
field_case
ini bundle-nodigest
tset ClipSvcAlter 1
CASE="different bytes, no [archive] digests"
first_boot "" 0
check "$CASE: outcome repaired (the name is enough)" sj_is .result.outcome repaired
check "$CASE: retry task removed" task_is 'not installed'
from_task "neverloop" 0 "$A/$ROOT_KH" "$A/$ACT_KH"
fi

# === ClipSVC archives only part of the set =========================================
if wanted partial; then
field_case
tset ClipSvcPartial 1
CASE="partial set (root keyholder only)"
first_boot fbcore 0
xcheck fbcore "$CASE: outcome repaired (verify waits for the root keyholder)" sj_is .result.outcome repaired
xcheck fbcore "$CASE: the verify detail names the missing file" \
	sh -c 'printf "%s\n" "$1" | grep -q "${2%.xml}"' _ "$(step_detail verify)" "$CHILD_KH"
xcheck fbcore "$CASE: no rollback" no_rollback
xcheck fbcore "$CASE: backup holds the originals byte for byte" backup_intact
xcheck fbcore "$CASE: retry task removed" task_is 'not installed'
from_task "fbcore neverloop" 0 "$A/$ROOT_KH" "$A/$ACT_KH"
fi

# === another process holds an archived file open, no sharing =======================
if wanted busy; then
field_case
hold "$OLD_KH" 5
CASE="busy file (5 s)"
first_boot "winbody" 0
xcheck winbody "$CASE: outcome repaired (retried until released)" sj_is .result.outcome repaired
check "$CASE: the file was released meanwhile" wait_for 20 tget_is HoldActive 0
xcheck winbody "$CASE: backup holds the originals byte for byte" backup_intact
xcheck winbody "$CASE: retry task removed" task_is 'not installed'
wait
field_case
hold "$OLD_KH" 25
CASE="busy file beyond the budget (25 s, budget 5 s)"
before=$(treedigest "$A")
WAIT=5
first_boot "winbody fbcore" 2
WAIT=10
xcheck "winbody fbcore" "$CASE: outcome pending" sj_is .result.outcome pending
check "$CASE: the archive as before (digests, times)" same "$(treedigest "$A")" "$before"
xcheck "winbody fbcore" "$CASE: retry task registered" task_is installed
fixture "standin_hold released" wait_for 40 tget_is HoldActive 0
wait
CASE="busy file beyond the budget, retried"
expect_exit_x "" 0 run --from-task
check "$CASE: backup holds the originals byte for byte" backup_intact
fi

# === another process holds an archived file open, reads shared ===================
if wanted busyrename; then
field_case
hold "$OLD_KH" 5 read
CASE="busy file, reads shared (5 s)"
first_boot "winbody fbcore" 0
xcheck "winbody fbcore" "$CASE: outcome repaired (the rename retried until released)" sj_is .result.outcome repaired
check "$CASE: the file was released meanwhile" wait_for 20 tget_is HoldActive 0
xcheck "winbody fbcore" "$CASE: backup holds the originals byte for byte" backup_intact
xcheck "winbody fbcore" "$CASE: retry task removed" task_is 'not installed'
wait
field_case
hold "$OLD_KH" 25 read
CASE="busy file, reads shared, beyond the budget (25 s, budget 5 s)"
WAIT=5
first_boot "winbody fbcore" 2
WAIT=10
xcheck "winbody fbcore" "$CASE: outcome pending" sj_is .result.outcome pending
check "$CASE: every original back in the archive" \
	sh -c 'cd "$1" && sha256sum -c --quiet "$2"' _ "$A" "$FX/originals.sha256"
xcheck "winbody fbcore" "$CASE: retry task registered" task_is installed
fixture "standin_hold released" wait_for 40 tget_is HoldActive 0
wait
fi

# === ClipSVC holds its own archive while it runs ===================================
if wanted hold; then
field_case
tset ClipSvcHold 1
running ClipSVC
CASE="ClipSVC holds its archive while running"
first_boot fbcore 0
xcheck fbcore "$CASE: outcome repaired (ClipSVC stopped before the backup)" sj_is .result.outcome repaired
xcheck fbcore "$CASE: backup holds the originals byte for byte" backup_intact
xcheck fbcore "$CASE: retry task removed" task_is 'not installed'
fi

# === ClipSVC started again right after a stop (trigger start) =======================
if wanted retrigger; then
field_case
tset ClipSvcRetrigger 1
running ClipSVC
CASE="ClipSVC trigger-started after the stop"
first_boot "winbody" 0
check "$CASE: the stand-in's helper started it again" tget_is ClipSvcRetriggered 1
xcheck winbody "$CASE: outcome repaired" sj_is .result.outcome repaired
xcheck winbody "$CASE: root keyholder regenerated" is_bundle "$ROOT_KH"
xcheck winbody "$CASE: backup holds the originals byte for byte" backup_intact
xcheck winbody "$CASE: retry task removed" task_is 'not installed'
from_task "winbody neverloop" 0 "$A/$ROOT_KH" "$A/$ACT_KH"
fi

# === ClipSVC stopping on its own: "cannot accept control now" ======================
if wanted idle; then
field_case
tset ClipSvcIdleStop 4
w sc start ClipSVC
fixture "ClipSVC stopping on its own" wait_for 20 service_is ClipSVC STOP_PENDING
CASE="ClipSVC cannot accept control now"
first_boot "winbody" 0
xcheck winbody "$CASE: outcome repaired" sj_is .result.outcome repaired
check "$CASE: backup holds the originals byte for byte" backup_intact
xcheck winbody "$CASE: retry task removed" task_is 'not installed'
fi

# === the activation service does not exist until logon =============================
if wanted logon; then
field_case
w sc delete CmitClientSVC
CASE="activation service absent until logon"
first_boot fbcore 2
xcheck fbcore "$CASE: outcome pending" sj_is .result.outcome pending
xcheck fbcore "$CASE: no rollback" no_rollback
check "$CASE: archive repaired all the same" is_bundle "$ROOT_KH"
xcheck fbcore "$CASE: backup holds the originals byte for byte" backup_intact
xcheck fbcore "$CASE: the trigger step names the service" \
	sh -c 'printf "%s\n" "$1" | grep -q CmitClientSVC' _ "$(step_detail trigger)"
xcheck fbcore "$CASE: retry task registered" task_is installed
act_service                     # "logon": the client's installer creates it
from_task "fbcore neverloop" 0 "$A/$ROOT_KH" "$A/$CHILD_KH"
xcheck "fbcore neverloop" "$CASE: licensed by the retry" test -f "$A/$ACT_KH"
check "$CASE: retry task removed at the end" task_is 'not installed'
fi

# === the activation command fails ==================================================
if wanted command; then
field_case
ini bundle 'C:\khtest\standin_command.exe 3'
CASE="activation command exits 3"
first_boot fbcore 2
xcheck fbcore "$CASE: outcome pending" sj_is .result.outcome pending
xcheck fbcore "$CASE: the command ran once" tget_is CommandRuns 1
xcheck fbcore "$CASE: its exit code is reported" \
	sh -c 'printf "%s\n" "$1" | grep -Eq "(^|[^0-9])3([^0-9]|$)"' _ "$(step_detail trigger)"
xcheck fbcore "$CASE: no rollback" no_rollback
check "$CASE: archive repaired all the same" is_bundle "$ROOT_KH"
xcheck fbcore "$CASE: backup holds the originals byte for byte" backup_intact
xcheck fbcore "$CASE: retry task registered" task_is installed
# the activation service licenses it all the same (its attempt runs 0.5 s
# after its start, maybe after the run ended): the retry, minutes later on a
# VM, finds it healthy
fixture "the activation stand-in licensed it" wait_for 20 tget_is Licensed 1
from_task "fbcore neverloop" 0 "$A/$ROOT_KH" "$A/$CHILD_KH" "$A/$ACT_KH"
check "$CASE: retry task removed" task_is 'not installed'
field_case
ini bundle 'C:\khtest\standin_command.exe 0'
CASE="activation command exits 0"
first_boot "" 0
xcheck fbcore "$CASE: the command ran once" tget_is CommandRuns 1
check "$CASE: outcome repaired" sj_is .result.outcome repaired
check "$CASE: retry task removed" task_is 'not installed'
fi

# ------------------------------------------------------------------------------------
w_try sc stop CmitClientSVC
w_try sc stop ClipSVC
echo "# $(($(date +%s) - START)) s"
wine_stop
if [ "$FAIL" = 0 ] && [ "${KEEP:-0}" != 1 ]; then
	rm -rf "$WINEPREFIX"
else
	echo "# prefix kept: $WINEPREFIX"
fi
finish
