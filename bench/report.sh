#!/bin/sh
# report.sh - `khreset report` on 1,000 and 10,000 status documents (a
# fleet's reports/HOST/VM.json folder, and the same documents as JSON lines
# on stdin), side by side with `jq -s` reading the same files (the
# baseline: parse every document, nothing else), both outputs to
# /dev/null.  The documents are khreset's own, from check and run on the
# field-case volume (healthy, stale, repaired offline, blocked), copied.
# Writes bench/report-results.md (bench/run.sh adds it to results.md).
# usage: report.sh   env BUILD (default build), COUNTS ("1000 10000"), REPS (5)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
. tests/lib.sh
COUNTS=${COUNTS:-1000 10000}
REPS=${REPS:-5}
RESULTS=bench/report-results.md
W=$T/report-bench
mkdir -p "$W/docs"

# median over REPS runs of the wall time in ms of "$@" (output discarded)
median_ms() {
	for _ in $(seq "$REPS"); do
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		e=$(date +%s%N)
		echo $(((e - s) / 10000))
	done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f\n", a[int((NR + 1) / 2)] / 100 }'
}

# four kinds of document, as khreset writes them
vol() { BUILD=$BUILD sh tests/mkvolume.sh "$W/$1" >/dev/null 2>&1; }
KH_HEALTHY=1 vol healthy && "$KH" --root "$W/healthy/vol" --json check >"$W/docs/healthy.json" || true
vol stale && "$KH" --root "$W/stale/vol" --json check >"$W/docs/stale.json" || true
vol repaired && "$KH" --root "$W/repaired/vol" --json run >"$W/docs/repaired.json" || true
KH_NO_UPGRADE=1 vol blocked && "$KH" --root "$W/blocked/vol" --json check >"$W/docs/blocked.json" || true
for k in healthy stale repaired blocked; do
	jq -e .verdict "$W/docs/$k.json" >/dev/null || { echo "bench: no $k document" >&2; exit 1; }
done
size=$(cat "$W"/docs/*.json | wc -c)

# fleet N: N documents in W/fN/hostH/vm-I.json, 100 VMs a host, 1 in 10
# stale, 1 in 50 blocked, 1 in 5 repaired offline, the rest healthy;
# and the same as JSON lines in W/fN.jsonl
fleet() {
	perl -e '
		my ($docs, $out, $n) = @ARGV;
		my %d;
		for my $k (qw(healthy stale repaired blocked)) {
			local $/;
			open(my $f, "<", "$docs/$k.json") or die;
			$d{$k} = <$f>;
		}
		open(my $jl, ">", "$out.jsonl") or die;
		for my $i (0 .. $n - 1) {
			my $h = sprintf("%s/host%02d", $out, $i / 100);
			mkdir $out; mkdir $h;
			my $k = $i % 50 == 7 ? "blocked" : $i % 10 == 3 ? "stale" : $i % 5 == 1 ? "repaired" : "healthy";
			open(my $f, ">", sprintf("%s/vm-%04d.json", $h, $i)) or die;
			print $f $d{$k};
			close($f);
			(my $line = $d{$k}) =~ s/\n\s*//g;
			print $jl $line, "\n";
		}' "$W/docs" "$W/f$1" "$1"
}

{
	echo "## report on many status documents"
	echo
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, khreset $KH_VERSION, $(jq --version)."
	echo "The documents are khreset's own (check and run on the field-case volume:"
	echo "healthy, stale, repaired offline, blocked; $((size / 4)) bytes each on average),"
	echo "copied into reports/hostNN/vm-NNNN.json, 100 a host. The baseline is"
	echo "\`jq -s .\` reading the same files (parse every document and print them"
	echo "again, nothing else); both outputs to /dev/null, warm page cache, median"
	echo "of $REPS runs each, measured side by side."
	echo
	echo "| documents | input | khreset report (ms) | jq -s (ms) | ratio | target |"
	echo "|---:|---|---:|---:|---:|---|"
} >"$RESULTS.tmp"
on_exit 'rm -f "$RESULTS.tmp"'

for n in $COUNTS; do
	fleet "$n"
	F=$W/f$n
	# the report sees every document and the expected attention (exit 3)
	"$KH" report --json "$F" >"$W/r.json" 2>/dev/null && { echo "bench: report exited 0" >&2; exit 1; }
	[ "$(jq .documents "$W/r.json")" = "$n" ] || { echo "bench: report read $(jq .documents "$W/r.json") of $n" >&2; exit 1; }
	find "$F" -name '*.json' | sort >"$W/files"
	xargs jq -s . <"$W/files" >/dev/null
	kf=$(median_ms "$KH" report "$F")
	jf=$(median_ms sh -c "xargs jq -s . <'$W/files'")
	kl=$(median_ms sh -c "'$KH' report - <'$F.jsonl'")
	jl=$(median_ms jq -s . "$F.jsonl")
	target=""
	[ "$n" = 10000 ] && target="well under 1-2 s"
	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
	echo "| $n | files in folders | $kf | $jf | $(ratio "$kf" "$jf") | $target |" >>"$RESULTS.tmp"
	echo "| $n | JSON lines on stdin | $kl | $jl | $(ratio "$kl" "$jl") | $target |" >>"$RESULTS.tmp"
	echo "n=$n: folders khreset $kf ms, jq $jf ms; stdin khreset $kl ms, jq $jl ms"
	rm -rf "$F" "$F.jsonl"
done
mv "$RESULTS.tmp" "$RESULTS"
echo "written to $RESULTS"
