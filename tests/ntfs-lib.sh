# tests/ntfs-lib.sh - real NTFS for the shell suites: volumes made by
# mkntfs in a file and mounted with ntfs-3g through FUSE (the driver
# guestmount uses), set up and torn down by the suite.  Source it after
# tests/lib.sh.  Needs root, /dev/fuse, mkntfs, ntfs-3g, setfattr
# (Debian: ntfs-3g, attr, fuse3); without them ntfs_require says so loudly
# and ends the suite as skipped.
#
#   ntfs_require               FUSE and the tools work here, or a loud skip
#   ntfs_image NAME [MiB]      a new NTFS volume $T/NAME.ntfs (IMG), mounted
#                              at $T/NAME.mnt (MNT)
#   ntfs_mount / ntfs_umount   (re)mount IMG at MNT; umount waits until
#                              ntfs-3g has written everything and exited
#   ntfs_remount               both: what is read next comes from the disk
#   ntfs_fresh NAME [ENV=VAL]  the field case (fresh, tests/mkvolume.sh)
#                              copied onto a new NTFS volume: V, A, I point
#                              into MNT; d is the fixture as with fresh
#   ntfs_reparse PATH KIND TARGET  PATH (an empty folder for a junction, an
#                              empty file for a symlink) becomes a reparse
#                              point as Windows stores it: KIND junction,
#                              symlink or relsymlink, TARGET a Windows path
#   ntfs_corrupt PATH          breaks PATH's MFT record: it is listed but
#                              cannot be stat'ed (Input/output error)
#   ntfs_hibernate             a hibernated Windows (hiberfil.sys "HIBR"):
#                              remounted, ntfs-3g falls back to read-only
#   imgdigest VAR              VAR=sha256 of IMG, unmounted first (then
#                              mounted again; not in $(...): the daemon is
#                              this shell's child)
NTFS_PY="python3 $TOP/tests/tools/ntfs.py"
NTFS_PID=
IMG=
MNT=

ntfs_why() {
	[ "$(id -u)" = 0 ] || { echo "not root"; return; }
	[ -c /dev/fuse ] || { echo "no /dev/fuse (FUSE absent from this kernel)"; return; }
	for t in mkntfs ntfs-3g setfattr getfattr python3; do
		command -v $t >/dev/null || { echo "$t not found (Debian: ntfs-3g, attr)"; return; }
	done
	grep -qw fuse /proc/filesystems || { echo "the kernel has no fuse file system"; return; }
}

ntfs_require() {
	lib_why=$(ntfs_why)
	if [ -z "$lib_why" ]; then
		ntfs_image probe 8 2>"$T/probe.err" && ntfs_umount && return 0
		lib_why="cannot mount an NTFS image with ntfs-3g: $(tail -n 2 "$T/probe.err" | tr '\n' ' ')"
	fi
	echo "######################################################################"
	echo "# NTFS SUITE SKIPPED: $lib_why"
	echo "# (the NTFS tests need root, FUSE and ntfs-3g; CI on these machines has them)"
	echo "######################################################################"
	skip "every NTFS case: $lib_why"
	finish
	exit
}

ntfs_mount() {
	mkdir -p "$MNT"
	# no_detach: the daemon stays our child, so unmounting can wait for it
	ntfs-3g -o no_detach "$IMG" "$MNT" >"$T/ntfs-3g.log" 2>&1 &
	NTFS_PID=$!
	wait_for 30 mountpoint -q "$MNT" || {
		echo "  ntfs-3g did not mount $IMG: $(tail -n 3 "$T/ntfs-3g.log")" >&2
		return 1
	}
}

ntfs_umount() {
	[ -n "$NTFS_PID" ] || return 0
	mountpoint -q "$MNT" && umount "$MNT"
	wait "$NTFS_PID" 2>/dev/null
	NTFS_PID=
}

ntfs_remount() { ntfs_umount && ntfs_mount; }

ntfs_image() { # NAME [MiB]
	ntfs_umount
	IMG=$T/$1.ntfs
	MNT=$T/$1.mnt
	rm -f "$IMG"
	truncate -s "${2:-64}M" "$IMG" &&
	mkntfs -F -f -q -L "$1" "$IMG" >/dev/null 2>"$T/mkntfs.err" &&
	ntfs_mount
}
on_exit ntfs_umount

