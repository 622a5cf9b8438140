# tests/win/firstboot-lib.sh - the first-boot VM under Wine shared by
# tests/win/firstboot.sh and bench/firstboot-wine.sh; sourced after
# tests/lib.sh and tests/win/wine-lib.sh with W, CC, WINE set (wine_find),
# POSIX sh.  It builds the stand-ins (wine_standins), makes the prefix
# $W/wine-PREFIX_TAG (PREFIX_TAG: firstboot unless set) with the test
# slc.dll, the upgraded system, both stand-in services and the payload, and
# defines:
#   ini [BUNDLE [COMMAND]]  khreset.ini (timeouts 30 s: longer than a --wait)
#   field_case              a fresh VM after the upgrade: the old archive,
#                           nothing staged, no state, record, task or control
#                           values, services stopped, the default ini
#   kh_exec ARGS            the payload's khreset.exe (from C:\Windows\System32)
#   tset NAME N, tget NAME, tget_is NAME N   the stand-ins' control values
#   sj FILTER, sj_is FILTER WANT, step_detail STEP   status.json
#   running SVC, stopped SVC, act_service (creates CmitClientSVC)
#   hold FILE SECONDS [read]  standin_hold.exe holds an archive file (background;
#                           read: others may read it, not rename it)
# and A, I, P, STATE, LOG, FX (the field case), TKEY.

# --- build the stand-ins and the test slc.dll ------------------------------------
wine_standins || { finish; exit 1; }

# --- Wine prefix --------------------------------------------------------------------
export WINEDEBUG=-all
wine_env slc=n
unset KHRESET_TEST_NOT_ELEVATED KHRESET_TEST_STOP_AT KHRESET_TEST_FAIL 2>/dev/null || true
wine_prefix "${PREFIX_TAG:-firstboot}" "$W/wine-template" "$W/wine-${PREFIX_TAG:-firstboot}"
C=$WINEPREFIX/drive_c
rm -f "$C/windows/system32/slc.dll"
cp "$TW/slc.dll" "$C/windows/system32/slc.dll"
wine_start

w() { fixture "wine $*" quiet "$WINE" "$@"; }
w_try() { quiet "$WINE" "$@" || :; }
reg_get() {
	"$WINE" reg query "$1" /v "$2" 2>/dev/null | tr -d '\r' |
		sed -n "s/^ *$2 *\(REG_[A-Z_]*\) *//p" | head -n 1 |
		{ read -r v || true; case $v in 0x*) printf '%d\n' "$v" ;; *) printf '%s\n' "$v" ;; esac; }
}
TKEY='HKLM\SOFTWARE\khreset-test'
tset() { w reg add "$TKEY" /v "$1" /t REG_DWORD /d "$2" /f; }
tget() { reg_get "$TKEY" "$1"; }
tget_is() { [ "$(tget "$1")" = "$2" ]; }

# --- the system: Windows 10 CMGE V2020-L (17763), upgraded in place from 17134 ---
CV='HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
SRC='HKLM\SYSTEM\Setup\Source OS (Updated on 3/14/2020 10:20:30)'
w reg add "$CV" /v CurrentBuild /t REG_SZ /d 17763 /f
w reg add "$CV" /v ProductName /t REG_SZ /d 'Windows 10 Enterprise G' /f
w reg add "$CV" /v EditionID /t REG_SZ /d EnterpriseG /f
w reg add "$SRC" /v CurrentBuild /t REG_SZ /d 17134 /f
w reg add "$SRC" /v ProductName /t REG_SZ /d 'Windows 10 Enterprise G' /f
w reg add "$SRC" /v EditionID /t REG_SZ /d EnterpriseG /f
mkdir -p "$C/khtest"
cp "$TW/standin_clipsvc.exe" "$TW/standin_activation.exe" "$TW/standin_hold.exe" \
	"$TW/standin_command.exe" "$C/khtest/"
w sc create ClipSVC binPath= 'C:\khtest\standin_clipsvc.exe' type= own start= demand
act_service() { w sc create CmitClientSVC binPath= 'C:\khtest\standin_activation.exe' type= own start= demand; }
act_service

