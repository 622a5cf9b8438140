#!/bin/sh
# test_crash.sh - SIGKILL at every step of run (and of restore): the next
# run, or restore, brings back or keeps every original byte, and the
# interrupted run is reported.  A failing step rolls back (exit 1).
. tests/lib.sh

STOPS="backup-move backup stage-one stage registry journal-end report"
# steps after which the journal is closed: nothing is rolled back
late() { [ "$1" = report ]; }
SOFTWARE_HIVE=Windows/System32/config/SOFTWARE
BK=ProgramData/khreset/backup

for s in $STOPS; do
	# (a) killed, then restore
	fresh "a-$s"
	# values only: recovery gives every value its old data back, but keys
	# the run created (CMIT, CMIT\Active) stay, empty
	values=$(hivevalues "$V/$SOFTWARE_HIVE")
	CASE="kill at $s"
	KHRESET_TEST_STOP_AT=$s expect_exit 137 kh run
	if late "$s"; then
		check "kill at $s: the journal was closed" test ! -e "$V/ProgramData/khreset/journal"
	else
		check "kill at $s: the journal is left for recovery" test -s "$V/ProgramData/khreset/journal"
	fi
	CASE="kill at $s, then restore"
	expect_exit 0 kh restore --latest
	check "kill at $s, then restore: every original byte back" originals_back
	if ! late "$s"; then
		check "kill at $s, then restore: interrupted run reported" err_has "interrupted run"
		check "kill at $s, then restore: registry values as before" hive_is "$V/$SOFTWARE_HIVE" "$values" hivevalues
		check "kill at $s, then restore: nothing staged left" is_empty "$I"
	fi

	# (b) killed, then run again, then restore
	fresh "b-$s"
	KHRESET_TEST_STOP_AT=$s kh run
	CASE="kill at $s, then run"
	expect_exit 2 kh run
	late "$s" || check "kill at $s, then run: interrupted run reported" err_has "interrupted run"
	check "kill at $s, then run: no journal left" test ! -e "$V/ProgramData/khreset/journal"
	expect_exit 3 kh --json check
	check "kill at $s, then run: archive clean (verdict activate)" jq_is .verdict activate
	check "kill at $s, then run: bundle staged" cmp -s "$d/bundle/$ROOT_KH" "$I/$ROOT_KH"
	CASE="kill at $s, then run, then restore"
	expect_exit 0 kh restore --latest
	check "kill at $s, then run, then restore: originals back" originals_back
done

# restore killed half-way is undone by the next restore
fresh restore-kill
expect_exit 2 kh run
CASE="kill during restore"
KHRESET_TEST_STOP_AT=restore-move expect_exit 137 kh restore --latest
CASE="kill during restore, then restore"
expect_exit 0 kh restore --latest
check "kill during restore, then restore: interrupted run reported" err_has 'interrupted run'
check "kill during restore, then restore: originals back" originals_back

# a failing step rolls back (failure injected by the test seam)
for f in stage-one registry; do
	fresh "fail-$f"
	hive=$(hivedump "$V/$SOFTWARE_HIVE")
	CASE="$f fails"
	KHRESET_TEST_FAIL_AT=$f expect_exit 1 kh run
	check "$f fails: outcome failed" out_has '^outcome: *failed'
	check "$f fails: rollback step reported" out_has "ok *rollback"
	check "$f fails: originals back byte for byte" originals_back
	check "$f fails: nothing staged left" is_empty "$I"
	check "$f fails: registry as before" hive_is "$V/$SOFTWARE_HIVE" "$hive"
	check "$f fails: backup marked rolled-back" file_has "$(echo "$V/$BK/"*/manifest)" ' state=rolled-back '
	CASE="$f failed, run again"
	expect_exit 2 kh run
	check "$f fails: the next run repairs" is_empty "$A"
done

# a corrupted backup is refused before anything moves
fresh badbackup
expect_exit 2 kh run
bid=$(ls "$V/$BK")
printf 'x' >> "$V/$BK/$bid/archive/$OLD_KH"
before=$(voldigest "$V")
expect_exit 65 kh restore "$bid"
check "restore of a corrupted backup: the file named" err_has "$OLD_KH"
check "restore of a corrupted backup: nothing moved" same "$(voldigest "$V")" "$before"

# retention: keep_backups, oldest first, never the one just made.  Backup
# IDs are the UTC time of KHRESET_TEST_NOW; run prunes, restore does not.
fresh retention
id() { date -u -d "@$1" +%Y%m%dT%H%M%SZ; }
backups() { ls "$V/$BK" | tr '\n' ' '; }
printf '[policy]\nkeep_backups = 2\n' >> "$V/Windows/Setup/Scripts/khreset/khreset.ini"
for i in 1 2 3; do
	KHRESET_TEST_NOW=$((1900000000 + i * 100)) expect_exit 2 kh run
	KHRESET_TEST_NOW=$((1900000000 + i * 100 + 50)) expect_exit 0 kh restore --latest
done
check "retention: 3 backups before the next run prunes" same "$(backups)" "$(id 1900000250) $(id 1900000300) $(id 1900000350) "
KHRESET_TEST_NOW=1900001000 expect_exit 2 kh --json run
check "retention: the run made backup $(id 1900001000)" jq_is .result.backup_id "$(id 1900001000)"
check "retention: keep_backups=2 keeps the newest two" same "$(backups)" "$(id 1900000350) $(id 1900001000) "
# a clock set back: the backup just made is the oldest, and still kept
KHRESET_TEST_NOW=1800000000 expect_exit 0 kh restore --latest
KHRESET_TEST_NOW=1800000100 expect_exit 2 kh run
check "retention: the backup just made is kept even when it is the oldest" \
	same "$(backups)" "$(id 1800000100) $(id 1900001000) "

finish
