/* platform.h - the operating-system boundary: files, registry, services,
 * licence state, events and the instance lock.
 *
 * Paths given to these functions are relative to the Windows root (C:\ live,
 * the mount point offline), with '\' or '/' separators, e.g.
 * "ProgramData\Microsoft\Windows\ClipSVC\Archive\KeyHolder".  The offline
 * body (hook/offline/) resolves them one component at a time, matching names
 * case-insensitively, and refuses any symlink or non-directory on the way:
 * nothing outside the root is ever read, written or deleted.  The live body
 * (hook/win32/) maps them to the system drive.
 *
 * The bodies return what the system holds; what it means (which upgrade,
 * which class) is decided by the core, once for both builds.
 *
 * Every function returns an enum kh_err code and sets kh_seterr() detail.
 */
#ifndef KH_PLATFORM_H
#define KH_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

typedef struct kh_plat kh_plat;

enum kh_ftype { KH_FT_FILE, KH_FT_DIR, KH_FT_LINK, KH_FT_OTHER };

struct kh_dirent {
	char *name;          /* on-disk spelling */
	enum kh_ftype type;  /* lstat type: a symlink is KH_FT_LINK, never followed */
	uint64_t size;
	int64_t mtime;       /* seconds since the Unix epoch */
	int err;             /* plat_list: the errno of an lstat that failed (the
			      * entry is then KH_FT_OTHER, size and mtime 0); 0 */
};

/* root == NULL: live mode (not available in the Linux build: KH_ERR_USAGE). */
int plat_open(kh_plat **out, const char *root);
void plat_close(kh_plat *p);
/* Folder of the running executable (malloc'd; NULL on failure): live mode
 * reads khreset.ini and bundle\ from there. */
char *plat_self_dir(void);
int plat_is_offline(const kh_plat *p);

/* --- files --- */
/* Lists dir (not recursive, without "." and ".."), sorted by name.  An
 * entry that cannot be examined (on NTFS through ntfs-3g: a damaged
 * record, a reparse point it cannot map) is listed with its err, not
 * fatal.  KH_ERR_NOENT when dir does not exist. */
int plat_list(kh_plat *p, const char *dir, struct kh_dirent **ents, size_t *n);
void plat_free_list(struct kh_dirent *ents, size_t n);
/* Type/size/mtime of path (not following a final symlink). KH_ERR_NOENT. */
int plat_stat(kh_plat *p, const char *path, struct kh_dirent *st);
/* Reads a regular file; KH_ERR_TOOBIG if larger than max; KH_ERR_UNSAFE if
 * not a regular file.  *buf is malloc'd, NUL-terminated (not counted). */
int plat_read(kh_plat *p, const char *path, size_t max, unsigned char **buf,
	      size_t *len);
/* Writes path atomically: temp file in the same folder, fsync, rename over
 * path, fsync the folder.  The folder must exist. */
int plat_write_atomic(kh_plat *p, const char *path, const void *buf, size_t len);
/* The same replacement by rename without the fsyncs: readers see the old or
 * the new file, never a mix, but a power cut may lose the new one.  For
 * reports that the next run rewrites anyway (check's status.json). */
int plat_write_replace(kh_plat *p, const char *path, const void *buf, size_t len);
/* The same replacement (durable: plat_write_atomic's, else
 * plat_write_replace's) of a content written in pieces, for documents that
 * grow with what was observed (status.json): fill calls put(put_ctx, buf,
 * len) for each piece and returns KH_OK to commit; any error it returns or
 * put reports leaves path as it was (the temp file removed) and is
 * returned.  fill is not called when the temp file cannot be made. */
typedef int (*kh_put_fn)(void *put_ctx, const void *buf, size_t len);
typedef int (*kh_fill_fn)(kh_put_fn put, void *put_ctx, void *ud);
int plat_write_stream(kh_plat *p, const char *path, int durable, kh_fill_fn fill, void *ud);
/* Appends and fsyncs (the journal).  Creates the file if missing. */
int plat_append_sync(kh_plat *p, const char *path, const void *buf, size_t len);
/* Creates every missing folder of dir (like mkdir -p). */
int plat_mkdirs(kh_plat *p, const char *dir);
/* Renames from -> to on the same volume without following a symlink at
 * `from` (the entry itself moves) and never replacing: KH_ERR_EXISTS if `to`
 * exists.  Parent of `to` must exist.  fsyncs both folders. */
