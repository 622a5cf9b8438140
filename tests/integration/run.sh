#!/bin/sh
# run.sh - runs every tests/integration/test_*.sh and totals their results.
BUILD=${BUILD:-build}
export BUILD
pass=0
fail=0
bad=""
for t in tests/integration/test_*.sh; do
	echo "== $t"
	out=$(sh "$t" 2>&1)
	st=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	p=$(echo "$line" | cut -d' ' -f1)
	f=$(echo "$line" | cut -d' ' -f3)
	[ -n "$p" ] || { p=0; f=1; }
	[ "$st" = 0 ] || [ "$f" != 0 ] || f=1
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$st" = 0 ] || bad="$bad $t"
done
echo "integration: $pass passed, $fail failed${bad:+ (in$bad)}"
[ "$fail" = 0 ] && [ -z "$bad" ]
