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

finish
