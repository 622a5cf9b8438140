#!/bin/sh
# test_collect.sh - the evidence collector (`collect DIR`, `run --evidence
# DIR`; SPEC section 2): offline on the field-case volume (listings with
# digests checked by sha256sum, both registry views checked by hivexget,
# logs and setupact.log lines checked by cmp and grep, JSON by jq), and
# live on Linux with the fake platform's services (tests/fake/plat_fake.c:
# state and PID, configuration, triggers, per-SKU licence, access lists,
# code page, the collector as a child process of the run).  Read-only: the
# volume is unchanged.  Sample counts are bounds (--for / --every), never
# timed.
. tests/lib.sh
FAKE=$B/tests/khreset-fake
SVC=$B/tools/fakesvc
SOFTWARE_HIVE=Windows/System32/config/SOFTWARE
CMIT='HKLM\SOFTWARE\CMIT\Active'
STATUS='HKLM\SOFTWARE\khreset\Status'

nsamples() { wc -l <"$1/samples.jsonl" | tr -d ' '; }
# every line of samples.jsonl is one JSON object; seq counts 0, 1, ...
samples_json() {
	jq -e -s 'length > 0 and all(type == "object") and ([.[].seq] == [range(length)])' \
		"$1/samples.jsonl" >/dev/null
}
# jqs FILTER WANT FILE: the filter over the file's documents as one array
jqs() { lib_got=$(jq -r -s "$1" "$3" 2>&1); same "$lib_got" "$2"; }
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ] || { echo "  $1 not in $2..$3" >&2; return 1; }; }
# sampled DIR PART: "name sha256" of the last sample's entries of PART
sampled() { jq -r -s ".[-1].$2.entries[] | select(.type == \"file\") | \"\\(.name) \\(.sha256)\"" "$1/samples.jsonl"; }
ondisk() { (cd "$1" && for f in *; do [ -f "$f" ] && [ ! -L "$f" ] && echo "$f $(sum "$f")"; done) 2>/dev/null; }
# regview DIR KEY VIEW NAME: the value once.json recorded ("" when missing)
regview() {
	jq -r --arg k "$2" --arg v "$3" --arg n "$4" \
		'.registry[] | select(.key == $k and .view == $v) | .values[$n] // ""' "$1/once.json"
}
hive_add() { # KEY (below SOFTWARE) NAME VALUE: merged with hivexregedit,
	      # each parent key first
	{
		printf 'Windows Registry Editor Version 5.00\n\n'
		k=
		for c in $(printf '%s' "$1" | tr '\\' ' '); do
			k=$k\\$c
			printf '[HKEY_LOCAL_MACHINE\\SOFTWARE%s]\n\n' "$k"
		done
		printf '[HKEY_LOCAL_MACHINE\\SOFTWARE\\%s]\n"%s"="%s"\n' "$1" "$2" "$3"
	} >"$T/add.reg"
	hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$V/$SOFTWARE_HIVE" "$T/add.reg"
}

# === offline: a field-case volume =====================================================
fresh offline
LOGS=$V/Windows/Logs/khreset
mkdir -p "$LOGS" "$V/Windows/Panther/UnattendGC"
printf '2026-01-01T00:00:00Z info  run      outcome pending, exit 2\r\n' >"$LOGS/khreset.log"
printf 'older run\n' >"$LOGS/khreset.log.1"
printf 'setupcomplete start version=0.1.0\r\nkhreset run exit=2\r\n' >"$LOGS/setupcomplete.log"
printf 'not a log\n' >"$LOGS/notes.txt"
printf 'outside the volume\n' >"$T/outside.txt"
ln -s "$T/outside.txt" "$LOGS/linked.log"
ln -s "$T/outside.txt" "$A/aaaaaaaa-link.xml"
printf 'odd\n' >"$I/$(printf 'bad\377name.xml')"
{
	printf '2026-01-01 10:00:00, Info  [windeployFlow] Windeploy started\r\n'
	printf '2026-01-01 10:00:01, Info  [SETUPGC.EXE] Found SetupComplete.cmd; running it\r\n'
	printf '2026-01-01 10:00:31, Info  [SETUPGC.EXE] setupcomplete.cmd returned [0x0]\r\n'
	printf '2026-01-01 10:00:32, Info  [SETUPGC.EXE] Done\r\n'
} >"$V/Windows/Panther/UnattendGC/setupact.log"
fixture "a 32-bit view value (WOW6432Node)" hive_add 'WOW6432Node\CMIT\Active' IntranetSkuId VDI32
fixture "a 64-bit view value" hive_add 'CMIT\Active' IntranetActivationServer http://vdi64.example.local
before=$(voldigest "$V")
EV=$T/ev-offline
expect_exit 0 kh collect "$EV" --for 3 --every 1
check "collect: says where the evidence is" out_has "evidence in .*ev-offline: [0-9]* sample"
check "collect: README.txt, samples.jsonl, once.json written" \
	sh -c "test -s '$EV/README.txt' && test -s '$EV/samples.jsonl' && test -s '$EV/once.json'"
