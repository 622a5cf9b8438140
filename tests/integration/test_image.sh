#!/bin/sh
# test_image.sh - `khreset --image DISK check|run|restore` on real disk
# images (sfdisk + mkntfs + qemu-img; raw and qcow2, MBR and GPT, a small
# system partition before the Windows one, a disk that is not Windows):
# the partition found, mounted read-only or read-write, always unmounted
# and stopped again (after a failure and a signal too), a disk that a
# running qemu holds refused by run and read safely by check.  Results are
# read back with dd, qemu-img and ntfs-3g, hivexget and sha256sum.
. tests/lib.sh
. tests/ntfs-lib.sh
ntfs_require
for t in qemu-storage-daemon qemu-img sfdisk; do
	command -v $t >/dev/null || { echo "# IMAGE SUITE SKIPPED: $t not found (Debian: qemu-system-common, qemu-utils, fdisk)"; skip "every --image case: no $t"; finish; exit; }
done

# khreset's private folders go here, so that the suite can see them go
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"
kh_exec() { "$KH" "$@"; }
# nothing of a mount left: no private folder, no FUSE mount, no helper
left() { # prints what is left, if anything
	ls "$TMPDIR"
	grep "$TMPDIR" /proc/mounts
	grep -l -a -e "$TMPDIR/khreset-imag[e]" /proc/[0-9]*/cmdline 2>/dev/null
}
clean_after() { same "$(left)" ""; }

fresh src
SRC=$d/vol
DISK=$T/vm.raw
fixture "an MBR disk: System Reserved, then Windows" mkdisk "$DISK" mbr "$SRC"
before=$(sum "$DISK")
CASE="raw, MBR"
expect_exit 3 kh --image "$DISK" check
check "raw: check finds the Windows partition and diagnoses it" out_first '^verdict: *repair'
check "raw: check reads the archive" out_has "carried-over *$OLD_KH"
check "raw: check leaves the disk byte for byte" same "$(sum "$DISK")" "$before"
check "raw: check leaves nothing mounted or running" clean_after
expect_exit 3 kh --json --image "$DISK" check
check "raw: --json is one JSON document" is_json
check "raw: --json verdict" jq_is .verdict repair
expect_exit 2 kh --image "$DISK" run
check "raw: run says pending" out_has '^outcome: *pending'
check "raw: run leaves nothing mounted or running" clean_after
fixture "raw: the Windows partition read with dd and ntfs-3g" partmount "$DISK" 17 64
check "raw, read back: the archive emptied" is_empty "$MNT/$ARCH_REL"
check "raw, read back: the bundle staged byte for byte" cmp -s "$d/bundle/$ROOT_KH" "$MNT/$INST_REL/$ROOT_KH"
check "raw, read back: the registry value set (hivexget)" \
	same "$(hivexget "$MNT/Windows/System32/config/SOFTWARE" '\CMIT\Active' IntranetActivationServer)" "http://vdi.example.local"
check "raw, read back: the backup holds the originals" \
	sh -c "cd '$MNT/ProgramData/khreset/backup/'*/archive && sha256sum -c --quiet '$d/originals.sha256'"
ntfs_umount
expect_exit 0 kh --image "$DISK" restore --latest
check "raw: restore leaves nothing mounted or running" clean_after
fixture "raw: read back again" partmount "$DISK" 17 64
check "raw, restored: the originals back byte for byte" \
	sh -c "cd '$MNT/$ARCH_REL' && sha256sum -c --quiet '$d/originals.sha256'"
ntfs_umount
expect_exit 0 kh --image "$DISK" restore --list
check "raw: restore --list (read-only) lists both backups" out_has '2 backup(s)'

# --- qcow2 with GPT: ESP, MSR, Windows, Recovery ---
CASE="qcow2, GPT"
fixture "a GPT disk" mkdisk "$T/gpt.raw" gpt "$SRC"
QCOW=$T/vm.qcow2
fixture "its qcow2 twin (qemu-img)" qemu-img convert -O qcow2 "$T/gpt.raw" "$QCOW"
expect_exit 3 kh --image "$QCOW" check
check "qcow2: check finds Windows (not Recovery, the other NTFS)" out_has "carried-over *$OLD_KH"
expect_exit 2 kh --image "$QCOW" run
check "qcow2: nothing left" clean_after
check "qcow2: qemu-img check finds the image consistent" quiet qemu-img check "$QCOW"
fixture "qcow2: read back (qemu-img convert, dd, ntfs-3g)" partmount "$QCOW" 17 64
check "qcow2, read back: the archive emptied" is_empty "$MNT/$ARCH_REL"
check "qcow2, read back: the registry value set (hivexget)" \
	same "$(hivexget "$MNT/Windows/System32/config/SOFTWARE" '\CMIT\Active' ActiveMode)" 1
ntfs_umount

