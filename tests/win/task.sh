#!/bin/sh
# tests/win/task.sh - `khreset.exe task install|remove|status` under Wine:
# the Task Scheduler 2.0 COM path of hook/win32/task.c and hook/cmd_task.c
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
# (make windows).  Ends with "N passed, N failed".
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
. "$TOP/tests/lib.sh"
. "$TOP/tests/win/wine-lib.sh"
W=${W:-build/win}
EXE=$W/khreset.exe
wine_find task
[ -s "$EXE" ] || { notok "$EXE built (make windows)"; finish; exit 1; }
STRIP_CR=1

# --- Wine prefix ----------------------------------------------------------------
wine_env
wine_prefix task "$TOP/$W/wine-template" "$TOP/$W/wine-task"
wine_start
C=$WINEPREFIX/drive_c
TASKS=$C/windows/system32/tasks      # where Wine's schedsvc keeps task files

kh_exec() { "$WINE" "$EXE" "$@"; }
task_file() { find "$TASKS" -ipath "*/$1" -type f 2>/dev/null | head -1; }

# --- the default task: \khreset\Retry ---------------------------------------------------
CASE="before install"
expect_exit 0 kh task status
check "status before install: not installed" out_has 'task \\khreset\\Retry: not installed'

CASE=install
expect_exit 0 kh task install
check "install registers \\khreset\\Retry at boot + PT2M, every PT15M for PT3H (12 attempts), as SYSTEM" \
	out_has 'task \\khreset\\Retry installed: at boot + PT2M, every PT15M for PT3H (12 attempts), as SYSTEM'

CASE="after install"
expect_exit 0 kh task status
check "status after install: installed" out_has 'task \\khreset\\Retry: installed (state '

# Wine parsed our XML (sent as UTF-16, declaration rewritten) and stored
# what it understood: registration info and the settings it implements.
# (It drops Triggers, the Principal and the Exec action - see the top.)
f=$(task_file khreset/retry)
check "Wine stored the task file (${f#$C/})" test -f "$f"
for want in '<Author>khreset</Author>' '<DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>' \
	    '<StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>' \
	    '<ExecutionTimeLimit>PT30M</ExecutionTimeLimit>' '<StartWhenAvailable>true</StartWhenAvailable>' \
	    '<MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>'; do
	check "Wine parsed and stored our XML: $want" file_has "$f" "$want"
done

CASE="install again"
expect_exit 0 kh task install
check "install again updates in place (TASK_CREATE_OR_UPDATE)" out_has 'installed'

CASE="--json status"
expect_exit 0 kh --json task status
check "--json status: exists true" jq_is .exists true
check "--json status: the definition's principal is SYSTEM" jq_is .definition.principal S-1-5-18

CASE="not elevated"
KHRESET_TEST_NOT_ELEVATED=1 expect_exit 77 kh task remove
check "remove when not elevated: says why" err_has 'not elevated'
CASE="after the refused remove"
expect_exit 0 kh task status
check "... and the task is still there" out_has 'installed (state '

CASE=remove
expect_exit 0 kh task remove
check "remove deletes the task" out_has 'task \\khreset\\Retry removed'
CASE="after remove"
expect_exit 0 kh task status
check "status after remove: not installed" out_has 'not installed'
# (The emptied \khreset folder is removed only when Task Scheduler says it
# is empty; Wine 8's IRegisteredTaskCollection::get_Count is a stub, so
# there the folder stays - not asserted.)
check "the task file is gone" same "$(task_file khreset/retry)" ""
CASE="remove again"
expect_exit 0 kh task remove
check "remove again: nothing to do" out_has 'was not installed'

# --- refusals ---------------------------------------------------------------------------------
CASE="not elevated"
KHRESET_TEST_NOT_ELEVATED=1 expect_exit 77 kh task install
check "install when not elevated: says why" err_has 'not elevated'
CASE="after the refused install"
expect_exit 0 kh task status
check "... nothing registered" out_has 'not installed'
CASE="--root"
expect_exit 64 kh --root 'C:\' task install
check "--root refused (live mode only)" err_has 'only in live mode'
CASE="unknown task verb"
expect_exit 64 kh task frobnicate
check "unknown task verb: usage" err_has 'usage: khreset task'

# --- the configuration decides name and timing ------------------------------------------
cat >"$C/kh-test.ini" <<'INI'
[task]
name         = \kh-test\Other
delay        = PT5M
interval     = PT1H
max_attempts = 30
INI
CASE="--config"
expect_exit 0 kh --config 'C:\kh-test.ini' task install
check "install with --config: name and timing from khreset.ini" \
	out_has 'task \\kh-test\\Other installed: at boot + PT5M, every PT1H for P1DT6H (30 attempts)'
expect_exit 0 kh --config 'C:\kh-test.ini' task status
check "status with --config" out_has 'task \\kh-test\\Other: installed'
CASE="without --config"
expect_exit 0 kh task status
check "the default task is still absent" out_has 'task \\khreset\\Retry: not installed'
CASE="--config"
expect_exit 0 kh --config 'C:\kh-test.ini' task remove
check "remove with --config" out_has 'task \\kh-test\\Other removed'

printf '[task]\ninterval = PT30S\n' >"$C/kh-bad.ini"
CASE="interval PT30S"
expect_exit 65 kh --config 'C:\kh-bad.ini' task install
check "interval below PT1M refused before registering: says why" err_has 'PT1M'
CASE="after the refused install"
expect_exit 0 kh task status
check "... nothing registered" out_has 'not installed'

# --- a SYSTEM task never runs khreset from a temp folder --------------------------------------
cp "$EXE" "$C/windows/temp/khreset.exe"
kh_from_temp() { "$WINE" 'C:\windows\temp\khreset.exe' "$@"; }
CASE='khreset.exe in C:\Windows\Temp'
expect_exit 77 kh_from_temp task install
check "install from C:\\Windows\\Temp refused: says why" err_has 'temporary folder'
rm -f "$C/windows/temp/khreset.exe"
CASE="after the refused install"
expect_exit 0 kh task status
check "... nothing registered from C:\\Windows\\Temp" out_has 'not installed'

wine_stop
if [ "$FAIL" = 0 ]; then
	rm -rf "$WINEPREFIX"        # ~700 MB; kept when something failed
else
	echo "# task: prefix kept: $WINEPREFIX"
fi
finish
