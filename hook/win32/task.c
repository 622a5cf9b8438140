/* task.c - the retry scheduled task on a live Windows system, through the
 * Task Scheduler 2.0 COM API (taskschd.h), C-style vtable calls.
 *
 * install: the XML from taskxml_build() (UTF-8 text, its declaration
 * rewritten to name UTF-16, converted to a BSTR) registered with
 * TASK_CREATE_OR_UPDATE as the service account SYSTEM, in the task's folder
 * (created under the root when missing).  remove: DeleteTask, then the
 * folder if it is now empty (best effort; a non-empty folder is never
 * removed).  query: GetTask + state, last/next run, last result.
 *
 * Errors name the task, the COM call and the HRESULT with its text.
 */
#include "win32.h"

#include <objbase.h>
#include <oleauto.h>
#include <taskschd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taskxml.h"

#define HR_NOT_FOUND(hr) ((hr) == HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) || \
			  (hr) == HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND))

struct ts {
	ITaskService *svc;
	ITaskFolder *root;
	int uninit;               /* CoUninitialize at the end */
};

/* UTF-8 -> BSTR (NULL on failure). */
static BSTR bstr_of(const char *s)
{
	wchar_t *w = to_w(s);
	BSTR b = w ? SysAllocString(w) : NULL;

	free(w);
	return b;
}

static int hrfail(HRESULT hr, const char *task, const char *what)
{
	kh_seterr("task %s: %s failed: %s", task, what, hrtext(hr));
	if (hr == E_ACCESSDENIED || hr == HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED))
		return KH_ERR_PERM;
	if (hr == E_OUTOFMEMORY)
		return KH_ERR_NOMEM;
	if (hr == SCHED_E_SERVICE_NOT_RUNNING)
		return KH_ERR_SERVICE;
	return KH_ERR_IO;
}

static void ts_close(struct ts *s)
{
	if (s->root)
		s->root->lpVtbl->Release(s->root);
	if (s->svc)
		s->svc->lpVtbl->Release(s->svc);
	if (s->uninit)
		CoUninitialize();
	memset(s, 0, sizeof(*s));
}

static int ts_open(struct ts *s, const char *task)
{
	VARIANT empty;
	BSTR slash;
	HRESULT hr;

	memset(s, 0, sizeof(*s));
	hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
	if (SUCCEEDED(hr))
		s->uninit = 1;
	else if (hr != RPC_E_CHANGED_MODE)
		return hrfail(hr, task, "CoInitializeEx");
	/* As Microsoft's Task Scheduler samples do; RPC_E_TOO_LATE when the
	 * process already set it - fine either way. */
	CoInitializeSecurity(NULL, -1, NULL, NULL, RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
			     RPC_C_IMP_LEVEL_IMPERSONATE, NULL, 0, NULL);
	hr = CoCreateInstance(&CLSID_TaskScheduler, NULL, CLSCTX_INPROC_SERVER,
			      &IID_ITaskService, (void **)&s->svc);
	if (FAILED(hr)) {
		s->svc = NULL;
		ts_close(s);
		return hrfail(hr, task, "CoCreateInstance(TaskScheduler)");
	}
	VariantInit(&empty);
	hr = s->svc->lpVtbl->Connect(s->svc, empty, empty, empty, empty);
	if (FAILED(hr)) {
		ts_close(s);
		return hrfail(hr, task, "ITaskService::Connect");
	}
	if (!(slash = SysAllocString(L"\\"))) {
		ts_close(s);
		return KH_ERR_NOMEM;
	}
	hr = s->svc->lpVtbl->GetFolder(s->svc, slash, &s->root);
	SysFreeString(slash);
	if (FAILED(hr)) {
		s->root = NULL;
		ts_close(s);
		return hrfail(hr, task, "GetFolder(\\)");
	}
	return KH_OK;
}

/* "\a\b\Leaf" -> folder "\a\b" (NULL for the root) and leaf "Leaf". */
static int split_name(const char *name, char **folder, const char **leaf)
{
	const char *bs = strrchr(name, '\\');

	*folder = NULL;
	if (!name[0] || name[0] != '\\' || !bs || !bs[1]) {
		kh_seterr("task name '%s' must look like \\Folder\\Name", name);
		return KH_ERR_CONFIG;
	}
	*leaf = bs + 1;
	if (bs != name) {
		size_t n = (size_t)(bs - name);

		if (!(*folder = malloc(n + 1)))
			return KH_ERR_NOMEM;
		memcpy(*folder, name, n);
		(*folder)[n] = '\0';
	}
	return KH_OK;
}

/* The task's folder; created under the root when missing and create is set.
 * *out NULL with KH_OK: the folder does not exist (and create is not set). */
