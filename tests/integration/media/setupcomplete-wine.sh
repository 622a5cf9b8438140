#!/bin/sh
# setupcomplete-wine.sh - runs setupcomplete/SetupComplete.cmd under Wine's
# cmd with a stand-in khreset.exe (stub-khreset.c, built with mingw-w64) that
# records its arguments and exits 0/1/2, and a chained script that must run
# exactly once, beside it (SetupComplete.chained.cmd), with its own folder
# (%~dp0) and working folder as the original SetupComplete.cmd had them: it
# calls a helper beside it by %~dp0 and by a relative name, and exits 7;
# the log records an exit code.  The twin: the layout of bakes before issue 10
# (khreset\SetupComplete.chained.cmd) gives it the wrong %~dp0.  Prints "ok - ..." / "not ok - ..." lines and "N passed, N
# failed"; exit 0 when all pass, 2 when Wine or mingw-w64 is missing (the
# caller reports a skip).
# usage: setupcomplete-wine.sh REPO_DIR WORK_DIR
set -u
TOP=$1
WORK=$2
. "$TOP/tests/lib.sh"
WINE=${WINE:-/usr/lib/wine/wine64}
[ -x "$WINE" ] || WINE=$(command -v wine64 || command -v wine || true)
WINESERVER=${WINESERVER:-$(dirname "${WINE:-/x}")/wineserver}
[ -x "$WINESERVER" ] || WINESERVER=$(command -v wineserver || true)
if [ -z "$WINE" ] || [ -z "$WINESERVER" ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
	echo "# wine64 or gcc-mingw-w64-x86-64 not installed" >&2
	exit 2
fi

export WINEPREFIX="$WORK/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$WINEPREFIX"
x86_64-w64-mingw32-gcc -O2 -o "$WORK/stub.exe" "$TOP/tests/integration/media/stub-khreset.c" ||
	{ notok "stand-in khreset.exe builds"; finish; exit 1; }
"$WINESERVER" -p 2>/dev/null
"$WINE" wineboot -i >/dev/null 2>&1
on_exit '"$WINESERVER" -k 2>/dev/null'

WIN="$WINEPREFIX/drive_c/windows"
SCR="$WIN/Setup/Scripts"
# Wine's folder is "logs"; Windows names compare case-insensitively
logfile() { find "$WIN" -maxdepth 3 -ipath '*/logs/khreset/setupcomplete.log' | head -n 1; }

# the customer's script: where it is, its working folder, a helper beside it
# called by %~dp0 and by a relative name (found in the working folder)
CHAINED='@echo off\r\necho chained %%~nx0>>"%%KH_CHAIN_LOG%%"\r\necho dp0=%%~dp0>>"%%KH_CHAIN_LOG%%"\r\necho cd=%%CD%%>>"%%KH_CHAIN_LOG%%"\r\ncall "%%~dp0helper.cmd" by-dp0\r\ncall helper.cmd relative\r\nexit /b 7\r\n'
HELPER='@echo helper %%1>>"%%KH_CHAIN_LOG%%"\r\n'
# the SetupComplete.cmd of bakes before issue 10: the chained script in khreset\
sed 's/^set "KH_CHAINED=.*/set "KH_CHAINED=%KH_DIR%\\SetupComplete.chained.cmd"\r/' \
	"$TOP/setupcomplete/SetupComplete.cmd" >"$WORK/old-SetupComplete.cmd"

# run_case NAME RC [nochain] [noexe] [old]: SetupComplete.cmd run by Wine's
# cmd in C:\windows\Setup\Scripts (old: the old layout); LOG is its log
# afterwards
run_case() {
	CASE=$1
	rm -rf "$SCR" "$WORK/calls.txt" "$WORK/chain.txt"
	find "$WIN" -maxdepth 2 -ipath '*/logs/khreset' -exec rm -rf {} + 2>/dev/null
	mkdir -p "$SCR/khreset"
	cp "$TOP/setupcomplete/SetupComplete.cmd" "$SCR/SetupComplete.cmd"
	chained=$SCR/SetupComplete.chained.cmd
	case " $* " in *" old "*)
		cp "$WORK/old-SetupComplete.cmd" "$SCR/SetupComplete.cmd"
		chained=$SCR/khreset/SetupComplete.chained.cmd ;;
	esac
	case " $* " in *" noexe "*) ;; *) cp "$WORK/stub.exe" "$SCR/khreset/khreset.exe" ;; esac
	case " $* " in *" nochain "*) ;; *)
		printf "$CHAINED" >"$chained"
		printf "$HELPER" >"$SCR/helper.cmd" ;;
	esac
	KH_STUB_LOG="Z:$(echo "$WORK/calls.txt" | tr / '\\')" \
	KH_CHAIN_LOG="Z:$(echo "$WORK/chain.txt" | tr / '\\')" KH_STUB_RC=$2 \
		expect_exit 0 SetupComplete
	LOG=$(logfile)
	LOG=${LOG:-$WIN/logs/khreset/setupcomplete.log}
}