ntfs_fresh() { # NAME [ENV=VAL...]
	fresh "$@" || return 1
	fixture "$1: an NTFS volume" ntfs_image "$1" || return 1
	fixture "$1: the field case copied onto it" cp -r --preserve=timestamps "$d/vol/." "$MNT/" || return 1
	V=$MNT
	A=$V/$ARCH_REL
	I=$V/$INST_REL
	ntfs_remount
}

ntfs_reparse() { # PATH KIND TARGET
	setfattr -n system.ntfs_reparse_data -v "$($NTFS_PY reparse "$2" "$3")" "$1"
}

ntfs_corrupt() { # PATH
	lib_ino=$(stat -c %i "$1") &&
	ntfs_umount && $NTFS_PY corrupt "$IMG" "$lib_ino" && ntfs_mount
}

ntfs_hibernate() {
	{ printf 'HIBR'; head -c 8188 /dev/zero; } >"$MNT/hiberfil.sys" && ntfs_remount
}

imgdigest() { # VAR
	ntfs_umount && lib_sum=$(sum "$IMG") && eval "$1=\$lib_sum" && ntfs_mount
}

# --- whole VM disks (partition table + NTFS), for --image ---------------------
# mkdisk DISK LAYOUT [SRC]: a raw disk image DISK, its partitions made with
# sfdisk and mkntfs, each NTFS one filled through ntfs-3g and written into
# place with dd:
#   mbr    1: System Reserved (NTFS, 16 MiB, Boot/BCD), 2: Windows (NTFS,
#          64 MiB, the tree SRC)
#   gpt    1: EFI system (8 MiB, no file system), 2: Microsoft reserved
#          (8 MiB), 3: Windows (NTFS, 64 MiB, SRC), 4: Recovery (NTFS,
#          16 MiB, Recovery/WindowsRE)
#   data   1: one NTFS partition (32 MiB) holding Data/ - not Windows
# qemu-img convert -O qcow2 makes the qcow2 twin.
lib_part() { # DISK START_MIB SIZE_MIB LABEL FILL-CMD
	ntfs_image "part-$4" "$3" && (cd "$MNT" && sh -c "$5") && ntfs_umount &&
	dd if="$IMG" of="$1" bs=1M seek="$2" conv=notrunc status=none && rm -f "$IMG"
}
mkdisk() {
	rm -f "$1"
	case $2 in
	mbr)
		truncate -s 96M "$1" &&
		printf 'label: dos\nstart=2048, size=32768, type=7\nstart=34816, size=131072, type=7, bootable\n' |
			sfdisk -q "$1" &&
		lib_part "$1" 1 16 SysRes 'mkdir -p Boot && echo bcd >Boot/BCD' &&
		lib_part "$1" 17 64 Windows "cp -r --preserve=timestamps '$3/.' ." ;;
	gpt)
		truncate -s 112M "$1" &&
		printf 'label: gpt\nsize=8MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nsize=8MiB, type=E3C9E316-0B5C-4DB8-817D-F92DF00215AE\nsize=64MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\nsize=16MiB, type=DE94BBA4-06D1-4D40-A16A-BFD50179D6AC\n' |
			sfdisk -q "$1" &&
		lib_part "$1" 17 64 Windows "cp -r --preserve=timestamps '$3/.' ." &&
		lib_part "$1" 81 16 Recovery 'mkdir -p Recovery/WindowsRE && echo wim >Recovery/WindowsRE/Winre.wim' ;;
	data)
		truncate -s 40M "$1" &&
		printf 'label: dos\nstart=2048, size=65536, type=7\n' | sfdisk -q "$1" &&
		lib_part "$1" 1 32 Data 'mkdir -p Data && echo report >Data/report.txt' ;;
	esac
}
# partmount DISK START_MIB SIZE_MIB: the partition copied out with dd (a
# qcow2 disk converted to raw first, by qemu-img) and mounted read-only at
# $MNT - khreset's result, read with other tools
partmount() {
	lib_raw=$1
	if [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = 'QFI373' ]; then
		lib_raw=$T/partmount.raw
		qemu-img convert -O raw "$1" "$lib_raw" || return 1
	fi
	ntfs_umount
	IMG=$T/partmount.ntfs
	MNT=$T/partmount.mnt
	dd if="$lib_raw" of="$IMG" bs=1M skip="$2" count="$3" status=none || return 1
	mkdir -p "$MNT"
	ntfs-3g -o no_detach,ro "$IMG" "$MNT" >"$T/ntfs-3g.log" 2>&1 &
	NTFS_PID=$!
	wait_for 30 mountpoint -q "$MNT"
}
