#!/bin/sh
# test_crash.sh - SIGKILL at every step of run (and of restore), at every
# journal record and half-way through each (a torn write), at every undo
# of recovery itself, and (strace's fault injection) before every system
# call that changes the volume, for run, restore and recovery: the next
# run, or restore, brings back or keeps every original byte - the archive,
# the install folder and the registry hive - and the interrupted run is
# reported.  A failing step rolls back (exit 1).
. tests/lib.sh
# strace, with LeakSanitizer off (it cannot run under ptrace: ASan builds)
st() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace "$@"; }

STOPS="backup-move backup stage-one stage hive-held registry journal-end journal-committed report"
# steps after which the journal is closed: nothing is rolled back
late() { [ "$1" = report ] || [ "$1" = journal-committed ]; }
SOFTWARE_HIVE=Windows/System32/config/SOFTWARE
BK=ProgramData/khreset/backup

for s in $STOPS; do
	# (a) killed, then restore
	fresh "a-$s"
	hive=$(sum "$V/$SOFTWARE_HIVE")
	CASE="kill at $s"
	KHRESET_TEST_STOP_AT=$s expect_exit 137 kh run
	if [ "$s" = journal-committed ]; then
		check "kill at $s: the journal holds its commit record" grep -q ' commit$' "$V/ProgramData/khreset/journal"
	elif late "$s"; then
		check "kill at $s: the journal was closed" test ! -e "$V/ProgramData/khreset/journal"
	else
		check "kill at $s: the journal is left for recovery" test -s "$V/ProgramData/khreset/journal"
	fi
	CASE="kill at $s, then restore"
	expect_exit 0 kh restore --latest
	check "kill at $s, then restore: every original byte back" originals_back
	if ! late "$s"; then
		check "kill at $s, then restore: interrupted run reported" err_has "interrupted run"
		check "kill at $s, then restore: the hive byte for byte" same "$(sum "$V/$SOFTWARE_HIVE")" "$hive"
		check "kill at $s, then restore: nothing staged left" is_empty "$I"
	fi

	# (b) killed, then run again, then restore
	fresh "b-$s"
	KHRESET_TEST_STOP_AT=$s kh run
	CASE="kill at $s, then run"
	expect_exit 2 kh run
	if late "$s"; then
		check "kill at $s, then run: nothing undone" err_lacks "interrupted run"
	else
		check "kill at $s, then run: interrupted run reported" err_has "interrupted run"
	fi
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
for f in stage-one registry hive-stage; do
	fresh "fail-$f"
	hive=$(hivedump "$V/$SOFTWARE_HIVE")
	hivesum=$(sum "$V/$SOFTWARE_HIVE")
	CASE="$f fails"
	KHRESET_TEST_FAIL_AT=$f expect_exit 1 kh run
	check "$f fails: outcome failed" out_has '^outcome: *failed'
	check "$f fails: rollback step reported" out_has "ok *rollback"
	check "$f fails: originals back byte for byte" originals_back
	check "$f fails: nothing staged left" is_empty "$I"
	check "$f fails: registry as before" hive_is "$V/$SOFTWARE_HIVE" "$hive"
	check "$f fails: the hive byte for byte" same "$(sum "$V/$SOFTWARE_HIVE")" "$hivesum"
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
sed -i 's/^keep_backups .*/keep_backups = 2/' "$V/Windows/Setup/Scripts/khreset/khreset.ini"
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

