/* evidence.c - what the evidence collector reads on a live system, and
 * where it writes: service state, configuration and triggers through the
 * service control manager, the licence status per SKU through slc.dll, an
 * access list as SDDL, the code pages, the registry in either view; the
 * host folder of the evidence; the collector as a child process of `run
 * --evidence`, stopped through a named event.  Reads only.
 */
#include "win32.h"

#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- services ---------- */

/* winsvc.h of mingw-w64 lacks the trigger structures (winsvc.h, SDK). */
typedef struct {
	DWORD dwDataType;
	DWORD cbData;
	BYTE *pData;
} kh_trigger_item;
typedef struct {
	DWORD dwTriggerType;
	DWORD dwAction;
	GUID *pTriggerSubtype;
	DWORD cDataItems;
	kh_trigger_item *pDataItems;
} kh_trigger;
typedef struct {
	DWORD cTriggers;
	kh_trigger *pTriggers;
	BYTE *pReserved;
} kh_trigger_info;

static void guid_text(const GUID *g, char out[40])
{
	snprintf(out, 40, "%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 (unsigned long)g->Data1, g->Data2, g->Data3, g->Data4[0], g->Data4[1],
		 g->Data4[2], g->Data4[3], g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
}

static int svc_fail(DWORD e, const char *what, const char *name)
{
	if (e == ERROR_SERVICE_DOES_NOT_EXIST) {
		kh_seterr("service %s does not exist", name);
		return KH_ERR_NOENT;
	}
	kh_seterr("%s %s: %s", what, name, werr(e));
	return e == ERROR_ACCESS_DENIED ? KH_ERR_PERM : KH_ERR_SERVICE;
}

/* The service opened for queries; *scm and *svc closed by svc_close. */
static int svc_open(const char *name, SC_HANDLE *scm, SC_HANDLE *svc)
{
	wchar_t *w = to_w(name);
	int r = KH_OK;

	*svc = NULL;
	if (!w || !*w) {
		free(w);
		kh_seterr("invalid service name \"%s\"", name ? name : "");
		return KH_ERR_CONFIG;
	}
	if (!(*scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT)))
		r = svc_fail(GetLastError(), "cannot connect to the service control manager for",
			     name);
	else if (!(*svc = OpenServiceW(*scm, w, SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG)))
		r = svc_fail(GetLastError(), "cannot open service", name);
	free(w);
	if (r && *scm) {
		CloseServiceHandle(*scm);
		*scm = NULL;
	}
	return r;
}

static void svc_close(SC_HANDLE scm, SC_HANDLE svc)
{
	if (svc)
		CloseServiceHandle(svc);
	if (scm)
		CloseServiceHandle(scm);
}

int plat_svc_status(kh_plat *p, const char *name, struct kh_svc_status *st)
{
	SERVICE_STATUS_PROCESS ss;
	SC_HANDLE scm, svc;
	DWORD need;
	int r;

	(void)p;
	memset(st, 0, sizeof(*st));
	if ((r = svc_open(name, &scm, &svc)) != KH_OK)
		return r;
	if (!QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (BYTE *)&ss, sizeof(ss), &need)) {
		r = svc_fail(GetLastError(), "cannot query service", name);
	} else {
		st->state = (int)ss.dwCurrentState;
		st->pid = ss.dwProcessId;
		st->exit_code = ss.dwWin32ExitCode;
		st->service_exit_code = ss.dwServiceSpecificExitCode;
	}
	svc_close(scm, svc);
	return r;
}

/* QueryServiceConfig2W of one level into a malloc'd buffer. */
static int config2(SC_HANDLE svc, const char *name, DWORD level, BYTE **out)
{
	DWORD need = 0;

	*out = NULL;
	if (!QueryServiceConfig2W(svc, level, NULL, 0, &need) &&
	    GetLastError() != ERROR_INSUFFICIENT_BUFFER)
		return svc_fail(GetLastError(), "cannot query the configuration of", name);
	if (!(*out = calloc(1, need ? need : 1)))
		return KH_ERR_NOMEM;
	if (!QueryServiceConfig2W(svc, level, *out, need, &need)) {
		free(*out);
		*out = NULL;
		return svc_fail(GetLastError(), "cannot query the configuration of", name);
	}
	return KH_OK;
}

