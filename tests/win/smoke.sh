#!/bin/sh
# tests/win/smoke.sh - smoke test of the live platform body under Wine:
# builds tests/win/plat_smoke.exe (the body hook/win32/*.c + util.c, no core)
# and runs it in a private Wine prefix; then, when build/win/khreset.exe
# exists, checks that it starts (version, help, a Linux-only verb).
#
# Prefix: a template made once (build/win/wine-template, wineboot), copied
# fresh per run to build/win/wine-smoke; a persistent wineserver (-p) is
# started before any other wine command and killed at the end; crash dialog
# off (tests/win/wine-lib.sh).  Needs: wine64 (Debian wine64 8.0), mingw-w64, win/deps.sh done.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
. "$TOP/tests/win/wine-lib.sh"
W=${W:-build/win}
CC=x86_64-w64-mingw32-gcc-win32
command -v $CC >/dev/null || CC=x86_64-w64-mingw32-gcc
wine_find smoke

# --- build the test program ------------------------------------------------------
mkdir -p "$W/tests"
# -Wno-format: mingw checks format(printf) as MS printf (false %zu warnings
# in the shared headers, see win/README-win.md).
FLAGS="-std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -Wno-format -D_GNU_SOURCE
 -D_WIN32_WINNT=0x0A00 -include hook/win32/compat.h -Ihook"
# Not wmain.c and nomedia.c (they need the core) nor task.c (COM and
# libxml2; tests/win/task.sh tests it through khreset.exe).
BODY=
for f in hook/win32/*.c; do
	case $f in */wmain.c | */nomedia.c | */task.c) ;; *) BODY="$BODY $f" ;; esac
done
$CC $FLAGS -o "$W/tests/plat_smoke.exe" tests/win/plat_smoke.c $BODY \
	hook/util.c /usr/x86_64-w64-mingw32/lib/binmode.o -static -ladvapi32
sh win/check-imports.sh "$W/tests/plat_smoke.exe" >/dev/null

# --- Wine prefix --------------------------------------------------------------------
wine_env
wine_prefix smoke "$TOP/$W/wine-template" "$TOP/$W/wine-smoke"
wine_start

# fixtures: an upgrade marker, a disabled service, a linked folder
"$WINE" reg add 'HKLM\SYSTEM\Setup\Source OS (Updated on 5/12/2020 10:01:58)' \
	/v CurrentBuild /t REG_SZ /d 17134 /f >/dev/null 2>&1
"$WINE" reg add 'HKLM\SYSTEM\Setup\Source OS (Updated on 5/12/2020 10:01:58)' \
	/v ProductName /t REG_SZ /d 'Windows 10 Enterprise G' /f >/dev/null 2>&1
"$WINE" sc create khsmoke binPath= 'C:\windows\system32\cmd.exe' start= disabled >/dev/null 2>&1
C=$WINEPREFIX/drive_c
mkdir -p "$C/ProgramData/khsmoke-target"
echo '<a/>' >"$C/ProgramData/khsmoke-target/target.xml"
ln -s "$C/ProgramData/khsmoke-target" "$C/ProgramData/khsmoke-link"

# --- run -------------------------------------------------------------------------------
rc=0
# +eventlog: Wine's event log only reaches the debug channel; the text of
# the events plat_event() wrote is checked there.
WINEDEBUG=+eventlog "$WINE" "$W/tests/plat_smoke.exe" khsmoke 'ProgramData\khsmoke-link' \
	2>"$W/tests/plat_smoke.trace" || rc=1
grep -Ev '^[0-9a-f]+:(trace|err|fixme|warn):' "$W/tests/plat_smoke.trace" >&2 || true
for t in 'khreset smoke test: healthy' 'khreset smoke test: failed'; do
	if grep -q ":eventlog:ReportEventW L\"$t\"" "$W/tests/plat_smoke.trace"; then
		echo "ok - event text in the +eventlog trace: $t"
	else
		echo "not ok - event text missing from the +eventlog trace: $t"; rc=1
	fi
done
[ -f "$C/ProgramData/khsmoke-target/target.xml" ] ||
	{ echo "not ok - the link target was deleted"; rc=1; }

if [ -f "$W/khreset.exe" ]; then
	out=$("$WINE" "$W/khreset.exe" version 2>&1) && echo "$out" | grep -q '^khreset ' &&
		echo "ok - khreset.exe version: $out" || { echo "not ok - khreset.exe version: $out"; rc=1; }
	set +e
	"$WINE" "$W/khreset.exe" lint x.wim >/dev/null 2>&1; r=$?
	set -e
	[ $r = 64 ] && echo "ok - khreset.exe lint: exit 64 (Linux only)" ||
		{ echo "not ok - khreset.exe lint exit $r"; rc=1; }
	# host files are never read through a link (kh_read_host): a --config
	# behind a Unix symlink (Wine shows it as a plain file) is refused, the
	# same file itself is read (its bad value named by line)
	printf '[policy]\nkeep_backups = many\n' >"$C/khsmoke.ini"
	ln -s "$C/khsmoke.ini" "$C/khsmoke-link.ini"
	for c in 'khsmoke-link.ini:reparse point' 'khsmoke.ini:line 2: \[policy\] keep_backups'; do
		set +e
		out=$("$WINE" "$W/khreset.exe" --config "C:\\${c%%:*}" check 2>&1); r=$?
		set -e
		[ $r = 65 ] && printf '%s' "$out" | grep -q "${c#*:}" &&
			echo "ok - khreset.exe --config ${c%%:*}: exit 65, ${c#*:}" ||
			{ echo "not ok - khreset.exe --config ${c%%:*}: exit $r: $out"; rc=1; }
	done
fi
wine_stop
if [ $rc = 0 ]; then
	echo "smoke: PASS"
	rm -rf "$WINEPREFIX"        # ~700 MB; kept when something failed
else
	echo "smoke: FAIL (prefix kept: $WINEPREFIX)"
fi
exit $rc
