/* files.c - the offline body's files: the safe path walk below the root,
 * reads and atomic writes, moves and removals, and the instance lock.
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
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khreset.h"
#include "offline.h"

/* ---------- errors ---------- */

static int err_of(int e)
{
	switch (e) {
	case ENOENT: return KH_ERR_NOENT;
	case EEXIST: case ENOTEMPTY: return KH_ERR_EXISTS;
	case ELOOP: case ENOTDIR: return KH_ERR_UNSAFE;
	case EROFS: case EACCES: case EPERM: return KH_ERR_PERM;
	case ENOMEM: return KH_ERR_NOMEM;
	case EBUSY: case ETXTBSY: return KH_ERR_INUSE;   /* not yet: the core retries */
	default: return KH_ERR_IO;
	}
}

int off_fail(int e, const char *what, const char *path)
{
	if (e == ELOOP || e == ENOTDIR)
		kh_seterr("%s %s: refused: a symlink or non-folder is on the way (%s)",
			  what, path, strerror(e));
	else if (e == EBUSY || e == ETXTBSY)
		kh_seterr("%s %s: in use (%s)", what, path, strerror(e));
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
int off_path_parse(const char *path, struct kpath *kp)
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

/* Copies an entry name (the kernel and off_path_parse bound it by NAME_MAX). */
static void set_name(char out[NAME_MAX + 1], const char *name)
{
	size_t l = strnlen(name, NAME_MAX);

	memcpy(out, name, l);
	out[l] = '\0';
}

/* Scans folder dfd for a case-insensitive match of name (the strcmp-
 * smallest if several).  KH_ERR_NOENT when none. */
static int match_name(int dfd, const char *name, char out[NAME_MAX + 1],
		      const char *shown)
{
	struct dirent *d;
	DIR *dir;
	int fd, found = 0;

	if (off_names_match(dfd, name, out, &found) == 0) {   /* names.c */
		if (found)
			return KH_OK;
		kh_seterr("%s: %s", shown, strerror(ENOENT));
		return KH_ERR_NOENT;
	}
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return off_fail(errno, "cannot scan folder of", shown);
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return off_fail(errno, "cannot scan folder of", shown);
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
int off_find_entry(int dfd, const char *name, char out[NAME_MAX + 1],
		   const char *shown)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		set_name(out, name);
		return KH_OK;
	}
	if (errno != ENOENT)
		return off_fail(errno, "cannot look up", shown);
	return match_name(dfd, name, out, shown);
}

int off_fsync_dir(int dfd, const char *shown)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = KH_OK;

	if (fd < 0)
		return off_fail(errno, "cannot open folder of", shown);
	if (fsync(fd) < 0 && errno != EINVAL && errno != ENOTSUP)
		r = off_fail(errno, "cannot flush folder of", shown);
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
		return off_fail(errno, "cannot open", shown);
	r = match_name(dfd, name, disk, shown);
	if (r == KH_ERR_NOENT && create) {
		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
			return off_fail(errno, "cannot create", shown);
		if ((r = off_fsync_dir(dfd, shown)) != KH_OK)
			return r;
		set_name(disk, name);
	} else if (r != KH_OK) {
		return r;
	}
	*out = openat(dfd, disk, fl);
	if (*out < 0)
		return off_fail(errno, "cannot open", shown);
	return KH_OK;
}

/* Folder of the first n components (n == 0: the root).  The fd is borrowed
 * from the cache: valid until the next off_resolve_dir or cache flush. */
