/* regf.c - is a hive clean?  The regf base block of every hive the offline
 * body opens, and of the transaction logs beside it, read before hivex
 * sees the file.
 *
 * Design: a hive's base block (its first 4 KiB) holds a primary and a
 * secondary sequence number (offsets 4 and 8) and an XOR-32 checksum of
 * its first 508 bytes (offset 508).  Windows raises the primary number
 * before it writes and sets the secondary one equal when the write is
 * complete; since Windows 8.1 recent changes wait in <hive>.LOG1/.LOG2
 * (each a base block of file type 1, 2 or 6, then its data: a "DIRT"
 * vector or "HvLE" log entries at offset 512) until they are flushed into
 * the hive.  So a hive is dirty when its numbers differ, its checksum is
 * wrong, or a log with data carries a sequence number above the hive's
 * secondary one.  Windows replays such logs when it next loads the hive;
 * writing the hive first, and committing it clean, would throw them away.
 * Nothing here replays a log: a dirty hive is reported, and refused for
 * writing.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khreset.h"
#include "offline.h"

#define BASE_BLOCK 4096
#define SUM_LEN    508
#define DATA_AT    512

static uint32_t le32(const unsigned char *b)
{
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

/* The documented checksum: XOR of the first 127 dwords, 0xffffffff
 * stored as 0xfffffffe and 0 as 1. */
static int sum_ok(const unsigned char *b)
{
	uint32_t x = 0;

	for (int i = 0; i < SUM_LEN; i += 4)
		x ^= le32(b + i);
	x = x == 0xffffffffu ? 0xfffffffeu : x == 0 ? 1 : x;
	return x == le32(b + SUM_LEN);
}

/* Reads up to len bytes at offset 0; the count read, -1 on error. */
static ssize_t read_head(int fd, unsigned char *b, size_t len)
{
	size_t n = 0;

	while (n < len) {
		ssize_t got = pread(fd, b + n, len - n, (off_t)n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	return (ssize_t)n;
}

static void note(struct kh_hive_state *st, const char *fmt, ...) KH_PRINTF(2, 3);
static void note(struct kh_hive_state *st, const char *fmt, ...)
{
	size_t at = strlen(st->evidence);
	va_list ap;

	if (at + 3 >= sizeof(st->evidence))
		return;
	if (at) {
		memcpy(st->evidence + at, "; ", 3);
		at += 2;
	}
	va_start(ap, fmt);
	vsnprintf(st->evidence + at, sizeof(st->evidence) - at, fmt, ap);
	va_end(ap);
}

/* One log beside the hive: absent, empty or invalid logs hold nothing
 * Windows would replay; one that cannot be read might, and counts. */
static void check_log(int dfd, const char *disk, const char *suffix,
		      struct kh_hive_state *st)
{
	unsigned char b[DATA_AT + 4];
	char want[NAME_MAX + 1], name[NAME_MAX + 1];
	struct kh_hive_log *lg = &st->log[st->n_log];
	struct stat sb;
	uint32_t type;
	ssize_t n;
	int fd, r;

	if (snprintf(want, sizeof(want), "%s%s", disk, suffix) >= (int)sizeof(want))
		return;
	if (off_find_entry(dfd, want, name, want) != KH_OK) {
		kh_clearerr();
		return;
	}
	memset(lg, 0, sizeof(*lg));
	snprintf(lg->name, sizeof(lg->name), "%.*s", (int)sizeof(lg->name) - 1, name);
	st->n_log++;
	r = off_open_file(dfd, name, O_RDONLY, name, &fd);
	if (r == KH_OK && (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))) {
		close(fd);
		r = off_not_regular(name);
	}
	if (r != KH_OK) {
		note(st, "%s cannot be read (%s): it may hold newer changes", name, kh_lasterr());
		kh_clearerr();
		st->dirty = 1;
		return;
	}
	n = read_head(fd, b, sizeof(b));
	close(fd);
	if (n < 0) {
		note(st, "%s cannot be read (%s): it may hold newer changes", name, strerror(errno));
		st->dirty = 1;
		return;
	}
	if (n < (ssize_t)sizeof(b) || memcmp(b, "regf", 4) || !sum_ok(b))
		return;
	type = le32(b + 28);
	if (type != 1 && type != 2 && type != 6)
		return;
	lg->valid = 1;
	lg->seq1 = le32(b + 4);
	lg->seq2 = le32(b + 8);
	if (lg->seq1 <= st->seq2 || memcmp(b + DATA_AT, type == 6 ? "HvLE" : "DIRT", 4))
		return;
	lg->newer = 1;
	st->dirty = 1;
	note(st, "%s (sequence number %u) holds changes newer than the hive (%u)",
	     name, lg->seq1, st->seq2);
}

/* The record of this hive in p (a new one on first open); NULL when full. */
static struct kh_hive_state *record(kh_plat *p, const char *shown)
{
	size_t max = sizeof(p->hives) / sizeof(p->hives[0]);

	for (size_t i = 0; i < p->n_hives; i++)
		if (!strcmp(p->hives[i].path, shown))
			return &p->hives[i];
	return p->n_hives < max ? &p->hives[p->n_hives++] : NULL;
}

int off_hive_check(kh_plat *p, int dfd, const char *disk, int fd,
		   const char *shown, int write)
{
	static const char *const logs[] = { ".LOG1", ".LOG2" };
	unsigned char b[BASE_BLOCK];
	struct kh_hive_state st, *rec;
	ssize_t n = read_head(fd, b, sizeof(b));

	if (n < 0)
		return off_fail(errno, "cannot read registry hive", shown);
	if (n < (ssize_t)sizeof(b) || memcmp(b, "regf", 4))
		return KH_OK;           /* hivex names it corrupt */
	memset(&st, 0, sizeof(st));
	snprintf(st.path, sizeof(st.path), "%s", shown);
	st.regf = 1;
	st.seq1 = le32(b + 4);
	st.seq2 = le32(b + 8);
	st.sum_ok = sum_ok(b);
	if (st.seq1 != st.seq2) {
		st.dirty = 1;
		note(&st, "primary sequence number %u, secondary %u: a write did not complete",
		     st.seq1, st.seq2);
	}
	if (!st.sum_ok) {
		st.dirty = 1;
		note(&st, "base block checksum wrong: a write did not complete");
	}
	for (size_t i = 0; i < 2; i++)
		check_log(dfd, disk, logs[i], &st);
	if (!st.dirty)
		note(&st, "sequence numbers %u and %u agree%s", st.seq1, st.seq2,
		     st.n_log ? "; no log holds newer changes" : "; no logs");
	if ((rec = record(p, shown)))
		*rec = st;
	if (!st.sum_ok) {       /* unreadable until Windows recovers it */
		kh_seterr("registry hive %s is dirty (%s): Windows recovers it from its "
			  "transaction logs at the next boot; start the VM once and shut it "
			  "down cleanly, then run again", shown, st.evidence);
		return KH_ERR_HIVE;
	}
	if (!write || !st.dirty)
		return KH_OK;
	kh_seterr("registry hive %s is dirty (%s): not written, its pending changes "
		  "would be lost; start the VM once and shut it down cleanly, then run again",
		  shown, st.evidence);
	return KH_ERR_HIVE;
}

size_t plat_hive_states(kh_plat *p, const struct kh_hive_state **out)
{
	*out = p->hives;
	return p->n_hives;
}
