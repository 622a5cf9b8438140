#!/bin/sh
# fleet.sh - scan.yml at scale on one KVM host: 10, 50 and 200 VM disks
# (copies of one field-case disk image, raw), khreset_check_parallel 1, 2
# and 4, side by side with the baseline of a shell loop running `khreset
# --image DISK --json check` on the same disks one after another (the cost
# without Ansible), outputs to /dev/null.  The host is a libvirt daemon of
# the suite's own (tests/fleet-fixture.sh), the domains never started.
# Writes bench/fleet-results.md (bench/run.sh adds it to results.md); says
# so and writes a "not measured" note while khreset has no --image.
# usage: fleet.sh   env BUILD (default build), COUNTS ("10 50 200"), PARALLEL ("1 2 4")
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
. tests/lib.sh
COUNTS=${COUNTS:-10 50 200}
PARALLEL=${PARALLEL:-1 2 4}
RESULTS=bench/fleet-results.md

if ! "$KH" help 2>/dev/null | grep -q -- '--image'; then
	{
		echo "## fleet: scan.yml at scale"
		echo
		echo "Not measured yet: \`khreset --image\` comes with the real-disks issue;"
		echo "\`bench/fleet.sh\` measures scan.yml on 10, 50 and 200 disks of one host"
		echo "with 1, 2 and 4 checks at once, against a shell loop of the same checks,"
		echo "once khreset has it."
	} >"$RESULTS"
	echo "bench/fleet.sh: $KH has no --image (issue 9): not measured; $RESULTS says so"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "bench/fleet.sh: needs root (libvirtd as nobody, ntfs-3g)" >&2; exit 1; }
. tests/fleet-fixture.sh
start_libvirtd kvm1
wait_for 30 test -S "$(sock kvm1)"
wait_for 30 quiet virsh -c "$(uri kvm1)" list --all

mkdisk one raw stale
max=0
for n in $COUNTS; do [ "$n" -gt "$max" ] && max=$n; done
i=1
while [ "$i" -le "$max" ]; do
	cp --sparse=always "$DISKS/one.raw" "$DISKS/vm-$i.raw"
	i=$((i + 1))
done
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
export ANSIBLE_NOCOLOR=1 ANSIBLE_HOME=$T/ansible-home ANSIBLE_LOCAL_TEMP=$T/ansible-local

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
{
	echo "## fleet: scan.yml at scale"
	echo
	av=$(ansible --version 2>/dev/null | sed -n 1p)
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, khreset $KH_VERSION, $av."
	echo "One KVM host (a libvirt daemon of the suite's own), N domains each on a"
	echo "copy of the field-case disk (raw, 64 MiB, NTFS), never started. Baseline:"
	echo "\`khreset --image DISK --json check\` on the same disks in a shell loop, one"
	echo "after another. One run each; seconds."
	echo
	h="| disks | loop (s) | loop per disk (s)"
	r="|---:|---:|---:"
	for p in $PARALLEL; do h="$h | scan.yml, $p at once (s)"; r="$r|---:"; done
	echo "$h | last / loop |"
	echo "$r|---:|"
} >"$RESULTS.tmp"
on_exit 'rm -f "$RESULTS.tmp"'
defined=0
for n in $COUNTS; do
	while [ "$defined" -lt "$n" ]; do
		defined=$((defined + 1))
		define kvm1 "vm-$defined" "$DISKS/vm-$defined.raw" raw
	done
	s=$(date +%s%N)
	i=1
	while [ "$i" -le "$n" ]; do
		"$KH" --image "$DISKS/vm-$i.raw" --json check >/dev/null 2>&1 || true
		i=$((i + 1))
	done
	loop=$(secs "$s" "$(date +%s%N)")
	row="| $n | $loop | $(awk -v a="$loop" -v n="$n" 'BEGIN { printf "%.2f", a / n }')"
	for p in $PARALLEL; do
		rm -rf "$T/reports"
		s=$(date +%s%N)
		ansible-playbook -i "$T/hosts.yml" fleet/scan.yml -e khreset_check_parallel="$p" >"$T/play.log" 2>&1 ||
			{ echo "bench/fleet.sh: scan.yml failed:" >&2; tail -n 20 "$T/play.log" >&2; exit 1; }
		t=$(secs "$s" "$(date +%s%N)")
		[ "$(ls "$T/reports/kvm1"/*.json | wc -l)" = "$n" ] ||
			{ echo "bench/fleet.sh: scan.yml brought back $(ls "$T/reports/kvm1"/*.json | wc -l) of $n documents" >&2; exit 1; }
		row="$row | $t"
		last=$t
	done
	echo "$row | $(awk -v a="$last" -v b="$loop" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') |" >>"$RESULTS.tmp"
	echo "n=$n: $row"
done
mv "$RESULTS.tmp" "$RESULTS"
echo "written to $RESULTS"
