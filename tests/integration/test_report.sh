#!/bin/sh
# test_report.sh - `khreset report` (SPEC section 4.1): many status
# documents, the fleet at a glance.  The documents are real: khreset's own
# check and run on generated volumes (offline), the fake live platform for
# live ones.  Counts are checked against jq over the same documents, CSV
# with python3's csv module, JSON with jq.  Every case has its negative twin.
. tests/lib.sh
FAKE=$B/tests/khreset-fake
export KHRESET_FAKE_SVC=$B/tools/fakesvc
F=$T/fleet
mkdir -p "$F/kvm1" "$F/kvm2"

# doc FILE CMD...: the document CMD prints (its exit code is not the point)
doc() {
	doc_out=$1
	shift
	"$@" >"$doc_out" 2>"$T/doc.err" || true
	[ -s "$doc_out" ] || { echo "  no document from $*: $(cat "$T/doc.err")" >&2; return 1; }
}
kjson() { "$KH" --root "$V" --json "$@"; }
fjson() { "$FAKE" --root "$V" --json "$@"; }

# --- the fleet: one document per kind of VM ---
fresh healthy KH_HEALTHY=1
fixture "healthy document" doc "$F/kvm1/vm-healthy.json" kjson check
fresh stale
fixture "stale document" doc "$F/kvm1/vm-stale.json" kjson check
fresh pending
fixture "offline repair document (pending)" doc "$F/kvm2/vm-pending.json" kjson run
fixture "check after the offline repair (activate, staged)" doc "$F/kvm2/vm-staged.json" kjson check
fresh blocked KH_NO_UPGRADE=1
fixture "blocked document" doc "$F/kvm2/vm-blocked.json" kjson check
fresh failed
fixture "failed run document" doc "$F/kvm2/vm-failed.json" env KHRESET_TEST_FAIL_AT=stage-one "$KH" --root "$V" --json run
fresh live
fixture "live repaired document" doc "$F/kvm1/vm-live.json" fjson run --wait 5
fresh live-pending
fixture "live pending document" doc "$F/kvm1/vm-live-pending.json" fjson run --no-activate
fresh unstaged KH_HEALTHY=1
rm -f "$A/$ROOT_KH"
fixture "activate (not staged) document" doc "$F/kvm2/vm-unstaged.json" kjson check
check "fixture: the documents are what their names say" same \
	"$(cd "$F" && for f in kvm*/*.json; do printf '%s=%s/%s ' "${f%.json}" "$(jq -r .verdict "$f")" "$(jq -r .result.outcome "$f")"; done)" \
	"kvm1/vm-healthy=healthy/healthy kvm1/vm-live-pending=repair/pending kvm1/vm-live=repair/repaired kvm1/vm-stale=repair/checked kvm2/vm-blocked=blocked/blocked kvm2/vm-failed=repair/failed kvm2/vm-pending=repair/pending kvm2/vm-staged=activate/checked kvm2/vm-unstaged=activate/checked "
V=    # from here on, khreset without --root

# --- exit 0 when all are healthy or repaired; 3 when one needs attention ---
G=$T/good
mkdir -p "$G"
cp "$F/kvm1/vm-healthy.json" "$F/kvm1/vm-live.json" "$F/kvm2/vm-pending.json" "$F/kvm2/vm-staged.json" "$G/"
CASE="all healthy or repaired"
expect_exit 0 kh report "$G"
check "all healthy: nobody needs attention" out_first '^fleet: 4 VMs, 0 need attention (4 documents read, 0 skipped)$'
check "all healthy: no attention table" out_lacks '^  NAME'
cp "$F/kvm1/vm-stale.json" "$G/vm-stale.json"
CASE="one stale"
expect_exit 3 kh report "$G"
check "one stale: 1 needs attention" out_first '^fleet: 5 VMs, 1 needs attention'
check "one stale: its line names it, verdict repair, outcome checked" out_has '^  vm-stale  *repair  *checked  '
# the classes the report counts, as "N class" items, against jq's count
why_items() { printf '%s\n' "$OUT" | sed -n "s/^  $1 .*stale keyholders in the archive: //p" | tr ',' '\n' | sed 's/^ //' | sort; }
check "one stale: why - the archive's stale classes, counted as jq counts them" same "$(why_items vm-stale)" \
	"$(jq -r '.archive[].class' "$G/vm-stale.json" | sort | uniq -c | awk '{ print $1, $2 }' | sort)"
