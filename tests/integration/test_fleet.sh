#!/bin/sh
# test_fleet.sh - fleet/ (the Ansible collection) on the real engines:
# ansible-playbook --syntax-check and ansible-lint on every playbook; then
# two libvirt daemons this suite starts itself (one per "KVM host", each an
# unprivileged session daemon with its folders under the suite's own), the
# domains defined with virsh on real disk images (partition table by
# sfdisk, NTFS by mkntfs and filled through ntfs-3g, qcow2 by qemu-img) and
# never started, and an inventory of two local-connection hosts.  The
# domain discovery runs always; scan.yml and repair.yml need `khreset
# --image` (issue 9) and are skipped, saying so, while khreset has none.
# Every case has its negative twin.
. tests/lib.sh
FLEET=$TOP/fleet
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCAL_TEMP=$T/ansible-local ANSIBLE_REMOTE_TEMP=$T/ansible-remote
export ANSIBLE_HOME=$T/ansible-home ANSIBLE_GALAXY_TOKEN_PATH=$T/ansible-home/galaxy_token
export XDG_CACHE_HOME=$T/cache ANSIBLE_ROLES_PATH=$FLEET/roles

# --- the playbooks parse and are lint clean ---
for p in scan repair windows; do
	run ansible-playbook --syntax-check -i localhost, "$FLEET/$p.yml"
	check "syntax: ansible-playbook --syntax-check fleet/$p.yml" rc_is 0
done
mkdir -p "$T/broken"
cp -r "$FLEET/." "$T/broken/"
printf -- '- name: Broken\n  hosts: all\n  tasks:\n    - name: A task\n      ansible.builtin.command:\n        argv: [true]\n      loop: [1\n' >"$T/broken/scan.yml"
run ansible-playbook --syntax-check -i localhost, "$T/broken/scan.yml"
check "twin: a broken playbook fails --syntax-check" sh -c "[ $RC != 0 ]"
run sh -c "cd '$FLEET' && ansible-lint --offline --nocolor"
check "lint: ansible-lint --offline on fleet/ (Debian's ansible-lint): exit 0" rc_is 0
check "lint: passed" sh -c "printf '%s\n' \"\$1\" \"\$2\" | grep -q 'Passed with'" _ "$OUT" "$ERR"
mkdir -p "$T/lint"
cp -r "$FLEET/." "$T/lint/"
printf -- '\n- ansible.builtin.shell: echo unnamed\n' >>"$T/lint/roles/khreset_host/tasks/install.yml"
run sh -c "cd '$T/lint' && ansible-lint --offline --nocolor"
check "twin: a task without a name, shell for a command: ansible-lint fails" sh -c "[ $RC != 0 ]"
check "twin: ... naming the rules" sh -c "printf '%s\n' \"\$1\" \"\$2\" | grep -q 'name\[missing\]'" _ "$OUT" "$ERR"

# --- what a real libvirt and real disks need ---
need=""
[ "$(id -u)" = 0 ] || need="$need root"
for c in libvirtd virsh setpriv qemu-img sfdisk mkntfs ntfs-3g fusermount mkfs.ext4 ansible-playbook; do
	command -v "$c" >/dev/null 2>&1 || need="$need $c"
done
[ -c /dev/fuse ] || need="$need /dev/fuse"
[ -x /usr/bin/qemu-system-x86_64 ] || need="$need qemu-system-x86_64"
/usr/bin/python3 -c 'import libvirt' 2>/dev/null || need="$need python3-libvirt"
if [ -n "$need" ]; then
	skip "libvirt, disk images and the playbooks on them: this machine lacks$need (tests/deps.sh installs them, as root)"
	finish
	exit
fi

# --- two libvirt daemons, one per KVM host ---
. "$TOP/tests/fleet-fixture.sh"
for h in kvm1 kvm2; do start_libvirtd $h; done
for h in kvm1 kvm2; do
	fixture "libvirtd for $h listening" wait_for 30 test -S "$(sock $h)" || { lib_tail "$(cat "$LV/$h/log")"; finish; exit 1; }
	fixture "libvirtd for $h answers" wait_for 30 quiet virsh -c "$(uri $h)" list --all
done
run virsh -c "$(uri kvm1)" uri
check "libvirtd: a real daemon of this machine's libvirt, as nobody" sh -c "[ $RC = 0 ] && [ \"\$(ps -o user= -p \$(cat '$LV/kvm1/pid'))\" = nobody ]"

