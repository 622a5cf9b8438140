/* registry.c - the live registry: HKLM only, the 64-bit view
 * (KEY_WOW64_64KEY), or the 32-bit one (KEY_WOW64_32KEY) for a key written
 * "HKLM32\..." (platform.h); values cross as UTF-8 text (DWORDs as decimal), and
 * the SYSTEM\Setup\Source OS keys.  The undo is value by value: every old
 * value read exactly (type and bytes, whatever the type) and put back the
 * same way; a key the change created is removed again when empty.  There
 * are no hive files to swap on a running system (plat_hive_stage).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win32.h"

/* "HKLM\X" or "HKEY_LOCAL_MACHINE\X" -> L"X" in the 64-bit view;
 * "HKLM32\X" -> L"X" in the 32-bit view (*sam: the KEY_WOW64_* flag). */
static int reg_path(const char *key, wchar_t **sub, REGSAM *sam)
{
	static const char *const pre[] = { "HKLM\\", "HKEY_LOCAL_MACHINE\\", "HKLM/",
					   "HKEY_LOCAL_MACHINE/" };
	char plain[1100];

	*sub = NULL;
	*sam = plat_reg_view_of(key, plain, sizeof(plain)) == KH_VIEW_32 ? KEY_WOW64_32KEY
									 : KEY_WOW64_64KEY;
	for (size_t i = 0; plain[0] && i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t n = strlen(pre[i]);

		if (strlen(plain) > n && _strnicmp(plain, pre[i], n) == 0) {
			*sub = to_w(plain + n);
			if (!*sub) {
				kh_seterr("registry key %s: not valid UTF-8", key);
				return KH_ERR_DATA;
			}
			return KH_OK;
		}
	}
	kh_seterr("registry key %s: must start with HKLM\\ (or HKLM32\\, the 32-bit view)", key);
	return KH_ERR_CONFIG;
}

static int reg_fail(LSTATUS e, const char *what, const char *key, const char *name)
{
	kh_seterr("%s %s%s%s: %s", what, key, name ? " value " : "", name ? name : "",
		  werr((DWORD)e));
	if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
		return KH_ERR_NOENT;
	if (e == ERROR_ACCESS_DENIED)
		return KH_ERR_PERM;
	return KH_ERR_IO;
}

/* Reads a value of an open key: type and text as in plat_reg_get. */
static int reg_read(HKEY hk, const wchar_t *wname, const char *key, const char *name,
		    DWORD *type, char **out)
{
	DWORD size = 0, t = 0;
	BYTE *data = NULL;
	LSTATUS e;

	*out = NULL;
	for (;;) {
		e = RegQueryValueExW(hk, wname, NULL, &t, data, &size);
		if (e == ERROR_SUCCESS && data)
			break;
		if (e != ERROR_SUCCESS && e != ERROR_MORE_DATA) {
			free(data);
			return reg_fail(e, "cannot read", key, name);
		}
		free(data);
		data = malloc((size_t)size + 4);
		if (!data)
			return KH_ERR_NOMEM;
	}
	*type = t;
	if (t == REG_SZ || t == REG_EXPAND_SZ) {
		size_t nw = size / sizeof(wchar_t);
		const wchar_t *w = (const wchar_t *)data;

		while (nw > 0 && w[nw - 1] == L'\0')
			nw--;
		*out = from_w(w, (int)nw);
	} else if (t == REG_DWORD && size == 4) {
		DWORD v;

		memcpy(&v, data, 4);
		*out = kh_asprintf("%lu", (unsigned long)v);
	} else if (t == REG_QWORD && size == 8) {
		unsigned long long v;

		memcpy(&v, data, 8);
		*out = kh_asprintf("%llu", v);
	} else {
		free(data);
		kh_seterr("registry value %s\\%s has type %lu, not a string or DWORD",
			  key, name ? name : "", (unsigned long)t);
		return KH_ERR_DATA;
	}
	free(data);
	return *out ? KH_OK : KH_ERR_NOMEM;
}

int plat_reg_get(kh_plat *p, const char *key, const char *name, char **out)
{
	wchar_t *sub, *wname;
	HKEY hk;
	DWORD type;
	REGSAM sam;
	LSTATUS e;
	int r;

	(void)p;
	*out = NULL;
	r = reg_path(key, &sub, &sam);
	if (r)
		return r;
	wname = to_w(name ? name : "");
	if (!wname) {
		free(sub);
		return KH_ERR_DATA;
	}
	e = RegOpenKeyExW(HKEY_LOCAL_MACHINE, sub, 0, KEY_QUERY_VALUE | sam, &hk);
	free(sub);
	if (e != ERROR_SUCCESS) {
		free(wname);
		return reg_fail(e, "cannot open registry key", key, NULL);
	}
	r = reg_read(hk, wname, key, name, &type, out);
	RegCloseKey(hk);
	free(wname);
	return r;
}

