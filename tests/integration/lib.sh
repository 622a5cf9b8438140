# lib.sh - shared helpers for the integration tests (sourced, POSIX sh).
# Each test file calls ok/fail through `check`, and `finish` prints the
# closing "N passed, N failed" line and sets the exit status.
BUILD=${BUILD:-build}
KH=${KH:-$(pwd)/$BUILD/khreset}
TOP=$(pwd)
PASS=0
FAIL=0
T=$(mktemp -d "${TMPDIR:-/tmp}/khreset-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

ARCH_REL=ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder
INST_REL=ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder
ROOT_KH=f912421d-3371-f33c-3cf8-22df25e5851f.xml
OLD_KH=61afd3c2-8e4b-4f0a-b1d2-7c9e5a3f1b60.xml

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
notok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }

# check NAME CMD...: passes when CMD succeeds.
check() {
	name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}

finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ]
}

# fresh NAME [ENV=VAL...]: a new field-case volume under $T/NAME
fresh() {
	d=$T/$1
	shift
	rm -rf "$d"
	env "$@" BUILD="$BUILD" sh "$TOP/tests/mkvolume.sh" "$d" >/dev/null 2>&1 || {
		echo "mkvolume failed for $d" >&2
		return 1
	}
	V=$d/vol
	A=$V/$ARCH_REL
	I=$V/$INST_REL
}

# kh ARGS...: runs khreset on $V; exit code in $RC, stdout in $OUT, stderr in $ERR.
kh() {
	"$KH" --root "$V" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# A digest of everything on the volume except khreset's own state and log.
voldigest() {
	(cd "$1" && find . \( -path ./ProgramData/khreset -o -path ./Windows/Logs \) -prune \
		-o \( -type f -o -type l -o -type d \) -print0 | sort -z |
		xargs -0 -I{} sh -c 'if [ -L "$1" ]; then echo "L $1 $(readlink "$1")";
			elif [ -d "$1" ]; then echo "D $1"; else echo "F $1 $(sha256sum < "$1")"; fi' _ {}) |
		sha256sum | cut -d' ' -f1
}

rc_is() { [ "$RC" = "$1" ] || { echo "  expected exit $1, got $RC; stderr: $ERR" >&2; return 1; }; }
err_has() { printf '%s' "$ERR" | grep -q -- "$1" || { echo "  stderr lacks '$1': $ERR" >&2; return 1; }; }
out_has() { printf '%s' "$OUT" | grep -q -- "$1" || { echo "  stdout lacks '$1'" >&2; return 1; }; }
jq_is() { # FILTER EXPECTED (on $OUT)
	got=$(printf '%s' "$OUT" | jq -r "$1" 2>/dev/null)
	[ "$got" = "$2" ] || { echo "  jq '$1': expected '$2', got '$got'" >&2; return 1; }
}
same() { [ "$1" = "$2" ] || { echo "  expected '$2', got '$1'" >&2; return 1; }; }
originals_back() { (cd "$A" && sha256sum -c --quiet "$d/originals.sha256") >/dev/null 2>&1; }
regval() { hivexget "$V/Windows/System32/config/SOFTWARE" "$1" "$2" 2>/dev/null; }
