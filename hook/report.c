/* report.c - the status document as JSON (jansson) and the human summary. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "khreset.h"
#include "regview.h"
#include "report.h"

static const char *const licnames[] = {
	"unknown", "unlicensed", "licensed", "grace", "notification"
};

/* Text from outside as a JSON string, whatever its bytes: each byte that
 * is not UTF-8 becomes U+FFFD (jansson takes UTF-8 only, and would drop
 * the whole value).  NULL stays JSON null. */
static json_t *jtext(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, o = 0;
	json_t *j;
	char *b;

	if (!s)
		return json_null();
	n = strlen(s);
	if (kh_utf8_valid(s, n))
		return json_string(s);
	if (!(b = malloc(n * 3 + 1)))
		return NULL;
	for (size_t i = 0, l; i < n; i += l) {
		if ((l = kh_utf8_len(p + i, n - i))) {
			memcpy(b + o, p + i, l);
			o += l;
		} else {
			memcpy(b + o, "\xef\xbf\xbd", 3);
			o += 3;
			l = 1;
		}
	}
	b[o] = '\0';
	j = json_string(b);
	free(b);
	return j;
}

static json_t *jtime(int64_t t)
{
	char s[32];

	kh_fmt_time(t, s);
	return json_string(s);
}

static json_t *jtime_or_null(int64_t t)
{
	return t ? jtime(t) : json_null();
}

static const char hive_meaning[] =
	"a write did not complete or the transaction logs hold changes not yet in the hive: "
	"Windows replays them at its next boot; what was read may be stale, and khreset does "
	"not write the hive (start the VM once and shut it down cleanly)";

/* Each hive read, with its base block's evidence. */
static json_t *jhives(const struct kh_obs *o)
{
	json_t *a = json_array();

	for (size_t i = 0; i < o->n_hives; i++) {
		const struct kh_hive_state *h = &o->hives[i];
		json_t *logs = json_array();

		for (size_t k = 0; k < h->n_log; k++)
			json_array_append_new(logs, json_pack("{s:s, s:b, s:I, s:I, s:b}",
				"name", h->log[k].name, "valid", h->log[k].valid,
				"primary_sequence", (json_int_t)h->log[k].seq1,
				"secondary_sequence", (json_int_t)h->log[k].seq2,
				"newer", h->log[k].newer));
		json_array_append_new(a, json_pack("{s:s, s:b, s:I, s:I, s:b, s:o, s:s, s:s?}",
			"path", h->path, "dirty", h->dirty,
			"primary_sequence", (json_int_t)h->seq1,
			"secondary_sequence", (json_int_t)h->seq2,
			"checksum_ok", h->sum_ok, "logs", logs, "evidence", h->evidence,
			"meaning", h->dirty ? hive_meaning : NULL));
	}
	return a;
}

/* time and time_source are null when neither the key's last-write time
 * nor its name tells when the upgrade happened; the evidence is both. */
static json_t *jsystem(const struct kh_obs *o)
{
	json_t *up = json_null();
	const struct kh_upgrade *u = o->upgraded_from;

	if (u)
		up = json_pack("{s:I, s:o, s:o, s:s?, s:{s:s, s:o, s:o, s:b}}",
			       "build", (json_int_t)u->build, "product", jtext(u->product),
			       "time", jtime_or_null(u->time),
			       "time_source", upgrade_time_from_name(u->time_from),
			       "evidence", "key", u->key, "name_date", jtime_or_null(u->name_date),
			       "last_write", jtime_or_null(u->last_write), "newest_key", u->newest);
	return json_pack("{s:I, s:o, s:b, s:o}", "build", (json_int_t)o->build,
			 "upgraded_from", up, "windows_old", o->windows_old,
			 "hives", jhives(o));
}

/* The repair record (repairrec.h), null when there is none; current: it
 * names the upgrade the system came from, so run repairs no more. */