check "one stale: last run is the document's time" out_has "vm-stale .*  $(jq -r .time "$G/vm-stale.json")  "
check "one stale: the healthy ones are not listed" out_lacks '^  vm-healthy'

# --- the whole fleet: counts, worst first ---
CASE=fleet
expect_exit 3 kh report "$F"
check "fleet: 9 VMs, 5 need attention" out_first '^fleet: 9 VMs, 5 need attention (9 documents read, 0 skipped)$'
want_v=$(cd "$F" && jq -r .verdict kvm*/*.json | sort | uniq -c | awk '{ printf "%s %s,", $2, $1 }')
got_v=$(printf '%s\n' "$OUT" | sed -n 's/^  verdict: //p' | tr ',' '\n' | sed 's/^ //' | awk '$2 != 0 { printf "%s %s,", $1, $2 }' | tr ',' '\n' | sort | tr '\n' ',' | sed 's/^,//')
check "fleet: verdict counts are jq's over the same files" same "$got_v" "$(printf '%s' "$want_v" | tr ',' '\n' | sort | tr '\n' ',' | sed 's/^,//')"
want_o=$(cd "$F" && jq -r .result.outcome kvm*/*.json | sort | uniq -c | awk '{ printf "%s %s\n", $2, $1 }' | sort)
got_o=$(printf '%s\n' "$OUT" | sed -n 's/^  outcome: //p' | tr ',' '\n' | sed 's/^ //' | awk '$2 != 0' | sort)
check "fleet: outcome counts are jq's over the same files" same "$got_o" "$want_o"
check "fleet: names are paths below the folder, without .json" out_has '^  kvm2/vm-failed  '
check "fleet: worst first (failed, blocked, repair, then activation)" same \
	"$(printf '%s\n' "$OUT" | sed -n '/^  NAME/,$p' | sed 1d | awk '{ print $1 }' | tr '\n' ' ')" \
	"kvm2/vm-failed kvm2/vm-blocked kvm1/vm-stale kvm1/vm-live-pending kvm2/vm-unstaged "
check "fleet: failed: the failed step and its detail" out_has '^  kvm2/vm-failed .* step stage failed: .*rolled back$'
check "fleet: blocked: why, and what to do" out_has '^  kvm2/vm-blocked .*no upgrade detected.*--force'
check "fleet: live pending: activation not verified" out_has '^  kvm1/vm-live-pending .*activation not verified'
check "fleet: the backup ID of the failed run" out_has "^  kvm2/vm-failed .*  $(jq -r .result.backup_id "$F/kvm2/vm-failed.json")  "
check "twin: repaired and staged VMs are not listed" out_lacks '^  kvm[12]/vm-\(live\|pending\|staged\|healthy\) '

