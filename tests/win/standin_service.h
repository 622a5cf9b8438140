/* standin_service.h - the Windows service skeleton shared by the test-only
 * stand-in services of tests/win/e2e.sh (standin_clipsvc.c,
 * standin_activation.c): the HKLM\SOFTWARE\khreset-test control values,
 * the ClipSVC KeyHolder folders, and the service main, control handler and
 * status reporting.  Included once by each stand-in (static functions only).
 *
 * A stand-in supplies
 *   static DWORD standin_start(void);
 *       its work at start: 0 to report RUNNING, else a service-specific exit
 *       code (the service stops before RUNNING); it may set standin_after
 *       to run more work on its own thread once RUNNING;
 * and its name: int wmain(void) { return standin_main(L"Name"); }
 */
#ifndef KH_STANDIN_SERVICE_H
#define KH_STANDIN_SERVICE_H

#include <windows.h>
#include <stdio.h>
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

#endif /* KH_STANDIN_SERVICE_H */
