/* plat_offline.c - platform body for a Windows volume mounted on Linux.
 *
 * Design: every path is resolved from an fd on the root, one component at a
 * time, with openat(O_PATH|O_NOFOLLOW|O_DIRECTORY).  A component is tried
 * with its exact spelling first (one syscall, the common case); only when
 * that is missing is the folder scanned for a case-insensitive match (ties:
 * the strcmp-smallest spelling, so the choice is stable).  A symlink or
 * non-folder on the way fails with ELOOP/ENOTDIR and is refused.  Final
 * entries are opened with O_NOFOLLOW and the opened fd is fstat'ed: we check
 * the thing we opened, never the path.
 *
 * Resolved folders are kept in a small cache of O_PATH fds keyed by the
 * path as requested (separators normalized), so reading 100,000 files of
 * one folder costs one openat per file.  The key keeps the case: because
 * the exact spelling wins, "kh" and "KH" may resolve to different folders
 * on a case-sensitive mount.  The cache is flushed whenever a folder is
 * renamed or removed through this layer; creating one changes no existing
 * resolution (an existing match is always used first).  Changes made behind
 * our back while a plat is open are not seen.
 *
 * Registry hives are opened through /proc/self/fd/N of an fd we opened
 * safely, so hivex never sees a path outside the root.  A write commits the
 * whole hive to an exclusively created temp file beside it, fsyncs and
 * renames it over the hive: all values of one hive land, or none.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hivex.h>
#include <iconv.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "khreset.h"
#include "platform.h"

#define MAXDEPTH  64
#define NCACHE    32
#define CONFIG_DIR "Windows/System32/config"

struct dcache {
	char *key;      /* "a/b/c" as requested */
	int fd;         /* O_PATH folder fd */
};

struct kh_plat {
	char *root;
	int rootfd;
	int lockfd;
	struct dcache cache[NCACHE];
	unsigned next;  /* round-robin eviction */
};

/* A parsed relative path: components point into buf. */
struct kpath {
	char buf[PATH_MAX];
	const char *comp[MAXDEPTH];
	size_t n;
};

/* ---------- errors ---------- */

static int err_of(int e)
{
	switch (e) {
	case ENOENT: return KH_ERR_NOENT;
	case EEXIST: case ENOTEMPTY: return KH_ERR_EXISTS;
	case ELOOP: case ENOTDIR: return KH_ERR_UNSAFE;
	case EROFS: case EACCES: case EPERM: return KH_ERR_PERM;
	case ENOMEM: return KH_ERR_NOMEM;
	default: return KH_ERR_IO;
	}
}

static int fail(int e, const char *what, const char *path)
{
	if (e == ELOOP || e == ENOTDIR)
		kh_seterr("%s %s: refused: a symlink or non-folder is on the way (%s)",
			  what, path, strerror(e));
	else
		kh_seterr("%s %s: %s", what, path, strerror(e));
	return err_of(e);
}

/* ---------- folder fd cache ---------- */

static void cache_flush(kh_plat *p)
{
	for (size_t i = 0; i < NCACHE; i++) {
		free(p->cache[i].key);
		if (p->cache[i].fd >= 0)
			close(p->cache[i].fd);
		p->cache[i].key = NULL;
		p->cache[i].fd = -1;
	}
}

static int cache_get(kh_plat *p, const char *key)
{
	for (size_t i = 0; i < NCACHE; i++)
		if (p->cache[i].key && strcmp(p->cache[i].key, key) == 0)
			return p->cache[i].fd;
	return -1;
}

/* Takes ownership of fd even on failure (then it is simply closed). */
static int cache_put(kh_plat *p, const char *key, int fd)
{
	struct dcache *c = &p->cache[p->next++ % NCACHE];
	char *k = strdup(key);

	if (!k) {
		close(fd);
		return KH_ERR_NOMEM;
	}
	free(c->key);
	if (c->fd >= 0)
		close(c->fd);
	c->key = k;
	c->fd = fd;
	return KH_OK;
}

/* ---------- paths ---------- */

static int bad_path(const char *path, const char *why)
{
	kh_seterr("path %s: refused: %s", path, why);
	return KH_ERR_UNSAFE;
}

/* Splits a relative '\' or '/' separated path.  "" is the root (n == 0);
 * trailing separators are ignored; empty, "." and ".." components and
 * absolute paths are refused. */
static int path_parse(const char *path, struct kpath *kp)
{
	size_t len = strlen(path);
	char *s;

	kp->n = 0;
	if (len >= sizeof(kp->buf))
		return bad_path(path, "too long");
	if (path[0] == '/' || path[0] == '\\' ||
	    (isalpha((unsigned char)path[0]) && path[1] == ':'))
		return bad_path(path, "absolute");
	memcpy(kp->buf, path, len + 1);
	while (len > 0 && (kp->buf[len - 1] == '/' || kp->buf[len - 1] == '\\'))
		kp->buf[--len] = '\0';
	if (len == 0)
		return KH_OK;
	for (s = kp->buf;; s++) {
		char *e = s + strcspn(s, "/\\");
		int last = *e == '\0';

		*e = '\0';
		if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
			return bad_path(path, "empty, \".\" or \"..\" component");
		if (strlen(s) > NAME_MAX)
			return bad_path(path, "name too long");
		if (kp->n == MAXDEPTH)
			return bad_path(path, "too deep");
		kp->comp[kp->n++] = s;
		if (last)
			return KH_OK;
		s = e;
	}
}

/* Cache key: "a/b" of the first n components. */
static void path_key(const struct kpath *kp, size_t n, char *key)
{
	char *o = key;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(kp->comp[i]);

		if (i)
			*o++ = '/';
		memcpy(o, kp->comp[i], l);
		o += l;
	}
	*o = '\0';
}

/* Copies an entry name (the kernel and path_parse bound it by NAME_MAX). */
static void set_name(char out[NAME_MAX + 1], const char *name)
{
	size_t l = strnlen(name, NAME_MAX);

	memcpy(out, name, l);
	out[l] = '\0';
}

/* "/proc/self/fd/N": how hivex reaches a file we opened safely. */
static void fd_path(char out[32], int fd)
{
	int n = snprintf(out, 32, "/proc/self/fd/%d", fd);

	if (n < 0 || n >= 32)       /* cannot happen for an int */
		abort();
}

