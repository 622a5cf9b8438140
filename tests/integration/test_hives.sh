#!/bin/sh
# test_hives.sh - the registry hives as real machines leave them (SPEC
# section 3): an upgrade history written twice over, and dirty hives (a
# write that did not complete, transaction logs newer than the hive).
# Base blocks are made and read back with tests/tools/regf.py (python3,
# the documented regf layout), values with hivexget, files with sha256sum.
. tests/lib.sh

REGF="python3 $TOP/tests/tools/regf.py"
CFG=Windows/System32/config
regf_is() { same "$($REGF info "$1")" "$2"; }   # HIVE "PRIMARY SECONDARY SUM_OK TYPE"

# --- upgrade history: a SYSTEM hive like that of a real machine upgraded
# twice (doc/FIELD-CASE.md): two Source OS keys, and the second upgrade
# rewrote both, so their last-write times are equal (or the older key's a
# second later: Setup writes them one by one) ---
K1='Source OS (Updated on 1/6/2019 02:18:37)'
K2='Source OS (Updated on 5/16/2019 00:55:20)'
W=$(date -u -d '2019-05-16 01:12:09' +%s)      # the second upgrade's rewrite
twice() { # NAME EPOCH1 EPOCH2: the field case with that history
	fresh "$1"
	S=$V/$CFG/SYSTEM
	"$B/tools/mkhive" "$S" &&
	printf 'Windows Registry Editor Version 5.00\n\n%s\n' '[HKEY_LOCAL_MACHINE\SYSTEM\Setup]
"SystemSetupInProgress"=dword:00000000

[HKEY_LOCAL_MACHINE\SYSTEM\Setup\Source OS (Updated on 1/6/2019 02:18:37)]
"CurrentBuild"="15063"
"ProductName"="Windows 10 Enterprise"

[HKEY_LOCAL_MACHINE\SYSTEM\Setup\Source OS (Updated on 5/16/2019 00:55:20)]
"CurrentBuild"="17134"
"ProductName"="Windows 10 Enterprise"
' >"$T/twice.reg" &&
	hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$S" "$T/twice.reg" &&
	$REGF keytime "$S" "$K1" "$2" && $REGF keytime "$S" "$K2" "$3" ||
		notok "fixture: $1: a SYSTEM hive upgraded twice"
	# an archive entry from between the upgrades, one written after the second
	touch -d '2019-03-01 09:00:00Z' "$A/$OLD_KH" "$A/$ROOT_KH"
	POST=451b310a-0000-4000-8000-000000000001.xml
	cp "$A/$ROOT_KH" "$A/$POST"
	touch -d '2019-05-16 03:00:00Z' "$A/$POST"
}

twice twice-equal "$W" "$W"
check "twice: the fixture's keys read back (hivexget)" \
	same "$(hivexget "$S" "\\Setup\\$K1" CurrentBuild) $(hivexget "$S" "\\Setup\\$K2" CurrentBuild)" "15063 17134"
check "twice: both last-write times equal (python3 on the nk cells)" \
	same "$($REGF keytimes "$S" 'Source OS' | cut -d' ' -f1 | sort -u)" "$W"
expect_exit 3 kh --json check
check "twice, equal times: upgraded_from is the later upgrade" jq_is .system.upgraded_from.build 17134
check "twice, equal times: its time is the key's last-write time" \
	jq_is .system.upgraded_from.time "$(date -u -d "@$W" +%Y-%m-%dT%H:%M:%SZ)"
check "twice, equal times: time_source last-write" jq_is .system.upgraded_from.time_source last-write
check "twice, equal times: evidence: the date in the name" jq_is .system.upgraded_from.evidence.name_date 2019-05-16T00:55:20Z
check "twice, equal times: evidence: the key" jq_is .system.upgraded_from.evidence.key "$K2"
check "twice, equal times: evidence: the newest key" jq_is .system.upgraded_from.evidence.newest_key true
check "twice: an entry from between the upgrades is carried-over" \
	jq_is "[.archive[] | select(.name == \"$OLD_KH\") | .class][0]" carried-over
check "twice: an entry written after the second upgrade is post-upgrade" \
	jq_is "[.archive[] | select(.name == \"$POST\") | .class][0]" post-upgrade

# Setup rewrote the older key a second after the newer one: ordering by
# last-write time chose the older upgrade, with the newer one's time
twice twice-later "$((W + 1))" "$W"
expect_exit 3 kh --json check
check "twice, older key written later: upgraded_from is still the later upgrade" \
	jq_is .system.upgraded_from.build 17134
check "twice, older key written later: its own last-write time" \
	jq_is .system.upgraded_from.time "$(date -u -d "@$W" +%Y-%m-%dT%H:%M:%SZ)"
