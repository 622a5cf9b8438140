#!/bin/sh
# mkvolume.sh OUT - builds the field case as a mounted-volume sample, with
# independent tools: registry hives by mkhive + hivexregedit, keys and the
# bundle signature by openssl, digests by sha256sum.
#
#   OUT/vol/          the Windows volume (hives, ClipSVC folders, the payload
#                     under Windows/Setup/Scripts/khreset/ as `bake` puts it)
#   OUT/keys/         demo Ed25519 key pair
#   OUT/bundle/       the official keyholder set (signed), also in the volume
#   OUT/reference/    what ClipSVC archives from it on a healthy system
#   OUT/originals.sha256  digests of the archive as generated
#
# Environment: KH_NO_UPGRADE=1 (no Source OS key), KH_UNSIGNED=1 (no
# public_key in khreset.ini), KH_HEALTHY=1 (archive already healthy),
# BUILD (default build) for build/tools/mkhive.
set -eu
OUT=$1
BUILD=${BUILD:-build}
MKHIVE=${MKHIVE:-$BUILD/tools/mkhive}
ROOT_KH=f912421d-3371-f33c-3cf8-22df25e5851f.xml
CHILD_KH=0c4e6f2a-7b1d-4e8a-9f3c-5d2e1a0b9c8d.xml
OLD_KH=61afd3c2-8e4b-4f0a-b1d2-7c9e5a3f1b60.xml

V=$OUT/vol
CFG=$V/Windows/System32/config
ARCH=$V/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder
INST=$V/ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder
PAY=$V/Windows/Setup/Scripts/khreset
mkdir -p "$CFG" "$ARCH" "$INST" "$PAY" "$OUT/keys" "$OUT/bundle" "$OUT/reference"

keyholder() { # id level text
	printf '<?xml version="1.0" encoding="utf-8"?>\r\n<License xmlns="urn:schemas-microsoft-com:windows:store:licensing:ls" Version="1"><Binding Binding_Type="KeyHolder"/><KeyHolder><KeyId>%s</KeyId><Level>%s</Level><Origin>%s</Origin></KeyHolder></License>\r\n' "$1" "$2" "$3"
}

# --- registry hives ---
reg() { # hive file regtext
	"$MKHIVE" "$2"
	printf 'Windows Registry Editor Version 5.00\n\n%s\n' "$3" > "$2.reg"
	hivexregedit --merge --prefix "HKEY_LOCAL_MACHINE\\$1" "$2" "$2.reg"
	rm -f "$2.reg"
}
SRC_OS='[HKEY_LOCAL_MACHINE\SYSTEM\Setup\Source OS (Updated on 3/14/2020 10:20:30)]
"CurrentBuild"="17134"
"ProductName"="Windows 10 Enterprise G"
"EditionID"="EnterpriseG"
"InstallDate"=dword:5e6c9a40
'
[ "${KH_NO_UPGRADE:-0}" = 1 ] && SRC_OS=
reg SYSTEM "$CFG/SYSTEM" "[HKEY_LOCAL_MACHINE\\SYSTEM\\Setup]
\"SystemSetupInProgress\"=dword:00000000

$SRC_OS"
reg SOFTWARE "$CFG/SOFTWARE" '[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"CurrentBuild"="17763"
"ProductName"="Windows 10 Enterprise G"
"EditionID"="EnterpriseG"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ClipSVC]
"AltActivationClient"="%ProgramFiles%\\CMITActivation\\CmitClient.exe"
'

# --- the official keyholder set, signed with a demo key ---
openssl genpkey -algorithm ed25519 -out "$OUT/keys/demo.pem" 2>/dev/null
openssl pkey -in "$OUT/keys/demo.pem" -pubout -out "$OUT/keys/demo.pub"
keyholder "${ROOT_KH%.xml}" root "CMGE V2020-L" > "$OUT/bundle/$ROOT_KH"
keyholder "${CHILD_KH%.xml}" child "CMGE V2020-L VDI" > "$OUT/bundle/$CHILD_KH"
cp "$OUT/bundle/$ROOT_KH" "$OUT/bundle/$CHILD_KH" "$OUT/reference/"
{
	echo '; official keyholder set (demo): made by tests/mkvolume.sh'
	echo '[bundle]'
	echo 'format = 1'
	echo 'name = CMGE V2020-L multi-level keyholder (demo)'
	echo 'target_build = 17763'
	echo '[install]'
	for f in "$ROOT_KH" "$CHILD_KH"; do
		echo "$f = $(sha256sum < "$OUT/bundle/$f" | cut -d' ' -f1)"
	done
	echo '[archive]'
	for f in "$ROOT_KH" "$CHILD_KH"; do
		echo "$f = $(sha256sum < "$OUT/reference/$f" | cut -d' ' -f1)"
	done
} > "$OUT/bundle/manifest.ini"
openssl pkeyutl -sign -rawin -inkey "$OUT/keys/demo.pem" \
	-in "$OUT/bundle/manifest.ini" -out "$OUT/bundle/manifest.sig"

# --- the payload, as `bake` leaves it in the image ---
cp -r "$OUT/bundle" "$PAY/bundle"
cp "$OUT/keys/demo.pub" "$PAY/demo.pub"
PUB="demo.pub"
[ "${KH_UNSIGNED:-0}" = 1 ] && PUB=
cat > "$PAY/khreset.ini" <<INI
; khreset configuration (demo volume)
[bundle]
dir        = bundle
public_key = $PUB
[policy]
require_upgrade = true
keep_backups    = 10
[registry]
value1 = HKLM\\SOFTWARE\\CMIT\\Active | IntranetActivationServer | REG_SZ | http://vdi.example.local
value2 = HKLM\\SOFTWARE\\CMIT\\Active | IntranetSkuId | REG_SZ | VDI
value3 = HKLM\\SOFTWARE\\CMIT\\Active | ActiveMode | REG_DWORD | 1
INI

# --- the archive the old OS left behind (or a healthy one) ---
if [ "${KH_HEALTHY:-0}" = 1 ]; then
	cp -p "$OUT/reference/"*.xml "$ARCH/"
else
	keyholder "${ROOT_KH%.xml}" root "CMGE V0-H" > "$ARCH/$ROOT_KH"
	keyholder "${OLD_KH%.xml}" activation "CMGE V0-H" > "$ARCH/$OLD_KH"
	touch -d '2020-03-01 09:00:00Z' "$ARCH/$ROOT_KH" "$ARCH/$OLD_KH"
fi
(cd "$ARCH" && sha256sum -- *) > "$OUT/originals.sha256"
