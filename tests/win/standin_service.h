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
 *       to run more work on its own thread once RUNNING (svc_stop is set
 *       when a stop came: wait on it instead of sleeping), and
 *       standin_stopping to run at a stop before STOPPED;
 * and its name and the prefix of its control values:
 *   int wmain(int argc, wchar_t **argv)
 *   { return standin_main(argc, argv, L"Name", L"Prefix"); }
 *
 * Misbehaviour every stand-in has, read from HKLM\SOFTWARE\khreset-test
 * (PREFIX is the stand-in's: ClipSvc, Activation):
 *   PREFIXHangStart = S   stay START_PENDING for S s before its work
 *   PREFIXHangStop  = S   stay STOP_PENDING for S s after a stop request
 *                         (both read again while waiting: deleting the
 *                         value ends the hang - the tests' clean-up)
 *   PREFIXIdleStop  = S   once (the value is reset): right after RUNNING
 *                         stop on its own, S s in STOP_PENDING (a stop
 *                         request meanwhile: "cannot accept control now"),
 *                         then STOPPED - a trigger-start service going idle
 *                         (PREFIXIdleLeft holds S meanwhile)
 *   PREFIXRetrigger = N   the next N stops are each followed by a start:
 *                         a helper (this executable, argument "retrigger")
 *                         starts the service again as soon as it is STOPPED,
 *                         as a trigger start does; N counts down
 * Written: PREFIXStops (stop requests handled), PREFIXRetriggered (starts
 * made by the helper).
 */
#ifndef KH_STANDIN_SERVICE_H
#define KH_STANDIN_SERVICE_H

#include <windows.h>
#include <stdio.h>
#include <wchar.h>

#include "standin_test.h"

#define KH_SUB   L"\\ProgramData\\Microsoft\\Windows\\ClipSVC"
#define ROOT_KH  L"f912421d-3371-f33c-3cf8-22df25e5851f.xml"
#define ACT_KH   L"451b310a-7d1e-4c52-9a0b-3f6c1e2d8a47.xml"

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
static volatile LONG svc_idle;     /* stopping on its own: no control taken */
static SERVICE_STATUS svc_st;
static HANDLE svc_stop;
static const wchar_t *svc_name, *svc_prefix;
static void svc_report(DWORD state, DWORD win32, DWORD specific, DWORD hint);

/* PREFIX + name: the stand-in's own control value */
static const wchar_t *own(const wchar_t *name)
{
	static wchar_t buf[4][64];
	static int i;
	wchar_t *b = buf[i++ % 4];

	_snwprintf(b, 64, L"%ls%ls", svc_prefix, name);
	b[63] = L'\0';
	return b;
}

/* stay in a pending STATE while the control value NAME (seconds, read
 * again every half second: clearing it ends the wait) is not over */
static void svc_pending(DWORD state, const wchar_t *name)
{
	for (DWORD ms = 0; ms < test_get(name, 0) * 1000; ms += 500) {
		svc_report(state, NO_ERROR, 0, 2000);
		Sleep(500);
	}
}

/* the helper that starts the service again once it is STOPPED */
static void svc_retrigger_spawn(void)
{
	wchar_t exe[MAX_PATH], cmd[2 * MAX_PATH];
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;

	ZeroMemory(&si, sizeof(si));
	si.cb = sizeof(si);
	if (!GetModuleFileNameW(NULL, exe, MAX_PATH))
		return;
	_snwprintf(cmd, 2 * MAX_PATH, L"\"%ls\" retrigger %ls", exe, svc_name);
	cmd[2 * MAX_PATH - 1] = L'\0';
	if (CreateProcessW(exe, cmd, NULL, NULL, FALSE, DETACHED_PROCESS, NULL, NULL, &si, &pi)) {
		CloseHandle(pi.hThread);
		CloseHandle(pi.hProcess);
	}
}

static int svc_retrigger(const wchar_t *name)
{
	SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT), svc;
	SERVICE_STATUS ss;
	int rc = 1;

	if (!scm)
		return 1;
	if ((svc = OpenServiceW(scm, name, SERVICE_START | SERVICE_QUERY_STATUS))) {
		for (int i = 0; i < 200; i++) {          /* 20 s at most */
			if (QueryServiceStatus(svc, &ss) && ss.dwCurrentState == SERVICE_STOPPED) {
				if (StartServiceW(svc, 0, NULL)) {
					test_set(own(L"Retriggered"), test_get(own(L"Retriggered"), 0) + 1);
					rc = 0;
				}
				break;
			}
			Sleep(100);
		}
		CloseServiceHandle(svc);
	}
	CloseServiceHandle(scm);
	return rc;
}

static void svc_report(DWORD state, DWORD win32, DWORD specific, DWORD hint)
{
	static DWORD check = 1;

	svc_st.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	svc_st.dwCurrentState = state;
	svc_st.dwWin32ExitCode = win32;
	svc_st.dwServiceSpecificExitCode = specific;
	svc_st.dwWaitHint = hint;
	svc_st.dwControlsAccepted = state == SERVICE_RUNNING && !svc_idle
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
		if (svc_idle)
			return ERROR_SERVICE_CANNOT_ACCEPT_CTRL;
		test_set(own(L"Stops"), test_get(own(L"Stops"), 0) + 1);
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
/* Optional work at a stop, before STOPPED (NULL: none). */
static void (*standin_stopping)(void);

static void WINAPI svc_main(DWORD argc, LPWSTR *argv)
{
	DWORD err, idle, n;

	svc_h = RegisterServiceCtrlHandlerExW(argc ? argv[0] : L"standin", svc_ctrl, NULL);
	if (!svc_h)
		return;
	svc_stop = CreateEventW(NULL, TRUE, FALSE, NULL);
	svc_report(SERVICE_START_PENDING, NO_ERROR, 0, 3000);
	svc_pending(SERVICE_START_PENDING, own(L"HangStart"));
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
	if ((idle = test_get(own(L"IdleStop"), 0)) != 0) {
		test_set(own(L"IdleStop"), 0);
		test_set(own(L"IdleLeft"), idle);
		InterlockedExchange(&svc_idle, 1);
		svc_pending(SERVICE_STOP_PENDING, own(L"IdleLeft"));
		SetEvent(svc_stop);
	}
	WaitForSingleObject(svc_stop, INFINITE);
	if (!svc_idle) {
		if ((n = test_get(own(L"Retrigger"), 0)) != 0) {
			test_set(own(L"Retrigger"), n - 1);
			svc_retrigger_spawn();
		}
		svc_pending(SERVICE_STOP_PENDING, own(L"HangStop"));
	}
	if (standin_stopping)
		standin_stopping();
	svc_report(SERVICE_STOPPED, NO_ERROR, 0, 0);
}

static int standin_main(int argc, wchar_t **argv, const wchar_t *name, const wchar_t *prefix)
{
	SERVICE_TABLE_ENTRYW t[] = { { (LPWSTR)name, svc_main }, { NULL, NULL } };

	svc_name = name;
	svc_prefix = prefix;
	if (argc == 3 && !wcscmp(argv[1], L"retrigger"))
		return svc_retrigger(argv[2]);
	if (!StartServiceCtrlDispatcherW(t)) {
		fprintf(stderr, "%ls: not started by the service control manager (%lu)\n",
			name, GetLastError());
		return 1;
	}
	return 0;
}

#endif /* KH_STANDIN_SERVICE_H */
