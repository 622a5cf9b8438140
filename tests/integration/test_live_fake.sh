#!/bin/sh
# test_live_fake.sh - the live plan (SPEC section 3 steps 1-10) on Linux: the
# real core with a fake platform whose ClipSVC and activation client are the
# stand-ins in tests/tools/fakesvc.c (what was seen on site).  The Wine suite
# (issue 3) does the same with the real khreset.exe.
. tests/lib.sh
OFFLINE_KH=$KH
KH=$B/tests/khreset-fake
SVC=$B/tools/fakesvc
export KHRESET_FAKE_SVC=$SVC
export KHRESET_FAKE_TRACE=$T/trace
SOFTWARE_HIVE=Windows/System32/config/SOFTWARE
status() { hivexget "$V/$SOFTWARE_HIVE" '\khreset\Status' "$1" 2>/dev/null; }
# the SOFTWARE hive but khreset's own Status key (live runs always write it)
but_status() { hivedump "$1" | awk '/^\[/ { skip = ($0 ~ /^\[\\khreset/) } !skip'; }
original_sha() { sed -n "s/^\([0-9a-f]*\)  $1\$/\1/p" "$d/originals.sha256"; }

# --- the field failure, reproduced: staging + restarting ClipSVC is not enough ---
fresh failure
cp "$d/bundle/"*.xml "$I/"
fixture "ClipSVC stopped" "$SVC" stop ClipSVC "$V"
fixture "ClipSVC started" "$SVC" start ClipSVC "$V"
fixture "CmitClientSVC started" "$SVC" start CmitClientSVC "$V"
check "field failure: activation stays failed after staging + ClipSVC restart" same "$("$SVC" licence "$V")" notification
check "field failure: the old root keyholder is still there, byte for byte" same "$(sum "$A/$ROOT_KH")" "$(original_sha "$ROOT_KH")"
check "field failure: the carried-over file is still there" test -f "$A/$OLD_KH"

# --- khreset run repairs it ---
fresh repair
rm -f "$T/trace"
expect_exit 0 kh --json run --wait 5
check "run: outcome repaired" jq_is .result.outcome repaired
check "run: mode live (fake platform)" jq_is .mode live
check "run: every live step ran and succeeded, ClipSVC stopped before the backup" jq_is '[.result.steps[] | select(.step != "task") | "\(.step):\(.ok)"] | join(",")' \
	"stop-clipsvc:true,backup:true,stage:true,restart-clipsvc:true,verify:true,registry:true,trigger:true,wait:true"
check "run: Status Outcome for fleet tools" same "$(status Outcome)" repaired
check "run: Status ExitCode" same "$(status ExitCode)" 0
check "run: Status Version is KH_VERSION" same "$(status Version)" "$KH_VERSION"
check "run: Status BackupId is the backup made" same "$(status BackupId)" "$(printf '%s' "$OUT" | jq -r .result.backup_id)"
check "run: archive regenerated with the official root keyholder" cmp -s "$d/reference/$ROOT_KH" "$A/$ROOT_KH"
check "run: activation wrote its keyholder" test -f "$A/451b310a-7d1e-4c52-9a0b-3f6c1e2d8a47.xml"
check "run: licence now licensed" same "$("$SVC" licence "$V")" licensed
check "run: service calls in order" same "$(grep '^>' "$T/trace" | grep -v licence | tr '\n' ' ')" \
	"> service_stop(ClipSVC) > service_start(ClipSVC) > service_stop(CmitClientSVC) > service_start(CmitClientSVC) > task_remove(\\khreset\\Retry) "
check "run: originals kept in the backup" sh -c "cd '$V'/ProgramData/khreset/backup/*/archive && sha256sum -c --quiet '$d/originals.sha256'"
CASE="after repair"
expect_exit 0 kh check
check "after repair: check says healthy" out_first '^verdict: *healthy'
check "after repair: activation file is post-upgrade evidence" out_has "post-upgrade *451b310a"

