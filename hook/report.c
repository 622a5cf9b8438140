/* report.c - the status document as JSON (jansson) and the human summary. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "khreset.h"
#include "report.h"

static const char *const licnames[] = {
	"unknown", "unlicensed", "licensed", "grace", "notification"
};

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
		up = json_pack("{s:I, s:s?, s:o, s:s?, s:{s:s, s:o, s:o, s:b}}",
			       "build", (json_int_t)u->build, "product", u->product,
			       "time", jtime_or_null(u->time),
			       "time_source", upgrade_time_from_name(u->time_from),
			       "evidence", "key", u->key, "name_date", jtime_or_null(u->name_date),
			       "last_write", jtime_or_null(u->last_write), "newest_key", u->newest);
	return json_pack("{s:I, s:o, s:b, s:o}", "build", (json_int_t)o->build,
			 "upgraded_from", up, "windows_old", o->windows_old,
			 "hives", jhives(o));
}

static json_t *jbundle(const struct kh_obs *o)
{
	json_t *files = json_array();
	const struct kh_bundle *b = o->bundle;

	for (size_t i = 0; b && i < b->n; i++)
		json_array_append_new(files, json_pack("{s:s, s:s}", "name", b->files[i].name,
						       "sha256", b->files[i].sha256));
	return json_pack("{s:s?, s:b, s:b, s:o, s:s?}", "path", o->bundle_path,
			 "verified", b && b->verified, "signed", b && b->is_signed,
			 "files", files, "error", o->bundle_msg);
}

static json_t *jentries(const struct kh_entry *e, size_t n, int with_class)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *j = json_pack("{s:s, s:I, s:o, s:s?}", "name", e[i].name,
				      "size", (json_int_t)e[i].size, "mtime", jtime(e[i].mtime),
				      "sha256", e[i].sha256[0] ? e[i].sha256 : NULL);
		if (with_class) {
			json_object_set_new(j, "class", json_string(class_name(e[i].cls)));
			json_object_set_new(j, "reason", json_string(e[i].reason ? e[i].reason : ""));
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
		json_array_append_new(steps, json_pack("{s:s, s:b, s:I, s:s}",
			"step", r->steps[i].step, "ok", r->steps[i].ok,
			"ms", (json_int_t)r->steps[i].ms, "detail", r->steps[i].detail));
	j = json_pack("{s:s, s:i, s:s?, s:o}", "outcome", outcome_name(r->outcome), "exit_code",
		      r->exit_code, "backup_id", r->backup_id[0] ? r->backup_id : NULL,
		      "steps", steps);
	if (r->recovery.found)
		json_object_set_new(j, "recovered", json_pack("{s:s, s:i, s:s}",
			"interrupted_run", r->recovery.id, "undone", r->recovery.undone,
			"detail", r->recovery.detail));
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

static void human_system(FILE *out, const struct kh_obs *o)
{
	const struct kh_upgrade *u = o->upgraded_from;
	char when[32];

	fprintf(out, "system:    build %ld, ", o->build);
	if (u) {
		kh_fmt_time(u->time, when);
		fprintf(out, "upgraded from build %ld (%s) ", u->build,
			u->product ? u->product : "?");
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
	if (o->bundle)
		fprintf(out, "bundle:    %s, %zu file(s), %s\n", o->bundle->name ? o->bundle->name : o->bundle_path,
			o->bundle->n, o->bundle->is_signed ? "signature verified" : "unsigned");
	else
		fprintf(out, "bundle:    UNAVAILABLE: %s\n", o->bundle_msg ? o->bundle_msg : "?");
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
		fprintf(out, "recovered: %s\n", r->recovery.detail);
	human_system(out, o);
	fprintf(out, "archive:   %zu entr%s%s%s\n", o->n_archive, o->n_archive == 1 ? "y" : "ies",
		o->archive_missing ? " (folder missing)" : "", r->n_steps ? " as found" : "");
	for (size_t i = 0; i < o->n_archive; i++)
		fprintf(out, "  %-12s %-44s %s\n", class_name(o->archive[i].cls),
			o->archive[i].name, o->archive[i].reason ? o->archive[i].reason : "");
	if (verbose)
		for (size_t i = 0; i < o->n_install; i++)
			fprintf(out, "  install      %-44s %llu bytes\n", o->install[i].name,
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
			r->steps[i].step, r->steps[i].ms, r->steps[i].detail);
	if (r->backup_id[0])
		fprintf(out, "backup:    %s (khreset restore %s puts it back)\n", r->backup_id,
			r->backup_id);
}
