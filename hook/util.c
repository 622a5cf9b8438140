/* util.c - error table, error detail, logging, names and times. */
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

static char lasterr[1024];

void kh_seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lasterr, sizeof(lasterr), fmt, ap);
	va_end(ap);
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
	char ts[32], msg[1024], line[1200];
	va_list ap;

	if (level > loglevel && (!sink || level > filelevel))
		return;
	kh_fmt_time(kh_now(), ts);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
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

int kh_read_host(const char *path, size_t max, unsigned char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	unsigned char *b = NULL;
	struct stat st;
	size_t got = 0;
	int rc;

	if (fd < 0) {
		rc = errno == ENOENT ? KH_ERR_NOENT : errno == ELOOP ? KH_ERR_UNSAFE : KH_ERR_IO;
		kh_seterr("%s: %s", path, rc == KH_ERR_UNSAFE ? "is a symbolic link, refused"
							    : strerror(errno));
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
	rc = KH_ERR_NOMEM;
	if (!(b = malloc((size_t)st.st_size + 1)))
		goto out;
	rc = KH_ERR_IO;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
		if (r <= 0) {
			kh_seterr("%s: %s", path, r < 0 ? strerror(errno) : "shrank while read");
			goto out;
		}
		got += (size_t)r;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	b = NULL;
	rc = KH_OK;
out:
	free(b);
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