static json_t *jrepair(const struct kh_obs *o)
{
	const struct kh_rrec *k = &o->repair;

	if (k->from == KH_RREC_ABSENT)
		return json_null();
	return json_pack("{s:o, s:o, s:s, s:s, s:b}", "upgrade", jtext(k->upgrade),
			 "time", jtime(k->time), "backup_id", k->backup_id,
			 "source", rrec_from_name(k->from), "current",
			 rrec_matches(k, o->upgraded_from));
}

static json_t *jbundle(const struct kh_obs *o)
{
	json_t *files = json_array();
	const struct kh_bundle *b = o->bundle;

	for (size_t i = 0; b && i < b->n; i++)
		json_array_append_new(files, json_pack("{s:s, s:s}", "name", b->files[i].name,
						       "sha256", b->files[i].sha256));
	return json_pack("{s:o, s:b, s:b, s:o, s:o, s:o?}", "path", jtext(o->bundle_path),
			 "verified", b && b->verified, "signed", b && b->is_signed,
			 "target_build", b && b->target_build ? json_integer(b->target_build)
								 : json_null(),
			 "files", files, "error", o->bundle_msg ? jtext(o->bundle_msg) : NULL);
}

static json_t *jplan(unsigned plan)
{
	json_t *a = json_array();

	for (int i = 0; i < KH_ST_COUNT; i++)
		if (plan & (1u << i))
			json_array_append_new(a, json_string(step_name(1u << i)));
	return a;
}

const char *outcome_name(enum kh_outcome o)
{
	static const char *const names[KH_OUT__COUNT] = {
		[KH_OUT_CHECKED] = "checked",   [KH_OUT_HEALTHY] = "healthy",
		[KH_OUT_REPAIRED] = "repaired", [KH_OUT_PENDING] = "pending",
		[KH_OUT_FAILED] = "failed",     [KH_OUT_BLOCKED] = "blocked",
	};

	return (unsigned)o < KH_OUT__COUNT ? names[o] : "unknown";
}

static json_t *jresult(const struct kh_result *r)
{
	json_t *steps = json_array(), *j;

	for (size_t i = 0; i < r->n_steps; i++)
		json_array_append_new(steps, json_pack("{s:s, s:b, s:I, s:o}",
			"step", r->steps[i].step, "ok", r->steps[i].ok,
			"ms", (json_int_t)r->steps[i].ms, "detail", jtext(r->steps[i].detail)));
	j = json_pack("{s:s, s:i, s:s?, s:o}", "outcome", outcome_name(r->outcome), "exit_code",
		      r->exit_code, "backup_id", r->backup_id[0] ? r->backup_id : NULL,
		      "steps", steps);
	if (r->recovery.found)
		json_object_set_new(j, "recovered", json_pack("{s:o, s:i, s:o}",
			"interrupted_run", jtext(r->recovery.id), "undone", r->recovery.undone,
			"detail", jtext(r->recovery.detail)));
	return j;
}

/*
 * The document is written member by member, each archive and install
 * entry built, written and freed in turn, so memory does not grow with
 * the archive.  The layout is json_dumps(doc, JSON_INDENT(2)) of the whole
 * document: each member's value is laid out by jansson, its lines
 * indented by its depth (jw_value); the entries, the hot path at 100,000
 * of them, are written in that layout with only their text from outside
 * (name, reason) passed through jansson.
 */
struct jw {
	kh_put_fn put;
	void *ctx;
	int rc;                 /* the first error; nothing is written after it */
	int pad;                /* spaces after each newline of a value */
	int members;            /* written so far */
	size_t n;
	char buf[1 << 16];
};

static void jw_flush(struct jw *w)
{
	if (w->n && w->rc == KH_OK)
		w->rc = w->put(w->ctx, w->buf, w->n);
	w->n = 0;
}

static void jw_put(struct jw *w, const char *s, size_t len)
{
	while (len && w->rc == KH_OK) {
		size_t k = sizeof(w->buf) - w->n < len ? sizeof(w->buf) - w->n : len;

		memcpy(w->buf + w->n, s, k);
		w->n += k;
		s += k;
		len -= k;
		if (w->n == sizeof(w->buf))
			jw_flush(w);
	}
}

#define JW_LIT(w, s) jw_put((w), (s), sizeof(s) - 1)

