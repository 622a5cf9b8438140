/* state.h - khreset's own state under ProgramData\khreset (SPEC section 8):
 * backups with their manifests, the write-ahead journal, the status file. */
#ifndef KH_STATE_H
#define KH_STATE_H

#include <stdint.h>
#include "config.h"
#include "digest.h"
#include "platform.h"

#define KH_STATE_DIR   "ProgramData\\khreset"
#define KH_BACKUP_DIR  KH_STATE_DIR "\\backup"
#define KH_JOURNAL     KH_STATE_DIR "\\journal"
#define KH_LOCKFILE    KH_STATE_DIR "\\lock"
#define KH_STATUS      KH_STATE_DIR "\\status.json"

/* One file (or other entry) held by a backup. */
struct kh_bfile {
	char *name;
	char *part;            /* "archive", "install" or "rolled-back" */
	char *origin;          /* the folder it came from (relative to root) */
	enum kh_ftype type;
	uint64_t size;
	int64_t mtime;
	char sha256[KH_SHA256_HEX];   /* "" for non-regular entries */
};

/* A backup's state (its manifest's `state`). */
enum kh_bstate { KH_BS_IN_PROGRESS, KH_BS_COMPLETE, KH_BS_ROLLED_BACK, KH_BS_RESTORED,
		 KH_BS__COUNT };
const char *bstate_name(enum kh_bstate s);

struct kh_backup {
	char id[32];
	char *reason;          /* "repair", "activate", "restore" */
	int64_t created;
	enum kh_bstate state;
	struct kh_bfile *files;
	size_t n;
};

/* Unique backup ID from the current time (counter suffix if taken); creates
 * backup\ID\ with its parts. */
int backup_create(kh_plat *p, struct kh_backup *b, const char *reason);
int backup_add(struct kh_backup *b, const char *part, const char *origin,
	       const char *name, enum kh_ftype type, uint64_t size,
	       int64_t mtime, const char *sha256);
/* backup\ID\PART\NAME */
char *backup_path(const struct kh_backup *b, const char *part, const char *name);
int backup_save(kh_plat *p, const struct kh_backup *b);
int backup_load(kh_plat *p, const char *id, struct kh_backup *b);
void backup_free(struct kh_backup *b);
/* IDs of all backups, oldest first. */
int backup_list(kh_plat *p, char ***ids, size_t *n);
void backup_free_ids(char **ids, size_t n);
/* Deletes the oldest backups beyond keep, never `spare`. */
int backup_prune(kh_plat *p, int keep, const char *spare);
/* Moves every entry of dir (or only the one named `only`, matched
 * case-insensitively) into part of b: digests recorded and the manifest
 * saved first, each move journalled, the moved files' digests re-checked. */
int backup_move_dir(kh_plat *p, struct kh_backup *b, const char *part,
		    const char *dir, const char *only, size_t max_size);

/* --- journal --- */
int journal_begin(kh_plat *p, const char *id);
int journal_move(kh_plat *p, const char *from, const char *to);
int journal_stage(kh_plat *p, const char *path, const char *sha256);
int journal_reg(kh_plat *p, const struct kh_regval *old, size_t n);
int journal_end(kh_plat *p);   /* the run is complete: journal removed */

/* What recovery found and did. */
struct kh_recovery {
	int found;             /* an interrupted run was there */
	char id[32];
	int undone;            /* actions undone */
	char detail[256];
};
/* If the journal shows an interrupted run, undo it in reverse (moves back,
 * staged files removed, registry values restored) and remove the journal. */
int journal_recover(kh_plat *p, struct kh_recovery *r);

#endif
