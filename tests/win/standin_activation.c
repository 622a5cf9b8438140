/* standin_activation.c - test-only stand-in for the CMGE activation client
 * service (CmitClientSVC), a real Windows service run by the SCM under Wine
 * for tests/win/e2e.sh.  When started it reports RUNNING and then, on its
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
 * Written: ActivationAttempts, ActivationResult (REG_SZ), Licensed.
 *
 * Build: x86_64-w64-mingw32-gcc -municode -static -o standin_activation.exe
 *        standin_activation.c -ladvapi32
 */

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define TEST_KEY L"SOFTWARE\\khreset-test"
#define KH_SUB   L"\\ProgramData\\Microsoft\\Windows\\ClipSVC"
#define ROOT_KH  L"f912421d-3371-f33c-3cf8-22df25e5851f.xml"
#define ACT_KH   L"451b310a-7d1e-4c52-9a0b-3f6c1e2d8a47.xml"

static DWORD test_get(const wchar_t *name, DWORD def)
{
	DWORD v = 0, sz = sizeof(v);

	if (RegGetValueW(HKEY_LOCAL_MACHINE, TEST_KEY, name, RRF_RT_REG_DWORD, NULL, &v,
			 &sz) != ERROR_SUCCESS)
		return def;
	return v;
}

static void test_set(const wchar_t *name, DWORD v)
{
	RegSetKeyValueW(HKEY_LOCAL_MACHINE, TEST_KEY, name, REG_DWORD, &v, sizeof(v));
}

static __attribute__((unused)) void test_set_sz(const wchar_t *name, const wchar_t *s)
{
	RegSetKeyValueW(HKEY_LOCAL_MACHINE, TEST_KEY, name, REG_SZ, s,
			(DWORD)((wcslen(s) + 1) * sizeof(wchar_t)));
}

/* C:\ProgramData\Microsoft\Windows\ClipSVC\<part>\KeyHolder */
static void kh_dir(wchar_t *out, size_t n, const wchar_t *part)
{
	wchar_t win[MAX_PATH];
	UINT len = GetSystemWindowsDirectoryW(win, MAX_PATH);

	if (len < 2 || len >= MAX_PATH)
		wcscpy(win, L"C:");
	win[2] = L'\0';         /* the drive: "C:" */
	_snwprintf(out, n, L"%ls" KH_SUB L"\\%ls\\KeyHolder", win, part);
	out[n - 1] = L'\0';
}

static __attribute__((unused)) int file_exists(const wchar_t *path)
{
	DWORD a = GetFileAttributesW(path);

	return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

/* ---- the service skeleton ---------------------------------------------------- */
static SERVICE_STATUS_HANDLE svc_h;
static SERVICE_STATUS svc_st;
static HANDLE svc_stop;

static void svc_report(DWORD state, DWORD win32, DWORD specific, DWORD hint)
{
	static DWORD check = 1;

	svc_st.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	svc_st.dwCurrentState = state;
	svc_st.dwWin32ExitCode = win32;
	svc_st.dwServiceSpecificExitCode = specific;
	svc_st.dwWaitHint = hint;
	svc_st.dwControlsAccepted = state == SERVICE_RUNNING
		? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
	svc_st.dwCheckPoint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : check++;
	SetServiceStatus(svc_h, &svc_st);
}

static DWORD WINAPI svc_ctrl(DWORD ctl, DWORD type, LPVOID data, LPVOID ctx)
{
	(void)type; (void)data; (void)ctx;
	switch (ctl) {
	case SERVICE_CONTROL_STOP:
	case SERVICE_CONTROL_SHUTDOWN:
		svc_report(SERVICE_STOP_PENDING, NO_ERROR, 0, 2000);
		SetEvent(svc_stop);
		return NO_ERROR;
	case SERVICE_CONTROL_INTERROGATE:
		return NO_ERROR;
	}
	return ERROR_CALL_NOT_IMPLEMENTED;
}

/* The stand-in's work at start: returns 0 to run, else a service-specific
 * exit code (the service stops before RUNNING). */
static DWORD standin_start(void);
/* Optional work after RUNNING (NULL: none), on its own thread. */
static LPTHREAD_START_ROUTINE standin_after;

static void WINAPI svc_main(DWORD argc, LPWSTR *argv)
{
	DWORD err;

	svc_h = RegisterServiceCtrlHandlerExW(argc ? argv[0] : L"standin", svc_ctrl, NULL);
	if (!svc_h)
		return;
	svc_stop = CreateEventW(NULL, TRUE, FALSE, NULL);
	svc_report(SERVICE_START_PENDING, NO_ERROR, 0, 3000);
	if ((err = standin_start()) != 0) {
		svc_report(SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, err, 0);
		return;
	}
	svc_report(SERVICE_RUNNING, NO_ERROR, 0, 0);
	if (standin_after) {
		HANDLE t = CreateThread(NULL, 0, standin_after, NULL, 0, NULL);
		if (t)
			CloseHandle(t);
	}
	WaitForSingleObject(svc_stop, INFINITE);
	svc_report(SERVICE_STOPPED, NO_ERROR, 0, 0);
}

static int standin_main(const wchar_t *name)
{
	SERVICE_TABLE_ENTRYW t[] = { { (LPWSTR)name, svc_main }, { NULL, NULL } };

	if (!StartServiceCtrlDispatcherW(t)) {
		fprintf(stderr, "%ls: not started by the service control manager (%lu)\n",
			name, GetLastError());
		return 1;
	}
	return 0;
}

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

int wmain(void)
{
	return standin_main(L"CmitClientSVC");
}
