/* compat_fs.c - host files named in UTF-8: the wide-character bodies of
 * the file stand-ins declared in hook/win32/compat.h (Windows build only). */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <ntsecapi.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#undef stat
#undef lstat
#undef access
#undef unlink
#undef rmdir
#undef mkdtemp
#undef realpath
#undef isatty
#undef DIR
#undef opendir
#undef readdir
#undef closedir

char *kh_win_w_to_utf8(const wchar_t *w)
{
	int n;
	char *s;

	if (!w)
		return NULL;
	if ((n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL)) <= 0)
		return NULL;
	if ((s = malloc((size_t)n)) && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
		free(s);
		s = NULL;
	}
	return s;
}

/* path in UTF-16 without trailing separators (but "C:\" and "\" keep theirs);
 * NULL with errno set. */
static wchar_t *wpath(const char *path)
{
	wchar_t *w = kh_win_utf8_to_w(path);
	size_t n;

	if (!w) {
		errno = path ? EINVAL : EFAULT;
		return NULL;
	}
	n = wcslen(w);
	while (n > 1 && (w[n - 1] == L'\\' || w[n - 1] == L'/') && !(n == 3 && w[1] == L':'))
		w[--n] = L'\0';
	return w;
}

static void stat_from(struct stat *st, const struct _stat64 *s)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = s->st_dev;
	st->st_ino = s->st_ino;
	st->st_mode = s->st_mode;
	st->st_nlink = s->st_nlink;
	st->st_rdev = s->st_rdev;
	st->st_size = s->st_size > LONG_MAX ? LONG_MAX : (_off_t)s->st_size;
	st->st_atime = s->st_atime;
	st->st_mtime = s->st_mtime;
	st->st_ctime = s->st_ctime;
}

int kh_win_stat(const char *path, struct stat *st)
{
	struct _stat64 s;
	wchar_t *w = wpath(path);
	int r = w ? _wstat64(w, &s) : -1;

	free(w);
	if (r == 0)
		stat_from(st, &s);
	return r;
}

int kh_win_lstat(const char *path, struct stat *st)
{
	WIN32_FILE_ATTRIBUTE_DATA a;
	wchar_t *w = wpath(path);
	BOOL ok = w && GetFileAttributesExW(w, GetFileExInfoStandard, &a);

	if (w && !ok)
		errno = GetLastError() == ERROR_FILE_NOT_FOUND ||
			GetLastError() == ERROR_PATH_NOT_FOUND ? ENOENT : EACCES;
	if (!ok || !(a.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
		free(w);
		return ok ? kh_win_stat(path, st) : -1;
	}
	free(w);
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFLNK;
	return 0;
}

int kh_win_access(const char *path, int mode)
{
	wchar_t *w = wpath(path);
	int r = w ? _waccess(w, mode) : -1;

	free(w);
	return r;
}

int kh_win_unlink(const char *path)
{
	wchar_t *w = kh_win_utf8_to_w(path);
	int r = w ? _wunlink(w) : (errno = EINVAL, -1);

	free(w);
	return r;
}

int kh_win_rmdir(const char *path)
{
	wchar_t *w = wpath(path);
	int r = w ? _wrmdir(w) : -1;

	free(w);
	return r;
}

/* The trailing XXXXXX replaced until a new folder is made. */
char *kh_win_mkdtemp(char *tmpl)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t n = tmpl ? strlen(tmpl) : 0;
	char *x = tmpl + n - 6;

	if (n < 6 || strcmp(x, "XXXXXX") != 0) {
		errno = EINVAL;
		return NULL;
	}
	for (int tries = 0; tries < 100; tries++) {
		unsigned char r[6];
		wchar_t *w;
		BOOL ok;

		if (!RtlGenRandom(r, sizeof(r))) {
			errno = EIO;
			return NULL;
		}
		for (int i = 0; i < 6; i++)
			x[i] = set[r[i] % (sizeof(set) - 1)];
		if (!(w = kh_win_utf8_to_w(tmpl))) {
			errno = EINVAL;
			return NULL;
		}
		ok = CreateDirectoryW(w, NULL);
		free(w);
		if (ok)
			return tmpl;
		if (GetLastError() != ERROR_ALREADY_EXISTS) {
			errno = GetLastError() == ERROR_PATH_NOT_FOUND ? ENOENT : EACCES;
			return NULL;
		}
	}
	errno = EEXIST;
	return NULL;
}

