/* compat.h - POSIX odds and ends for the mingw-w64 build of the shared
 * hook/ sources.  Force-included on the mingw command line
 * (-include hook/win32/compat.h, see win/win.mk); never included by the
 * Linux build.  Keep it free of <windows.h>: the shared sources must not see
 * its macros.
 */
#ifndef KH_COMPAT_WIN32_H
#define KH_COMPAT_WIN32_H
#ifdef _WIN32

/* gmtime_r / localtime_r: mingw-w64's <time.h> defines them as inline
 * wrappers of gmtime_s / localtime_s when this is set. */
#ifndef _POSIX_THREAD_SAFE_FUNCTIONS
#define _POSIX_THREAD_SAFE_FUNCTIONS 200112L
#endif

/* C99 printf (%zu, %lld, %hhx) and vasprintf/asprintf from mingw-w64's own
 * stdio rather than msvcrt's. */
#ifndef __USE_MINGW_ANSI_STDIO
#define __USE_MINGW_ANSI_STDIO 1
#endif

/* kill(getpid(), SIGKILL) in kh_test_stop(): Windows has neither.  The
 * replacement (compat.c) terminates the current process at once, exit
 * code 137 (128 + 9, as a shell reports SIGKILL); other pids: -1/ENOSYS. */
#ifndef SIGKILL
#define SIGKILL 9
#endif
int kh_win_kill(int pid, int sig);
#define kill(pid, sig) kh_win_kill((pid), (sig))

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* rename(): POSIX replaces an existing target, msvcrt's fails with EEXIST.
 * kh_win_rename (compat.c) = MoveFileExW(REPLACE_EXISTING |
 * WRITE_THROUGH) on UTF-8 names, errno set from the Win32 error. */
int kh_win_rename(const char *from, const char *to);
#define rename(from, to) kh_win_rename((from), (to))

/* UTF-8 to UTF-16 (hook/win32/compat.c; malloc'd, NULL for NULL, invalid
 * UTF-8 or no memory): kh_win_rename's names and win32.c's to_w. */
wchar_t *kh_win_utf8_to_w(const char *s);

/* fsync -> _commit (FlushFileBuffers on the CRT descriptor). */
int __cdecl _commit(int fd);
#define fsync(fd) _commit(fd)

/* No POSIX permission bits on Windows: the folder's access list rules. */
static inline int kh_win_fchmod(int fd, int mode) { (void)fd; (void)mode; return 0; }
#define fchmod(fd, mode) kh_win_fchmod((fd), (int)(mode))

/* mkostemp on a UTF-8 template (compat_fs.c): created exclusively through
 * its UTF-16 name, binary, not inherited by the children khreset starts. */
int kh_win_mkostemp(char *tmpl, int flags);
#define mkostemp(t, f) kh_win_mkostemp((t), (f))

/* strndup is not in msvcrt. */
static inline char *kh_win_strndup(const char *s, size_t n)
{
	size_t l = strnlen(s, n);
	char *d = malloc(l + 1);

	if (d) {
		memcpy(d, s, l);
		d[l] = '\0';
	}
	return d;
}
#define strndup(s, n) kh_win_strndup((s), (n))

/* open() flags with no meaning on Windows.  O_DIRECTORY: the CRT cannot
 * open a folder, so open(dir, O_DIRECTORY) fails and callers that only
 * want to fsync a folder skip it (NTFS journals the rename). */
#ifndef O_NOCTTY
#define O_NOCTTY 0
#endif
#ifndef O_NONBLOCK
#define O_NONBLOCK 0
#endif
#ifndef O_DIRECTORY
#define O_DIRECTORY 0
#endif

/* strptime (numeric conversions %Y %m %d %H %M %S %j-free subset, %%, and
 * literal text) and timegm (= _mkgmtime). */
struct tm;
char *kh_win_strptime(const char *s, const char *fmt, struct tm *tm);
#define strptime(s, f, tm) kh_win_strptime((s), (f), (tm))
#define timegm(tm) _mkgmtime(tm)

/* The CRT's open() follows symbolic links and junctions (CreateFile
 * without FILE_FLAG_OPEN_REPARSE_POINT) and has no O_NOFOLLOW.  Host files
 * are read through kh_read_host, whose Windows opener is
 * kh_win_open_nofollow (compat.c): a CRT descriptor for reading, or -1
 * with errno ELOOP when path is a link at its end; files under the Windows
 * root go through the handle-based plat_* functions. */
int kh_win_open_nofollow(const char *path);
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* UTF-16 to UTF-8 (compat_fs.c; malloc'd, NULL for NULL or no memory):
 * wimlib's answers in hook/media/wim.c. */
char *kh_win_w_to_utf8(const wchar_t *w);

/* Host paths in UTF-8 (the WIM, the payload and bundle folders named on
 * the command line, e.g. D:\镜像\install.wim): the CRT's narrow file
 * functions take the ANSI code page, so these convert to UTF-16 and call
 * the wide function (compat_fs.c).  stat ignores trailing separators (the
 * CRT's fails on "dir\") and reports sizes above 2 GiB as 2 GiB - 1; lstat
 * reports a reparse point (symbolic link, junction) as S_IFLNK without
 * following it; realpath needs resolved == NULL and gives the final path
 * (links resolved) without the \\?\ prefix; mkdtemp creates the folder
 * with CreateDirectoryW; readdir's names are UTF-8 (a name longer than
 * d_name ends the listing with ENAMETOOLONG); isatty is true for a console
 * only (msvcrt's says so for NUL and every character device too). */
#include <dirent.h>
#include <io.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef S_IFLNK
#define S_IFLNK 0xA000
#endif
#ifndef S_ISLNK
#define S_ISLNK(m) (((m) & S_IFMT) == S_IFLNK)
#endif
int kh_win_stat(const char *path, struct stat *st);
int kh_win_lstat(const char *path, struct stat *st);
int kh_win_access(const char *path, int mode);
int kh_win_unlink(const char *path);
int kh_win_rmdir(const char *path);
char *kh_win_mkdtemp(char *tmpl);
char *kh_win_realpath(const char *path, char *resolved);
int kh_win_isatty(int fd);
typedef struct kh_win_dir kh_win_dir;
kh_win_dir *kh_win_opendir(const char *path);
struct dirent *kh_win_readdir(kh_win_dir *d);
int kh_win_closedir(kh_win_dir *d);
#define stat(p, st) kh_win_stat((p), (st))
#define lstat(p, st) kh_win_lstat((p), (st))
#define access(p, m) kh_win_access((p), (m))
#define unlink(p) kh_win_unlink(p)
#define rmdir(p) kh_win_rmdir(p)
#define mkdtemp(t) kh_win_mkdtemp(t)
#define realpath(p, r) kh_win_realpath((p), (r))
#define isatty(fd) kh_win_isatty(fd)
#define DIR kh_win_dir
#define opendir(p) kh_win_opendir(p)
#define readdir(d) kh_win_readdir(d)
#define closedir(d) kh_win_closedir(d)

#endif /* _WIN32 */
#endif
