#!/bin/sh
# test_firstboot.sh - the first boot when the stand-ins do not behave as the
# live plan assumed (issue 10): ClipSVC regenerating late, under another
# name, with other bytes or only part of the set, an archive entry held by
# another process, ClipSVC started again by its trigger after a stop, the
# activation service missing until logon, the activation command failing,
# everything hanging.  For each: the outcome and exit code, that nothing is
# lost (every original byte in the backup, or back in the archive), that the
# retry task is there exactly when the run is pending, and that the retry
# task's next run moves neither what ClipSVC regenerated nor the activation
# file; each beside its negative twin (the well-behaved stand-in: repaired,
# exit 0, task removed).  The modes are tests/tools/fakesvc.c's and
# tests/fake/plat_fake.c's.  No check here measures time (bench/firstboot.sh).
. tests/lib.sh
KH=$B/tests/khreset-fake
SVC=$B/tools/fakesvc
export KHRESET_FAKE_SVC=$SVC
export KHRESET_FAKE_TRACE=$T/trace
INI=Windows/Setup/Scripts/khreset/khreset.ini
ACT_KH=451b310a-7d1e-4c52-9a0b-3f6c1e2d8a47.xml
LOG=Windows/Logs/khreset/khreset.log

# a field-case volume whose retry task runs at once (no jitter)
boot() { # NAME [INI LINES]
	fresh "$1" || return 1
	printf '[task]\njitter = 0\n%s' "${2:-}" >>"$V/$INI"
	rm -f "$T/trace"
}
task_exists() { [ -f "$V/ProgramData/fake/task" ] || { echo "  no retry task" >&2; return 1; }; }
task_gone() { [ ! -f "$V/ProgramData/fake/task" ] || { echo "  the retry task is still there" >&2; return 1; }; }
backup_id() { printf '%s' "$OUT" | jq -r .result.backup_id; }
# every original archive byte is in the run's backup
backup_intact() {
	id=$(backup_id)
	[ -n "$id" ] && [ "$id" != null ] || { echo "  no backup" >&2; return 1; }
	(cd "$V/ProgramData/khreset/backup/$id/archive" && sha256sum -c --quiet "$d/originals.sha256")
}
step_detail() { printf '%s' "$OUT" | jq -r --arg s "$1" '.result.steps[] | select(.step == $s) | .detail'; }
detail_has() { lib_has "step $1's detail" "$(step_detail "$1")" "$2"; }
no_rollback() { printf '%s' "$OUT" | jq -e '[.result.steps[] | select(.step == "rollback")] | length == 0' >/dev/null ||
	{ echo "  a rollback step ran" >&2; return 1; }; }
# name, digest and mtime of every archive entry
archive_state() { (cd "$A" && for f in *; do [ -e "$f" ] && echo "$f $(sum "$f") $(stat -c %Y "$f")"; done); }
backups() { ls "$V/ProgramData/khreset/backup" 2>/dev/null | wc -l; }
# kept BEFORE: every entry of the archive state BEFORE is still there, unchanged
kept() {
	printf '%s\n' "$1" | sort >"$T/kept.before"
	archive_state | sort >"$T/kept.after"
	lost=$(comm -23 "$T/kept.before" "$T/kept.after")
	[ -z "$lost" ] || { echo "  moved or changed: $lost" >&2; return 1; }
}
# the retry task's run: moves nothing that is there, makes no backup
retry_moves_nothing() { # CODE (the expected exit)
	before=$(archive_state)
	nb=$(backups)
	expect_exit "$1" kh --json run --from-task --wait 2
	check "$CASE: the retry task's run moves neither the regenerated nor the activation files" kept "$before"
	check "$CASE: the retry task's run makes no backup" same "$(backups)" "$nb"
}

# --- the well-behaved stand-in (the negative twin of every mode) ---
boot well
expect_exit 0 kh --json run --wait 10
check "well: outcome repaired" jq_is .result.outcome repaired
check "well: ClipSVC stopped before the backup" jq_is '[.result.steps[].step][0:2] | join(",")' stop-clipsvc,backup
check "well: verify names the root keyholder" detail_has verify "root keyholder $ROOT_KH; 2 of 2"
check "well: every original byte in the backup" backup_intact
check "well: the retry task is removed" task_gone
check "well: the log says the outcome, nothing about a rollback" file_lacks "$V/$LOG" 'rolled back'
retry_moves_nothing 0
check "well: the retry run finds it healthy" jq_is .verdict healthy