# --- not a khreset status document: named on stderr, skipped, never fatal ---
S=$T/skips
mkdir -p "$S/sub"
cp "$F/kvm1/vm-healthy.json" "$S/vm-healthy.json"
printf '{"name": "@khreset/web", "version": "1.0.0", "dependencies": {}}\n' >"$S/package.json"
jq '.tool.name = "otherthing"' "$F/kvm1/vm-stale.json" >"$S/sub/other-tool.json"
jq '.schema = 2' "$F/kvm1/vm-stale.json" >"$S/sub/schema2.json"
printf 'this is not JSON at all\n' >"$S/sub/notes.json"
printf '[1, 2, 3]\n' >"$S/array.json"
printf 'a README beside the documents\n' >"$S/README"
printf 'a temp file\n' >"$S/.vm-x.json.khtmp.123"
ln -s "$F/kvm1/vm-stale.json" "$S/link.json"
CASE=foreign
expect_exit 0 kh report "$S"
check "foreign: the khreset document is read" out_first '^fleet: 1 VM, 0 need attention (1 document read, 6 skipped)$'
check "foreign: another program's JSON named, skipped" err_has "^khreset: report: $S/package.json: not a khreset status document (no tool.name \"khreset\"), skipped\$"
check "foreign: a document of another tool named" err_has "^khreset: report: $S/sub/other-tool.json: not a khreset status document"
check "foreign: another schema named" err_has "$S/sub/schema2.json: not a khreset status document of schema 1, skipped"
check "foreign: a non-JSON file named, with jansson's reason and line" err_has "^khreset: report: $S/sub/notes.json: not JSON (line 1: .*), skipped\$"
check "foreign: a JSON array named" err_has "$S/array.json: not a khreset status document (a JSON array), skipped"
check "foreign: a link inside a folder is not followed" err_has "$S/link.json: not a regular file (a link is not followed), skipped"
check "twin: a file without .json in a folder is not read (not named)" err_lacks README
check "twin: a hidden (temp) file is not read" err_lacks khtmp
check "foreign: stdout has no trace of them" out_lacks 'package\|notes'
expect_exit 0 kh report "$S/README" "$F/kvm1/vm-healthy.json"
check "foreign: a file named on the command line is read whatever its name" err_has "^khreset: report: $S/README: not JSON (line 1: .*), skipped\$"
expect_exit 3 kh report "$S" "$F/kvm1/vm-stale.json"
check "twin: a stale VM among the foreign files still makes it exit 3" out_first '^fleet: 2 VMs, 1 needs attention (2 documents read, 6 skipped)$'
expect_exit 0 kh report "$T/no-such-folder" "$F/kvm1/vm-healthy.json"
check "a missing path: named, skipped" err_has "^khreset: report: $T/no-such-folder: not found, skipped\$\|no-such-folder: .*skipped"
expect_exit 65 kh report "$S/package.json" "$S/sub"
check "nothing but foreign files: exit 65, said so" err_has 'no khreset status document among the inputs'
check "twin: ... and nothing on stdout" same "$OUT" ""
printf '\357\273\277' >"$T/bom.json"
cat "$F/kvm1/vm-healthy.json" >>"$T/bom.json"
expect_exit 0 kh report "$T/bom.json"
check "a byte order mark (PowerShell's Out-File) before the document: read" out_first '^fleet: 1 VM'