check "collect: README.txt says what each file is" \
	sh -c "grep -q '^samples.jsonl' '$EV/README.txt' && grep -q '^once.json' '$EV/README.txt' && grep -q '^setupact-SetupComplete.log' '$EV/README.txt'"
check "collect: samples.jsonl is one JSON object a line, seq 0, 1, ..." samples_json "$EV"
check "collect: --for 3 --every 1: 1..4 samples ($(nsamples "$EV"))" between "$(nsamples "$EV")" 1 4
check "collect: the first sample is the start" jqs '.[0].reason' start "$EV/samples.jsonl"
check "collect: once.json is JSON, mode offline" jq_is .mode offline "$EV/once.json"
check "collect: once.json counts the samples" jq_is .samples "$(nsamples "$EV")" "$EV/once.json"
check "collect: --for and --every recorded" jq_is '"\(.for) \(.every)"' "3 1" "$EV/once.json"
check "collect: archive names and SHA-256 as sha256sum sees them" same "$(sampled "$EV" archive)" "$(ondisk "$A")"
check "collect: a name that is not UTF-8 listed, '?' for the byte, its hex beside it" \
	jqs '[.[].install.entries[] | "\(.name) \(.name_hex) \(.sha256)"] | unique | join(",")' \
	"bad?name.xml 626164ff6e616d652e786d6c $(printf 'odd\n' | sha256sum | cut -d' ' -f1)" "$EV/samples.jsonl"
check "collect: the link in the archive is listed as a link" \
	jqs '[.[].archive.entries[] | select(.name == "aaaaaaaa-link.xml") | .type] | unique | join(",")' link "$EV/samples.jsonl"
check "collect: ... never followed (no digest)" \
	jqs '[.[].archive.entries[] | select(.type == "link") | has("sha256")] | any' false "$EV/samples.jsonl"
check "collect: ... nothing of its target in the evidence" sh -c "! grep -rq 'outside the volume' '$EV'"
check "collect: the volume is unchanged (read-only)" same "$(voldigest "$V")" "$before"
check "collect: no state folder, no log written on the volume" \
	sh -c "test ! -e '$V/ProgramData/khreset' && test \"\$(ls '$LOGS' | tr '\n' ' ')\" = 'khreset.log khreset.log.1 linked.log notes.txt setupcomplete.log '"
check "offline: services recorded as unsupported, saying why" \
	jqs '[.[].services[] | .unsupported | test("offline")] | all' true "$EV/samples.jsonl"
check "offline: licence recorded as unsupported" jqs '[.[].licence | has("unsupported")] | all' true "$EV/samples.jsonl"
check "offline: service configuration and triggers unsupported" \
	jq_is '[.services[] | (.config, .triggers) | has("unsupported")] | all' true "$EV/once.json"
check "offline: access lists and code page unsupported" \
	jq_is '[(.acl[], .console_codepage.start, .console_codepage.end) | has("unsupported")] | all' true "$EV/once.json"
check "offline: one item unread, the linked log (unsupported is no failure)" jq_is .unread 1 "$EV/once.json"
check "registry: the 64-bit view of the configured key (hivexget agrees)" \
	same "$(regview "$EV" "$CMIT" 64 IntranetActivationServer)" "$(regval '\CMIT\Active' IntranetActivationServer)"
check "registry: the 32-bit view is WOW6432Node (hivexget agrees)" \
	same "$(regview "$EV" "$CMIT" 32 IntranetSkuId)" "$(regval '\WOW6432Node\CMIT\Active' IntranetSkuId)"
check "registry: ... the value set there" same "$(regview "$EV" "$CMIT" 32 IntranetSkuId)" VDI32
check "registry: ... and the 64-bit one" same "$(regview "$EV" "$CMIT" 64 IntranetActivationServer)" http://vdi64.example.local
check "registry twin: the 32-bit value is not in the 64-bit view" \
	jq_is ".registry[] | select(.key == \"$(printf '%s' "$CMIT" | sed 's/\\/\\\\/g')\" and .view == \"64\") | .missing | index(\"IntranetSkuId\") != null" true "$EV/once.json"
