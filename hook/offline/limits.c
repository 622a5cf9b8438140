/* limits.c - what the offline body refuses before a library spends memory
 * or time on it: a registry hive of a size no hive has, and how a failed
 * hivex_open is reported (a failing disk is not bad input). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khreset.h"
#include "offline.h"

#define HBLOCK     4096           /* the base block, then the hive bins */
#define SLACK      (16u << 20)    /* file beyond what the base block says */

static uint32_t le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int implausible(const char *shown, const char *why, unsigned long long size)
{
	kh_seterr("registry hive %s: %llu bytes: %s; not opened", shown, size, why);
	return KH_ERR_HIVE;
}

int off_hive_plausible(int fd, const struct stat *st, const char *shown)
{
	unsigned long long size = (unsigned long long)st->st_size, data;
	unsigned char hdr[HBLOCK];
	ssize_t n;

	if (size > KH_HIVE_MAX)
		return implausible(shown, "larger than a registry hive can be (2 GiB)", size);
	if (size < 2 * HBLOCK)
		return implausible(shown, "too small for a base block and a hive bin", size);
	do
		n = pread(fd, hdr, sizeof(hdr), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {          /* a failing disk: the run fails, it is not bad input */
		kh_seterr("registry hive %s: cannot read: %s", shown, strerror(errno));
		return KH_ERR_IO;
	}
	if (n != (ssize_t)sizeof(hdr) || memcmp(hdr, "regf", 4) != 0)
		return implausible(shown, "no registry hive signature (regf)", size);
	/* the base block's length of the hive bins, at 0x28 */
	data = HBLOCK + (unsigned long long)le32(hdr + 0x28);
	if (data > size)
		return implausible(shown, "shorter than its base block says: truncated", size);
	if (size - data > SLACK) {
		kh_seterr("registry hive %s: %llu bytes, but its base block says %llu: not a "
			  "plausible hive (a sparse or padded file?); not opened", shown, size, data);
		return KH_ERR_HIVE;
	}
	return KH_OK;
}

int off_hive_open_failed(int e, const char *shown)
{
	if (e == EIO || e == ENOMEM) {
		kh_seterr("registry hive %s: cannot read: %s", shown, strerror(e));
		return e == EIO ? KH_ERR_IO : KH_ERR_NOMEM;
	}
	kh_seterr("registry hive %s: corrupt or unreadable (%s)", shown, strerror(e));
	return KH_ERR_HIVE;
}
