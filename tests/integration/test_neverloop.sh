#!/bin/sh
# test_neverloop.sh - the repair is done once per upgrade (issue 10 item 2,
# SPEC sections 3 and 4): the run that confirms it records it
# (HKLM\SOFTWARE\khreset RepairUpgrade, RepairTime, RepairBackup; status.json
# "repair"); later runs, the retry task's included, only stage, trigger and
# wait, and move nothing ClipSVC or activation wrote since; a second upgrade
# re-arms the repair.  Offline (build/khreset) and live on the Linux fake
# (build/tests/khreset-fake, the stand-ins of tests/tools/fakesvc.c).  The
# record is read with hivexget, status.json with python3 and jq.
. tests/lib.sh
OFFLINE_KH=$KH
FAKE_KH=$B/tests/khreset-fake
SVC=$B/tools/fakesvc
export KHRESET_FAKE_SVC=$SVC
export KHRESET_FAKE_TRACE=$T/trace
SW=Windows/System32/config/SOFTWARE
SY=Windows/System32/config/SYSTEM
BK=ProgramData/khreset/backup
STATUS=ProgramData/khreset/status.json
UP1='Source OS (Updated on 3/14/2020 10:20:30)'
UP2='Source OS (Updated on 11/1/2026 10:00:00)'
ACT_KH=451b310a-7d1e-4c52-9a0b-3f6c1e2d8a47.xml

rec() { hivexget "$V/$SW" '\khreset' "$1" 2>/dev/null; }
nbackups() { ls "$V/$BK" 2>/dev/null | wc -l; }
# the backups that hold archive entries (restore --list; an offline run
# that sets the registry values backs up the hive alone)
narchived() { "$KH" --root "$V" --json restore --list | jq '[.backups[] | select(.entries > 0)] | length'; }
# the archive's names and contents
archive() { (cd "$A" && sha256sum -- * | sort); }
# status.json's repair field (python3): "null", or its FIELD
srec() {
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1])).get("repair")
print("null" if r is None else r[sys.argv[2]])' "$V/$STATUS" "$1"
}
# what ClipSVC and activation write after the repair: the official child
# keyholder, the root keyholder's name with other bytes, an activation file
regenerate() {
	cp "$d/reference/$CHILD_KH" "$A/" &&
	sed 's/<\/KeyHolder>/<Regenerated\/>&/' "$d/reference/$ROOT_KH" >"$A/$ROOT_KH" &&
	printf '<?xml version="1.0"?><License><Activation>VDI</Activation></License>\n' >"$A/$ACT_KH"
}
# hivexregedit --merge of regedit TEXT into the hive of V named HIVE
merge() {
	printf 'Windows Registry Editor Version 5.00\n\n%s\n' "$2" >"$T/merge.reg"
	hivexregedit --merge --prefix "HKEY_LOCAL_MACHINE\\$1" "$V/Windows/System32/config/$1" "$T/merge.reg"
}
unrecord_hive() {
	merge SOFTWARE '[HKEY_LOCAL_MACHINE\SOFTWARE\khreset]
"RepairUpgrade"=-
"RepairTime"=-
"RepairBackup"=-
'
}
RFILE=ProgramData/khreset/repair.json
# the record out of status.json and out of its own file (where a check
# reads it back when the registry has none)
unrecord_status() { jq '.repair = null' "$V/$STATUS" >"$T/s.json" && cp "$T/s.json" "$V/$STATUS" && rm -f "$V/$RFILE"; }
second_upgrade() {
	merge SYSTEM "[HKEY_LOCAL_MACHINE\\SYSTEM\\Setup\\$UP2]
\"CurrentBuild\"=\"17134\"
\"ProductName\"=\"Windows 10 Enterprise G\"
"
}
# a copy of the volume of case $1 as case $2 (the same archive, byte for byte)
twin() {
	rm -rf "$T/$2"
	mkdir -p "$T/$2" && cp -a "$T/$1/." "$T/$2/" &&
	d=$T/$2 V=$T/$2/vol A=$T/$2/vol/$ARCH_REL I=$T/$2/vol/$INST_REL CASE=$2
}