check "registry twin: the 64-bit value is not in the 32-bit view" same "$(regview "$EV" "$CMIT" 32 IntranetActivationServer)" ""
check "registry: HKLM\\SOFTWARE\\khreset\\Status in both views" \
	jq_is "[.registry[] | select(.key == \"$(printf '%s' "$STATUS" | sed 's/\\/\\\\/g')\") | .view] | join(\",\")" "64,32" "$EV/once.json"
for f in khreset.log khreset.log.1 setupcomplete.log; do
	check "logs: $f copied byte for byte" cmp -s "$LOGS/$f" "$EV/$f"
done
check "logs: its digest recorded (sha256sum agrees)" \
	jq_is '.logs[] | select(.file == "khreset.log") | .sha256' "$(sum "$LOGS/khreset.log")" "$EV/once.json"
check "logs twin: not a log (notes.txt) not copied" test ! -e "$EV/notes.txt"
check "logs twin: a linked log not copied, saying why" \
	sh -c "test ! -e '$EV/linked.log' && jq -e '.logs[] | select(.from | endswith(\"linked.log\")) | .error | test(\"link\")' '$EV/once.json' >/dev/null"
grep -i setupcomplete "$V/Windows/Panther/UnattendGC/setupact.log" >"$T/setupact.want"
check "setupact: exactly the SetupComplete lines (grep -i agrees)" cmp -s "$T/setupact.want" "$EV/setupact-SetupComplete.log"
check "setupact: 2 lines counted" jq_is .setupact.lines 2 "$EV/once.json"
check "config: the volume's khreset.ini, no error" jq_is '"\(.config.path | test("khreset.ini$")) \(.config.error)"' "true null" "$EV/once.json"

# --- sample counts: --for 0 is one sample; twin: more time, more samples ---
CASE="for 0"
expect_exit 0 kh collect "$T/ev-for0" --for 0
check "collect --for 0: exactly one sample" same "$(nsamples "$T/ev-for0")" 1
CASE="for 2 every 1"
expect_exit 0 kh collect "$T/ev-for2" --for 2 --every 1
check "twin: collect --for 2 --every 1: 2..3 samples ($(nsamples "$T/ev-for2"))" between "$(nsamples "$T/ev-for2")" 2 3

# --- the folder: a new or empty one; never a non-empty one, a link or a file ---
CASE="DIR not empty"
mkdir -p "$T/full"
printf 'keep me\n' >"$T/full/x"
expect_exit 1 kh collect "$T/full" --for 0
check "DIR not empty: refused, saying so" err_has 'exists and is not empty'
check "DIR not empty: left as it was" same "$(ls -A "$T/full")" x
CASE="DIR empty"
mkdir -p "$T/empty"
expect_exit 0 kh collect "$T/empty" --for 0
check "twin: an existing empty DIR is accepted" test -s "$T/empty/once.json"
CASE="DIR a link"
mkdir -p "$T/target"
ln -s "$T/target" "$T/linkdir"
expect_exit 65 kh collect "$T/linkdir" --for 0
check "DIR a link: refused, saying so" err_has 'symbolic link, refused'
check "DIR a link: nothing written where it points" is_empty "$T/target"
CASE="DIR a file"
expect_exit 65 kh collect "$T/outside.txt" --for 0
check "DIR a file: refused" err_has 'not a folder'
CASE="DIR's parent missing"
expect_exit 65 kh collect "$T/no/such/dir" --for 0
check "DIR's parent missing: named" err_has 'no/such/dir'

# --- the command line ---
CASE=usage
expect_exit 64 kh collect
check "collect without DIR: says so" err_has 'needs the evidence folder DIR'
expect_exit 64 kh collect "$T/u1" "$T/u2"
expect_exit 64 kh collect "$T/u3" --every 0
check "--every 0: named" err_has '--every: expected seconds 1..3600'
expect_exit 64 kh collect "$T/u4" --for soon
check "--for soon: named" err_has '--for: expected seconds'
check "usage errors wrote nothing" sh -c "! ls -d '$T'/u[1-4] 2>/dev/null"
V_SAVE=$V
V=
expect_exit 64 kh collect "$T/u5"
check "Linux without --root: says live mode needs Windows" err_has 'live mode needs Windows'
V=$V_SAVE

# --- a broken khreset.ini: evidence all the same, the reason recorded ---
fresh badini
printf '[policy]\nkeep_backups = many\n' >>"$V/Windows/Setup/Scripts/khreset/khreset.ini"
expect_exit 0 kh collect "$T/ev-badini" --for 0
check "broken khreset.ini: the configuration error recorded, naming the key" \
	jq_is '.config.error | test("keep_backups")' true "$T/ev-badini/once.json"
