# tests/fleet-fixture.sh - the fleet suite's fixtures, sourced after
# tests/lib.sh (test_fleet.sh, bench/fleet.sh): libvirt daemons of the
# suite's own and real disk images.
#   start_libvirtd HOST     an unprivileged (session) libvirtd as nobody, its
#                           folders in $LV/HOST; uri HOST, sock HOST reach it
#   mkdisk NAME FMT KIND    $DISKS/NAME.FMT (raw|qcow2): a partition table
#                           (sfdisk), NTFS (mkntfs) holding the field case
#                           (tests/mkvolume.sh, copied in through ntfs-3g);
#                           KIND stale, healthy, blocked (no upgrade), dirty
#                           (stale; the SOFTWARE hive's write never
#                           completed), linux (ext4, no Windows at all)
#   define HOST VM DISK FMT a domain with that disk and an empty CD-ROM,
#                           defined with virsh, never started
# Needs root, /dev/fuse, libvirtd, virsh, qemu-img, qemu-system-x86_64 (to
# define a domain), sfdisk, mkntfs, ntfs-3g, mkfs.ext4.
LV=$(mktemp -d "${TMPDIR:-/tmp}/khreset-libvirt.XXXXXX")
DISKS=${DISKS:-$T/disks}
mkdir -p "$DISKS"
# An unprivileged (session) libvirtd as nobody, its folders in LV/HOST
# (the suite's own, outside $T, which nobody cannot enter); the clients
# (virsh, Ansible, as root) reach it by its socket.
chmod 755 "$LV"
on_exit 'for p in "$LV"/*/pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; sleep 0.5; rm -rf "$LV"'
sock() { echo "$LV/$1/run/libvirt/libvirt-sock"; }
uri() { echo "qemu+unix:///session?socket=$(sock "$1")"; }
start_libvirtd() {
	h=$LV/$1
	mkdir -p "$h/run" "$h/config" "$h/cache" "$h/data"
	chmod 700 "$h/run"
	chown -R nobody:nogroup "$h"
	(cd "$h" && exec setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env -i PATH=/usr/sbin:/usr/bin HOME="$h" XDG_RUNTIME_DIR="$h/run" \
		XDG_CONFIG_HOME="$h/config" XDG_CACHE_HOME="$h/cache" XDG_DATA_HOME="$h/data" \
		libvirtd >"$h/log" 2>&1) &
	echo $! >"$h/pid"
}
# mkdisk NAME FORMAT KIND [ENV...]: DISKS/NAME.FORMAT; KIND stale (the field
# case), healthy, blocked (no upgrade), dirty (stale, SOFTWARE hive's write
# never completed), linux (ext4: no Windows at all)
mkdisk() {
	n=$1 fmt=$2 kind=$3
	w=$T/mk-$n
	rm -rf "$w" && mkdir -p "$w/mnt"
	truncate -s 63M "$w/part.img"
	if [ "$kind" = linux ]; then
		mkfs.ext4 -q -F "$w/part.img" && ptype=83
	else
		case $kind in
		healthy) env KH_HEALTHY=1 BUILD="$BUILD" sh "$TOP/tests/mkvolume.sh" "$w/v" ;;
		blocked) env KH_NO_UPGRADE=1 BUILD="$BUILD" sh "$TOP/tests/mkvolume.sh" "$w/v" ;;
		*) BUILD="$BUILD" sh "$TOP/tests/mkvolume.sh" "$w/v" ;;
		esac >/dev/null 2>&1 || return 1
		[ "$kind" != dirty ] || dirty_hive "$w/v/vol/Windows/System32/config/SOFTWARE" || return 1
		mkntfs -F -Q -q -s 512 -p 2048 -H 255 -S 63 -L Windows "$w/part.img" >/dev/null 2>&1 &&
		ntfs-3g "$w/part.img" "$w/mnt" &&
		cp -r --preserve=timestamps "$w/v/vol/." "$w/mnt/" &&
		fusermount -u "$w/mnt" && ptype=7 || return 1
	fi
	truncate -s 64M "$w/disk.raw"
	printf 'label: dos\nstart=2048, type=%s\n' "$ptype" | sfdisk -q "$w/disk.raw" &&
	dd if="$w/part.img" of="$w/disk.raw" bs=1M seek=1 conv=notrunc status=none || return 1
	if [ "$fmt" = qcow2 ]; then
		qemu-img convert -f raw -O qcow2 "$w/disk.raw" "$DISKS/$n.qcow2"
	else
		mv "$w/disk.raw" "$DISKS/$n.raw"
	fi
	rm -rf "$w"
}
# dirty_hive HIVE: the base block of a write that never completed (primary
# sequence number one ahead of the secondary), checksum kept right
dirty_hive() {
	python3 - "$1" <<'EOF'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
assert b[:4] == b"regf"
seq2 = struct.unpack_from("<I", b, 8)[0]
struct.pack_into("<I", b, 4, seq2 + 1)
x = 0
for i in range(0, 508, 4):
    x ^= struct.unpack_from("<I", b, i)[0]
struct.pack_into("<I", b, 508, x)
open(p, "wb").write(bytes(b))
EOF
}
# define HOST VM DISK FORMAT: a domain with that disk (type qemu: these
# machines need no KVM to define one), never started
define() {
	cat >"$T/$2.xml" <<EOF
<domain type='qemu'>
  <name>$2</name>
  <memory unit='MiB'>256</memory>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='$4'/>
      <source file='$3'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
  </devices>
</domain>
EOF
	virsh -c "$(uri "$1")" define "$T/$2.xml" >/dev/null
}
