#!/bin/sh
# tests/win/smoke.sh - smoke test of the live platform body under Wine:
# builds tests/win/plat_smoke.exe (the body hook/win32/*.c + util.c, no
# core) and runs it in a private Wine prefix; then, when
# build/win/khreset.exe exists, checks that it starts (version, a Linux-only
# verb).  Prints ok / not ok lines (plat_smoke.exe's own included) and ends
# with "N passed, N failed".
#
# Prefix: a template made once (build/win/wine-template, wineboot), copied
# fresh per run to build/win/wine-smoke; a persistent wineserver (-p) is
# started before any other wine command and killed at the end; crash dialog
# off (tests/win/wine-lib.sh).  Needs: wine64 (Debian wine64 8.0), mingw-w64, win/deps.sh done.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP"
. "$TOP/tests/lib.sh"
. "$TOP/tests/win/wine-lib.sh"
W=${W:-build/win}
CC=x86_64-w64-mingw32-gcc-win32
command -v $CC >/dev/null || CC=x86_64-w64-mingw32-gcc
wine_find smoke
STRIP_CR=1

# --- build the test program ------------------------------------------------------
mkdir -p "$W/tests"
# -Wno-format: mingw checks format(printf) as MS printf (false %zu warnings
# in the shared headers, see win/README-win.md).
FLAGS="-std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -Wno-format -D_GNU_SOURCE
 -D_WIN32_WINNT=0x0A00 -include hook/win32/compat.h -Ihook"
# Not wmain.c, nomedia.c and noimage.c (they need the core) nor task.c (COM and
# libxml2; tests/win/task.sh tests it through khreset.exe).
BODY=
for f in hook/win32/*.c hook/platform.c; do
	case $f in */wmain.c | */nomedia.c | */noimage.c | */task.c) ;; *) BODY="$BODY $f" ;; esac
done
fixture "plat_smoke.exe builds" $CC $FLAGS -o "$W/tests/plat_smoke.exe" tests/win/plat_smoke.c $BODY \
	hook/util.c /usr/x86_64-w64-mingw32/lib/binmode.o -static -ladvapi32 || { finish; exit 1; }
fixture "plat_smoke.exe imports system DLLs only" quiet sh win/check-imports.sh "$W/tests/plat_smoke.exe"
# a service that runs until stopped (the ClipSVC stand-in of e2e.sh): the
# trigger-restart case of plat_smoke
fixture "standin_clipsvc.exe builds" $CC -O2 -Wall -D_WIN32_WINNT=0x0A00 -static -municode \
	-o "$W/tests/standin_clipsvc.exe" tests/win/standin_clipsvc.c -ladvapi32 || { finish; exit 1; }

# --- Wine prefix --------------------------------------------------------------------
wine_env
wine_prefix smoke "$TOP/$W/wine-template" "$TOP/$W/wine-smoke"
wine_start

# fixtures: an upgrade marker, a disabled service, a linked folder
SRC='HKLM\SYSTEM\Setup\Source OS (Updated on 5/12/2020 10:01:58)'
fixture "Source OS CurrentBuild set" quiet "$WINE" reg add "$SRC" /v CurrentBuild /t REG_SZ /d 17134 /f
fixture "Source OS ProductName set" quiet "$WINE" reg add "$SRC" /v ProductName /t REG_SZ /d 'Windows 10 Enterprise G' /f
fixture "disabled service khsmoke created" quiet "$WINE" sc create khsmoke binPath= 'C:\windows\system32\cmd.exe' start= disabled
C=$WINEPREFIX/drive_c
mkdir -p "$C/ProgramData/khsmoke-target"
echo '<a/>' >"$C/ProgramData/khsmoke-target/target.xml"
ln -s "$C/ProgramData/khsmoke-target" "$C/ProgramData/khsmoke-link"
mkdir -p "$C/khsmoke-bin"
cp "$W/tests/standin_clipsvc.exe" "$C/khsmoke-bin/"
fixture "demand-start service khsmoke-run created" quiet "$WINE" sc create khsmoke-run \
	binPath= 'C:\khsmoke-bin\standin_clipsvc.exe' type= own start= demand

# --- run -------------------------------------------------------------------------------
# +eventlog: Wine's event log only reaches the debug channel; the text of
# the events plat_event() wrote is checked there.
rc=0
WINEDEBUG=+eventlog "$WINE" "$W/tests/plat_smoke.exe" khsmoke 'ProgramData\khsmoke-link' khsmoke-run \
	>"$T/plat_smoke.out" 2>"$W/tests/plat_smoke.trace" || rc=$?
