#!/bin/sh
# test_offline.sh - check, run, restore and bundle on generated volumes
# (SPEC sections 2-6, 8): the field case, its healthy twin, the upgrade gate.
. tests/integration/lib.sh

# --- the field case: detected, repaired, restorable ---
fresh field
before=$(voldigest "$V")
kh check
check "field: check says repair (exit 3)" rc_is 3
check "field: verdict printed first" sh -c "printf '%s' \"\$1\" | head -n1 | grep -q '^verdict: *repair'" _ "$OUT"
check "field: old root keyholder is outdated" out_has "outdated *$ROOT_KH"
check "field: 61afd file is carried-over" out_has "carried-over *$OLD_KH"
check "field: plan shown" out_has "plan: *backup stage registry"
check "field: check changes nothing" same "$(voldigest "$V")" "$before"
kh --json check
check "field: --json is one JSON document" sh -c "printf '%s' \"\$1\" | jq -e . >/dev/null" _ "$OUT"
check "field: json verdict" jq_is .verdict repair
check "field: json upgraded_from build" jq_is .system.upgraded_from.build 17134
check "field: json bundle signed+verified" jq_is '"\(.bundle.verified) \(.bundle.signed)"' "true true"
check "field: json archive classes" jq_is '[.archive[].class]|join(",")' "carried-over,outdated"
check "field: json plan" jq_is '.plan|join(",")' "backup,stage,registry"
check "field: json mode offline, licence unknown" jq_is '"\(.mode) \(.licence.status)"' "offline unknown"
check "field: status.json written" cmp -s "$T/out" "$V/ProgramData/khreset/status.json"

kh run
check "field: run is pending offline (exit 2)" rc_is 2
check "field: archive emptied" sh -c "[ -z \"\$(ls -A '$A')\" ]"
check "field: bundle staged byte for byte" sh -c "cmp -s '$d/bundle/$ROOT_KH' '$I/$ROOT_KH' && cmp -s '$d/bundle/0c4e6f2a-7b1d-4e8a-9f3c-5d2e1a0b9c8d.xml' '$I/0c4e6f2a-7b1d-4e8a-9f3c-5d2e1a0b9c8d.xml'"
check "field: registry value set (read by hivexget)" same "$(regval '\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"
check "field: REG_DWORD set" same "$(regval '\CMIT\Active' ActiveMode)" "1"
bid=$(ls "$V/ProgramData/khreset/backup")
check "field: backup holds the originals" sh -c "cd '$V/ProgramData/khreset/backup/$bid/archive' && sha256sum -c --quiet '$d/originals.sha256'"
check "field: backup manifest records digests" sh -c "grep -q \"sha256 = \$(sha256sum < '$d/originals.sha256' >/dev/null; cut -c1-64 '$d/originals.sha256' | head -n1)\" '$V/ProgramData/khreset/backup/$bid/manifest.ini'"
check "field: run logged" grep -q "moved .*$OLD_KH to backup $bid" "$V/Windows/Logs/khreset/khreset.log"
check "field: no journal left" test ! -e "$V/ProgramData/khreset/journal"

kh check
check "field: after run, check says activate (ClipSVC acts at boot)" sh -c "[ $RC = 3 ] && printf '%s' \"\$1\" | grep -q '^verdict: *activate'" _ "$OUT"
kh run
check "field: second run is idempotent (pending, nothing new backed up)" sh -c "[ $RC = 2 ] && [ \$(ls '$V/ProgramData/khreset/backup' | wc -l) = 1 ]"

# ClipSVC at next boot: the official set archived -> healthy
cp -p "$d/reference/"*.xml "$A/"
kh check
check "field: archive regenerated -> healthy (exit 0)" rc_is 0

kh restore --list
check "restore --list shows the backup" out_has "$bid *complete *repair *2 entries"
mtime_before=$(stat -c %Y "$V/ProgramData/khreset/backup/$bid/archive/$OLD_KH")
kh restore --latest
check "restore --latest: exit 0" rc_is 0
check "restore: originals back byte for byte" originals_back
check "restore: mtimes kept" same "$(stat -c %Y "$A/$OLD_KH")" "$mtime_before"
kh restore --list
check "restore: what was there is backed up first, old backup marked restored" sh -c "printf '%s' \"\$1\" | grep -q 'complete *restore *2 entries' && printf '%s' \"\$1\" | grep -q '$bid *restored'" _ "$OUT"
kh restore "$bid"
check "restore: a restored backup cannot be restored twice" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -q 'only a complete backup'" _ "$ERR"

