/* state.h - khreset's own state under ProgramData\khreset (SPEC section 8):
 * backups with their manifests, the write-ahead journal, the status file.
 * Both state files are records of record.h: exact bytes, each record with
 * its own length and checksum. */
#ifndef KH_STATE_H
#define KH_STATE_H

#include <stdint.h>
#include "config.h"
#include "digest.h"
#include "platform.h"
#include "record.h"

#define KH_STATE_DIR   "ProgramData\\khreset"
#define KH_BACKUP_DIR  KH_STATE_DIR "\\backup"
#define KH_JOURNAL     KH_STATE_DIR "\\journal"
#define KH_LOCKFILE    KH_STATE_DIR "\\lock"
#define KH_STATUS      KH_STATE_DIR "\\status.json"
#define KH_MANIFEST    "manifest"
#define KH_HIVE_DIR    "Windows\\System32\\config"

/* The parts of a backup folder: what came from the archive, from the
 * install folder, the registry hives a run replaced, and what a rollback
 * found in an original's place. */
#define KH_PART_ARCHIVE  "archive"
#define KH_PART_INSTALL  "install"
#define KH_PART_REGISTRY "registry"
#define KH_PART_ROLLED   "rolled-back"
#define KH_NPARTS        4
extern const char *const kh_parts[KH_NPARTS];

/* One file (or other entry) held by a backup. */
struct kh_bfile {
	char *name;            /* exact bytes of the original name */
	char *part;            /* one of KH_PART_* */
	char *origin;          /* the folder it came from (relative to root) */
	enum kh_ftype type;
	uint64_t size;
	int64_t mtime;
	char sha256[KH_SHA256_HEX];   /* "" for non-regular or too large entries */
};

/* A backup's state (its manifest's `state`). */
enum kh_bstate { KH_BS_IN_PROGRESS, KH_BS_COMPLETE, KH_BS_ROLLED_BACK, KH_BS_RESTORED,
		 KH_BS__COUNT };
const char *bstate_name(enum kh_bstate s);
/* 1 and *s set when text names a state, else 0. */
int bstate_parse(const char *text, enum kh_bstate *s);
/* "file", "directory", "symlink", "other" and back. */
const char *ftype_name(enum kh_ftype t);
int ftype_parse(const char *text, enum kh_ftype *t);
/* 1 if name can be one path component on Windows and here. */
int state_name_ok(const char *name);

struct kh_backup {
	char id[32];
	char *reason;          /* "repair", "activate", "restore" */
	int64_t created;
	enum kh_bstate state;
	struct kh_bfile *files;
	size_t n, cap;
};

/* Paths compare as Windows does: ASCII case-insensitively, '\\' or '/'. */
int state_path_eq(const char *a, const char *b);
/* 1 if id could be a backup ID (no separator, no leading dot, fits). */
int backup_id_ok(const char *id);
/* Picks a unique backup ID from the current time (counter suffix if
 * taken); nothing is created until backup_save. */
int backup_create(kh_plat *p, struct kh_backup *b, const char *reason);
int backup_add(struct kh_backup *b, const char *part, const char *origin,
	       const char *name, enum kh_ftype type, uint64_t size,
	       int64_t mtime, const char *sha256);
/* backup\ID\PART\NAME (NAME NULL: the part's folder; PART "" too: the
 * backup's folder) */
char *backup_path(const char *id, const char *part, const char *name);
/* Creates the backup's folders if missing and writes its manifest
 * atomically. */
int backup_save(kh_plat *p, const struct kh_backup *b);
int backup_load(kh_plat *p, const char *id, struct kh_backup *b);
/* The manifest's bytes read into b (the fuzz target's entry): KH_ERR_DATA
 * naming the record when anything is damaged or incomplete. */
int manifest_parse(const char *id, const void *buf, size_t len, struct kh_backup *b);
void backup_free(struct kh_backup *b);
/* Number of entries of part. */
size_t backup_count(const struct kh_backup *b, const char *part);
/* IDs of all backups, oldest first. */
int backup_list(kh_plat *p, char ***ids, size_t *n);
void backup_free_ids(char **ids, size_t n);
/* Deletes the oldest backups beyond keep, never `spare`. */
int backup_prune(kh_plat *p, int keep, const char *spare);
/* Moves every entry of dir (or only those named `only`, matched
 * case-insensitively) into part of b: refused before anything moves when
 * two names differ only in case or a name cannot be a Windows name;
 * digests recorded and the manifest saved first, each move journalled, the
 * moved files' digests re-checked. */