# --- JSON lines: on stdin (-), and in a file ---
L=$T/lines.jsonl
for f in "$F"/kvm*/*.json; do jq -c . "$f"; done >"$L"
CASE=stdin
expect_exit 3 sh -c "'$KH' report - <'$L'"
check "stdin: every line a document" out_first '^fleet: 9 VMs, 5 need attention (9 documents read, 0 skipped)$'
check "stdin: named -:LINE" out_has '^  -:[0-9]  '
line_failed=$(grep -n '"exit_code":1,' "$L" | cut -d: -f1)
check "stdin: the failed run is named by its line" out_has "^  -:$line_failed  *repair  *failed"
{ head -n 2 "$L"; echo 'garbage here'; echo '{"a": 1}'; echo; tail -n +3 "$L"; } >"$T/mixed.jsonl"
expect_exit 3 sh -c "'$KH' report - <'$T/mixed.jsonl'"
check "stdin: a non-JSON line named by its number, skipped" err_has '^khreset: report: -:3: not JSON (line 1: .*), skipped$'
check "stdin: a foreign line named, skipped" err_has '^khreset: report: -:4: not a khreset status document'
check "twin: ... the other lines are all read (an empty line is no document)" out_first '^fleet: 9 VMs, 5 need attention (9 documents read, 2 skipped)$'
CASE="JSON lines file"
expect_exit 3 kh report "$L"
check "a JSON lines file: every line a document, named FILE:LINE" out_has "^  $T/lines:$line_failed  *repair  *failed"
cat "$F/kvm1/vm-healthy.json" "$F/kvm1/vm-stale.json" >"$T/two.json"
expect_exit 3 kh report "$T/two.json"
check "two indented documents one after the other: both read" out_first '^fleet: 2 VMs, 1 needs attention'
check "... the second named by the line it starts on" out_has "^  $T/two:$(($(wc -l <"$F/kvm1/vm-healthy.json") + 1))  *repair"
{ cat "$F/kvm1/vm-healthy.json"; echo '{ broken'; } >"$T/broken-tail.json"
expect_exit 0 kh report "$T/broken-tail.json"
check "a broken document after a good one: named by its line, the good one read" err_has "$T/broken-tail.json:$(($(wc -l <"$F/kvm1/vm-healthy.json") + 1)): not JSON"

# --- a name field wins; the same VM twice keeps its latest document ---
jq -c '. + {name: "kvm9/named"}' "$F/kvm1/vm-stale.json" >"$T/named.jsonl"
expect_exit 3 sh -c "'$KH' report - <'$T/named.jsonl'"
check "a document's name field names the VM" out_has '^  kvm9/named  *repair  *checked'
{ jq -c '. + {name: "kvm9/vm", time: "2026-01-01T00:00:00Z"}' "$F/kvm1/vm-stale.json"
  jq -c '. + {name: "kvm9/vm", time: "2026-01-02T00:00:00Z"}' "$F/kvm1/vm-healthy.json"; } >"$T/twice.jsonl"
expect_exit 0 sh -c "'$KH' report - <'$T/twice.jsonl'"
check "the same VM twice: its latest document (healthy) counts" out_first '^fleet: 1 VM, 0 need attention (2 documents read, 0 skipped)$'
tac "$T/twice.jsonl" >"$T/twice-rev.jsonl"
expect_exit 0 sh -c "'$KH' report - <'$T/twice-rev.jsonl'"
check "... whatever the order it was read in" out_first '^fleet: 1 VM, 0 need attention'
sed 's/2026-01-02/2025-12-31/' "$T/twice.jsonl" >"$T/older.jsonl"
expect_exit 3 sh -c "'$KH' report - <'$T/older.jsonl'"
check "twin: when the healthy document is the older, the stale one counts" out_has '^  kvm9/vm  *repair'

# --- a hostile document cannot write to the operator's terminal ---
jq -c '. + {name: "evil\u001b[2J\u001b]0;owned\u0007vm"}' "$F/kvm1/vm-stale.json" >"$T/evil.jsonl"
printf '\033[31mnot json\n' >>"$T/evil.jsonl"
expect_exit 3 sh -c "'$KH' report - <'$T/evil.jsonl'"
check "hostile: no control character reaches stdout" sh -c "! printf '%s' \"\$1\" | LC_ALL=C grep -q '[[:cntrl:]]'" _ "$(printf '%s' "$OUT" | tr -d '\n')"
check "hostile: ... the name shown with ? for them" out_has '^  evil?\[2J?\]0;owned?vm  '
check "hostile: no control character reaches stderr" sh -c "! printf '%s' \"\$1\" | LC_ALL=C grep -q '[[:cntrl:]]'" _ "$(printf '%s' "$ERR" | tr -d '\n')"
expect_exit 3 sh -c "'$KH' report --json - <'$T/evil.jsonl'"
check "twin: --json keeps the name as it is (escaped by JSON)" jq_is '.vms[0].name | test("\u001b")' true

# --- a fleet tool's record of a VM khreset could not check ---
printf '{"schema": 1, "tool": {"name": "khreset", "version": "%s"}, "time": "2026-12-01T10:00:00Z", "error": {"exit_code": 65, "message": "no Windows partition on vm-linux.qcow2"}}\n' "$KH_VERSION" >"$T/kvm2-vm-linux.json"
CASE="error record"
expect_exit 3 kh report "$T/kvm2-vm-linux.json" "$F"
check "error record: counted as outcome error" out_has '^  outcome: .*error 1$'
check "error record: first of the attention list, with the exit code and message" sh -c \
	"printf '%s\n' \"\$1\" | sed -n '/^  NAME/{n;p;}' | grep -q '^  $T/kvm2-vm-linux  *-  *error  *2026-12-01T10:00:00Z  *-  *khreset exit 65: no Windows partition on vm-linux.qcow2\$'" _ "$OUT"
jq '. + {verdict: "repair"}' "$T/kvm2-vm-linux.json" >"$T/verdict-only.json"
expect_exit 3 kh report "$T/verdict-only.json"
check "error record with a verdict but no result: still an error record" out_has 'error  .*khreset exit 65'
jq 'del(.error.exit_code)' "$T/kvm2-vm-linux.json" >"$T/half.json"
expect_exit 65 kh report "$T/half.json"
check "twin: an error record without its exit code is not one" err_has 'half.json: not a khreset status document (no verdict or result.outcome), skipped'

# --- --json, for tools ---
CASE=json
expect_exit 3 kh report --json "$F" "$S/package.json"
check "json: one document" is_json
check "json: the counts" jq_is '"\(.documents) \(.vms | length) \(.attention)"' "9 9 5"
check "json: verdict counts (jq over the files)" jq_is '.verdicts | to_entries | map(select(.value > 0) | "\(.key)=\(.value)") | sort | join(",")' \
	"$(cd "$F" && jq -r .verdict kvm*/*.json | sort | uniq -c | awk '{ printf "%s=%s\n", $2, $1 }' | sort | paste -sd,)"
