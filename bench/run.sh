#!/bin/sh
# bench/run.sh - bench/scale.sh (check --json, run and restore at 10, 1,000
# and 100,000 archive entries, each against a baseline over the same files),
# `check` on the demo volume (time and peak RSS); then bench/bake.sh,
# bench/report.sh (report on 10,000 status documents), bench/fleet.sh
# (scan.yml on up to 200 disks) and bench/firstboot.sh (the first boot's
# `run --wait 30` per stand-in mode), each adding its results.  Writes
# bench/results.md.  Not part of `make check`.
# SIZES (default "10 1000 100000") picks the archive sizes (scale.sh).
set -eu
. tests/lib.sh
W=$BUILD/bench
SIZES=${SIZES:-10 1000 20000 100000}
RESULTS=bench/results.md
REPS=${REPS:-5}
on_exit 'rm -f "$RESULTS.tmp"'
rm -rf "$W"
mkdir -p "$W"

# expect CODE CMD...: CMD exits CODE, else the benchmark stops (a failing
# verb is not timed)
expect() {
	want=$1
	shift
	run "$@"
	[ "$RC" = "$want" ] && return
	echo "bench: $(lib_say "$@") exited $RC, not $want:" >&2
	printf '%s\n' "$ERR" >&2
	exit 1
}

# median over REPS batches of the mean wall time in ms of BATCH runs of
# "$@" (output discarded); batching keeps the clock reads out of short runs
median_ms() {
	batch=${BATCH:-1}
	for _ in $(seq "$REPS"); do
		s=$(date +%s%N)
		for _ in $(seq "$batch"); do "$@" >/dev/null 2>&1 || true; done
		e=$(date +%s%N)
		echo $(((e - s) / 10000 / batch))
	done | sort -n | awk '{a[NR]=$1} END {printf "%.1f\n", a[int((NR+1)/2)] / 100}'
}

{
	echo "# khreset benchmarks"
	echo
	echo "Run by \`make bench\` on $(date -u +%Y-%m-%d): $(nproc) cores,"
	echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
	echo "$(free -g | awk '/Mem:/ {print $2}') GiB RAM, Linux $(uname -r), $(stat -f -c %T "$W") file system."
	echo "Each section says what it measures and against which baseline."
} > "$RESULTS.tmp"

if [ "${BENCH_SCALE:-1}" = 1 ]; then
	SIZES=$SIZES BUILD=$BUILD sh bench/scale.sh || { echo "bench: scale.sh failed" >&2; exit 1; }
fi
[ -f bench/scale-results.md ] && { echo; cat bench/scale-results.md; } >> "$RESULTS.tmp"

d=$W/demo
BUILD=$BUILD sh tests/mkvolume.sh "$d" >/dev/null 2>&1
expect 3 "$KH" --root "$d/vol" check
ms=$(BATCH=20 median_ms "$KH" --root "$d/vol" check)
rss=$(/usr/bin/time -f %M "$KH" --root "$d/vol" check 2>&1 >/dev/null | tail -n1)
{
	echo
	echo "## check on the demo volume (the field case)"
	echo
	echo "| measure | result | target |"
	echo "|---|---:|---|"
	echo "| wall time (median) | $ms ms | < 20 ms |"
	echo "| peak RSS | $((rss / 1024)).$(((rss % 1024) * 10 / 1024)) MB | < 10 MB |"
} >> "$RESULTS.tmp"
echo "demo check: $ms ms, peak RSS $rss KiB"
if [ -f build/win/khreset.map ] && [ -f build/win/khreset.exe ]; then
	{
		echo
		echo "## khreset.exe size by library (stripped; target about 3 MB)"
		echo
		sh win/size-report.sh build/win/khreset.map build/win/khreset.exe
	} >> "$RESULTS.tmp"
fi
if [ "${BENCH_BAKE:-1}" = 1 ]; then
	# a failed bake benchmark stops here: the old bake-results.md would be
	# reported as this run's
	BUILD=$BUILD sh bench/bake.sh || { echo "bench: bake.sh failed" >&2; exit 1; }
fi
[ -f bench/bake-results.md ] && { echo; cat bench/bake-results.md; } >> "$RESULTS.tmp"
if [ "${BENCH_REPORT:-1}" = 1 ]; then
	BUILD=$BUILD sh bench/report.sh || { echo "bench: report.sh failed" >&2; exit 1; }
fi
[ -f bench/report-results.md ] && { echo; cat bench/report-results.md; } >> "$RESULTS.tmp"
if [ "${BENCH_FLEET:-1}" = 1 ]; then
	BUILD=$BUILD sh bench/fleet.sh || { echo "bench: fleet.sh failed" >&2; exit 1; }
fi
[ -f bench/fleet-results.md ] && { echo; cat bench/fleet-results.md; } >> "$RESULTS.tmp"
if [ "${BENCH_FIRSTBOOT:-1}" = 1 ]; then
	BUILD=$BUILD sh bench/firstboot.sh || { echo "bench: firstboot.sh failed" >&2; exit 1; }
fi
[ -f bench/firstboot-results.md ] && { echo; cat bench/firstboot-results.md; } >> "$RESULTS.tmp"
# the Wine first-boot table: measured by bench/firstboot-wine.sh, kept
[ -f bench/firstboot-wine-results.md ] && { echo; cat bench/firstboot-wine-results.md; } >> "$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
rm -rf "$W"
echo "written to $RESULTS"