/* jansson's output, a newline followed by the value's indent (a JSON
 * string never holds a raw newline) */
static int jw_dumped(const char *s, size_t len, void *data)
{
	static const char spaces[] = "                ";
	struct jw *w = data;
	const char *nl;

	while ((nl = memchr(s, '\n', len))) {
		jw_put(w, s, (size_t)(nl - s) + 1);
		jw_put(w, spaces, (size_t)w->pad);
		len -= (size_t)(nl - s) + 1;
		s = nl + 1;
	}
	jw_put(w, s, len);
	return w->rc == KH_OK ? 0 : -1;
}

/* v (taken) at depth (1: a member of the document) */
static void jw_value(struct jw *w, json_t *v, int depth)
{
	if (!v && w->rc == KH_OK)
		w->rc = KH_ERR_NOMEM;
	if (v && w->rc == KH_OK) {
		w->pad = 2 * depth;
		if (json_dump_callback(v, jw_dumped, w, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				       JSON_ENCODE_ANY) && w->rc == KH_OK)
			w->rc = KH_ERR_NOMEM;
	}
	json_decref(v);
}

/* "key": (key a literal of ours), after the previous member */
static void jw_key(struct jw *w, const char *key)
{
	jw_put(w, w->members++ ? ",\n  \"" : "{\n  \"", 5);
	jw_put(w, key, strlen(key));
	JW_LIT(w, "\": ");
}

static void jw_member(struct jw *w, const char *key, json_t *v)
{
	jw_key(w, key);
	jw_value(w, v, 1);
}

/* Text from outside as a JSON string, laid out by jansson (jtext) */
static void jw_text(struct jw *w, const char *s)
{
	jw_value(w, jtext(s), 0);
}

/* Text of ours that needs no escaping (digits, hex, class names) */
static void jw_quoted(struct jw *w, const char *s)
{
	JW_LIT(w, "\"");
	jw_put(w, s, strlen(s));
	JW_LIT(w, "\"");
}

/* One archive or install entry, as jansson lays out the object: its name
 * as text (jtext) and, when the bytes on disk are not UTF-8, "name_hex"
 * with every byte of them. */
static void jw_entry(struct jw *w, const struct kh_entry *e, int with_class)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(e->name);
	char num[32];

	JW_LIT(w, "{\n      \"name\": ");
	jw_text(w, e->name);
	if (!kh_utf8_valid(e->name, n)) {
		JW_LIT(w, ",\n      \"name_hex\": \"");
		for (size_t i = 0; i < n; i++) {
			jw_put(w, &hex[(unsigned char)e->name[i] >> 4], 1);
			jw_put(w, &hex[(unsigned char)e->name[i] & 15], 1);
		}
		JW_LIT(w, "\"");
	}
	snprintf(num, sizeof(num), "%llu", (unsigned long long)e->size);
	JW_LIT(w, ",\n      \"size\": ");
	jw_put(w, num, strlen(num));
	kh_fmt_time(e->mtime, num);
	JW_LIT(w, ",\n      \"mtime\": ");
	jw_quoted(w, num);
	JW_LIT(w, ",\n      \"sha256\": ");
	if (e->sha256[0])
		jw_quoted(w, e->sha256);
	else
		JW_LIT(w, "null");
	if (with_class) {
		JW_LIT(w, ",\n      \"class\": ");
		jw_quoted(w, class_name(e->cls));
		JW_LIT(w, ",\n      \"reason\": ");
		jw_text(w, e->reason ? e->reason : "");
	}
	JW_LIT(w, "\n    }");
}

static void jw_entries(struct jw *w, const char *key, const struct kh_entry *e, size_t n,
		       int with_class)
{
	jw_key(w, key);
	if (!n)
		JW_LIT(w, "[]");
	for (size_t i = 0; i < n; i++) {
		jw_put(w, i ? ",\n    " : "[\n    ", 6);
		jw_entry(w, &e[i], with_class);
	}
	if (n)
		JW_LIT(w, "\n  ]");
}

