#!/bin/sh
# tests/win/task.sh - `khreset.exe task install|remove|status` under Wine:
# the Task Scheduler 2.0 COM path of hook/task_win32.c and hook/cmd_task.c
# with the real executable, in a private Wine prefix.
#
# What Wine 8 can show: registration and removal through ITaskService /
# ITaskFolder (RegisterTask, GetTask, DeleteTask, CreateFolder,
# DeleteFolder), the task file Wine stores under System32\Tasks with our
# Exec Command and Arguments, the exit codes (not elevated 77, bad config
# 65, --root / bad verb 64), and that a failed install registers nothing.
# What it cannot: Wine 8 drops the triggers, the principal and (8.0) even
# the Exec action when it reads a task back, keeps only some settings, and
# never runs boot triggers; its LastRunTime/NextRunTime/LastTaskResult and
# the task collection's Count are stubs.  So the boot trigger, delay,
# repetition, SYSTEM principal, restart on failure and the command line are
# NOT asserted here - they are checked against Microsoft's schema and our
# rules by the unit test tests/unit/test_taskxml.c - and neither is the
# removal of the emptied task folder.
#
# Prefix as tests/win/smoke.sh: the template build/win/wine-template (made
# once with wineboot), copied fresh to build/win/wine-task; a persistent
# wineserver (-p) started before any other wine command and killed at the
# end; crash dialog off (tests/win/wine-lib.sh).  Needs wine64 (Debian 8.0) and build/win/khreset.exe
# (make windows).
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
. "$TOP/tests/win/wine-lib.sh"
W=${W:-build/win}
EXE=$W/khreset.exe
wine_find task
[ -s "$EXE" ] || { echo "task: $EXE missing (make windows)"; exit 1; }

# --- Wine prefix ----------------------------------------------------------------
wine_env
wine_prefix task "$TOP/$W/wine-template" "$TOP/$W/wine-task"
wine_start
C=$WINEPREFIX/drive_c
TASKS=$C/windows/system32/tasks      # where Wine's schedsvc keeps task files

# --- helpers ---------------------------------------------------------------------------
pass=0 failed=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
no() { echo "not ok - $*"; failed=$((failed + 1)); }
# kh ARGS...: runs khreset.exe; sets $out (stdout+stderr, CR stripped) and $rc
kh() {
	set +e
	"$WINE" "$EXE" "$@" >"$W/tests/task.out" 2>&1
	rc=$?
	set -e
	out=$(tr -d '\r' <"$W/tests/task.out")
}
# expect RC WHAT PATTERN: exit code RC and output matching PATTERN (grep -E)
expect() {
	if [ "$rc" = "$1" ] && printf '%s\n' "$out" | grep -Eq "$3"; then
		ok "$2 (exit $rc)"
	else
		no "$2: exit $rc (want $1), output: $out"
	fi
}
mkdir -p "$W/tests"
task_file() { find "$TASKS" -ipath "*/$1" -type f 2>/dev/null | head -1; }

# --- the default task: \khreset\Retry ---------------------------------------------------
kh task status
expect 0 "status before install: not installed" 'task \\khreset\\Retry: not installed'

kh task install
expect 0 "install registers \\khreset\\Retry" 'task \\khreset\\Retry installed: at boot \+ PT2M, every PT15M for PT3H \(12 attempts\), as SYSTEM'

kh task status
expect 0 "status after install: installed" 'task \\khreset\\Retry: installed \(state '

# Wine parsed our XML (sent as UTF-16, declaration rewritten) and stored
# what it understood: registration info and the settings it implements.
# (It drops Triggers, the Principal and the Exec action - see the top.)
f=$(task_file khreset/retry)
miss=
for want in '<Author>khreset</Author>' '<DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>' \
	    '<StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>' \
	    '<ExecutionTimeLimit>PT30M</ExecutionTimeLimit>' '<StartWhenAvailable>true</StartWhenAvailable>' \
	    '<MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>'; do
	[ -n "$f" ] && grep -qF "$want" "$f" || miss="$miss $want"
