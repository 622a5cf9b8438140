# tests/lib.sh - the one dialect of every shell suite (sourced, POSIX sh,
# safe under set -eu).  Source it from the top of the repository
# (`. tests/lib.sh`) or set TOP to it first.
#
# A suite is a list of checks, one behaviour each, and ends with `finish`,
# which prints the closing line "N passed, N failed" and sets the status:
#   check NAME CMD...        ok when CMD succeeds
#   expect_exit CODE CMD...  runs CMD (see run) and checks its exit code;
#                            the check is named "CASE: CMD exits CODE"
#   quiet CMD...             CMD without its output (for fixture and check)
#   run CMD...               stdout in $OUT ($T/out), stderr in $ERR ($T/err),
#                            exit code in $RC; never stops the suite
#   kh ARGS...               run khreset: kh_exec, by default $KH with
#                            --root $V when V is set (a suite may redefine kh_exec)
#   fixture NAME CMD...      a step the checks rely on: silent when it works,
#                            a failure (and status 1) when it does not
#   skip NAME                a case this machine cannot run, said so
#   adopt STATUS FILE [PRE]  the ok / not ok lines of a sub-suite, counted here
# Assertions (for check; each says what it saw when it fails):
#   rc_is CODE, same GOT WANT, out_has RE, out_lacks RE, out_first RE,
#   err_has RE, err_lacks RE, file_has FILE RE, file_lacks FILE RE,
#   jq_is FILTER WANT [FILE] (default: $OUT), is_json [FILE], is_empty DIR,
#   is_link PATH
# Helpers: sum FILE, voldigest DIR, treedigest DIR..., wait_for SECONDS CMD...,
#   on_exit CMD, fresh NAME [ENV=VAL...], originals_back, regval KEY NAME,
#   hivedump HIVE, hivevalues HIVE, hive_is HIVE WANT [DUMPER],
#   mkpayload DIR EXE, $KH_VERSION (hook/khreset.h); for the demos: say TITLE [CMD].
# Variables: TOP, BUILD (absolute: $B), KH, T (a temporary folder, removed at
#   exit), CASE (the prefix of expect_exit's names; fresh sets it), STRIP_CR=1
#   (drop the CRs of Windows programs from $OUT and $ERR).
TOP=${TOP:-$(pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) B=$BUILD ;; *) B=$TOP/$BUILD ;; esac
KH=${KH:-$B/khreset}
KH_VERSION=$(sed -n 's/^#define KH_VERSION "\(.*\)"$/\1/p' "$TOP/hook/khreset.h")
PASS=0
FAIL=0
SKIP=0
CASE=
STRIP_CR=0
V=
T=$(mktemp -d "${TMPDIR:-/tmp}/khreset-test.XXXXXX")

LIB_AT_EXIT=
on_exit() { LIB_AT_EXIT="$LIB_AT_EXIT$1;"; }   # CMD: run at exit, before $T goes
lib_exit() {
	eval "$LIB_AT_EXIT"
	rm -rf "$T"
}
trap lib_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the field case (tests/mkvolume.sh) -------------------------------------
ARCH_REL=ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder
INST_REL=ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder
ROOT_KH=f912421d-3371-f33c-3cf8-22df25e5851f.xml
CHILD_KH=0c4e6f2a-7b1d-4e8a-9f3c-5d2e1a0b9c8d.xml
OLD_KH=61afd3c2-8e4b-4f0a-b1d2-7c9e5a3f1b60.xml

# --- results ----------------------------------------------------------------
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
notok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
skip() { SKIP=$((SKIP + 1)); echo "skip - $*"; }

check() { # NAME CMD...
	lib_name=$1
	shift
	if "$@"; then ok "$lib_name"; else notok "$lib_name"; fi
}

fixture() { # NAME CMD...
	lib_name=$1
	shift
	"$@" && return
	notok "fixture: $lib_name"
	return 1
}

finish() {
	[ "$SKIP" = 0 ] || echo "# $SKIP skipped"
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ]
}

# adopt STATUS FILE [PREFIX]: the results a sub-suite printed in FILE, each
# counted here (PREFIX before its name); a failing sub-suite that printed no
# failure is one.
adopt() {
	lib_st=$1 lib_pre=${3:-} lib_bad=$FAIL
	while IFS= read -r lib_l; do
		case $lib_l in
		"not ok "*) lib_l=${lib_l#not ok }; notok "$lib_pre${lib_l#*- }" ;;
		"ok "*) lib_l=${lib_l#ok }; ok "$lib_pre${lib_l#*- }" ;;
		"skip - "*) skip "$lib_pre${lib_l#skip - }" ;;
		*" passed, "*" failed") echo "# $lib_pre$lib_l" ;;
		*) echo "$lib_l" ;;
		esac
	done <"$2"
	[ "$lib_st" = 0 ] || [ "$FAIL" != "$lib_bad" ] || notok "${lib_pre}exits 0 (got $lib_st)"
}

