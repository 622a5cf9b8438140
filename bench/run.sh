#!/bin/sh
# bench/run.sh - `check --json` on archives of 10, 1,000 and 100,000
# keyholder files, side by side with sha256sum over the same files (the
# floor: reading and hashing them), and `check` on the demo volume (time and
# peak RSS); then bench/bake.sh, bench/report.sh (report on 10,000 status
# documents) and bench/fleet.sh (scan.yml on up to 200 disks), each adding
# its results, and bench/firstboot.sh (the first boot's `run --wait 30` per
# stand-in mode).  Writes bench/results.md.  Not part of `make check`.
# SIZES (default "10 1000 100000") picks the archive sizes.
set -eu
. tests/lib.sh
W=$BUILD/bench
SIZES=${SIZES:-10 1000 100000}
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

# fill ARCH with N carried-over keyholder files (~600 bytes each)
fill() {
	perl -e '
		my ($dir, $n) = @ARGV;
		for my $i (1 .. $n) {
			my $id = sprintf("%08x-1111-4222-8333-%012x", $i, $i * 7919);
			open(my $f, ">", "$dir/$id.xml") or die;
			print $f "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<License xmlns=\"urn:schemas-microsoft-com:windows:store:licensing:ls\"><Binding Binding_Type=\"KeyHolder\"/><KeyHolder><KeyId>$id</KeyId><Level>carried</Level>"
				. ("<Pad>" . ("x" x 400) . "</Pad>") . "</KeyHolder></License>\r\n";
			close($f);
		}
		utime(1583053200, 1583053200, glob("$dir/*.xml"));
	' "$1" "$2"
}

{
	echo "# khreset benchmarks"
	echo
	echo "Run by \`make bench\` on $(date -u +%Y-%m-%d): $(nproc) cores,"
	echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
	echo "$(free -g | awk '/Mem:/ {print $2}') GiB RAM, Linux $(uname -r), $(stat -f -c %T "$W") file system."
	echo "Median of $REPS batches (mean of 10-20 runs per batch below 100,000 files), warm page cache. The floor is \`sha256sum\` over the"
	echo "same files (open, read, hash); khreset also lists the folder, parses every"
	echo "file as XML, classifies it and writes the status document."
	echo
	echo "## check --json vs. the sha256sum floor"
	echo
	echo "| archive files | khreset check --json (ms) | sha256sum (ms) | ratio | target |"
	echo "|---:|---:|---:|---:|---|"
} > "$RESULTS.tmp"

for n in $SIZES; do
	d=$W/n$n
	BUILD=$BUILD sh tests/mkvolume.sh "$d" >/dev/null 2>&1
	A=$d/vol/ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder
	rm -f "$A"/*
	fill "$A" "$n"
	# warm up, and the verdict the timed runs repeat: repair (exit 3)
	expect 3 "$KH" --root "$d/vol" --json check
	(cd "$A" && find . -type f -exec sha256sum {} + >/dev/null)
	b=1
	[ "$n" = 100000 ] || b=10
	kh=$(BATCH=$b median_ms "$KH" --root "$d/vol" --json check)
	fl=$(BATCH=$b median_ms sh -c "cd '$A' && find . -type f -exec sha256sum {} +")
	ratio=$(awk -v a="$kh" -v b="$fl" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	target=""
	[ "$n" = 100000 ] && target="<= 1.5x"
	echo "| $n | $kh | $fl | $ratio | $target |" >> "$RESULTS.tmp"
	echo "n=$n: khreset $kh ms, sha256sum $fl ms, ratio $ratio"
	[ "$n" = 100000 ] || rm -rf "$d"
done
rm -rf "$W/n100000"

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
mv "$RESULTS.tmp" "$RESULTS"
rm -rf "$W"
echo "written to $RESULTS"