kh check
check "twice, older key written later: the human text names build 17134 and the key last-write time" \
	out_has 'upgraded from build 17134 .*key last-write time'

# running the middle build (the newer key's build is not below it): the
# older upgrade, whose last-write time is the later upgrade's: its name
twice twice-middle "$W" "$W"
printf 'Windows Registry Editor Version 5.00\n\n%s\n' '[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"CurrentBuild"="17134"
' >"$T/middle.reg"
hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$V/$CFG/SOFTWARE" "$T/middle.reg"
expect_exit 3 kh --json check
check "middle build: upgraded_from is the older upgrade" jq_is .system.upgraded_from.build 15063
check "middle build: its time is the date in its name" jq_is .system.upgraded_from.time 2019-01-06T02:18:37Z
check "middle build: time_source name" jq_is .system.upgraded_from.time_source name
check "middle build: evidence: its last-write time (the later upgrade's)" \
	jq_is .system.upgraded_from.evidence.last_write "$(date -u -d "@$W" +%Y-%m-%dT%H:%M:%SZ)"
check "middle build: evidence: not the newest key" jq_is .system.upgraded_from.evidence.newest_key false
check "middle build: the entry from after the first upgrade is post-upgrade" \
	jq_is "[.archive[] | select(.name == \"$OLD_KH\") | .class][0]" post-upgrade

# --- dirty hives ---
# twin: a clean hive is reported clean and written, and stays clean
fresh clean
SW=$V/$CFG/SOFTWARE
expect_exit 3 kh --json check
check "clean: SOFTWARE reported clean" jq_is '.system.hives[] | select(.path | endswith("SOFTWARE")) | .dirty' false
check "clean: its sequence numbers as python3 reads them" \
	same "$(jq -r '.system.hives[] | select(.path | endswith("SOFTWARE")) | "\(.primary_sequence) \(.secondary_sequence)"' "$T/out")" \
	"$($REGF info "$SW" | cut -d' ' -f1,2)"
check "clean: no warning" err_lacks dirty
expect_exit 2 kh run
check "clean: run writes the registry (hivexget)" same "$(regval '\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"
check "clean: the written hive is clean (python3: numbers equal, checksum right)" \
	sh -c "$REGF info '$SW' | awk '\$1 == \$2 && \$3 == \"yes\" && \$4 == 0 { ok = 1 } END { exit !ok }'"

# a write that did not complete: the numbers real hives show after a hard power-off
fresh dirty
SW=$V/$CFG/SOFTWARE
$REGF dirty "$SW" 4317 4316
check "dirty: the fixture (python3)" regf_is "$SW" "4317 4316 yes 0"
before=$(voldigest "$V")
hive=$(sum "$SW")
expect_exit 3 kh check
check "dirty: check names the hive and its numbers" out_has "hive: .*config/SOFTWARE DIRTY: primary sequence number 4317, secondary 4316"
check "dirty: check says what it means" out_has 'Windows replays them at its next boot'
check "dirty: check warns that what was read may be stale" err_has 'SOFTWARE is dirty .*may be stale'
expect_exit 3 kh --json check
check "dirty: json: dirty" jq_is '.system.hives[] | select(.path | endswith("SOFTWARE")) | .dirty' true
check "dirty: json: the numbers" jq_is '.system.hives[] | select(.path | endswith("SOFTWARE")) | "\(.primary_sequence)/\(.secondary_sequence)"' 4317/4316
check "dirty: json: the evidence" jq_is '.system.hives[] | select(.path | endswith("SOFTWARE")) | .evidence' \
	"primary sequence number 4317, secondary 4316: a write did not complete"
check "dirty: json: SYSTEM is clean" jq_is '.system.hives[] | select(.path | endswith("SYSTEM")) | .dirty' false
expect_exit 65 kh run
check "dirty: run names the hive" err_has 'registry hive Windows/System32/config/SOFTWARE is dirty'
check "dirty: run says what to do" err_has 'shut it down cleanly'
check "dirty: run offers --no-registry" err_has -- '--no-registry'
check "dirty: run changed nothing" same "$(voldigest "$V")" "$before"
check "dirty: the hive byte for byte (sha256sum)" same "$(sum "$SW")" "$hive"
check "dirty: no backup made" test ! -e "$V/ProgramData/khreset/backup"
expect_exit 2 kh run --no-registry
check "dirty, --no-registry: the archive repaired" is_empty "$A"
check "dirty, --no-registry: the bundle staged" cmp -s "$d/bundle/$ROOT_KH" "$I/$ROOT_KH"
check "dirty, --no-registry: the hive untouched (sha256sum)" same "$(sum "$SW")" "$hive"
check "dirty, --no-registry: still dirty (python3)" regf_is "$SW" "4317 4316 yes 0"
check "dirty, --no-registry: no registry value set" sh -c "! hivexget '$SW' '\\CMIT\\Active' IntranetActivationServer 2>/dev/null"
check "dirty, --no-registry: the plan left the registry out" out_lacks '^plan:.*registry'
check "dirty, --no-registry: the log says the values are left to the live run" \
	file_has "$V/Windows/Logs/khreset/khreset.log" 'left to the live run'

