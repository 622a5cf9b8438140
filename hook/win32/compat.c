/* compat.c - bodies of the POSIX stand-ins declared in
 * hook/win32/compat.h (Windows build only). */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#undef rename
#undef strptime

/* kill(getpid(), SIGKILL): the KHRESET_TEST_STOP_AT seam. */
int kh_win_kill(int pid, int sig)
{
	if (pid == (int)GetCurrentProcessId() && sig == 9) {
		TerminateProcess(GetCurrentProcess(), 137);
		ExitProcess(137);
	}
	errno = ENOSYS;
	return -1;
}

/* UTF-8 to UTF-16, malloc'd; NULL for NULL, invalid UTF-8 or no memory
 * (also hook/win32/win32.c's to_w). */
wchar_t *kh_win_utf8_to_w(const char *s)
{
	int n;
	wchar_t *w;

	if (!s)
		return NULL;
	n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
	if (n <= 0)
		return NULL;
	w = malloc((size_t)n * sizeof(*w));
	if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
		free(w);
		w = NULL;
	}
	return w;
}

static int errno_of(DWORD e)
{
	switch (e) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND: return ENOENT;
	case ERROR_ACCESS_DENIED:
	case ERROR_SHARING_VIOLATION: return EACCES;
	case ERROR_ALREADY_EXISTS:
	case ERROR_FILE_EXISTS: return EEXIST;
	case ERROR_NOT_SAME_DEVICE: return EXDEV;
	case ERROR_INVALID_NAME: return EINVAL;
	case ERROR_NOT_ENOUGH_MEMORY: return ENOMEM;
	default: return EIO;
	}
}

/* rename() with POSIX semantics: replaces the target, write-through. */
int kh_win_rename(const char *from, const char *to)
{
	wchar_t *wf = kh_win_utf8_to_w(from), *wt = kh_win_utf8_to_w(to);
	BOOL ok = wf && wt &&
		MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH);
	DWORD e = ok ? 0 : (wf && wt ? GetLastError() : ERROR_INVALID_NAME);

	free(wf);
	free(wt);
	if (ok)
		return 0;
	errno = errno_of(e);
	return -1;
}

/* The final path of an open handle ("\\?\C:\..."), malloc'd; NULL on
 * failure. */
static wchar_t *final_path(HANDLE h)
{
	DWORD f = FILE_NAME_NORMALIZED | VOLUME_NAME_DOS;
	DWORD n = GetFinalPathNameByHandleW(h, NULL, 0, f);
	wchar_t *p = n ? malloc(((size_t)n + 1) * sizeof(*p)) : NULL;

	if (p && GetFinalPathNameByHandleW(h, p, n + 1, f) > n) {
		free(p);
		p = NULL;
	}
	return p;
}

/* Is the file open in h exactly the entry `leaf` of the folder `dir`?  The
 * folder is resolved as the system resolves it (links on the way are
 * followed, as POSIX does), the entry itself must not be: a symbolic
 * link, junction or other alias at the end resolves elsewhere.  This also
 * catches what Wine shows as a plain file: a Unix symlink.  0 if it is,
 * ELOOP if not, EIO if a final path is not known. */
