/* khreset.h - error codes, exit codes and small shared helpers. */
#ifndef KHRESET_H
#define KHRESET_H

#include <stddef.h>
#include <stdint.h>

#define KH_VERSION "0.1.0"

/* printf-format checking; mingw checks against Microsoft's printf unless
 * told the C library is GNU-compatible (it is, with __USE_MINGW_ANSI_STDIO). */
#ifdef __MINGW32__
#define KH_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#else
#define KH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

/*
 * Stable error codes.  Core code returns these; only the CLI edge (cli.c)
 * prints and exits.  kh_errstr() maps each to a short text, kh_exitcode()
 * to the SPEC exit code it stands for.
 */
enum kh_err {
	KH_OK = 0,
	KH_ERR_NOMEM,        /* out of memory */
	KH_ERR_IO,           /* read/write/rename failed */
	KH_ERR_NOENT,        /* file, key or value does not exist */
	KH_ERR_EXISTS,       /* target already exists */
	KH_ERR_UNSAFE,       /* symlink / non-regular entry / path escapes root */
	KH_ERR_TOOBIG,       /* file larger than allowed */
	KH_ERR_CONFIG,       /* invalid configuration value or syntax */
	KH_ERR_BUNDLE,       /* bundle missing, malformed or digest mismatch */
	KH_ERR_SIGNATURE,    /* signature missing or does not verify */
	KH_ERR_HIVE,         /* registry hive missing or corrupt */
	KH_ERR_DATA,         /* other bad input data (XML, manifest, WIM) */
	KH_ERR_BUSY,         /* another instance holds the lock */
	KH_ERR_PERM,         /* not permitted / read-only */
	KH_ERR_USAGE,        /* bad command line */
	KH_ERR_UNSUPPORTED,  /* not available in this mode */
	KH_ERR_SERVICE,      /* service control failed */
	KH_ERR_TIMEOUT,      /* waited too long */
	KH_ERR_INUSE,        /* another process holds the file or service: not yet */
	KH_ERR__COUNT
};

const char *kh_errstr(int err);
int kh_exitcode(int err);      /* 1, 64, 65, 75, 77 */

/* SPEC exit codes */
enum {
	KH_EXIT_OK = 0,
	KH_EXIT_FAILED = 1,
	KH_EXIT_PENDING = 2,
	KH_EXIT_ATTENTION = 3,
	KH_EXIT_USAGE = 64,
	KH_EXIT_DATAERR = 65,
	KH_EXIT_BUSY = 75,
	KH_EXIT_NOPERM = 77,
};

/*
 * Error detail: the last error's human message ("file X line 3: ...").
 * Set by the code that detects the error; printed by the CLI.
 */
void kh_seterr(const char *fmt, ...) KH_PRINTF(1, 2);
const char *kh_lasterr(void);
void kh_clearerr(void);

/* Logging: one line per event (time, level, step, message).  Lines up to
 * the stderr level go to stderr; lines up to the file level go to the sink
 * (the khreset.log writer) when one is set. */
enum { KH_LOG_ERROR, KH_LOG_WARN, KH_LOG_INFO, KH_LOG_DEBUG };
void kh_log_setlevel(int stderr_level);
void kh_log_sink(void (*fn)(const char *line, void *ud), void *ud, int file_level);
void kh_log(int level, const char *step, const char *fmt, ...)
	KH_PRINTF(3, 4);

/* Test seams: if env KHRESET_TEST_STOP_AT equals name, SIGKILL ourselves;
 * kh_test_fail() returns KH_ERR_IO (with a message) if KHRESET_TEST_FAIL_AT
 * equals name, else KH_OK. */
void kh_test_stop(const char *name);
int kh_test_fail(const char *name);

/* Text from outside (names on disk, config values, registry data):
 * kh_utf8_len is the length of the valid UTF-8 sequence at s[0..n) (1-4;
 * 0 when the bytes there are not one: overlong, surrogate, above U+10FFFF,
 * cut short); kh_utf8_valid says whether all of s[0..n) is UTF-8;
 * kh_u16len counts the UTF-16 code units of valid UTF-8 (what Windows
 * counts as characters). */
size_t kh_utf8_len(const unsigned char *s, size_t n);
int kh_utf8_valid(const char *s, size_t n);
size_t kh_u16len(const char *s);
/* s made safe for a terminal or a log line: every control character, DEL
 * and byte that is not UTF-8 becomes \xHH; other text is kept.  kh_seterr
 * and kh_log do this to every message.  Writes at most size bytes (NUL
 * included; cut at a character boundary); returns out. */
char *kh_escape(const char *s, char *out, size_t size);
/* The same, malloc'd (NULL on ENOMEM). */
char *kh_escape_dup(const char *s);

/* Names: case-insensitive ASCII compare (Windows file names). */
int kh_strcasecmp(const char *a, const char *b);
/* 1 if name is "<8-4-4-4-12 hex>.xml" (any case). */
int kh_is_uuid_xml(const char *name);

/* Times: seconds since the Unix epoch, formatted RFC 3339 UTC. */
void kh_fmt_time(int64_t t, char out[32]);
/* Backup ID from time: YYYYMMDDThhmmssZ */
void kh_fmt_id(int64_t t, char out[20]);
int64_t kh_now(void);

/* The one reader of host files (not under the Windows root: config, bundle,
 * keys, payload): never through a symlink (Windows: a reparse point) at
 * the path's end, regular, read to its end and at most max bytes; *buf
 * malloc'd and NUL-terminated.  KH_ERR_NOENT / KH_ERR_UNSAFE /
 * KH_ERR_TOOBIG / KH_ERR_IO, path named. */
int kh_read_host(const char *path, size_t max, unsigned char **buf, size_t *len);

/* Temp files: a file's new content is written to ".NAME.khtmp.PID" beside
 * NAME, flushed, then renamed over NAME; crash recovery removes a dead run's
 * temp by the same rule.  One place for the rule: every writer and recovery
 * use it.  KH_ERR_UNSAFE (name too long) when it does not fit in size. */
#define KH_TEMP_SUFFIX ".khtmp."
int kh_temp_name(char *out, size_t size, const char *name, long pid);

char *kh_strdup(const char *s);          /* NULL on ENOMEM */
char *kh_asprintf(const char *fmt, ...) KH_PRINTF(1, 2);

#endif
