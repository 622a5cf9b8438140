/* util.c - error table, error detail, logging, names and times, the
 * host-file reader. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khreset.h"

static const struct {
	const char *text;
	int exit;
} errtab[KH_ERR__COUNT] = {
	[KH_OK]              = { "success", 0 },
	[KH_ERR_NOMEM]       = { "out of memory", 1 },
	[KH_ERR_IO]          = { "input/output error", 1 },
	[KH_ERR_NOENT]       = { "not found", 65 },
	[KH_ERR_EXISTS]      = { "already exists", 1 },
	[KH_ERR_UNSAFE]      = { "unsafe path (link or non-regular entry)", 65 },
	[KH_ERR_TOOBIG]      = { "file too large", 65 },
	[KH_ERR_CONFIG]      = { "invalid configuration", 65 },
	[KH_ERR_BUNDLE]      = { "invalid bundle", 65 },
	[KH_ERR_SIGNATURE]   = { "bad signature", 65 },
	[KH_ERR_HIVE]        = { "registry hive missing or corrupt", 65 },
	[KH_ERR_DATA]        = { "invalid input data", 65 },
	[KH_ERR_BUSY]        = { "another instance is running", 75 },
	[KH_ERR_PERM]        = { "not permitted", 77 },
	[KH_ERR_USAGE]       = { "usage error", 64 },
	[KH_ERR_UNSUPPORTED] = { "not supported in this mode", 1 },
	[KH_ERR_SERVICE]     = { "service control failed", 1 },
	[KH_ERR_TIMEOUT]     = { "timed out", 1 },
	[KH_ERR_INUSE]       = { "in use by another process", 75 },
};

const char *kh_errstr(int err)
{
	if (err < 0 || err >= KH_ERR__COUNT || !errtab[err].text)
		return "unknown error";
	return errtab[err].text;
}

int kh_exitcode(int err)
{
	if (err < 0 || err >= KH_ERR__COUNT)
		return KH_EXIT_FAILED;
	return errtab[err].exit;
}

size_t kh_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = n ? s[0] : 0;
	size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
		     c >= 0xf0 && c <= 0xf4 ? 4 : 0;

	if (!n || !len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong 3- and 4-byte forms, UTF-16 surrogates, above U+10FFFF */
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return len;
}

int kh_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0, l; i < n; i += l)
		if (!(l = kh_utf8_len(p + i, n - i)))
			return 0;
	return 1;
}

size_t kh_u16len(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			n += *p >= 0xf0 ? 2 : 1;
	return n;
}

char *kh_escape(const char *s, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), o = 0;

	if (!size)
		return out;
	for (size_t i = 0, l; i < n; i += l) {
		l = kh_utf8_len(p + i, n - i);
		if (l == 1 && (p[i] < 0x20 || p[i] == 0x7f))
			l = 0;
		if (l) {
			if (o + l >= size)
				break;
			memcpy(out + o, p + i, l);
			o += l;
		} else {
			if (o + 4 >= size)
				break;
			snprintf(out + o, 5, "\\x%02x", p[i]);
			o += 4;
			l = 1;
		}
	}
	out[o] = '\0';
	return out;
}

char *kh_escape_dup(const char *s)
{
	size_t size = strlen(s) * 4 + 1;
	char *out = malloc(size);

	return out ? kh_escape(s, out, size) : NULL;
}

static char lasterr[1024];

void kh_seterr(const char *fmt, ...)
{
	char raw[sizeof(lasterr)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	kh_escape(raw, lasterr, sizeof(lasterr));
}

const char *kh_lasterr(void) { return lasterr; }
void kh_clearerr(void) { lasterr[0] = '\0'; }

static int loglevel = KH_LOG_WARN, filelevel = KH_LOG_INFO;
static void (*sink)(const char *, void *);
static void *sink_ud;
static const char *lvname[] = { "error", "warn", "info", "debug" };

void kh_log_setlevel(int level) { loglevel = level; }

void kh_log_sink(void (*fn)(const char *line, void *ud), void *ud, int file_level)
{
	sink = fn;
	sink_ud = ud;
	filelevel = file_level;
}

void kh_log(int level, const char *step, const char *fmt, ...)
{
	char ts[32], raw[1024], msg[1024], line[1200];
	va_list ap;

	if (level > loglevel && (!sink || level > filelevel))
		return;
	kh_fmt_time(kh_now(), ts);
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* one event, one line: a name holding a newline cannot forge another */
	kh_escape(raw, msg, sizeof(msg));
	snprintf(line, sizeof(line), "%s %-5s %-8s %s\n", ts, lvname[level],
		 step ? step : "-", msg);
	if (level <= loglevel)
		fputs(line, stderr);
	if (sink && level <= filelevel)
		sink(line, sink_ud);
}

void kh_test_stop(const char *name)
{
	const char *at = getenv("KHRESET_TEST_STOP_AT");

	if (at && strcmp(at, name) == 0) {
		fflush(NULL);
		kill(getpid(), SIGKILL);
	}
}

int kh_test_fail(const char *name)
{
	const char *at = getenv("KHRESET_TEST_FAIL_AT");

	if (!at || strcmp(at, name))
		return KH_OK;
	kh_seterr("injected failure at %s (KHRESET_TEST_FAIL_AT)", name);
	return KH_ERR_IO;
}

int kh_strcasecmp(const char *a, const char *b)
{
	for (; *a && tolower((unsigned char)*a) == tolower((unsigned char)*b); a++, b++)
		;
	return tolower((unsigned char)*a) - tolower((unsigned char)*b);
}

int kh_is_uuid_xml(const char *name)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	const char *p = name;

	for (size_t g = 0; g < 5; g++) {
		for (int i = 0; i < groups[g]; i++, p++)
			if (!isxdigit((unsigned char)*p))
				return 0;
		if (g < 4 && *p++ != '-')
			return 0;
	}
	return kh_strcasecmp(p, ".xml") == 0;
}

