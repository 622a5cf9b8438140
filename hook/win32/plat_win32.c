/* plat_win32.c - the live body of platform.h: the running Windows system.
 *
 * Paths are relative to the system drive root (%SystemDrive%\, normally C:\)
 * and are turned into "\\?\C:\..." paths after a component check (no empty,
 * "." or ".." components, no ':' - alternate data streams - and no wildcard
 * or control characters).  Every file operation opens the entry itself with
 * FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, refuses a
 * reparse point (junction, symlink, mount point, cloud placeholder...) where
 * a file or folder is expected, and checks with GetFinalPathNameByHandleW
 * that what was opened is exactly the expected path, so a junction anywhere
 * on the way is detected too (KH_ERR_UNSAFE).  Moves and deletes act on the
 * handle so checked (FileRenameInfo relative to the checked target folder,
 * FileDispositionInfo).
 *
 * Registry: HKLM only, the 64-bit view (KEY_WOW64_64KEY).  Services: the SCM
 * with polling until a timeout; a disabled service is an error naming it and
 * is never re-enabled.  Licence: slc.dll from System32 at run time.  Events:
 * the Application log, source "khreset".  Lock: the Global\khreset mutex.
 * Text crosses this boundary as UTF-8; Windows gets UTF-16.
 */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <sddl.h>
#include <aclapi.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "khreset.h"
#include "platform.h"

struct kh_plat {
	wchar_t wroot[8];        /* L"C:\\" */
	char root[8];            /* "C:\\" */
	HANDLE mutex;
	HMODULE slc;
	HANDLE evsrc;
};

/* Our own folders: created (or, when found, reset) with a protected access
 * list granting SYSTEM and Administrators only.  SPEC sections 8 and 9. */
static const char *const own_dirs[] = {
	"ProgramData\\khreset",
	"Windows\\Logs\\khreset",
};
static const wchar_t own_sddl[] = L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

/* ------------------------------------------------------------------------ */
/* Hardening that must precede everything else (SPEC section 9): only
 * System32 is searched for DLLs loaded at run time.  Runs before main(). */
__attribute__((constructor)) static void kh_win_early(void)
{
	SetDefaultDllDirectories(LOAD_LIBRARY_SEARCH_SYSTEM32);
	SetDllDirectoryW(L"");
	SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX);
}

/* ---- text ---------------------------------------------------------------- */
/* UTF-8 to UTF-16 (malloc'd; NULL for NULL, invalid UTF-8 or no memory):
 * the one in hook/win32/compat.c. */
static wchar_t *to_w(const char *s)
{
	return kh_win_utf8_to_w(s);
}

/* wlen < 0: NUL-terminated. */
static char *from_w(const wchar_t *w, int wlen)
{
	int n;
	char *s;

	if (wlen == 0)
		return kh_strdup("");
	n = WideCharToMultiByte(CP_UTF8, 0, w, wlen, NULL, 0, NULL, NULL);
	if (n <= 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	if (WideCharToMultiByte(CP_UTF8, 0, w, wlen, s, n, NULL, NULL) != n) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

/* "code N: text" for a Win32 error (static buffer, for kh_seterr). */
static const char *werr(DWORD e)
{
	static char buf[512];
	wchar_t wb[400];
	DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
				 NULL, e, MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT),
				 wb, sizeof(wb) / sizeof(wb[0]), NULL);
	char *t;

	while (n > 0 && (wb[n - 1] == L'\r' || wb[n - 1] == L'\n' || wb[n - 1] == L'.' ||
			 wb[n - 1] == L' '))
		n--;
	t = n ? from_w(wb, (int)n) : NULL;
	snprintf(buf, sizeof(buf), "error %lu%s%s", (unsigned long)e, t ? ": " : "",
		 t ? t : "");
	free(t);
	return buf;
}

static int map_err(DWORD e)
{
	switch (e) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
	case ERROR_INVALID_NAME:
	case ERROR_BAD_NETPATH:
		return KH_ERR_NOENT;
	case ERROR_ALREADY_EXISTS:
	case ERROR_FILE_EXISTS:
		return KH_ERR_EXISTS;
	case ERROR_ACCESS_DENIED:
	case ERROR_PRIVILEGE_NOT_HELD:
	case ERROR_WRITE_PROTECT:
		return KH_ERR_PERM;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
		return KH_ERR_NOMEM;
	case ERROR_CANT_ACCESS_FILE:
	case ERROR_CANT_RESOLVE_FILENAME:
	case 681:   /* ERROR_STOPPED_ON_SYMLINK */
		return KH_ERR_UNSAFE;
	default:
		return KH_ERR_IO;
	}
}

static int fail(DWORD e, const char *what, const char *path)
{
	kh_seterr("%s %s: %s", what, path ? path : "", werr(e));
	return map_err(e);
}

static int64_t ft_to_unix(FILETIME ft)
{
	int64_t t = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);

	t -= 116444736000000000LL;         /* 1601-01-01 -> 1970-01-01 */
	return t >= 0 ? t / 10000000 : -((-t + 9999999) / 10000000);
}
static int64_t li_to_unix(LARGE_INTEGER li)
{
	FILETIME ft;

	ft.dwLowDateTime = (DWORD)li.LowPart;
	ft.dwHighDateTime = (DWORD)li.HighPart;
	return ft_to_unix(ft);
}