# --- ClipSVC regenerates late (after the budget) ---
boot late
export FAKE_CLIPSVC_LATE=600
expect_exit 2 kh --json run --wait 2
check "late: outcome pending, not failed" jq_is .result.outcome pending
check "late: verify says the root keyholder is not archived yet" detail_has verify "has not archived the root keyholder $ROOT_KH"
check "late: nothing rolled back" no_rollback
check "late: ClipSVC started again cleanly (the point past which nothing rolls back)" jq_is '.result.steps[] | select(.step == "restart-clipsvc") | .ok' true
check "late: the staged set stays" test -f "$I/$ROOT_KH"
check "late: every original byte in the backup" backup_intact
check "late: the retry task is registered" task_exists
check "late: the log says nothing was rolled back" file_has "$V/$LOG" 'nothing rolled back: the archive repair stands'
check "late: the log does not claim a rollback" file_lacks "$V/$LOG" '; rolled back'
echo 0 >"$V/ProgramData/fake/clipsvc-due"        # the time has come
fixture "late: ClipSVC regenerates by itself" "$SVC" tick "$V"
check "late: the regenerated root keyholder is the official one" cmp -s "$d/reference/$ROOT_KH" "$A/$ROOT_KH"
CASE="late, retry"
retry_moves_nothing 0
check "late, retry: activates (verdict activate), repaired" jq_is '"\(.verdict) \(.result.outcome)"' "activate repaired"
check "late, retry: the retry task is removed" task_gone
retry_moves_nothing 0
unset FAKE_CLIPSVC_LATE

# --- ... and regenerates only when ClipSVC is started again ---
boot late-restart
export FAKE_CLIPSVC_LATE=600
expect_exit 2 kh run --wait 2
echo 0 >"$V/ProgramData/fake/clipsvc-due"
CASE="late-restart, retry"
expect_exit 0 kh --json run --from-task --wait 5
check "late-restart, retry: ClipSVC restarted, archive regenerated, repaired" jq_is '"\(.verdict) \(.result.outcome)"' "activate repaired"
check "late-restart, retry: no new backup" same "$(backups)" 1
unset FAKE_CLIPSVC_LATE

# --- under a different name ---
boot rename
export FAKE_CLIPSVC_RENAME=1
expect_exit 2 kh --json run --wait 2
check "rename: outcome pending" jq_is .result.outcome pending
check "rename: nothing rolled back" no_rollback
check "rename: ClipSVC's files are there under their own names" test -f "$A/abcdef01${ROOT_KH#????????}"
check "rename: every original byte in the backup" backup_intact
check "rename: the retry task is registered" task_exists
CASE="rename, retry"
retry_moves_nothing 2
check "rename, retry: the differently named files are left alone (verdict activate)" jq_is .verdict activate
unset FAKE_CLIPSVC_RENAME

# --- with different bytes (the bundle's [archive] digests do not match) ---
boot bytes
export FAKE_CLIPSVC_BYTES=1
expect_exit 2 kh --json run --wait 2
check "bytes: outcome pending" jq_is .result.outcome pending
check "bytes: verify says the digest is not one the bundle lists" detail_has verify "with a digest the bundle lists as good"
check "bytes: nothing rolled back" no_rollback
check "bytes: every original byte in the backup" backup_intact
check "bytes: the retry task is registered" task_exists
CASE="bytes, retry"
# the repair record holds: the file ClipSVC wrote under the root's name,
# other bytes and all, stays, and the activation it allows is reached
check "bytes: the repair record names the run's backup" jq_is .repair.backup_id "$(jq -r .result.backup_id "$V/ProgramData/khreset/status.json")" "$V/ProgramData/khreset/repair.json"
retry_moves_nothing 0
check "bytes, retry: the regenerated root keyholder is left alone (verdict activate)" jq_is .verdict activate
check "bytes, retry: outcome repaired (licensed)" jq_is .result.outcome repaired
unset FAKE_CLIPSVC_BYTES

