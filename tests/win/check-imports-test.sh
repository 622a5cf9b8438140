#!/bin/sh
# tests/win/check-imports-test.sh - win/check-imports.sh must reject an
# executable that imports a non-system DLL and accept a static one.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
D=${W:-build/win}/tests/imports
mkdir -p "$D"
cat >"$D/t.c" <<'C'
#include <pthread.h>
#include <stdio.h>
static void *run(void *a) { return a; }
int main(void) { pthread_t t; pthread_create(&t, NULL, run, NULL); pthread_join(t, NULL); puts("x"); return 0; }
C
CC=x86_64-w64-mingw32-gcc-posix
fixture "a dynamic exe builds" $CC -o "$D/dynamic.exe" "$D/t.c" -pthread
fixture "a static exe builds" $CC -o "$D/static.exe" "$D/t.c" -pthread -static

CASE="exe importing libwinpthread-1.dll"
expect_exit 1 sh win/check-imports.sh "$D/dynamic.exe"
check "rejects libwinpthread-1.dll, naming it" out_has 'NOT A SYSTEM DLL: libwinpthread-1.dll'
check "says why it fails" err_has 'FAIL: .* imports non-system DLLs'
CASE="static exe"
expect_exit 0 sh win/check-imports.sh "$D/static.exe"
check "accepts the static exe, saying so" out_has 'imports system DLLs only'
check "the static exe lists no foreign DLL" out_lacks 'NOT A SYSTEM DLL'
CASE="a C source file"
expect_exit 1 sh win/check-imports.sh "$D/t.c"
check "rejects a non-PE file" err_has 'failed\|no import table'

finish