# --- running commands -------------------------------------------------------
lib_read() { if [ "$STRIP_CR" = 1 ]; then tr -d '\r' <"$1"; else cat "$1"; fi; }

run() { # CMD...
	RC=0
	"$@" >"$T/out" 2>"$T/err" || RC=$?
	OUT=$(lib_read "$T/out")
	ERR=$(lib_read "$T/err")
}

quiet() { "$@" >/dev/null 2>&1; }   # CMD...: its status only

kh_exec() {
	if [ -n "$V" ]; then "$KH" --root "$V" "$@"; else "$KH" "$@"; fi
}
kh() { run kh_exec "$@"; }

# a command as the check names it: kh is khreset, paths lose $T and $TOP
lib_say() {
	[ "$1" = kh ] && { shift; set -- khreset "$@"; }
	printf "%s\n" "$*" | sed -e "s|$T/||g" -e "s|$TOP/||g"
}

expect_exit() { # CODE CMD...
	lib_want=$1
	shift
	run "$@"
	check "${CASE:+$CASE: }$(lib_say "$@") exits $lib_want" rc_is "$lib_want"
}

# --- assertions ---------------------------------------------------------------
lib_tail() { printf '%s\n' "$1" | tail -n 5 | sed 's/^/    /' >&2; }
rc_is() {
	[ "$RC" = "$1" ] && return
	echo "  expected exit $1, got $RC; stderr:" >&2
	lib_tail "$ERR"
	return 1
}
same() { [ "$1" = "$2" ] || { echo "  expected '$2', got '$1'" >&2; return 1; }; }
lib_has() { # WHAT TEXT RE
	printf '%s\n' "$2" | grep -q -- "$3" && return
	echo "  $1 lacks '$3':" >&2
	lib_tail "$2"
	return 1
}
lib_lacks() { # WHAT TEXT RE
	printf '%s\n' "$2" | grep -q -- "$3" || return 0
	echo "  $1 has '$3':" >&2
	printf '%s\n' "$2" | grep -- "$3" | head -n 3 | sed 's/^/    /' >&2
	return 1
}
out_has() { lib_has stdout "$OUT" "$1"; }
out_lacks() { lib_lacks stdout "$OUT" "$1"; }
err_has() { lib_has stderr "$ERR" "$1"; }
err_lacks() { lib_lacks stderr "$ERR" "$1"; }
out_first() { lib_has "stdout's first line" "$(printf '%s\n' "$OUT" | head -n 1)" "$1"; }
# file_has / file_lacks FILE RE: a missing file fails both
file_has() {
	[ -f "$1" ] || { echo "  no file $1" >&2; return 1; }
	grep -q -- "$2" "$1" || { echo "  $1 lacks '$2'" >&2; return 1; }
}
file_lacks() {
	[ -f "$1" ] || { echo "  no file $1" >&2; return 1; }
	! grep -q -- "$2" "$1" || { echo "  $1 has '$2'" >&2; return 1; }
}
jq_is() { # FILTER WANT [FILE]
	if [ $# -ge 3 ]; then
		lib_got=$(jq -r "$1" "$3" 2>&1)
	else
		lib_got=$(printf '%s' "$OUT" | jq -r "$1" 2>&1)
	fi
	[ "$lib_got" = "$2" ] || { echo "  jq '$1': expected '$2', got '$lib_got'" >&2; return 1; }
}
is_json() { # [FILE]: one JSON document (default: $OUT)
	if [ $# -ge 1 ]; then jq -e . "$1" >/dev/null; else printf '%s' "$OUT" | jq -e . >/dev/null; fi
}
is_empty() { # DIR: exists and holds nothing
	[ -d "$1" ] || { echo "  no folder $1" >&2; return 1; }
	[ -z "$(ls -A "$1")" ] || { echo "  $1 holds: $(ls -A "$1" | tr '\n' ' ')" >&2; return 1; }
}
is_link() { [ -L "$1" ] || { echo "  not a symbolic link: $1" >&2; return 1; }; }

# --- digests, waiting -----------------------------------------------------------
sum() { sha256sum <"$1" | cut -d' ' -f1; }

# voldigest DIR: everything on a volume except khreset's own state and log
voldigest() {
	(cd "$1" && find . \( -path ./ProgramData/khreset -o -path ./Windows/Logs \) -prune \
		-o \( -type f -o -type l -o -type d \) -print0 | sort -z |
		xargs -0 -I{} sh -c 'if [ -L "$1" ]; then echo "L $1 $(readlink "$1")";
			elif [ -d "$1" ]; then echo "D $1"; else echo "F $1 $(sha256sum < "$1")"; fi' _ {}) |
		sha256sum | cut -d' ' -f1
}

# treedigest DIR...: names, sizes, mtimes and contents of the files in each DIR
treedigest() {
	for lib_d in "$@"; do
		echo "== $lib_d"
		(cd "$lib_d" 2>/dev/null && find . -mindepth 1 -print | sort | while IFS= read -r lib_f; do
			if [ -f "$lib_f" ] && [ ! -L "$lib_f" ]; then
				echo "F $lib_f $(stat -c '%s %Y' "$lib_f") $(sha256sum <"$lib_f" | cut -d' ' -f1)"
			else
				echo "O $lib_f $(stat -c '%F %Y' "$lib_f")"
			fi
		done)
	done | sha256sum | cut -d' ' -f1
}

# wait_for SECONDS CMD...: polls CMD (10 times a second) until it succeeds;
# fails, saying so, when SECONDS pass first
wait_for() {
	lib_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$lib_end" ] || { echo "  still not true after the timeout: $*" >&2; return 1; }
		sleep 0.1
	done
}

# --- the field-case volume -------------------------------------------------------
# fresh NAME [ENV=VAL...]: a new field-case volume under $T/NAME: V (the
# volume), A (archive), I (install), d (the fixture: bundle/, keys/,
# reference/, originals.sha256); CASE=NAME
fresh() {
	d=$T/$1
	CASE=$1
	shift
	rm -rf "$d"
	V=$d/vol
	A=$V/$ARCH_REL
	I=$V/$INST_REL
	env "$@" BUILD="$BUILD" sh "$TOP/tests/mkvolume.sh" "$d" >"$T/mkvolume.log" 2>&1 && return
	notok "fixture: tests/mkvolume.sh made $d"
	lib_tail "$(cat "$T/mkvolume.log")"
	return 1
}
originals_back() { (cd "$A" && sha256sum -c --quiet "$d/originals.sha256") >/dev/null 2>&1; }
regval() { hivexget "$V/Windows/System32/config/SOFTWARE" "$1" "$2" 2>/dev/null; }
# hivedump HIVE: every key and value of a hive, as hivexregedit exports it;
# hivevalues HIVE: only its values, each after its key (empty keys left out);
# hive_is HIVE WANT [DUMPER]: the hive reads back as WANT (DUMPER's output,
# default hivedump); an unreadable hive fails
hivedump() { hivexregedit --export "$1" '\'; }
hivevalues() {
	hivedump "$1" | awk '/^\[/ { k = $0; next } /^"/ { print k " " $0 }'
}
hive_is() {
	hivedump "$1" >/dev/null 2>"$T/hive.err" ||
		{ echo "  hivexregedit cannot read $1: $(cat "$T/hive.err")" >&2; return 1; }
	lib_got=$(${3:-hivedump} "$1")
	[ "$lib_got" = "$2" ] && return
	echo "  $1 differs:" >&2
	printf '%s\n' "$2" >"$T/hive.want"
	printf '%s\n' "$lib_got" | diff "$T/hive.want" - | head -n 8 | sed 's/^/    /' >&2
	return 1
}

# --- demos ------------------------------------------------------------------------
say() { # TITLE [COMMAND]: a bold heading, then the command about to run
	printf '\n\033[1m== %s\033[0m\n' "$1"
	[ $# -lt 2 ] || printf '$ %s\n' "$2"
}

# --- media ---------------------------------------------------------------------------
# The keyholder of a sample payload bundle.
PAYLOAD_KH_XML='<?xml version="1.0" encoding="utf-8"?><License xmlns="urn:khreset:test"><Id>root</Id></License>'
# mkpayload DIR EXE: a bake payload (SPEC section 7): EXE as khreset.exe, the
# media khreset.ini and SetupComplete.cmd, an unsigned one-keyholder bundle
mkpayload() {
	rm -rf "$1"
	mkdir -p "$1/bundle" &&
	cp "$2" "$1/khreset.exe" &&
	cp "$TOP/setupcomplete/khreset.ini" "$TOP/setupcomplete/SetupComplete.cmd" "$1/" &&
	printf '%s' "$PAYLOAD_KH_XML" >"$1/bundle/$ROOT_KH" &&
	"$KH" -q bundle create "$1/bundle" >/dev/null
}
