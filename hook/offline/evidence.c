/* evidence.c - what the evidence collector reads and writes through the
 * Linux build, offline and in the test fake alike: the registry's two views
 * from the hives, the host folder the evidence goes to, and the wait
 * between samples that SIGTERM or Ctrl+C ends.  What has no meaning on a
 * mounted volume (services, licence, ACLs, code pages) is in stubs.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khreset.h"
#include "offline.h"

/* ---------- the registry's views ---------- */

/* The 32-bit programs' view of HKLM\SOFTWARE\X is the key
 * HKLM\SOFTWARE\WOW6432Node\X of the same hive; other keys are shared. */
static char *view_key(const char *key, enum kh_regview view)
{
	static const char *const pre[] = { "HKLM\\SOFTWARE", "HKEY_LOCAL_MACHINE\\SOFTWARE" };

	for (size_t i = 0; view == KH_VIEW_32 && i < 2; i++) {
		size_t n = strlen(pre[i]);
		const char *rest = key + n;

		if (strncasecmp(key, pre[i], n) != 0 || (*rest && *rest != '\\'))
			continue;
		if (*rest && !strncasecmp(rest + 1, "WOW6432Node", 11) &&
		    (rest[12] == '\0' || rest[12] == '\\'))
			break;
		return kh_asprintf("HKLM\\SOFTWARE\\WOW6432Node%s", rest);
	}
	return kh_strdup(key);
}

int plat_reg_get_view(kh_plat *p, const char *key, const char *name, enum kh_regview view,
		      char **out)
{
	char *k = view_key(key, view);
	int rc;

	*out = NULL;
	if (!k)
		return KH_ERR_NOMEM;
	rc = plat_reg_get(p, k, name, out);
	free(k);
	return rc;
}

int plat_reg_names(kh_plat *p, const char *key, enum kh_regview view, char ***names,
		   size_t *n)
{
	*names = NULL;
	*n = 0;
	kh_seterr("offline: value names are not listed; the configured and known ones are read");
	return KH_ERR_UNSUPPORTED;
}

/* ---------- the evidence folder (a host path) ---------- */

struct kh_evdir {
	int fd;           /* the folder, O_NOFOLLOW */
	char *path;
};

static int ev_fail(int e, const char *path, const char *what)
{
	kh_seterr("%s: %s", path, what ? what : strerror(e));
	return e == ENOENT ? KH_ERR_NOENT : e == ELOOP || e == ENOTDIR ? KH_ERR_UNSAFE
	     : e == EACCES || e == EPERM || e == EROFS ? KH_ERR_PERM : KH_ERR_IO;
}

/* 1 when the folder holds nothing but "." and "..". */
static int dir_empty(int fd)
{
	int dup_fd = dup(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *e;
	int empty = 1;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return -1;
	}
	while (empty && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

int plat_evdir_open(const char *path, kh_evdir **out)
{
	struct stat st;
	kh_evdir *d;
	int fd, empty;

	*out = NULL;
	if (!path || !*path) {
		kh_seterr("the evidence folder: empty path");
		return KH_ERR_USAGE;
	}
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return ev_fail(ELOOP, path, "is a symbolic link, refused");
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return ev_fail(errno, path, NULL);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ev_fail(errno, path, errno == ELOOP ? "is a symbolic link, refused"
				  : errno == ENOTDIR ? "not a folder, refused" : NULL);
	if ((empty = dir_empty(fd)) != 1) {
		close(fd);
		if (empty < 0)
			return ev_fail(errno, path, NULL);
		kh_seterr("%s: exists and is not empty; give a new or an empty folder", path);
		return KH_ERR_EXISTS;
	}
	if (!(d = calloc(1, sizeof(*d))) || !(d->path = kh_strdup(path))) {
		free(d);
		close(fd);
		return KH_ERR_NOMEM;
	}
	d->fd = fd;
	*out = d;
	return KH_OK;
}

static int plain_name(const char *name)
{
	return name && *name && !strchr(name, '/') && !strchr(name, '\\') &&
	       strcmp(name, ".") && strcmp(name, "..");
}

int plat_evdir_write(kh_evdir *d, const char *name, const void *buf, size_t len, int append)
{
	const unsigned char *b = buf;
	char *shown;
	int fd, rc = KH_OK;

	if (!plain_name(name)) {
		kh_seterr("evidence file name \"%s\": not a plain name", name ? name : "");
		return KH_ERR_UNSAFE;
	}
	if (!(shown = kh_asprintf("%s/%s", d->path, name)))
		return KH_ERR_NOMEM;
	fd = openat(d->fd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
		    (append ? O_APPEND : O_EXCL), 0644);
	if (fd < 0) {
		rc = errno == EEXIST ? KH_ERR_EXISTS : ev_fail(errno, shown, NULL);
		if (rc == KH_ERR_EXISTS)
			kh_seterr("%s: already written", shown);
		free(shown);
		return rc;
	}
	while (len > 0 && rc == KH_OK) {
		ssize_t w = write(fd, b, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = ev_fail(w < 0 ? errno : EIO, shown, NULL);
		else {
			b += w;
			len -= (size_t)w;
		}
	}
	if (rc == KH_OK && fsync(fd) != 0)
		rc = ev_fail(errno, shown, NULL);
	close(fd);
	free(shown);
	return rc;
}

void plat_evdir_close(kh_evdir *d)
{
	if (!d)
		return;
	fsync(d->fd);
	close(d->fd);
	free(d->path);
	free(d);
}

/* ---------- the wait between samples ---------- */

static volatile sig_atomic_t stop_asked;
static sigset_t wait_mask;        /* the mask while waiting: SIGTERM, SIGINT let in */

static void on_stop(int sig)
{
	(void)sig;
	stop_asked = 1;
}

/* SIGTERM and SIGINT are held outside the wait and let in only while
 * waiting (ppoll), so a stop never cuts a sample short; a stop sent before
 * this (a collector started with SIGTERM blocked) waits for it. */
static void arm(void)
{
	struct sigaction sa;
	sigset_t hold;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&hold);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGINT);
	sigprocmask(SIG_BLOCK, &hold, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

int plat_ev_wait(kh_plat *p, int ms)
{
	static int armed;
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (!armed) {
		arm();
		armed = 1;
	}
	if (!stop_asked)
		ppoll(NULL, 0, &ts, &wait_mask);
	return stop_asked != 0;
}
