/* wim.h - the few wimlib operations bake and lint need, with kh_err codes.
 *
 * Text is UTF-8 on this side in both builds; wim.c converts at the edge
 * (wimlib's Windows build takes and returns UTF-16, wimlib_tchar being
 * wchar_t there).  No wimlib type crosses this header.
 * Paths inside an image are absolute ("\Windows\Setup\Scripts", '/' works
 * too) and looked up case-insensitively, as Windows does.  Reading a file
 * extracts it into a private temporary folder and reads it back without
 * following links.  Every function returns an enum kh_err code and sets
 * kh_seterr() detail naming the WIM, image and path.
 */
#ifndef KH_WIM_H
#define KH_WIM_H

#include <stddef.h>
#include <stdint.h>

typedef struct kh_wim kh_wim;

/* One change to an image (wim_update). */
enum wim_op { WIM_DELETE, WIM_ADD, WIM_RENAME };
struct wim_cmd {
	enum wim_op op;
	const char *path;    /* in the image: deleted, added (target), renamed */
	const char *src;     /* WIM_ADD: host file or folder */
	const char *to;      /* WIM_RENAME: new path in the image */
};

struct kh_wim_ent {
	char *name;          /* as spelled in the image */
	char *path;          /* full path in the image, '\' separators */
	int is_dir;
	int is_reparse;      /* symlink, junction or other reparse point */
	uint64_t size;       /* unnamed data stream */
	uint8_t sha1[20];    /* of the unnamed data stream, zero if empty */
};

/* Call before any other wimlib use: case-insensitive paths. */
void wim_init(void);
void wim_cleanup(void);

/* Opens path; writable: fail early (KH_ERR_PERM) without write access.
 * Not a WIM, corrupt, split or integrity failure: KH_ERR_DATA. */
int wim_open(const char *path, int writable, kh_wim **out);
void wim_close(kh_wim *w);
int wim_image_count(const kh_wim *w);
int wim_has_integrity(const kh_wim *w);
/* XML property of image (1-based), e.g. "WINDOWS/EDITIONID"; "" if absent. */
const char *wim_prop(const kh_wim *w, int image, const char *name);

/* *found = 0 (KH_OK) when path does not exist.  ent may be NULL. */
int wim_stat(kh_wim *w, int image, const char *path, int *found,
	     struct kh_wim_ent *ent);
/* Children of dir (recursive: every descendant), in image order.
 * KH_OK with *n = 0 when dir does not exist. */
int wim_list(kh_wim *w, int image, const char *dir, int recursive,
	     struct kh_wim_ent **ents, size_t *n);
void wim_free_ents(struct kh_wim_ent *ents, size_t n);
void wim_ent_clear(struct kh_wim_ent *e);
/* Content of a regular file (not a directory or reparse point) of at most
 * max bytes: KH_ERR_NOENT, KH_ERR_UNSAFE, KH_ERR_TOOBIG otherwise.  *buf is
 * malloc'd and NUL-terminated (not counted). */
int wim_read(kh_wim *w, int image, const char *path, size_t max,
	     unsigned char **buf, size_t *len);

/* Applies cmds to image in memory (all or nothing): deletes are forced and
 * recursive, adds carry no security descriptors. */
int wim_update(kh_wim *w, int image, const struct wim_cmd *cmds, size_t n);
/* Commits in place: append (crash-safe) or rebuild; keeps an existing
 * integrity table.  progress: print the percent of bytes written on
 * stderr.  The test seam "bake-commit" fires once file data has been
 * appended. */
int wim_commit(kh_wim *w, int rebuild, int progress);

#endif