int plat_svc_config(kh_plat *p, const char *name, struct kh_svc_config *cfg)
{
	QUERY_SERVICE_CONFIGW *qc = NULL;
	SC_HANDLE scm, svc;
	BYTE *delayed = NULL;
	DWORD need = 0;
	int r;

	(void)p;
	memset(cfg, 0, sizeof(*cfg));
	cfg->delayed = -1;
	if ((r = svc_open(name, &scm, &svc)) != KH_OK)
		return r;
	QueryServiceConfigW(svc, NULL, 0, &need);
	if (!need || !(qc = malloc(need)) || !QueryServiceConfigW(svc, qc, need, &need)) {
		r = qc || !need ? svc_fail(GetLastError(), "cannot query the configuration of", name)
				: KH_ERR_NOMEM;
		goto out;
	}
	cfg->type = qc->dwServiceType;
	cfg->start_type = qc->dwStartType;
	cfg->account = qc->lpServiceStartName ? from_w(qc->lpServiceStartName, -1) : NULL;
	cfg->binary = qc->lpBinaryPathName ? from_w(qc->lpBinaryPathName, -1) : NULL;
	cfg->display = qc->lpDisplayName ? from_w(qc->lpDisplayName, -1) : NULL;
	if (config2(svc, name, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed) == KH_OK)
		cfg->delayed = ((SERVICE_DELAYED_AUTO_START_INFO *)delayed)->fDelayedAutostart != 0;
	kh_clearerr();
out:
	free(delayed);
	free(qc);
	svc_close(scm, svc);
	return r;
}

void plat_free_svc_config(struct kh_svc_config *cfg)
{
	free(cfg->account);
	free(cfg->binary);
	free(cfg->display);
	memset(cfg, 0, sizeof(*cfg));
}

/* A trigger's data item as text: strings (a multi-string: '\n' between) as
 * UTF-8, anything else as lowercase hex. */
static char *item_text(const kh_trigger_item *it)
{
	static const char hex[] = "0123456789abcdef";
	char *s;

	if (it->dwDataType == SERVICE_TRIGGER_DATA_TYPE_STRING && it->cbData >= 2) {
		size_t nw = it->cbData / sizeof(wchar_t);
		wchar_t *w = malloc((nw + 1) * sizeof(wchar_t));

		if (!w)
			return NULL;
		memcpy(w, it->pData, nw * sizeof(wchar_t));
		while (nw > 0 && w[nw - 1] == L'\0')
			nw--;
		for (size_t i = 0; i < nw; i++)
			if (w[i] == L'\0')
				w[i] = L'\n';
		s = from_w(w, (int)nw);
		free(w);
		return s;
	}
	if (!(s = malloc((size_t)it->cbData * 2 + 1)))
		return NULL;
	for (DWORD i = 0; i < it->cbData; i++) {
		s[2 * i] = hex[it->pData[i] >> 4];
		s[2 * i + 1] = hex[it->pData[i] & 15];
	}
	s[2 * it->cbData] = '\0';
	return s;
}

int plat_svc_triggers(kh_plat *p, const char *name, struct kh_svc_trigger **t, size_t *n)
{
	kh_trigger_info *ti;
	SC_HANDLE scm, svc;
	BYTE *buf = NULL;
	int r;

	(void)p;
	*t = NULL;
	*n = 0;
	if ((r = svc_open(name, &scm, &svc)) != KH_OK)
		return r;
	if ((r = config2(svc, name, SERVICE_CONFIG_TRIGGER_INFO, &buf)) != KH_OK)
		goto out;
	ti = (kh_trigger_info *)buf;
	if (ti->cTriggers && ti->pTriggers && !(*t = calloc(ti->cTriggers, sizeof(**t)))) {
		r = KH_ERR_NOMEM;
		goto out;
	}
	for (DWORD i = 0; *t && i < ti->cTriggers && i < 64; i++, (*n)++) {
		const kh_trigger *tr = &ti->pTriggers[i];
		struct kh_svc_trigger *o = &(*t)[i];

		o->type = tr->dwTriggerType;
		o->action = tr->dwAction;
		if (tr->pTriggerSubtype)
			guid_text(tr->pTriggerSubtype, o->subtype);
		if (tr->cDataItems && tr->pDataItems &&
		    !(o->data = calloc(tr->cDataItems, sizeof(*o->data)))) {
			r = KH_ERR_NOMEM;
			(*n)++;
			break;
		}
		for (DWORD k = 0; o->data && k < tr->cDataItems && k < 64; k++, o->n_data++) {
			o->data[k].type = tr->pDataItems[k].dwDataType;
			o->data[k].value = item_text(&tr->pDataItems[k]);
		}
	}
	if (r) {
		plat_free_svc_triggers(*t, *n);
		*t = NULL;
		*n = 0;
	}
out:
	free(buf);
	svc_close(scm, svc);
	return r;
}