# --- kills everywhere: every journal record, half-way through each, every
# undo of recovery, every system call that changes the volume ---
J=ProgramData/khreset/journal
# template NAME: a field-case volume made once; clone NAME2 copies it
# (a value in the SYSTEM hive too: the registry step swaps two hives)
template() {
	fresh "$1"
	printf 'value4 = HKLM\\SYSTEM\\Setup | KhresetTest | REG_SZ | x\n' >>"$V/Windows/Setup/Scripts/khreset/khreset.ini"
	TPL=$d
	TPL_HIVE=$(sum "$V/$SOFTWARE_HIVE")
	TPL_SYSTEM=$(sum "$V/Windows/System32/config/SYSTEM")
}
no_temps() { ! ls -a "$V/Windows/System32/config" "$I" | grep -q khtmp; }
clone() {
	d=$T/$1
	rm -rf "$d"
	cp -a "$TPL" "$d"
	V=$d/vol A=$V/$ARCH_REL I=$V/$INST_REL CASE=$1
}
# done_run: the interrupted run had committed (or finished); the journal
# of the repair record (kind=record) is begun only after the run's commit
# (an empty journal: killed before its first record, whichever it was)
done_run() {
	if [ -s "$V/$J" ]; then grep -q -e ' commit$' -e ' kind=record ' "$V/$J"
	else [ -n "$(ls "$V/$BK" 2>/dev/null)" ]; fi
}
# after_kill WHAT HIVE: the next restore brings every original byte back;
# a run that had not committed leaves no trace in the hive or install
after_kill() {
	committed=0
	done_run && committed=1
	kh restore --latest
	check "$1: the next restore succeeds or has nothing to restore" sh -c \
		"[ $RC = 0 ] || { [ $RC = 1 ] && printf '%s' \"\$1\" | grep -q 'no complete backup'; }" _ "$ERR"
	check "$1: originals back" originals_back
	check "$1: no journal left" test ! -e "$V/$J"
	check "$1: no temp file left" no_temps
	if [ $committed = 0 ]; then
		check "$1: the hive byte for byte" same "$(sum "$V/$SOFTWARE_HIVE")" "$2"
		check "$1: the SYSTEM hive byte for byte" same "$(sum "$V/Windows/System32/config/SYSTEM")" "$TPL_SYSTEM"
		check "$1: nothing staged left" is_empty "$I"
	fi
}

template jtpl
clone jdry
KHRESET_TEST_STOP_AT=journal-committed kh run
nrec=$(wc -l <"$V/$J" | tr -d ' ')
check "run: the dry run's journal has records" test "$nrec" -gt 5
for k in $(seq 1 "$nrec"); do
	for form in journal journal-tear; do
		clone "run-$form-$k"
		KHRESET_TEST_STOP_AT=$form-$k expect_exit 137 kh run
		if [ $form = journal-tear ]; then
			check "run $form-$k: the last record is torn" sh -c "[ \"\$(tail -c 1 '$V/$J' | od -An -c | tr -d ' ')\" != '\\n' ]"
		fi
		after_kill "run killed at $form-$k" "$TPL_HIVE"
	done
done

# restore: from a run's backup
clone rtpl
expect_exit 2 kh run
TPL=$d
RTPL_HIVE=$(sum "$V/$SOFTWARE_HIVE")
clone rdry
KHRESET_TEST_STOP_AT=journal-committed kh restore --latest
nrec=$(wc -l <"$V/$J" | tr -d ' ')
rcheck() { # WHAT: the archive holds the originals, or a restore puts them back
	originals_back || { kh restore --latest; originals_back; }
}
for k in $(seq 1 "$nrec"); do
	for form in journal journal-tear; do
		clone "restore-$form-$k"
		KHRESET_TEST_STOP_AT=$form-$k expect_exit 137 kh restore --latest
		kh restore --latest
		check "restore killed at $form-$k: the next restore exits 0 or finds it done" sh -c "[ $RC = 0 ] || [ $RC = 1 ]"
		check "restore killed at $form-$k: originals in the archive" rcheck
		check "restore killed at $form-$k: no journal left" test ! -e "$V/$J"
		check "restore killed at $form-$k: the backup is restored once, or complete" \
			sh -c "grep -q ' state=restored \| state=complete ' '$V/$BK/'\$(ls '$V/$BK' | head -n 1)/manifest"
	done
done

# recovery itself: killed after each undo, then finished by the next run
TPL=$T/jtpl
clone rectpl
KHRESET_TEST_STOP_AT=registry kh run
RECTPL=$d
TPL=$RECTPL
clone recdry
kh restore --latest
nundo=$(printf '%s\n' "$ERR" | sed -n 's/.*rolled back: \([0-9]*\) action.*/\1/p' | head -n 1)
check "recovery: the dry run undid actions ($nundo)" test "${nundo:-0}" -gt 3
TPL=$RECTPL
for k in $(seq 1 "${nundo:-0}"); do
	clone "recover-$k"
	KHRESET_TEST_STOP_AT=recover-$k expect_exit 137 kh restore --latest
	check "recovery killed after undo $k: its journal is kept" test -s "$V/$J"
	expect_exit 0 kh restore --latest
	check "recovery killed after undo $k: the next one finishes (reported)" err_has "interrupted run"
	check "recovery killed after undo $k: originals back" originals_back
	check "recovery killed after undo $k: the hive byte for byte" same "$(sum "$V/$SOFTWARE_HIVE")" "$TPL_HIVE"
	check "recovery killed after undo $k: nothing staged left" is_empty "$I"