int plat_rename(kh_plat *p, const char *from, const char *to);
/* Removes a regular file (KH_ERR_UNSAFE for anything else) or an empty
 * folder (rmdir).  Callers delete only what is backed up first. */
int plat_remove(kh_plat *p, const char *path);
/* Checks that the root is writable (offline: access(W_OK) on the root and a
 * probe of the state folder).  KH_ERR_PERM when not. */
int plat_writable(kh_plat *p);
/* Why the volume is read-only, for people (offline: mounted read-only; a
 * FUSE mount - ntfs-3g - is what a hibernated or uncleanly shut down NTFS
 * gets); NULL when it is not (live: never). */
const char *plat_readonly_why(kh_plat *p);

/* --- registry ---
 * key: "HKLM\SOFTWARE\..." or "HKLM\SYSTEM\..." (case-insensitive).
 * Offline: the hives Windows/System32/config/SOFTWARE and SYSTEM, via hivex.
 * Missing or corrupt hive: KH_ERR_HIVE naming the file.
 *
 * "HKLM32\SOFTWARE\X" names HKLM\SOFTWARE\X as 32-bit programs see it
 * (the activation client is one): live KEY_WOW64_32KEY, in the hive
 * SOFTWARE\WOW6432Node\X; a key outside SOFTWARE is the same in both views.
 * Every plat_reg_* call below and the undo take it: the view travels in
 * the key text, so the journal's records keep it.
 */
enum kh_regtype { KH_REG_SZ = 1, KH_REG_EXPAND_SZ = 2, KH_REG_DWORD = 4 };
enum kh_regview { KH_VIEW_64, KH_VIEW_32 };
/* The view a key names, and (in plain, size bytes) the key as both views
 * spell it: "HKLM32\SOFTWARE\X" -> KH_VIEW_32, "HKLM\SOFTWARE\X"; any
 * other key -> KH_VIEW_64, itself.  plain is "" when it does not fit. */
enum kh_regview plat_reg_view_of(const char *key, char *plain, size_t size);

/* String value (REG_SZ / REG_EXPAND_SZ, returned as UTF-8) or DWORD
 * (returned as decimal text).  KH_ERR_NOENT when key or value missing;
 * KH_ERR_DATA for a value of any other type. */
int plat_reg_get(kh_plat *p, const char *key, const char *name, char **out);

/* One value to set. data: text for SZ/EXPAND_SZ, decimal or 0x-hex for DWORD */
struct kh_regval {
	char *key;
	char *name;
	enum kh_regtype type;
	char *data;
};
/* Sets the values, creating missing keys.  Every value is checked first:
 * when one is invalid nothing is written.  Offline: all or nothing (each
 * hive committed to a temp file beside it, then the renames).  Live: in
 * order; a write the system refuses part-way leaves the earlier ones set.
 * Callers that must undo read the old values first (plat_reg_read). */
int plat_reg_set(kh_plat *p, const struct kh_regval *vals, size_t n);
void plat_free_regvals(struct kh_regval *v, size_t n);

/* The consistency of each hive khreset opened, as its files say.
 * Offline: the regf base block of the hive (primary and secondary
 * sequence numbers at offsets 4 and 8, checksum) and of the transaction
 * logs beside it (<hive>.LOG1, .LOG2).  Dirty: the last write did not
 * complete (the numbers differ, or the checksum is wrong), or a log holds
 * changes newer than the hive (its sequence number is above the hive's);
 * Windows replays the logs when it next loads the hive.  A dirty hive is
 * never written (KH_ERR_HIVE); what is read from it may be stale.  Live:
 * the system keeps its hives, none is listed. */