int report_write(const struct kh_obs *o, const struct kh_decision *d,
		 const struct kh_result *r, kh_put_fn put, void *ctx)
{
	struct jw *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return KH_ERR_NOMEM;
	w->put = put;
	w->ctx = ctx;
	jw_member(w, "schema", json_integer(1));
	jw_member(w, "tool", json_pack("{s:s, s:s}", "name", "khreset", "version", KH_VERSION));
	jw_member(w, "mode", json_string(o->offline ? "offline" : "live"));
	jw_member(w, "time", jtime(kh_now()));
	jw_member(w, "system", jsystem(o));
	jw_member(w, "licence", json_pack("{s:s, s:I}", "status", licnames[o->lic],
					  "reason", (json_int_t)o->lic_reason));
	jw_member(w, "bundle", jbundle(o));
	jw_entries(w, "archive", o->archive, o->n_archive, 1);
	jw_entries(w, "install", o->install, o->n_install, 0);
	jw_member(w, "verdict", json_string(verdict_name(d->verdict)));
	jw_member(w, "plan", jplan(d->plan));
	jw_member(w, "result", jresult(r));
	jw_member(w, "registry", regseen_json(o->reg, o->n_reg));
	jw_member(w, "repair", jrepair(o));
	JW_LIT(w, "\n}\n");
	jw_flush(w);
	rc = w->rc;
	free(w);
	return rc;
}

/* One pass writes both: the status file and the caller's stream. */
struct tee {
	FILE *out;
	kh_put_fn file;
	void *file_ctx;
	int file_rc;
};

static int put_tee(void *ctx, const void *buf, size_t len)
{
	struct tee *t = ctx;

	if (t->file && t->file_rc == KH_OK) {
		t->file_rc = t->file(t->file_ctx, buf, len);
		kh_test_stop("report-write");   /* killed with the temp file part-written */
	}
	if (t->out)
		fwrite(buf, 1, len, t->out);
	return KH_OK;
}

struct emit {
	const struct kh_obs *o;
	const struct kh_decision *d;
	const struct kh_result *r;
	FILE *out;
	int filled;
};

static int fill_status(kh_put_fn put, void *put_ctx, void *ud)
{
	struct emit *e = ud;
	struct tee t = { e->out, put, put_ctx, KH_OK };
	int rc;

	e->filled = 1;
	rc = report_write(e->o, e->d, e->r, put_tee, &t);
	return rc != KH_OK ? rc : t.file_rc;
}

int report_emit(kh_plat *p, const struct kh_obs *o, const struct kh_decision *d,
		const struct kh_result *r, int save, int durable, FILE *out)
{
	struct emit e = { o, d, r, out, 0 };
	struct tee t = { out, NULL, NULL, KH_OK };
	int rc = KH_OK;

	if (save && (rc = plat_mkdirs(p, KH_STATE_DIR)) == KH_OK)
		rc = plat_write_stream(p, KH_STATUS, durable, fill_status, &e);
	if (!e.filled && out) {
		int wrc = report_write(o, d, r, put_tee, &t);

		rc = rc != KH_OK ? rc : wrc;
	}
	return rc;
}

/* Text from outside, for a terminal: one line, control characters and
 * bytes that are not UTF-8 escaped (kh_escape). */
#define ESC(s) kh_escape((s), (char[1024]){ 0 }, 1024)