static int not_entry(HANDLE h, const wchar_t *dir, const wchar_t *leaf)
{
	HANDLE d = CreateFileW(dir, FILE_READ_ATTRIBUTES,
			       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
			       OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
	wchar_t *got = final_path(h), *want = NULL;
	int e = EIO;

	if (d != INVALID_HANDLE_VALUE && (want = final_path(d)) != NULL && got) {
		size_t nw = wcslen(want), nl = wcslen(leaf), ng = wcslen(got);
		int sep = nw && want[nw - 1] != L'\\';

		e = ng == nw + sep + nl &&
		     CompareStringOrdinal(got, (int)nw, want, (int)nw, TRUE) == CSTR_EQUAL &&
		     (!sep || got[nw] == L'\\') &&
		     CompareStringOrdinal(got + nw + sep, (int)nl, leaf, (int)nl, TRUE) == CSTR_EQUAL ?
		    0 : ELOOP;
	}
	if (d != INVALID_HANDLE_VALUE)
		CloseHandle(d);
	free(got);
	free(want);
	return e;
}

/*
 * open(path, O_RDONLY) that never follows a link at the path's end: the
 * entry itself is opened (FILE_FLAG_OPEN_REPARSE_POINT) and must be a
 * regular file on disk that is what its folder names.  Returns a CRT
 * descriptor (binary, read-only), or -1 with errno: ELOOP for a reparse
 * point or an entry that resolves elsewhere, EISDIR / ENODEV for a folder
 * or device, else as the system error.
 */
int kh_win_open_nofollow(const char *path)
{
	wchar_t *w = kh_win_utf8_to_w(path), *full = NULL, *dir = NULL, *leaf;
	BY_HANDLE_FILE_INFORMATION fi;
	HANDLE h = INVALID_HANDLE_VALUE;
	DWORD n;
	int fd = -1, e = EINVAL;

	if (!w || !(n = GetFullPathNameW(w, 0, NULL, NULL)) ||
	    !(full = malloc((size_t)n * sizeof(*full))) ||
	    GetFullPathNameW(w, n, full, &leaf) >= n || !leaf || !*leaf)
		goto out;
	h = CreateFileW(full, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
			FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, NULL);
	e = errno_of(GetLastError());
	if (h == INVALID_HANDLE_VALUE)
		goto out;
	e = ENODEV;
	if (GetFileType(h) != FILE_TYPE_DISK)
		goto out;
	if (!GetFileInformationByHandle(h, &fi)) {
		e = errno_of(GetLastError());
		goto out;
	}
	e = fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT ? ELOOP :
	    fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY ? EISDIR :
	    fi.dwFileAttributes & FILE_ATTRIBUTE_DEVICE ? ENODEV : 0;
	if (e)
		goto out;
	e = ENOMEM;
	if (!(dir = malloc(((size_t)(leaf - full) + 1) * sizeof(*dir))))
		goto out;
	memcpy(dir, full, (size_t)(leaf - full) * sizeof(*dir));   /* "C:\...\" */
	dir[leaf - full] = L'\0';
	if ((e = not_entry(h, dir, leaf)) != 0)
		goto out;
	fd = _open_osfhandle((intptr_t)h, _O_RDONLY | _O_BINARY);
	if (fd >= 0)
		h = INVALID_HANDLE_VALUE;
	e = EMFILE;
out:
	if (h != INVALID_HANDLE_VALUE)
		CloseHandle(h);
	free(dir);
	free(full);
	free(w);
	if (fd < 0)
		errno = e;
	return fd;
}

/* strptime subset: %Y %m %d %H %M %S (digits), %T, %%, whitespace, literals. */
static const char *num(const char *s, int digits, int lo, int hi, int *out)
{
	int v = 0, n = 0;

	while (n < digits && *s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		n++;
	}
	if (n == 0 || v < lo || v > hi)
		return NULL;
	*out = v;
	return s;
}

char *kh_win_strptime(const char *s, const char *fmt, struct tm *tm)
{
	int v;

	for (; s && *fmt; fmt++) {
		if (*fmt == ' ') {
			while (*s == ' ' || *s == '\t')
				s++;
			continue;
		}
		if (*fmt != '%') {
			if (*s++ != *fmt)
				return NULL;
			continue;
		}
		switch (*++fmt) {
		case 'Y': s = num(s, 4, 0, 9999, &v); if (s) tm->tm_year = v - 1900; break;
		case 'm': s = num(s, 2, 1, 12, &v); if (s) tm->tm_mon = v - 1; break;
		case 'd': s = num(s, 2, 1, 31, &v); if (s) tm->tm_mday = v; break;
		case 'H': s = num(s, 2, 0, 23, &v); if (s) tm->tm_hour = v; break;
		case 'M': s = num(s, 2, 0, 59, &v); if (s) tm->tm_min = v; break;
		case 'S': s = num(s, 2, 0, 60, &v); if (s) tm->tm_sec = v; break;
		case 'T': s = kh_win_strptime(s, "%H:%M:%S", tm); break;
		case '%': if (*s++ != '%') return NULL; break;
		default: return NULL;   /* unsupported conversion */
		}
	}
	return (char *)s;
}
