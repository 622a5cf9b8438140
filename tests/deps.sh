#!/bin/sh
# Installs the Debian packages khreset builds and tests with (as root), or
# says which are missing.
set -e
PKGS="build-essential pkg-config libxml2-dev libssl-dev openssl libjansson-dev
dpkg-dev libhivex-dev libhivex-bin libwin-hivex-perl libcmocka-dev man-db groff-base
libwim-dev wimtools p7zip-full jq util-linux time wine64 gcc-mingw-w64-x86-64
python3 ntfs-3g attr fuse3 fdisk qemu-utils qemu-system-common libblkid-dev
clang libclang-rt-dev debhelper lintian file ansible ansible-lint python3-libvirt
python3-yaml libvirt-daemon-system libvirt-clients qemu-system-x86 e2fsprogs strace"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
