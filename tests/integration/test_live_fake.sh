#!/bin/sh
# test_live_fake.sh - the live plan (SPEC section 3 steps 1-10) on Linux: the
# real core with a fake platform whose ClipSVC and activation client are the
# stand-ins in tests/tools/fakesvc.c (what was seen on site).  The Wine suite
# (issue 3) does the same with the real khreset.exe.
. tests/integration/lib.sh
KH=$(pwd)/$BUILD/tests/khreset-fake
SVC=$(pwd)/$BUILD/tools/fakesvc
export KHRESET_FAKE_SVC=$SVC
export KHRESET_FAKE_TRACE=$T/trace

# --- the field failure, reproduced: staging + restarting ClipSVC is not enough ---
fresh failure
cp "$d/bundle/"*.xml "$I/"
"$SVC" stop ClipSVC "$V" && "$SVC" start ClipSVC "$V" && "$SVC" start CmitClientSVC "$V"
check "field failure: activation stays failed after staging + ClipSVC restart" same "$("$SVC" licence "$V")" notification
check "field failure: the old root keyholder was not replaced" sh -c "! grep -q 'V2020-L' '$A/$ROOT_KH'"
check "field failure: the carried-over file is still there" test -f "$A/$OLD_KH"

# --- khreset run repairs it ---
fresh repair
rm -f "$T/trace"
kh --json run --wait 5
check "run: exit 0, outcome repaired" sh -c "[ $RC = 0 ] && [ \"\$(printf '%s' \"\$1\" | jq -r .result.outcome)\" = repaired ]" _ "$OUT"
check "run: mode live (fake platform)" jq_is .mode live
check "run: every live step ran and succeeded" jq_is '[.result.steps[] | select(.step != "task") | "\(.step):\(.ok)"] | join(",")' \
	"backup:true,stage:true,restart-clipsvc:true,verify:true,registry:true,trigger:true,wait:true"
status() { hivexget "$V/Windows/System32/config/SOFTWARE" '\khreset\Status' "$1" 2>/dev/null; }
check "run: Status values for fleet tools" same "$(status Outcome) $(status ExitCode) $(status Version)" "repaired 0 0.1.0"
check "run: Status BackupId is the backup made" same "$(status BackupId)" "$(printf '%s' "$OUT" | jq -r .result.backup_id)"
check "run: archive regenerated with the official root keyholder" cmp -s "$d/reference/$ROOT_KH" "$A/$ROOT_KH"
check "run: activation wrote its keyholder" test -f "$A/451b310a-7d1e-4c52-9a0b-3f6c1e2d8a47.xml"
check "run: licence now licensed" same "$("$SVC" licence "$V")" licensed
check "run: service calls in order" same "$(grep '^>' "$T/trace" | grep -v licence | tr '\n' ' ')" \
	"> service_stop(ClipSVC) > service_start(ClipSVC) > service_stop(CmitClientSVC) > service_start(CmitClientSVC) > task_remove(\\khreset\\Retry) "
check "run: originals kept in the backup" sh -c "cd '$V'/ProgramData/khreset/backup/*/archive && sha256sum -c --quiet '$d/originals.sha256'"
kh check
check "after repair: check says healthy (exit 0)" rc_is 0
check "after repair: activation file is post-upgrade evidence" out_has "post-upgrade *451b310a"

# --- healthy: left alone ---
rm -f "$T/trace"
keyholders() { (cd "$V/ProgramData/Microsoft/Windows/ClipSVC" && find . -type f -exec sha256sum {} + | sort); }
before=$(keyholders)
kh run
check "healthy: run exit 0" rc_is 0
check "healthy: no service touched" sh -c "! grep -q service_ '$T/trace'"
check "healthy: archive and install unchanged" same "$(keyholders)" "$before"
check "healthy: Status says healthy" same "$(status Outcome)" healthy

# --- ClipSVC fails to start: rolled back, byte for byte ---
fresh clipfail
rm -f "$T/trace"
FAKE_CLIPSVC_FAIL=1 kh run --wait 1
check "ClipSVC start fails: exit 1, failed" sh -c "[ $RC = 1 ] && printf '%s' \"\$1\" | grep -q '^outcome: *failed'" _ "$OUT"
check "ClipSVC start fails: originals back byte for byte" originals_back
check "ClipSVC start fails: staged files removed" sh -c "[ -z \"\$(ls -A '$I')\" ]"
check "ClipSVC start fails: rollback restarted ClipSVC" sh -c "[ \$(grep -c 'service_start(ClipSVC)' '$T/trace') = 2 ]"
check "ClipSVC start fails: registry untouched" sh -c "! hivexget '$V/Windows/System32/config/SOFTWARE' '\\CMIT\\Active' IntranetActivationServer >/dev/null 2>&1"

# --- activation never succeeds: pending, nothing rolled back ---
fresh never
FAKE_ACTIVATION_NEVER=1 kh --json run --wait 1
check "activation never: exit 2, pending" sh -c "[ $RC = 2 ] && [ \"\$(printf '%s' \"\$1\" | jq -r .result.outcome)\" = pending ]" _ "$OUT"
check "activation never: the wait step says why" jq_is '.result.steps[] | select(.step == "wait") | .detail | test("not licensed after 1 s")' true
check "activation never: archive repaired all the same" cmp -s "$d/reference/$ROOT_KH" "$A/$ROOT_KH"
kh run --wait 2
check "activation later: next run activates (verdict activate, exit 0)" rc_is 0
check "activation later: licensed" same "$("$SVC" licence "$V")" licensed

# --- the retry task: attempts counted, given up after task.max_attempts ---
fresh retry
printf '[task]\njitter = 0\nmax_attempts = 2\n' >> "$V/Windows/Setup/Scripts/khreset/khreset.ini"
export FAKE_ACTIVATION_NEVER=1
rm -f "$T/trace"
kh run --wait 0
check "retry: pending run registers the retry task" grep -q 'task_install(.khreset.Retry)' "$T/trace"
check "retry: pending run (exit 2), attempts start at 0" sh -c "[ $RC = 2 ] && [ \"\$(hivexget '$V/Windows/System32/config/SOFTWARE' '\\khreset\\Status' Attempts)\" = 0 ]"
kh run --from-task --wait 0
check "retry: task attempt 1 of 2 stays pending (exit 2)" sh -c "[ $RC = 2 ] && [ \"\$(hivexget '$V/Windows/System32/config/SOFTWARE' '\\khreset\\Status' Attempts)\" = 1 ]"
kh --json run --from-task --wait 0
check "retry: last attempt gives up (exit 1, outcome failed)" sh -c "[ $RC = 1 ] && [ \"\$(printf '%s' \"\$1\" | jq -r .result.outcome)\" = failed ]" _ "$OUT"
check "retry: says why" jq_is '.result.steps[] | select(.step == "task") | .detail | test("attempt 2 of 2")' true
check "retry: Status says failed after 2 attempts" same "$(status Outcome) $(status Attempts)" "failed 2"
check "retry: the task is removed after the last attempt" sh -c "tail -n 2 '$T/trace' | grep -q 'task_remove(.khreset.Retry)'"
unset FAKE_ACTIVATION_NEVER
kh run --from-task --wait 2
check "retry: once the server answers, the next attempt repairs (exit 0)" rc_is 0
check "retry: --from-task is refused offline" sh -c "'$TOP/$BUILD/khreset' --root '$V' run --from-task >/dev/null 2>&1; [ \$? = 64 ]"

finish
