/* events.c - the Application event log (source "khreset", the executable's
 * message table) and the single-instance lock, the Global\khreset mutex.
 */
#include <stdlib.h>

#include "win32.h"

#define KH_EVT_KEY L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\khreset"

/* Registers the executable (its message table) as the source's message file
 * so Event Viewer shows the text; best effort. */
static void event_register(void)
{
	wchar_t exe[MAX_PATH + 1], cur[MAX_PATH + 1];
	DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH), size = sizeof(cur), type = 0, types = 7;
	HKEY hk;

	if (n == 0 || n >= MAX_PATH)
		return;
	exe[n] = L'\0';
	if (RegCreateKeyExW(HKEY_LOCAL_MACHINE, KH_EVT_KEY, 0, NULL, REG_OPTION_NON_VOLATILE,
			    KEY_QUERY_VALUE | KEY_SET_VALUE | KEY_WOW64_64KEY, NULL, &hk,
			    NULL) != ERROR_SUCCESS)
		return;
	if (RegQueryValueExW(hk, L"EventMessageFile", NULL, &type, (BYTE *)cur, &size) !=
	    ERROR_SUCCESS || size > sizeof(cur) - sizeof(wchar_t) ||
	    (cur[size / sizeof(wchar_t)] = L'\0', _wcsicmp(cur, exe) != 0)) {
		RegSetValueExW(hk, L"EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe,
			       (n + 1) * sizeof(wchar_t));
		RegSetValueExW(hk, L"TypesSupported", 0, REG_DWORD, (const BYTE *)&types,
			       sizeof(types));
	}
	RegCloseKey(hk);
}

int plat_event(kh_plat *p, int id, const char *text)
{
	wchar_t *w = to_w(text ? text : "");
	LPCWSTR strs[1];
	WORD type;

	if (!w)
		w = to_w("(text not valid UTF-8)");
	if (!w)
		return KH_ERR_NOMEM;
	if (!p->evsrc) {
		event_register();
		p->evsrc = RegisterEventSourceW(NULL, L"khreset");
	}
	if (!p->evsrc) {
		kh_seterr("cannot register event source khreset: %s", werr(GetLastError()));
		free(w);
		return KH_ERR_IO;
	}
	if (id == 102 || id == 201)
		type = EVENTLOG_WARNING_TYPE;
	else if (id >= 200)
		type = EVENTLOG_ERROR_TYPE;
	else
		type = EVENTLOG_INFORMATION_TYPE;
	strs[0] = w;
	if (!ReportEventW(p->evsrc, type, 0, (DWORD)id, NULL, 1, 0, strs, NULL)) {
		kh_seterr("cannot write event %d: %s", id, werr(GetLastError()));
		free(w);
		return KH_ERR_IO;
	}
	free(w);
	return KH_OK;
}

/* ---- lock -------------------------------------------------------------------- */
int plat_lock(kh_plat *p, const char *lockfile)
{
	HANDLE m;
	DWORD e;

	(void)lockfile;        /* live: the Global\khreset mutex (SPEC section 3) */
	if (p->mutex)
		return KH_OK;
	m = CreateMutexW(NULL, FALSE, L"Global\\khreset");
	e = GetLastError();
	if (!m) {
		if (e == ERROR_ACCESS_DENIED) {
			/* exists, created by another (privileged) instance */
			kh_seterr("another khreset instance is running (mutex Global\\khreset)");
			return KH_ERR_BUSY;
		}
		kh_seterr("cannot create mutex Global\\khreset: %s", werr(e));
		return KH_ERR_IO;
	}
	if (e == ERROR_ALREADY_EXISTS) {
		CloseHandle(m);
		kh_seterr("another khreset instance is running (mutex Global\\khreset)");
		return KH_ERR_BUSY;
	}
	p->mutex = m;
	return KH_OK;
}

void plat_unlock(kh_plat *p)
{
	if (p && p->mutex) {
		CloseHandle(p->mutex);
		p->mutex = NULL;
	}
}