static int get_folder(struct ts *s, const char *task, const char *folder, int create,
		      ITaskFolder **out)
{
	BSTR b;
	HRESULT hr;
	VARIANT empty;

	*out = NULL;
	if (!folder) {
		s->root->lpVtbl->AddRef(s->root);
		*out = s->root;
		return KH_OK;
	}
	if (!(b = bstr_of(folder)))
		return KH_ERR_NOMEM;
	hr = s->svc->lpVtbl->GetFolder(s->svc, b, out);
	if (HR_NOT_FOUND(hr) && create) {
		VariantInit(&empty);    /* security descriptor: inherited */
		hr = s->root->lpVtbl->CreateFolder(s->root, b, empty, out);
		if (hr == HRESULT_FROM_WIN32(ERROR_ALREADY_EXISTS))   /* raced */
			hr = s->svc->lpVtbl->GetFolder(s->svc, b, out);
	}
	SysFreeString(b);
	if (HR_NOT_FOUND(hr) && !create) {
		*out = NULL;
		return KH_OK;
	}
	if (FAILED(hr)) {
		*out = NULL;
		return hrfail(hr, task, create ? "GetFolder/CreateFolder" : "GetFolder");
	}
	return KH_OK;
}

/* The UTF-8 text with its declaration naming UTF-16: the BSTR we pass is
 * UTF-16, and a declaration saying otherwise can make the parser refuse. */
static BSTR xml_bstr(const char *xml)
{
	static const char decl[] = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>";
	const char *body = xml;
	char *tmp;
	BSTR b;

	if (!strncmp(body, "<?xml", 5)) {
		const char *end = strstr(body, "?>");

		if (end)
			body = end + 2;
	}
	if (!(tmp = malloc(sizeof(decl) + strlen(body))))
		return NULL;
	strcpy(tmp, decl);
	strcat(tmp, body);
	b = bstr_of(tmp);
	free(tmp);
	return b;
}

int plat_task_install(kh_plat *p, const struct kh_task *t)
{
	struct ts s;
	ITaskFolder *f = NULL;
	IRegisteredTask *reg = NULL;
	VARIANT user, empty;
	BSTR bleaf = NULL, bxml = NULL;
	char *xml, *folder = NULL;
	const char *leaf;
	HRESULT hr;
	int rc;

	if (!(xml = taskxml_build(t)))
		return KH_ERR_CONFIG;
	if ((rc = split_name(t->name, &folder, &leaf)) != KH_OK) {
		free(xml);
		return rc;
	}
	bleaf = bstr_of(leaf);
	bxml = xml_bstr(xml);
	free(xml);
	if (!bleaf || !bxml) {
		rc = KH_ERR_NOMEM;
		goto out;
	}
	if ((rc = ts_open(&s, t->name)) != KH_OK)
		goto out;
	if ((rc = get_folder(&s, t->name, folder, 1, &f)) == KH_OK) {
		VariantInit(&empty);
		VariantInit(&user);
		user.vt = VT_BSTR;
		user.bstrVal = SysAllocString(L"SYSTEM");
		if (!user.bstrVal) {
			rc = KH_ERR_NOMEM;
		} else {
			hr = f->lpVtbl->RegisterTask(f, bleaf, bxml, TASK_CREATE_OR_UPDATE, user,
						     empty, TASK_LOGON_SERVICE_ACCOUNT, empty, &reg);
			if (FAILED(hr))
				rc = hrfail(hr, t->name, "RegisterTask");
			else
				kh_log(KH_LOG_INFO, "task", "registered %s: boot +%s, every %s, %d attempts",
				       t->name, t->delay, t->interval, t->max_attempts);
			VariantClear(&user);
		}
		if (reg)
			reg->lpVtbl->Release(reg);
		f->lpVtbl->Release(f);
	}
	ts_close(&s);
out:
	SysFreeString(bleaf);
	SysFreeString(bxml);
	free(folder);
	return rc;
}

