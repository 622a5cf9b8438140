#!/bin/sh
# tests/win/check-imports-test.sh - win/check-imports.sh must reject an
# executable that imports a non-system DLL and accept a static one;
# win/check-size.sh must refuse an executable at its limit.
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

# win/check-size.sh: the 3 MiB budget
sz=$(stat -c %s "$D/static.exe")
CASE="size under the limit"
expect_exit 0 sh win/check-size.sh "$D/static.exe"
check "size: says the size" out_has "is $sz bytes"
CASE="size at the limit"
expect_exit 1 sh win/check-size.sh "$D/static.exe" "$sz"
check "size: names the limit" err_has "FAIL: .* is $sz bytes, the limit is $sz"

finish