# --- healthy: left alone ---
rm -f "$T/trace"
keyholders() { (cd "$V/ProgramData/Microsoft/Windows/ClipSVC" && find . -type f -exec sha256sum {} + | sort); }
before=$(keyholders)
CASE=healthy
expect_exit 0 kh run
check "healthy: the licence was read (trace)" file_has "$T/trace" 'licence()'
check "healthy: no service touched" file_lacks "$T/trace" service_
check "healthy: archive and install unchanged" same "$(keyholders)" "$before"
check "healthy: Status says healthy" same "$(status Outcome)" healthy

# --- ClipSVC fails to start: rolled back, byte for byte ---
fresh clipfail
hive=$(but_status "$V/$SOFTWARE_HIVE")
rm -f "$T/trace"
FAKE_CLIPSVC_FAIL=1 expect_exit 1 kh run --wait 1
check "ClipSVC start fails: outcome failed" out_has '^outcome: *failed'
check "ClipSVC start fails: originals back byte for byte" originals_back
check "ClipSVC start fails: staged files removed" is_empty "$I"
check "ClipSVC start fails: rollback restarted ClipSVC" same "$(grep -c 'service_start(ClipSVC)' "$T/trace")" 2
check "ClipSVC start fails: registry untouched (but khreset\\Status)" hive_is "$V/$SOFTWARE_HIVE" "$hive" but_status

# --- activation never succeeds: pending, nothing rolled back ---
fresh never
FAKE_ACTIVATION_NEVER=1 expect_exit 2 kh --json run --wait 1
check "activation never: outcome pending" jq_is .result.outcome pending
check "activation never: the wait step says why" jq_is '.result.steps[] | select(.step == "wait") | .detail | test("not licensed after 1 s")' true
check "activation never: archive repaired all the same" cmp -s "$d/reference/$ROOT_KH" "$A/$ROOT_KH"
CASE="activation later"
expect_exit 0 kh --json run --wait 2
check "activation later: next run activates (verdict activate)" jq_is .verdict activate
check "activation later: outcome repaired" jq_is .result.outcome repaired
check "activation later: licensed" same "$("$SVC" licence "$V")" licensed

# --- the retry task: attempts counted, given up after task.max_attempts ---
fresh retry
printf '[task]\njitter = 0\nmax_attempts = 2\n' >> "$V/Windows/Setup/Scripts/khreset/khreset.ini"
export FAKE_ACTIVATION_NEVER=1
rm -f "$T/trace"
expect_exit 2 kh run --wait 0
check "retry: pending run registers the retry task" file_has "$T/trace" 'task_install(.khreset.Retry)'
check "retry: attempts start at 0" same "$(status Attempts)" 0
CASE="retry attempt 1 of 2"
expect_exit 2 kh run --from-task --wait 0
check "retry: task attempt 1 of 2 is counted" same "$(status Attempts)" 1
CASE="retry attempt 2 of 2"
expect_exit 1 kh --json run --from-task --wait 0
check "retry: last attempt gives up (outcome failed)" jq_is .result.outcome failed
check "retry: says why" jq_is '.result.steps[] | select(.step == "task") | .detail | test("attempt 2 of 2")' true
check "retry: Status says failed" same "$(status Outcome)" failed
check "retry: Status keeps the 2 attempts" same "$(status Attempts)" 2
check "retry: the task is removed after the last attempt" sh -c "tail -n 2 '$T/trace' | grep -q 'task_remove(.khreset.Retry)'"
unset FAKE_ACTIVATION_NEVER
CASE="retry, server answers"
expect_exit 0 kh run --from-task --wait 2
check "retry: once the server answers, the next attempt repairs" out_has '^outcome: *repaired'
CASE="offline build"
expect_exit 64 "$OFFLINE_KH" --root "$V" run --from-task
check "retry: --from-task is refused offline, saying why" err_has 'from-task is for the live retry task only'

finish