int plat_task_remove(kh_plat *p, const char *name)
{
	struct ts s;
	ITaskFolder *f = NULL;
	IRegisteredTaskCollection *rest = NULL;
	BSTR bleaf = NULL, bfolder = NULL;
	char *folder = NULL;
	const char *leaf;
	HRESULT hr;
	LONG n = 1;
	int rc;

	if ((rc = split_name(name, &folder, &leaf)) != KH_OK)
		return rc;
	if (!(bleaf = bstr_of(leaf)) || (folder && !(bfolder = bstr_of(folder)))) {
		rc = KH_ERR_NOMEM;
		goto out;
	}
	if ((rc = ts_open(&s, name)) != KH_OK)
		goto out;
	if ((rc = get_folder(&s, name, folder, 0, &f)) == KH_OK && f) {
		hr = f->lpVtbl->DeleteTask(f, bleaf, 0);
		if (FAILED(hr) && !HR_NOT_FOUND(hr))
			rc = hrfail(hr, name, "DeleteTask");
		else if (SUCCEEDED(hr))
			kh_log(KH_LOG_INFO, "task", "removed %s", name);
		/* our folder, now empty (tasks and subfolders): remove it too */
		if (rc == KH_OK && bfolder &&
		    SUCCEEDED(f->lpVtbl->GetTasks(f, TASK_ENUM_HIDDEN, &rest)) && rest) {
			if (SUCCEEDED(rest->lpVtbl->get_Count(rest, &n)) && n == 0) {
				ITaskFolderCollection *sub = NULL;
				LONG ns = 1;

				if (SUCCEEDED(f->lpVtbl->GetFolders(f, 0, &sub)) && sub) {
					if (SUCCEEDED(sub->lpVtbl->get_Count(sub, &ns)) && ns == 0)
						s.root->lpVtbl->DeleteFolder(s.root, bfolder, 0);
					sub->lpVtbl->Release(sub);
				}
			}
			rest->lpVtbl->Release(rest);
		}
		f->lpVtbl->Release(f);
	}
	ts_close(&s);
out:
	SysFreeString(bleaf);
	SysFreeString(bfolder);
	free(folder);
	return rc;
}

static const char *state_name(TASK_STATE st)
{
	switch (st) {
	case TASK_STATE_DISABLED: return "disabled";
	case TASK_STATE_QUEUED: return "queued";
	case TASK_STATE_READY: return "ready";
	case TASK_STATE_RUNNING: return "running";
	default: return "unknown";
	}
}

/* DATE (local time, as Task Scheduler reports it) -> "YYYY-MM-DD hh:mm:ss";
 * "never" for a missing or zero date. */
static void fmt_date(HRESULT hr, DATE d, char *out, size_t sz)
{
	SYSTEMTIME st;

	if (FAILED(hr) || hr == SCHED_S_TASK_HAS_NOT_RUN || d <= 0.0 ||
	    !VariantTimeToSystemTime(d, &st) || st.wYear < 2000) {
		snprintf(out, sz, FAILED(hr) && hr != SCHED_S_TASK_HAS_NOT_RUN ? "unknown" : "never");
		return;
	}
	snprintf(out, sz, "%04u-%02u-%02u %02u:%02u:%02u", st.wYear, st.wMonth, st.wDay,
		 st.wHour, st.wMinute, st.wSecond);
}

int plat_task_query(kh_plat *p, const char *name, int *exists, char **detail)
{
	struct ts s;
	ITaskFolder *f = NULL;
	IRegisteredTask *reg = NULL;
	BSTR bleaf = NULL;
	char *folder = NULL, last[32], next[32];
	const char *leaf;
	TASK_STATE st = TASK_STATE_UNKNOWN;
	DATE dl = 0, dn = 0;
	LONG result = 0;
	HRESULT hr, hl, hn;
	int rc;

	*exists = 0;
	*detail = NULL;
	if ((rc = split_name(name, &folder, &leaf)) != KH_OK)
		return rc;
	if (!(bleaf = bstr_of(leaf))) {
		rc = KH_ERR_NOMEM;
		goto out;
	}
	if ((rc = ts_open(&s, name)) != KH_OK)
		goto out;
	if ((rc = get_folder(&s, name, folder, 0, &f)) == KH_OK && f) {
		hr = f->lpVtbl->GetTask(f, bleaf, &reg);
		if (SUCCEEDED(hr) && reg) {
			*exists = 1;
			if (FAILED(reg->lpVtbl->get_State(reg, &st)))
				st = TASK_STATE_UNKNOWN;
			hl = reg->lpVtbl->get_LastRunTime(reg, &dl);
			hn = reg->lpVtbl->get_NextRunTime(reg, &dn);
			fmt_date(hl, dl, last, sizeof(last));
			fmt_date(hn, dn, next, sizeof(next));
			if (FAILED(reg->lpVtbl->get_LastTaskResult(reg, &result)))
				result = 0;
			*detail = kh_asprintf("state %s, last run %s, next run %s, last result 0x%08lX",
					      state_name(st), last, next, (unsigned long)result);
			reg->lpVtbl->Release(reg);
		} else if (!HR_NOT_FOUND(hr)) {
			rc = hrfail(hr, name, "GetTask");
		}
		f->lpVtbl->Release(f);
	}
	ts_close(&s);
out:
	SysFreeString(bleaf);
	free(folder);
	return rc;
}
