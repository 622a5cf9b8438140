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

/* An entry's name: "name" as text (jtext) and, when the bytes on disk are
 * not UTF-8, "name_hex" with every byte of them. */
static void jname(json_t *o, const char *name)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(name);
	char *h;

	json_object_set_new(o, "name", jtext(name));
	if (kh_utf8_valid(name, n) || !(h = malloc(2 * n + 1)))
		return;
	for (size_t i = 0; i < n; i++) {
		h[2 * i] = hex[(unsigned char)name[i] >> 4];
		h[2 * i + 1] = hex[(unsigned char)name[i] & 15];
	}
	h[2 * n] = '\0';
	json_object_set_new(o, "name_hex", json_string(h));
	free(h);
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

static json_t *jentries(const struct kh_entry *e, size_t n, int with_class)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *j = json_object();

		jname(j, e[i].name);
		json_object_set_new(j, "size", json_integer((json_int_t)e[i].size));
		json_object_set_new(j, "mtime", jtime(e[i].mtime));
		json_object_set_new(j, "sha256", e[i].sha256[0] ? json_string(e[i].sha256)
								 : json_null());
		if (with_class) {
			json_object_set_new(j, "class", json_string(class_name(e[i].cls)));
			json_object_set_new(j, "reason", jtext(e[i].reason ? e[i].reason : ""));
		}
		json_array_append_new(a, j);
	}
	return a;
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

char *report_json(const struct kh_obs *o, const struct kh_decision *d,
		  const struct kh_result *r)
{
	json_t *doc;
	char *s;

	doc = json_pack("{s:i, s:{s:s, s:s}, s:s, s:o, s:o, s:{s:s, s:I}, s:o, s:o, s:o,"
			" s:s, s:o, s:o}",
		"schema", 1,
		"tool", "name", "khreset", "version", KH_VERSION,
		"mode", o->offline ? "offline" : "live",
		"time", jtime(kh_now()),
		"system", jsystem(o),
		"licence", "status", licnames[o->lic], "reason", (json_int_t)o->lic_reason,
		"bundle", jbundle(o),
		"archive", jentries(o->archive, o->n_archive, 1),
		"install", jentries(o->install, o->n_install, 0),
		"verdict", verdict_name(d->verdict),
		"plan", jplan(d->plan),
		"result", jresult(r));
	if (!doc)
		return NULL;
	json_object_set_new(doc, "repair", jrepair(o));
	json_object_set_new(doc, "registry", regseen_json(o->reg, o->n_reg));
	s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return s;
}

int report_save(kh_plat *p, const char *json, int durable)
{
	int rc = plat_mkdirs(p, KH_STATE_DIR);
	char *text;

	if (rc != KH_OK)
		return rc;
	if (!(text = kh_asprintf("%s\n", json)))
		return KH_ERR_NOMEM;
	rc = durable ? plat_write_atomic(p, KH_STATUS, text, strlen(text))
		     : plat_write_replace(p, KH_STATUS, text, strlen(text));
	free(text);
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