static int parse_dword(const char *s, DWORD *v)
{
	char *end;
	unsigned long long x;

	if (!s || !*s || *s == '-' || *s == '+')
		return 0;
	errno = 0;
	x = strtoull(s, &end, (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10);
	if (errno || *end || x > 0xFFFFFFFFULL)
		return 0;
	*v = (DWORD)x;
	return 1;
}

/* Writes one value (data NULL: deletes it). */
static int reg_write(const struct kh_regval *v)
{
	wchar_t *sub = NULL, *wname = NULL, *wdata = NULL;
	HKEY hk = NULL;
	REGSAM sam;
	LSTATUS e;
	int r;

	r = reg_path(v->key, &sub, &sam);
	if (r)
		return r;
	wname = to_w(v->name ? v->name : "");
	if (!wname) {
		r = KH_ERR_DATA;
		goto out;
	}
	if (!v->data) {
		e = RegOpenKeyExW(HKEY_LOCAL_MACHINE, sub, 0, KEY_SET_VALUE | sam, &hk);
		if (e == ERROR_FILE_NOT_FOUND) {
			r = KH_OK;
			goto out;
		}
		if (e == ERROR_SUCCESS)
			e = RegDeleteValueW(hk, wname);
		r = e == ERROR_SUCCESS || e == ERROR_FILE_NOT_FOUND ? KH_OK :
			reg_fail(e, "cannot delete", v->key, v->name);
		goto out;
	}
	e = RegCreateKeyExW(HKEY_LOCAL_MACHINE, sub, 0, NULL, REG_OPTION_NON_VOLATILE,
			    KEY_SET_VALUE | sam, NULL, &hk, NULL);
	if (e != ERROR_SUCCESS) {
		r = reg_fail(e, "cannot create registry key", v->key, NULL);
		goto out;
	}
	if (v->type == KH_REG_DWORD) {
		DWORD d;

		if (!parse_dword(v->data, &d)) {
			kh_seterr("registry value %s\\%s: \"%s\" is not a DWORD", v->key,
				  v->name ? v->name : "", v->data);
			r = KH_ERR_CONFIG;
			goto out;
		}
		e = RegSetValueExW(hk, wname, 0, REG_DWORD, (const BYTE *)&d, sizeof(d));
	} else if (v->type == KH_REG_SZ || v->type == KH_REG_EXPAND_SZ) {
		wdata = to_w(v->data);
		if (!wdata) {
			kh_seterr("registry value %s\\%s: not valid UTF-8", v->key,
				  v->name ? v->name : "");
			r = KH_ERR_DATA;
			goto out;
		}
		e = RegSetValueExW(hk, wname, 0, v->type == KH_REG_SZ ? REG_SZ : REG_EXPAND_SZ,
				   (const BYTE *)wdata,
				   (DWORD)((wcslen(wdata) + 1) * sizeof(wchar_t)));
	} else {
		kh_seterr("registry value %s\\%s: unsupported type %d", v->key,
			  v->name ? v->name : "", (int)v->type);
		r = KH_ERR_CONFIG;
		goto out;
	}
	r = e == ERROR_SUCCESS ? KH_OK : reg_fail(e, "cannot set", v->key, v->name);
out:
	if (hk)
		RegCloseKey(hk);
	free(sub);
	free(wname);
	free(wdata);
	return r;
}

/* A value plat_reg_set can write: key under HKLM, a name, data of its type. */
static int reg_check(const struct kh_regval *v)
{
	wchar_t *w;
	DWORD d;
	REGSAM sam;
	int r;

	if (!v->key || !v->name || !v->data) {
		kh_seterr("registry value: key, name and data are required");
		return KH_ERR_CONFIG;
	}
	if ((r = reg_path(v->key, &w, &sam)) != KH_OK)
		return r;
	free(w);
	switch (v->type) {
	case KH_REG_DWORD:
		if (parse_dword(v->data, &d))
			return KH_OK;
		kh_seterr("registry value %s\\%s: \"%s\" is not a DWORD", v->key, v->name,
			  v->data);
		return KH_ERR_CONFIG;
	case KH_REG_SZ:
	case KH_REG_EXPAND_SZ:
		if ((w = to_w(v->data))) {
			free(w);
			return KH_OK;
		}
		kh_seterr("registry value %s\\%s: not valid UTF-8", v->key, v->name);
		return KH_ERR_DATA;
	}
	kh_seterr("registry value %s\\%s: unsupported type %d", v->key, v->name, (int)v->type);
	return KH_ERR_CONFIG;
}

/* The live registry has no usable transaction: every value is checked
 * before the first is written, then they are set in order.  A write the
 * system refuses part-way leaves the earlier ones set; the error names the
 * value. */
int plat_reg_set(kh_plat *p, const struct kh_regval *vals, size_t n)
{
	int r;

	(void)p;
	for (size_t i = 0; i < n; i++)
		if ((r = reg_check(&vals[i])) != KH_OK)
			return r;
	for (size_t i = 0; i < n; i++)
		if ((r = reg_write(&vals[i])) != KH_OK)
			return r;
	return KH_OK;
}

/* Reads a value's type and bytes as stored. */
static int raw_query(HKEY hk, const wchar_t *wname, const char *key, const char *name,
		     struct kh_regraw *out)
{
	DWORD size = 0, t = 0;
	BYTE *data = NULL;
	LSTATUS e;

	for (;;) {
		e = RegQueryValueExW(hk, wname, NULL, &t, data, &size);
		if (e == ERROR_SUCCESS && (data || size == 0))
			break;
		if (e == ERROR_FILE_NOT_FOUND) {
			free(data);
			return KH_OK;
		}
		if (e != ERROR_SUCCESS && e != ERROR_MORE_DATA) {
			free(data);
			return reg_fail(e, "cannot read", key, name);
		}
		free(data);
		if (!(data = malloc((size_t)size + 1)))
			return KH_ERR_NOMEM;
	}
	out->present = 1;
	out->type = t;
	out->data = data;
	out->len = size;
	return KH_OK;
}

int plat_reg_read(kh_plat *p, const char *key, const char *name, struct kh_regraw *out)
{
	wchar_t *sub = NULL, *wname = NULL;
	HKEY hk;
	REGSAM sam;
	LSTATUS e;
	int r;

	(void)p;
	memset(out, 0, sizeof(*out));
	if ((r = reg_path(key, &sub, &sam)) != KH_OK)
		return r;
	out->key = kh_strdup(key);
	out->name = name ? kh_strdup(name) : NULL;
	if (!out->key || (name && !out->name) || (name && !(wname = to_w(name)))) {
		r = name && out->name ? KH_ERR_DATA : KH_ERR_NOMEM;
		goto out;
	}
	e = RegOpenKeyExW(HKEY_LOCAL_MACHINE, sub, 0, KEY_QUERY_VALUE | sam, &hk);
	if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND) {
		r = KH_OK;
		goto out;
	}
	if (e != ERROR_SUCCESS) {
		r = reg_fail(e, "cannot open registry key", key, NULL);
		goto out;
	}
	if (!name)
		out->present = 1;
	else
		r = raw_query(hk, wname, key, name, out);
	RegCloseKey(hk);
out:
	free(sub);
	free(wname);
	if (r != KH_OK) {
		plat_free_regraw(out, 1);
		memset(out, 0, sizeof(*out));
	}
	return r;
}