# --- real disk images: partition table, NTFS with the field case in it ---
fixture "disk kvm1/vm-healthy (qcow2)" mkdisk vm-healthy qcow2 healthy
fixture "disk kvm1/vm-stale (raw)" mkdisk vm-stale raw stale
fixture "disk kvm1/vm-dirty (raw, dirty SOFTWARE hive)" mkdisk vm-dirty raw dirty
fixture "disk kvm2/vm-stale2 (qcow2)" mkdisk vm-stale2 qcow2 stale
fixture "disk kvm2/vm-blocked (raw, no upgrade)" mkdisk vm-blocked raw blocked
fixture "disk kvm2/vm-linux (raw, ext4)" mkdisk vm-linux raw linux
check "disks: qemu-img sees qcow2" sh -c "qemu-img info --output=json '$DISKS/vm-stale2.qcow2' | jq -e '.format == \"qcow2\"' >/dev/null"
check "disks: sfdisk sees one NTFS partition at 1 MiB" sh -c "sfdisk -J '$DISKS/vm-stale.raw' | jq -e '.partitiontable.partitions == [{\"node\": \"$DISKS/vm-stale.raw1\", \"start\": 2048, \"size\": 129024, \"type\": \"7\"}]' >/dev/null"
check "twin: the Linux disk's partition is not NTFS" sh -c "sfdisk -J '$DISKS/vm-linux.raw' | jq -e '.partitiontable.partitions[0].type == \"83\"' >/dev/null"
for v in vm-healthy:qcow2 vm-stale:raw vm-dirty:raw; do fixture "define kvm1/${v%:*}" define kvm1 "${v%:*}" "$DISKS/${v%:*}.${v#*:}" "${v#*:}"; done
for v in vm-stale2:qcow2 vm-blocked:raw vm-linux:raw; do fixture "define kvm2/${v%:*}" define kvm2 "${v%:*}" "$DISKS/${v%:*}.${v#*:}" "${v#*:}"; done
run virsh -c "$(uri kvm2)" list --all --name
check "virsh: kvm2's domains defined" same "$(printf '%s\n' "$OUT" | grep . | sort | tr '\n' ' ')" "vm-blocked vm-linux vm-stale2 "
run virsh -c "$(uri kvm1)" domstate vm-stale
check "virsh: never started (shut off)" same "$OUT" "shut off"

# --- the inventory: two local-connection hosts, each with its libvirt ---
R=$T/reports
cat >"$T/hosts.yml" <<EOF
kvm_hosts:
  hosts:
    kvm1:
      khreset_libvirt_uri: "$(uri kvm1)"
    kvm2:
      khreset_libvirt_uri: "$(uri kvm2)"
  vars:
    ansible_connection: local
    ansible_python_interpreter: /usr/bin/python3
    khreset_install: false
    khreset_bin: $KH
all:
  vars:
    khreset_report_bin: $KH
    khreset_report_dir: $R
EOF
play() { run ansible-playbook -i "$T/hosts.yml" "$@"; }

# --- domain discovery (the role's domains.yml), with or without --image ---
cat >"$T/domains.yml" <<EOF
- name: Discover
  hosts: kvm_hosts
  gather_facts: false
  tasks:
    - name: The domains and their disks
      ansible.builtin.include_role:
        name: khreset_host
        tasks_from: domains
