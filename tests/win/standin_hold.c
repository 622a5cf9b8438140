/* standin_hold.c - test-only program for tests/win/firstboot.sh: another
 * process (an indexer, a virus scanner, a backup agent) that holds a file
 * open without sharing for a while.
 *
 * Usage: standin_hold.exe PATH SECONDS [read]
 * Opens PATH for reading with share mode 0 (no read, write or delete by
 * anyone else: a rename fails with a sharing violation), or with "read"
 * FILE_SHARE_READ only (others may read it, a rename still fails), then writes
 * HKLM\SOFTWARE\khreset-test\HoldActive = 1, waits SECONDS (less when
 * HoldActive is cleared meanwhile: the tests' clean-up), closes the file
 * and writes HoldActive = 0.  Exit 0, or 1 when PATH cannot be opened.
 *
 * Build: x86_64-w64-mingw32-gcc -municode -static -o standin_hold.exe
 *        standin_hold.c -ladvapi32
 */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

#include "standin_test.h"

int wmain(int argc, wchar_t **argv)
{
	HANDLE f;

	if (argc < 3 || argc > 4 || (argc == 4 && wcscmp(argv[3], L"read"))) {
		fprintf(stderr, "usage: standin_hold PATH SECONDS [read]\n");
		return 2;
	}
	f = CreateFileW(argv[1], GENERIC_READ, argc == 4 ? FILE_SHARE_READ : 0, NULL,
			OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
	if (f == INVALID_HANDLE_VALUE) {
		fprintf(stderr, "standin_hold: cannot open %ls (%lu)\n", argv[1], GetLastError());
		return 1;
	}
	test_set(L"HoldActive", 1);
	for (int t = _wtoi(argv[2]) * 10; t > 0 && test_get(L"HoldActive", 0) == 1; t--)
		Sleep(100);
	CloseHandle(f);
	test_set(L"HoldActive", 0);
	return 0;
}
