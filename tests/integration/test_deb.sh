#!/bin/sh
# test_deb.sh - `make deb` (debian/, debhelper): the package's name,
# control fields and files, Depends against what the binary links (readelf
# and dpkg -S), lintian without errors, and a working khreset installed
# from it into a scratch root (dpkg -x, and dpkg --root).  Every case has
# its negative twin.
. tests/lib.sh
ARCH=$(dpkg --print-architecture)
DEB=$B/deb/khreset_${KH_VERSION}_$ARCH.deb

run make -s -C "$TOP" deb BUILD="$BUILD"
check "make deb: exit 0" rc_is 0
check "make deb: khreset_${KH_VERSION}_$ARCH.deb" test -f "$DEB"
check "make deb: lintian ran (no error: the build goes on)" out_has "make deb: .*khreset_${KH_VERSION}_$ARCH.deb"
run make -s -C "$TOP" deb BUILD="$BUILD" KH_VERSION=9.9.9
check "twin: a changelog version that is not hook/khreset.h's: make deb fails" sh -c "[ $RC != 0 ]"
check "twin: ... saying both versions" err_has "debian/changelog says $KH_VERSION, hook/khreset.h 9.9.9"
[ -f "$DEB" ] || { finish; exit 1; }

# --- control fields ---
field() { dpkg-deb -f "$DEB" "$1"; }
check "control: Package khreset" same "$(field Package)" khreset
check "control: Version is hook/khreset.h's" same "$(field Version)" "$KH_VERSION"
check "control: Architecture is this machine's" same "$(field Architecture)" "$ARCH"
check "control: a description" sh -c "dpkg-deb -I '$DEB' | grep -q '^ Description: repair Windows licence keyholder'"
# every library the binary needs (readelf) is provided by a package the
# Depends names (dpkg -S on this machine)
dpkg-deb -x "$DEB" "$T/x"
needed=$(readelf -d "$T/x/usr/bin/khreset" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
pkgs=$(for l in $needed; do dpkg -S "*/$l" 2>/dev/null | head -n 1 | cut -d: -f1; done | sort -u)
depends=$(field Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//' | sort -u)
check "Depends: the binary needs libraries ($(echo $needed | wc -w))" test -n "$needed"
check "Depends: names the package of every library the binary needs" same \
	"$(printf '%s\n' "$pkgs" | LC_ALL=C comm -23 - "$(printf '%s\n' "$depends" >"$T/dep"; echo "$T/dep")")" ""
check "Depends: libjansson, libhivex, libwim among them" sh -c "echo '$depends' | grep -q '^libjansson' && echo '$depends' | grep -q '^libhivex' && echo '$depends' | grep -q '^libwim'"
check "twin: Depends names nothing the binary does not link (but libc)" same \
	"$(printf '%s\n' "$depends" | grep -v '^libc6$' | LC_ALL=C comm -23 - "$(printf '%s\n' "$pkgs" >"$T/pk"; echo "$T/pk")")" ""
run apt-get install -s "$DEB"
check "Depends: satisfiable here (apt-get install --simulate)" sh -c "[ $RC = 0 ] && printf '%s' \"\$1\" | grep -q '^Inst khreset '" _ "$OUT"

# --- files ---
dpkg-deb -c "$DEB" >"$T/list"
files=$(awk '$1 !~ /^d/ { print $6 }' "$T/list" | sort | tr '\n' ' ')
check "files: the binary, the man page, the payload, copyright and changelog; nothing else" same "$files" \
	"./usr/bin/khreset ./usr/share/doc/khreset/changelog.gz ./usr/share/doc/khreset/copyright ./usr/share/khreset/payload/SetupComplete.cmd ./usr/share/khreset/payload/khreset.exe ./usr/share/khreset/payload/khreset.ini ./usr/share/man/man8/khreset.8.gz "
check "files: owned by root" sh -c "awk '\$2 != \"root/root\" { bad = 1 } END { exit bad }' '$T/list'"
check "files: the binary is executable" grep -q '^-rwxr-xr-x .*/usr/bin/khreset$' "$T/list"
check "twin: the payload is not" sh -c "! grep 'payload/' '$T/list' | grep -q '^-rwx'"
check "payload: SetupComplete.cmd is setupcomplete/'s, byte for byte" cmp -s "$T/x/usr/share/khreset/payload/SetupComplete.cmd" "$TOP/setupcomplete/SetupComplete.cmd"
check "payload: khreset.ini is the media one" cmp -s "$T/x/usr/share/khreset/payload/khreset.ini" "$TOP/setupcomplete/khreset.ini"
check "payload: khreset.exe is the Windows build" cmp -s "$T/x/usr/share/khreset/payload/khreset.exe" "$TOP/build/win/khreset.exe"
check "payload: khreset.exe is a PE32+ executable (file)" sh -c "file -b '$T/x/usr/share/khreset/payload/khreset.exe' | grep -q '^PE32+ executable'"
check "man page: doc/khreset.8, compressed" sh -c "zcat '$T/x/usr/share/man/man8/khreset.8.gz' | cmp -s - '$TOP/doc/khreset.8'"
check "binary: stripped (file)" sh -c "file -b '$T/x/usr/bin/khreset' | grep -q 'stripped' && ! file -b '$T/x/usr/bin/khreset' | grep -q 'not stripped'"
check "binary: built hardened (readelf: BIND_NOW, a read-only relocation segment)" sh -c "readelf -d '$T/x/usr/bin/khreset' | grep -q 'BIND_NOW\|FLAGS.*NOW' && readelf -l '$T/x/usr/bin/khreset' | grep -q GNU_RELRO"

# --- lintian: no errors; a broken package has them ---
run lintian --fail-on error "$DEB"
check "lintian: exit 0, no error" rc_is 0
check "lintian: no E: line" out_lacks '^E:'
dpkg-deb -R "$DEB" "$T/broken"
rm "$T/broken/usr/share/doc/khreset/copyright"
sed -i '/copyright/d' "$T/broken/DEBIAN/md5sums"
dpkg-deb -b --root-owner-group "$T/broken" "$T/broken.deb" >/dev/null
run lintian --fail-on error "$T/broken.deb"
check "twin: a package without its copyright file: lintian fails" sh -c "[ $RC != 0 ]"
check "twin: ... naming no-copyright-file" out_has '^E: khreset: no-copyright-file'

# --- installed into a scratch root: a working khreset ---
X=$T/x/usr/bin/khreset
run "$X" --version
check "dpkg -x: khreset --version is KH_VERSION" same "$OUT" "khreset $KH_VERSION"
fresh deb-field
run "$X" --root "$V" --json check
check "dpkg -x: the installed khreset checks the field case (exit 3, repair)" sh -c "[ $RC = 3 ] && printf '%s' \"\$1\" | jq -e '.verdict == \"repair\"' >/dev/null" _ "$OUT"
printf '%s\n' "$OUT" >"$T/doc.json"
run "$X" report "$T/doc.json"
check "dpkg -x: the installed khreset reports it" sh -c "[ $RC = 3 ] && printf '%s' \"\$1\" | grep -q '^fleet: 1 VM, 1 needs attention'" _ "$OUT"
run sh -c "MANWIDTH=80 man -l '$T/x/usr/share/man/man8/khreset.8.gz'"
check "dpkg -x: the installed page renders, with the report verb" sh -c "[ $RC = 0 ] && printf '%s' \"\$1\" | grep -q 'report PATH'" _ "$OUT"
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: >"$R/var/lib/dpkg/status"
run dpkg --root="$R" --force-depends --force-not-root -i "$DEB"
check "dpkg --root: installs into an empty root (dependencies forced: the root has none)" rc_is 0
check "dpkg --root: the package is installed there" sh -c "dpkg --root='$R' -s khreset | grep -q '^Status: install ok installed'"
check "dpkg --root: dpkg lists every file it put there" same "$(dpkg --root="$R" -L khreset | while read -r f; do [ -d "$R$f" ] || echo "$f"; done | sort | tr '\n' ' ')" \
	"$(printf '%s' "$files" | tr ' ' '\n' | sed 's/^\.//' | grep . | sort | tr '\n' ' ')"
run "$R/usr/bin/khreset" --version
check "dpkg --root: its khreset works" same "$OUT" "khreset $KH_VERSION"
run dpkg --root="$R" --force-not-root -r khreset
check "dpkg --root -r: removed" rc_is 0
check "twin: after removal no khreset file is left in the root" same "$(find "$R/usr" -type f 2>/dev/null)" ""

finish
