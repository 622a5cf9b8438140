#!/bin/sh
# scale.sh - khreset at 10, 1,000 and 100,000 archive entries (issue 9,
# item 5), each side by side with a baseline over the same files, both
# outputs to /dev/null, warm page cache (each is run once before it is
# timed):
#   check --json  vs  find ARCHIVE -type f -print0 | xargs -0 sha256sum
#                 (read and hash every file; khreset also lists the folder,
#                 parses every file as XML and writes status.json)
#   run           vs  find ARCHIVE -type f -print0 | xargs -0 mv -t DIR
#   restore       vs  the same mv back
#                 (mv renames and nothing else; khreset journals each move
#                 and flushes it, digests each file before and after, writes
#                 the bundle and the hives, and status.json)
# Time and peak RSS of khreset by /usr/bin/time (-f "%e %M").  check is the
# median of REPS runs; run and restore are timed once per size (each run is
# put back by the restore timed after it).  Writes bench/scale-results.md
# (bench/run.sh adds it to results.md).
# usage: scale.sh   env BUILD (default build), SIZES ("10 1000 20000 100000"), REPS (5)
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
. tests/lib.sh
SIZES=${SIZES:-10 1000 20000 100000}
REPS=${REPS:-5}
RESULTS=bench/scale-results.md
W=$T/scale-bench
mkdir -p "$W"

# secs CMD...: wall seconds of CMD, output discarded (3 decimals)
secs() {
	s=$(date +%s%N)
	"$@" >/dev/null 2>&1 || true
	e=$(date +%s%N)
	awk -v d=$((e - s)) 'BEGIN { printf "%.3f\n", d / 1e9 }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
# rss CMD...: peak RSS of CMD in MB (one run, output discarded)
rss() {
	/usr/bin/time -f %M -o "$W/rss" "$@" >/dev/null 2>&1 || true
	tail -n1 "$W/rss" | awk '{ printf "%.1f\n", $1 / 1024 }'
}
sha_all() { find "$1" -type f -print0 | xargs -0 sha256sum; }
mv_all() { find "$1" -type f -print0 | xargs -0 mv -t "$2"; }

# fill DIR N: N carried-over keyholder files (~600 bytes each)
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

# must CODE CMD...: CMD exits CODE, else the benchmark stops (a failing
# verb is not timed)
must() {
	want=$1
	shift
	run "$@"
	[ "$RC" = "$want" ] && return
	echo "bench: $(lib_say "$@") exited $RC, not $want:" >&2
	printf '%s\n' "$ERR" >&2
	exit 1
}

{
	echo "## scale: check, run and restore at 10 to 100,000 archive entries"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
	echo "$(free -g | awk '/Mem:/ {print $2}') GiB RAM, Linux $(uname -r), $(stat -f -c %T "$W") file system;"
	echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared with other jobs)."
	echo "Each khreset verb is measured side by side with a baseline over the same"
	echo "files, both outputs to /dev/null, warm page cache.  check --json: median of"
	echo "$REPS runs against \`find ARCHIVE -type f -print0 | xargs -0 sha256sum\`."
	echo "run and restore: one run each against \`xargs -0 mv -t\` of the same files"
	echo "(there and back): mv only renames, while khreset digests every entry,"
	echo "journals every move (see below), stages the bundle and writes"
	echo "the hives and status.json."
	echo
	echo "| entries | verb | khreset (s) | baseline (s) | ratio | khreset peak RSS (MB) | target |"
	echo "|---:|---|---:|---:|---:|---:|---|"
} >"$RESULTS.tmp"
on_exit 'rm -f "$TOP/$RESULTS.tmp"'

for n in $SIZES; do
	d=$W/n$n
	BUILD=$BUILD sh tests/mkvolume.sh "$d" >/dev/null 2>&1
	V=$d/vol
	A=$V/$ARCH_REL
	rm -f "$A"/*
	fill "$A" "$n"
	# warm up, and the verdict the timed runs repeat: repair (exit 3)
	must 3 "$KH" --root "$V" --json check
	sha_all "$A" >/dev/null
	for _ in $(seq "$REPS"); do
		echo "$(secs "$KH" --root "$V" --json check) $(secs sha_all "$A")"
	done >"$W/times"
	kh=$(cut -d' ' -f1 "$W/times" | median)
	fl=$(cut -d' ' -f2 "$W/times" | median)
	mb=$(rss "$KH" --root "$V" --json check)
	t=""
	[ "$n" = 100000 ] && t="<= 1.5x, < 64 MB"
	echo "| $n | check --json | $kh | $fl | $(ratio "$kh" "$fl") | $mb | $t |" >>"$RESULTS.tmp"
	echo "n=$n check: khreset $kh s, sha256sum $fl s, peak $mb MB"

	mkdir -p "$d/moved"
	mvt=$(secs mv_all "$A" "$d/moved")
	mvb=$(secs mv_all "$d/moved" "$A")
	/usr/bin/time -f "%e %M" -o "$W/run" "$KH" --root "$V" --json run >/dev/null 2>&1 || true
	/usr/bin/time -f "%e %M" -o "$W/restore" "$KH" --root "$V" --json restore --latest \
		>/dev/null 2>&1 || true
	[ "$(ls "$A" | wc -l)" = "$n" ] || { echo "bench: restore did not put the $n entries back" >&2; exit 1; }
	if [ "$n" = 1000 ] && command -v strace >/dev/null 2>&1; then
		# where run's time goes: the flushes, counted by strace
		strace -f -c -o "$W/strace" -e trace=fsync,fdatasync "$KH" --root "$V" --json run \
			>/dev/null 2>&1 || true
		PER=$(tail -n1 "$W/run" | awk -v n="$n" '{ printf "%.1f", $1 * 1000 / n }')
		FSYNCS=$(awk '$NF == "fsync" || $NF == "fdatasync" { c += $4 } END { print c + 0 }' "$W/strace")
		"$KH" --root "$V" --json restore --latest >/dev/null 2>&1 || true
	fi
	for v in run restore; do
		s=$(tail -n1 "$W/$v" | cut -d' ' -f1)
		b=$mvt
		[ "$v" = restore ] && b=$mvb
		m=$(tail -n1 "$W/$v" | awk '{ printf "%.1f", $2 / 1024 }')
		echo "| $n | $v | $s | $b | $(ratio "$s" "$b") | $m | |" >>"$RESULTS.tmp"
		echo "n=$n $v: khreset $s s, mv $b s, peak $m MB"
	done
	rm -rf "$d"
done
{
	echo
	[ -z "${FSYNCS:-}" ] || echo "run at 1,000 entries called fsync $FSYNCS times (strace -c), a fixed" \
		"number: the moves of a folder are journalled in one flush before the first"
	echo "is done and the folders flushed once after the renames (SPEC section 8,"
	echo "the journal), so run and restore grow linearly with the entries at the"
	echo "cost of a rename and two digests each: ${PER:-?} ms an entry at 1,000 entries"
	echo "here.  (Before, every move was flushed on its own - its journal record,"
	echo "both folders, its log line: 4 fsyncs an entry, 150 s for run at 100,000.)"
	echo
} >>"$RESULTS.tmp"
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)." >>"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo "written to $RESULTS"
