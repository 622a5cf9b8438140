/* names.c - the offline body's case-insensitive name index: which entry of
 * a folder matches a name in another case, without reading the whole
 * folder for every lookup (files.c's match_name asks here first).
 *
 * Design: the index of a folder is built by one readdir, as a hash table
 * of names keyed by their ASCII-lowercased bytes, and kept together with
 * the folder's identity (device, inode) and change times.  It is used only
 * while those times are unchanged, so a change made behind our back makes
 * the next lookup read the folder again; a rename made through this layer
 * updates the index of both folders and takes their new times
 * (off_names_before / off_names_renamed).  Moving N entries into a folder
 * so costs N lookups, not N readdirs of a growing folder.  Two folders are
 * kept: a move's source and target.  As for the folder cache of files.c,
 * a change made behind our back within the same tick of the file system's
 * clock as one of ours is not seen; the exact spelling is always looked up
 * first (files.c), and a rename never replaces, so what such a change can
 * hide is only another spelling of a name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khreset.h"
#include "offline.h"

struct nent {
	struct nent *next;
	uint32_t hash;
	char name[];
};

struct nindex {
	int used;
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
	struct nent **b;
	size_t n, nb;
};

static struct nindex idx[2];
static unsigned next_slot;

static uint32_t hash_ci(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 16777619u;
	}
	return h;
}

static void idx_drop(struct nindex *x)
{
	for (size_t i = 0; i < x->nb; i++)
		for (struct nent *e = x->b[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	free(x->b);
	memset(x, 0, sizeof(*x));
}

static int same_times(const struct nindex *x, const struct stat *st)
{
	return x->mtime.tv_sec == st->st_mtim.tv_sec && x->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       x->ctime.tv_sec == st->st_ctim.tv_sec && x->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void take_times(struct nindex *x, const struct stat *st)
{
	x->mtime = st->st_mtim;
	x->ctime = st->st_ctim;
}

/* The index of the folder st describes, current or not; NULL if none. */
static struct nindex *idx_of(const struct stat *st)
{
	for (size_t i = 0; i < 2; i++)
		if (idx[i].used && idx[i].dev == st->st_dev && idx[i].ino == st->st_ino)
			return &idx[i];
	return NULL;
}

static int idx_grow(struct nindex *x)
{
	size_t nb = x->nb ? 2 * x->nb : 64;
	struct nent **b = calloc(nb, sizeof(*b));

	if (!b)
		return -1;
	for (size_t i = 0; i < x->nb; i++)
		for (struct nent *e = x->b[i], *n; e; e = n) {
			n = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	free(x->b);
	x->b = b;
	x->nb = nb;
	return 0;
}

static int idx_add(struct nindex *x, const char *name)
{
	size_t l = strlen(name);
	struct nent *e;

	if (x->n >= x->nb && idx_grow(x) < 0)
		return -1;
	if (!(e = malloc(sizeof(*e) + l + 1)))
		return -1;
	memcpy(e->name, name, l + 1);
	e->hash = hash_ci(name);
	e->next = x->b[e->hash & (x->nb - 1)];
	x->b[e->hash & (x->nb - 1)] = e;
	x->n++;
	return 0;
}

static void idx_del(struct nindex *x, const char *name)
{
	struct nent **pp;

	if (!x->nb)
		return;
	for (pp = &x->b[hash_ci(name) & (x->nb - 1)]; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name)) {
			struct nent *e = *pp;
			*pp = e->next;
			free(e);
			x->n--;
			return;
		}
}

/* Reads folder dfd whole into a fresh index. */
static struct nindex *idx_build(int dfd, const struct stat *st)
{
	struct nindex *x = idx_of(st);
	struct dirent *d;
	DIR *dir;
	int fd;

	if (!x)
		x = &idx[next_slot++ % 2];
	idx_drop(x);
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return NULL;
	if (!(dir = fdopendir(fd))) {
		close(fd);
		return NULL;
	}
	x->used = 1;
	x->dev = st->st_dev;
	x->ino = st->st_ino;
	take_times(x, st);
	while ((d = readdir(dir)) != NULL)
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") && idx_add(x, d->d_name) < 0) {
			closedir(dir);
			idx_drop(x);
			return NULL;
		}
	closedir(dir);
	return x;
}

int off_names_match(int dfd, const char *name, char out[NAME_MAX + 1], int *found)
{
	struct nindex *x;
	struct stat st;
	uint32_t h = hash_ci(name);

	*found = 0;
	if (fstat(dfd, &st) < 0)
		return -1;
	x = idx_of(&st);
	if (!x || !same_times(x, &st))
		x = idx_build(dfd, &st);
	if (!x)
		return -1;
	/* the folder changed while it was read: not to be trusted later */
	if (fstat(dfd, &st) < 0 || !same_times(x, &st))
		x->mtime.tv_nsec = -1;
	for (struct nent *e = x->nb ? x->b[h & (x->nb - 1)] : NULL; e; e = e->next) {
		if (e->hash != h || kh_strcasecmp(e->name, name))
			continue;
		if (!*found || strcmp(e->name, out) < 0) {
			size_t l = strnlen(e->name, NAME_MAX);
			memcpy(out, e->name, l);
			out[l] = '\0';
		}
		*found = 1;
	}
	return 0;
}

/* An index no longer current is dropped before this layer changes its
 * folder, so that the change is applied only to what is known. */
void off_names_before(int dfd)
{
	struct nindex *x;
	struct stat st;

	if (fstat(dfd, &st) == 0 && (x = idx_of(&st)) && !same_times(x, &st))
		idx_drop(x);
}

static void renamed_in(int dfd, const char *del, const char *add)
{
	struct nindex *x;
	struct stat st;

	if (fstat(dfd, &st) < 0 || !(x = idx_of(&st)))
		return;
	if (del)
		idx_del(x, del);
	if (add && idx_add(x, add) < 0) {
		idx_drop(x);
		return;
	}
	take_times(x, &st);
}

void off_names_renamed(int sfd, const char *sname, int dfd, const char *dname)
{
	struct stat a, b;

	if (fstat(sfd, &a) == 0 && fstat(dfd, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino) {
		renamed_in(sfd, sname, dname);
		return;
	}
	renamed_in(sfd, sname, NULL);
	renamed_in(dfd, NULL, dname);
}