# --- only part of a multi-file set ---
boot partial-child
export FAKE_CLIPSVC_SKIP=$CHILD_KH
expect_exit 0 kh --json run --wait 5
check "partial (no child): the root keyholder is enough: repaired" jq_is .result.outcome repaired
check "partial (no child): verify notes the missing file" detail_has verify "1 of 2 bundle file(s) archived (not yet: $CHILD_KH)"
check "partial (no child): every original byte in the backup" backup_intact
check "partial (no child): the retry task is removed" task_gone
retry_moves_nothing 0
unset FAKE_CLIPSVC_SKIP

boot partial-root
export FAKE_CLIPSVC_SKIP=$ROOT_KH
expect_exit 2 kh --json run --wait 2
check "partial (no root): outcome pending" jq_is .result.outcome pending
check "partial (no root): nothing rolled back" no_rollback
check "partial (no root): every original byte in the backup" backup_intact
check "partial (no root): the retry task is registered" task_exists
unset FAKE_CLIPSVC_SKIP
CASE="partial (no root), retry"
retry_moves_nothing 0
check "partial (no root), retry: ClipSVC archives the rest: repaired" jq_is .result.outcome repaired

# --- [clipsvc] root_keyholder names what verify waits for ---
boot root-named "[clipsvc]
root_keyholder = $CHILD_KH
"
export FAKE_CLIPSVC_SKIP=$ROOT_KH
expect_exit 2 kh --json run --wait 3
check "root_keyholder = child: verify waits for the child only" detail_has verify "root keyholder $CHILD_KH; 1 of 2"
check "root_keyholder = child: verify satisfied without the first file" jq_is '.result.steps[] | select(.step == "verify") | .ok' true
unset FAKE_CLIPSVC_SKIP
boot root-bad "[clipsvc]
root_keyholder = 00000000-0000-0000-0000-000000000000.xml
"
expect_exit 65 kh run --wait 2
check "root_keyholder not in the bundle: refused, naming it" err_has 'root_keyholder = 00000000-0000-0000-0000-000000000000.xml is not a file of the bundle'
check "root_keyholder not in the bundle: nothing changed" originals_back
boot root-syntax "[clipsvc]
root_keyholder = root.xml
"
expect_exit 65 kh run --wait 2
check "root_keyholder not a keyholder name: refused, naming file, line and key" err_has 'khreset.ini.*line [0-9]*.*root_keyholder'

# --- the archived file held by another process (no sharing) for 2 s ---
boot busy
export FAKE_BUSY_SECONDS=2
expect_exit 0 kh --json run --wait 15
check "busy 2 s: tried again, then repaired" jq_is .result.outcome repaired
check "busy 2 s: the move was refused as busy first" file_has "$T/trace" 'rename(.*) busy'
check "busy 2 s: every original byte in the backup" backup_intact
check "busy 2 s: the retry task is removed" task_gone
unset FAKE_BUSY_SECONDS
boot busy-long
export FAKE_BUSY_SECONDS=3600
expect_exit 2 kh --json run --wait 2
check "busy past the budget: pending (not yet), not failed" jq_is .result.outcome pending
check "busy past the budget: the backup step says the file is in use" detail_has backup 'still in use by another process'
check "busy past the budget: rolled back, and says so" file_has "$V/$LOG" 'rolled back: '
check "busy past the budget: the archive as it was" originals_back
check "busy past the budget: ClipSVC started again" sh -c "grep '^>' '$T/trace' | grep service_ | tail -n 1 | grep -q 'service_start(ClipSVC)'"
check "busy past the budget: the retry task is registered" task_exists
unset FAKE_BUSY_SECONDS

# --- ClipSVC holds its old archive entry open, no read sharing, while it
# runs: check cannot read it, run stops ClipSVC first and then can ---
boot held
export FAKE_CLIPSVC_HOLDS=$OLD_KH
expect_exit 3 kh --json check
check "held, check: not a failure, the entry is named invalid (held open)" \
	jq_is "[.archive[] | select(.name == \"$OLD_KH\")][0].reason | test(\"held open by another process\")" true
check "held, check: verdict repair" jq_is .verdict repair
check "held, check: the read was refused as held" file_has "$T/trace" "read(.*$OLD_KH) held by ClipSVC"
expect_exit 0 kh --json run --wait 10
check "held: ClipSVC stopped, the entry read and moved: repaired" jq_is .result.outcome repaired
check "held: every original byte in the backup" backup_intact
check "held: the retry task is removed" task_gone
unset FAKE_CLIPSVC_HOLDS
# the twin: nothing held, the same entry is read and classed by its content
boot not-held
expect_exit 3 kh --json check
check "not held, check: the entry is classed by its content (carried-over)" \
	jq_is "[.archive[] | select(.name == \"$OLD_KH\")][0].class" carried-over
