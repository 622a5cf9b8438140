/* standin_command.c - test-only activation command for tests/win/firstboot.sh
 * (khreset.ini [activation] command): a vendor's "activate now" program.
 *
 * Usage: standin_command.exe [CODE]
 * Counts its runs (HKLM\SOFTWARE\khreset-test\CommandRuns) and keeps its
 * command line (CommandLine, REG_SZ), waits CommandHang seconds (0 unless
 * set: a command that hangs), then exits with CODE (default 0).
 *
 * Build: x86_64-w64-mingw32-gcc -municode -static -o standin_command.exe
 *        standin_command.c -ladvapi32
 */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

#include "standin_test.h"

int wmain(int argc, wchar_t **argv)
{
	test_set(L"CommandRuns", test_get(L"CommandRuns", 0) + 1);
	test_set_sz(L"CommandLine", GetCommandLineW());
	for (DWORD t = 0; t < test_get(L"CommandHang", 0) * 10; t++)
		Sleep(100);      /* read again: clearing it ends the hang */
	return argc > 1 ? _wtoi(argv[1]) : 0;
}
