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
	struct kh_hive_state hives[2];   /* regf.c: the hives opened so far */
	size_t n_hives;
	int defer;                       /* plat_defer_sync: folders flushed later */
	int dirty[8];                    /* their descriptors (dups), flushed once */
	char dirty_shown[8][64];
	size_t n_dirty;
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

/* regf.c: reads the base block of the hive open as fd (disk: its name in
 * folder dfd, shown: its path for people) and of its logs beside it,
 * records what they say in p, and refuses a dirty hive opened for
 * writing (KH_ERR_HIVE, the hive and the evidence named).  A file that is
 * not a regf hive is left to hivex to call corrupt. */
int off_hive_check(kh_plat *p, int dfd, const char *disk, int fd,
		   const char *shown, int write);
/* limits.c: before hivex opens a hive file.  The largest file a hive can
 * be: the base block and 2 GiB of hive bins (32-bit cell offsets). */
struct stat;
#define KH_HIVE_MAX (4096ULL + (2ULL << 30))
/* KH_OK if the opened hive file fd (st: its fstat) can be a hive: at most
 * KH_HIVE_MAX bytes, the regf signature, no shorter than its base block
 * says and at most 16 MiB longer (a 6 GiB sparse file is refused before
 * hivex reads it whole).  KH_ERR_HIVE naming the file and why; a read
 * error is KH_ERR_IO (a failure, not bad input). */
int off_hive_plausible(int fd, const struct stat *st, const char *shown);
/* hivex_open failed with errno e: EIO is KH_ERR_IO, ENOMEM KH_ERR_NOMEM,
 * anything else a corrupt hive (KH_ERR_HIVE); the detail names the file. */
int off_hive_open_failed(int e, const char *shown);
/* names.c: the case-insensitive name index.  off_names_match: 0 and
 * *found (out: the strcmp-smallest match) from the folder's index, -1 when
 * there is none to be had (the caller reads the folder itself).  A rename
 * through this layer calls off_names_before on both folders first and
 * off_names_renamed after it succeeded. */
int off_names_match(int dfd, const char *name, char out[NAME_MAX + 1], int *found);
void off_names_before(int dfd);
void off_names_renamed(int sfd, const char *sname, int dfd, const char *dname);

#endif