/* A key that was not there goes again, if nothing was put in it since. */
static int key_remove_empty(const wchar_t *sub, REGSAM sam, const char *key)
{
	DWORD nsub = 0, nval = 0;
	HKEY hk;
	LSTATUS e = RegOpenKeyExW(HKEY_LOCAL_MACHINE, sub, 0,
				  KEY_QUERY_VALUE | sam, &hk);

	if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
		return KH_OK;
	if (e != ERROR_SUCCESS)
		return reg_fail(e, "cannot open registry key", key, NULL);
	e = RegQueryInfoKeyW(hk, NULL, NULL, NULL, &nsub, NULL, NULL, &nval, NULL, NULL,
			     NULL, NULL);
	RegCloseKey(hk);
	if (e != ERROR_SUCCESS)
		return reg_fail(e, "cannot query registry key", key, NULL);
	if (nsub || nval)
		return KH_OK;
	e = RegDeleteKeyExW(HKEY_LOCAL_MACHINE, sub, sam, 0);
	return e == ERROR_SUCCESS || e == ERROR_FILE_NOT_FOUND ? KH_OK
		: reg_fail(e, "cannot remove registry key", key, NULL);
}

static int raw_write(const struct kh_regraw *o)
{
	wchar_t *sub = NULL, *wname = NULL;
	HKEY hk = NULL;
	REGSAM sam;
	LSTATUS e;
	int r;

	if ((r = reg_path(o->key, &sub, &sam)) != KH_OK)
		return r;
	if (!o->name) {
		r = o->present ? KH_OK : key_remove_empty(sub, sam, o->key);
		free(sub);
		return r;
	}
	if (!(wname = to_w(o->name))) {
		free(sub);
		return KH_ERR_DATA;
	}
	if (o->present) {
		e = RegCreateKeyExW(HKEY_LOCAL_MACHINE, sub, 0, NULL, REG_OPTION_NON_VOLATILE,
				    KEY_SET_VALUE | sam, NULL, &hk, NULL);
		if (e == ERROR_SUCCESS)
			e = RegSetValueExW(hk, wname, 0, o->type, o->data, (DWORD)o->len);
	} else {
		e = RegOpenKeyExW(HKEY_LOCAL_MACHINE, sub, 0, KEY_SET_VALUE | sam, &hk);
		if (e == ERROR_SUCCESS)
			e = RegDeleteValueW(hk, wname);
		if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
			e = ERROR_SUCCESS;
	}
	r = e == ERROR_SUCCESS ? KH_OK : reg_fail(e, "cannot put back", o->key, o->name);
	if (hk)
		RegCloseKey(hk);
	free(sub);
	free(wname);
	return r;
}