void plat_free_svc_triggers(struct kh_svc_trigger *t, size_t n)
{
	for (size_t i = 0; t && i < n; i++) {
		for (size_t k = 0; k < t[i].n_data; k++)
			free(t[i].data[k].value);
		free(t[i].data);
	}
	free(t);
}

/* ---------- licence per SKU (slc.dll, as licence.c loads it) ---------- */

typedef void *kh_hslc;
typedef struct {
	GUID SkuId;
	int eStatus;
	DWORD dwGraceTime;
	DWORD dwTotalGraceDays;
	HRESULT hrReason;
	UINT64 qwValidityExpiration;
} kh_sl_status;
typedef HRESULT (WINAPI *kh_slopen)(kh_hslc *);
typedef HRESULT (WINAPI *kh_slclose)(kh_hslc);
typedef HRESULT (WINAPI *kh_slstatus)(kh_hslc, const GUID *, const GUID *, PCWSTR, UINT *,
				      kh_sl_status **);
typedef HRESULT (WINAPI *kh_slskuinfo)(kh_hslc, const GUID *, PCWSTR, int *, UINT *, BYTE **);

/* Windows application ID 55c92734-d682-4d71-983e-d6ec3f16059f */
static const GUID windows_app = {
	0x55c92734, 0xd682, 0x4d71, { 0x98, 0x3e, 0xd6, 0xec, 0x3f, 0x16, 0x05, 0x9f }
};

static void *slc_fn(kh_plat *p, const char *name)
{
	return (void *)(void (*)(void))GetProcAddress(p->slc, name);
}

/* The SKU's name (SLGetProductSkuInformation "Name", SL_DATA_SZ), if given. */
static char *sku_name(kh_plat *p, kh_hslc h, const GUID *sku)
{
	kh_slskuinfo info = (kh_slskuinfo)slc_fn(p, "SLGetProductSkuInformation");
	BYTE *v = NULL;
	UINT n = 0;
	int type = 0;
	char *s = NULL;

	if (info && SUCCEEDED(info(h, sku, L"Name", &type, &n, &v)) && v && type == 1 && n >= 2)
		s = from_w((const wchar_t *)v, (int)wcsnlen((const wchar_t *)v, n / 2));
	if (v)
		LocalFree(v);
	return s;
}

