/* standin_clipsvc.c - test-only stand-in for ClipSVC (the Client License
 * Service), a real Windows service run by the SCM under Wine for
 * tests/win/e2e.sh and tests/win/firstboot.sh.  When started it copies each
 * file of C:\ProgramData\Microsoft\Windows\ClipSVC\Install\KeyHolder into
 * ...\Archive\KeyHolder only if that name is not archived yet - the
 * behaviour seen on site (FIELD-CASE.md): an archive that already holds a
 * file of the same identity is never replaced.  Then it reports RUNNING and
 * stops on SERVICE_CONTROL_STOP.
 *
 * Control values under HKLM\SOFTWARE\khreset-test (read at every start):
 *   ClipSvcFail    = 1   stop with service-specific error 1 before RUNNING
 *   ClipSvcDelay   = D   regenerate only D s after RUNNING (on its own
 *                        thread; a stop before that: nothing copied)
 *   ClipSvcRename  = 1   archive each file under another name (the first
 *                        group of the GUID name, each hex digit x -> f-x)
 *   ClipSvcAlter   = 1   archive different bytes: a comment appended
 *   ClipSvcPartial = 1   archive only the root keyholder of the set
 *   ClipSvcHold    = 1   while running, hold every file it found in the archive
 *                        at its start open without sharing (released at a stop)
 * and the ClipSvcHangStart, HangStop, IdleStop, Retrigger values every
 * stand-in has (standin_service.h).
 * Written: ClipSvcStarts (start attempts), ClipSvcCopied (files copied by
 * the last regeneration, written when it is done), ClipSvcStops.
 *
 * Build: x86_64-w64-mingw32-gcc -municode -static -o standin_clipsvc.exe
 *        standin_clipsvc.c -ladvapi32
 */

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#include "standin_service.h"

/* ---- ClipSVC ------------------------------------------------------------------ */
static DWORD mode_rename, mode_alter, mode_partial, mode_hold, delay_s;
static HANDLE held[64];
static int n_held;

/* the archived name: as staged, or (rename) the first GUID group mirrored */
static void archived_name(wchar_t *out, size_t n, const wchar_t *name)
{
	_snwprintf(out, n, L"%ls", name);
	out[n - 1] = L'\0';
	if (!mode_rename)
		return;
	for (wchar_t *c = out; *c && *c != L'-'; c++) {
		int v = *c >= L'0' && *c <= L'9' ? *c - L'0'
			: *c >= L'a' && *c <= L'f' ? *c - L'a' + 10 : -1;
		if (v >= 0)
			*c = L"0123456789abcdef"[15 - v];
	}
}

static int copy_one(const wchar_t *src, const wchar_t *dst)
{
	static const char tail[] = "<!-- archived by the ClipSVC stand-in -->\r\n";
	HANDLE in, out;
	char buf[65536];
	DWORD got = 0, put = 0;
	int ok;

	if (!mode_alter)
		return CopyFileW(src, dst, TRUE);
	in = CreateFileW(src, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING, 0, NULL);
	if (in == INVALID_HANDLE_VALUE)
		return 0;
	ok = ReadFile(in, buf, sizeof(buf) - sizeof(tail), &got, NULL);
	CloseHandle(in);
	if (!ok)
		return 0;
	memcpy(buf + got, tail, sizeof(tail) - 1);
	got += sizeof(tail) - 1;
	out = CreateFileW(dst, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
	if (out == INVALID_HANDLE_VALUE)
		return 0;
	ok = WriteFile(out, buf, got, &put, NULL) && put == got;
	CloseHandle(out);
	return ok;
}

static void hold_archive(const wchar_t *arch)
{
	wchar_t pat[MAX_PATH + 4], path[2 * MAX_PATH];
	WIN32_FIND_DATAW fd;
	HANDLE h;

	_snwprintf(pat, MAX_PATH + 4, L"%ls\\*", arch);
	pat[MAX_PATH + 3] = L'\0';
	if ((h = FindFirstFileW(pat, &fd)) == INVALID_HANDLE_VALUE)
		return;
	do {
		if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY || n_held == 64)
			continue;
		_snwprintf(path, 2 * MAX_PATH, L"%ls\\%ls", arch, fd.cFileName);
		path[2 * MAX_PATH - 1] = L'\0';
		held[n_held] = CreateFileW(path, GENERIC_READ, 0, NULL, OPEN_EXISTING, 0, NULL);
		if (held[n_held] != INVALID_HANDLE_VALUE)
			n_held++;
	} while (FindNextFileW(h, &fd));
	FindClose(h);
}

static void release_archive(void)
{
	while (n_held > 0)
		CloseHandle(held[--n_held]);
}

static void regenerate(void)
{
	wchar_t inst[MAX_PATH], arch[MAX_PATH], pat[MAX_PATH + 4], name[MAX_PATH];
	wchar_t src[2 * MAX_PATH], dst[2 * MAX_PATH];
	WIN32_FIND_DATAW fd;
	HANDLE h;
	DWORD copied = 0;

	kh_dir(inst, MAX_PATH, L"Install");
	kh_dir(arch, MAX_PATH, L"Archive");
	CreateDirectoryW(arch, NULL);
	if (mode_hold)
		hold_archive(arch);
	_snwprintf(pat, MAX_PATH + 4, L"%ls\\*", inst);
	pat[MAX_PATH + 3] = L'\0';
	h = FindFirstFileW(pat, &fd);
	if (h != INVALID_HANDLE_VALUE) {
		do {
			if (fd.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY |
						   FILE_ATTRIBUTE_REPARSE_POINT))
				continue;
			if (mode_partial && _wcsicmp(fd.cFileName, ROOT_KH))
				continue;      /* only part of the set */
			archived_name(name, MAX_PATH, fd.cFileName);
			_snwprintf(dst, 2 * MAX_PATH, L"%ls\\%ls", arch, name);
			dst[2 * MAX_PATH - 1] = L'\0';
			if (GetFileAttributesW(dst) != INVALID_FILE_ATTRIBUTES)
				continue;      /* same identity archived: not replaced */
			_snwprintf(src, 2 * MAX_PATH, L"%ls\\%ls", inst, fd.cFileName);
			src[2 * MAX_PATH - 1] = L'\0';
			if (copy_one(src, dst))
				copied++;
		} while (FindNextFileW(h, &fd));
		FindClose(h);
	}
	test_set(L"ClipSvcCopied", copied);
}

static DWORD WINAPI late(LPVOID unused)
{
	(void)unused;
	if (WaitForSingleObject(svc_stop, delay_s * 1000) == WAIT_TIMEOUT)
		regenerate();
	return 0;
}

static DWORD standin_start(void)
{
	test_set(L"ClipSvcStarts", test_get(L"ClipSvcStarts", 0) + 1);
	if (test_get(L"ClipSvcFail", 0) == 1)
		return 1;
	delay_s = test_get(L"ClipSvcDelay", 0);
	mode_rename = test_get(L"ClipSvcRename", 0);
	mode_alter = test_get(L"ClipSvcAlter", 0);
	mode_partial = test_get(L"ClipSvcPartial", 0);
	mode_hold = test_get(L"ClipSvcHold", 0);
	standin_stopping = release_archive;
	if (delay_s)
		standin_after = late;
	else
		regenerate();
	return 0;
}

int wmain(int argc, wchar_t **argv)
{
	return standin_main(argc, argv, L"ClipSVC", L"ClipSvc");
}