# --- healthy twin: left alone ---
fresh healthy KH_HEALTHY=1
before=$(voldigest "$V")
kh check
check "healthy: check exit 0" rc_is 0
check "healthy: entries current" out_has "current *$ROOT_KH"
kh run
check "healthy: run exit 0, nothing moved" sh -c "[ $RC = 0 ] && [ ! -d '$V/ProgramData/khreset/backup' ]"
check "healthy: volume unchanged" same "$(voldigest "$V")" "$before"

# post-upgrade file beside the current set is evidence, not staleness
touch -d '2030-01-01' "$A/451b310a-0000-4000-8000-000000000001.xml" 2>/dev/null
cp "$A/$ROOT_KH" "$A/451b310a-0000-4000-8000-000000000001.xml"
touch -d '2030-01-01' "$A/451b310a-0000-4000-8000-000000000001.xml"
kh check
check "healthy: post-upgrade activation file keeps it healthy" sh -c "[ $RC = 0 ] && printf '%s' \"\$1\" | grep -q 'post-upgrade *451b310a'" _ "$OUT"

# --- the upgrade gate ---
fresh noupgrade KH_NO_UPGRADE=1
before=$(voldigest "$V")
kh check
check "no upgrade: verdict blocked (exit 3)" sh -c "[ $RC = 3 ] && printf '%s' \"\$1\" | grep -q '^verdict: *blocked'" _ "$OUT"
check "no upgrade: entries foreign" out_has "foreign *$OLD_KH"
kh run
check "no upgrade: run blocked, exit 3, says why" sh -c "[ $RC = 3 ] && printf '%s' \"\$1\" | grep -q 'no upgrade was detected'" _ "$ERR"
check "no upgrade: nothing changed" same "$(voldigest "$V")" "$before"
kh run --force
check "no upgrade: --force repairs (exit 2)" sh -c "[ $RC = 2 ] && [ -z \"\$(ls -A '$A')\" ]"

fresh winold KH_NO_UPGRADE=1
mkdir "$V/Windows.old"
kh check
check "Windows.old alone opens the gate" sh -c "[ $RC = 3 ] && printf '%s' \"\$1\" | grep -q '^verdict: *repair'" _ "$OUT"

fresh policy KH_NO_UPGRADE=1
printf '[policy]\nrequire_upgrade = false\n' >> "$V/Windows/Setup/Scripts/khreset/khreset.ini"
kh check
check "require_upgrade=false opens the gate" out_has "^verdict: *repair"

# --- bundle create / verify with independent tools ---
fresh bundle
B=$T/b2
mkdir -p "$B"
cp "$d/bundle/"*.xml "$B/"
"$KH" bundle create "$B" --sign "$d/keys/demo.pem" --reference "$d/reference" >"$T/out" 2>&1
check "bundle create: exit 0" test $? = 0
check "bundle create: signature checks with openssl" sh -c "openssl pkeyutl -verify -pubin -inkey '$d/keys/demo.pub' -rawin -in '$B/manifest.ini' -sigfile '$B/manifest.sig' >/dev/null"
check "bundle create: digests match sha256sum" sh -c "grep -q \"$ROOT_KH = \$(sha256sum < '$B/$ROOT_KH' | cut -d' ' -f1)\" '$B/manifest.ini'"
check "bundle create: [archive] filled from --reference" sh -c "sed -n '/^\[archive\]/,\$p' '$B/manifest.ini' | grep -q '$ROOT_KH'"
"$KH" bundle verify "$B" --pubkey "$d/keys/demo.pub" >/dev/null 2>&1
check "bundle verify: good signature exit 0" test $? = 0
sed -i 's/^name = .*/name = forged/' "$B/manifest.ini"
"$KH" bundle verify "$B" --pubkey "$d/keys/demo.pub" >"$T/out" 2>&1
check "bundle verify: forged manifest exit 65" test $? = 65
"$KH" --json bundle verify "$d/bundle" >"$T/out" 2>&1
OUT=$(cat "$T/out")
check "bundle verify --json" jq_is '.files|length' 2

finish