static void human_system(FILE *out, const struct kh_obs *o)
{
	const struct kh_upgrade *u = o->upgraded_from;
	char when[32];

	fprintf(out, "system:    build %ld, ", o->build);
	if (u) {
		kh_fmt_time(u->time, when);
		fprintf(out, "upgraded from build %ld (%s) ", u->build,
			u->product ? ESC(u->product) : "?");
		if (u->time_from == KH_TIME_NONE)
			fprintf(out, "at an unknown time");
		else
			fprintf(out, "at %s (%s)", when, u->time_from == KH_TIME_NAME ?
				"date in the key name" : "key last-write time");
	} else
		fprintf(out, "no in-place upgrade recorded");
	fprintf(out, "%s\n", o->windows_old ? "; Windows.old present" : "");
	for (size_t i = 0; i < o->n_hives; i++)
		if (o->hives[i].dirty)
			fprintf(out, "hive:      %s DIRTY: %s\n           (%s)\n", o->hives[i].path,
				o->hives[i].evidence, hive_meaning);
	fprintf(out, "licence:   %s\n", licnames[o->lic]);
	if (o->bundle && o->bundle->target_build && o->build &&
	    o->bundle->target_build != o->build)
		fprintf(out, "bundle:    %s, %zu file(s), %s, FOR BUILD %ld (this is %ld)\n",
			ESC(o->bundle->name ? o->bundle->name : o->bundle_path), o->bundle->n,
			o->bundle->is_signed ? "signature verified" : "unsigned",
			o->bundle->target_build, o->build);
	else if (o->bundle)
		fprintf(out, "bundle:    %s, %zu file(s), %s\n",
			ESC(o->bundle->name ? o->bundle->name : o->bundle_path),
			o->bundle->n, o->bundle->is_signed ? "signature verified" : "unsigned");
	else
		fprintf(out, "bundle:    UNAVAILABLE: %s\n", o->bundle_msg ? ESC(o->bundle_msg) : "?");
	regseen_human(out, o->reg, o->n_reg);
}

/* The repair record in one line, when there is one. */
static void human_repair(FILE *out, const struct kh_obs *o)
{
	const struct kh_rrec *k = &o->repair;
	char when[32];

	if (k->from == KH_RREC_ABSENT)
		return;
	kh_fmt_time(k->time, when);
	if (rrec_matches(k, o->upgraded_from))
		fprintf(out, "repair:    done for this upgrade at %s (backup %s): runs only stage, "
			"trigger and wait\n", when, k->backup_id);
	else
		fprintf(out, "repair:    done at %s for another upgrade (%s, backup %s): this one "
			"is not repaired yet\n", when, ESC(k->upgrade), k->backup_id);
}

void report_human(FILE *out, const struct kh_obs *o, const struct kh_decision *d,
		  const struct kh_result *r, int verbose)
{
	/* a run that only confirmed the verdict shows the verdict */
	if (r->outcome == KH_OUT_CHECKED ||
	    (r->outcome == KH_OUT_HEALTHY && d->verdict == KH_V_HEALTHY) ||
	    (r->outcome == KH_OUT_BLOCKED && d->verdict == KH_V_BLOCKED))
		fprintf(out, "verdict:   %s - %s\n", verdict_name(d->verdict), d->why);
	else
		fprintf(out, "outcome:   %s (verdict %s: %s)\n", outcome_name(r->outcome),
			verdict_name(d->verdict), d->why);
	if (r->recovery.found)
		fprintf(out, "recovered: %s\n", ESC(r->recovery.detail));
	human_system(out, o);
	human_repair(out, o);
	fprintf(out, "archive:   %zu entr%s%s%s\n", o->n_archive, o->n_archive == 1 ? "y" : "ies",
		o->archive_missing ? " (folder missing)" : "", r->n_steps ? " as found" : "");
	for (size_t i = 0; i < o->n_archive; i++)
		fprintf(out, "  %-12s %-44s %s\n", class_name(o->archive[i].cls),
			ESC(o->archive[i].name), o->archive[i].reason ? ESC(o->archive[i].reason) : "");
	if (verbose)
		for (size_t i = 0; i < o->n_install; i++)
			fprintf(out, "  install      %-44s %llu bytes\n", ESC(o->install[i].name),
				(unsigned long long)o->install[i].size);
	if (d->plan) {
		fprintf(out, "plan:     ");
		for (int i = 0; i < KH_ST_COUNT; i++)
			if (d->plan & (1u << i))
				fprintf(out, " %s", step_name(1u << i));
		fputc('\n', out);
	}
	for (size_t i = 0; i < r->n_steps; i++)
		fprintf(out, "  %-4s %-16s %5ld ms  %s\n", r->steps[i].ok ? "ok" : "FAIL",
			r->steps[i].step, r->steps[i].ms, ESC(r->steps[i].detail));
	if (r->backup_id[0])
		fprintf(out, "backup:    %s (khreset restore %s puts it back)\n", r->backup_id,
			r->backup_id);
}