int plat_licence_skus(kh_plat *p, struct kh_sku_licence **list, size_t *n)
{
	kh_slopen slopen;
	kh_slclose slclose;
	kh_slstatus slstatus;
	kh_sl_status *ls = NULL;
	kh_hslc h = NULL;
	UINT count = 0;
	HRESULT hr;
	int r = KH_OK;

	*list = NULL;
	*n = 0;
	if (!p->slc)
		p->slc = LoadLibraryExW(L"slc.dll", NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
	if (!p->slc) {
		kh_seterr("cannot load slc.dll from System32: %s", werr(GetLastError()));
		return KH_ERR_IO;
	}
	slopen = (kh_slopen)slc_fn(p, "SLOpen");
	slclose = (kh_slclose)slc_fn(p, "SLClose");
	slstatus = (kh_slstatus)slc_fn(p, "SLGetLicensingStatusInformation");
	if (!slopen || !slclose || !slstatus) {
		kh_seterr("slc.dll lacks SLOpen/SLGetLicensingStatusInformation");
		return KH_ERR_IO;
	}
	if (FAILED(hr = slopen(&h)) || !h) {
		kh_seterr("SLOpen: %s", hrtext(hr));
		return KH_ERR_IO;
	}
	hr = slstatus(h, &windows_app, NULL, NULL, &count, &ls);
	if (FAILED(hr)) {
		kh_seterr("SLGetLicensingStatusInformation: %s", hrtext(hr));
		r = KH_ERR_IO;
	} else if (count && ls && !(*list = calloc(count < 4096 ? count : 4096, sizeof(**list)))) {
		r = KH_ERR_NOMEM;
	}
	for (UINT i = 0; *list && i < count && i < 4096; i++, (*n)++) {
		struct kh_sku_licence *o = &(*list)[i];

		guid_text(&ls[i].SkuId, o->sku);
		o->name = sku_name(p, h, &ls[i].SkuId);
		o->status = ls[i].eStatus;
		o->reason = (uint32_t)ls[i].hrReason;
		o->grace_minutes = ls[i].dwGraceTime;
		o->grace_days_total = ls[i].dwTotalGraceDays;
		o->validity = ls[i].qwValidityExpiration;
	}
	if (ls)
		LocalFree(ls);
	slclose(h);
	return r;
}

void plat_free_licence_skus(struct kh_sku_licence *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i].name);
	free(list);
}

/* ---------- access list, code pages ---------- */

int plat_sddl(kh_plat *p, const char *path, char **sddl)
{
	const SECURITY_INFORMATION what = OWNER_SECURITY_INFORMATION |
					  GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
	PSECURITY_DESCRIPTOR sd = NULL;
	wchar_t *w = NULL;
	HANDLE h;
	DWORD e;
	int r;

	*sddl = NULL;
	r = open_rel(p, path, READ_CONTROL, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
		     WANT_ANY, &h, NULL);
	if (r)
		return r;
	e = GetSecurityInfo(h, SE_FILE_OBJECT, what, NULL, NULL, NULL, NULL, &sd);
	CloseHandle(h);
	if (e != ERROR_SUCCESS) {
		kh_seterr("cannot read the access list of %s: %s", path, werr(e));
		return e == ERROR_ACCESS_DENIED ? KH_ERR_PERM : KH_ERR_IO;
	}
	if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1, what, &w,
								  NULL)) {
		kh_seterr("cannot write the access list of %s as SDDL: %s", path,
			  werr(GetLastError()));
		r = KH_ERR_IO;
	} else if (!(*sddl = from_w(w, -1))) {
		r = KH_ERR_NOMEM;
	}
	if (w)
		LocalFree(w);
	LocalFree(sd);
	return r;
}

int plat_codepage(kh_plat *p, struct kh_codepage *cp)
{
	(void)p;
	cp->console_in = GetConsoleCP();
	cp->console_out = GetConsoleOutputCP();
	cp->ansi = GetACP();
	cp->oem = GetOEMCP();
	return KH_OK;
}

/* ---------- the registry in a view ---------- */

static int view_open(const char *key, enum kh_regview view, HKEY *hk)
{
	static const char *const pre[] = { "HKLM\\", "HKEY_LOCAL_MACHINE\\" };
	REGSAM sam = KEY_QUERY_VALUE | (view == KH_VIEW_32 ? KEY_WOW64_32KEY : KEY_WOW64_64KEY);
	wchar_t *sub = NULL;
	LSTATUS e;

	for (size_t i = 0; !sub && i < 2; i++)
		if (!_strnicmp(key, pre[i], strlen(pre[i])) && key[strlen(pre[i])])
			sub = to_w(key + strlen(pre[i]));
	if (!sub) {
		kh_seterr("registry key %s: must start with HKLM\\ (and be UTF-8)", key);
		return KH_ERR_CONFIG;
	}
	e = RegOpenKeyExW(HKEY_LOCAL_MACHINE, sub, 0, sam, hk);
	free(sub);
	if (e == ERROR_SUCCESS)
		return KH_OK;
	kh_seterr("cannot open registry key %s (%s-bit view): %s", key,
		  view == KH_VIEW_32 ? "32" : "64", werr((DWORD)e));
	return e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? KH_ERR_NOENT
	     : e == ERROR_ACCESS_DENIED ? KH_ERR_PERM : KH_ERR_IO;
}

