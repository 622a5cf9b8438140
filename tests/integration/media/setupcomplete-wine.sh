#!/bin/sh
# setupcomplete-wine.sh - runs setupcomplete/SetupComplete.cmd under Wine's
# cmd with a stand-in khreset.exe (stub-khreset.c, built with mingw-w64) that
# records its arguments and exits 0/1/2, and a chained script that must run
# exactly once.  Prints "ok - ..." / "not ok - ..." lines and "N passed, N
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

# run_case NAME RC [nochain] [noexe]: SetupComplete.cmd run by Wine's cmd;
# LOG is its log afterwards
run_case() {
	CASE=$1
	rm -rf "$SCR" "$WORK/calls.txt" "$WORK/chain.txt"
	find "$WIN" -maxdepth 2 -ipath '*/logs/khreset' -exec rm -rf {} + 2>/dev/null
	mkdir -p "$SCR/khreset"
	cp "$TOP/setupcomplete/SetupComplete.cmd" "$SCR/SetupComplete.cmd"
	case " $* " in *" noexe "*) ;; *) cp "$WORK/stub.exe" "$SCR/khreset/khreset.exe" ;; esac
	case " $* " in *" nochain "*) ;; *)
		printf '@echo off\r\necho chained %%~nx0>>"%%KH_CHAIN_LOG%%"\r\nexit /b 7\r\n' \
			>"$SCR/khreset/SetupComplete.chained.cmd" ;;
	esac
	KH_STUB_LOG="Z:$(echo "$WORK/calls.txt" | tr / '\\')" \
	KH_CHAIN_LOG="Z:$(echo "$WORK/chain.txt" | tr / '\\')" KH_STUB_RC=$2 \
		expect_exit 0 SetupComplete
	LOG=$(logfile)
	LOG=${LOG:-$WIN/logs/khreset/setupcomplete.log}
}

SetupComplete() { "$WINE" cmd /c 'C:\windows\Setup\Scripts\SetupComplete.cmd'; }
calls() { tr -d '\r' <"$WORK/calls.txt" 2>/dev/null; }
chain_count() { grep -c chained "$WORK/chain.txt" 2>/dev/null; }

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
done

run_case "no chained script" 0 nochain
check "no chained script: khreset still ran" same "$(calls)" "task install
run --wait 30"
check "no chained script: none called (log)" file_lacks "$LOG" 'calling SetupComplete.chained.cmd'
check "no chained script: the script ran to its end (log)" file_has "$LOG" 'setupcomplete end'

run_case "khreset.exe missing" 0 noexe
check "khreset.exe missing: chained script still ran once" same "$(chain_count)" 1
check "khreset.exe missing: logged" file_has "$LOG" "khreset.exe missing"

finish
