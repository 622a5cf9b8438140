/* standin_clipsvc.c - test-only stand-in for ClipSVC (the Client License
 * Service), a real Windows service run by the SCM under Wine for
 * tests/win/e2e.sh.  When started it copies each file of
 * C:\ProgramData\Microsoft\Windows\ClipSVC\Install\KeyHolder into
 * ...\Archive\KeyHolder only if that name is not archived yet - the
 * behaviour seen on site (FIELD-CASE.md): an archive that already holds a
 * file of the same identity is never replaced.  Then it reports RUNNING and
 * stops on SERVICE_CONTROL_STOP.
 *
 * Control values under HKLM\SOFTWARE\khreset-test (read at every start):
 *   ClipSvcFail = 1   stop with service-specific error 1 before RUNNING
 * Written: ClipSvcStarts (start attempts), ClipSvcCopied (files copied by
 * the last start).
 *
 * Build: x86_64-w64-mingw32-gcc -municode -static -o standin_clipsvc.exe
 *        standin_clipsvc.c -ladvapi32
 */

#include <windows.h>
#include <stdio.h>
#include <wchar.h>

#include "standin_service.h"

/* ---- ClipSVC ------------------------------------------------------------------ */
static DWORD standin_start(void)
{
	wchar_t inst[MAX_PATH], arch[MAX_PATH], pat[MAX_PATH + 4];
	wchar_t src[2 * MAX_PATH], dst[2 * MAX_PATH];
	WIN32_FIND_DATAW fd;
	HANDLE h;
	DWORD copied = 0;

	test_set(L"ClipSvcStarts", test_get(L"ClipSvcStarts", 0) + 1);
	if (test_get(L"ClipSvcFail", 0) == 1)
		return 1;
	kh_dir(inst, MAX_PATH, L"Install");
	kh_dir(arch, MAX_PATH, L"Archive");
	CreateDirectoryW(arch, NULL);
	_snwprintf(pat, MAX_PATH + 4, L"%ls\\*", inst);
	pat[MAX_PATH + 3] = L'\0';
	h = FindFirstFileW(pat, &fd);
	if (h != INVALID_HANDLE_VALUE) {
		do {
			if (fd.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY |
						   FILE_ATTRIBUTE_REPARSE_POINT))
				continue;
			_snwprintf(dst, 2 * MAX_PATH, L"%ls\\%ls", arch, fd.cFileName);
			dst[2 * MAX_PATH - 1] = L'\0';
			if (GetFileAttributesW(dst) != INVALID_FILE_ATTRIBUTES)
				continue;      /* same identity archived: not replaced */
			_snwprintf(src, 2 * MAX_PATH, L"%ls\\%ls", inst, fd.cFileName);
			src[2 * MAX_PATH - 1] = L'\0';
			if (CopyFileW(src, dst, TRUE))
				copied++;
		} while (FindNextFileW(h, &fd));
		FindClose(h);
	}
	test_set(L"ClipSvcCopied", copied);
	return 0;
}

int wmain(void)
{
	return standin_main(L"ClipSVC");
}
