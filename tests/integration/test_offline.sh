#!/bin/sh
# test_offline.sh - check, run, restore and bundle on generated volumes
# (SPEC sections 2-6, 8): the field case, its healthy twin, the upgrade gate.
. tests/lib.sh

BK=ProgramData/khreset/backup
nbackups() { ls "$V/$BK" 2>/dev/null | wc -l; }
# manifest_has ID NAME SHA256: backup ID's manifest records NAME with that
# digest (one record a line: LEN SHA256 file name=... sha256=...)
manifest_has() {
	grep -q " file name=$2 .* sha256=$3\$" "$V/$BK/$1/manifest"
}

# --- the field case: detected, repaired, restorable ---
fresh field
before=$(voldigest "$V")
mtime=$(stat -c %Y "$A/$OLD_KH")
expect_exit 3 kh check
check "field: verdict printed first" out_first '^verdict: *repair'
check "field: old root keyholder is outdated" out_has "outdated *$ROOT_KH"
check "field: 61afd file is carried-over" out_has "carried-over *$OLD_KH"
check "field: plan shown" out_has "plan: *backup stage registry"
check "field: check changes nothing" same "$(voldigest "$V")" "$before"
expect_exit 3 kh --json check
check "field: --json is one JSON document" is_json
check "field: json verdict" jq_is .verdict repair
check "field: json upgraded_from build" jq_is .system.upgraded_from.build 17134
check "field: json bundle verified" jq_is .bundle.verified true
check "field: json bundle signed" jq_is .bundle.signed true
check "field: json archive classes" jq_is '[.archive[].class]|join(",")' "carried-over,outdated"
check "field: json plan" jq_is '.plan|join(",")' "backup,stage,registry"
check "field: json mode offline" jq_is .mode offline
check "field: json licence unknown offline" jq_is .licence.status unknown
check "field: json tool version is KH_VERSION" jq_is .tool.version "$KH_VERSION"
check "field: status.json is what --json printed" cmp -s "$T/out" "$V/ProgramData/khreset/status.json"

expect_exit 2 kh run
check "field: run says pending" out_has '^outcome: *pending'
check "field: archive emptied" is_empty "$A"
check "field: bundle root keyholder staged byte for byte" cmp -s "$d/bundle/$ROOT_KH" "$I/$ROOT_KH"
check "field: bundle child keyholder staged byte for byte" cmp -s "$d/bundle/$CHILD_KH" "$I/$CHILD_KH"
check "field: registry value set (read by hivexget)" same "$(regval '\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"
check "field: REG_DWORD set" same "$(regval '\CMIT\Active' ActiveMode)" "1"
bid=$(ls "$V/$BK")
check "field: one backup made" same "$(nbackups)" 1
check "field: backup holds the originals" sh -c "cd '$V/$BK/$bid/archive' && sha256sum -c --quiet '$d/originals.sha256'"
while read -r sha name; do
	check "field: backup manifest records the digest of $name" manifest_has "$bid" "$name" "$sha"
done <"$d/originals.sha256"
check "field: run logged" file_has "$V/Windows/Logs/khreset/khreset.log" "moved .*$OLD_KH to backup $bid"
check "field: no journal left" test ! -e "$V/ProgramData/khreset/journal"

expect_exit 3 kh check
check "field: after run, check says activate (ClipSVC acts at boot)" out_first '^verdict: *activate'
expect_exit 2 kh run
check "field: second run backs up nothing new" same "$(nbackups)" 1

# ClipSVC at next boot: the official set archived -> healthy
cp -p "$d/reference/"*.xml "$A/"
CASE="field, archive regenerated"
expect_exit 0 kh check
check "field: archive regenerated -> healthy" out_first '^verdict: *healthy'

CASE=restore
expect_exit 0 kh restore --list
check "restore --list shows the backup" out_has "$bid *complete *repair *2 entries"
expect_exit 0 kh restore --latest
check "restore: originals back byte for byte" originals_back
check "restore: mtimes kept (those of the fixture)" same "$(stat -c %Y "$A/$OLD_KH")" "$mtime"
expect_exit 0 kh restore --list
check "restore: what was there is backed up first" out_has 'complete *restore *2 entries'
check "restore: the old backup is marked restored" out_has "$bid *restored"
expect_exit 65 kh restore "$bid"
check "restore: a restored backup cannot be restored twice" err_has 'only a complete backup'