/* ---- paths --------------------------------------------------------------- */
/*
 * Checks a root-relative path and returns "\\?\C:\a\b" (malloc'd).  Empty
 * path or "\" is the root itself.
 */
static int full_path(const kh_plat *p, const char *rel, wchar_t **out)
{
	size_t n = strlen(rel), o = 0;
	char *clean;
	wchar_t *w, *full;
	const char *c;

	*out = NULL;
	clean = malloc(n + 1);
	if (!clean)
		return KH_ERR_NOMEM;
	/* separators to '\', no leading/trailing separator, check components */
	for (c = rel; *c == '\\' || *c == '/'; c++)
		;
	while (*c) {
		const char *e = c;
		size_t len;

		while (*e && *e != '\\' && *e != '/')
			e++;
		len = (size_t)(e - c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.')) {
			kh_seterr("path %s: empty, \".\" or \"..\" component", rel);
			free(clean);
			return KH_ERR_UNSAFE;
		}
		for (const char *q = c; q < e; q++)
			if ((unsigned char)*q < 32 || strchr(":*?\"<>|", *q)) {
				kh_seterr("path %s: character '%c' not allowed", rel,
					  (unsigned char)*q < 32 ? '?' : *q);
				free(clean);
				return KH_ERR_UNSAFE;
			}
		if (o)
			clean[o++] = '\\';
		memcpy(clean + o, c, len);
		o += len;
		c = e;
		while (*c == '\\' || *c == '/') {
			c++;
			if (*c == '\\' || *c == '/') {
				kh_seterr("path %s: empty component", rel);
				free(clean);
				return KH_ERR_UNSAFE;
			}
		}
	}
	clean[o] = '\0';
	w = to_w(clean);
	free(clean);
	if (!w) {
		kh_seterr("path %s: not valid UTF-8", rel);
		return KH_ERR_DATA;
	}
	full = malloc((wcslen(w) + 16) * sizeof(wchar_t));
	if (!full) {
		free(w);
		return KH_ERR_NOMEM;
	}
	wcscpy(full, L"\\\\?\\");
	wcscat(full, p->wroot);            /* "C:\" */
	wcscat(full, w);
	free(w);
	*out = full;
	return KH_OK;
}

/* Splits "\\?\C:\a\b\c" into parent "\\?\C:\a\b" (new string) and leaf. */
static int split_parent(const wchar_t *full, wchar_t **parent, const wchar_t **leaf)
{
	const wchar_t *s = wcsrchr(full, L'\\');
	size_t n;

	/* the root "\\?\C:\" has no parent: its last '\' ends it */
	if (!s || s[1] == L'\0' || (size_t)(s - full) < 6)
		return KH_ERR_UNSAFE;
	n = (size_t)(s - full);
	if (n == 6)       /* parent is the root: keep "\\?\C:\" */
		n = 7;
	*parent = malloc((n + 1) * sizeof(wchar_t));
	if (!*parent)
		return KH_ERR_NOMEM;
	memcpy(*parent, full, n * sizeof(wchar_t));
	(*parent)[n] = L'\0';
	*leaf = s + 1;
	return KH_OK;
}

static int wsame(const wchar_t *a, size_t na, const wchar_t *b, size_t nb)
{
	return CompareStringOrdinal(a, (int)na, b, (int)nb, TRUE) == CSTR_EQUAL;
}

/* The handle must be exactly `expect` (case-insensitive): no junction or
 * symlink on the way, no short-name or other alias. */