# ============================ offline ============================
fresh offline
CASE="offline, first run"
expect_exit 2 kh run
check "offline: the first run repairs (one backup)" same "$(nbackups)" 1
bid=$(ls "$V/$BK")
check "offline: RepairUpgrade names the upgrade (hivexget)" same "$(rec RepairUpgrade)" "$UP1"
check "offline: RepairBackup is the backup made" same "$(rec RepairBackup)" "$bid"
check "offline: RepairTime is RFC 3339 UTC" sh -c "hivexget '$V/$SW' '\\khreset' RepairTime | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\$'"
check "offline: status.json repair.upgrade (python3)" same "$(srec upgrade)" "$UP1"
check "offline: status.json repair.backup_id" same "$(srec backup_id)" "$bid"
check "offline: status.json repair.time is RepairTime" same "$(srec time)" "$(rec RepairTime)"
CASE="offline, check after"
expect_exit 3 kh check
check "offline: check shows the record in one line" out_has "^repair: *done for this upgrade at $(rec RepairTime) (backup $bid)"
expect_exit 3 kh --json check
check "offline: check --json repair.current" jq_is .repair.current true
check "offline: check --json repair.source" jq_is .repair.source registry

regenerate
before=$(archive)
CASE="offline, regenerated"
expect_exit 3 kh check
check "offline: a root keyholder with other bytes is stale (outdated)" out_has "outdated *$ROOT_KH"
check "offline: verdict activate, not repair" out_first '^verdict: *activate - the archive was repaired for this upgrade already'
expect_exit 2 kh --json run
check "offline: the second run's plan moves nothing" jq_is '.plan | join(",")' "stage,registry"
check "offline: the second run: archive byte for byte as regenerated" same "$(archive)" "$before"
check "offline: the second run: no new backup" same "$(nbackups)" 1
check "offline: the record stays (registry)" same "$(rec RepairBackup)" "$bid"
check "offline: the record stays (status.json)" same "$(srec backup_id)" "$bid"

# the negative twin: the same archive without a record is repaired
twin offline offline-norecord
fixture "record removed from the hive" unrecord_hive
fixture "record removed from status.json" unrecord_status
CASE="offline, no record"
expect_exit 3 kh check
check "no record: verdict repair" out_first '^verdict: *repair'
check "no record: check shows no record" out_lacks '^repair:'
expect_exit 2 kh run
check "no record: the same archive is repaired (a second backup)" same "$(nbackups)" 2
check "no record: the regenerated files moved aside" is_empty "$A"

# a second upgrade (a newer Source OS entry) re-arms the repair
twin offline offline-second
fixture "a newer Source OS key in the SYSTEM hive" second_upgrade
CASE="offline, second upgrade"
expect_exit 3 kh --json check
check "second upgrade: upgraded_from is the newer key" jq_is .system.upgraded_from.evidence.key "$UP2"
check "second upgrade: verdict repair" jq_is .verdict repair
check "second upgrade: the record is for another upgrade" jq_is .repair.current false
expect_exit 3 kh check
check "second upgrade: check says so" out_has "^repair: *done at .* for another upgrade ($UP1, backup $bid)"
expect_exit 2 kh run
check "second upgrade: repaired again (a second backup)" same "$(nbackups)" 2
check "second upgrade: the record names the second upgrade" same "$(rec RepairUpgrade)" "$UP2"
regenerate
before=$(archive)
CASE="offline, second upgrade, regenerated"
expect_exit 2 kh run
check "second upgrade: and then not again" same "$(nbackups)" 2
check "second upgrade: archive kept" same "$(archive)" "$before"
# restoring a backup the record does not name leaves it
bid2=$(rec RepairBackup)
CASE="offline, restore of another backup"
expect_exit 0 kh restore "$bid"
check "restore of another backup: the record stays (registry)" same "$(rec RepairBackup)" "$bid2"
check "restore of another backup: the record stays (status.json)" same "$(srec backup_id)" "$bid2"

