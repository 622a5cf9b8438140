#!/bin/sh
# win/check-imports.sh EXE - fails unless every DLL the executable imports
# is a Windows system DLL (SPEC section 9: one static executable importing
# only system DLLs).  Also fails on a missing import table (not a PE file)
# and warns if the executable exports symbols (a static library built with
# dllexport leaking into the exe).
set -eu
exe=${1:?usage: check-imports.sh EXE}
OBJDUMP=${OBJDUMP:-x86_64-w64-mingw32-objdump}
[ -f "$exe" ] || { echo "check-imports: $exe: no such file" >&2; exit 1; }

# System DLLs khreset may use (case-insensitive).  api-ms-win-* are the
# API-set contract names Windows resolves to system DLLs.
ALLOWED='^(kernel32|kernelbase|ntdll|advapi32|msvcrt|ucrtbase|api-ms-win-[a-z0-9-]+|user32|gdi32|ole32|oleaut32|ws2_32|crypt32|bcrypt|shell32|shlwapi|secur32|sspicli|rpcrt4|taskschd|wevtapi|userenv|version|netapi32|wtsapi32|iphlpapi|combase)\.dll$'

dump=$($OBJDUMP -p "$exe") || { echo "check-imports: $OBJDUMP -p $exe failed" >&2; exit 1; }
dlls=$(printf '%s\n' "$dump" | sed -n 's/^[[:space:]]*DLL Name:[[:space:]]*//p' | tr -d '\r' | sort -u)
[ -n "$dlls" ] || { echo "check-imports: $exe: no import table found" >&2; exit 1; }

bad=0
for d in $dlls; do
	l=$(printf '%s' "$d" | tr 'A-Z' 'a-z')
	if printf '%s\n' "$l" | grep -Eq "$ALLOWED"; then
		echo "  ok    $d"
	else
		echo "  NOT A SYSTEM DLL: $d"
		bad=1
	fi
done
if printf '%s\n' "$dump" | grep -q '^The Export Tables'; then
	echo "check-imports: warning: $exe exports symbols:" >&2
	printf '%s\n' "$dump" | sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/p' | head -20 >&2
fi
if [ $bad = 1 ]; then
	echo "check-imports: FAIL: $exe imports non-system DLLs" >&2
	exit 1
fi
echo "check-imports: $exe imports system DLLs only"