int off_resolve_dir(kh_plat *p, const struct kpath *kp, size_t n,
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
	int r = off_path_parse(path, kp);

	if (r != KH_OK)
		return r;
	if (kp->n == 0)
		return bad_path(path, "names the root itself");
	*name = kp->comp[kp->n - 1];
	return off_resolve_dir(p, kp, kp->n - 1, 0, path, dfd);
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
		return off_fail(e, "root", root);
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
	(*ents)[*n].err = 0;
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
		return off_fail(errno, "cannot list", shown);
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return off_fail(errno, "cannot list", shown);
	}
	while (r == KH_OK && (d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			int e = errno;

			if (e == ENOENT)       /* vanished meanwhile: skip */
				continue;
			if (e == ENOMEM) {
				r = KH_ERR_NOMEM;
				continue;
			}
			/* cannot be examined: listed, never followed */
			memset(&st, 0, sizeof(st));
			if ((r = list_add(&v, &cnt, &cap, d->d_name, &st)) == KH_OK)
				v[cnt - 1].err = e;
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
	if ((r = off_path_parse(dir, &kp)) != KH_OK)
		return r;
	if ((r = off_resolve_dir(p, &kp, kp.n, 0, dir, &dfd)) != KH_OK)
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
	if ((r = off_path_parse(path, &kp)) != KH_OK)
		return r;
	if (kp.n == 0) {
		if (fstat(p->rootfd, &s) < 0)
			return off_fail(errno, "cannot stat", p->root);
		fill_ent(st, &s);
		return KH_OK;
	}
	if ((r = resolve_parent(p, path, &kp, &dfd, &name)) != KH_OK)
		return r;
	if ((r = off_find_entry(dfd, name, disk, path)) != KH_OK)
		return r;
	if (fstatat(dfd, disk, &s, AT_SYMLINK_NOFOLLOW) < 0)
		return off_fail(errno, "cannot stat", path);
	fill_ent(st, &s);
	return KH_OK;
}

/* Opens an existing file (case-insensitively) without following a link
 * and without blocking on a FIFO. */
int off_open_file(int dfd, const char *name, int flags, const char *shown,
		  int *out)
{
	char disk[NAME_MAX + 1];
	int r;

	flags |= O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	if ((*out = openat(dfd, name, flags)) >= 0)
		return KH_OK;
	if (errno != ENOENT)
		return off_fail(errno == ENXIO ? ELOOP : errno, "cannot open", shown);
	if ((r = match_name(dfd, name, disk, shown)) != KH_OK)
		return r;
	if ((*out = openat(dfd, disk, flags)) < 0)
		return off_fail(errno == ENXIO ? ELOOP : errno, "cannot open", shown);
	return KH_OK;
}

int off_not_regular(const char *path)
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
			return off_fail(errno, "cannot read", path);
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
	if ((r = off_open_file(dfd, name, O_RDONLY, path, &fd)) != KH_OK)
		return r;
	if (fstat(fd, &st) < 0)
		r = off_fail(errno, "cannot stat", path);
	else if (!S_ISREG(st.st_mode))
		r = off_not_regular(path);
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
			return off_fail(errno, "cannot write", path);
		b += w;
		len -= (size_t)w;
	}
	return KH_OK;
}

/* A file we write has one name: another link to it (a hard link planted
 * beside or outside the root) would be written too. */
static int one_link(const struct stat *st, const char *path)
{
	if (st->st_nlink <= 1)
		return KH_OK;
	kh_seterr("%s: refused: it has %lu hard links, so a file elsewhere would be "
		  "written too", path, (unsigned long)st->st_nlink);
	return KH_ERR_UNSAFE;
}

/* Name to create or replace in dfd: an existing case-insensitive match
 * (which must be a regular file of one link), else the given spelling.
 * *exists tells. */
