/* files.c - the live body's files: paths below the system drive, checked
 * opens, reads and atomic writes, moves and deletes, the state folders'
 * access lists, elevation; plat_open/plat_close.
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
 * FileDispositionInfo).  A move is a rename on the volume, never a copy: the
 * file keeps its own security descriptor.  A file another process holds
 * (sharing or lock violation) is KH_ERR_INUSE: the core retries, not this.
 */
#include "win32.h"

#include <sddl.h>
#include <aclapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Our own folders: created (or, when found, reset) with a protected access
 * list granting SYSTEM and Administrators only.  SPEC sections 8 and 9. */
static const char *const own_dirs[] = {
	"ProgramData\\khreset",
	"Windows\\Logs\\khreset",
};
static const wchar_t own_sddl[] = L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

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
	case ERROR_SHARING_VIOLATION:
	case ERROR_LOCK_VIOLATION:
	case ERROR_USER_MAPPED_FILE:
		return KH_ERR_INUSE;
	default:
		return KH_ERR_IO;
	}
}

/* Another process holding the file is "not yet" (KH_ERR_INUSE): the core
 * retries within its budget; the body never waits for it. */
static int fail(DWORD e, const char *what, const char *path)
{
	int r = map_err(e);

	if (r == KH_ERR_INUSE)
		kh_seterr("%s %s: another process holds it open (%s)", what, path ? path : "",
			  werr(e));
	else
		kh_seterr("%s %s: %s", what, path ? path : "", werr(e));
	return r;
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
int full_path(const kh_plat *p, const char *rel, wchar_t **out)
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
int split_parent(const wchar_t *full, wchar_t **parent, const wchar_t **leaf)
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

/*
 * Opens the entry itself (never what a reparse point names), checks its
 * final path and, per `want`, that it is a regular file / a folder and not a
 * reparse point.  WANT_ANY leaves the type check to the caller.
 */
int open_checked(const wchar_t *full, const char *rel, DWORD access, DWORD share,
		 DWORD disposition, int want, HANDLE *out, BY_HANDLE_FILE_INFORMATION *info)
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
int open_rel(const kh_plat *p, const char *rel, DWORD access, DWORD share, int want,
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
	memset(e, 0, sizeof(*e));
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

/* The temp file beside full: kh_temp_name's ".LEAF.khtmp.PID", the name
 * crash recovery removes (malloc'd). */
static int temp_beside(const wchar_t *full, wchar_t **out)
{
	const wchar_t *leaf = wcsrchr(full, L'\\') + 1;   /* check_parent passed */
	size_t dir = (size_t)(leaf - full);
	char *name = from_w(leaf, -1), tname[1024];
	wchar_t *wt;
	int r;

	*out = NULL;
	if (!name)
		return KH_ERR_NOMEM;
	r = kh_temp_name(tname, sizeof(tname), name, (long)GetCurrentProcessId());
	free(name);
	if (r)
		return r;
	wt = to_w(tname);
	if (wt)
		*out = malloc((dir + wcslen(wt) + 1) * sizeof(wchar_t));
	if (!*out) {
		free(wt);
		return KH_ERR_NOMEM;
	}
	wmemcpy(*out, full, dir);
	wcscpy(*out + dir, wt);
	free(wt);
	return KH_OK;
}

/* Created exclusively, never through a link; one a dead run with our
 * process ID left is ours by its name and is replaced. */
static HANDLE create_temp(const wchar_t *tmp)
{
	const DWORD fl = FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT;
	HANDLE h = CreateFileW(tmp, GENERIC_WRITE, 0, NULL, CREATE_NEW, fl, NULL);

	if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_FILE_EXISTS && DeleteFileW(tmp))
		h = CreateFileW(tmp, GENERIC_WRITE, 0, NULL, CREATE_NEW, fl, NULL);
	return h;
}

/* A file we write has one name: another hard link to it would be written
 * too (nNumberOfLinks of the handle we opened). */
static int one_link(const BY_HANDLE_FILE_INFORMATION *fi, const char *path)
{
	if (fi->nNumberOfLinks <= 1)
		return KH_OK;
	kh_seterr("%s: refused: it has %lu hard links, so a file elsewhere would be "
		  "written too", path, (unsigned long)fi->nNumberOfLinks);
	return KH_ERR_UNSAFE;
}

/* Temp file beside path, then MoveFileExW over it; sync: FlushFileBuffers
 * and MOVEFILE_WRITE_THROUGH. */
static int write_replace(kh_plat *p, const char *path, const void *buf, size_t len, int sync)
{
	wchar_t *full, *tmp = NULL;
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
		if ((r = one_link(&fi, path)) != KH_OK)
			goto out;
	}
	r = temp_beside(full, &tmp);
	if (r)
		goto out;
	h = create_temp(tmp);
	if (h == INVALID_HANDLE_VALUE) {
		r = fail(GetLastError(), "cannot create a temporary file beside", path);
		goto out;
	}
	if (!write_all(h, buf, len) || (sync && !FlushFileBuffers(h))) {
		r = fail(GetLastError(), "cannot write", path);
		CloseHandle(h);
		DeleteFileW(tmp);
		goto out;
	}
	CloseHandle(h);
	if (!MoveFileExW(tmp, full, MOVEFILE_REPLACE_EXISTING |
			 (sync ? MOVEFILE_WRITE_THROUGH : 0))) {
		r = fail(GetLastError(), "cannot replace", path);
		DeleteFileW(tmp);
		goto out;
	}
	r = KH_OK;
out:
	free(tmp);
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
	BY_HANDLE_FILE_INFORMATION fi;
	wchar_t *full;
	HANDLE h;
	int r;

	r = full_path_in_folder(p, path, &full);
	if (r)
		return r;
	r = open_checked(full, path, FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
			 FILE_SHARE_READ, OPEN_ALWAYS, WANT_FILE, &h, &fi);
	free(full);
	if (r)
		return r;
	if ((r = one_link(&fi, path)) == KH_OK && (!write_all(h, buf, len) || !FlushFileBuffers(h)))
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
	if (r == KH_ERR_INUSE)
		kh_seterr("cannot move %s yet: another process holds it open", from);
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
