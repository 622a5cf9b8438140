/* services.c - service stop and start through the service control manager,
 * polling until a timeout; a disabled service is an error naming it and is
 * never re-enabled.  A stop the service cannot take now, or a service
 * started again (by its trigger) after it stopped, is asked again within
 * the timeout and ends as KH_ERR_INUSE, "not yet", for the core to retry.
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

/* A stop is done once the service has stayed stopped this long: a
 * trigger-start service (ClipSVC) may be started again at once. */
#define SETTLE_MS 500

/* What a stop that ran out of time met: "not yet" (KH_ERR_INUSE) when the
 * service was started again after it stopped or refused the control for
 * now; a plain timeout when it only stayed stop-pending. */
static int stop_late(const char *name, int timeout_s, DWORD state, int restarts,
		     DWORD refused)
{
	if (restarts) {
		kh_seterr("service %s was started again after it stopped (%d time%s: a trigger "
			  "start?); still %s after %d s", name, restarts, restarts == 1 ? "" : "s",
			  svc_state(state), timeout_s);
		return KH_ERR_INUSE;
	}
	if (refused && state != SERVICE_STOP_PENDING) {
		kh_seterr("service %s cannot accept a stop now (%s); still %s after %d s of "
			  "retries", name, werr(refused), svc_state(state), timeout_s);
		return KH_ERR_INUSE;
	}
	kh_seterr("service %s did not become stopped in time (still %s)", name, svc_state(state));
	return KH_ERR_TIMEOUT;
}

/* Sends STOP until the service has stayed stopped SETTLE_MS, within the
 * timeout: a start in progress is waited out (a service cannot take STOP
 * while starting), "cannot accept control now" is asked again, and a
 * service running again after our stop (by its trigger) is stopped again. */
/* Both handles closed and opened again (for a stop). */
static int svc_reopen(const char *name, SC_HANDLE *scm, SC_HANDLE *svc)
{
	int r;

	CloseServiceHandle(*svc);
	CloseServiceHandle(*scm);
	r = svc_open(name, SERVICE_STOP | SERVICE_QUERY_STATUS, scm, svc);
	if (r == KH_OK)
		kh_clearerr();
	return r;
}

int plat_service_stop(kh_plat *p, const char *name, int timeout_s)
{
	SC_HANDLE scm, svc;
	SERVICE_STATUS_PROCESS st;
	SERVICE_STATUS ss;
	ULONGLONG dl = deadline_of(timeout_s), stopped_at = 0;
	DWORD pid = 0, refused = 0;
	int r, sent = 0, down = 0, restarts = 0, reopened = 0;

	(void)p;
	r = svc_open(name, SERVICE_STOP | SERVICE_QUERY_STATUS, &scm, &svc);
	if (r)
		return r;
	for (;;) {
		ULONGLONG now;
		DWORD s, e, nap = 100;

		if ((r = svc_query(svc, name, &st)) != KH_OK) {
			/* once: a handle the service manager lost across the
			 * service's restart (seen under Wine) is opened again */
			if (reopened++)
				break;
			if ((r = svc_reopen(name, &scm, &svc)) != KH_OK)
				return r;
			continue;
		}
		reopened = 0;
		now = GetTickCount64();
		s = st.dwCurrentState;
		if (sent && (s == SERVICE_RUNNING || s == SERVICE_START_PENDING) &&
		    (down || (st.dwProcessId && st.dwProcessId != pid))) {
			restarts++;
			sent = down = 0;
			stopped_at = 0;
			kh_log(KH_LOG_INFO, "service", "%s is %s again after a stop (process %lu): "
			       "stopping it again", name, svc_state(s), (unsigned long)st.dwProcessId);
		}
		if (s == SERVICE_STOPPED) {
			if (!sent)
				break;          /* stopped before we asked: nothing to settle */
			down = 1;
			if (!stopped_at)
				stopped_at = now;
			if (now - stopped_at >= SETTLE_MS || now >= dl)
				break;
		} else if (s == SERVICE_STOP_PENDING) {
			if (!sent)
				pid = st.dwProcessId;   /* someone else's stop: ours to see through */
			sent = down = 1;
			stopped_at = 0;
			nap = st.dwWaitHint / 10;
		} else if (s != SERVICE_START_PENDING && !sent) {
			if (ControlService(svc, SERVICE_CONTROL_STOP, &ss)) {
				/* a shared process keeps its ID across a restart: what
				 * the control answered shows the stop began */
				sent = 1;
				down = ss.dwCurrentState == SERVICE_STOP_PENDING ||
				       ss.dwCurrentState == SERVICE_STOPPED;
				pid = st.dwProcessId;
				continue;
			}
			if ((e = GetLastError()) == ERROR_SERVICE_CANNOT_ACCEPT_CTRL) {
				refused = e;
			} else if (e == ERROR_INVALID_HANDLE && !reopened++) {
				/* the same lost handle, seen by the control (Wine,
				 * a restart in between): opened again, once */
				if ((r = svc_reopen(name, &scm, &svc)) != KH_OK)
					return r;
				continue;
			} else if (e != ERROR_SERVICE_NOT_ACTIVE) {
				kh_seterr("cannot stop service %s: %s", name, werr(e));
				r = e == ERROR_ACCESS_DENIED ? KH_ERR_PERM : KH_ERR_SERVICE;
				break;
			}
		} else if (s == SERVICE_START_PENDING) {
			nap = st.dwWaitHint / 10;
		}
		if (now >= dl) {
			r = stop_late(name, timeout_s, s, restarts, refused);
			break;
		}
		if (nap < 100)
			nap = 100;
		if (nap > 1000)
			nap = 1000;
		if (dl - now < nap)
			nap = (DWORD)(dl - now);
		Sleep(nap);
	}
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	if (r == KH_OK)
		kh_log(KH_LOG_DEBUG, "service", "%s stopped%s", name,
		       restarts ? " (after a restart by someone else)" : "");
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