static int target_name(int dfd, const char *name, const char *path,
		       char out[NAME_MAX + 1], int *exists)
{
	struct stat st;
	int r = off_find_entry(dfd, name, out, path);

	*exists = 0;
	if (r == KH_ERR_NOENT) {
		set_name(out, name);
		return KH_OK;
	}
	if (r != KH_OK)
		return r;
	if (fstatat(dfd, out, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return off_fail(errno, "cannot stat", path);
	if (!S_ISREG(st.st_mode))
		return off_not_regular(path);
	*exists = 1;
	return one_link(&st, path);
}

/* Creates dfd/tmp exclusively (removing a stale one left by a crash). */
int off_create_temp(int dfd, const char *tmp, const char *path, int *out)
{
	const int fl = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;

	*out = openat(dfd, tmp, fl, 0644);
	if (*out < 0 && errno == EEXIST && unlinkat(dfd, tmp, 0) == 0)
		*out = openat(dfd, tmp, fl, 0644);
	if (*out < 0)
		return off_fail(errno, "cannot create temp file for", path);
	return KH_OK;
}

/* The put of plat_write_stream: each piece straight to the temp file. */
struct temp_out {
	int fd;
	const char *path;
};

static int put_fd(void *ctx, const void *buf, size_t len)
{
	const struct temp_out *t = ctx;

	return write_all(t->fd, buf, len, t->path);
}

static int write_temp(int dfd, const char *tmp, kh_fill_fn fill, void *ud,
		      const char *path, int durable)
{
	struct temp_out t = { .path = path };
	int r;

	if ((r = off_create_temp(dfd, tmp, path, &t.fd)) != KH_OK)
		return r;
	r = fill(put_fd, &t, ud);
	if (r == KH_OK && durable && fsync(t.fd) < 0)
		r = off_fail(errno, "cannot flush", path);
	if (close(t.fd) < 0 && r == KH_OK)
		r = off_fail(errno, "cannot close", path);
	return r;
}

int plat_write_stream(kh_plat *p, const char *path, int durable, kh_fill_fn fill, void *ud)
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
	if ((r = write_temp(dfd, tmp, fill, ud, path, durable)) != KH_OK)
		goto fail;
	if (renameat(dfd, tmp, dfd, disk) < 0) {
		r = off_fail(errno, "cannot replace", path);
		goto fail;
	}
	return durable ? off_fsync_dir(dfd, path) : KH_OK;
fail:
	unlinkat(dfd, tmp, 0);
	return r;
}

/* The fill of a write whose content is one buffer. */
struct whole {
	const void *buf;
	size_t len;
};

static int fill_whole(kh_put_fn put, void *put_ctx, void *ud)
{
	const struct whole *w = ud;

	return put(put_ctx, w->buf, w->len);
}

int plat_write_atomic(kh_plat *p, const char *path, const void *buf, size_t len)
{
	struct whole w = { buf, len };

	return plat_write_stream(p, path, 1, fill_whole, &w);
}

int plat_write_replace(kh_plat *p, const char *path, const void *buf, size_t len)
{
	struct whole w = { buf, len };

	return plat_write_stream(p, path, 0, fill_whole, &w);
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
		return off_fail(errno, "cannot open", path);
	if (fstat(fd, &st) < 0)
		r = off_fail(errno, "cannot stat", path);
	else if (!S_ISREG(st.st_mode))
		r = off_not_regular(path);
	else if ((r = one_link(&st, path)) == KH_OK)   /* the file opened */
		r = write_all(fd, buf, len, path);
	if (r == KH_OK && fsync(fd) < 0)
		r = off_fail(errno, "cannot flush", path);
	if (close(fd) < 0 && r == KH_OK)
		r = off_fail(errno, "cannot close", path);
	if (r == KH_OK && !exists)
		r = off_fsync_dir(dfd, path);
	return r;
}

int plat_mkdirs(kh_plat *p, const char *dir)
{
	struct kpath kp;
	int dfd, r;

	if ((r = off_path_parse(dir, &kp)) != KH_OK)
		return r;
	return off_resolve_dir(p, &kp, kp.n, 1, dir, &dfd);
}

/* Source side of a rename: the entry (case-insensitive) and whether it is
 * a folder. */
static int rename_source(int dfd, const char *name, const char *path,
			 char disk[NAME_MAX + 1], int *isdir)
{
	struct stat st;
	int r = off_find_entry(dfd, name, disk, path);

	if (r != KH_OK)
		return r;
	if (fstatat(dfd, disk, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return off_fail(errno, "cannot stat", path);
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
	int r = off_find_entry(dfd, name, disk, to);

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
		return off_fail(errno, "cannot rename", from);
	if (fstatat(dfd, dname, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return exists_err(to);
	if (renameat(sfd, sdisk, dfd, dname) < 0)
		return off_fail(errno, "cannot rename", from);
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
		return off_fail(errno, "cannot open folder of", from);
	if ((r = resolve_parent(p, to, &dkp, &dfd, &dname)) != KH_OK)
		goto out;
	if ((r = rename_target(sfd, sdisk, dfd, dname, to)) != KH_OK)
		goto out;
	off_names_before(sfd);
	off_names_before(dfd);
	if ((r = do_rename(sfd, sdisk, dfd, dname, from, to)) != KH_OK)
		goto out;
	off_names_renamed(sfd, sdisk, dfd, dname);
	if ((r = off_fsync_dir(sfd, from)) == KH_OK)
		r = off_fsync_dir(dfd, to);
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
	if ((r = off_find_entry(dfd, name, disk, path)) != KH_OK)
		return r;
	if (fstatat(dfd, disk, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return off_fail(errno, "cannot stat", path);
	if (S_ISREG(st.st_mode)) {
		if (unlinkat(dfd, disk, 0) < 0)
			return off_fail(errno, "cannot remove", path);
		return KH_OK;
	}
	if (!S_ISDIR(st.st_mode))
		return off_not_regular(path);
	if (unlinkat(dfd, disk, AT_REMOVEDIR) < 0) {
		if (errno == ENOTEMPTY || errno == EEXIST) {
			kh_seterr("%s: refused: folder not empty", path);
			return KH_ERR_UNSAFE;
		}
		return off_fail(errno, "cannot remove", path);
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
		return off_fail(errno, "cannot remove probe file in", shown);
	return KH_OK;
}

/* The root, and the state folder when it exists. */
int plat_writable(kh_plat *p)
{
	struct kpath kp;
	int r, dfd;

	if ((r = probe(p->rootfd, p->root)) != KH_OK)
		return r;
	if (off_path_parse("ProgramData/khreset", &kp) != KH_OK ||
	    off_resolve_dir(p, &kp, kp.n, 0, "ProgramData/khreset", &dfd) != KH_OK) {
		kh_clearerr();
		return KH_OK;
	}
	return probe(dfd, "ProgramData/khreset");
}

/* ---------- the lock ---------- */

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
		return off_fail(errno, "cannot open lock file", lockfile);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return off_not_regular(lockfile);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		close(fd);
		if (e == EWOULDBLOCK) {
			kh_seterr("lock %s: another khreset is running", lockfile);
			return KH_ERR_BUSY;
		}
		return off_fail(e, "cannot lock", lockfile);
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