check "not held, check: no read refused" file_lacks "$T/trace" "held by ClipSVC"

# --- ClipSVC started again by its trigger after a stop ---
boot restarts
export FAKE_CLIPSVC_RESTARTS=2
expect_exit 0 kh --json run --wait 15
check "restarted twice: the stop is tried again, then repaired" jq_is .result.outcome repaired
check "restarted twice: three stops before the backup" same "$(grep -c 'service_stop(ClipSVC)' "$T/trace")" 3
check "restarted twice: every original byte in the backup" backup_intact
unset FAKE_CLIPSVC_RESTARTS
boot restarts-always
export FAKE_CLIPSVC_RESTARTS=100000
expect_exit 2 kh --json run --wait 2
check "always restarted: pending (not yet)" jq_is .result.outcome pending
check "always restarted: stop-clipsvc says why" detail_has stop-clipsvc 'still in use'
check "always restarted: the archive as it was" originals_back
check "always restarted: no backup made" same "$(backups)" 0
check "always restarted: the retry task is registered" task_exists
unset FAKE_CLIPSVC_RESTARTS

# --- the activation service does not exist until logon ---
boot absent
export FAKE_ACTIVATION_ABSENT=1
expect_exit 2 kh --json run --wait 3
check "absent: outcome pending, not failed" jq_is .result.outcome pending
check "absent: the trigger says the service does not exist" detail_has trigger 'CmitClientSVC does not exist'
check "absent: nothing rolled back" no_rollback
check "absent: the archive is repaired all the same" cmp -s "$d/reference/$ROOT_KH" "$A/$ROOT_KH"
check "absent: every original byte in the backup" backup_intact
check "absent: the retry task is registered" task_exists
CASE="absent, before logon"
retry_moves_nothing 2
mkdir -p "$V/ProgramData/fake" && : >"$V/ProgramData/fake/logon"
CASE="absent, after logon"
retry_moves_nothing 0
check "absent, after logon: repaired" jq_is .result.outcome repaired
check "absent, after logon: the activation file written" test -f "$A/$ACT_KH"
check "absent, after logon: the retry task is removed" task_gone
retry_moves_nothing 0
unset FAKE_ACTIVATION_ABSENT

# --- activation.command ---
CMD_INI='[activation]
service =
command = C:\CMIT\activate.exe /now
'
boot command "$CMD_INI"
expect_exit 0 kh --json run --wait 5
check "command: carried out (trace)" file_has "$T/trace" 'exec(C:\\CMIT\\activate.exe)'
check "command: repaired" jq_is .result.outcome repaired
check "command: its exit code logged" file_has "$V/$LOG" 'C:\\CMIT\\activate.exe exited 0'
boot command-fails "$CMD_INI"
export FAKE_COMMAND_FAIL=3
expect_exit 2 kh --json run --wait 3
check "command fails: pending, not failed" jq_is .result.outcome pending
check "command fails: the trigger names the command and its exit code" detail_has trigger 'activation command C:\\CMIT\\activate.exe exited 3'
check "command fails: nothing rolled back" no_rollback
check "command fails: every original byte in the backup" backup_intact
check "command fails: the retry task is registered" task_exists
unset FAKE_COMMAND_FAIL
CASE="command fails, retry"
retry_moves_nothing 0
check "command fails, retry: repaired once the command works" jq_is .result.outcome repaired
retry_moves_nothing 0

# --- everything hangs ---
boot hang
export FAKE_HANG=1
expect_exit 2 kh --json run --wait 2
check "hang: pending at the end of the budget" jq_is .result.outcome pending
check "hang: stop-clipsvc says it did not complete" detail_has stop-clipsvc 'did not complete within'
check "hang: the archive as it was" originals_back
check "hang: no backup made" same "$(backups)" 0
check "hang: the retry task is registered" task_exists
unset FAKE_HANG
CASE="hang, retry"
expect_exit 0 kh --json run --from-task --wait 5
check "hang, retry: once the services answer, repaired" jq_is .result.outcome repaired
check "hang, retry: every original byte in the backup" backup_intact

finish
