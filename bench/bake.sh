#!/bin/sh
# bake.sh - `khreset bake` against `wimlib-imagex update` doing the same adds
# on the same freshly copied two-image WIM of about 1 GB (random,
# incompressible data, generated here), plus bake time on a ~100 MB and the
# ~1 GB WIM: the cost should follow image metadata, not image data.
# Writes bench/bake-results.md (the lead merges it into bench/results.md).
# usage: bake.sh [WORK_DIR]   env BUILD (default build), BIG_MB (1024), SMALL_MB (100)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/tests/lib.sh"
BIG_MB=${BIG_MB:-1024}
SMALL_MB=${SMALL_MB:-100}
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/khreset-bench-bake.XXXXXX")}
RESULTS="$TOP/bench/bake-results.md"
mkdir -p "$WORK"
cd "$WORK"
on_exit 'rm -rf "$WORK"/tree-* "$WORK"/*.wim'

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# median of the arguments
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
RUNS=${RUNS:-3}
# best_of FN SRC: median of RUNS timings
best_of() { r=""; i=0; while [ $i -lt "$RUNS" ]; do r="$r $($1 "$2")"; i=$((i + 1)); done; median $r; }

# payload: the Linux binary stands in for khreset.exe
mkpayload payload "$KH"

# mkwim NAME MB: two images, the second the first plus one small file
mkwim() {
	t="tree-$1"
	rm -rf "$t" && mkdir -p "$t/Windows/System32" "$t/Windows/Setup/Scripts"
	n=$(($2 / 16))
	i=0
	while [ $i -lt $n ]; do
		head -c 16777216 /dev/urandom >"$t/Windows/System32/data$i.bin"
		i=$((i + 1))
	done
	printf '@echo off\r\necho vendor\r\n' >"$t/Windows/Setup/Scripts/SetupComplete.cmd"
	wimlib-imagex capture "$t" "$1.wim" "base" --compress=none >/dev/null
	echo extra >"$t/Windows/extra.txt"
	wimlib-imagex append "$t" "$1.wim" "customized" >/dev/null
	rm -rf "$t"
}

cat >cmds.txt <<EOF
add '$WORK/payload/khreset.exe' /Windows/Setup/Scripts/khreset/khreset.exe
add '$WORK/payload/khreset.ini' /Windows/Setup/Scripts/khreset/khreset.ini
add '$WORK/payload/bundle' /Windows/Setup/Scripts/khreset/bundle
rename /Windows/Setup/Scripts/SetupComplete.cmd /Windows/Setup/Scripts/SetupComplete.chained.cmd
add '$WORK/payload/SetupComplete.cmd' /Windows/Setup/Scripts/SetupComplete.cmd
EOF

# time_bake SRC: seconds for bake on a fresh copy
time_bake() {
	cp "$1.wim" run.wim && sync
	t0=$(now)
	"$KH" -q bake run.wim --payload payload >/dev/null
	t1=$(now)
	secs "$t0" "$t1"
}
# time_update SRC: seconds for the same adds with wimlib-imagex update, image by image
time_update() {
	cp "$1.wim" run.wim && sync
	t0=$(now)
	wimlib-imagex update run.wim 1 <cmds.txt >/dev/null
	wimlib-imagex update run.wim 2 <cmds.txt >/dev/null
	t1=$(now)
	secs "$t0" "$t1"
}

echo "bench: generating ${SMALL_MB} MB and ${BIG_MB} MB two-image WIMs in $WORK" >&2
mkwim small "$SMALL_MB"
mkwim big "$BIG_MB"
small_size=$(du -m small.wim | cut -f1)
big_size=$(du -m big.wim | cut -f1)

small_bake=$(best_of time_bake small)
big_update=$(best_of time_update big)
big_bake=$(best_of time_bake big)
ratio=$(awk -v a="$big_bake" -v b="$big_update" 'BEGIN { printf "%.2f", a / b }')

{
	echo "## bake (khreset $("$KH" version 2>/dev/null | head -n 1 | awk '{print $NF}'))"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPU(s), wimlib $(wimlib-imagex --version | head -n 1 | awk '{print $2}')."
	echo "Two-image WIMs of random (incompressible) data, image 2 = image 1 plus one file;"
	echo "the same adds (payload folder, SetupComplete.cmd, foreign script renamed aside) into both images."
	echo "bake re-opens the WIM and compares every added file; \`wimlib-imagex update\` commits once per image."
	echo "Each time is the median of $RUNS runs, each on a fresh copy of the WIM."
	echo
	echo "| WIM | size | khreset bake | wimlib-imagex update (x2) | bake / update |"
	echo "|---|---|---|---|---|"
	echo "| ~${BIG_MB} MB | ${big_size} MB | ${big_bake} s | ${big_update} s | ${ratio}x |"
	echo "| ~${SMALL_MB} MB | ${small_size} MB | ${small_bake} s | - | - |"
	echo
	echo "Bake time on ${small_size} MB vs ${big_size} MB: ${small_bake} s vs ${big_bake} s (append mode writes only the new"
	echo "file data and metadata; the existing file data is neither read nor rewritten)."
} >"$RESULTS"
cat "$RESULTS"