/* A value's data as text: strings as UTF-8 (a multi-string: '\n' between),
 * DWORD and QWORD in decimal, anything else as lowercase hex. */
static char *value_text(DWORD type, const BYTE *data, DWORD size)
{
	kh_trigger_item as_item = { SERVICE_TRIGGER_DATA_TYPE_BINARY, size, (BYTE *)data };
	unsigned long long q = 0;

	if (type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ) {
		as_item.dwDataType = SERVICE_TRIGGER_DATA_TYPE_STRING;
		return size >= 2 ? item_text(&as_item) : kh_strdup("");
	}
	if ((type == REG_DWORD && size == 4) || (type == REG_QWORD && size == 8)) {
		memcpy(&q, data, size);
		return kh_asprintf("%llu", q);
	}
	return item_text(&as_item);
}

int plat_reg_get_view(kh_plat *p, const char *key, const char *name, enum kh_regview view,
		      char **out)
{
	wchar_t *wname = to_w(name ? name : "");
	DWORD type = 0, size = 0;
	BYTE *data = NULL;
	LSTATUS e;
	HKEY hk;
	int r;

	(void)p;
	*out = NULL;
	if (!wname)
		return KH_ERR_DATA;
	if ((r = view_open(key, view, &hk)) != KH_OK) {
		free(wname);
		return r;
	}
	for (;;) {
		e = RegQueryValueExW(hk, wname, NULL, &type, data, &size);
		if (e == ERROR_SUCCESS && data)
			break;
		if (e != ERROR_SUCCESS && e != ERROR_MORE_DATA)
			break;
		free(data);
		if (!(data = malloc((size_t)size + 2))) {
			e = ERROR_OUTOFMEMORY;
			break;
		}
	}
	RegCloseKey(hk);
	free(wname);
	if (e == ERROR_SUCCESS && !(*out = value_text(type, data, size)))
		r = KH_ERR_NOMEM;
	else if (e != ERROR_SUCCESS) {
		kh_seterr("cannot read %s value %s (%s-bit view): %s", key, name,
			  view == KH_VIEW_32 ? "32" : "64", werr((DWORD)e));
		r = e == ERROR_FILE_NOT_FOUND ? KH_ERR_NOENT : e == ERROR_OUTOFMEMORY ? KH_ERR_NOMEM
										  : KH_ERR_IO;
	}
	free(data);
	return r;
}

int plat_reg_names(kh_plat *p, const char *key, enum kh_regview view, char ***names,
		   size_t *n)
{
	DWORD count = 0, maxlen = 0;
	wchar_t *buf = NULL;
	HKEY hk;
	int r;

	(void)p;
	*names = NULL;
	*n = 0;
	if ((r = view_open(key, view, &hk)) != KH_OK)
		return r;
	if (RegQueryInfoKeyW(hk, NULL, NULL, NULL, NULL, NULL, NULL, &count, &maxlen, NULL, NULL,
			     NULL) != ERROR_SUCCESS)
		count = 0;
	if (count && (!(buf = malloc(((size_t)maxlen + 1) * sizeof(wchar_t))) ||
		      !(*names = calloc(count, sizeof(**names)))))
		r = KH_ERR_NOMEM;
	for (DWORD i = 0; !r && i < count; i++) {
		DWORD len = maxlen + 1;

		if (RegEnumValueW(hk, i, buf, &len, NULL, NULL, NULL, NULL) != ERROR_SUCCESS)
			break;
		if (((*names)[*n] = from_w(buf, (int)len)))
			(*n)++;
	}
	free(buf);
	RegCloseKey(hk);
	return r;
}

/* ---------- the evidence folder (a host path) ---------- */

struct kh_evdir {
	HANDLE h;            /* the folder itself, never a reparse point */
	wchar_t *full;       /* "\\?\C:\..." */
	char *path;          /* as given, for messages */
};