struct kh_hive_log {
	char name[64];          /* on-disk name, "SOFTWARE.LOG1" */
	int valid;              /* a regf base block of a log, checksum right */
	uint32_t seq1, seq2;
	int newer;              /* seq1 above the hive's secondary number */
};
struct kh_hive_state {
	char path[64];          /* "Windows/System32/config/SOFTWARE" */
	int regf;               /* the base block was read: "regf", 4096 bytes */
	uint32_t seq1, seq2;    /* primary, secondary sequence number */
	int sum_ok;             /* the base block checksum is right */
	struct kh_hive_log log[2];
	size_t n_log;
	int dirty;
	char evidence[384];     /* for people: the numbers and the logs */
};
/* The hives opened so far, each once, in the order first opened. */
size_t plat_hive_states(kh_plat *p, const struct kh_hive_state **out);

/* A value exactly as the registry holds it, whatever its type: what
 * value-level undo puts back byte for byte.  name NULL stands for the key
 * itself: present tells whether it exists (undo: a key that was not there
 * is removed again, if it is empty). */
struct kh_regraw {
	char *key;
	char *name;
	int present;            /* 0: no such value (or key) */
	uint32_t type;          /* the registry's type number, as stored */
	unsigned char *data;    /* len bytes as stored (malloc'd) */
	size_t len;
};
/* *out gets copies of key and name.  KH_OK with present 0 when the key or
 * value is missing. */
int plat_reg_read(kh_plat *p, const char *key, const char *name, struct kh_regraw *out);
/* Puts back what plat_reg_read returned, last first: a value present is
 * written with its type and bytes, one absent deleted, a key absent
 * removed when it holds no value and no subkey.  Every one is tried;
 * the first error is returned. */
int plat_reg_restore(kh_plat *p, const struct kh_regraw *old, size_t n);
/* Frees what the n entries hold (not v itself); zeroed entries are fine. */
void plat_free_regraw(struct kh_regraw *v, size_t n);

/* Offline, the registry undo is the hive file itself: plat_hive_stage
 * writes every hive that vals change, whole, to a flushed temp file beside
 * it, and changes nothing else; the caller moves each original into its
 * backup and the temp into its place (plat_rename), journalled.  Paths
 * are relative to the root, the hive's name spelled as on disk.  Live:
 * KH_ERR_UNSUPPORTED. */
struct kh_hivetmp {
	char *dir;              /* "Windows\System32\config" */
	char *name;             /* "SOFTWARE" as on disk */
	char *temp;             /* ".SOFTWARE.khtmp.PID", in dir */
	char sha_old[65];       /* of the hive as it is */
	char sha_new[65];       /* of the temp */
};
int plat_hive_stage(kh_plat *p, const struct kh_regval *vals, size_t n,
		    struct kh_hivetmp **out, size_t *nout);
void plat_free_hivetmp(struct kh_hivetmp *h, size_t n);

/* The SYSTEM\Setup\Source OS (Updated on ...) keys, raw: upgrade.c says
 * what they mean.  Values are text as plat_reg_get returns them. */
struct kh_source_os {
	char *key;          /* the subkey name, as stored */
	int64_t written;    /* the key's last-write time, Unix seconds; 0 if unknown */
	char *build;        /* CurrentBuild value as text, NULL if missing */
	char *product;      /* ProductName, NULL if missing */
};
/* Every subkey of SYSTEM\Setup whose name starts "Source OS" (any case);
 * none when SYSTEM\Setup is missing. */
int plat_source_os(kh_plat *p, struct kh_source_os **list, size_t *n);
void plat_free_source_os(struct kh_source_os *list, size_t n);

/* --- services, licence, events, lock --- */
/* Offline: KH_ERR_UNSUPPORTED (deferred to next boot). */
int plat_service_stop(kh_plat *p, const char *name, int timeout_s);
int plat_service_start(kh_plat *p, const char *name, int timeout_s);

/* Runs a program: argv[0] an absolute path (live: %VAR% expanded), no
 * shell, no console window of its own, waited for up to timeout_s
 * seconds; still running then: ended (TerminateProcess) and
 * KH_ERR_TIMEOUT.  KH_OK once it ended, *exit_code its exit code.  Cannot
 * start: KH_ERR_NOENT (no such file) or KH_ERR_IO, path named.  Offline:
 * KH_ERR_UNSUPPORTED (deferred to the next boot). */