check "json: worst first" jq_is '.vms[0] | "\(.name) \(.outcome) \(.attention)"' "kvm2/vm-failed failed true"
check "json: healthy last, no attention" jq_is '.vms[-1] | "\(.name) \(.attention) \(.backup_id)"' "kvm1/vm-healthy false null"
check "json: backup IDs as the documents have them" jq_is '[.vms[] | select(.backup_id) | .name] | sort | join(" ")' \
	"$(cd "$F" && for f in kvm*/*.json; do jq -e .result.backup_id "$f" >/dev/null && echo "${f%.json}"; done | sort | tr '\n' ' ' | sed 's/ $//')"
check "json: the time of each VM is its document's" jq_is '.vms[] | select(.name == "kvm1/vm-stale") | .time' "$(jq -r .time "$F/kvm1/vm-stale.json")"
check "json: the skipped file, with its reason" jq_is '.skipped[0].source' "$S/package.json"
check "json: the source of each VM" jq_is '.vms[] | select(.name == "kvm2/vm-blocked") | .source' "$F/kvm2/vm-blocked.json"
expect_exit 0 kh report --json "$G/vm-healthy.json"
check "twin: json, all healthy: attention 0" jq_is .attention 0

# --- --csv, for tools: python3's csv module reads it back ---
CASE=csv
expect_exit 3 kh report --csv "$F"
printf '%s\n' "$OUT" >"$T/fleet.csv"
kh report --json "$F"
printf '%s\n' "$OUT" >"$T/fleet-report.json"
csvpy() { python3 -c "$1" "$T/fleet.csv" "$T/fleet-report.json"; }
check "csv: python3's csv module reads a header and one row per VM, 10 fields each" csvpy '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["name", "verdict", "outcome", "attention", "why", "last_run", "backup_id", "exit_code", "mode", "source"], rows[0]
assert len(rows) == 10 and all(len(r) == 10 for r in rows), [len(r) for r in rows]'
check "csv: every field is what --json says (the why with its commas too)" csvpy '
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
doc = json.load(open(sys.argv[2]))
assert len(rows) == len(doc["vms"])
for r, v in zip(rows, doc["vms"]):
    for k in ("name", "outcome", "why", "mode", "source"):
        assert r[k] == v[k], (k, r[k], v[k])
    assert r["verdict"] == (v["verdict"] or "") and r["backup_id"] == (v["backup_id"] or "")
    assert r["last_run"] == v["time"] and int(r["exit_code"]) == v["exit_code"]
    assert r["attention"] == ("yes" if v["attention"] else "no")
assert any("," in r["why"] for r in rows)'
check "twin: split naively on commas, the rows would not have 10 fields" sh -c "awk -F, 'NF != 10 { bad = 1 } END { exit !bad }' '$T/fleet.csv'"

# --- the command line ---
CASE=usage
expect_exit 64 kh report
check "usage: no PATH: exit 64, said so" err_has 'report: needs PATH'
expect_exit 64 kh report --json --csv "$F"
check "usage: --json and --csv: exit 64" err_has 'json or --csv, not both'
expect_exit 64 kh report --root "$T" "$F"
check "usage: --root is refused" err_has 'root and --config are not used'
expect_exit 64 kh report --frob "$F"
check "usage: an unknown option named" err_has "unknown option '--frob'"
expect_exit 0 kh report --help
check "twin: report --help: its usage on stdout" out_first '^usage: khreset report PATH'

# --- many documents: every one counted (the time goes to make bench) ---
M=$T/many
mkdir -p "$M/kvm1"
for i in $(seq 1 500); do cp "$F/kvm1/vm-healthy.json" "$M/kvm1/vm-$i.json"; done
cp "$F/kvm1/vm-stale.json" "$M/kvm1/vm-stale.json"
CASE=many
expect_exit 3 kh report -q "$M"
check "many: 501 documents, each one VM" out_first '^fleet: 501 VMs, 1 needs attention (501 documents read, 0 skipped)$'
check "many: the one stale VM found" out_has '^  kvm1/vm-stale  '

finish