done

# strace: SIGKILL before every system call that changes the volume
if command -v strace >/dev/null 2>&1; then
	SYSCALLS="write fsync renameat renameat2 mkdirat unlinkat"
	# sweep NAME TEMPLATE CMD...: for each syscall and each of its calls
	# in a dry run, a clone killed there, then checked by after_kill
	sweep() {
		sw_name=$1 TPL=$2
		shift 2
		clone "$sw_name-dry"
		st -f -qq -o "$T/$sw_name.trace" -e trace="$(echo $SYSCALLS | tr ' ' ,)" \
			"$KH" --root "$V" "$@" >/dev/null 2>&1
		sw_total=0
		for sc in $SYSCALLS; do
			sw_n=$(grep -c "^[0-9 ]*$sc(" "$T/$sw_name.trace" | tr -d ' ')
			sw_total=$((sw_total + sw_n))
			for k in $(seq 1 "$sw_n"); do
				clone "$sw_name-$sc-$k"
				run st -f -qq -o /dev/null -e inject="$sc":signal=KILL:when="$k" \
					"$KH" --root "$V" "$@"
				check "$sw_name: killed before $sc #$k" rc_is 137
				sw_after "$sw_name killed before $sc #$k"
			done
		done
		check "$sw_name: $sw_total kill points" test "$sw_total" -gt 10
	}
	TPL=$T/jtpl
	sw_after() { after_kill "$1" "$TPL_HIVE"; }
	sweep strace-run "$T/jtpl" run
	sw_after() {
		kh restore --latest
		check "$1: originals in the archive" rcheck
		check "$1: no journal left" test ! -e "$V/$J"
	}
	sweep strace-restore "$T/rtpl" restore --latest
	sw_after() {
		kh restore --latest
		check "$1: originals back" originals_back
		check "$1: the hive byte for byte" same "$(sum "$V/$SOFTWARE_HIVE")" "$TPL_HIVE"
		check "$1: no journal left" test ! -e "$V/$J"
	}
	sweep strace-recovery "$RECTPL" restore --latest

	# EIO instead of SIGKILL: the call fails, the run goes on from there -
	# failed and rolled back, or done when the call did not matter
	fsweep() { # NAME TEMPLATE CMD...
		fw_name=$1 TPL=$2
		shift 2
		clone "$fw_name-dry"
		st -f -qq -o "$T/$fw_name.trace" -e trace="$(echo $SYSCALLS | tr ' ' ,)" \
			"$KH" --root "$V" "$@" >/dev/null 2>&1
		for sc in $SYSCALLS; do
			fw_n=$(grep -c "^[0-9 ]*$sc(" "$T/$fw_name.trace" | tr -d ' ')
			for k in $(seq 1 "$fw_n"); do
				clone "$fw_name-$sc-$k"
				run st -f -qq -o /dev/null -e inject="$sc":error=EIO:when="$k" \
					"$KH" --root "$V" "$@"
				fw_rc=$RC
				check "$fw_name: $sc #$k fails: exit 0, 1, 2 or 65 (got $fw_rc)" \
					sh -c "case $fw_rc in 0|1|2|65) ;; *) exit 1 ;; esac"
				fw_after "$fw_name: $sc #$k fails" "$fw_rc"
			done
		done
	}
	fw_after() {
		kh restore --latest
		check "$1: originals back" originals_back
		check "$1: no journal left" test ! -e "$V/$J"
		check "$1: no temp file left" no_temps
		if [ "$2" != 2 ]; then
			check "$1: the SYSTEM hive byte for byte" same "$(sum "$V/Windows/System32/config/SYSTEM")" "$TPL_SYSTEM"
			check "$1: the hive byte for byte" same "$(sum "$V/$SOFTWARE_HIVE")" "$TPL_HIVE"
			check "$1: nothing staged left" is_empty "$I"
		fi
	}
	TPL_HIVE=$(sum "$T/jtpl/vol/$SOFTWARE_HIVE")
	fsweep fail-run "$T/jtpl" run
	fw_after() {
		kh restore --latest
		check "$1: originals in the archive" rcheck
		check "$1: no journal left" test ! -e "$V/$J"
	}
	fsweep fail-restore "$T/rtpl" restore --latest
else
	skip "strace kill sweeps: strace is not installed"
fi

finish
