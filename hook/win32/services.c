/* services.c - service stop and start through the service control manager,
 * polling until a timeout; a disabled service is an error naming it and is
 * never re-enabled.
 */
#include <stdlib.h>

#include "win32.h"

static const char *svc_state(DWORD s)
{
	switch (s) {
	case SERVICE_STOPPED: return "stopped";
	case SERVICE_START_PENDING: return "start pending";
	case SERVICE_STOP_PENDING: return "stop pending";
	case SERVICE_RUNNING: return "running";
	case SERVICE_CONTINUE_PENDING: return "continue pending";
	case SERVICE_PAUSE_PENDING: return "pause pending";
	case SERVICE_PAUSED: return "paused";
	default: return "unknown";
	}
}

static int svc_open(const char *name, DWORD access, SC_HANDLE *scm, SC_HANDLE *svc)
{
	wchar_t *w = to_w(name);
	DWORD e;

	*scm = *svc = NULL;
	if (!w || !*w) {
		free(w);
		kh_seterr("invalid service name \"%s\"", name ? name : "");
		return KH_ERR_CONFIG;
	}
	*scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
	if (!*scm) {
		e = GetLastError();
		free(w);
		kh_seterr("cannot connect to the service control manager: %s", werr(e));
		return e == ERROR_ACCESS_DENIED ? KH_ERR_PERM : KH_ERR_SERVICE;
	}
	*svc = OpenServiceW(*scm, w, access);
	free(w);
	if (!*svc) {
		e = GetLastError();
		CloseServiceHandle(*scm);
		*scm = NULL;
		if (e == ERROR_SERVICE_DOES_NOT_EXIST) {
			kh_seterr("service %s does not exist", name);
			return KH_ERR_SERVICE;
		}
		kh_seterr("cannot open service %s: %s", name, werr(e));
		return e == ERROR_ACCESS_DENIED ? KH_ERR_PERM : KH_ERR_SERVICE;
	}
	return KH_OK;
}

static int svc_query(SC_HANDLE svc, const char *name, SERVICE_STATUS_PROCESS *st)
{
	DWORD need;

	if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)st, sizeof(*st), &need)) {
		kh_seterr("cannot query service %s: %s", name, werr(GetLastError()));
		return KH_ERR_SERVICE;
	}
	return KH_OK;
}

/* Polls until the service reaches `want` (or, when starting, stops). */
static int svc_wait(SC_HANDLE svc, const char *name, DWORD want, ULONGLONG deadline,
		    SERVICE_STATUS_PROCESS *st)
{
	for (;;) {
		int r = svc_query(svc, name, st);
		DWORD nap;

		if (r)
			return r;
		if (st->dwCurrentState == want)
			return KH_OK;
		if (want == SERVICE_RUNNING && st->dwCurrentState == SERVICE_STOPPED)
			return KH_ERR_SERVICE;   /* caller words it */
		if (GetTickCount64() >= deadline) {
			kh_seterr("service %s did not become %s in time (still %s)", name,
				  svc_state(want), svc_state(st->dwCurrentState));
			return KH_ERR_TIMEOUT;
		}
		nap = st->dwWaitHint / 10;
		if (nap < 100)
			nap = 100;
		if (nap > 1000)
			nap = 1000;
		Sleep(nap);
	}
}

static ULONGLONG deadline_of(int timeout_s)
{
	return GetTickCount64() + (ULONGLONG)(timeout_s > 0 ? timeout_s : 0) * 1000ULL;
}

int plat_service_stop(kh_plat *p, const char *name, int timeout_s)
{
	SC_HANDLE scm, svc;
	SERVICE_STATUS_PROCESS st;
	SERVICE_STATUS ss;
	ULONGLONG dl = deadline_of(timeout_s);
	int r;

	(void)p;
	r = svc_open(name, SERVICE_STOP | SERVICE_QUERY_STATUS, &scm, &svc);
	if (r)
		return r;
	r = svc_query(svc, name, &st);
	if (r || st.dwCurrentState == SERVICE_STOPPED)
		goto out;
	if (st.dwCurrentState == SERVICE_START_PENDING) {
		/* a service cannot take STOP while starting: let it finish */
		r = svc_wait(svc, name, SERVICE_RUNNING, dl, &st);
		if (r == KH_ERR_SERVICE && st.dwCurrentState == SERVICE_STOPPED) {
			r = KH_OK;
			goto out;
		}
		if (r)
			goto out;
	}
	if (st.dwCurrentState != SERVICE_STOP_PENDING &&
	    !ControlService(svc, SERVICE_CONTROL_STOP, &ss)) {
		DWORD e = GetLastError();

		if (e != ERROR_SERVICE_NOT_ACTIVE) {
			kh_seterr("cannot stop service %s: %s", name, werr(e));
			r = e == ERROR_ACCESS_DENIED ? KH_ERR_PERM : KH_ERR_SERVICE;
			goto out;
		}
	}
	r = svc_wait(svc, name, SERVICE_STOPPED, dl, &st);
out:
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	if (r == KH_OK)
		kh_log(KH_LOG_DEBUG, "service", "%s stopped", name);
	return r;
}

int plat_service_start(kh_plat *p, const char *name, int timeout_s)
{
	SC_HANDLE scm, svc;
	SERVICE_STATUS_PROCESS st;
	QUERY_SERVICE_CONFIGW *cfg = NULL;
	DWORD need = 0;
	ULONGLONG dl = deadline_of(timeout_s);
	int r;

	(void)p;
	r = svc_open(name, SERVICE_START | SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG, &scm, &svc);
	if (r)
		return r;
	/* a disabled service is reported, never re-enabled */
	QueryServiceConfigW(svc, NULL, 0, &need);
	if (need && (cfg = malloc(need)) != NULL &&
	    QueryServiceConfigW(svc, cfg, need, &need) &&
	    cfg->dwStartType == SERVICE_DISABLED) {
		kh_seterr("service %s is disabled; khreset does not re-enable services", name);
		r = KH_ERR_SERVICE;
		goto out;
	}
	r = svc_query(svc, name, &st);
	if (r || st.dwCurrentState == SERVICE_RUNNING)
		goto out;
	if (st.dwCurrentState == SERVICE_STOP_PENDING) {
		r = svc_wait(svc, name, SERVICE_STOPPED, dl, &st);
		if (r)
			goto out;
	}
	if (st.dwCurrentState == SERVICE_STOPPED && !StartServiceW(svc, 0, NULL)) {
		DWORD e = GetLastError();

		if (e == ERROR_SERVICE_DISABLED) {
			kh_seterr("service %s is disabled; khreset does not re-enable services",
				  name);
			r = KH_ERR_SERVICE;
			goto out;
		}
		if (e != ERROR_SERVICE_ALREADY_RUNNING) {
			kh_seterr("cannot start service %s: %s", name, werr(e));
			r = e == ERROR_ACCESS_DENIED ? KH_ERR_PERM : KH_ERR_SERVICE;
			goto out;
		}
	}
	r = svc_wait(svc, name, SERVICE_RUNNING, dl, &st);
	if (r == KH_ERR_SERVICE && st.dwCurrentState == SERVICE_STOPPED) {
		if (st.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR)
			kh_seterr("service %s stopped while starting (service exit code %lu)",
				  name, (unsigned long)st.dwServiceSpecificExitCode);
		else
			kh_seterr("service %s stopped while starting (%s)", name,
				  werr(st.dwWin32ExitCode));
	}
out:
	free(cfg);
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	if (r == KH_OK)
		kh_log(KH_LOG_DEBUG, "service", "%s running", name);
	return r;
}
