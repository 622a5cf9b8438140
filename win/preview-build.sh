#!/bin/sh
# win/preview-build.sh - TEMPORARY: builds khreset.exe from a copy of hook/
# with the one shared-file portability fix still pending (see
# win/README-win.md, "Changes needed in shared files"): bundle.c's
# same_file() uses Linux-only st_mtim/st_ctim.  The copy lives in
# build/win/patched; hook/ is not touched.  Delete this script once
# `make windows` builds from hook/ directly.
set -eu
cd "$(dirname "$0")/.."
P=build/win/patched
rm -rf "$P"
mkdir -p "$P"
cp hook/*.c hook/*.h "$P/"
sed -i -e 's/a->st_mtim\.tv_sec == b->st_mtim\.tv_sec/a->st_mtime == b->st_mtime/' \
	-e 's/a->st_mtim\.tv_nsec == b->st_mtim\.tv_nsec/1/' \
	-e 's/a->st_ctim\.tv_sec == b->st_ctim\.tv_sec/a->st_ctime == b->st_ctime/' \
	-e 's/a->st_ctim\.tv_nsec == b->st_ctim\.tv_nsec/1/' "$P/bundle.c"
printf 'include win/win.mk\n' >build/win/preview.mk
make -f build/win/preview.mk -j2 WIN_HOOK="$P" WIN_OBJDIR=build/win/obj-preview windows windows-size
