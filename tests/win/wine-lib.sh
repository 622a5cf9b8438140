# tests/win/wine-lib.sh - the private Wine prefix shared by the Wine tests
# (tests/win/smoke.sh, task.sh, e2e.sh); sourced after tests/lib.sh, POSIX
# sh, defines functions only.
#
# A template prefix is made once (wineboot) and copied fresh per run; a
# persistent wineserver (-p) is started before any other wine command in
# the copy and killed at the end; crash dialog off; WINEDEBUG=-all unless
# the caller set it.  Use:
#   wine_find TAG                    WINE, WINESERVER (exit 77 without wine64)
#   wine_env [OVERRIDE]              WINEDEBUG, WINEDLLOVERRIDES (+ ;OVERRIDE), WINEARCH
#   wine_prefix TAG TEMPLATE PREFIX  the template once, then WINEPREFIX=PREFIX, a fresh copy
#   wine_start                       wineserver -p, wine_stop at exit (on_exit,
#                                    tests/lib.sh), crash dialog off
#   service_is SERVICE STATE         Wine's SCM reports SERVICE in STATE
#                                    (RUNNING, STOPPED): for wait_for
#   wine_stop                        wineserver -k
#   wine_standins                    builds the stand-in services, the file holder,
#                                    the activation command and the test
#                                    slc.dll into TW=$W/tests (CC), then the field
#                                    case: FX, FXA its folder and archive, V unset
# TAG starts the lines printed ("TAG: ...").

wine_find() {
	WINE=$(command -v wine64 || command -v wine || { [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64; } || true)
	[ -n "$WINE" ] || { echo "$1: wine64 not installed (apt-get install wine64)"; exit 77; }
	WINESERVER=$(command -v wineserver || echo /usr/lib/wine/wineserver)
}

wine_env() {
	export WINEDEBUG=${WINEDEBUG:--all}
	export WINEDLLOVERRIDES="mscoree,mshtml,winemenubuilder.exe=${1:+;$1}"
	export WINEARCH=win64
}

wine_prefix() {
	TEMPLATE=$2
	if [ ! -f "$TEMPLATE/system.reg" ]; then
		echo "$1: making the Wine prefix template (once)"
		rm -rf "$TEMPLATE"
		WINEPREFIX=$TEMPLATE "$WINE" wineboot -i >/dev/null 2>&1
		WINEPREFIX=$TEMPLATE "$WINESERVER" -w
	fi
	export WINEPREFIX=$3
	wine_stop
	rm -rf "$WINEPREFIX"
	cp -a "$TEMPLATE" "$WINEPREFIX"
}

wine_start() {
	"$WINESERVER" -p
	on_exit wine_stop
	"$WINE" reg add 'HKCU\Software\Wine\WineDbg' /v ShowCrashDialog /t REG_DWORD /d 0 /f >/dev/null 2>&1
}

wine_stop() {
	"$WINESERVER" -k 2>/dev/null || true
}

service_is() {
	"$WINE" sc query "$1" 2>/dev/null | tr -d '\r' | grep -q "STATE.*$2"
}

wine_standins() {
	TW=$W/tests
	mkdir -p "$TW"
	CFLAGS="-O2 -Wall -Wextra -Wno-unused-parameter -D_WIN32_WINNT=0x0A00 -static"
	fixture "the stand-ins and the test slc.dll build" sh -c "
		$CC $CFLAGS -municode -o '$TW/standin_clipsvc.exe' tests/win/standin_clipsvc.c -ladvapi32 &&
		$CC $CFLAGS -municode -o '$TW/standin_activation.exe' tests/win/standin_activation.c -ladvapi32 &&
		$CC $CFLAGS -municode -o '$TW/standin_hold.exe' tests/win/standin_hold.c -ladvapi32 &&
		$CC $CFLAGS -municode -o '$TW/standin_command.exe' tests/win/standin_command.c -ladvapi32 &&
		$CC $CFLAGS -shared -s -o '$TW/slc.dll' tests/win/slc_test.c -ladvapi32" || return 1
	[ -x build/tools/mkhive ] || fixture "build/tools/mkhive built" quiet make -s build/tools/mkhive ||
		return 1
	BUILD=build fresh case || return 1
	FX=$d
	FXA=$A
	V=
}