# Wine takes the working folder from the Unix one: C:\windows\Setup\Scripts
SetupComplete() { (cd "$SCR" && "$WINE" cmd /c 'C:\windows\Setup\Scripts\SetupComplete.cmd'); }
calls() { tr -d '\r' <"$WORK/calls.txt" 2>/dev/null; }
chain_count() { grep -c '^chained' "$WORK/chain.txt" 2>/dev/null; }
chain_has() { tr -d '\r' <"$WORK/chain.txt" | grep -qix -- "$1" ||
	{ echo "  chained script's log lacks '$1': $(tr -d '\r' <"$WORK/chain.txt" | paste -sd'|' -)" >&2; return 1; }; }
chain_lacks() { ! tr -d '\r' <"$WORK/chain.txt" | grep -qix -- "$1" ||
	{ echo "  chained script's log has '$1'" >&2; return 1; }; }

for rc in 0 1 2; do
	run_case "khreset exits $rc" "$rc"
	# the retry task first, whatever the outcome (run removes it again
	# when repaired or healthy)
	want="task install
run --wait 30"
	check "khreset exits $rc: called with '$(echo "$want" | paste -sd';' -)'" same "$(calls)" "$want"
	check "khreset exits $rc: chained script ran exactly once" same "$(chain_count)" 1
	check "khreset exits $rc: log records exit=$rc" file_has "$LOG" "khreset run exit=$rc"
	check "khreset exits $rc: log records the task's registration" file_has "$LOG" "khreset task install exit=0"
	check "khreset exits $rc: log records the chained script's call" file_has "$LOG" 'calling SetupComplete.chained.cmd'
	# the code itself (7) is not checked: Wine 8's cmd sets ERRORLEVEL 1
	# after a call of any script that ends with exit /b N
	check "khreset exits $rc: log records the chained script's exit code" file_has "$LOG" 'SetupComplete.chained.cmd exit=[0-9]'
done
check "chained: its %~dp0 is Windows\\Setup\\Scripts\\" chain_has 'dp0=C:\\windows\\Setup\\Scripts\\'
check "chained: its working folder is the one SetupComplete.cmd was started in" chain_has 'cd=C:\\windows\\Setup\\Scripts'
check "chained: the helper beside it found by %~dp0" chain_has 'helper by-dp0'
check "chained: the helper found by its relative name" chain_has 'helper relative'

# the twin: the old layout, the same script in khreset\ - its %~dp0 is wrong,
# the helper beside the original is not found that way
run_case "old layout" 0 old
check "old layout: the chained script ran once" same "$(chain_count)" 1
check "old layout: its %~dp0 is khreset\\ (the defect)" chain_has 'dp0=C:\\windows\\Setup\\Scripts\\khreset\\'
check "old layout: the helper is not found by %~dp0" chain_lacks 'helper by-dp0'

run_case "no chained script" 0 nochain
check "no chained script: khreset still ran" same "$(calls)" "task install
run --wait 30"
check "no chained script: none called (log)" file_lacks "$LOG" 'calling SetupComplete.chained.cmd'
check "no chained script: the script ran to its end (log)" file_has "$LOG" 'setupcomplete end'

run_case "khreset.exe missing" 0 noexe
check "khreset.exe missing: chained script still ran once" same "$(chain_count)" 1
check "khreset.exe missing: logged" file_has "$LOG" "khreset.exe missing"

finish
