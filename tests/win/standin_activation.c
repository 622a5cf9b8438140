/* standin_activation.c - test-only stand-in for the CMGE activation client
 * service (CmitClientSVC), a real Windows service run by the SCM under Wine
 * for tests/win/e2e.sh and tests/win/firstboot.sh.  When started it reports RUNNING and then, on its
 * own thread (about half a second later, like a client that talks to the
 * intranet activation server), activates only if
 *   - Archive\KeyHolder holds the official root keyholder
 *     f912421d-3371-f33c-3cf8-22df25e5851f.xml with V2020-L content, and
 *   - nothing stale: every other archive file is also in Install\KeyHolder
 *     (the official set) or is the activation keyholder it writes itself;
 * then writes 451b310a-7d1e-4c52-9a0b-3f6c1e2d8a47.xml into the archive and
 * records the licence as activated (HKLM\SOFTWARE\khreset-test\Licensed = 1,
 * which tests/win/slc_test.c reports through SLGetLicensingStatusInformation).
 *
 * Control values under HKLM\SOFTWARE\khreset-test (read at every attempt):
 *   ActivationNever = 1   the activation server never answers
 * and the ActivationHangStart, HangStop, IdleStop, Retrigger values every
 * stand-in has (standin_service.h).
 * Written: ActivationAttempts, ActivationResult (REG_SZ), Licensed,
 * ActivationStops.
 *
 * Build: x86_64-w64-mingw32-gcc -municode -static -o standin_activation.exe
 *        standin_activation.c -ladvapi32
 */

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "standin_service.h"

/* ---- the activation client ---------------------------------------------------- */
static char *slurp(const wchar_t *path, DWORD max)
{
	HANDLE f = CreateFileW(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
			       FILE_ATTRIBUTE_NORMAL, NULL);
	DWORD size, got = 0;
	char *b;

	if (f == INVALID_HANDLE_VALUE)
		return NULL;
	size = GetFileSize(f, NULL);
	if (size == INVALID_FILE_SIZE || size > max || !(b = calloc(1, size + 1))) {
		CloseHandle(f);
		return NULL;
	}
	if (!ReadFile(f, b, size, &got, NULL) || got != size) {
		free(b);
		b = NULL;
	}
	CloseHandle(f);
	return b;
}

/* NULL when clean, else why not (static text). */
static const wchar_t *archive_stale(const wchar_t *arch, const wchar_t *inst)
{
	wchar_t path[2 * MAX_PATH];
	WIN32_FIND_DATAW fd;
	const wchar_t *why = NULL;
	HANDLE h;
	char *data;

	_snwprintf(path, 2 * MAX_PATH, L"%ls\\" ROOT_KH, arch);
	path[2 * MAX_PATH - 1] = L'\0';
	if (!(data = slurp(path, 1 << 20)))
		return L"failed: no root keyholder in the archive";
	if (!strstr(data, "V2020-L"))
		why = L"failed: the archived root keyholder is not V2020-L";
	free(data);
	if (why)
		return why;
	_snwprintf(path, 2 * MAX_PATH, L"%ls\\*", arch);
	path[2 * MAX_PATH - 1] = L'\0';
	if ((h = FindFirstFileW(path, &fd)) == INVALID_HANDLE_VALUE)
		return L"failed: archive unreadable";
	do {
		if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L"..") ||
		    !_wcsicmp(fd.cFileName, ACT_KH))
			continue;
		_snwprintf(path, 2 * MAX_PATH, L"%ls\\%ls", inst, fd.cFileName);
		path[2 * MAX_PATH - 1] = L'\0';
		if (!file_exists(path)) {
			why = L"failed: stale keyholder in the archive";
			break;
		}
	} while (FindNextFileW(h, &fd));
	FindClose(h);
	return why;
}

static DWORD WINAPI attempt(LPVOID unused)
{
	static const char act[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"
		"<License xmlns=\"urn:schemas-microsoft-com:windows:store:licensing:ls\" "
		"Version=\"1\"><Binding Binding_Type=\"KeyHolder\"/><Activation>VDI"
		"</Activation></License>\r\n";
	wchar_t arch[MAX_PATH], inst[MAX_PATH], path[2 * MAX_PATH];
	const wchar_t *why;
	HANDLE f;
	DWORD put = 0;

	(void)unused;
	Sleep(500);
	test_set(L"ActivationAttempts", test_get(L"ActivationAttempts", 0) + 1);
	if (test_get(L"ActivationNever", 0) == 1) {
		test_set_sz(L"ActivationResult", L"failed: no answer from the activation server");
		return 0;
	}
	kh_dir(arch, MAX_PATH, L"Archive");
	kh_dir(inst, MAX_PATH, L"Install");
	if ((why = archive_stale(arch, inst))) {
		/* "failed to activate using the intranet activation server" */
		test_set_sz(L"ActivationResult", why);
		return 0;
	}
	_snwprintf(path, 2 * MAX_PATH, L"%ls\\" ACT_KH, arch);
	path[2 * MAX_PATH - 1] = L'\0';
	f = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	if (f == INVALID_HANDLE_VALUE || !WriteFile(f, act, sizeof(act) - 1, &put, NULL) ||
	    put != sizeof(act) - 1) {
		if (f != INVALID_HANDLE_VALUE)
			CloseHandle(f);
		test_set_sz(L"ActivationResult", L"failed: cannot write the activation keyholder");
		return 0;
	}
	CloseHandle(f);
	test_set(L"Licensed", 1);
	test_set_sz(L"ActivationResult", L"activated");
	return 0;
}

static DWORD standin_start(void)
{
	standin_after = attempt;
	return 0;
}

int wmain(int argc, wchar_t **argv)
{
	return standin_main(argc, argv, L"CmitClientSVC", L"Activation");
}