# a wrong base block checksum is dirty too
fresh badsum
SW=$V/$CFG/SOFTWARE
$REGF badsum "$SW"
hive=$(sum "$SW")
expect_exit 65 kh check
check "bad checksum: check names the hive, dirty, not corrupt" err_has 'SOFTWARE is dirty (base block checksum wrong'
expect_exit 65 kh run
check "bad checksum: run refuses, saying what to do" err_has 'checksum wrong.*shut it down cleanly'
check "bad checksum: the hive untouched" same "$(sum "$SW")" "$hive"

# transaction logs beside the hive (Windows 8.1 and later: .LOG1/.LOG2)
logcase() { # NAME SEQ [TYPE]: a clean SOFTWARE at 100/100 and SOFTWARE.LOG1 at SEQ
	fresh "$1"
	SW=$V/$CFG/SOFTWARE
	$REGF dirty "$SW" 100 100
	$REGF log "$SW" "$SW.LOG1" "$2" ${3:-}
	: >"$SW.LOG2"                    # Windows keeps an empty second log
	hive=$(sum "$SW")
}
logcase newlog 101
check "newer log: the fixture (python3: the hive clean, the log a type-6 log at 101)" \
	sh -c "[ \"\$($REGF info '$SW')\" = '100 100 yes 0' ] && [ \"\$($REGF info '$SW.LOG1')\" = '101 101 yes 6' ]"
expect_exit 3 kh --json check
check "newer log: dirty" jq_is '.system.hives[] | select(.path | endswith("SOFTWARE")) | .dirty' true
check "newer log: the log named as evidence" jq_is '.system.hives[] | select(.path | endswith("SOFTWARE")) | .evidence' \
	"SOFTWARE.LOG1 (sequence number 101) holds changes newer than the hive (100)"
check "newer log: json lists both logs" jq_is '[.system.hives[] | select(.path | endswith("SOFTWARE")) | .logs[] | "\(.name):\(.valid):\(.newer)"] | join(",")' \
	"SOFTWARE.LOG1:true:true,SOFTWARE.LOG2:false:false"
expect_exit 65 kh run
check "newer log: run refuses, naming the log" err_has 'SOFTWARE.LOG1 (sequence number 101) holds changes newer'
check "newer log: the hive untouched" same "$(sum "$SW")" "$hive"

logcase oldformat 101 1
expect_exit 65 kh run
check "newer old-format log (type 1, a dirty vector): run refuses" err_has 'SOFTWARE.LOG1 (sequence number 101)'

# twins: logs that hold nothing newer are not dirty, and the hive is written
for c in "oldlog 100" "olderlog 42"; do
	set -- $c
	logcase "$1" "$2"
	expect_exit 2 kh run
	check "$1 (log at $2, hive at 100): not dirty, run writes the registry" \
		same "$(regval '\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"
done
logcase badlog 101
$REGF badsum "$SW.LOG1"
expect_exit 2 kh run
check "a log with a wrong checksum holds nothing Windows replays: written" \
	same "$(regval '\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"
logcase lowercase 101
mv "$SW.LOG1" "$V/$CFG/software.log1"
expect_exit 65 kh run
check "a log named in another case is found" err_has 'software.log1 (sequence number 101)'
logcase linklog 101
rm "$SW.LOG1"
echo outside >"$T/outside.log"
ln -s "$T/outside.log" "$SW.LOG1"
expect_exit 65 kh run
check "a log that is a symlink: not followed, and counted as unreadable" err_has 'SOFTWARE.LOG1 cannot be read'

# a dirty hive that is only read: a warning, and the run goes on
fresh sysdirty
SY=$V/$CFG/SYSTEM
$REGF dirty "$SY"
hive=$(sum "$SY")
expect_exit 2 kh run
check "SYSTEM dirty, only read: run warns" err_has 'SYSTEM is dirty .*may be stale; it is not written'
check "SYSTEM dirty, only read: SOFTWARE written" same "$(regval '\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"
check "SYSTEM dirty, only read: SYSTEM untouched" same "$(sum "$SY")" "$hive"

finish