# --- healthy twin: left alone ---
fresh healthy KH_HEALTHY=1
before=$(voldigest "$V")
expect_exit 0 kh check
check "healthy: verdict healthy" out_first '^verdict: *healthy'
check "healthy: entries current" out_has "current *$ROOT_KH"
expect_exit 0 kh run
check "healthy: run makes no backup" test ! -d "$V/$BK"
check "healthy: volume unchanged" same "$(voldigest "$V")" "$before"

# post-upgrade file beside the current set is evidence, not staleness
cp "$A/$ROOT_KH" "$A/451b310a-0000-4000-8000-000000000001.xml"
touch -d '2030-01-01' "$A/451b310a-0000-4000-8000-000000000001.xml"
CASE="healthy + post-upgrade file"
expect_exit 0 kh check
check "healthy: post-upgrade activation file classed post-upgrade" out_has 'post-upgrade *451b310a'

# --- the upgrade gate ---
fresh noupgrade KH_NO_UPGRADE=1
before=$(voldigest "$V")
expect_exit 3 kh check
check "no upgrade: verdict blocked" out_first '^verdict: *blocked'
check "no upgrade: entries foreign" out_has "foreign *$OLD_KH"
expect_exit 3 kh run
check "no upgrade: run says why it is blocked" err_has 'no upgrade was detected'
check "no upgrade: nothing changed" same "$(voldigest "$V")" "$before"
expect_exit 2 kh run --force
check "no upgrade: --force repairs (archive emptied)" is_empty "$A"

fresh winold KH_NO_UPGRADE=1
mkdir "$V/Windows.old"
expect_exit 3 kh check
check "Windows.old alone opens the gate" out_first '^verdict: *repair'

fresh policy KH_NO_UPGRADE=1
sed -i 's/^require_upgrade .*/require_upgrade = false/' "$V/Windows/Setup/Scripts/khreset/khreset.ini"
expect_exit 3 kh check
check "require_upgrade=false opens the gate" out_first '^verdict: *repair'

# --- bundle create / verify with independent tools ---
fresh bundle
V=
B=$T/b2
mkdir -p "$B"
cp "$d/bundle/"*.xml "$B/"
# what ClipSVC archived differs from what was installed (as on a real system)
R=$T/ref2
mkdir -p "$R"
for f in "$ROOT_KH" "$CHILD_KH"; do sed 's/<\/License>/<Archived\/>&/' "$d/reference/$f" >"$R/$f"; done
expect_exit 0 kh bundle create "$B" --sign "$d/keys/demo.pem" --reference "$R"
check "bundle create: signature checks with openssl" sh -c "openssl pkeyutl -verify -pubin -inkey '$d/keys/demo.pub' -rawin -in '$B/manifest.ini' -sigfile '$B/manifest.sig' >/dev/null"
for f in "$ROOT_KH" "$CHILD_KH"; do
	check "bundle create: [install] digest of $f matches sha256sum" \
		sh -c "sed -n '/^\[install\]/,/^\[/p' '$B/manifest.ini' | grep -qx '$f = $(sum "$B/$f")'"
	check "bundle create: [archive] digest of $f from --reference" \
		sh -c "sed -n '/^\[archive\]/,\$p' '$B/manifest.ini' | grep -qx '$f = $(sum "$R/$f")'"
done
expect_exit 0 kh bundle verify "$B" --pubkey "$d/keys/demo.pub"
sed -i 's/^name = .*/name = forged/' "$B/manifest.ini"
expect_exit 65 kh bundle verify "$B" --pubkey "$d/keys/demo.pub"
check "bundle verify: a forged manifest fails its signature" err_has '[Ss]ignature'
expect_exit 0 kh --json bundle verify "$d/bundle"
check "bundle verify --json: the files listed" jq_is '[.files[].name]|sort|join(",")' "$CHILD_KH,$ROOT_KH"

finish
