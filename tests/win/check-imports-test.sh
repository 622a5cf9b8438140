#!/bin/sh
# tests/win/check-imports-test.sh - win/check-imports.sh must reject an
# executable that imports a non-system DLL and accept a static one.
set -eu
cd "$(dirname "$0")/../.."
T=${W:-build/win}/tests/imports
mkdir -p "$T"
cat >"$T/t.c" <<'C'
#include <pthread.h>
#include <stdio.h>
static void *run(void *a) { return a; }
int main(void) { pthread_t t; pthread_create(&t, NULL, run, NULL); pthread_join(t, NULL); puts("x"); return 0; }
C
CC=x86_64-w64-mingw32-gcc-posix
rc=0
$CC -o "$T/dynamic.exe" "$T/t.c" -pthread
if sh win/check-imports.sh "$T/dynamic.exe" >"$T/dynamic.out" 2>&1; then
	echo "not ok - accepted an exe importing libwinpthread-1.dll"; rc=1
else
	grep -q 'NOT A SYSTEM DLL: libwinpthread-1.dll' "$T/dynamic.out" &&
		echo "ok - rejects libwinpthread-1.dll" || { echo "not ok - wrong message"; rc=1; }
fi
$CC -o "$T/static.exe" "$T/t.c" -pthread -static
if sh win/check-imports.sh "$T/static.exe" >"$T/static.out" 2>&1; then
	echo "ok - accepts the static exe"
else
	echo "not ok - rejected the static exe"; cat "$T/static.out"; rc=1
fi
if sh win/check-imports.sh "$T/t.c" >/dev/null 2>&1; then
	echo "not ok - accepted a non-PE file"; rc=1
else
	echo "ok - rejects a non-PE file"
fi
exit $rc