int plat_exec(kh_plat *p, char *const argv[], int timeout_s, int *exit_code);

enum kh_licence { KH_LIC_UNKNOWN, KH_LIC_UNLICENSED, KH_LIC_LICENSED,
		  KH_LIC_GRACE, KH_LIC_NOTIFICATION };
/* Offline: always KH_LIC_UNKNOWN, reason 0, returns KH_OK. */
int plat_licence(kh_plat *p, enum kh_licence *st, uint32_t *reason);

/* Event log entry (live); offline: no-op returning KH_OK. */
int plat_event(kh_plat *p, int id, const char *text);

/* --- the retry scheduled task (live; offline: KH_ERR_UNSUPPORTED) --- */
struct kh_task {
	const char *name;       /* e.g. \khreset\Retry */
	const char *delay;      /* boot trigger delay, ISO 8601 (PT2M) */
	const char *interval;   /* repetition interval (PT15M) */
	int max_attempts;       /* repetition lasts interval * max_attempts */
	const char *command;    /* absolute path of khreset.exe */
	const char *args;       /* "run --from-task" */
};
/* Registers (or replaces) the task: SYSTEM, boot trigger with delay and
 * repetition, execution time limit, restart on failure, allowed on
 * batteries, no end boundary. */
int plat_task_install(kh_plat *p, const struct kh_task *t);
/* KH_OK also when the task does not exist. */
int plat_task_remove(kh_plat *p, const char *name);
/* *exists 0/1; *detail (malloc'd, may be NULL): state, last/next run. */
int plat_task_query(kh_plat *p, const char *name, int *exists, char **detail);

/* Single-instance lock.  Offline: flock on lockfile (created, folder must
 * exist).  KH_ERR_BUSY when held elsewhere. */
int plat_lock(kh_plat *p, const char *lockfile);
void plat_unlock(kh_plat *p);

/* --- evidence (the `collect` verb and `run --evidence`) ---
 * Read-only views of what a first boot depends on, and the host folder the
 * evidence is written to.  Offline, what has no meaning on a mounted volume
 * (services, licence, ACLs, code pages, starting a collector) is
 * KH_ERR_UNSUPPORTED with kh_seterr() saying so.
 */
/* A service's state and process: Windows' SERVICE_* state numbers. */
enum kh_svc_state { KH_SVC_STOPPED = 1, KH_SVC_START_PENDING, KH_SVC_STOP_PENDING,
		    KH_SVC_RUNNING, KH_SVC_CONTINUE_PENDING, KH_SVC_PAUSE_PENDING,
		    KH_SVC_PAUSED };
struct kh_svc_status {
	int state;                   /* enum kh_svc_state */
	uint32_t pid;                /* 0: no process */
	uint32_t exit_code;          /* Win32 exit code */
	uint32_t service_exit_code;  /* with exit_code 1066 */
};
/* KH_ERR_NOENT when the service does not exist. */
int plat_svc_status(kh_plat *p, const char *name, struct kh_svc_status *st);

/* A service's configuration (QueryServiceConfig, ...Config2). */
struct kh_svc_config {
	uint32_t type;               /* SERVICE_WIN32_OWN_PROCESS, ... */
	uint32_t start_type;         /* 0 boot .. 2 auto, 3 demand, 4 disabled */
	int delayed;                 /* delayed auto-start: 1, 0, -1 unknown */
	char *account;               /* e.g. LocalSystem; NULL if none */
	char *binary;                /* the binary path with its arguments */
	char *display;               /* display name */
};
int plat_svc_config(kh_plat *p, const char *name, struct kh_svc_config *cfg);
void plat_free_svc_config(struct kh_svc_config *cfg);