EOF
play "$T/domains.yml"
check "discovery: the play ran (exit 0)" rc_is 0
found() { /usr/bin/python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(" ".join("%s=%s:%s" % (v["name"], v["state"].replace(" ", "-"), ",".join(v["disks"])) for v in d["domains"]))' "$R/$1/domains.yml"; }
check "discovery: kvm1's domains, their state and disk (the CD-ROM is no candidate)" same "$(found kvm1)" \
	"vm-dirty=shut-off:$DISKS/vm-dirty.raw vm-healthy=shut-off:$DISKS/vm-healthy.qcow2 vm-stale=shut-off:$DISKS/vm-stale.raw"
check "discovery: kvm2's, from its own libvirtd" same "$(found kvm2)" \
	"vm-blocked=shut-off:$DISKS/vm-blocked.raw vm-linux=shut-off:$DISKS/vm-linux.raw vm-stale2=shut-off:$DISKS/vm-stale2.qcow2"
play "$T/domains.yml" -e khreset_disk=vdb
check "twin: khreset_disk=vdb (no such target): no candidate disk" same "$(found kvm1)" \
	"vm-dirty=shut-off: vm-healthy=shut-off: vm-stale=shut-off:"
play "$T/domains.yml" -e '{"khreset_domains_exclude": ["vm-dirty"]}'
check "twin: an excluded domain is not looked at" same "$(found kvm1 | tr ' ' '\n' | sed 's/=.*//' | tr '\n' ' ')" "vm-healthy vm-stale "
rm -rf "$R"

if ! "$KH" help 2>/dev/null | grep -q -- '--image'; then
	skip "scan.yml and repair.yml on the disks: $KH has no --image option yet (issue 9)"
	finish
	exit
fi

# --- scan.yml: every VM checked, nothing changed ---
digests() { (cd "$DISKS" && sha256sum -- *) ; }
before=$(digests)
play "$FLEET/scan.yml"
check "scan: exit 0" rc_is 0
check "scan: nothing changed on any host (recap)" sh -c "printf '%s\n' \"\$1\" | grep -E '^kvm[12] ' | grep -q 'changed=0' && ! printf '%s\n' \"\$1\" | grep -E '^kvm[12] ' | grep -qv 'changed=0'" _ "$OUT"
check "scan: the disk images unchanged, byte for byte" same "$(digests)" "$before"
check "scan: the play printed the report" out_has 'fleet: 6 VMs, 5 need attention'
check "scan: one document per VM, reports/HOST/VM.json" same "$(cd "$R" && ls */*.json | tr '\n' ' ')" \
	"kvm1/vm-dirty.json kvm1/vm-healthy.json kvm1/vm-stale.json kvm2/vm-blocked.json kvm2/vm-linux.json kvm2/vm-stale2.json "
check "scan: the healthy VM is healthy" jq_is .verdict healthy "$R/kvm1/vm-healthy.json"
check "scan: the stale VMs need repair" sh -c "jq -e '.verdict == \"repair\"' '$R/kvm1/vm-stale.json' '$R/kvm2/vm-stale2.json' >/dev/null"
check "scan: the VM without an upgrade is blocked" jq_is .verdict blocked "$R/kvm2/vm-blocked.json"
check "scan: the Linux VM: an error record, khreset's exit code" jq_is '.error.exit_code > 0' true "$R/kvm2/vm-linux.json"
run "$KH" report --json "$R"
check "scan: khreset report: exit 3 (VMs need attention)" rc_is 3
check "scan: the report names exactly the VMs needing attention" jq_is '[.vms[] | select(.attention) | .name] | sort | join(" ")' \
	"kvm1/vm-dirty kvm1/vm-stale kvm2/vm-blocked kvm2/vm-linux kvm2/vm-stale2"
check "twin: ... and not the healthy one" jq_is '[.vms[] | select(.attention | not) | .name] | join(" ")' "kvm1/vm-healthy"
check "scan: and wrote reports/fleet.csv" sh -c "python3 -c 'import csv, sys; r = list(csv.DictReader(open(sys.argv[1]))); assert len(r) == 6' '$R/fleet.csv'"

# --- repair.yml --check: nothing run ---
play "$FLEET/repair.yml" --check
check "repair --check: exit 0" rc_is 0
check "repair --check: the disk images unchanged" same "$(digests)" "$before"
check "repair --check: the stale VM still needs repair (its check)" jq_is .verdict repair "$R/kvm1/vm-stale.json"

# --- repair.yml: the stale ones repaired, the others left, with why ---
healthy_before=$(sha256sum <"$DISKS/vm-healthy.qcow2")
dirty_before=$(sha256sum <"$DISKS/vm-dirty.raw")
play "$FLEET/repair.yml"
check "repair: exit 0" rc_is 0
check "repair: the stale VMs repaired offline (outcome pending, a backup)" sh -c "jq -e '.result.outcome == \"pending\" and .result.backup_id != null' '$R/kvm1/vm-stale.json' '$R/kvm2/vm-stale2.json' >/dev/null"
check "repair: the healthy VM left alone, byte for byte" same "$(sha256sum <"$DISKS/vm-healthy.qcow2")" "$healthy_before"
check "repair: the dirty VM left alone, byte for byte" same "$(sha256sum <"$DISKS/vm-dirty.raw")" "$dirty_before"
run "$KH" report --json "$R"
check "repair: the report: the dirty VM needs attention, with the hive as the reason" jq_is \
	'[.vms[] | select(.name == "kvm1/vm-dirty") | .attention and (.why | test("dirty|SOFTWARE|hive"; "i"))] | .[0]' true
check "repair: the blocked VM left, its reason" jq_is '.vms[] | select(.name == "kvm2/vm-blocked") | .why | test("no upgrade")' true
check "twin: the repaired VMs need no attention" jq_is '[.vms[] | select(.name | test("stale")) | .attention] | unique | join(",")' false
after=$(digests)
play "$FLEET/repair.yml"
check "repair again: exit 0" rc_is 0
check "repair again: nothing changed (recap changed=0 on both hosts)" sh -c "[ \"\$(printf '%s\n' \"\$1\" | grep -E '^kvm[12] ' | grep -c 'changed=0')\" = 2 ]" _ "$OUT"
check "repair again: the disk images unchanged" same "$(digests)" "$after"

finish
