#!/bin/sh
# run.sh SECONDS BIN... - runs each libFuzzer target for SECONDS (make fuzz:
# FUZZ_SECONDS; make check: FUZZ_CHECK_SECONDS), on its seeds (read only)
# and its corpus under $FUZZ_BUILD (kept between runs); a crash, leak,
# timeout or broken invariant fails, naming the input libFuzzer saved.
# run.sh --probe CC: exit 0 if CC links a libFuzzer target, else say so
# loudly and exit 1.
set -eu
if [ "${1:-}" = --probe ]; then
	p=$(mktemp -d "${TMPDIR:-/tmp}/khreset-fuzz-probe.XXXXXX")
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$p/t.c"
	if "$2" -fsanitize=fuzzer,address,undefined -o "$p/t" "$p/t.c" >"$p/log" 2>&1; then
		rm -rf "$p"
		exit 0
	fi
	echo "************************************************************************" >&2
	echo "*** fuzz: '$2' cannot build a libFuzzer target (-fsanitize=fuzzer):" >&2
	sed 's/^/***   /' "$p/log" | head -n 5 >&2
	echo "*** the fuzz targets were NOT run; install clang (tests/deps.sh)" >&2
	echo "************************************************************************" >&2
	rm -rf "$p"
	exit 1
fi
SECONDS_EACH=$1
shift
FB=${FUZZ_BUILD:-build/fuzz}
BUILD=${BUILD:-build} sh tests/fuzz/seeds.sh "$FB/seeds"
mkdir -p "$FB/corpus" "$FB/crash" "$FB/log"
fail=0
for bin in "$@"; do
	name=$(basename "$bin")
	mkdir -p "$FB/corpus/$name" "$FB/seeds/$name"
	log=$FB/log/$name.log
	if "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$FB/crash/$name-" \
		"$FB/corpus/$name" "$FB/seeds/$name" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz: $name: ${runs:-?} inputs in ${SECONDS_EACH} s, no failure"
	else
		fail=1
		echo "fuzz: $name: FAILED (log $log)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" |
			head -n 6 | sed 's/^/  /'
	fi
done
exit $fail