void kh_fmt_time(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

void kh_fmt_id(int64_t t, char out[20])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 20, "%Y%m%dT%H%M%SZ", &tm))
		snprintf(out, 20, "19700101T000000Z");
}

int64_t kh_now(void)
{
	const char *fake = getenv("KHRESET_TEST_NOW");

	if (fake && *fake)
		return strtoll(fake, NULL, 10);
	return (int64_t)time(NULL);
}

char *kh_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *kh_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

/* Opens path for reading, never through a link at its end: O_NOFOLLOW.
 * Windows' CRT would follow a symbolic link or junction, so there the
 * entry is opened as itself and refused when it is a reparse point or
 * resolves elsewhere (hook/win32/compat.c).  -1 with errno ELOOP for a
 * link, EISDIR / ENODEV for what cannot be a regular file. */
#ifdef _WIN32
#define LINK_REFUSED "is a reparse point (symbolic link or junction), refused"
static int open_nofollow(const char *path) { return kh_win_open_nofollow(path); }
#else
#define LINK_REFUSED "is a symbolic link, refused"
static int open_nofollow(const char *path)
{
	return open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}
#endif

/* Reads fd to its end into a NUL-terminated buffer of at most max bytes
 * (the file may have grown since fstat). */
static int read_to_end(int fd, size_t hint, size_t max, unsigned char **out, size_t *len)
{
	size_t cap = hint + 1, got = 0;
	unsigned char *b = malloc(cap), *nb;

	if (!b)
		return KH_ERR_NOMEM;
	for (;;) {
		ssize_t r;

		if (got == cap - 1) {
			if (got > max)
				break;
			cap = cap - 1 > max / 2 ? max + 2 : 2 * cap;
			if (!(nb = realloc(b, cap))) {
				free(b);
				return KH_ERR_NOMEM;
			}
			b = nb;
		}
		r = read(fd, b + got, cap - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return KH_ERR_IO;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got > max) {
		free(b);
		return KH_ERR_TOOBIG;
	}
	b[got] = '\0';
	*out = b;
	*len = got;
	return KH_OK;
}

int kh_read_host(const char *path, size_t max, unsigned char **buf, size_t *len)
{
	int fd = open_nofollow(path);
	struct stat st;
	int rc;

	if (fd < 0) {
		int e = errno;

		rc = e == ENOENT ? KH_ERR_NOENT :
		     e == ELOOP || e == EISDIR || e == ENODEV ? KH_ERR_UNSAFE : KH_ERR_IO;
		kh_seterr("%s: %s", path, e == ELOOP ? LINK_REFUSED : rc == KH_ERR_UNSAFE ?
			  "not a regular file, refused" : strerror(e));
		return rc;
	}
	rc = KH_ERR_UNSAFE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		kh_seterr("%s: not a regular file, refused", path);
		goto out;
	}
	rc = KH_ERR_TOOBIG;
	if ((unsigned long long)st.st_size > max) {
		kh_seterr("%s: %lld bytes, larger than %zu", path, (long long)st.st_size, max);
		goto out;
	}
	rc = read_to_end(fd, (size_t)st.st_size, max, buf, len);
	if (rc != KH_OK)
		kh_seterr("%s: %s", path, rc == KH_ERR_TOOBIG ? "grew beyond the size limit while read" :
				     rc == KH_ERR_IO ? strerror(errno) : kh_errstr(rc));
out:
	close(fd);
	return rc;
}

int kh_temp_name(char *out, size_t size, const char *name, long pid)
{
	int n = snprintf(out, size, ".%s" KH_TEMP_SUFFIX "%ld", name, pid);

	if (n < 0 || (size_t)n >= size) {
		kh_seterr("%s: name too long for a temp file", name);
		return KH_ERR_UNSAFE;
	}
	return KH_OK;
}