int plat_reg_restore(kh_plat *p, const struct kh_regraw *old, size_t n)
{
	int first = KH_OK;

	(void)p;
	for (size_t i = n; i-- > 0;) {
		int r = raw_write(&old[i]);

		if (r && first == KH_OK)
			first = r;
	}
	return first;
}

int plat_hive_stage(kh_plat *p, const struct kh_regval *vals, size_t n,
		    struct kh_hivetmp **out, size_t *nout)
{
	(void)p;
	(void)vals;
	(void)n;
	*out = NULL;
	*nout = 0;
	kh_seterr("a running system's hives cannot be replaced; the live undo is value by value");
	return KH_ERR_UNSUPPORTED;
}

/* The Source OS keys as stored: name, last-write time, values as text.
 * What they mean is the core's (upgrade.c). */
int plat_source_os(kh_plat *p, struct kh_source_os **list, size_t *n)
{
	HKEY setup;
	LSTATUS e;
	size_t cap = 0;
	int r = KH_OK;

	(void)p;
	*list = NULL;
	*n = 0;
	e = RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SYSTEM\\Setup", 0,
			  KEY_ENUMERATE_SUB_KEYS | KEY_QUERY_VALUE | KEY_WOW64_64KEY, &setup);
	if (e == ERROR_FILE_NOT_FOUND)
		return KH_OK;
	if (e != ERROR_SUCCESS)
		return reg_fail(e, "cannot open registry key", "HKLM\\SYSTEM\\Setup", NULL);
	for (DWORD i = 0;; i++) {
		wchar_t wname[256];
		DWORD wl = 256;
		HKEY hk;
		FILETIME ft;
		struct kh_source_os *s;
		char keyname[600];
		DWORD type;

		e = RegEnumKeyExW(setup, i, wname, &wl, NULL, NULL, NULL, NULL);
		if (e == ERROR_NO_MORE_ITEMS)
			break;
		if (e != ERROR_SUCCESS) {
			r = reg_fail(e, "cannot enumerate", "HKLM\\SYSTEM\\Setup", NULL);
			break;
		}
		if (wl < 9 || _wcsnicmp(wname, L"Source OS", 9) != 0)
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 4;
			struct kh_source_os *nl = realloc(*list, nc * sizeof(*nl));

			if (!nl) {
				r = KH_ERR_NOMEM;
				break;
			}
			*list = nl;
			cap = nc;
		}
		s = &(*list)[*n];
		memset(s, 0, sizeof(*s));
		s->key = from_w(wname, (int)wl);
		if (!s->key) {
			r = KH_ERR_NOMEM;
			break;
		}
		(*n)++;
		snprintf(keyname, sizeof(keyname), "HKLM\\SYSTEM\\Setup\\%s", s->key);
		e = RegOpenKeyExW(setup, wname, 0, KEY_QUERY_VALUE | KEY_WOW64_64KEY, &hk);
		if (e != ERROR_SUCCESS)
			continue;       /* listed by its name alone */
		if (RegQueryInfoKeyW(hk, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
				     NULL, &ft) == ERROR_SUCCESS && ft_to_unix(ft) > 0)
			s->written = ft_to_unix(ft);
		if (reg_read(hk, L"CurrentBuild", keyname, "CurrentBuild", &type, &s->build) != KH_OK)
			s->build = NULL;
		if (reg_read(hk, L"ProductName", keyname, "ProductName", &type, &s->product) != KH_OK)
			s->product = NULL;
		RegCloseKey(hk);
	}
	RegCloseKey(setup);
	kh_clearerr();
	if (r) {
		plat_free_source_os(*list, *n);
		*list = NULL;
		*n = 0;
	}
	return r;
}