# --- a disk that is not Windows: refused, each partition named ---
CASE="not Windows"
fixture "a data disk" mkdisk "$T/data.raw" data
before=$(sum "$T/data.raw")
expect_exit 65 kh --image "$T/data.raw" check
check "not Windows: no Windows partition, the partition named" \
	err_has 'no Windows partition (partition 1: ntfs, 32 MiB, no Windows/System32/config/SYSTEM)'
expect_exit 65 kh --image "$T/data.raw" run
check "not Windows: the disk byte for byte" same "$(sum "$T/data.raw")" "$before"
check "not Windows: nothing left" clean_after
truncate -s 8M "$T/blank.raw"
expect_exit 65 kh --image "$T/blank.raw" check
check "a blank disk: no Windows partition, no file system" err_has 'no Windows partition (whole disk 0: no file system'

# --- a disk a running VM holds (qemu's image lock; a qemu-storage-daemon
# opened read-write takes the same locks as qemu-system) ---
CASE="in use"
fixture "a copy of the field disk" cp "$T/gpt.raw" "$T/busy.raw"
fixture "a qcow2 copy of it" qemu-img convert -O qcow2 "$T/busy.raw" "$T/busy.qcow2.tmp"
mv "$T/busy.qcow2.tmp" "$T/busy.qcow2"
# the daemon writes its pid file once its block devices are open (the
# locks taken); waiting on the image itself would race it: a probe's
# shared lock at the wrong moment makes the daemon fail to get its own
qemu-storage-daemon --blockdev driver=file,node-name=f,filename="$T/busy.qcow2" \
	--blockdev driver=qcow2,node-name=q,file=f --pidfile "$T/holder.pid" >"$T/holder.log" 2>&1 &
holder=$!
on_exit "kill $holder 2>/dev/null"
fixture "the holder is up" wait_for 120 test -s "$T/holder.pid" ||
	sed 's/^/  holder: /' "$T/holder.log" >&2
fixture "the holder has the lock" sh -c "! qemu-img info '$T/busy.qcow2' >/dev/null 2>&1"
before=$(sum "$T/busy.qcow2")
expect_exit 75 kh --image "$T/busy.qcow2" run
check "in use: run refuses, saying a running VM holds it" err_has 'in use by a running VM'
check "in use: run changed nothing" same "$(sum "$T/busy.qcow2")" "$before"
expect_exit 75 kh --image "$T/busy.qcow2" restore --latest
expect_exit 3 kh --image "$T/busy.qcow2" check
check "in use: check reads it, and says how fresh the data is" err_has 'in use by a running VM: opened read-only.*may hold newer data'
check "in use: check diagnoses" out_first '^verdict: *repair'
check "in use: nothing left" clean_after
kill "$holder"
wait "$holder" 2>/dev/null
expect_exit 2 kh --image "$T/busy.qcow2" run
check "twin: the VM off, run repairs" out_has '^outcome: *pending'

# --- always unmounted: a verb killed half-way, signals ---
CASE="killed"
fixture "a fresh MBR disk" mkdisk "$DISK" mbr "$SRC"
KHRESET_TEST_STOP_AT=backup-move expect_exit 137 kh --image "$DISK" run
check "killed: nothing left" clean_after
expect_exit 2 kh --image "$DISK" run
check "killed, then run: the interrupted run reported" err_has 'interrupted run'
for sig in INT:130 TERM:143 HUP:129; do
	CASE="SIG${sig%:*}"
	before=$(sum "$DISK")
	KHRESET_TEST_IMAGE_SIGNAL=${sig%:*} expect_exit "${sig#*:}" kh --image "$DISK" run
	check "SIG${sig%:*}: said, unmounted and detached" err_has 'interrupted .*unmounted and detached'
	check "SIG${sig%:*}: nothing left" clean_after
	check "SIG${sig%:*}: the disk as it was" same "$(sum "$DISK")" "$before"
done

# --- a hibernated Windows (Fast Startup) ---
CASE=hibernated
{ printf 'HIBR'; head -c 8188 /dev/zero; } >"$SRC/hiberfil.sys"
fixture "a disk whose Windows is hibernated" mkdisk "$DISK" mbr "$SRC"
rm "$SRC/hiberfil.sys"
before=$(sum "$DISK")
expect_exit 77 kh --image "$DISK" run
check "hibernated: ntfs-3g's own reason shown" err_has 'ntfs-3g: Windows is hibernated'
check "hibernated: what to do" err_has 'shut it down fully'
check "hibernated: the disk byte for byte" same "$(sum "$DISK")" "$before"
check "hibernated: nothing left" clean_after

# --- the command line ---
CASE=usage
expect_exit 64 kh --image "$DISK" --root "$SRC" check
check "usage: --image with --root is refused" err_has 'exclude each other'
expect_exit 64 kh --image "$DISK" lint x.wim
check "usage: --image with another verb is refused" err_has 'check, run and restore'
expect_exit 65 kh --image "$T/missing.qcow2" check
check "usage: a missing disk is named" err_has 'missing.qcow2'
expect_exit 0 kh --image "$DISK" run --help
check "usage: run --help needs no mount" clean_after

finish
