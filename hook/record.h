/* record.h - the one format of khreset's own state files, the journal and
 * the backup manifests (SPEC section 8): one record a line, each carrying
 * its own length and checksum, fields holding exact bytes.
 *
 *   LEN SP SHA256 SP TYPE ( SP KEY "=" VALUE )* LF
 *
 * LEN is the decimal byte count of what follows the checksum's space up to
 * (not including) LF; SHA256 is the lowercase hex SHA-256 of those bytes.
 * TYPE and KEY are [a-z0-9-] and [a-z0-9_]; a VALUE is any bytes, each
 * byte outside '!'..'~' and '%' itself written %XX, so a record never holds
 * a space, a control byte or a LF of its own.  A line whose length,
 * checksum or syntax is wrong is damaged and read as nothing.
 */
#ifndef KH_RECORD_H
#define KH_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define KH_REC_MAXF   16            /* fields of one record */
#define KH_REC_MAXLEN (1u << 20)    /* bytes of one record */

/* ---- writing ---- */

/* A growing text of records; after a failed allocation nothing more is
 * added and rec_done reports it. */
struct kh_recbuf {
	char *s;
	size_t len, cap;
	size_t start;      /* where the open record's payload begins */
	int nomem;
};

void rec_open(struct kh_recbuf *b, const char *type);
void rec_bytes(struct kh_recbuf *b, const char *key, const void *val, size_t len);
void rec_str(struct kh_recbuf *b, const char *key, const char *val);   /* NULL: "" */
void rec_u64(struct kh_recbuf *b, const char *key, uint64_t v);
void rec_i64(struct kh_recbuf *b, const char *key, int64_t v);
/* Closes the open record: its length and checksum go in front. */
void rec_close(struct kh_recbuf *b);
/* KH_OK, or KH_ERR_NOMEM when an append failed (the text is freed). */
int rec_done(struct kh_recbuf *b);
void rec_free(struct kh_recbuf *b);

/* ---- reading ---- */

struct kh_rfield {
	char *key;
	char *val;         /* decoded, NUL-terminated (not counted in len) */
	size_t len;
};

struct kh_rec {
	size_t line;       /* 1-based line number */
	size_t offset;     /* byte offset of the line in the file */
	int ok;            /* 0: damaged (why says how), read as nothing */
	int torn;          /* damaged and the last line, without its LF */
	const char *why;
	char *type;
	size_t nf;
	struct kh_rfield f[KH_REC_MAXF];
};

struct kh_recs {
	struct kh_rec *r;
	size_t n;
	size_t damaged;    /* records not ok, torn tail included */
};

/* Splits buf into records: every line becomes one, ok or damaged; nothing
 * in buf is trusted.  KH_ERR_NOMEM only. */
int rec_parse(const void *buf, size_t len, struct kh_recs *out);
void rec_free_all(struct kh_recs *rs);

/* A field's value, NULL when absent.  rec_get refuses a value holding a
 * NUL byte (NULL), rec_getn gives the bytes and their count. */
const char *rec_get(const struct kh_rec *r, const char *key);
const char *rec_getn(const struct kh_rec *r, const char *key, size_t *len);
/* 1 and *v set when the field is a decimal number in range, else 0. */
int rec_get_u64(const struct kh_rec *r, const char *key, uint64_t *v);
int rec_get_i64(const struct kh_rec *r, const char *key, int64_t *v);

#endif