static int check_final(HANDLE h, const wchar_t *expect, const char *rel)
{
	wchar_t buf[1024];
	wchar_t *fp = buf;
	DWORD n = GetFinalPathNameByHandleW(h, buf, 1024, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
	size_t ne = wcslen(expect);
	int ok;

	if (n >= 1024) {
		fp = malloc(((size_t)n + 1) * sizeof(wchar_t));
		if (!fp)
			return KH_ERR_NOMEM;
		n = GetFinalPathNameByHandleW(h, fp, n + 1, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
	}
	if (n == 0) {
		int r = fail(GetLastError(), "cannot resolve the final path of", rel);

		if (fp != buf)
			free(fp);
		return r == KH_ERR_NOENT ? KH_ERR_IO : r;
	}
	while (n > 7 && fp[n - 1] == L'\\')
		n--;
	while (ne > 7 && expect[ne - 1] == L'\\')
		ne--;
	ok = wsame(fp, n, expect, ne);
	if (!ok) {
		char *got = from_w(fp, (int)n);

		kh_seterr("%s: resolves to %s, outside the expected folder (junction or link on the way)",
			  rel, got ? got : "?");
		free(got);
	}
	if (fp != buf)
		free(fp);
	return ok ? KH_OK : KH_ERR_UNSAFE;
}

enum { WANT_ANY, WANT_FILE, WANT_DIR };

/*
 * Opens the entry itself (never what a reparse point names), checks its
 * final path and, per `want`, that it is a regular file / a folder and not a
 * reparse point.  WANT_ANY leaves the type check to the caller.
 */
static int open_checked(const wchar_t *full, const char *rel, DWORD access, DWORD share,
			DWORD disposition, int want, HANDLE *out,
			BY_HANDLE_FILE_INFORMATION *info)
{
	BY_HANDLE_FILE_INFORMATION fi;
	HANDLE h;
	int r;

	*out = INVALID_HANDLE_VALUE;
	h = CreateFileW(full, access, share, NULL, disposition,
			FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
	if (h == INVALID_HANDLE_VALUE)
		return fail(GetLastError(), "cannot open", rel);
	if (!GetFileInformationByHandle(h, &fi)) {
		r = fail(GetLastError(), "cannot query", rel);
		CloseHandle(h);
		return r;
	}
	if (want != WANT_ANY) {
		const char *bad = NULL;

		if (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)
			bad = "is a reparse point (junction or symbolic link)";
		else if (want == WANT_FILE && (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
			bad = "is a folder, not a regular file";
		else if (want == WANT_DIR && !(fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
			bad = "is not a folder";
		else if (want == WANT_FILE && (fi.dwFileAttributes & FILE_ATTRIBUTE_DEVICE))
			bad = "is a device";
		if (bad) {
			kh_seterr("%s %s", rel, bad);
			CloseHandle(h);
			return KH_ERR_UNSAFE;
		}
	}
	r = check_final(h, full, rel);
	if (r != KH_OK) {
		CloseHandle(h);
		return r;
	}
	if (info)
		*info = fi;
	*out = h;
	return KH_OK;
}

/* full_path + open_checked (OPEN_EXISTING) of the root-relative path rel. */
static int open_rel(const kh_plat *p, const char *rel, DWORD access, DWORD share, int want,
		    HANDLE *out, BY_HANDLE_FILE_INFORMATION *info)
{
	wchar_t *full;
	int r = full_path(p, rel, &full);

	if (r)
		return r;
	r = open_checked(full, rel, access, share, OPEN_EXISTING, want, out, info);
	free(full);
	return r;
}

static enum kh_ftype ftype_of(DWORD attr)
{
	if (attr & FILE_ATTRIBUTE_REPARSE_POINT)
		return KH_FT_LINK;
	if (attr & FILE_ATTRIBUTE_DIRECTORY)
		return KH_FT_DIR;
	if (attr & FILE_ATTRIBUTE_DEVICE)
		return KH_FT_OTHER;
	return KH_FT_FILE;
}

/* ---- open/close ---------------------------------------------------------- */
int plat_open(kh_plat **out, const char *root)
{
	wchar_t win[MAX_PATH];
	UINT n;
	kh_plat *p;

	*out = NULL;
	if (root) {
		kh_seterr("--root (offline mode) is available in the Linux build only");
		return KH_ERR_USAGE;
	}
	n = GetSystemWindowsDirectoryW(win, MAX_PATH);
	if (n < 3 || n >= MAX_PATH || win[1] != L':') {
		kh_seterr("cannot determine the system drive: %s", werr(GetLastError()));
		return KH_ERR_IO;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return KH_ERR_NOMEM;
	p->wroot[0] = win[0];
	p->wroot[1] = L':';
	p->wroot[2] = L'\\';
	p->wroot[3] = L'\0';
	p->root[0] = (char)win[0];
	p->root[1] = ':';
	p->root[2] = '\\';
	p->root[3] = '\0';
	p->mutex = NULL;
	p->evsrc = NULL;
	p->slc = NULL;
	*out = p;
	return KH_OK;
}

void plat_close(kh_plat *p)
{
	if (!p)
		return;
	plat_unlock(p);
	if (p->evsrc)
		DeregisterEventSource(p->evsrc);
	if (p->slc)
		FreeLibrary(p->slc);
	free(p);
}

int plat_is_offline(const kh_plat *p) { (void)p; return 0; }

char *plat_self_dir(void)
{
	wchar_t buf[MAX_PATH + 1], *slash;
	DWORD n = GetModuleFileNameW(NULL, buf, MAX_PATH);

	if (n == 0 || n >= MAX_PATH)
		return NULL;
	buf[n] = L'\0';
	if ((slash = wcsrchr(buf, L'\\')))
		*slash = L'\0';
	return from_w(buf, -1);
}

/* ---- files --------------------------------------------------------------- */
static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct kh_dirent *)a)->name, ((const struct kh_dirent *)b)->name);
}

static int add_ent(struct kh_dirent **ents, size_t *n, size_t *cap, const wchar_t *name,
		   size_t nlen, DWORD attr, uint64_t size, int64_t mtime)
{
	struct kh_dirent *e;

	if ((nlen == 1 && name[0] == L'.') || (nlen == 2 && name[0] == L'.' && name[1] == L'.'))
		return KH_OK;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct kh_dirent *ne = realloc(*ents, nc * sizeof(*ne));

		if (!ne)
			return KH_ERR_NOMEM;
		*ents = ne;
		*cap = nc;
	}
	e = &(*ents)[*n];
	e->name = from_w(name, (int)nlen);
	if (!e->name)
		return KH_ERR_NOMEM;
	e->type = ftype_of(attr);
	e->size = e->type == KH_FT_FILE ? size : 0;
	e->mtime = mtime;
	(*n)++;
	return KH_OK;
}

int plat_list(kh_plat *p, const char *dir, struct kh_dirent **ents, size_t *n)
{
	HANDLE h;
	size_t cap = 0;
	int r;
	union {
		FILE_ID_BOTH_DIR_INFO info;
		unsigned char raw[64 * 1024];
	} *buf = NULL;
	FILE_INFO_BY_HANDLE_CLASS cls = FileIdBothDirectoryRestartInfo;

	*ents = NULL;
	*n = 0;
	r = open_rel(p, dir, FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
		     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, WANT_DIR, &h, NULL);
	if (r)
		return r;
	buf = malloc(sizeof(*buf));
	if (!buf) {
		CloseHandle(h);
		return KH_ERR_NOMEM;
	}
	/* Enumerate through the checked handle: nothing can be swapped between
	 * the check and the listing. */
	for (;;) {
		FILE_ID_BOTH_DIR_INFO *fi;

		if (!GetFileInformationByHandleEx(h, cls, buf, sizeof(*buf))) {
			DWORD e = GetLastError();

			if (e == ERROR_NO_MORE_FILES)
				break;
			if (e == ERROR_INVALID_PARAMETER && cls == FileIdBothDirectoryRestartInfo) {
				/* older systems: no restart class */
				cls = FileIdBothDirectoryInfo;
				continue;
			}
			r = fail(e, "cannot list", dir);
			goto out;
		}
		cls = FileIdBothDirectoryInfo;
		fi = &buf->info;
		for (;;) {
			r = add_ent(ents, n, &cap, fi->FileName, fi->FileNameLength / sizeof(WCHAR),
				    fi->FileAttributes, (uint64_t)fi->EndOfFile.QuadPart,
				    li_to_unix(fi->LastWriteTime));
			if (r) {
				kh_seterr("listing %s: out of memory", dir);
				goto out;
			}
			if (!fi->NextEntryOffset)
				break;
			fi = (FILE_ID_BOTH_DIR_INFO *)((unsigned char *)fi + fi->NextEntryOffset);
		}
	}
	qsort(*ents, *n, sizeof(**ents), cmp_ent);
	r = KH_OK;
out:
	free(buf);
	CloseHandle(h);
	if (r) {
		plat_free_list(*ents, *n);
		*ents = NULL;
		*n = 0;
	}
	return r;
}

void plat_free_list(struct kh_dirent *ents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
}

int plat_stat(kh_plat *p, const char *path, struct kh_dirent *st)
{
	BY_HANDLE_FILE_INFORMATION fi;
	wchar_t *full;
	const wchar_t *leaf;
	wchar_t *parent = NULL;
	HANDLE h;
	int r;

	memset(st, 0, sizeof(*st));
	r = full_path(p, path, &full);
	if (r)
		return r;
	r = open_checked(full, path, FILE_READ_ATTRIBUTES,
			 FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, OPEN_EXISTING,
			 WANT_ANY, &h, &fi);
	if (r) {
		free(full);
		return r;
	}
	CloseHandle(h);
	if (split_parent(full, &parent, &leaf) == KH_OK) {
		st->name = from_w(leaf, -1);
		free(parent);
	} else {
		st->name = kh_strdup(p->root);
	}
	free(full);
	if (!st->name)
		return KH_ERR_NOMEM;
	st->type = ftype_of(fi.dwFileAttributes);
	st->size = st->type == KH_FT_FILE ?
		((uint64_t)fi.nFileSizeHigh << 32) | fi.nFileSizeLow : 0;
	st->mtime = ft_to_unix(fi.ftLastWriteTime);
	return KH_OK;
}

int plat_read(kh_plat *p, const char *path, size_t max, unsigned char **buf, size_t *len)
{
	BY_HANDLE_FILE_INFORMATION fi;
	HANDLE h;
	uint64_t size;
	size_t got = 0;
	unsigned char *b;
	int r;

	*buf = NULL;
	*len = 0;
	/* observation must not fail because ClipSVC has the file open */
	r = open_rel(p, path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
		     WANT_FILE, &h, &fi);
	if (r)
		return r;
	size = ((uint64_t)fi.nFileSizeHigh << 32) | fi.nFileSizeLow;
	if (size > max) {
		CloseHandle(h);
		kh_seterr("%s: %llu bytes, more than the %llu allowed", path,
			  (unsigned long long)size, (unsigned long long)max);
		return KH_ERR_TOOBIG;
	}
	b = malloc((size_t)size + 1);
	if (!b) {
		CloseHandle(h);
		return KH_ERR_NOMEM;
	}
	while (got < size) {
		DWORD want = size - got > 0x10000000 ? 0x10000000 : (DWORD)(size - got), did = 0;

		if (!ReadFile(h, b + got, want, &did, NULL)) {
			r = fail(GetLastError(), "cannot read", path);
			free(b);
			CloseHandle(h);
			return r;
		}
		if (did == 0)
			break;       /* shrank under us: return what is there */
		got += did;
	}
	CloseHandle(h);
	b[got] = '\0';
	*buf = b;
	*len = got;
	return KH_OK;
}

static int write_all(HANDLE h, const void *buf, size_t len)
{
	const unsigned char *b = buf;

	while (len) {
		DWORD want = len > 0x10000000 ? 0x10000000 : (DWORD)len, did = 0;

		if (!WriteFile(h, b, want, &did, NULL))
			return 0;
		b += did;
		len -= did;
	}
	return 1;
}

/* Checks that the parent folder of full is a real folder at the expected
 * place (no junction on the way). */
static int check_parent(const wchar_t *full, const char *rel)
{
	wchar_t *parent;
	const wchar_t *leaf;
	HANDLE h;
	int r = split_parent(full, &parent, &leaf);

	if (r) {
		kh_seterr("%s: not a path below the root", rel);
		return r;
	}
	r = open_checked(parent, rel, FILE_READ_ATTRIBUTES,
			 FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, OPEN_EXISTING,
			 WANT_DIR, &h, NULL);
	free(parent);
	if (r == KH_OK)
		CloseHandle(h);
	else if (r == KH_ERR_NOENT)
		kh_seterr("%s: the folder does not exist", rel);
	return r;
}

/* full_path of rel whose parent folder passes check_parent (*out NULL on
 * failure): where a file is written. */
static int full_path_in_folder(const kh_plat *p, const char *rel, wchar_t **out)
{
	int r = full_path(p, rel, out);

	if (r)
		return r;
	r = check_parent(*out, rel);
	if (r) {
		free(*out);
		*out = NULL;
	}
	return r;
}

/* Temp file beside path, then MoveFileExW over it; sync: FlushFileBuffers
 * and MOVEFILE_WRITE_THROUGH. */
static int write_replace(kh_plat *p, const char *path, const void *buf, size_t len, int sync)
{
	static LONG counter;
	wchar_t *full, *tmp;
	HANDLE h;
	int r;

	r = full_path_in_folder(p, path, &full);
	if (r)
		return r;
	/* an existing target must be a regular file (we replace the entry,
	 * never write through a link) */
	h = CreateFileW(full, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE |
			FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
			FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
	if (h != INVALID_HANDLE_VALUE) {
		BY_HANDLE_FILE_INFORMATION fi;
		int bad = !GetFileInformationByHandle(h, &fi) ||
			(fi.dwFileAttributes & (FILE_ATTRIBUTE_REPARSE_POINT |
						FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE));

		CloseHandle(h);
		if (bad) {
			kh_seterr("%s exists and is not a regular file", path);
			r = KH_ERR_UNSAFE;
			goto out;
		}
	}
	tmp = malloc((wcslen(full) + 40) * sizeof(wchar_t));
	if (!tmp) {
		r = KH_ERR_NOMEM;
		goto out;
	}
	swprintf(tmp, wcslen(full) + 40, L"%ls.khtmp.%lu.%ld", full,
		 (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&counter));
	h = CreateFileW(tmp, GENERIC_WRITE, 0, NULL, CREATE_NEW,
			FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		r = fail(GetLastError(), "cannot create a temporary file beside", path);
		free(tmp);
		goto out;
	}
	if (!write_all(h, buf, len) || (sync && !FlushFileBuffers(h))) {
		r = fail(GetLastError(), "cannot write", path);
		CloseHandle(h);
		DeleteFileW(tmp);
		free(tmp);
		goto out;
	}
	CloseHandle(h);
	if (!MoveFileExW(tmp, full, MOVEFILE_REPLACE_EXISTING |
			 (sync ? MOVEFILE_WRITE_THROUGH : 0))) {
		r = fail(GetLastError(), "cannot replace", path);
		DeleteFileW(tmp);
		free(tmp);
		goto out;
	}
	free(tmp);
	r = KH_OK;
out:
	free(full);
	return r;
}

int plat_write_atomic(kh_plat *p, const char *path, const void *buf, size_t len)
{
	return write_replace(p, path, buf, len, 1);
}

int plat_write_replace(kh_plat *p, const char *path, const void *buf, size_t len)
{
	return write_replace(p, path, buf, len, 0);
}

int plat_append_sync(kh_plat *p, const char *path, const void *buf, size_t len)
{
	wchar_t *full;
	HANDLE h;
	int r;

	r = full_path_in_folder(p, path, &full);
	if (r)
		return r;
	r = open_checked(full, path, FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
			 FILE_SHARE_READ, OPEN_ALWAYS, WANT_FILE, &h, NULL);
	free(full);
	if (r)
		return r;
	if (!write_all(h, buf, len) || !FlushFileBuffers(h))
		r = fail(GetLastError(), "cannot append to", path);
	CloseHandle(h);
	return r;
}

static int is_own_dir(const char *rel)
{
	while (*rel == '\\' || *rel == '/')
		rel++;
	for (size_t i = 0; i < sizeof(own_dirs) / sizeof(own_dirs[0]); i++) {
		const char *a = own_dirs[i], *b = rel;

		for (; *a && *b; a++, b++) {
			char ca = *a == '/' ? '\\' : *a, cb = *b == '/' ? '\\' : *b;

			if (ca >= 'A' && ca <= 'Z')
				ca = (char)(ca - 'A' + 'a');
			if (cb >= 'A' && cb <= 'Z')
				cb = (char)(cb - 'A' + 'a');
			if (ca != cb)
				break;
		}
		if (!*a && (*b == '\0' || *b == '\\' || *b == '/'))
			return 1;
	}
	return 0;
}

/* SYSTEM + Administrators only, protected from inheritance. */
static int own_sd(PSECURITY_DESCRIPTOR *sd)
{
	if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(own_sddl, SDDL_REVISION_1,
								  sd, NULL)) {
		kh_seterr("cannot build the state folder access list: %s", werr(GetLastError()));
		return KH_ERR_IO;
	}
	return KH_OK;
}

/* Resets owner and access list of an existing own folder (someone may have
 * created it before us: ProgramData is writable by ordinary users). */
static int secure_existing(const wchar_t *full, const char *rel)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PACL dacl = NULL;
	PSID owner = NULL;
	BOOL present = FALSE, def = FALSE;
	HANDLE h;
	DWORD e;
	int r;

	r = open_checked(full, rel, READ_CONTROL | WRITE_DAC | WRITE_OWNER | FILE_READ_ATTRIBUTES,
			 FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, OPEN_EXISTING,
			 WANT_DIR, &h, NULL);
	if (r)
		return r;
	r = own_sd(&sd);
	if (r) {
		CloseHandle(h);
		return r;
	}
	GetSecurityDescriptorDacl(sd, &present, &dacl, &def);
	GetSecurityDescriptorOwner(sd, &owner, &def);
	e = SetSecurityInfo(h, SE_FILE_OBJECT,
			    OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION |
			    PROTECTED_DACL_SECURITY_INFORMATION, owner, NULL, dacl, NULL);
	LocalFree(sd);
	CloseHandle(h);
	if (e != ERROR_SUCCESS)
		return fail(e, "cannot restrict the access list of", rel);
	return KH_OK;
}

int plat_mkdirs(kh_plat *p, const char *dir)
{
	wchar_t *full;
	size_t start, len;
	int r;
	char *relpart;

	r = full_path(p, dir, &full);
	if (r)
		return r;
	len = wcslen(full);
	start = 7;                  /* after "\\?\C:\" */
	relpart = NULL;
	for (size_t i = start; i <= len; i++) {
		wchar_t saved;
		SECURITY_ATTRIBUTES sa, *psa = NULL;
		PSECURITY_DESCRIPTOR sd = NULL;
		HANDLE h;
		int own;

		if (i < len && full[i] != L'\\')
			continue;
		saved = full[i];
		full[i] = L'\0';
		free(relpart);
		relpart = from_w(full + start, -1);
		if (!relpart) {
			r = KH_ERR_NOMEM;
			break;
		}
		own = is_own_dir(relpart);
		if (own) {
			r = own_sd(&sd);
			if (r)
				break;
			sa.nLength = sizeof(sa);
			sa.lpSecurityDescriptor = sd;
			sa.bInheritHandle = FALSE;
			psa = &sa;
		}
		if (CreateDirectoryW(full, psa)) {
			r = KH_OK;
		} else if (GetLastError() == ERROR_ALREADY_EXISTS) {
			/* must be a real folder at the expected place */
			r = open_checked(full, relpart, FILE_READ_ATTRIBUTES,
					 FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
					 OPEN_EXISTING, WANT_DIR, &h, NULL);
			if (r == KH_OK)
				CloseHandle(h);
			/* an own folder found already there: take it over */
			if (r == KH_OK && own) {
				kh_log(KH_LOG_DEBUG, "platform", "securing existing %s", relpart);
				r = secure_existing(full, relpart);
			}
		} else {
			r = fail(GetLastError(), "cannot create folder", relpart);
		}
		if (sd)
			LocalFree(sd);
		full[i] = saved;
		if (r)
			break;
	}
	free(relpart);
	free(full);
	return r;
}

/* FILE_RENAME_INFO with room for the name. */
static FILE_RENAME_INFO *rename_info(HANDLE root, const wchar_t *name, DWORD *size)
{
	size_t n = wcslen(name);
	FILE_RENAME_INFO *ri;

	*size = (DWORD)(sizeof(*ri) + (n + 1) * sizeof(wchar_t));
	ri = calloc(1, *size);
	if (!ri)
		return NULL;
	ri->ReplaceIfExists = FALSE;
	ri->RootDirectory = root;
	ri->FileNameLength = (DWORD)(n * sizeof(wchar_t));
	memcpy(ri->FileName, name, n * sizeof(wchar_t));
	return ri;
}

int plat_rename(kh_plat *p, const char *from, const char *to)
{
	wchar_t *wfrom = NULL, *wto = NULL, *tparent = NULL;
	const wchar_t *tleaf;
	HANDLE hf = INVALID_HANDLE_VALUE, hd = INVALID_HANDLE_VALUE, hx;
	FILE_RENAME_INFO *ri = NULL;
	DWORD size, e;
	int r;

	r = full_path(p, from, &wfrom);
	if (r)
		goto out;
	r = full_path(p, to, &wto);
	if (r)
		goto out;
	r = check_parent(wfrom, from);
	if (r)
		goto out;
	/* the entry itself, whatever it is (a link moves as a link) */
	r = open_checked(wfrom, from, DELETE | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
			 FILE_SHARE_READ, OPEN_EXISTING, WANT_ANY, &hf, NULL);
	if (r)
		goto out;
	r = split_parent(wto, &tparent, &tleaf);
	if (r) {
		kh_seterr("%s: not a path below the root", to);
		goto out;
	}
	r = open_checked(tparent, to, FILE_ADD_FILE | FILE_ADD_SUBDIRECTORY | FILE_TRAVERSE |
			 FILE_READ_ATTRIBUTES | SYNCHRONIZE,
			 FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, OPEN_EXISTING,
			 WANT_DIR, &hd, NULL);
	if (r) {
		if (r == KH_ERR_NOENT)
			kh_seterr("%s: the target folder does not exist", to);
		goto out;
	}
	hx = CreateFileW(wto, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE |
			 FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
			 FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
	if (hx != INVALID_HANDLE_VALUE) {
		CloseHandle(hx);
		kh_seterr("cannot move %s to %s: the target exists", from, to);
		r = KH_ERR_EXISTS;
		goto out;
	}
	/* rename the checked handle into the checked folder handle */
	ri = rename_info(hd, tleaf, &size);
	if (!ri) {
		r = KH_ERR_NOMEM;
		goto out;
	}
	if (SetFileInformationByHandle(hf, FileRenameInfo, ri, size)) {
		FlushFileBuffers(hd);    /* best effort; NTFS journals metadata */
		r = KH_OK;
		goto out;
	}
	e = GetLastError();
	if (e != ERROR_INVALID_PARAMETER && e != ERROR_NOT_SUPPORTED &&
	    e != ERROR_INVALID_FUNCTION && e != ERROR_CALL_NOT_IMPLEMENTED) {
		r = fail(e, "cannot move", from);
		if (r == KH_ERR_EXISTS)
			kh_seterr("cannot move %s to %s: the target exists", from, to);
		goto out;
	}
	/* Fallback (file systems without relative rename): by path, after the
	 * checks above, never replacing. */
	CloseHandle(hf);
	hf = INVALID_HANDLE_VALUE;
	if (!MoveFileExW(wfrom, wto, MOVEFILE_WRITE_THROUGH)) {
		r = fail(GetLastError(), "cannot move", from);
		if (r == KH_ERR_EXISTS)
			kh_seterr("cannot move %s to %s: the target exists", from, to);
		goto out;
	}
	r = KH_OK;
out:
	if (hf != INVALID_HANDLE_VALUE)
		CloseHandle(hf);
	if (hd != INVALID_HANDLE_VALUE)
		CloseHandle(hd);
	free(ri);
	free(tparent);
	free(wfrom);
	free(wto);
	return r;
}

int plat_remove(kh_plat *p, const char *path)
{
	BY_HANDLE_FILE_INFORMATION fi;
	FILE_DISPOSITION_INFO di;
	HANDLE h;
	int r;

	r = open_rel(p, path, DELETE | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
		     FILE_SHARE_READ | FILE_SHARE_DELETE, WANT_ANY, &h, &fi);
	if (r)
		return r;
	if (fi.dwFileAttributes & (FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DEVICE)) {
		CloseHandle(h);
		kh_seterr("refusing to delete %s: not a regular file or folder", path);
		return KH_ERR_UNSAFE;
	}
	di.DeleteFile = TRUE;
	if (!SetFileInformationByHandle(h, FileDispositionInfo, &di, sizeof(di))) {
		DWORD e = GetLastError();

		CloseHandle(h);
		if (e == ERROR_DIR_NOT_EMPTY) {
			kh_seterr("cannot remove %s: the folder is not empty", path);
			return KH_ERR_IO;
		}
		return fail(e, "cannot remove", path);
	}
	CloseHandle(h);
	return KH_OK;
}

/* Member of BUILTIN\Administrators with the group enabled: elevated (a UAC
 * filtered token has it deny-only).  LocalSystem is a member too. */
static int is_elevated(void)
{
	SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;
	PSID admins = NULL;
	BOOL member = FALSE;

	if (!AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID,
				      DOMAIN_ALIAS_RID_ADMINS, 0, 0, 0, 0, 0, 0, &admins))
		return 0;
	if (!CheckTokenMembership(NULL, admins, &member))
		member = FALSE;
	FreeSid(admins);
	return member != FALSE;
}

int plat_writable(kh_plat *p)
{
	(void)p;
	if (getenv("KHRESET_TEST_NOT_ELEVATED") || !is_elevated()) {
		kh_seterr("not elevated: run khreset as an administrator or as SYSTEM");
		return KH_ERR_PERM;
	}
	return KH_OK;
}

/* ---- registry -------------------------------------------------------------- */
/* "HKLM\X" or "HKEY_LOCAL_MACHINE\X" -> L"X" */
static int reg_path(const char *key, wchar_t **sub)
{
	static const char *const pre[] = { "HKLM\\", "HKEY_LOCAL_MACHINE\\", "HKLM/",
					   "HKEY_LOCAL_MACHINE/" };

	*sub = NULL;
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t n = strlen(pre[i]);

		if (strlen(key) > n && _strnicmp(key, pre[i], n) == 0) {
			*sub = to_w(key + n);
			if (!*sub) {
				kh_seterr("registry key %s: not valid UTF-8", key);
				return KH_ERR_DATA;
			}
			return KH_OK;
		}
	}
	kh_seterr("registry key %s: must start with HKLM\\", key);
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
	LSTATUS e;
	int r;

	(void)p;
	*out = NULL;
	r = reg_path(key, &sub);
	if (r)
		return r;
	wname = to_w(name ? name : "");
	if (!wname) {
		free(sub);
		return KH_ERR_DATA;
	}
	e = RegOpenKeyExW(HKEY_LOCAL_MACHINE, sub, 0, KEY_QUERY_VALUE | KEY_WOW64_64KEY, &hk);
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
	LSTATUS e;
	int r;

	r = reg_path(v->key, &sub);
	if (r)
		return r;
	wname = to_w(v->name ? v->name : "");
	if (!wname) {
		r = KH_ERR_DATA;
		goto out;
	}
	if (!v->data) {
		e = RegOpenKeyExW(HKEY_LOCAL_MACHINE, sub, 0, KEY_SET_VALUE | KEY_WOW64_64KEY, &hk);
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
			    KEY_SET_VALUE | KEY_WOW64_64KEY, NULL, &hk, NULL);
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
	int r;

	if (!v->key || !v->name || !v->data) {
		kh_seterr("registry value: key, name and data are required");
		return KH_ERR_CONFIG;
	}
	if ((r = reg_path(v->key, &w)) != KH_OK)
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

int plat_reg_undo(kh_plat *p, const struct kh_regval *old, size_t n)
{
	int first = KH_OK;

	(void)p;
	for (size_t i = n; i-- > 0;) {
		int r = reg_write(&old[i]);

		if (r && first == KH_OK)
			first = r;
	}
	return first;
}

void plat_free_regvals(struct kh_regval *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].name);
		free(v[i].data);
	}
	free(v);
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

