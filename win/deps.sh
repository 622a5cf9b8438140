#!/bin/sh
# win/deps.sh - cross-build the static x86_64-w64-mingw32 libraries khreset.exe
# links (libxml2, OpenSSL libcrypto, jansson, wimlib) from Debian's SOURCE
# packages.
# (minIni is compiled by win/win.mk itself, with khreset's own glue.)
#
# Sources come through tools/debsrc.sh: a PRIVATE apt configuration and a
# download cache under build/debian (DEBSRC), shared with the Linux build;
# the machine's apt configuration is never touched.  apt-get checks every
# downloaded file against the signed Sources index; dpkg-source -x applies
# Debian's patches (security fixes included).
#
# Output:  $W/deps/include, $W/deps/lib   (W defaults to build/win)
# Logs:    $W/logs/<lib>.log, timings appended to $W/logs/times.txt
# Cache:   $W/deps/.stamp-<lib> holds "<version> <options hash>"; a library
#          whose stamp matches is skipped, so a second run takes seconds and
#          needs no network.  Delete a stamp (or $W/deps) to rebuild.
# wimlib:  when the archive does not serve its source, it is left out (said so
#          on stderr and in $W/deps/.wimlib-missing, retried on the next run)
#          and win/win.mk builds khreset.exe without bake and lint
#          (hook/win32/nomedia.c); every other library is required.
#
# Environment: W (output root), JOBS (default 2), DEBSRC and KH_DEBIAN_MIRROR
# (see tools/debsrc.sh), LIBXML2_VER / OPENSSL_VER / JANSSON_VER / WIMLIB_VER
# (override the pins), KEEP_WORK=1 (keep the unpacked build trees in $W/work for
# debugging).
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
W=${W:-$TOP/build/win}
case $W in /*) ;; *) W=$TOP/$W ;; esac
HOST=x86_64-w64-mingw32
JOBS=${JOBS:-2}
SUITE=bookworm

# Pinned versions: what Debian bookworm's main archive serves.
LIBXML2_VER=${LIBXML2_VER:-2.9.14+dfsg-1.3~deb12u6}
OPENSSL_VER=${OPENSSL_VER:-3.0.20-1~deb12u2}
JANSSON_VER=${JANSSON_VER:-2.14-2}
WIMLIB_VER=${WIMLIB_VER:-1.13.6-1}

DEPS=$W/deps
LOGS=$W/logs
WORK=$W/work        # unpacked trees, rebuilt from the source cache when needed

COMMON_CFLAGS="-O2 -ffunction-sections -fdata-sections"

# Build options per library; their hash goes into the stamp so that a
# changed option rebuilds that library.
LIBXML2_OPTS="--without-python --without-http --without-ftp --without-lzma
 --without-zlib --without-iconv --without-icu --without-threads
 --without-thread-alloc --without-catalog --without-docbook --without-legacy
 --without-modules --without-debug --without-run-debug --without-mem-debug
 --without-html --without-c14n --without-schemas --without-schematron
 --without-xinclude --without-xptr --without-valid --without-history
 --without-readline --without-coverage"
OPENSSL_OPTS="no-shared no-tests no-ui-console no-dso no-engine no-legacy
 no-module no-autoload-config no-asm no-filenames no-ssl no-tls no-dtls
 no-sock no-dgram no-srtp no-psk no-nextprotoneg no-srp no-ocsp no-ts no-cms
 no-cmp no-ct no-comp no-rfc3779 no-async no-multiblock no-aria no-bf
 no-camellia no-cast no-des no-idea no-md4 no-mdc2 no-rc2 no-rc4 no-rc5
 no-seed no-sm2 no-sm3 no-sm4 no-whirlpool no-rmd160 no-blake2 no-siphash
 no-cmac no-siv no-ocb no-poly1305 no-chacha no-scrypt no-dsa no-dh no-gost
 no-ec2m no-capieng no-padlockeng no-deprecated no-autoalginit no-threads
 no-secure-memory"
# ... and win/openssl-khreset.patch: the providers offer only what khreset
# uses (its hash is part of the stamp)
OPENSSL_STAMP="$OPENSSL_OPTS patch=$(sha256sum <"$TOP/win/openssl-khreset.patch" | cut -c1-16)"
JANSSON_OPTS="-DJANSSON_BUILD_SHARED_LIBS=OFF -DJANSSON_EXAMPLES=OFF
 -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_BUILD_DOCS=OFF -DJANSSON_INSTALL=ON
 -DUSE_URANDOM=OFF -DUSE_WINDOWS_CRYPTOAPI=ON -DCMAKE_BUILD_TYPE=Release"
# wimlib: the library only (no wimlib-imagex), Windows-native paths
# (wimlib_tchar is wchar_t), its own SHA-1 (not OpenSSL's), libxml2 from
# here, no ntfs-3g or FUSE (Linux-only features).
WIMLIB_OPTS="--disable-shared --enable-static --without-ntfs-3g --without-fuse
 --without-libcrypto --disable-dependency-tracking"

say() { printf 'win-deps: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
hash_of() { printf '%s' "$*" | sha256sum | cut -c1-16; }
now() { date +%s; }

mkdir -p "$DEPS/include" "$DEPS/lib" "$LOGS" "$WORK"

# One deps build at a time (make windows and make check may race).
exec 9>"$W/.deps.lock"
flock 9

stamp_want() {   # lib version opts -> the stamp line
	echo "$2 $(hash_of "$3 $COMMON_CFLAGS")"
}
is_current() {   # lib version opts
	[ -f "$DEPS/.stamp-$1" ] &&
		[ "$(cat "$DEPS/.stamp-$1")" = "$(stamp_want "$@")" ]
}

# minIni was built here once; its leftovers would shadow hook/ini/minGlue.h.
rm -f "$DEPS/include/minIni.h" "$DEPS/include/minGlue.h" "$DEPS/lib/libminIni.a" \
	"$DEPS/.stamp-minini"

need_libxml2=1; need_openssl=1; need_jansson=1; need_wimlib=1
is_current libxml2 "$LIBXML2_VER" "$LIBXML2_OPTS" && need_libxml2=0
is_current openssl "$OPENSSL_VER" "$OPENSSL_STAMP" && need_openssl=0
is_current jansson "$JANSSON_VER" "$JANSSON_OPTS" && need_jansson=0
# wimlib after libxml2: its stamp names the libxml2 it was built against
# (and the recipe's revision: the export-table edit below)
WIMLIB_STAMP="$WIMLIB_OPTS libxml2=$LIBXML2_VER recipe=2"
is_current wimlib "$WIMLIB_VER" "$WIMLIB_STAMP" && [ $need_libxml2 = 0 ] && need_wimlib=0
if [ $((need_libxml2 + need_openssl + need_jansson + need_wimlib)) = 0 ]; then
	say "all libraries cached in $DEPS (stamps match)"
	exit 0
fi

# --- tools ------------------------------------------------------------------
TOOLPKGS="gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 mingw-w64-x86-64-dev
dpkg-dev make perl cmake xz-utils patch"
missing=""
for p in $TOOLPKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || die "missing Debian packages:$missing (run as root or: sudo apt-get install$missing)"
	say "installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
		install -y -qq --no-install-recommends $missing >/dev/null
fi
# The win32-thread-model compiler: no libwinpthread-1.dll dependency.
if command -v $HOST-gcc-win32 >/dev/null 2>&1; then CC=$HOST-gcc-win32; else CC=$HOST-gcc; fi
command -v "$CC" >/dev/null || die "$CC not found"

# --- sources: Debian source packages through tools/debsrc.sh ------------------
unpack() {  # srcpkg version -> sets TREE to a fresh unpacked tree
	TREE="$WORK/$1"
	sh "$TOP/tools/debsrc.sh" unpack "$1" "$2" "$TREE"
}

timed() {   # lib version opts function
	lib=$1; ver=$2; opts=$3; fn=$4
	t0=$(now)
	say "building $lib $ver (log: $LOGS/$lib.log)"
	# A subshell outside any condition, so that set -e works inside it.
	set +e
	( set -e; $fn "$ver" ) >"$LOGS/$lib.log" 2>&1
	rc=$?
	set -e
	if [ $rc != 0 ]; then
		tail -n 25 "$LOGS/$lib.log" >&2
		die "$lib build failed, see $LOGS/$lib.log"
	fi
	stamp_want "$lib" "$ver" "$opts" >"$DEPS/.stamp-$lib"
	# the unpacked tree is not needed any more (sources stay in the cache)
	[ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK/$lib" "$WORK/lib$lib" "$WORK"/*.orig.tar.*
	t=$(( $(now) - t0 ))
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $lib $ver ${t}s" >>"$LOGS/times.txt"
	say "$lib done in ${t}s"
}

# --- the libraries -------------------------------------------------------------
build_libxml2() {
	set -x
	unpack libxml2 "$1"; cd "$TREE"
	# Debian's patches touch Makefile.am (docs, a test); the shipped
	# configure/Makefile.in build the library unchanged, so keep automake
	# from regenerating them (no autotools needed).
	touch aclocal.m4; sleep 1; touch configure config.h.in; sleep 1
	find . -name Makefile.in -exec touch {} +
	./configure --host=$HOST --build="$(dpkg-architecture -qDEB_BUILD_GNU_TYPE)" \
		--prefix="$DEPS" --enable-static --disable-shared \
		--disable-maintainer-mode $LIBXML2_OPTS \
		CC="$CC" CFLAGS="$COMMON_CFLAGS" CPPFLAGS="-DLIBXML_STATIC"
	make -j"$JOBS" libxml2.la
	make install-libLTLIBRARIES install-pkgconfigDATA
	make -C include install
}

build_openssl() {
	set -x
	unpack openssl "$1"; cd "$TREE"
	patch -p1 <"$TOP/win/openssl-khreset.patch"
	# Configure prepends the cross prefix to CC: gcc-win32 -> $HOST-gcc-win32.
	./Configure mingw64 --cross-compile-prefix=$HOST- \
		CC="${CC#$HOST-}" --prefix="$DEPS" --libdir=lib \
		$OPENSSL_OPTS $COMMON_CFLAGS
	make -j"$JOBS" build_generated
	make -j"$JOBS" libcrypto.a
	rm -rf "$DEPS/include/openssl"
	cp -R include/openssl "$DEPS/include/openssl"
	cp libcrypto.a "$DEPS/lib/libcrypto.a"
	${HOST}-ranlib "$DEPS/lib/libcrypto.a"
	mkdir -p "$DEPS/lib/pkgconfig"
	cat >"$DEPS/lib/pkgconfig/libcrypto.pc" <<EOF
prefix=$DEPS
libdir=\${prefix}/lib
includedir=\${prefix}/include
Name: OpenSSL-libcrypto
Description: OpenSSL cryptography library (static, mingw64, trimmed)
Version: ${1%%-*}
Libs: -L\${libdir} -lcrypto
Libs.private: -lws2_32 -lgdi32 -lcrypt32 -lbcrypt -luser32 -ladvapi32
Cflags: -I\${includedir}
EOF
}

build_jansson() {
	set -x
	unpack jansson "$1"
	mkdir -p "$TREE/_build"
	cd "$TREE/_build"
	cmake .. -DCMAKE_TOOLCHAIN_FILE="$TOP/win/toolchain-mingw64.cmake" \
		-DKH_MINGW_CC="$CC" -DCMAKE_C_FLAGS="$COMMON_CFLAGS" \
		-DCMAKE_INSTALL_PREFIX="$DEPS" -DCMAKE_INSTALL_LIBDIR=lib \
		$JANSSON_OPTS
	make -j"$JOBS"
	make install
}

build_wimlib() {
	set -x
	cd "$WORK/wimlib"      # unpacked by wimlib_source
	# A static library exports nothing: without this every wimlib_* function
	# would land in khreset.exe's export table.
	grep -q '^#  define WIMLIBAPI __declspec(dllexport)' include/wimlib/compiler.h
	sed -i 's/^#  define WIMLIBAPI __declspec(dllexport)/#  define WIMLIBAPI/' include/wimlib/compiler.h
	# the shipped configure and Makefile.in, as for libxml2
	touch aclocal.m4; sleep 1; touch configure config.h.in; sleep 1
	find . -name Makefile.in -exec touch {} +
	PKG_CONFIG_LIBDIR="$DEPS/lib/pkgconfig" PKG_CONFIG_PATH= \
	./configure --host=$HOST --build="$(dpkg-architecture -qDEB_BUILD_GNU_TYPE)" \
		--prefix="$DEPS" $WIMLIB_OPTS \
		CC="$CC" CFLAGS="$COMMON_CFLAGS" CPPFLAGS="-DLIBXML_STATIC"
	make -j"$JOBS" libwim.la
	make install-libLTLIBRARIES install-includeHEADERS
}

# wimlib's source may be missing from the archive this machine reaches:
# then khreset.exe is built without bake and lint, and the reason is kept.
wimlib_source() {
	rm -rf "$WORK/wimlib"
	sh "$TOP/tools/debsrc.sh" unpack wimlib "$1" "$WORK/wimlib" 2>"$LOGS/wimlib-fetch.log" && return 0
	cat "$LOGS/wimlib-fetch.log" >&2
	{ echo "wimlib $1: the source package could not be fetched:"; cat "$LOGS/wimlib-fetch.log"; } \
		>"$DEPS/.wimlib-missing"
	rm -f "$DEPS/.stamp-wimlib" "$DEPS/lib/libwim.a" "$DEPS/lib/libwim.la" "$DEPS/include/wimlib.h"
	# a .dsc whose files never came would stop tools/debsrc.sh from asking again
	rm -f "${DEBSRC:-$TOP/build/debian}/src/wimlib_$1.dsc"
	say "WARNING: no wimlib source: khreset.exe is built WITHOUT bake and lint (see $DEPS/.wimlib-missing)"
	return 1
}

# Order: the quick ones first so a failure in a long build shows early.
[ $need_jansson = 1 ] && timed jansson "$JANSSON_VER" "$JANSSON_OPTS" build_jansson
[ $need_libxml2 = 1 ] && timed libxml2 "$LIBXML2_VER" "$LIBXML2_OPTS" build_libxml2
[ $need_openssl = 1 ] && timed openssl "$OPENSSL_VER" "$OPENSSL_STAMP" build_openssl
if [ $need_wimlib = 1 ] && wimlib_source "$WIMLIB_VER"; then
	rm -f "$DEPS/.wimlib-missing"
	timed wimlib "$WIMLIB_VER" "$WIMLIB_STAMP" build_wimlib
fi

say "done: $DEPS/include, $DEPS/lib"
ls -l "$DEPS/lib"/*.a >&2