/* Scans folder dfd for a case-insensitive match of name (the strcmp-
 * smallest if several).  KH_ERR_NOENT when none. */
static int match_name(int dfd, const char *name, char out[NAME_MAX + 1],
		      const char *shown)
{
	struct dirent *d;
	DIR *dir;
	int fd, found = 0;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, "cannot scan folder of", shown);
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return fail(errno, "cannot scan folder of", shown);
	}
	while ((d = readdir(dir)) != NULL) {
		if (kh_strcasecmp(d->d_name, name) != 0)
			continue;
		if (!found || strcmp(d->d_name, out) < 0)
			set_name(out, d->d_name);
		found = 1;
	}
	closedir(dir);
	if (!found) {
		kh_seterr("%s: %s", shown, strerror(ENOENT));
		return KH_ERR_NOENT;
	}
	return KH_OK;
}

/* On-disk spelling of entry name in dfd: the exact name when it exists,
 * else a case-insensitive match.  KH_ERR_NOENT when none. */
static int find_entry(int dfd, const char *name, char out[NAME_MAX + 1],
		      const char *shown)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		set_name(out, name);
		return KH_OK;
	}
	if (errno != ENOENT)
		return fail(errno, "cannot look up", shown);
	return match_name(dfd, name, out, shown);
}

static int fsync_dir(int dfd, const char *shown)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = KH_OK;

	if (fd < 0)
		return fail(errno, "cannot open folder of", shown);
	if (fsync(fd) < 0 && errno != EINVAL && errno != ENOTSUP)
		r = fail(errno, "cannot flush folder of", shown);
	close(fd);
	return r;
}

/* Opens folder `name` inside dfd (case-insensitively), creating it when
 * missing and create is set. */
static int open_dir_at(int dfd, const char *name, int create, const char *shown,
		       int *out)
{
	const int fl = O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC;
	char disk[NAME_MAX + 1];
	int r;

	*out = openat(dfd, name, fl);
	if (*out >= 0)
		return KH_OK;
	if (errno != ENOENT)
		return fail(errno, "cannot open", shown);
	r = match_name(dfd, name, disk, shown);
	if (r == KH_ERR_NOENT && create) {
		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
			return fail(errno, "cannot create", shown);
		if ((r = fsync_dir(dfd, shown)) != KH_OK)
			return r;
		set_name(disk, name);
	} else if (r != KH_OK) {
		return r;
	}
	*out = openat(dfd, disk, fl);
	if (*out < 0)
		return fail(errno, "cannot open", shown);
	return KH_OK;
}

/* Folder of the first n components (n == 0: the root).  The fd is borrowed
 * from the cache: valid until the next resolve_dir or cache flush. */
static int resolve_dir(kh_plat *p, const struct kpath *kp, size_t n,
		       int create, const char *shown, int *out)
{
	char key[PATH_MAX];
	int fd = p->rootfd, own = -1, r;

	if (n == 0) {
		*out = p->rootfd;
		return KH_OK;
	}
	path_key(kp, n, key);
	if ((*out = cache_get(p, key)) >= 0)
		return KH_OK;
	for (size_t i = 0; i < n; i++) {
		r = open_dir_at(fd, kp->comp[i], create, shown, &fd);
		if (own >= 0)
			close(own);
		if (r != KH_OK)
			return r;
		own = fd;
	}
	if ((r = cache_put(p, key, fd)) != KH_OK)
		return r;
	*out = fd;
	return KH_OK;
}

/* Parses a file path and resolves its folder: *dfd borrowed, *name is the
 * last component as given. */
static int resolve_parent(kh_plat *p, const char *path, struct kpath *kp,
			  int *dfd, const char **name)
{
	int r = path_parse(path, kp);

	if (r != KH_OK)
		return r;
	if (kp->n == 0)
		return bad_path(path, "names the root itself");
	*name = kp->comp[kp->n - 1];
	return resolve_dir(p, kp, kp->n - 1, 0, path, dfd);
}

/* ---------- open / close ---------- */

int plat_open(kh_plat **out, const char *root)
{
	kh_plat *p;
	int e;

	*out = NULL;
	if (!root) {
		kh_seterr("live mode needs Windows; on Linux use --root DIR");
		return KH_ERR_USAGE;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->root = strdup(root))) {
		free(p);
		return KH_ERR_NOMEM;
	}
	p->lockfd = -1;
	for (size_t i = 0; i < NCACHE; i++)
		p->cache[i].fd = -1;
	p->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->rootfd < 0) {
		e = errno;
		free(p->root);
		free(p);
		if (e == ENOTDIR) {
			kh_seterr("root %s: not a folder", root);
			return KH_ERR_USAGE;
		}
		return fail(e, "root", root);
	}
	*out = p;
	return KH_OK;
}

void plat_close(kh_plat *p)
{
	if (!p)
		return;
	plat_unlock(p);
	cache_flush(p);
	close(p->rootfd);
	free(p->root);
	free(p);
}

int plat_is_offline(const kh_plat *p) { return 1; }

char *plat_self_dir(void)
{
	char buf[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')))
		*slash = '\0';
	return strdup(buf);
}

/* ---------- files ---------- */

static enum kh_ftype ftype_of(mode_t m)
{
	if (S_ISREG(m))
		return KH_FT_FILE;
	if (S_ISDIR(m))
		return KH_FT_DIR;
	if (S_ISLNK(m))
		return KH_FT_LINK;
	return KH_FT_OTHER;
}

static void fill_ent(struct kh_dirent *e, const struct stat *st)
{
	e->type = ftype_of(st->st_mode);
	e->size = (uint64_t)st->st_size;
	e->mtime = (int64_t)st->st_mtime;
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kh_dirent *)a)->name,
		      ((const struct kh_dirent *)b)->name);
}

void plat_free_list(struct kh_dirent *ents, size_t n)
{
	for (size_t i = 0; ents && i < n; i++)
		free(ents[i].name);
	free(ents);
}

/* Appends one entry, growing the array. */
static int list_add(struct kh_dirent **ents, size_t *n, size_t *cap,
		    const char *name, const struct stat *st)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct kh_dirent *ne = realloc(*ents, nc * sizeof(*ne));

		if (!ne)
			return KH_ERR_NOMEM;
		*ents = ne;
		*cap = nc;
	}
	if (!((*ents)[*n].name = strdup(name)))
		return KH_ERR_NOMEM;
	fill_ent(&(*ents)[*n], st);
	(*n)++;
	return KH_OK;
}