void plat_free_source_os(struct kh_source_os *list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++) {
		free(list[i].key);
		free(list[i].build);
		free(list[i].product);
	}
	free(list);
}

/* ---- services -------------------------------------------------------------- */
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

/* ---- licence --------------------------------------------------------------- */
/* slc.dll, declared here: mingw-w64's slpublic.h lacks these. */
typedef void *kh_hslc;
typedef struct {
	GUID SkuId;
	int eStatus;            /* SLLICENSINGSTATUS */
	DWORD dwGraceTime;
	DWORD dwTotalGraceDays;
	HRESULT hrReason;
	UINT64 qwValidityExpiration;
} kh_sl_licensing_status;
typedef HRESULT (WINAPI *kh_slopen_fn)(kh_hslc *);
typedef HRESULT (WINAPI *kh_slclose_fn)(kh_hslc);
typedef HRESULT (WINAPI *kh_slgetstatus_fn)(kh_hslc, const GUID *, const GUID *, PCWSTR,
					    UINT *, kh_sl_licensing_status **);

/* Windows application ID 55c92734-d682-4d71-983e-d6ec3f16059f */
static const GUID kh_windows_appid = {
	0x55c92734, 0xd682, 0x4d71, { 0x98, 0x3e, 0xd6, 0xec, 0x3f, 0x16, 0x05, 0x9f }
};

