/* record.c - checksummed records of exact bytes: the format of the journal
 * and of the backup manifests (record.h, SPEC section 8).
 *
 * Design: a record is one line, so a reader resynchronises at the next LF
 * whatever happened to the bytes before it; its length and checksum come
 * first, so a torn write (a prefix of a record) or a flipped byte is
 * recognised and the record read as nothing, never half.  Values are
 * escaped byte for byte: a name holding a TAB, a LF, a ';', a leading '#'
 * or spaces, or bytes that are not UTF-8 reads back as it was written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "khreset.h"
#include "record.h"

#define SUMLEN 64

/* ---- writing ---- */

static void put(struct kh_recbuf *b, const void *s, size_t n)
{
	char *ns;

	if (b->nomem)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = 2 * (b->len + n + 1);

		if (cap < 256)
			cap = 256;
		if (!(ns = realloc(b->s, cap))) {
			b->nomem = 1;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static int plain(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '%';
}

void rec_open(struct kh_recbuf *b, const char *type)
{
	b->start = b->len;
	put(b, type, strlen(type));
}

void rec_bytes(struct kh_recbuf *b, const char *key, const void *val, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *v = val;
	size_t i = 0;

	put(b, " ", 1);
	put(b, key, strlen(key));
	put(b, "=", 1);
	while (i < len) {
		size_t run = 0;

		while (i + run < len && plain(v[i + run]))
			run++;
		put(b, v + i, run);
		i += run;
		if (i < len) {
			char esc[3] = { '%', hex[v[i] >> 4], hex[v[i] & 15] };
			put(b, esc, 3);
			i++;
		}
	}
}

void rec_str(struct kh_recbuf *b, const char *key, const char *val)
{
	rec_bytes(b, key, val ? val : "", val ? strlen(val) : 0);
}

void rec_u64(struct kh_recbuf *b, const char *key, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	rec_str(b, key, num);
}

void rec_i64(struct kh_recbuf *b, const char *key, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", (long long)v);
	rec_str(b, key, num);
}

/* The payload is moved right to make room for "LEN SHA " in front. */
void rec_close(struct kh_recbuf *b)
{
	char head[32 + SUMLEN], sum[KH_SHA256_HEX];
	size_t plen;
	int hl;

	if (b->nomem)
		return;
	plen = b->len - b->start;
	if (plen > KH_REC_MAXLEN || kh_sha256_buf(b->s + b->start, plen, sum) != KH_OK) {
		b->nomem = 1;
		return;
	}
	hl = snprintf(head, sizeof(head), "%zu %s ", plen, sum);
	put(b, head, (size_t)hl);      /* grows the text by the head's size */
	if (b->nomem)
		return;
	memmove(b->s + b->start + hl, b->s + b->start, plen);
	memcpy(b->s + b->start, head, (size_t)hl);
	put(b, "\n", 1);
	b->start = b->len;
}

int rec_done(struct kh_recbuf *b)
{
	if (!b->nomem)
		return KH_OK;
	rec_free(b);
	return KH_ERR_NOMEM;
}

void rec_free(struct kh_recbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* ---- reading ---- */

static int is_word(const char *s, size_t n, int key)
{
	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      (key ? c == '_' : c == '-')))
			return 0;
	}
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes an escaped value; 0 when it is not well formed. */
static int unescape(const char *s, size_t n, char **out, size_t *olen)
{
	char *o = malloc(n + 1);
	size_t k = 0;

	*out = o;
	if (!o)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return 0;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return 0;
			o[k++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (plain(c)) {
			o[k++] = (char)c;
		} else {
			return 0;
		}
	}
	o[k] = '\0';
	*olen = k;
	return 1;
}

static void rec_clear(struct kh_rec *r)
{
	free(r->type);
	for (size_t i = 0; i < r->nf; i++) {
		free(r->f[i].key);
		free(r->f[i].val);
	}
	r->type = NULL;
	r->nf = 0;
}

static int damaged(struct kh_rec *r, const char *why)
{
	rec_clear(r);
	r->ok = 0;
	r->why = why;
	return KH_OK;
}

/* The payload: TYPE (SP KEY=VALUE)*. */
static int parse_payload(struct kh_rec *r, const char *p, size_t n)
{
	size_t i = 0, w;

	for (w = 0; w < n && p[w] != ' '; w++)
		;
	if (!is_word(p, w, 0))
		return damaged(r, "no record type");
	if (!(r->type = strndup(p, w)))
		return KH_ERR_NOMEM;
	i = w;
	while (i < n) {
		size_t s = ++i, e, eq;
		struct kh_rfield *f;
		int ok;

		for (e = s; e < n && p[e] != ' '; e++)
			;
		for (eq = s; eq < e && p[eq] != '='; eq++)
			;
		if (eq == e || !is_word(p + s, eq - s, 1))
			return damaged(r, "a field is not KEY=VALUE");
		if (r->nf == KH_REC_MAXF)
			return damaged(r, "too many fields");
		for (size_t k = 0; k < r->nf; k++)
			if (strlen(r->f[k].key) == eq - s && !memcmp(r->f[k].key, p + s, eq - s))
				return damaged(r, "a field given twice");
		f = &r->f[r->nf];
		if (!(f->key = strndup(p + s, eq - s)))
			return KH_ERR_NOMEM;
		ok = unescape(p + eq + 1, e - eq - 1, &f->val, &f->len);
		r->nf++;
		if (ok < 0)
			return KH_ERR_NOMEM;
		if (!ok)
			return damaged(r, "a value is not escaped as written");
		i = e;
	}
	r->ok = 1;
	return KH_OK;
}

/* One line (without its LF): LEN SP SUM SP PAYLOAD. */
static int parse_line(struct kh_rec *r, const char *l, size_t n)
{
	char sum[KH_SHA256_HEX];
	size_t d = 0, len = 0;

	while (d < n && d < 8 && l[d] >= '0' && l[d] <= '9')
		len = len * 10 + (size_t)(l[d++] - '0');
	if (d == 0 || d >= n || l[d] != ' ' || (l[0] == '0' && d > 1))
		return damaged(r, "no length");
	if (len > KH_REC_MAXLEN || n - d - 1 < SUMLEN + 1 || l[d + 1 + SUMLEN] != ' ')
		return damaged(r, "no checksum");
	if (n - d - 2 - SUMLEN != len)
		return damaged(r, "length does not match");
	for (size_t i = 0; i < SUMLEN; i++) {
		char c = l[d + 1 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return damaged(r, "no checksum");
	}
	if (kh_sha256_buf(l + d + 2 + SUMLEN, len, sum) != KH_OK)
		return KH_ERR_NOMEM;
	if (memcmp(sum, l + d + 1, SUMLEN))
		return damaged(r, "checksum does not match");
	return parse_payload(r, l + d + 2 + SUMLEN, len);
}

int rec_parse(const void *buf, size_t len, struct kh_recs *out)
{
	const char *s = buf;
	size_t pos = 0, cap = 0;
	int rc = KH_OK;

	memset(out, 0, sizeof(*out));
	while (rc == KH_OK && pos < len) {
		const char *nl = memchr(s + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (s + pos)) : len - pos;
		struct kh_rec *r;

		if (out->n == cap) {
			size_t nc = cap ? 2 * cap : 16;
			struct kh_rec *nr = realloc(out->r, nc * sizeof(*nr));
			if (!nr) {
				rc = KH_ERR_NOMEM;
				break;
			}
			out->r = nr;
			cap = nc;
		}
		r = &out->r[out->n++];
		memset(r, 0, sizeof(*r));
		r->line = out->n;
		r->offset = pos;
		rc = parse_line(r, s + pos, n);
		if (rc == KH_OK && !nl) {
			if (r->ok)
				damaged(r, "no end of line");
			r->torn = 1;
		}
		if (!r->ok)
			out->damaged++;
		pos += n + (nl != NULL);
	}
	if (rc != KH_OK)
		rec_free_all(out);
	return rc;
}

void rec_free_all(struct kh_recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		rec_clear(&rs->r[i]);
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

const char *rec_getn(const struct kh_rec *r, const char *key, size_t *len)
{
	for (size_t i = 0; r->ok && i < r->nf; i++)
		if (!strcmp(r->f[i].key, key)) {
			if (len)
				*len = r->f[i].len;
			return r->f[i].val;
		}
	return NULL;
}

const char *rec_get(const struct kh_rec *r, const char *key)
{
	size_t n;
	const char *v = rec_getn(r, key, &n);

	return v && strlen(v) == n ? v : NULL;
}

/* A decimal number without sign or leading zero, in range. */
static int parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!s || !*s || (s[0] == '0' && s[1]))
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return 0;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return 1;
}

int rec_get_u64(const struct kh_rec *r, const char *key, uint64_t *v)
{
	return parse_u64(rec_get(r, key), v);
}

int rec_get_i64(const struct kh_rec *r, const char *key, int64_t *v)
{
	const char *s = rec_get(r, key);
	int neg = s && s[0] == '-';
	uint64_t x;

	if (!parse_u64(s ? s + neg : NULL, &x) || x > (uint64_t)INT64_MAX + neg ||
	    (neg && x == 0))
		return 0;
	*v = neg ? (int64_t)(0 - x) : (int64_t)x;
	return 1;
}