# the payload, as `bake` leaves it; a second bundle without [archive] digests
P=$C/windows/Setup/Scripts/khreset
PW='C:\windows\Setup\Scripts\khreset'
mkdir -p "$P"
cp "$KHEXE" "$P/khreset.exe"
cp -r "$FX/bundle" "$P/bundle"
cp -r "$FX/bundle" "$P/bundle-nodigest"
sed -i '/^\[archive\]/,$d' "$P/bundle-nodigest/manifest.ini"
fixture "the bundle without [archive] digests signed" quiet openssl pkeyutl -sign -rawin \
	-inkey "$FX/keys/demo.pem" -in "$P/bundle-nodigest/manifest.ini" \
	-out "$P/bundle-nodigest/manifest.sig"
cp "$FX/keys/demo.pub" "$P/demo.pub"
# ini [BUNDLE [COMMAND]]: khreset.ini; the configured timeouts are longer
# than the --wait budget, so only the budget can end a run within it
ini() {
	cat >"$P/khreset.ini" <<INI
; khreset configuration for the Wine first-boot suite (tests/win/firstboot.sh)
[bundle]
dir        = ${1:-bundle}
public_key = demo.pub
[policy]
require_upgrade = true
keep_backups    = 10
[clipsvc]
service = ClipSVC
timeout = 30
[activation]
service  = CmitClientSVC
command  = ${2:-}
timeout  = 30
interval = 1
[registry]
value1 = HKLM\\SOFTWARE\\CMIT\\Active | IntranetActivationServer | REG_SZ | http://vdi.example.local
[task]
jitter       = 0
max_attempts = 5
INI
}

A=$C/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder
I=$C/ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder
STATE=$C/ProgramData/khreset
ci() {
	cd_=$C
	for part in $(echo "$1" | tr '/' ' '); do
		hit=$(ls -1 "$cd_" 2>/dev/null | grep -ix -- "$part" | head -n 1)
		cd_=$cd_/${hit:-$part}
	done
	echo "$cd_"
}
LOG=$(ci windows/Logs)/khreset/khreset.log
RUNDIR=$C/windows/system32
kh_exec() { (cd "$RUNDIR" && exec "$WINE" "$PW\\khreset.exe" "$@"); }
sj() { jq -r "$1" "$STATE/status.json" 2>/dev/null; }
sj_is() { jq_is "$1" "$2" "$STATE/status.json"; }
step_detail() { sj ".result.steps[] | select(.step == \"$1\") | .detail"; }

stopped() {
	w_try sc stop "$1"
	fixture "$1 stopped" wait_for 40 service_is "$1" STOPPED
}
running() {
	w sc start "$1"
	fixture "$1 running" wait_for 20 service_is "$1" RUNNING
}
# field_case: a fresh VM after the upgrade: the archive the old OS left (two
# V0-H files), nothing staged, no khreset state, record or task, not
# licensed, no control values, both services stopped, the default ini
field_case() {
	ini
	w_try reg delete "$TKEY" /f
	tset Licensed 0
	quiet "$WINE" sc query CmitClientSVC || act_service     # deleted by a case
	stopped CmitClientSVC
	stopped ClipSVC
	quiet kh_exec task remove || :
	w_try reg delete 'HKLM\SOFTWARE\khreset' /f
	w_try reg delete 'HKLM\SOFTWARE\CMIT' /f
	rm -rf "$C/ProgramData/Microsoft/Windows/ClipSVC" "$STATE"
	mkdir -p "$A" "$I"
	cp -p "$FXA/"*.xml "$A/"
	rm -f "$LOG"
}
hold() { # FILE SECONDS [read]: standin_hold.exe in the background, holding when it returns
	tset HoldActive 0
	"$WINE" 'C:\khtest\standin_hold.exe' "C:\\ProgramData\\Microsoft\\Windows\\ClipSVC\\Archive\\KeyHolder\\$1" "$2" ${3:-} \
		>/dev/null 2>&1 &
	fixture "standin_hold holds $1" wait_for 20 tget_is HoldActive 1
}
