/* offline.h - private to the offline body (hook/offline/) and to the test
 * fake that replaces its stubs.c: the plat struct, and the safe path walk
 * of files.c that hives.c opens the hives with.  The core never sees it. */
#ifndef KH_OFFLINE_H
#define KH_OFFLINE_H

#include <limits.h>
#include <stddef.h>

#include "platform.h"

#define MAXDEPTH  64
#define NCACHE    32

struct dcache {
	char *key;      /* "a/b/c" as requested */
	int fd;         /* O_PATH folder fd */
};

struct kh_plat {
	char *root;     /* the mount point, as given */
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

/* Sets the error detail for errno e ("what path: reason"), returns its
 * kh_err (ELOOP/ENOTDIR: KH_ERR_UNSAFE, a symlink was on the way). */
int off_fail(int e, const char *what, const char *path);
/* "path: refused: not a regular file", KH_ERR_UNSAFE. */
int off_not_regular(const char *path);

/* Splits a relative '\' or '/' separated path ("" is the root); empty, "."
 * and ".." components and absolute paths are refused. */
int off_path_parse(const char *path, struct kpath *kp);
/* Folder of the first n components, walked one at a time without
 * following a link (create: missing ones are made).  *out is borrowed
 * from the cache: valid until the next resolve or cache flush. */
int off_resolve_dir(kh_plat *p, const struct kpath *kp, size_t n, int create,
		    const char *shown, int *out);
/* On-disk spelling of name in dfd: exact, else case-insensitive. */
int off_find_entry(int dfd, const char *name, char out[NAME_MAX + 1],
		   const char *shown);
/* Opens an existing file of dfd (case-insensitively), never following a
 * link nor blocking on a FIFO. */
int off_open_file(int dfd, const char *name, int flags, const char *shown,
		  int *out);
/* Creates dfd/tmp exclusively (a stale one left by a crash is replaced). */
int off_create_temp(int dfd, const char *tmp, const char *path, int *out);
int off_fsync_dir(int dfd, const char *shown);

/* names.c: the case-insensitive name index.  off_names_match: 0 and
 * *found (out: the strcmp-smallest match) from the folder's index, -1 when
 * there is none to be had (the caller reads the folder itself).  A rename
 * through this layer calls off_names_before on both folders first and
 * off_names_renamed after it succeeded. */
int off_names_match(int dfd, const char *name, char out[NAME_MAX + 1], int *found);
void off_names_before(int dfd);
void off_names_renamed(int sfd, const char *sname, int dfd, const char *dname);

#endif
