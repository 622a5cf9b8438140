#!/bin/sh
# fleet.sh - scan.yml at scale on one KVM host: 10, 50 and 200 VM disks
# with khreset_check_parallel 1, 2 and 4, side by side with the baseline: a
# plain shell loop running the same `khreset --image DISK --json check` on
# the same disks one after another, its output to /dev/null (the cost
# without Ansible).  The disks are copies of one field-case disk (partition
# table + NTFS, tests/fleet-fixture.sh's mkdisk, stale), every other one
# qcow2, the others raw; copied sparse (and reflinked where the file system
# can).  The host is a libvirt daemon of the bench's own, the domains
# defined with virsh and never started.  After every scan.yml the documents
# and `khreset report --json` are checked (exactly the VMs defined, each
# needing repair); a wrong report stops the bench, it is not timed.  Records
# the load average before and after (the machine may be shared).
# Writes bench/fleet-results.md (bench/run.sh adds it to results.md); the
# play logs (with ansible.posix.profile_tasks' task times) stay in
# BUILD/bench-fleet/.  Needs root (ntfs-3g, qemu-storage-daemon's FUSE
# export, libvirtd as nobody).
# usage: fleet.sh   env BUILD (default build), COUNTS ("10 50 200"), PARALLEL ("1 2 4")
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
. tests/lib.sh
COUNTS=${COUNTS:-10 50 200}
PARALLEL=${PARALLEL:-1 2 4}
RESULTS=bench/fleet-results.md
LOGS=$B/bench-fleet

# what this machine lacks: not measured, said so, the last results kept
# (they carry their date); make bench goes on
need=""
[ "$(id -u)" = 0 ] || need="$need root"
"$KH" help 2>/dev/null | grep -q -- '--image' || need="$need khreset-with---image"
for c in libvirtd virsh qemu-storage-daemon qemu-img ntfs-3g mkntfs sfdisk ansible-playbook jq; do
	command -v "$c" >/dev/null 2>&1 || need="$need $c"
done
/usr/bin/python3 -c 'import libvirt' 2>/dev/null || need="$need python3-libvirt"
if [ -n "$need" ]; then
	echo "bench/fleet.sh: not measured, this machine lacks:$need (tests/deps.sh, as root); $RESULTS kept as it was" >&2
	exit 0
fi
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load)
start=$(date +%s)

. tests/fleet-fixture.sh
start_libvirtd kvm1
wait_for 30 test -S "$(sock kvm1)"
wait_for 30 quiet virsh -c "$(uri kvm1)" list --all

mkdisk field raw stale
qemu-img convert -f raw -O qcow2 "$DISKS/field.raw" "$DISKS/field.qcow2"
max=0
for n in $COUNTS; do [ "$n" -gt "$max" ] && max=$n; done
# disk I: vm-NNN.qcow2 for even I, vm-NNN.raw for odd
name() { printf 'vm-%03d' "$1"; }
fmt() { if [ $(($1 % 2)) = 0 ]; then echo qcow2; else echo raw; fi; }
disk() { echo "$DISKS/$(name "$1").$(fmt "$1")"; }
i=1
while [ "$i" -le "$max" ]; do
	cp --reflink=auto --sparse=always "$DISKS/field.$(fmt "$i")" "$(disk "$i")"
	i=$((i + 1))
done
used=$(du -sm "$DISKS" | cut -f1)
cat >"$T/hosts.yml" <<EOF
kvm_hosts:
  hosts:
    kvm1:
      khreset_libvirt_uri: "$(uri kvm1)"
      ansible_connection: local
      ansible_python_interpreter: /usr/bin/python3
      khreset_install: false
      khreset_bin: $KH
all:
  vars:
    khreset_report_bin: $KH
    khreset_report_dir: $T/reports