int backup_move_dir(kh_plat *p, struct kh_backup *b, const char *part,
		    const char *dir, const char *only, size_t max_size);
/* Digest of a regular file at path; "" when it is larger than max. */
int state_digest(kh_plat *p, const char *path, size_t max, char sha[KH_SHA256_HEX]);
/* Move i of n logged: the first KH_LOG_MOVES named at level info, the
 * rest at debug with one info line saying how many (a log line is a
 * flush: at 100,000 entries they were a quarter of a run). */
#define KH_LOG_MOVES 20
void state_log_moved(size_t i, size_t n, const char *area, const char *from,
		     const char *how, const char *to);

/* --- the journal (journal.c) ---
 * A run (or restore, or the live registry step) opens it with
 * journal_begin, writes a record before each change, and closes it with
 * journal_commit: from then on nothing of it is undone. */
int journal_begin(kh_plat *p, const char *kind);    /* "run", "restore", "registry", "record" */
/* A backup the run made (role "own") or restores from ("source"). */
int journal_backup(kh_plat *p, const char *id, const char *role);
int journal_move(kh_plat *p, const char *name, const char *from, const char *to,
		 enum kh_ftype type, uint64_t size, const char *sha256);
/* Many moves journalled in one append (one flush): journal_hold, then
 * journal_move for each (kept in memory, written a MiB at a time), then
 * journal_release writes the rest - all before the first of them is
 * carried out.  A recovery finds a move
 * whose target is missing never done, so moves journalled together and
 * done one by one are undone exactly as far as they went. */
void journal_hold(void);
int journal_release(kh_plat *p);
int journal_stage(kh_plat *p, const char *dir, const char *name, const char *sha256);
int journal_state(kh_plat *p, const char *id, enum kh_bstate from, enum kh_bstate to);
/* Offline: hive `name` of KH_HIVE_DIR is about to move into hold (a
 * backup's registry part), its new content `temp` into its place. */
int journal_hive(kh_plat *p, const char *name, const char *temp, const char *hold,
		 const char *sha_old, const char *sha_new);
/* Live: a value as it was (any type, exact bytes), or (name NULL) a key
 * the change creates. */
int journal_regval(kh_plat *p, const struct kh_regraw *old);
/* The run failed and its rollback begins. */
int journal_rollback(kh_plat *p);
/* The run is complete: a commit record, then the journal removed (a
 * removal that fails is only logged: a committed journal undoes nothing). */
int journal_commit(kh_plat *p);

/* A journal's records read and checked (the fuzz target's entry): what
 * recovery would act on, nothing done. */
struct kh_jrec {
	const struct kh_rec *rec;
	int kind;              /* J_* of state.c */
	int trusted;           /* names only what khreset owns */
	const char *why;       /* why not trusted */
};
struct kh_journal {
	struct kh_recs recs;
	struct kh_jrec *j;
	size_t n;
	char kind[16];         /* of the begin record; "" when damaged */
	long pid;
	int committed, rolling_back;
	size_t damaged, torn, untrusted;
	char own[4][32], source[4][32];
	size_t n_own, n_source;
};
int journal_parse(const void *buf, size_t len, const struct kh_config *c,
		  struct kh_journal *j);
void journal_free(struct kh_journal *j);

/* What recovery found and did. */
struct kh_recovery {
	int found;             /* an unfinished run was there and is undone */
	char id[32];
	int undone;            /* actions undone */
	int ignored;           /* damaged or untrusted records, not acted on */
	char detail[512];
};
/* If the journal shows an unfinished run, undo it: the archive and
 * install moves and staged files first (last first), then the registry,
 * then the backups' states; every undo is tried even when another fails,
 * and the journal is removed only when all succeeded. */
int journal_recover(kh_plat *p, const struct kh_config *c, struct kh_recovery *r);

#endif