static int list_fd(int dfd, const char *shown, struct kh_dirent **ents,
		   size_t *n)
{
	struct kh_dirent *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *d;
	struct stat st;
	DIR *dir;
	int fd, r = KH_OK;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(errno, "cannot list", shown);
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return fail(errno, "cannot list", shown);
	}
	while (r == KH_OK && (d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)   /* vanished meanwhile: skip */
				r = fail(errno, "cannot stat an entry of", shown);
			continue;
		}
		r = list_add(&v, &cnt, &cap, d->d_name, &st);
	}
	closedir(dir);
	if (r != KH_OK) {
		plat_free_list(v, cnt);
		return r;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), ent_cmp);
	*ents = v;
	*n = cnt;
	return KH_OK;
}

int plat_list(kh_plat *p, const char *dir, struct kh_dirent **ents, size_t *n)
{
	struct kpath kp;
	int dfd, r;

	*ents = NULL;
	*n = 0;
	if ((r = path_parse(dir, &kp)) != KH_OK)
		return r;
	if ((r = resolve_dir(p, &kp, kp.n, 0, dir, &dfd)) != KH_OK)
		return r;
	return list_fd(dfd, dir, ents, n);
}

/* st->name is left NULL: the caller owns nothing. */
int plat_stat(kh_plat *p, const char *path, struct kh_dirent *st)
{
	char disk[NAME_MAX + 1];
	const char *name;
	struct kpath kp;
	struct stat s;
	int dfd, r;

	memset(st, 0, sizeof(*st));
	if ((r = path_parse(path, &kp)) != KH_OK)
		return r;
	if (kp.n == 0) {
		if (fstat(p->rootfd, &s) < 0)
			return fail(errno, "cannot stat", p->root);
		fill_ent(st, &s);
		return KH_OK;
	}
	if ((r = resolve_parent(p, path, &kp, &dfd, &name)) != KH_OK)
		return r;
	if ((r = find_entry(dfd, name, disk, path)) != KH_OK)
		return r;
	if (fstatat(dfd, disk, &s, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(errno, "cannot stat", path);
	fill_ent(st, &s);
	return KH_OK;
}

/* Opens an existing file (case-insensitively) without following a link
 * and without blocking on a FIFO. */
static int open_file(int dfd, const char *name, int flags, const char *shown,
		     int *out)
{
	char disk[NAME_MAX + 1];
	int r;

	flags |= O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	if ((*out = openat(dfd, name, flags)) >= 0)
		return KH_OK;
	if (errno != ENOENT)
		return fail(errno == ENXIO ? ELOOP : errno, "cannot open", shown);
	if ((r = match_name(dfd, name, disk, shown)) != KH_OK)
		return r;
	if ((*out = openat(dfd, disk, flags)) < 0)
		return fail(errno == ENXIO ? ELOOP : errno, "cannot open", shown);
	return KH_OK;
}

static int not_regular(const char *path)
{
	kh_seterr("%s: refused: not a regular file", path);
	return KH_ERR_UNSAFE;
}

static int too_big(const char *path, size_t max)
{
	kh_seterr("%s: larger than %zu bytes, not read", path, max);
	return KH_ERR_TOOBIG;
}

/* Reads fd to EOF; hint is the size fstat reported (the file may change). */
static int read_all(int fd, size_t hint, size_t max, const char *path,
		    unsigned char **buf, size_t *len)
{
	size_t cap = hint < max ? hint + 1 : max + 1, n = 0;
	unsigned char *b = malloc(cap + 1), *nb;

	if (!b)
		return KH_ERR_NOMEM;
	for (;;) {
		ssize_t got = read(fd, b + n, cap - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			free(b);
			return fail(errno, "cannot read", path);
		}
		if (got == 0)
			break;
		if ((n += (size_t)got) > max) {
			free(b);
			return too_big(path, max);
		}
		if (n == cap) {
			cap = cap > max / 2 ? max + 1 : cap * 2;
			if (!(nb = realloc(b, cap + 1))) {
				free(b);
				return KH_ERR_NOMEM;
			}
			b = nb;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return KH_OK;
}

int plat_read(kh_plat *p, const char *path, size_t max, unsigned char **buf,
	      size_t *len)
{
	const char *name;
	struct kpath kp;
	struct stat st;
	int dfd, fd, r;

	*buf = NULL;
	*len = 0;
	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	if ((r = resolve_parent(p, path, &kp, &dfd, &name)) != KH_OK)
		return r;
	if ((r = open_file(dfd, name, O_RDONLY, path, &fd)) != KH_OK)
		return r;
	if (fstat(fd, &st) < 0)
		r = fail(errno, "cannot stat", path);
	else if (!S_ISREG(st.st_mode))
		r = not_regular(path);
	else if ((uint64_t)st.st_size > max)
		r = too_big(path, max);
	else
		r = read_all(fd, (size_t)st.st_size, max, path, buf, len);
	close(fd);
	return r;
}

static int write_all(int fd, const void *buf, size_t len, const char *path)
{
	const unsigned char *b = buf;

	while (len > 0) {
		ssize_t w = write(fd, b, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return fail(errno, "cannot write", path);
		b += w;
		len -= (size_t)w;
	}
	return KH_OK;
}

/* Name to create or replace in dfd: an existing case-insensitive match
 * (which must be a regular file), else the given spelling.  *exists tells. */
static int target_name(int dfd, const char *name, const char *path,
		       char out[NAME_MAX + 1], int *exists)
{
	struct stat st;
	int r = find_entry(dfd, name, out, path);

	*exists = 0;
	if (r == KH_ERR_NOENT) {
		set_name(out, name);
		return KH_OK;
	}
	if (r != KH_OK)
		return r;
	if (fstatat(dfd, out, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(errno, "cannot stat", path);
	if (!S_ISREG(st.st_mode))
		return not_regular(path);
	*exists = 1;
	return KH_OK;
}

/* Creates dfd/tmp exclusively (removing a stale one left by a crash). */
static int create_temp(int dfd, const char *tmp, const char *path, int *out)
{
	const int fl = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;

	*out = openat(dfd, tmp, fl, 0644);
	if (*out < 0 && errno == EEXIST && unlinkat(dfd, tmp, 0) == 0)
		*out = openat(dfd, tmp, fl, 0644);
	if (*out < 0)
		return fail(errno, "cannot create temp file for", path);
	return KH_OK;
}

static int write_temp(int dfd, const char *tmp, const void *buf, size_t len,
		      const char *path, int durable)
{
	int fd, r;

	if ((r = create_temp(dfd, tmp, path, &fd)) != KH_OK)
		return r;
	r = write_all(fd, buf, len, path);
	if (r == KH_OK && durable && fsync(fd) < 0)
		r = fail(errno, "cannot flush", path);
	if (close(fd) < 0 && r == KH_OK)
		r = fail(errno, "cannot close", path);
	return r;
}

static int write_replace(kh_plat *p, const char *path, const void *buf, size_t len,
			 int durable)
{
	char disk[NAME_MAX + 1], tmp[NAME_MAX + 1];
	const char *name;
	struct kpath kp;
	int dfd, exists, r;

	if ((r = resolve_parent(p, path, &kp, &dfd, &name)) != KH_OK)
		return r;
	if ((r = target_name(dfd, name, path, disk, &exists)) != KH_OK)
		return r;
	if ((r = kh_temp_name(tmp, sizeof(tmp), disk, (long)getpid())) != KH_OK)
		return r;
	if ((r = write_temp(dfd, tmp, buf, len, path, durable)) != KH_OK)
		goto fail;
	if (renameat(dfd, tmp, dfd, disk) < 0) {
		r = fail(errno, "cannot replace", path);
		goto fail;
	}
	return durable ? fsync_dir(dfd, path) : KH_OK;
fail:
	unlinkat(dfd, tmp, 0);
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
	const int fl = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
		       O_NOCTTY | O_CLOEXEC;
	char disk[NAME_MAX + 1];
	const char *name;
	struct kpath kp;
	struct stat st;
	int dfd, fd, exists, r;

	if ((r = resolve_parent(p, path, &kp, &dfd, &name)) != KH_OK)
		return r;
	if ((r = target_name(dfd, name, path, disk, &exists)) != KH_OK)
		return r;
	if ((fd = openat(dfd, disk, fl, 0644)) < 0)
		return fail(errno, "cannot open", path);
	if (fstat(fd, &st) < 0)
		r = fail(errno, "cannot stat", path);
	else if (!S_ISREG(st.st_mode))
		r = not_regular(path);
	else
		r = write_all(fd, buf, len, path);
	if (r == KH_OK && fsync(fd) < 0)
		r = fail(errno, "cannot flush", path);
	if (close(fd) < 0 && r == KH_OK)
		r = fail(errno, "cannot close", path);
	if (r == KH_OK && !exists)
		r = fsync_dir(dfd, path);
	return r;
}

int plat_mkdirs(kh_plat *p, const char *dir)
{
	struct kpath kp;
	int dfd, r;

	if ((r = path_parse(dir, &kp)) != KH_OK)
		return r;
	return resolve_dir(p, &kp, kp.n, 1, dir, &dfd);
}

/* Source side of a rename: the entry (case-insensitive) and whether it is
 * a folder. */
static int rename_source(int dfd, const char *name, const char *path,
			 char disk[NAME_MAX + 1], int *isdir)
{
	struct stat st;
	int r = find_entry(dfd, name, disk, path);

	if (r != KH_OK)
		return r;
	if (fstatat(dfd, disk, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(errno, "cannot stat", path);
	*isdir = S_ISDIR(st.st_mode);
	return KH_OK;
}

static int exists_err(const char *to)
{
	kh_seterr("%s: already exists, not replaced", to);
	return KH_ERR_EXISTS;
}

/* Destination side: a case-insensitive match is "exists", unless it is
 * the source itself (a change of case only). */
static int rename_target(int sfd, const char *sdisk, int dfd, const char *name,
			 const char *to)
{
	char disk[NAME_MAX + 1];
	struct stat a, b;
	int r = find_entry(dfd, name, disk, to);

	if (r == KH_ERR_NOENT)
		return KH_OK;
	if (r != KH_OK)
		return r;
	if (strcmp(disk, sdisk) == 0 && fstat(sfd, &a) == 0 &&
	    fstat(dfd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
	    strcmp(disk, name) != 0)
		return KH_OK;
	return exists_err(to);
}

static int do_rename(int sfd, const char *sdisk, int dfd, const char *dname,
		     const char *from, const char *to)
{
	struct stat st;

	if (renameat2(sfd, sdisk, dfd, dname, RENAME_NOREPLACE) == 0)
		return KH_OK;
	if (errno == EEXIST)
		return exists_err(to);
	if (errno != EINVAL && errno != ENOSYS)
		return fail(errno, "cannot rename", from);
	if (fstatat(dfd, dname, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return exists_err(to);
	if (renameat(sfd, sdisk, dfd, dname) < 0)
		return fail(errno, "cannot rename", from);
	return KH_OK;
}

int plat_rename(kh_plat *p, const char *from, const char *to)
{
	char sdisk[NAME_MAX + 1];
	const char *sname, *dname;
	struct kpath skp, dkp;
	int sfd, dfd, isdir = 0, r;

	if ((r = resolve_parent(p, from, &skp, &sfd, &sname)) != KH_OK)
		return r;
	if ((r = rename_source(sfd, sname, from, sdisk, &isdir)) != KH_OK)
		return r;
	if ((sfd = fcntl(sfd, F_DUPFD_CLOEXEC, 0)) < 0)  /* survive eviction */
		return fail(errno, "cannot open folder of", from);
	if ((r = resolve_parent(p, to, &dkp, &dfd, &dname)) != KH_OK)
		goto out;
	if ((r = rename_target(sfd, sdisk, dfd, dname, to)) != KH_OK)
		goto out;
	if ((r = do_rename(sfd, sdisk, dfd, dname, from, to)) != KH_OK)
		goto out;
	if ((r = fsync_dir(sfd, from)) == KH_OK)
		r = fsync_dir(dfd, to);
out:
	close(sfd);
	if (isdir)
		cache_flush(p);
	return r;
}

int plat_remove(kh_plat *p, const char *path)
{
	char disk[NAME_MAX + 1];
	const char *name;
	struct kpath kp;
	struct stat st;
	int dfd, r;

	if ((r = resolve_parent(p, path, &kp, &dfd, &name)) != KH_OK)
		return r;
	if ((r = find_entry(dfd, name, disk, path)) != KH_OK)
		return r;
	if (fstatat(dfd, disk, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(errno, "cannot stat", path);
	if (S_ISREG(st.st_mode)) {
		if (unlinkat(dfd, disk, 0) < 0)
			return fail(errno, "cannot remove", path);
		return KH_OK;
	}
	if (!S_ISDIR(st.st_mode))
		return not_regular(path);
	if (unlinkat(dfd, disk, AT_REMOVEDIR) < 0) {
		if (errno == ENOTEMPTY || errno == EEXIST) {
			kh_seterr("%s: refused: folder not empty", path);
			return KH_ERR_UNSAFE;
		}
		return fail(errno, "cannot remove", path);
	}
	cache_flush(p);
	return KH_OK;
}

/* Creates and removes a probe file in folder dfd. */
static int probe(int dfd, const char *shown)
{
	char name[64];
	int fd, n;

	n = snprintf(name, sizeof(name), ".khreset.probe.%ld", (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(name))
		return KH_ERR_IO;
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && unlinkat(dfd, name, 0) == 0)
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;

		kh_seterr("%s is not writable: %s", shown, strerror(e));
		return err_of(e) == KH_ERR_PERM ? KH_ERR_PERM : KH_ERR_IO;
	}
	close(fd);
	if (unlinkat(dfd, name, 0) < 0)
		return fail(errno, "cannot remove probe file in", shown);
	return KH_OK;
}

/* The root, and the state folder when it exists. */
int plat_writable(kh_plat *p)
{
	struct kpath kp;
	int r, dfd;

	if ((r = probe(p->rootfd, p->root)) != KH_OK)
		return r;
	if (path_parse("ProgramData/khreset", &kp) != KH_OK ||
	    resolve_dir(p, &kp, kp.n, 0, "ProgramData/khreset", &dfd) != KH_OK) {
		kh_clearerr();
		return KH_OK;
	}
	return probe(dfd, "ProgramData/khreset");
}

/* ---------- registry ---------- */

enum { HIVE_SYSTEM, HIVE_SOFTWARE, NHIVES };
static const char *const hive_file[NHIVES] = { "SYSTEM", "SOFTWARE" };

struct hive {
	hive_h *h;
	int dfd;                    /* config folder, owned */
	int idx;
	char disk[NAME_MAX + 1];    /* on-disk name of the hive file */
	char shown[64];             /* "Windows/System32/config/SYSTEM" */
	char tmp[NAME_MAX + 1];     /* written, not yet renamed: "" when none */
};

/* "HKLM\SYSTEM\a\b" -> HIVE_SYSTEM, "a\b". */
static int reg_split(const char *key, int *idx, const char **sub)
{
	static const char *const roots[] = { "HKLM\\", "HKEY_LOCAL_MACHINE\\" };

	for (size_t i = 0; i < 2; i++) {
		size_t rl = strlen(roots[i]);

		if (strncasecmp(key, roots[i], rl) != 0)
			continue;
		for (int h = 0; h < NHIVES; h++) {
			size_t hl = strlen(hive_file[h]);
			const char *s = key + rl;

			if (strncasecmp(s, hive_file[h], hl) == 0 &&
			    (s[hl] == '\0' || s[hl] == '\\')) {
				*idx = h;
				*sub = s[hl] ? s + hl + 1 : s + hl;
				return KH_OK;
			}
		}
	}
	kh_seterr("registry key %s: only HKLM\\SYSTEM and HKLM\\SOFTWARE are "
		  "supported", key);
	return KH_ERR_USAGE;
}

static int hive_missing(const struct hive *hv)
{
	kh_seterr("registry hive %s: not found", hv->shown);
	return KH_ERR_HIVE;
}

/* Closes the hive; a temp file not renamed into place is removed. */
static void hive_close(struct hive *hv)
{
	if (hv->tmp[0] && hv->dfd >= 0)
		unlinkat(hv->dfd, hv->tmp, 0);
	hv->tmp[0] = '\0';
	if (hv->h)
		hivex_close(hv->h);
	if (hv->dfd >= 0)
		close(hv->dfd);
	hv->h = NULL;
	hv->dfd = -1;
}

/* Opens the hive file found safely under the root (case-insensitively). */
static int hive_open(kh_plat *p, int idx, int write, struct hive *hv)
{
	char proc[32];
	struct kpath kp;
	struct stat st;
	int dfd, fd = -1, r, n;

	memset(hv, 0, sizeof(*hv));
	hv->dfd = -1;
	hv->idx = idx;
	n = snprintf(hv->shown, sizeof(hv->shown), "%s/%s", CONFIG_DIR,
		     hive_file[idx]);
	if (n < 0 || (size_t)n >= sizeof(hv->shown))
		return KH_ERR_IO;
	if ((r = path_parse(CONFIG_DIR, &kp)) != KH_OK)
		return r;
	r = resolve_dir(p, &kp, kp.n, 0, hv->shown, &dfd);
	if (r == KH_ERR_NOENT)
		return hive_missing(hv);
	if (r != KH_OK)
		return r;
	if ((hv->dfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return fail(errno, "cannot open folder of", hv->shown);
	r = find_entry(hv->dfd, hive_file[idx], hv->disk, hv->shown);
	if (r == KH_OK)
		r = open_file(hv->dfd, hv->disk, O_RDONLY, hv->shown, &fd);
	if (r == KH_ERR_NOENT)
		r = hive_missing(hv);
	if (r != KH_OK)
		goto fail;
	if (fstat(fd, &st) < 0) {
		r = fail(errno, "cannot stat", hv->shown);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = not_regular(hv->shown);
		goto fail;
	}
	fd_path(proc, fd);
	if (!(hv->h = hivex_open(proc, write ? HIVEX_OPEN_WRITE : 0))) {
		kh_seterr("registry hive %s: corrupt or unreadable (%s)",
			  hv->shown, strerror(errno));
		r = KH_ERR_HIVE;
		goto fail;
	}
	close(fd);
	return KH_OK;
fail:
	if (fd >= 0)
		close(fd);
	hive_close(hv);
	return r;
}

/* Writes the hive whole to an exclusive temp file beside it and flushes
 * it; hive_install renames it into place. */
static int hive_write_temp(struct hive *hv)
{
	char tmp[NAME_MAX + 1], proc[32];
	int fd, r;

	if ((r = kh_temp_name(tmp, sizeof(tmp), hv->disk, (long)getpid())) != KH_OK)
		return r;
	if ((r = create_temp(hv->dfd, tmp, hv->shown, &fd)) != KH_OK)
		return r;
	memcpy(hv->tmp, tmp, sizeof(tmp));
	fd_path(proc, fd);
	if (hivex_commit(hv->h, proc, 0) < 0)
		r = fail(errno, "cannot write registry hive", hv->shown);
	else if (fsync(fd) < 0)
		r = fail(errno, "cannot flush registry hive", hv->shown);
	if (close(fd) < 0 && r == KH_OK)
		r = fail(errno, "cannot close registry hive", hv->shown);
	return r;
}

static int hive_install(struct hive *hv)
{
	if (renameat(hv->dfd, hv->tmp, hv->dfd, hv->disk) < 0)
		return fail(errno, "cannot replace registry hive", hv->shown);
	hv->tmp[0] = '\0';
	return fsync_dir(hv->dfd, hv->shown);
}

/* Walks sub ("a\b\c") from the root key, creating missing keys if asked. */
static int key_find(struct hive *hv, const char *key, const char *sub,
		    int create, hive_node_h *out)
{
	hive_node_h node = hivex_root(hv->h), child;
	char part[256];

	while (node && *sub) {
		size_t l = strcspn(sub, "\\");

		if (l >= sizeof(part)) {
			kh_seterr("registry key %s: name too long", key);
			return KH_ERR_USAGE;
		}
		memcpy(part, sub, l);
		part[l] = '\0';
		sub += l + (sub[l] == '\\');
		if (l == 0)
			continue;
		errno = 0;
		child = hivex_node_get_child(hv->h, node, part);
		if (!child && errno) {
			kh_seterr("registry hive %s: corrupt at key %s (%s)",
				  hv->shown, key, strerror(errno));
			return KH_ERR_HIVE;
		}
		if (!child && create)
			child = hivex_node_add_child(hv->h, node, part);
		if (!child && create) {
			kh_seterr("registry hive %s: cannot create key %s (%s)",
				  hv->shown, key, strerror(errno));
			return KH_ERR_HIVE;
		}
		if (!child) {
			kh_seterr("registry key %s: not found", key);
			return KH_ERR_NOENT;
		}
		node = child;
	}
	if (!node) {
		kh_seterr("registry hive %s: no root key", hv->shown);
		return KH_ERR_HIVE;
	}
	*out = node;
	return KH_OK;
}

/* Reads a value as text.  KH_ERR_NOENT when absent; KH_ERR_DATA for types
 * other than REG_SZ, REG_EXPAND_SZ and REG_DWORD. */
static int val_get(struct hive *hv, hive_node_h node, const char *key,
		   const char *name, enum kh_regtype *type, char **out)
{
	hive_value_h v;
	hive_type t;
	size_t len;

	*out = NULL;
	errno = 0;
	v = hivex_node_get_value(hv->h, node, name);
	if (!v) {
		kh_seterr("registry value %s\\%s: not found", key, name);
		return errno ? KH_ERR_HIVE : KH_ERR_NOENT;
	}
	if (hivex_value_type(hv->h, v, &t, &len) < 0)
		goto corrupt;
	if (t == hive_t_REG_SZ || t == hive_t_REG_EXPAND_SZ) {
		*type = t == hive_t_REG_SZ ? KH_REG_SZ : KH_REG_EXPAND_SZ;
		if (!(*out = hivex_value_string(hv->h, v)))
			goto corrupt;
		return KH_OK;
	}
	if (t == hive_t_REG_DWORD && len == 4) {
		*type = KH_REG_DWORD;
		errno = 0;
		uint32_t d = (uint32_t)hivex_value_dword(hv->h, v);
		if (errno)
			goto corrupt;
		*out = kh_asprintf("%u", d);
		return *out ? KH_OK : KH_ERR_NOMEM;
	}
	kh_seterr("registry value %s\\%s: unsupported type %d", key, name, (int)t);
	return KH_ERR_DATA;
corrupt:
	kh_seterr("registry value %s\\%s: unreadable (%s)", key, name,
		  strerror(errno));
	return KH_ERR_HIVE;
}

int plat_reg_get(kh_plat *p, const char *key, const char *name, char **out)
{
	enum kh_regtype type;
	struct hive hv;
	hive_node_h node;
	const char *sub;
	int idx, r;

	*out = NULL;
	if ((r = reg_split(key, &idx, &sub)) != KH_OK)
		return r;
	if ((r = hive_open(p, idx, 0, &hv)) != KH_OK)
		return r;
	if ((r = key_find(&hv, key, sub, 0, &node)) == KH_OK)
		r = val_get(&hv, node, key, name, &type, out);
	hive_close(&hv);
	return r;
}

/* Value data in registry form: UTF-16LE with NUL, or a 4-byte DWORD. */
struct encoded {
	char *data;
	size_t len;
	hive_type t;
};

static int utf16(const char *s, struct encoded *e)
{
	size_t inl = strlen(s), outl = inl * 4 + 2, cap = outl;
	char *in = (char *)s, *o;
	iconv_t cd = iconv_open("UTF-16LE", "UTF-8");
	int r = KH_OK;

	if (cd == (iconv_t)-1)
		return fail(errno, "iconv", "UTF-8 to UTF-16LE");
	if (!(e->data = o = malloc(cap))) {
		iconv_close(cd);
		return KH_ERR_NOMEM;
	}
	if (iconv(cd, &in, &inl, &o, &outl) == (size_t)-1 || outl < 2) {
		kh_seterr("registry data \"%s\": not valid UTF-8", s);
		r = KH_ERR_CONFIG;
	} else {
		*o++ = 0;
		*o++ = 0;
		e->len = (size_t)(o - e->data);
	}
	iconv_close(cd);
	return r;
}

static int parse_dword(const char *s, uint32_t *out)
{
	unsigned long long v;
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *d = hex ? s + 2 : s;
	char *end;

	if (!(hex ? isxdigit((unsigned char)*d) : isdigit((unsigned char)*d)))
		goto bad;
	errno = 0;
	v = strtoull(d, &end, hex ? 16 : 10);
	if (errno || *end || v > 0xffffffffULL)
		goto bad;
	*out = (uint32_t)v;
	return KH_OK;
bad:
	kh_seterr("REG_DWORD data \"%s\": not a decimal or 0x-hex 32-bit number", s);
	return KH_ERR_CONFIG;
}

static int encode(const struct kh_regval *v, struct encoded *e)
{
	uint32_t d;
	int r;

	memset(e, 0, sizeof(*e));
	if (!v->key || !v->name || !v->data) {
		kh_seterr("registry value: key, name and data are required");
		return KH_ERR_CONFIG;
	}
	switch (v->type) {
	case KH_REG_SZ:
	case KH_REG_EXPAND_SZ:
		e->t = v->type == KH_REG_SZ ? hive_t_REG_SZ : hive_t_REG_EXPAND_SZ;
		return utf16(v->data, e);
	case KH_REG_DWORD:
		if ((r = parse_dword(v->data, &d)) != KH_OK)
			return r;
		if (!(e->data = malloc(4)))
			return KH_ERR_NOMEM;
		for (int i = 0; i < 4; i++)
			e->data[i] = (char)((d >> (8 * i)) & 0xff);
		e->len = 4;
		e->t = hive_t_REG_DWORD;
		return KH_OK;
	}
	kh_seterr("registry value %s\\%s: unsupported type %d", v->key, v->name,
		  (int)v->type);
	return KH_ERR_CONFIG;
}

/* Deletes value name from node by rewriting the node's value list. */
static int val_delete(struct hive *hv, hive_node_h node, const char *key,
		      const char *name)
{
	hive_value_h *vs = hivex_node_values(hv->h, node);
	hive_set_value *set = NULL;
	size_t cnt = 0, k = 0;
	int r = KH_OK;

	if (!vs)
		goto corrupt;
	while (vs[cnt])
		cnt++;
	if (cnt && !(set = calloc(cnt, sizeof(*set)))) {
		free(vs);
		return KH_ERR_NOMEM;
	}
	for (size_t i = 0; i < cnt && r == KH_OK; i++) {
		char *vk = hivex_value_key(hv->h, vs[i]);

		if (!vk) {
			r = KH_ERR_HIVE;
		} else if (kh_strcasecmp(vk, name) == 0) {
			free(vk);
		} else {
			set[k].key = vk;
			set[k].value = hivex_value_value(hv->h, vs[i], &set[k].t,
							 &set[k].len);
			r = set[k++].value ? KH_OK : KH_ERR_HIVE;
		}
	}
	if (r == KH_OK && k != cnt &&
	    hivex_node_set_values(hv->h, node, k, set, 0) < 0)
		r = KH_ERR_HIVE;
	for (size_t i = 0; i < k; i++) {
		free(set[i].key);
		free(set[i].value);
	}
	free(set);
	free(vs);
	if (r == KH_OK)
		return KH_OK;
corrupt:
	kh_seterr("registry hive %s: cannot delete %s\\%s (%s)", hv->shown, key,
		  name, strerror(errno));
	return KH_ERR_HIVE;
}

static int val_set(struct hive *hv, hive_node_h node, const struct kh_regval *v)
{
	struct encoded e;
	hive_set_value sv;
	int r;

	if ((r = encode(v, &e)) != KH_OK)
		goto out;
	sv.key = v->name;
	sv.t = e.t;
	sv.len = e.len;
	sv.value = e.data;
	if (hivex_node_set_value(hv->h, node, &sv, 0) < 0) {
		kh_seterr("registry hive %s: cannot set %s\\%s (%s)", hv->shown,
			  v->key, v->name, strerror(errno));
		r = KH_ERR_HIVE;
	}
out:
	free(e.data);
	return r;
}

/* Applies one value (data NULL: delete) in an open hive. */
static int apply(struct hive *hv, const struct kh_regval *v)
{
	const char *sub;
	hive_node_h node;
	int idx, r;

	if ((r = reg_split(v->key, &idx, &sub)) != KH_OK)
		return r;
	if (!v->data) {
		r = key_find(hv, v->key, sub, 0, &node);
		if (r == KH_ERR_NOENT)
			return KH_OK;
		return r == KH_OK ? val_delete(hv, node, v->key, v->name) : r;
	}
	if ((r = key_find(hv, v->key, sub, 1, &node)) != KH_OK)
		return r;
	return val_set(hv, node, v);
}

static int hive_of(const struct kh_regval *v)
{
	const char *sub;
	int idx;

	if (!v->key)
		return -1;
	return reg_split(v->key, &idx, &sub) == KH_OK ? idx : -1;
}

/* One hive: opened for writing, vals that name it applied in order
 * (reverse: last first), written to its temp file. */
static int hive_stage(kh_plat *p, int idx, const struct kh_regval *vals,
		      size_t n, int reverse, struct hive *hv)
{
	int r;

	if ((r = hive_open(p, idx, 1, hv)) != KH_OK)
		return r;
	for (size_t k = 0; k < n && r == KH_OK; k++) {
		size_t i = reverse ? n - 1 - k : k;

		if (hive_of(&vals[i]) == idx)
			r = apply(hv, &vals[i]);
	}
	return r == KH_OK ? hive_write_temp(hv) : r;
}

static int hive_used(const struct kh_regval *vals, size_t n, int idx)
{
	for (size_t i = 0; i < n; i++)
		if (hive_of(&vals[i]) == idx)
			return 1;
	return 0;
}

/* Checks every value before anything is written. */
static int reg_validate(const struct kh_regval *vals, size_t n)
{
	struct encoded e;
	const char *sub;
	int idx, r;

	for (size_t i = 0; i < n; i++) {
		if ((r = encode(&vals[i], &e)) != KH_OK)
			return r;
		free(e.data);
		if ((r = reg_split(vals[i].key, &idx, &sub)) != KH_OK)
			return r;
	}
	return KH_OK;
}

/* Every hive vals name is staged before any is renamed into place, so a
 * failure to open, change or write one changes none.  Only a failed
 * rename after another succeeded (same folder: not expected) leaves the
 * hives apart. */
static int reg_change(kh_plat *p, const struct kh_regval *vals, size_t n,
		      int reverse)
{
	struct hive hv[NHIVES];
	int h, r = KH_OK;

	for (h = 0; h < NHIVES; h++) {
		memset(&hv[h], 0, sizeof(hv[h]));
		hv[h].dfd = -1;
	}
	for (h = 0; h < NHIVES && r == KH_OK; h++)
		if (hive_used(vals, n, h))
			r = hive_stage(p, h, vals, n, reverse, &hv[h]);
	for (h = 0; h < NHIVES && r == KH_OK; h++)
		if (hv[h].tmp[0])
			r = hive_install(&hv[h]);
	for (h = 0; h < NHIVES; h++)
		hive_close(&hv[h]);
	return r;
}

int plat_reg_set(kh_plat *p, const struct kh_regval *vals, size_t n)
{
	int r = reg_validate(vals, n);

	return r == KH_OK ? reg_change(p, vals, n, 0) : r;
}

int plat_reg_undo(kh_plat *p, const struct kh_regval *old, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!old[i].key || !old[i].name || hive_of(&old[i]) < 0) {
			kh_seterr("registry undo: entry %zu names no HKLM\\SYSTEM or "
				  "HKLM\\SOFTWARE value", i);
			return KH_ERR_USAGE;
		}
	return reg_change(p, old, n, 1);
}

void plat_free_regvals(struct kh_regval *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].key);
		free(v[i].name);
		free(v[i].data);
	}
	free(v);
}

/* ---------- Source OS entries ---------- */

/* Windows FILETIME (100 ns since 1601) to Unix seconds; 0 if unusable. */
static int64_t from_filetime(int64_t ft)
{
	int64_t t = ft / 10000000 - INT64_C(11644473600);

	return ft > 0 && t > 0 ? t : 0;
}

/* A value as text, NULL when missing or unreadable. */
static char *val_text(struct hive *hv, hive_node_h node, const char *key,
		      const char *name)
{
	enum kh_regtype type;
	char *s = NULL;

	if (val_get(hv, node, key, name, &type, &s) != KH_OK) {
		free(s);
		return NULL;
	}
	return s;
}

static void source_os_fill(struct hive *hv, hive_node_h node,
			   struct kh_source_os *e)
{
	e->written = from_filetime(hivex_node_timestamp(hv->h, node));
	e->build = val_text(hv, node, e->key, "CurrentBuild");
	e->product = val_text(hv, node, e->key, "ProductName");
}

static int source_os_scan(struct hive *hv, hive_node_h setup,
			  struct kh_source_os **list, size_t *n)
{
	hive_node_h *ch = hivex_node_children(hv->h, setup);
	struct kh_source_os *v;
	size_t cnt = 0, k = 0;

	if (!ch) {
		kh_seterr("registry hive %s: corrupt at key Setup", hv->shown);
		return KH_ERR_HIVE;
	}
	while (ch[cnt])
		cnt++;
	if (!(v = calloc(cnt ? cnt : 1, sizeof(*v)))) {
		free(ch);
		return KH_ERR_NOMEM;
	}
	for (size_t i = 0; i < cnt; i++) {
		char *name = hivex_node_name(hv->h, ch[i]);

		if (!name || strncasecmp(name, "Source OS", 9) != 0) {
			free(name);
			continue;
		}
		v[k].key = name;
		source_os_fill(hv, ch[i], &v[k++]);
	}
	free(ch);
	kh_clearerr();
	*list = v;
	*n = k;
	return KH_OK;
}

int plat_source_os(kh_plat *p, struct kh_source_os **list, size_t *n)
{
	hive_node_h setup;
	struct hive hv;
	int r;

	*list = NULL;
	*n = 0;
	if ((r = hive_open(p, HIVE_SYSTEM, 0, &hv)) != KH_OK)
		return r;
	r = key_find(&hv, "HKLM\\SYSTEM\\Setup", "Setup", 0, &setup);
	if (r == KH_OK)
		r = source_os_scan(&hv, setup, list, n);
	else if (r == KH_ERR_NOENT) {
		kh_clearerr();
		r = KH_OK;
	}
	hive_close(&hv);
	return r;
}

void plat_free_source_os(struct kh_source_os *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free(list[i].key);
		free(list[i].build);
		free(list[i].product);
	}
	free(list);
}

/* ---------- services, licence, events, lock ---------- */

int plat_service_stop(kh_plat *p, const char *name, int timeout_s)
{
	kh_seterr("offline: service control is deferred to the next boot");
	return KH_ERR_UNSUPPORTED;
}

int plat_service_start(kh_plat *p, const char *name, int timeout_s)
{
	kh_seterr("offline: service control is deferred to the next boot");
	return KH_ERR_UNSUPPORTED;
}

int plat_licence(kh_plat *p, enum kh_licence *st, uint32_t *reason)
{
	*st = KH_LIC_UNKNOWN;
	*reason = 0;
	return KH_OK;
}

int plat_event(kh_plat *p, int id, const char *text) { return KH_OK; }

int plat_lock(kh_plat *p, const char *lockfile)
{
	const int fl = O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
		       O_CLOEXEC;
	char disk[NAME_MAX + 1];
	const char *name;
	struct kpath kp;
	struct stat st;
	int dfd, fd, exists, r;

	if (p->lockfd >= 0) {
		kh_seterr("lock %s: already held by this process", lockfile);
		return KH_ERR_BUSY;
	}
	if ((r = resolve_parent(p, lockfile, &kp, &dfd, &name)) != KH_OK)
		return r;
	if ((r = target_name(dfd, name, lockfile, disk, &exists)) != KH_OK)
		return r;
	if ((fd = openat(dfd, disk, fl, 0644)) < 0)
		return fail(errno, "cannot open lock file", lockfile);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return not_regular(lockfile);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK) {
			kh_seterr("lock %s: another khreset is running", lockfile);
			return KH_ERR_BUSY;
		}
		return fail(e, "cannot lock", lockfile);
	}
	p->lockfd = fd;
	return KH_OK;
}

void plat_unlock(kh_plat *p)
{
	if (p->lockfd < 0)
		return;
	flock(p->lockfd, LOCK_UN);
	close(p->lockfd);
	p->lockfd = -1;
}

/* ---------- the retry task: live only ---------- */

static int no_task(void)
{
	kh_seterr("the retry task exists only on a live Windows system");
	return KH_ERR_UNSUPPORTED;
}

int plat_task_install(kh_plat *p, const struct kh_task *t) { return no_task(); }
int plat_task_remove(kh_plat *p, const char *name) { return no_task(); }

int plat_task_query(kh_plat *p, const char *name, int *exists, char **detail)
{
	*exists = 0;
	*detail = NULL;
	return no_task();
}