# restore of the backup the record names undoes the repair: record gone,
# the next run repairs again
twin offline offline-restore
CASE="offline, restore of the recorded backup"
expect_exit 0 kh restore "$bid"
check "restore: the registry record is removed" sh -c "! hivexget '$V/$SW' '\\khreset' RepairUpgrade 2>/dev/null"
check "restore: repair.json is removed" test ! -e "$V/$RFILE"
check "restore: the originals are back" originals_back
expect_exit 3 kh check
check "restore: verdict repair again" out_first '^verdict: *repair'

# --no-registry: the record only in status.json, and it holds
fresh noreg
CASE="offline --no-registry"
expect_exit 2 kh run --no-registry
check "--no-registry: the hive has no record" sh -c "! hivexget '$V/$SW' '\\khreset' RepairUpgrade 2>/dev/null"
check "--no-registry: status.json has it (jq)" jq_is .repair.upgrade "$UP1" "$V/$STATUS"
regenerate
before=$(archive)
expect_exit 3 kh --json check
check "--no-registry: repair.json has it (jq)" jq_is .repair.backup_id "$(srec backup_id)" "$V/$RFILE"
check "--no-registry: check reads it from repair.json" jq_is .repair.source repair.json
check "--no-registry: a later check carries it on" jq_is .repair.upgrade "$UP1" "$V/$STATUS"
expect_exit 2 kh run
check "--no-registry: the next run moves nothing" same "$(archive)" "$before"
check "--no-registry: no archive entry backed up again (the hive is, as the values are set now)" same "$(narchived)" 1

# a damaged record is said and taken as absent; status.json's holds
twin noreg damaged
fixture "RepairUpgrade, RepairBackup and a damaged RepairTime in the hive" merge SOFTWARE "[HKEY_LOCAL_MACHINE\\SOFTWARE\\khreset]
\"RepairUpgrade\"=\"$UP1\"
\"RepairTime\"=\"yesterday\"
\"RepairBackup\"=\"$(srec backup_id)\"
"
CASE="damaged registry record"
expect_exit 3 kh --json check
check "damaged: named on stderr" err_has "khreset: the repair record is damaged (RepairTime 'yesterday' is not an RFC 3339 UTC time)"
check "damaged: repair.json's record is used" jq_is .repair.source repair.json
check "damaged: verdict activate" jq_is .verdict activate
fixture "status.json without the record" unrecord_status
expect_exit 3 kh --json check
check "damaged and no other record: verdict repair" jq_is .verdict repair
check "damaged and no other record: repair null" jq_is .repair null
printf '{"repair": {"upgrade": ' >"$V/$RFILE"
expect_exit 3 kh check
check "damaged repair.json: named on stderr" err_has "repair.json: the repair record is damaged (not JSON"
# the previous status document is never parsed for it
fixture "status.json not JSON, repair.json gone" sh -c "printf '{' >'$V/$STATUS' && rm -f '$V/$RFILE'"
expect_exit 3 kh --json check
check "a damaged old status.json is not read for it: no warning naming it" err_lacks "status.json: the repair record"
check "... and the verdict is repair (no record)" jq_is .verdict repair

# no upgrade detected: --force repairs and records "none"; the record holds
fresh none KH_NO_UPGRADE=1
CASE="no upgrade, --force"
expect_exit 2 kh run --force
check "no upgrade: the record is keyed none" same "$(rec RepairUpgrade)" none
regenerate
before=$(archive)
CASE="no upgrade, regenerated"
expect_exit 2 kh run
check "no upgrade: activate, not blocked, nothing moved" same "$(archive)" "$before"
check "no upgrade: no new backup" same "$(nbackups)" 1
CASE="no upgrade, --force again"
expect_exit 2 kh run --force
check "no upgrade: --force repairs all the same" same "$(nbackups)" 2