int plat_licence(kh_plat *p, enum kh_licence *st, uint32_t *reason)
{
	kh_slopen_fn slopen;
	kh_slclose_fn slclose;
	kh_slgetstatus_fn slget;
	kh_hslc h = NULL;
	kh_sl_licensing_status *ls = NULL;
	UINT count = 0;
	HRESULT hr;
	int best = -1, rank_best = -1;
	static const int rank[] = { 1, 4, 3, 2 };   /* unlic, licensed, grace, notif */
	static const enum kh_licence map[] = { KH_LIC_UNLICENSED, KH_LIC_LICENSED,
					       KH_LIC_GRACE, KH_LIC_NOTIFICATION };

	*st = KH_LIC_UNKNOWN;
	*reason = 0;
	if (!p->slc)
		p->slc = LoadLibraryExW(L"slc.dll", NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
	if (!p->slc) {
		kh_log(KH_LOG_WARN, "licence", "cannot load slc.dll from System32: %s",
		       werr(GetLastError()));
		return KH_OK;
	}
	slopen = (kh_slopen_fn)(void (*)(void))GetProcAddress(p->slc, "SLOpen");
	slclose = (kh_slclose_fn)(void (*)(void))GetProcAddress(p->slc, "SLClose");
	slget = (kh_slgetstatus_fn)(void (*)(void))GetProcAddress(p->slc,
								  "SLGetLicensingStatusInformation");
	if (!slopen || !slclose || !slget) {
		kh_log(KH_LOG_WARN, "licence", "slc.dll lacks SLOpen/SLGetLicensingStatusInformation");
		return KH_OK;
	}
	hr = slopen(&h);
	if (FAILED(hr) || !h) {
		kh_log(KH_LOG_WARN, "licence", "SLOpen failed: 0x%08lx", (unsigned long)hr);
		return KH_OK;
	}
	hr = slget(h, &kh_windows_appid, NULL, NULL, &count, &ls);
	if (FAILED(hr) || !ls || count == 0) {
		kh_log(KH_LOG_WARN, "licence", "SLGetLicensingStatusInformation: 0x%08lx, %u entries",
		       (unsigned long)hr, count);
	} else {
		/* several SKUs may answer: the best state wins */
		for (UINT i = 0; i < count && i < 4096; i++) {
			int s = ls[i].eStatus;

			if (s < 0 || s > 3)
				continue;
			if (rank[s] > rank_best) {
				rank_best = rank[s];
				best = (int)i;
			}
		}
		if (best >= 0) {
			*st = map[ls[best].eStatus];
			*reason = (uint32_t)ls[best].hrReason;
		}
	}
	if (ls)
		LocalFree(ls);
	slclose(h);
	return KH_OK;
}

/* ---- events ------------------------------------------------------------------ */
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