done
if [ -z "$miss" ]; then
	ok "Wine parsed and stored our XML: author, batteries, time limit, instances (${f#$C/})"
else
	no "task file ${f:-missing under $TASKS} lacks:$miss"
fi

kh task install
expect 0 "install again updates in place (TASK_CREATE_OR_UPDATE)" 'installed'

kh --json task status
if [ "$rc" = 0 ] && printf '%s\n' "$out" | grep -q '"exists": true' &&
   printf '%s\n' "$out" | grep -q '"principal": "S-1-5-18"'; then
	ok "--json status: exists true, definition shown (exit 0)"
else
	no "--json status: exit $rc: $out"
fi

KHRESET_TEST_NOT_ELEVATED=1 kh task remove
expect 77 "remove when not elevated refused" 'not permitted|Administrators|elevat'
kh task status
expect 0 "... and the task is still there" 'installed \(state '

kh task remove
expect 0 "remove deletes the task" 'task \\khreset\\Retry removed'
kh task status
expect 0 "status after remove: not installed" 'not installed'
# (The emptied \khreset folder is removed only when Task Scheduler says it
# is empty; Wine 8's IRegisteredTaskCollection::get_Count is a stub, so
# there the folder stays - not asserted.)
if [ -z "$(task_file khreset/retry)" ]; then
	ok "the task file is gone"
else
	no "left behind: $(find "$TASKS" 2>/dev/null | tr '\n' ' ')"
fi
kh task remove
expect 0 "remove again: nothing to do" 'was not installed'

# --- refusals ---------------------------------------------------------------------------------
KHRESET_TEST_NOT_ELEVATED=1 kh task install
expect 77 "install when not elevated refused" '.'
kh task status
expect 0 "... nothing registered" 'not installed'
kh --root 'C:\' task install
expect 64 "--root refused (live mode only)" 'only in live mode'
kh task frobnicate
expect 64 "unknown task verb" 'usage: khreset task'

# --- the configuration decides name and timing ------------------------------------------
cat >"$C/kh-test.ini" <<'INI'
[task]
name         = \kh-test\Other
delay        = PT5M
interval     = PT1H
max_attempts = 30
INI
kh --config 'C:\kh-test.ini' task install
expect 0 "install with --config: name and timing from khreset.ini" 'task \\kh-test\\Other installed: at boot \+ PT5M, every PT1H for P1DT6H \(30 attempts\)'
kh --config 'C:\kh-test.ini' task status
expect 0 "status with --config" 'task \\kh-test\\Other: installed'
kh task status
expect 0 "the default task is still absent" 'task \\khreset\\Retry: not installed'
kh --config 'C:\kh-test.ini' task remove
expect 0 "remove with --config" 'removed'

printf '[task]\ninterval = PT30S\n' >"$C/kh-bad.ini"
kh --config 'C:\kh-bad.ini' task install
expect 65 "interval below PT1M refused before registering" 'PT1M'
kh task status
expect 0 "... nothing registered" 'not installed'

# --- a SYSTEM task never runs khreset from a temp folder --------------------------------------
cp "$EXE" "$C/windows/temp/khreset.exe"
set +e
"$WINE" 'C:\windows\temp\khreset.exe' task install >"$W/tests/task.out" 2>&1
rc=$?
set -e
out=$(tr -d '\r' <"$W/tests/task.out")
expect 77 "install from C:\\Windows\\Temp refused" 'temporary folder'
rm -f "$C/windows/temp/khreset.exe"

wine_stop
echo "$pass passed, $failed failed"
if [ $failed = 0 ]; then
	rm -rf "$WINEPREFIX"        # ~700 MB; kept when something failed
	exit 0
fi
echo "task: prefix kept: $WINEPREFIX"
exit 1