tr -d '\r' <"$T/plat_smoke.out" >"$T/plat_smoke.tap"
adopt "$rc" "$T/plat_smoke.tap" "plat_smoke: "
grep -Ev '^[0-9a-f]+:(trace|err|fixme|warn):' "$W/tests/plat_smoke.trace" | sed 's/^/# /'
for t in 'khreset smoke test: healthy' 'khreset smoke test: failed'; do
	check "event text in the +eventlog trace: $t" file_has "$W/tests/plat_smoke.trace" ":eventlog:ReportEventW L\"$t\""
done
check "the link's target was not deleted" test -f "$C/ProgramData/khsmoke-target/target.xml"

if [ -f "$W/khreset.exe" ]; then
	kh_exec() { "$WINE" "$W/khreset.exe" "$@"; }
	CASE=khreset.exe
	expect_exit 0 kh version
	check "khreset.exe version: khreset $KH_VERSION" same "$OUT" "khreset $KH_VERSION"
	if [ -f "$W/deps/.wimlib-missing" ]; then
		expect_exit 64 kh lint x.wim
		check "khreset.exe lint: says it was built without wimlib" err_has 'built without wimlib'
	else
		expect_exit 65 kh lint x.wim
		check "khreset.exe lint: names the missing WIM" err_has 'x.wim: No such file'
	fi
	# host files are never read through a link (kh_read_host): a --config
	# behind a Unix symlink (Wine shows it as a plain file) is refused, the
	# same file itself is read (its bad value named by line)
	printf '[policy]\nkeep_backups = many\n' >"$C/khsmoke.ini"
	ln -s "$C/khsmoke.ini" "$C/khsmoke-link.ini"
	CASE="khreset.exe, --config behind a link"
	expect_exit 65 kh --config 'C:\khsmoke-link.ini' check
	check "khreset.exe --config behind a link: refused as a reparse point" err_has 'reparse point'
	CASE="khreset.exe, --config itself"
	expect_exit 65 kh --config 'C:\khsmoke.ini' check
	check "khreset.exe --config itself: read, its bad value named by line" err_has 'line 2: \[policy\] keep_backups'

	# non-ASCII paths (issue 10 item 7): the config, the bundle and its
	# public key in a Chinese-named folder are read (wide-character opens);
	# a bundle created there is signed, and openssl verifies it
	if fresh cjk; then
		CJ="$C/测试 配置"
		mkdir -p "$CJ/新包"
		cp -r "$d/bundle" "$CJ/许可包"
		cp "$d/bundle/"*.xml "$CJ/新包/"
		cp "$d/keys/demo.pub" "$d/keys/demo.pem" "$CJ/"
		printf '[bundle]\ndir = 许可包\npublic_key = demo.pub\n' >"$CJ/khreset.ini"
		printf '[bundle]\ndir = 没有\n' >"$CJ/missing.ini"
		CASE="khreset.exe, config and bundle in C:\\测试 配置"
		expect_exit 3 kh --json --config 'C:\测试 配置\khreset.ini' check
		check "$CASE: the bundle is read and its signature verified" jq_is .bundle.verified true
		check "$CASE: the bundle path is the Chinese folder, as UTF-8" jq_is '.bundle.path | test("^C:.测试 配置.许可包$")' true
		CASE="khreset.exe, a missing bundle in C:\\测试 配置 (twin)"
		expect_exit 65 kh --json --config 'C:\测试 配置\missing.ini' check
		check "$CASE: stderr names the folder in UTF-8" err_has 'bundle C:.测试 配置.没有: no such folder'
		check "$CASE: not verified" jq_is .bundle.verified false
		check "$CASE: the error names the folder in UTF-8" jq_is '.bundle.error | test("测试 配置.没有")' true
		CASE="khreset.exe bundle create in C:\\测试 配置\\新包"
		expect_exit 0 kh bundle create 'C:\测试 配置\新包' --sign 'C:\测试 配置\demo.pem'
		check "$CASE: manifest.ini and manifest.sig written, no temp file left" \
			same "$(ls -A "$CJ/新包" | grep -v '\.xml$' | tr '\n' ' ')" "manifest.ini manifest.sig "
		check "$CASE: openssl verifies the signature with the public key" quiet openssl pkeyutl -verify \
			-pubin -inkey "$CJ/demo.pub" -rawin -in "$CJ/新包/manifest.ini" -sigfile "$CJ/新包/manifest.sig"
		expect_exit 0 kh bundle verify 'C:\测试 配置\新包' --pubkey 'C:\测试 配置\demo.pub'
	fi
else
	skip "khreset.exe: $W/khreset.exe not built (make windows)"
fi
wine_stop
if [ "$FAIL" = 0 ]; then
	rm -rf "$WINEPREFIX"        # ~700 MB; kept when something failed
else
	echo "# prefix kept: $WINEPREFIX"
fi
finish