# clock skew: a record dated in the future still holds, and is said
fresh skew
CASE="clock ahead at the repair"
KHRESET_TEST_NOW=2000000000 expect_exit 2 kh run
check "skew: the record is dated by the clock of the run" same "$(rec RepairTime)" 2033-05-18T03:33:20Z
regenerate
before=$(archive)
CASE="clock back"
expect_exit 2 kh run
check "skew: said" err_has "is dated 2033-05-18T03:33:20Z, later than this system's clock"
check "skew: the record holds: nothing moved" same "$(archive)" "$before"
check "skew: no new backup" same "$(nbackups)" 1

# ============================ live, the Linux fake ============================
KH=$FAKE_KH
fresh live
printf '[task]\njitter = 0\nmax_attempts = 5\n' >>"$V/Windows/Setup/Scripts/khreset/khreset.ini"
CASE="live, first run"
expect_exit 0 kh --json run --wait 5
check "live: the first run repairs" jq_is .result.outcome repaired
bid=$(printf '%s' "$OUT" | jq -r .result.backup_id)
check "live: RepairUpgrade (hivexget)" same "$(rec RepairUpgrade)" "$UP1"
check "live: RepairBackup" same "$(rec RepairBackup)" "$bid"
check "live: the record beside the Status values" same "$(hivexget "$V/$SW" '\khreset\Status' BackupId)" "$bid"
check "live: status.json repair (python3)" same "$(srec backup_id)" "$bid"
check "live: --json printed the record" jq_is .repair.source run

# activation is lost again, and ClipSVC rewrote the root keyholder
rm -f "$V/ProgramData/fake/licence"
regenerate
before=$(archive)
export FAKE_ACTIVATION_NEVER=1
rm -f "$T/trace"
CASE="live, second run"
expect_exit 2 kh --json run --wait 3
check "live: the second run: verdict activate" jq_is .verdict activate
check "live: the second run: stage, registry, trigger, wait" jq_is '.plan | join(",")' "stage,registry,trigger,wait"
check "live: the second run: archive byte for byte" same "$(archive)" "$before"
check "live: the second run: no new backup" same "$(nbackups)" 1
check "live: the second run: ClipSVC left alone" file_lacks "$T/trace" 'service_stop(ClipSVC)'
check "live: the second run: the activation service triggered" file_has "$T/trace" 'service_start(CmitClientSVC)'
for n in 1 2; do
	CASE="live, run --from-task $n"
	expect_exit 2 kh --json run --from-task --wait 3
	check "live: run --from-task $n: verdict activate" jq_is .verdict activate
	check "live: run --from-task $n: archive byte for byte" same "$(archive)" "$before"
	check "live: run --from-task $n: no new backup" same "$(nbackups)" 1
done
check "live: the record stays" same "$(rec RepairBackup)" "$bid"
CASE="live, check"
expect_exit 3 kh check
check "live: check shows the record" out_has "^repair: *done for this upgrade at .* (backup $bid)"

# the negative twin: the same archive without a record is repaired
twin live live-norecord
fixture "record removed from the hive" unrecord_hive
fixture "record removed from status.json" unrecord_status
CASE="live, no record"
expect_exit 2 kh --json run --from-task --wait 3
check "live, no record: verdict repair" jq_is .verdict repair
check "live, no record: a second backup" same "$(nbackups)" 2
check "live, no record: the regenerated root keyholder moved aside" sh -c "ls '$V/$BK'/*/archive/$ROOT_KH | wc -l | grep -qx 2"

# a second upgrade re-arms it, live too
twin live live-second
fixture "a newer Source OS key in the SYSTEM hive" second_upgrade
CASE="live, second upgrade"
expect_exit 2 kh --json run --from-task --wait 3
check "live, second upgrade: verdict repair" jq_is .verdict repair
check "live, second upgrade: a second backup" same "$(nbackups)" 2
check "live, second upgrade: the record names it" same "$(rec RepairUpgrade)" "$UP2"
unset FAKE_ACTIVATION_NEVER

finish