static int ev_fail(DWORD e, const char *path)
{
	kh_seterr("%s: %s", path, werr(e));
	return e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? KH_ERR_NOENT
	     : e == ERROR_ACCESS_DENIED ? KH_ERR_PERM : e == ERROR_FILE_EXISTS ||
	       e == ERROR_ALREADY_EXISTS ? KH_ERR_EXISTS : KH_ERR_IO;
}

/* path made absolute, with the \\?\ (or \\?\UNC\) prefix of long paths. */
static wchar_t *long_path(const char *path)
{
	wchar_t *w = to_w(path), *full = NULL, *out = NULL;
	DWORD n;

	if (w && (n = GetFullPathNameW(w, 0, NULL, NULL)) &&
	    (full = malloc((size_t)n * sizeof(wchar_t))) && GetFullPathNameW(w, n, full, NULL) < n &&
	    (out = malloc(((size_t)n + 8) * sizeof(wchar_t)))) {
		if (!wcsncmp(full, L"\\\\?\\", 4))
			wcscpy(out, full);
		else if (!wcsncmp(full, L"\\\\", 2))
			swprintf(out, (size_t)n + 8, L"\\\\?\\UNC\\%ls", full + 2);
		else
			swprintf(out, (size_t)n + 8, L"\\\\?\\%ls", full);
	}
	free(full);
	free(w);
	return out;
}

static int dir_empty(const wchar_t *full)
{
	size_t n = wcslen(full);
	wchar_t *pat = malloc((n + 3) * sizeof(wchar_t));
	WIN32_FIND_DATAW fd;
	HANDLE f;
	int empty = 1;

	if (!pat)
		return -1;
	swprintf(pat, n + 3, L"%ls\\*", full);
	f = FindFirstFileW(pat, &fd);
	free(pat);
	if (f == INVALID_HANDLE_VALUE)
		return GetLastError() == ERROR_FILE_NOT_FOUND ? 1 : -1;
	do {
		if (wcscmp(fd.cFileName, L".") && wcscmp(fd.cFileName, L".."))
			empty = 0;
	} while (empty && FindNextFileW(f, &fd));
	FindClose(f);
	return empty;
}