EOF
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_HOME=$T/ansible-home ANSIBLE_LOCAL_TEMP=$T/ansible-local ANSIBLE_REMOTE_TEMP=$T/ansible-remote
export XDG_CACHE_HOME=$T/cache ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
rm -rf "$LOGS"
mkdir -p "$LOGS"

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
div() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { printf f, (b > 0 ? a / b : 0) }'; }
# the same check as scan.yml runs, on disks 1..N, one after another;
# anything but exit 3 (the stale field case: repair) stops the bench
loop() {
	j=1
	while [ "$j" -le "$1" ]; do
		rc=0
		"$KH" --image "$(disk "$j")" --json check >/dev/null 2>&1 || rc=$?
		[ "$rc" = 3 ] || { echo "bench/fleet.sh: check of $(disk "$j") exited $rc, not 3" >&2; exit 1; }
		j=$((j + 1))
	done
}
# the reports scan.yml brought back: one document per VM defined, each
# `repair`, and khreset report naming exactly those VMs, all needing
# attention (exit 3)
reports_right() {
	want=$(j=1; while [ "$j" -le "$1" ]; do printf 'kvm1/%s\n' "$(name "$j")"; j=$((j + 1)); done)
	got=$(cd "$T/reports" && ls kvm1/*.json | sed 's/\.json$//')
	[ "$got" = "$want" ] || { echo "bench/fleet.sh: documents: $(echo "$got" | wc -l) of $1" >&2; return 1; }
	bad=$(cd "$T/reports/kvm1" && jq -r 'select(.verdict != "repair") | input_filename' -- *.json)
	[ -z "$bad" ] || { echo "bench/fleet.sh: not verdict repair: $bad" >&2; return 1; }
	rc=0
	"$KH" report --json "$T/reports" >"$T/report.json" || rc=$?
	[ "$rc" = 3 ] || { echo "bench/fleet.sh: khreset report exited $rc, not 3" >&2; return 1; }
	got=$(jq -r '.vms[] | select(.attention) | .name' "$T/report.json" | sort)
	[ "$got" = "$want" ] || { echo "bench/fleet.sh: the report names other VMs than defined" >&2; return 1; }
	[ "$(jq '[.vms[] | select(.attention | not)] | length' "$T/report.json")" = 0 ] ||
		{ echo "bench/fleet.sh: the report has VMs not needing attention" >&2; return 1; }
}

# breakdown N P...: a table of the task times in the play logs of N disks
breakdown() {
	bn=$1
	shift
	for bp in "$@"; do echo "$LOGS/scan-$bn-$bp.log"; done | /usr/bin/python3 -c '
import collections, re, sys
logs = sys.stdin.read().split()
ps = [re.search(r"-(\d+)\.log$", l).group(1) for l in logs]
tot = [collections.Counter() for _ in logs]
runs = collections.Counter()
for i, log in enumerate(logs):
    cur = prev = None
    for line in open(log):
        line = line.strip()
        m = re.match(r"^(TASK \[(.*)\]|PLAY.*) \*+$", line)
        if m:
            cur = m.group(2) or "-"
            continue
        m = re.search(r"\((\d+):(\d+):([\d.]+)\)\s+\S+ \*+$", line)
        if m and cur:
            if prev and prev != "-":
                tot[i][prev] += int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
                if i == 0:
                    runs[prev] += 1
            prev, cur = cur, None
whole = [sum(t.values()) for t in tot]
print("| task | runs at 1 at once | " + " | ".join("%s at once (s)" % p for p in ps) + " |")
print("|---|---:|" + "---:|" * len(ps))
for k, _ in tot[0].most_common():
    if max(t[k] / w for t, w in zip(tot, whole)) < 0.01:
        continue
    print("| %s | %d | %s |" % (k.split(" : ")[-1], runs[k], " | ".join("%.1f" % t[k] for t in tot)))
print("| **all tasks** | | %s |" % " | ".join("%.1f" % w for w in whole))
'
}

rows=""
defined=0
for n in $COUNTS; do
	while [ "$defined" -lt "$n" ]; do
		defined=$((defined + 1))
		define kvm1 "$(name "$defined")" "$(disk "$defined")" "$(fmt "$defined")"
	done
	for p in $PARALLEL; do
		# the baseline right before each scan.yml: both under the same load
		la=$(cut -d' ' -f1 /proc/loadavg)
		s=$(now)
		loop "$n"
		lt=$(secs "$s" "$(now)")
		rm -rf "$T/reports"
		log=$LOGS/scan-$n-$p.log
		s=$(now)
		ansible-playbook -i "$T/hosts.yml" fleet/scan.yml -e khreset_check_parallel="$p" >"$log" 2>&1 ||
			{ echo "bench/fleet.sh: scan.yml failed ($log):" >&2; tail -n 20 "$log" >&2; exit 1; }
		t=$(secs "$s" "$(now)")
		reports_right "$n" || { echo "bench/fleet.sh: wrong reports after scan.yml ($log)" >&2; exit 1; }
		rows="$rows| $n | $p | $la | $t | $(div "$t" "$n" %.2f) | $lt | $(div "$lt" "$n" %.2f) | $(div "$t" "$lt" %.1f) |
"
		eval "pd_${n}_$p=\$(div \"\$t\" \"\$n\" %.3f)"
		echo "n=$n p=$p: loop $lt s, scan.yml $t s (load $la)"
	done
done
load_after=$(load)
mins=$((($(date +%s) - start + 59) / 60))

{
	echo "## fleet: scan.yml at scale"
	echo
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, khreset $KH_VERSION, $(ansible --version 2>/dev/null | sed -n 1p),"
	echo "$(qemu-storage-daemon --version | sed -n 1p), $(ntfs-3g --version 2>&1 | sed -n 1p | cut -d' ' -f1-2)."
	echo "One KVM host (a libvirt daemon of the bench's own), N domains defined with"
	echo "virsh, never started, each on its own copy of the field-case disk (64 MiB,"
	echo "partition table + NTFS, stale: every check says repair), every other one"
	echo "qcow2, the others raw, copied sparse ($used MiB on disk for $max disks)."
	echo "scan.yml with khreset_check_parallel 1, 2 and 4 (Ansible's local"
	echo "connection, the controller and the host on the same machine); the"
	echo "baseline is a shell loop running the same \`khreset --image DISK --json"
	echo "check\` on the same disks one after another, output to /dev/null."
	echo "After every scan.yml the documents and \`khreset report\` were checked:"
	echo "exactly the N VMs defined, each needing repair.  One run each; seconds,"
	echo "wall time; the loop is run again right before each scan.yml, so each"
	echo "ratio is of two runs under the same load.  The machine (2 cores) was"
	echo "shared with other jobs: load average $load_before before,"
	echo "$load_after after ($mins minutes in all); the 1-minute load at each"
	echo "row's start is in the table."
	echo
	echo "| disks | at once | load (1 min) | scan.yml (s) | per disk (s) | loop (s) | loop per disk (s) | scan.yml / loop |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s' "$rows"
	lo=${COUNTS%% *} hi=${COUNTS##* }
	if [ "$lo" != "$hi" ]; then
		g="Growth: scan.yml's time per disk at $hi disks over that at $lo:"
		for p in $PARALLEL; do
			eval "a=\$pd_${lo}_$p b=\$pd_${hi}_$p"
			g="$g $(div "$b" "$a" %.2f)x with $p at once,"
		done
		printf '\n%s\n' "${g%,}."
	fi
	echo
	echo "Where scan.yml's time goes at $hi disks (ansible.posix.profile_tasks,"
	echo "seconds summed over each task's runs; the tasks over 1% of the play):"
	echo
	breakdown "$hi" $PARALLEL
} >"$RESULTS"
echo "written to $RESULTS (play logs in $LOGS)"