check "broken khreset.ini: the archive is sampled with the defaults" \
	same "$(sampled "$T/ev-badini" archive)" "$(ondisk "$A")"

# --- stopped by SIGTERM: one more sample, once.json says so ---
fresh stop
"$KH" --root "$V" collect "$T/ev-stop" --for 120 --every 1 >"$T/stop.out" 2>&1 &
pid=$!
check "stop: the collector is sampling" wait_for 20 sh -c "[ -s '$T/ev-stop/samples.jsonl' ]"
kill -TERM "$pid"
RC=0
wait "$pid" || RC=$?
check "stop: SIGTERM ends it with exit 0" rc_is 0
check "stop: the last sample is the stop" jqs '.[-1].reason' stop "$T/ev-stop/samples.jsonl"
check "stop: once.json written, stopped true" jq_is .stopped true "$T/ev-stop/once.json"
check "stop: samples.jsonl still one JSON object a line" samples_json "$T/ev-stop"
check "twin: not stopped, stopped is false" jq_is .stopped false "$EV/once.json"

# --- run --evidence offline: one sample before, one after ---
fresh runev
before=$(voldigest "$V")
CASE="run --evidence (offline)"
mkdir -p "$T/full2"
printf 'x\n' >"$T/full2/x"
expect_exit 1 kh run --evidence "$T/full2"
check "run --evidence on a non-empty DIR: refused before anything changes" same "$(voldigest "$V")" "$before"
check "run --evidence on a non-empty DIR: the archive as it was" originals_back
expect_exit 2 kh run --evidence "$T/ev-run"
check "run --evidence: the run itself is pending as offline runs are" out_has '^outcome: *pending'
check "run --evidence: two samples, before-run and after-run" \
	same "$(jq -r .reason "$T/ev-run/samples.jsonl" | tr '\n' ' ')" "before-run after-run "
check "run --evidence: the before sample holds the originals (sha256sum agrees)" \
	same "$(jq -r -s '.[0].archive.entries[] | "\(.sha256)  \(.name)"' "$T/ev-run/samples.jsonl")" "$(cat "$d/originals.sha256")"
check "run --evidence: the after sample shows the bundle staged" \
	same "$(sampled "$T/ev-run" install)" "$(ondisk "$I")"
check "run --evidence: once.json says why only two samples" jq_is '.note | test("offline")' true "$T/ev-run/once.json"
check "run --evidence: the run's own log copied (cmp)" cmp -s "$V/Windows/Logs/khreset/khreset.log" "$T/ev-run/khreset.log"
check "run --evidence: ... with the run's outcome" file_has "$T/ev-run/khreset.log" 'outcome pending'
CASE="run --json --evidence"
fresh runjson
expect_exit 2 kh --json run --evidence "$T/ev-json"
check "run --json --evidence: stdout is the status document only" jq_is .result.outcome pending

# === live on Linux: the fake platform's services =====================================
KH=$FAKE
export KHRESET_FAKE_SVC=$SVC
export KHRESET_FAKE_TRACE=$T/trace
fresh fake
CASE="fake collect"
expect_exit 0 kh collect "$T/ev-idle" --for 0
check "fake: mode live" jq_is .mode live "$T/ev-idle/once.json"
check "fake: both services sampled, stopped, no PID" \
	jq_is '[.services[] | "\(.name):\(.state):\(.pid)"] | join(",")' "ClipSVC:stopped:0,CmitClientSVC:stopped:0" "$T/ev-idle/samples.jsonl"
check "fake: the licence per SKU (notification before the repair)" \
	jq_is '[.licence.skus[] | "\(.sku):\(.status):\(.reason)"] | join(",")' \
	"2f7c1e4b-8d3a-4e21-9b6c-1a2b3c4d5e6f:notification:0xC004F200" "$T/ev-idle/samples.jsonl"
rm -f "$T/trace"
CASE="fake run --evidence"
expect_exit 0 kh run --wait 5 --evidence "$T/ev-fake"
check "fake run --evidence: repaired" out_has '^outcome: *repaired'
check "fake run --evidence: the collector ran as a child and was stopped" \
	same "$(grep collect_ "$T/trace" | tr '\n' ' ')" "> collect_spawn() = 0 > collect_finish() = 0 "
check "fake run --evidence: samples.jsonl one JSON object a line" samples_json "$T/ev-fake"
check "fake run --evidence: the last sample is the stop" jqs '.[-1].reason' stop "$T/ev-fake/samples.jsonl"
check "fake run --evidence: the child's --for is the run's budget and more" \
	jq_is '.for > 5' true "$T/ev-fake/once.json"
