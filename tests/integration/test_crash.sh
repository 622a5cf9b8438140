#!/bin/sh
# test_crash.sh - SIGKILL at every step of run (and of restore): the next
# run, or restore, brings back or keeps every original byte, and the
# interrupted run is reported.  A failing step rolls back (exit 1).
. tests/integration/lib.sh

STOPS="backup-move backup stage-one stage registry journal-end report"
# steps after which the journal is closed: nothing is rolled back
late() { [ "$1" = report ]; }

for s in $STOPS; do
	# (a) killed, then restore
	fresh "a-$s"
	KHRESET_TEST_STOP_AT=$s kh run
	check "kill at $s: run died by SIGKILL" rc_is 137
	kh restore --latest
	check "kill at $s, then restore: exit 0" rc_is 0
	check "kill at $s, then restore: every original byte back" originals_back
	if ! late "$s"; then
		check "kill at $s, then restore: interrupted run reported" err_has "interrupted run"
		check "kill at $s, then restore: registry as before" sh -c "! hivexget '$V/Windows/System32/config/SOFTWARE' '\\CMIT\\Active' IntranetActivationServer >/dev/null 2>&1"
		check "kill at $s, then restore: nothing staged left" sh -c "[ -z \"\$(ls -A '$I')\" ]"
	fi

	# (b) killed, then run again, then restore
	fresh "b-$s"
	KHRESET_TEST_STOP_AT=$s kh run
	kh run
	check "kill at $s, then run: completes (exit 2)" rc_is 2
	late "$s" || check "kill at $s, then run: interrupted run reported" err_has "interrupted run"
	check "kill at $s, then run: no journal left" test ! -e "$V/ProgramData/khreset/journal"
	kh --json check
	check "kill at $s, then run: archive clean, bundle staged" sh -c "[ \"\$(printf '%s' \"\$1\" | jq -r '.verdict')\" = activate ] && cmp -s '$d/bundle/$ROOT_KH' '$I/$ROOT_KH'" _ "$OUT"
	kh restore --latest
	check "kill at $s, then run, then restore: originals back" originals_back
done

# restore killed half-way is undone by the next restore
fresh restore-kill
kh run
KHRESET_TEST_STOP_AT=restore-move kh restore --latest
check "kill during restore: died by SIGKILL" rc_is 137
kh restore --latest
check "kill during restore, then restore: exit 0, reported" sh -c "[ $RC = 0 ] && printf '%s' \"\$1\" | grep -q 'interrupted run'" _ "$ERR"
check "kill during restore, then restore: originals back" originals_back

# a failing step rolls back (failure injected by the test seam)
for f in stage-one registry; do
	fresh "fail-$f"
	KHRESET_TEST_FAIL_AT=$f kh run
	check "$f fails: exit 1, outcome failed" sh -c "[ $RC = 1 ] && printf '%s' \"\$1\" | grep -q '^outcome: *failed'" _ "$OUT"
	check "$f fails: rollback step reported" out_has "ok *rollback"
	check "$f fails: originals back byte for byte" originals_back
	check "$f fails: nothing staged left" sh -c "[ -z \"\$(ls -A '$I')\" ]"
	check "$f fails: registry as before" sh -c "! hivexget '$V/Windows/System32/config/SOFTWARE' '\\CMIT\\Active' IntranetActivationServer >/dev/null 2>&1"
	check "$f fails: backup marked rolled-back" sh -c "grep -q 'state = rolled-back' '$V'/ProgramData/khreset/backup/*/manifest.ini"
	kh run
	check "$f fails: the next run repairs (exit 2)" rc_is 2
done

# a corrupted backup is refused before anything moves
fresh badbackup
kh run
bid=$(ls "$V/ProgramData/khreset/backup")
printf 'x' >> "$V/ProgramData/khreset/backup/$bid/archive/$OLD_KH"
before=$(voldigest "$V")
kh restore "$bid"
check "restore of a corrupted backup: exit 65 naming the file" sh -c "[ $RC = 65 ] && printf '%s' \"\$1\" | grep -q '$OLD_KH'" _ "$ERR"
check "restore of a corrupted backup: nothing moved" same "$(voldigest "$V")" "$before"

# retention: keep_backups, oldest first, never the newest
fresh retention
printf '[policy]\nkeep_backups = 2\n' >> "$V/Windows/Setup/Scripts/khreset/khreset.ini"
for i in 1 2 3; do
	KHRESET_TEST_NOW=$((1900000000 + i * 100)) kh run
	KHRESET_TEST_NOW=$((1900000000 + i * 100 + 50)) kh restore --latest
done
n=$(ls "$V/ProgramData/khreset/backup" | wc -l)
KHRESET_TEST_NOW=1900001000 kh run
check "retention: keep_backups=2 leaves 2 backups" same "$(ls "$V/ProgramData/khreset/backup" | wc -l)" 2
check "retention: the newest is kept" sh -c "ls '$V/ProgramData/khreset/backup' | grep -q '^20300317T'" 
check "retention: more than 2 existed before pruning" test "$n" -ge 3

finish
