#!/bin/sh
# test_status.sh - status.json at scale (issue 9, item 5): the document is
# written entry by entry, to stdout and to a temp file beside status.json
# that replaces it only when whole.  Checked with python3 (json, hashlib,
# os.listdir) and cmp; the kill is the crash harness's KHRESET_TEST_STOP_AT
# (SIGKILL once the first piece of the document is in the temp file).
. tests/lib.sh
N=3000
S=ProgramData/khreset/status.json

# fill DIR N: N more keyholder-shaped files (~600 bytes each), by python3
fill() {
	python3 - "$1" "$2" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    kid = "%08x-1111-4222-8333-%012x" % (i, i * 7919)
    with open(os.path.join(d, kid + ".xml"), "w") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\r\n<License xmlns="urn:schemas-'
                'microsoft-com:windows:store:licensing:ls"><Binding Binding_Type="KeyHolder"/>'
                '<KeyHolder><KeyId>%s</KeyId><Pad>%s</Pad></KeyHolder></License>\r\n'
                % (kid, "x" * 400))
EOF
}

# listed DOC DIR: the document's archive is DIR's entries, each with the
# sha256 python3 computes of its bytes
listed() {
	python3 - "$1" "$2" <<'EOF'
import hashlib, json, os, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
d = sys.argv[2]
want = {n: hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest()
        for n in os.listdir(d)}
got = {e["name"]: e["sha256"] for e in doc["archive"]}
if got != want:
    print("  archive: %d listed, %d on disk, %d differ" % (len(got), len(want),
          len(set(got.items()) ^ set(want.items()))), file=sys.stderr)
    sys.exit(1)
EOF
}

# the temp files a killed write left beside status.json
temps() { ls -A "$V/ProgramData/khreset" | grep '^\.status\.json\.khtmp\.' || true; }

fresh many
fixture "$N more archive entries" fill "$A" "$N"
expect_exit 3 kh --json check
check "the document on stdout is JSON" is_json
check "status.json is JSON" is_json "$V/$S"
check "status.json is what stdout got" cmp -s "$T/out" "$V/$S"
check "all $N + 2 entries in it" jq_is '.archive | length' "$((N + 2))" "$V/$S"
check "each entry named and digested as python3 sees it" listed "$V/$S" "$A"
check "its members in the order of SPEC section 4" jq_is '[keys_unsorted[]] | join(",")' \
	"schema,tool,mode,time,system,licence,bundle,archive,install,verdict,plan,result,registry,repair" "$V/$S"
check "no temp file left beside it" same "$(temps)" ""

# killed mid-write: the previous status.json stays whole
cp "$V/$S" "$T/before"
rm -f "$A/$OLD_KH"
expect_exit 137 env KHRESET_TEST_STOP_AT=report-write "$KH" --root "$V" --json check
check "killed check: status.json is the previous one, byte for byte" cmp -s "$T/before" "$V/$S"
check "killed check: it is still JSON" is_json "$V/$S"
tmp=$(temps)
check "killed check: the temp file was part-written" sh -c '
	[ -n "$1" ] && [ -s "$2/$1" ] && [ "$(wc -c <"$2/$1")" -lt "$(wc -c <"$3")" ] &&
	! jq -e . "$2/$1" >/dev/null 2>&1' - "$tmp" "$V/ProgramData/khreset" "$T/before"
expect_exit 137 env KHRESET_TEST_STOP_AT=report-write "$KH" --root "$V" --json run
check "killed run: status.json is the previous one, byte for byte" cmp -s "$T/before" "$V/$S"
# negative twin: the same check not killed replaces it, whole
rm -f "$V/ProgramData/khreset/$tmp"
expect_exit 3 kh --json check
check "not killed: status.json replaced (repaired offline: activation left)" \
	jq_is '.verdict' activate "$V/$S"
check "not killed: it is what stdout got" cmp -s "$T/out" "$V/$S"
check "not killed: the archive as repaired" listed "$V/$S" "$A"

# run and restore at scale: linear, a few flushes in all.  Counted with
# strace (fsync and fdatasync calls), not timed: the count at 1,000 entries
# is the count at 20 - before, every move cost a journal flush, two folder
# flushes and a flushed log line.
fsyncs() { # FILE: the flushes an strace -f -c summary counts
	awk '$NF == "fsync" || $NF == "fdatasync" { n += $4 } END { print n + 0 }' "$1"
}
# flushes N VERB...: the flushes of `khreset --root V VERB...` on a fresh
# volume with N more archive entries (the run before a restore not counted)
flushes() {
	n=$1
	shift
	fresh "flush$n" || return 1
	fill "$A" "$n"
	[ "$1" = restore ] && "$KH" --root "$V" run >/dev/null 2>&1
	strace -f -c -o "$T/strace.$n" -e trace=fsync,fdatasync "$KH" --root "$V" "$@" >/dev/null 2>&1
	fsyncs "$T/strace.$n"
}
if command -v strace >/dev/null 2>&1; then
	for verb in run "restore --latest"; do
		small=$(flushes 20 $verb)
		large=$(flushes 1000 $verb)
		check "$verb: the flushes at 1,000 more entries ($large) are those at 20 ($small)" \
			same "$large" "$small"
	done
	# the twin: the moves did happen, each entry in the backup, every byte
	fresh twin
	fill "$A" 1000
	sha256sum "$A"/* | sed "s|$A/||" | sort >"$T/before.sha"
	expect_exit 2 kh run
	bid=$(ls "$V/ProgramData/khreset/backup")
	check "the deferred flushes lose no move: the archive's 1,002 entries are in the backup" \
		sh -c '(cd "$1" && sha256sum -- *) | sort | cmp -s - "$2"' - \
		"$V/ProgramData/khreset/backup/$bid/archive" "$T/before.sha"
	expect_exit 0 kh restore --latest
	check "... and back in the archive after restore, byte for byte" \
		sh -c '(cd "$1" && sha256sum -- *) | sort | cmp -s - "$2"' - "$A" "$T/before.sha"
	check "the log names the first moves and counts the rest" \
		file_has "$V/Windows/Logs/khreset/khreset.log" "\\.\\.\\. and 982 more moved to backup"
else
	skip "strace not installed: the flush counts of run and restore at scale"
fi

finish