check "fake run --evidence: at most --for / --every + 2 samples" \
	between "$(nsamples "$T/ev-fake")" 2 "$(jq '.for / .every + 2 | floor' "$T/ev-fake/once.json")"
check "fake run --evidence: ClipSVC stopped first, running with a PID last" \
	same "$(jq -r -s '[.[0], .[-1]] | map(.services[0] | "\(.state):\(.pid > 0)") | join(" ")' "$T/ev-fake/samples.jsonl")" \
	"stopped:false running:true"
check "fake run --evidence: licence notification first, licensed last" \
	same "$(jq -r -s '[.[0], .[-1]] | map(.licence.skus[0].status) | join(" ")' "$T/ev-fake/samples.jsonl")" \
	"notification licensed"
check "fake run --evidence: the last archive is the regenerated one (sha256sum agrees)" \
	same "$(sampled "$T/ev-fake" archive)" "$(ondisk "$A")"
check "fake: service configuration: demand start, LocalSystem, the binary path" \
	jq_is '.services[0].config | "\(.start) \(.delayed_auto_start) \(.account) \(.binary_path | test("fakesvc start ClipSVC"))"' \
	"demand false LocalSystem true" "$T/ev-fake/once.json"
check "fake: ClipSVC's trigger (custom, start) with its data" \
	jq_is '.services[0].triggers | map("\(.type):\(.action):\(.data[0].value)") | join(",")' \
	"20:start:64d1d045-f675-460b-8a94-570246b36dab" "$T/ev-fake/once.json"
check "fake twin: the activation service has no trigger" jq_is '.services[1].triggers | length' 0 "$T/ev-fake/once.json"
check "fake: the KeyHolder folders' access lists as SDDL" \
	jq_is '[.acl[0:2][] | .sddl | startswith("O:SYG:SYD:")] | all' true "$T/ev-fake/once.json"
check "fake: the console code page at start and end" \
	jq_is '"\(.console_codepage.start.console_output) \(.console_codepage.end.oem)"' "936 936" "$T/ev-fake/once.json"
check "fake: Status in the 64-bit view, after the run (hivexget agrees)" \
	same "$(regview "$T/ev-fake" "$STATUS" 64 Outcome)" "$(regval '\khreset\Status' Outcome)"
check "fake: the configured values in the 64-bit view, as set" \
	same "$(regview "$T/ev-fake" "$CMIT" 64 IntranetSkuId)" VDI
check "fake twin: not in the 32-bit view" same "$(regview "$T/ev-fake" "$CMIT" 32 IntranetSkuId)" ""
check "fake: the run's log copied with its outcome" file_has "$T/ev-fake/khreset.log" 'outcome repaired'
check "fake: nothing unread" jq_is .unread 0 "$T/ev-fake/once.json"

# --- the collector cannot start: the run samples before and after itself ---
fresh nospawn
CASE="fake, no collector"
KHRESET_TEST_FAIL_AT=collect_spawn expect_exit 0 kh run --wait 5 --evidence "$T/ev-nospawn"
check "no collector: the run repairs all the same" out_has '^outcome: *repaired'
check "no collector: the run took a sample before and one after" \
	same "$(jq -r .reason "$T/ev-nospawn/samples.jsonl" | tr '\n' ' ')" "before-run after-run "
check "no collector: once.json says why" jq_is '.note | test("could not start")' true "$T/ev-nospawn/once.json"
check "no collector: the services as the run left them" \
	jqs '.[-1].services | map(.state) | join(",")' "running,running" "$T/ev-nospawn/samples.jsonl"
check "twin: with a collector there is no note" jq_is .note null "$T/ev-fake/once.json"

# --- a service that does not exist: recorded, never fatal ---
fresh nosvc
printf '[activation]\nservice = NoSuchSvc\n' >>"$V/Windows/Setup/Scripts/khreset/khreset.ini"
CASE="fake, no such service"
expect_exit 0 kh collect "$T/ev-nosvc" --for 0
check "no such service: recorded as not existing, saying so" \
	jq_is '.services[1] | "\(.name) \(.exists) \(.error)"' "NoSuchSvc false service NoSuchSvc does not exist" "$T/ev-nosvc/samples.jsonl"
check "no such service: its configuration recorded as an error" \
	jq_is '.services[1].config.error' "service NoSuchSvc does not exist" "$T/ev-nosvc/once.json"
check "no such service: counted as unread" jq_is '.unread > 0' true "$T/ev-nosvc/once.json"
check "twin: ClipSVC still sampled" jq_is '.services[0].state' stopped "$T/ev-nosvc/samples.jsonl"

finish