/* A service's start/stop triggers (SERVICE_CONFIG_TRIGGER_INFO). */
struct kh_svc_tdata {
	uint32_t type;               /* SERVICE_TRIGGER_DATA_TYPE_*: 1 binary, 2 string, ... */
	char *value;                 /* strings as UTF-8 (several: '\n' between), else hex */
};
struct kh_svc_trigger {
	uint32_t type;               /* SERVICE_TRIGGER_TYPE_*: 1 device .. 20 custom */
	uint32_t action;             /* 1 start, 2 stop */
	char subtype[40];            /* the subtype GUID, "" when none */
	struct kh_svc_tdata *data;
	size_t n_data;
};
int plat_svc_triggers(kh_plat *p, const char *name, struct kh_svc_trigger **t, size_t *n);
void plat_free_svc_triggers(struct kh_svc_trigger *t, size_t n);

/* The licence status of every SKU of the Windows application
 * (SLGetLicensingStatusInformation's array, raw). */
struct kh_sku_licence {
	char sku[40];                /* the SKU ID, GUID text */
	char *name;                  /* the SKU's name when slc.dll gives it, else NULL */
	int status;                  /* SLLICENSINGSTATUS: 0 unlicensed, 1 licensed,
					2 grace, 3 notification */
	uint32_t reason;             /* hrReason */
	uint32_t grace_minutes;      /* dwGraceTime */
	uint32_t grace_days_total;   /* dwTotalGraceDays */
	uint64_t validity;           /* qwValidityExpiration, FILETIME; 0 none */
};
int plat_licence_skus(kh_plat *p, struct kh_sku_licence **list, size_t *n);
void plat_free_licence_skus(struct kh_sku_licence *list, size_t n);

/* The owner, group and access list of a root-relative path as SDDL text
 * (the entry itself: a link or reparse point is never followed). */
int plat_sddl(kh_plat *p, const char *path, char **sddl);

/* The code pages: the console's input and output (0 without a console),
 * the ANSI and the OEM one. */
struct kh_codepage {
	uint32_t console_in, console_out, ansi, oem;
};
int plat_codepage(kh_plat *p, struct kh_codepage *cp);

/* The registry in one view: KH_VIEW_64, what plat_reg_get reads, or
 * KH_VIEW_32, where the 32-bit programs' HKLM\SOFTWARE\X is
 * (HKLM\SOFTWARE\WOW6432Node\X; other keys are shared by both views).
 * Values as plat_reg_get returns them (live, other types too: a
 * REG_MULTI_SZ's strings with '\n' between, REG_QWORD in decimal, binary
 * as hex).  plat_reg_names lists a key's value names (offline:
 * KH_ERR_UNSUPPORTED - hivex is read by name only). */
int plat_reg_get_view(kh_plat *p, const char *key, const char *name, enum kh_regview view,
		      char **out);
int plat_reg_names(kh_plat *p, const char *key, enum kh_regview view, char ***names,
		   size_t *n);

/* The evidence folder, a host path: created (its parent must exist), or
 * an existing empty folder; a link (reparse point), a file or a folder
 * that holds anything is refused (KH_ERR_UNSAFE, KH_ERR_EXISTS), path
 * named. */
typedef struct kh_evdir kh_evdir;
int plat_evdir_open(const char *path, kh_evdir **out);
/* Writes a file of the folder, flushed: append 0 creates it (KH_ERR_EXISTS
 * when it is there), append 1 adds to it (created the first time); never
 * through a link.  name: one plain file name. */
int plat_evdir_write(kh_evdir *d, const char *name, const void *buf, size_t len, int append);
void plat_evdir_close(kh_evdir *d);

/* Sleeps ms milliseconds, less when this collector is asked to stop
 * (Ctrl+C, SIGTERM, or plat_ev_finish of the run that started it):
 * returns 1 once asked, 0 after the sleep.  plat_ev_wait(p, 0) arms it. */
int plat_ev_wait(kh_plat *p, int ms);
/* Starts this executable with argv (argv[0] is the verb, "collect"), its
 * console and standard error shared; plat_ev_finish asks it to stop and
 * waits up to timeout_s for it to end (KH_ERR_TIMEOUT: still running, it
 * ends by itself), then frees c.  Offline: KH_ERR_UNSUPPORTED. */
typedef struct kh_child kh_child;
int plat_ev_spawn(kh_plat *p, char *const argv[], kh_child **out);
int plat_ev_finish(kh_child *c, int timeout_s);

#endif