/* The same names, for a file: created exclusively through its UTF-16 name
 * (msvcrt's mkstemp takes the ANSI code page, so a temp file in
 * "D:\\镜像\\bundle" got another name than the one renamed after). */
int kh_win_mkostemp(char *tmpl, int flags)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t n = tmpl ? strlen(tmpl) : 0;
	char *x = tmpl + n - 6;

	(void)flags;
	if (n < 6 || strcmp(x, "XXXXXX") != 0) {
		errno = EINVAL;
		return -1;
	}
	for (int tries = 0; tries < 100; tries++) {
		unsigned char r[6];
		wchar_t *w;
		int fd;

		if (!RtlGenRandom(r, sizeof(r))) {
			errno = EIO;
			return -1;
		}
		for (int i = 0; i < 6; i++)
			x[i] = set[r[i] % (sizeof(set) - 1)];
		if (!(w = kh_win_utf8_to_w(tmpl))) {
			errno = EINVAL;
			return -1;
		}
		fd = _wopen(w, _O_RDWR | _O_CREAT | _O_EXCL | _O_BINARY | _O_NOINHERIT,
			    _S_IREAD | _S_IWRITE);
		free(w);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

char *kh_win_realpath(const char *path, char *resolved)
{
	DWORD f = FILE_NAME_NORMALIZED | VOLUME_NAME_DOS, n;
	wchar_t *w = wpath(path), *p = NULL, *q;
	char *out = NULL;
	HANDLE h;

	if (resolved) {
		free(w);
		errno = EINVAL;
		return NULL;
	}
	if (!w)
		return NULL;
	h = CreateFileW(w, FILE_READ_ATTRIBUTES,
			FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
			OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
	free(w);
	if (h == INVALID_HANDLE_VALUE) {
		errno = ENOENT;
		return NULL;
	}
	if ((n = GetFinalPathNameByHandleW(h, NULL, 0, f)) &&
	    (p = malloc(((size_t)n + 1) * sizeof(*p))) &&
	    GetFinalPathNameByHandleW(h, p, n + 1, f) <= n) {
		q = p;
		if (!wcsncmp(q, L"\\\\?\\UNC\\", 8))
			*(q += 6) = L'\\';           /* \\server\share */
		else if (!wcsncmp(q, L"\\\\?\\", 4))
			q += 4;
		out = kh_win_w_to_utf8(q);
	}
	CloseHandle(h);
	free(p);
	if (!out)
		errno = ENOMEM;
	return out;
}

int kh_win_isatty(int fd)
{
	HANDLE h = (HANDLE)_get_osfhandle(fd);
	DWORD mode;

	return h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode);
}

struct kh_win_dir {
	_WDIR *d;
	struct dirent e;
};

kh_win_dir *kh_win_opendir(const char *path)
{
	wchar_t *w = wpath(path);
	kh_win_dir *d = w ? calloc(1, sizeof(*d)) : NULL;

	if (d && !(d->d = _wopendir(w))) {
		free(d);
		d = NULL;
	} else if (w && !d && errno != ENOENT) {
		errno = ENOMEM;
	}
	free(w);
	return d;
}

struct dirent *kh_win_readdir(kh_win_dir *d)
{
	struct _wdirent *we = _wreaddir(d->d);
	char *name;
	size_t n;

	if (!we)
		return NULL;
	if (!(name = kh_win_w_to_utf8(we->d_name))) {
		errno = ENOMEM;
		return NULL;
	}
	if ((n = strlen(name)) >= sizeof(d->e.d_name)) {
		free(name);
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(d->e.d_name, name, n + 1);
	d->e.d_namlen = (unsigned short)n;
	free(name);
	return &d->e;
}

int kh_win_closedir(kh_win_dir *d)
{
	int r = d ? _wclosedir(d->d) : -1;

	free(d);
	return r;
}