int plat_evdir_open(const char *path, kh_evdir **out)
{
	BY_HANDLE_FILE_INFORMATION fi;
	wchar_t *full;
	HANDLE h;
	kh_evdir *d;
	int empty, r;

	*out = NULL;
	if (!path || !*path) {
		kh_seterr("the evidence folder: empty path");
		return KH_ERR_USAGE;
	}
	if (!(full = long_path(path))) {
		kh_seterr("%s: not a usable path", path);
		return KH_ERR_USAGE;
	}
	if (!CreateDirectoryW(full, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) {
		r = ev_fail(GetLastError(), path);
		free(full);
		return r;
	}
	h = CreateFileW(full, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES,
			FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
			FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
	if (h == INVALID_HANDLE_VALUE || !GetFileInformationByHandle(h, &fi)) {
		r = ev_fail(GetLastError(), path);
		goto bad;
	}
	r = KH_ERR_UNSAFE;
	if (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
		kh_seterr("%s: is a reparse point (symbolic link or junction), refused", path);
		goto bad;
	}
	if (!(fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
		kh_seterr("%s: not a folder, refused", path);
		goto bad;
	}
	if ((empty = dir_empty(full)) != 1) {
		r = empty < 0 ? ev_fail(GetLastError(), path) : KH_ERR_EXISTS;
		if (empty == 0)
			kh_seterr("%s: exists and is not empty; give a new or an empty folder", path);
		goto bad;
	}
	if (!(d = calloc(1, sizeof(*d))) || !(d->path = kh_strdup(path))) {
		free(d);
		r = KH_ERR_NOMEM;
		goto bad;
	}
	d->h = h;
	d->full = full;
	*out = d;
	return KH_OK;
bad:
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	free(full);
	return r;
}

int plat_evdir_write(kh_evdir *d, const char *name, const void *buf, size_t len, int append)
{
	BY_HANDLE_FILE_INFORMATION fi;
	wchar_t *wn = to_w(name), *file = NULL;
	const BYTE *b = buf;
	char *shown = kh_asprintf("%s\\%s", d->path, name ? name : "");
	HANDLE h = INVALID_HANDLE_VALUE;
	size_t n;
	int r = KH_ERR_NOMEM;

	if (!wn || !shown)
		goto out;
	r = KH_ERR_UNSAFE;
	if (!*wn || wcspbrk(wn, L"\\/:*?\"<>|") || !wcscmp(wn, L".") || !wcscmp(wn, L"..")) {
		kh_seterr("evidence file name \"%s\": not a plain name", name);
		goto out;
	}
	n = wcslen(d->full) + wcslen(wn) + 2;
	r = KH_ERR_NOMEM;
	if (!(file = malloc(n * sizeof(wchar_t))))
		goto out;
	swprintf(file, n, L"%ls\\%ls", d->full, wn);
	h = CreateFileW(file, append ? FILE_APPEND_DATA | FILE_READ_ATTRIBUTES : GENERIC_WRITE,
			FILE_SHARE_READ, NULL, append ? OPEN_ALWAYS : CREATE_NEW,
			FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
	if (h == INVALID_HANDLE_VALUE || !GetFileInformationByHandle(h, &fi)) {
		r = ev_fail(GetLastError(), shown);
		if (r == KH_ERR_EXISTS)
			kh_seterr("%s: already written", shown);
		goto out;
	}
	r = KH_ERR_UNSAFE;
	if (fi.dwFileAttributes & (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DIRECTORY)) {
		kh_seterr("%s: not a regular file, refused", shown);
		goto out;
	}
	for (r = KH_OK; len > 0;) {
		DWORD chunk = len > (1u << 30) ? (1u << 30) : (DWORD)len, done = 0;

		if (!WriteFile(h, b, chunk, &done, NULL) || done == 0) {
			r = ev_fail(GetLastError(), shown);
			break;
		}
		b += done;
		len -= done;
	}
	if (r == KH_OK && !FlushFileBuffers(h))
		r = ev_fail(GetLastError(), shown);
out:
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	free(file);
	free(wn);
	free(shown);
	return r;
}

void plat_evdir_close(kh_evdir *d)
{
	if (!d)
		return;
	CloseHandle(d->h);
	free(d->full);
	free(d->path);
	free(d);
}

/* ---------- the collector as a child of the run ---------- */

/* The event a run sets to stop the collector it started: named by the
 * collector's process ID, created before the collector runs. */
static void stop_event_name(DWORD pid, wchar_t out[64])
{
	swprintf(out, 64, L"Local\\khreset-collect-%lu", (unsigned long)pid);
}

static HANDLE waits[2];
static DWORD nwaits;

static BOOL WINAPI on_ctrl(DWORD type)
{
	if (nwaits)
		SetEvent(waits[nwaits - 1]);
	return type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT;
}

/* The run's stop event if this collector is a run's, and Ctrl+C. */
static void arm(void)
{
	wchar_t name[64];
	HANDLE h;

	stop_event_name(GetCurrentProcessId(), name);
	if ((h = OpenEventW(SYNCHRONIZE, FALSE, name)))
		waits[nwaits++] = h;
	if ((h = CreateEventW(NULL, TRUE, FALSE, NULL))) {
		waits[nwaits++] = h;
		SetConsoleCtrlHandler(on_ctrl, TRUE);
	}
}

int plat_ev_wait(kh_plat *p, int ms)
{
	static int armed;

	(void)p;
	if (!armed) {
		arm();
		armed = 1;
	}
	if (!nwaits) {
		Sleep((DWORD)ms);
		return 0;
	}
	return WaitForMultipleObjects(nwaits, waits, FALSE, (DWORD)ms) != WAIT_TIMEOUT;
}

struct kh_child {
	HANDLE proc;
	HANDLE stop;
};

/* Appends s quoted as CommandLineToArgvW and the C runtime read it back. */
static void quote_arg(wchar_t *out, const wchar_t *s)
{
	size_t o = wcslen(out), bs;

	if (*out)
		out[o++] = L' ';
	if (*s && !wcspbrk(s, L" \t\n\v\"")) {
		wcscpy(out + o, s);
		return;
	}
	out[o++] = L'"';
	for (;; s++) {
		for (bs = 0; *s == L'\\'; s++)
			bs++;
		if (!*s) {
			while (bs--)
				out[o++] = L'\\', out[o++] = L'\\';
			break;
		}
		if (*s == L'"')
			for (bs = 2 * bs + 1; bs--;)
				out[o++] = L'\\';
		else
			while (bs--)
				out[o++] = L'\\';
		out[o++] = *s;
	}
	out[o++] = L'"';
	out[o] = L'\0';
}

static wchar_t *self_exe(void)
{
	DWORD cap = MAX_PATH, n;
	wchar_t *w = NULL, *nw;

	for (;;) {
		if (!(nw = realloc(w, (size_t)cap * sizeof(wchar_t)))) {
			free(w);
			return NULL;
		}
		w = nw;
		n = GetModuleFileNameW(NULL, w, cap);
		if (n == 0) {
			free(w);
			return NULL;
		}
		if (n < cap)
			return w;
		cap *= 2;
	}
}

int plat_ev_spawn(kh_plat *p, char *const argv[], kh_child **out)
{
	STARTUPINFOW si = { .cb = sizeof(si) };
	PROCESS_INFORMATION pi;
	HANDLE err = GetStdHandle(STD_ERROR_HANDLE), dup = NULL;
	wchar_t *exe = self_exe(), *cmd = NULL, name[64];
	size_t len;
	int r = KH_ERR_NOMEM;

	(void)p;
	*out = NULL;
	if (!exe)
		goto out;
	len = 2 * wcslen(exe) + 4;
	for (size_t i = 0; argv[i]; i++)
		len += 2 * strlen(argv[i]) + 4;     /* UTF-16 units <= UTF-8 bytes */
	if (!(cmd = calloc(len, sizeof(wchar_t))) || !(*out = calloc(1, sizeof(**out))))
		goto out;
	quote_arg(cmd, exe);
	for (size_t i = 0; argv[i]; i++) {
		wchar_t *w = to_w(argv[i]);

		if (!w)
			goto out;
		quote_arg(cmd, w);
		free(w);
	}
	/* its output goes where ours goes; nothing else is inherited */
	if (err && err != INVALID_HANDLE_VALUE &&
	    DuplicateHandle(GetCurrentProcess(), err, GetCurrentProcess(), &dup, 0, TRUE,
			    DUPLICATE_SAME_ACCESS)) {
		si.dwFlags = STARTF_USESTDHANDLES;
		si.hStdOutput = si.hStdError = dup;
	}
	r = KH_ERR_IO;
	if (!CreateProcessW(exe, cmd, NULL, NULL, dup != NULL, CREATE_SUSPENDED, NULL, NULL, &si,
			    &pi)) {
		kh_seterr("cannot start the collector: %s", werr(GetLastError()));
		goto out;
	}
	stop_event_name(pi.dwProcessId, name);
	if (!((*out)->stop = CreateEventW(NULL, TRUE, FALSE, name))) {
		kh_seterr("cannot create the collector's stop event: %s", werr(GetLastError()));
		TerminateProcess(pi.hProcess, 1);     /* never ran: suspended */
		CloseHandle(pi.hThread);
		CloseHandle(pi.hProcess);
		goto out;
	}
	ResumeThread(pi.hThread);
	CloseHandle(pi.hThread);
	(*out)->proc = pi.hProcess;
	r = KH_OK;
out:
	if (dup)
		CloseHandle(dup);
	if (r && *out) {
		free(*out);
		*out = NULL;
	}
	free(cmd);
	free(exe);
	return r;
}

int plat_ev_finish(kh_child *c, int timeout_s)
{
	DWORD code = 0;
	int r = KH_OK;

	if (!c)
		return KH_OK;
	SetEvent(c->stop);
	if (WaitForSingleObject(c->proc, (DWORD)timeout_s * 1000) != WAIT_OBJECT_0) {
		kh_seterr("the collector still runs after %d s; it ends by itself", timeout_s);
		r = KH_ERR_TIMEOUT;
	} else if (GetExitCodeProcess(c->proc, &code) && code != 0) {
		kh_log(KH_LOG_WARN, "collect", "the evidence collector exited with %lu",
		       (unsigned long)code);
	}
	CloseHandle(c->stop);
	CloseHandle(c->proc);
	free(c);
	return r;
}
