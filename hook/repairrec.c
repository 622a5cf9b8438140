/* repairrec.c - the per-upgrade repair record: written when a run confirms
 * the archive repair, read back by every observation, so that the retry
 * task and later runs for the same upgrade never move what ClipSVC and
 * activation wrote after it (SPEC sections 3 and 4).
 *
 * The record is keyed by the upgrade (the Source OS key of upgraded_from),
 * never by times: a clock set back or ahead cannot re-arm a repair nor
 * suppress one; the times are evidence for people.  A damaged record is
 * warned about and taken as absent - at worst one more repair, which
 * writes a good record - rather than trusted to hold off a repair it may
 * not describe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "khreset.h"
#include "observe.h"
#include "state.h"

#define RFILE_MAX  (64u << 10)   /* nor a record file */

const char *rrec_upgrade_of(const struct kh_upgrade *up)
{
	return up && up->key && *up->key ? up->key : KH_RREC_NONE;
}

int rrec_matches(const struct kh_rrec *rec, const struct kh_upgrade *up)
{
	return rec->from != KH_RREC_ABSENT && !kh_strcasecmp(rec->upgrade, rrec_upgrade_of(up));
}

const char *rrec_from_name(enum kh_rrec_from f)
{
	static const char *const names[] = { NULL, "registry", "repair.json", "run" };

	return (unsigned)f < 4 ? names[f] : NULL;
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t civil_days(int y, int m, int d)
{
	int64_t era, yoe, doy;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

int rrec_parse_time(const char *s, int64_t *t)
{
	static const char form[] = "dddd-dd-ddTdd:dd:ddZ";
	int v[6] = { 0 }, f = 0;
	char back[32];
	int64_t secs;

	if (!s || strlen(s) != sizeof(form) - 1)
		return 0;
	for (size_t i = 0; form[i]; i++) {
		if (form[i] != 'd') {
			if (s[i] != form[i])
				return 0;
			f++;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v[f] = v[f] * 10 + (s[i] - '0');
	}
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
	    v[4] > 59 || v[5] > 59)
		return 0;
	secs = civil_days(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
	kh_fmt_time(secs, back);        /* 2/30 and the like do not come back */
	if (strcmp(back, s))
		return 0;
	*t = secs;
	return 1;
}

/* The three fields as each source names them. */
static const char *const reg_names[3] = { KH_RREC_UPGRADE, KH_RREC_TIME, KH_RREC_BACKUP };
static const char *const json_names[3] = { "repair.upgrade", "repair.time", "repair.backup_id" };

/* The three fields, checked; 1 and r filled, or 0 with why set. */
static int fill(struct kh_rrec *r, enum kh_rrec_from from, const char *const name[3],
		const char *up, const char *time, const char *id, char *why, size_t n)
{
	memset(r, 0, sizeof(*r));
	if (!up || !*up || !kh_utf8_valid(up, strlen(up)) || strlen(up) >= sizeof(r->upgrade) ||
	    kh_u16len(up) > 255)
		snprintf(why, n, "%s is not the name of an upgrade", name[0]);
	else if (!rrec_parse_time(time, &r->time))
		snprintf(why, n, "%s '%s' is not an RFC 3339 UTC time", name[1],
			 time ? time : "");
	else if (!backup_id_ok(id))
		snprintf(why, n, "%s '%s' is not a backup ID", name[2], id ? id : "");
	else {
		snprintf(r->upgrade, sizeof(r->upgrade), "%s", up);
		snprintf(r->backup_id, sizeof(r->backup_id), "%s", id);
		r->from = from;
		return 1;
	}
	memset(r, 0, sizeof(*r));
	return 0;
}

static void damaged(const char *where, const char *why)
{
	kh_log(KH_LOG_WARN, "repair", "%s: the repair record is damaged (%s): taken as absent, "
	       "so this upgrade may be repaired again", where, why);
}

/* 1 and r filled; 0 when the registry holds no record (or a damaged one,
 * warned about). */
static int from_registry(kh_plat *p, struct kh_rrec *r)
{
	char *v[3] = { NULL, NULL, NULL }, why[512] = "";
	int absent = 0, ok = 0;

	for (int i = 0; i < 3; i++) {
		int rc = plat_reg_get(p, KH_RREC_KEY, reg_names[i], &v[i]);

		if (rc == KH_ERR_NOENT)
			absent++;
		else if (rc != KH_OK && !why[0])
			snprintf(why, sizeof(why), "%s: %s", reg_names[i],
				 kh_lasterr()[0] ? kh_lasterr() : kh_errstr(rc));
	}
	kh_clearerr();
	if (absent < 3 && !why[0])
		ok = fill(r, KH_RREC_REGISTRY, reg_names, v[0], v[1], v[2], why, sizeof(why));
	if (absent < 3 && !ok)
		damaged(KH_RREC_KEY, why);
	for (int i = 0; i < 3; i++)
		free(v[i]);
	return ok;
}

int rrec_from_status(const char *text, size_t len, struct kh_rrec *out)
{
	json_error_t e;
	json_t *doc = json_loadb(text, len, 0, &e), *j;
	char why[512];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!doc) {
		kh_seterr("not JSON: line %d: %s", e.line, e.text);
		return -1;
	}
	j = json_is_object(doc) ? json_object_get(doc, "repair") : NULL;
	if (!json_is_object(doc))
		kh_seterr("not a status document (not a JSON object)");
	else if (!j || json_is_null(j))
		rc = 0;
	else if (!json_is_object(j))
		kh_seterr("\"repair\" is neither an object nor null");
	else if (fill(out, KH_RREC_STATUS, json_names, json_string_value(json_object_get(j, "upgrade")),
		      json_string_value(json_object_get(j, "time")),
		      json_string_value(json_object_get(j, "backup_id")), why, sizeof(why)))
		rc = 1;
	else
		kh_seterr("%s", why);
	json_decref(doc);
	return rc;
}

/* 1 and r filled; 0 when the record file holds no record, is not there,
 * or cannot be read or parsed (warned about). */
static int from_file(kh_plat *p, struct kh_rrec *r)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc = plat_read(p, KH_RREC_FILE, RFILE_MAX, &buf, &len);

	memset(r, 0, sizeof(*r));
	if (rc == KH_ERR_NOENT) {
		kh_clearerr();
		return 0;
	}
	if (rc == KH_OK)
		rc = rrec_from_status((const char *)buf, len, r);
	else
		rc = -1;
	free(buf);
	if (rc < 0)
		damaged(KH_RREC_FILE, kh_lasterr());
	kh_clearerr();
	return rc > 0;
}

/* KH_RREC_FILE holding rec (NULL: removed). */
static int put_file(kh_plat *p, const struct kh_rrec *rec)
{
	char when[32], *text = NULL, *s;
	json_t *doc;
	int rc;

	if (!rec) {
		rc = plat_remove(p, KH_RREC_FILE);
		return rc == KH_ERR_NOENT ? KH_OK : rc;
	}
	kh_fmt_time(rec->time, when);
	doc = json_pack("{s:{s:s, s:s, s:s}}", "repair", "upgrade", rec->upgrade, "time", when,
			"backup_id", rec->backup_id);
	s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	text = s ? kh_asprintf("%s\n", s) : NULL;
	rc = plat_mkdirs(p, KH_STATE_DIR);
	if (rc == KH_OK)
		rc = text ? plat_write_atomic(p, KH_RREC_FILE, text, strlen(text)) : KH_ERR_NOMEM;
	free(text);
	free(s);
	json_decref(doc);
	return rc;
}

/* Times are evidence, not the key: a record whose time a clock contradicts
 * still holds, and people are told. */
static void clock_note(const struct kh_rrec *r, const struct kh_upgrade *up)
{
	char when[32], now[32], upt[32];

	kh_fmt_time(r->time, when);
	kh_fmt_time(kh_now(), now);
	if (r->time > kh_now())
		kh_log(KH_LOG_WARN, "repair", "the repair record (%s) is dated %s, later than this "
		       "system's clock (%s): the clock was set back; the record holds all the same "
		       "(it names the upgrade; times decide nothing)", rrec_from_name(r->from),
		       when, now);
	else if (up && up->time && r->time < up->time) {
		kh_fmt_time(up->time, upt);
		kh_log(KH_LOG_WARN, "repair", "the repair record (%s) is dated %s, before the "
		       "upgrade it names (%s): a clock was off; the record holds all the same",
		       rrec_from_name(r->from), when, upt);
	}
}

void rrec_read(kh_plat *p, const struct kh_upgrade *up, struct kh_rrec *out)
{
	struct kh_rrec reg, st;
	int have_reg = from_registry(p, &reg), have_st = 0;

	if (have_reg && rrec_matches(&reg, up))
		*out = reg;
	else if ((have_st = from_file(p, &st)) && rrec_matches(&st, up))
		*out = st;
	else if (have_reg)
		*out = reg;
	else if (have_st)
		*out = st;
	else
		memset(out, 0, sizeof(*out));
	if (rrec_matches(out, up))
		clock_note(out, up);
}

/* The record's values set (v) or deleted (old), under a journal of its
 * own: it holds no undo - the change stands or never happened - but a run
 * killed half-way leaves the journal, whose recovery removes the hive
 * temp file (offline) the kill left behind. */
static int journalled(kh_plat *p, const struct kh_regval *v, const struct kh_regraw *old,
		      size_t n)
{
	char why[1024];
	int rc = journal_begin(p, "record"), jrc;

	if (rc != KH_OK)
		return rc;
	rc = v ? plat_reg_set(p, v, n) : plat_reg_restore(p, old, n);
	snprintf(why, sizeof(why), "%s", kh_lasterr());
	jrc = journal_commit(p);
	if (rc != KH_OK)
		kh_seterr("%s", why);
	return rc != KH_OK ? rc : jrc;
}

void rrec_after_run(kh_plat *p, struct kh_obs *o, unsigned plan, int no_registry,
		    int archive_repaired, const char *backup_id)
{
	struct kh_rrec *rec = &o->repair;
	const char *why = NULL;
	char when[32];
	int offline = plat_is_offline(p);

	if (!archive_repaired || !(plan & KH_ST_BACKUP))
		return;
	memset(rec, 0, sizeof(*rec));
	rec->from = KH_RREC_RUN;
	rec->time = kh_now();
	snprintf(rec->upgrade, sizeof(rec->upgrade), "%s", rrec_upgrade_of(o->upgraded_from));
	snprintf(rec->backup_id, sizeof(rec->backup_id), "%s", backup_id);
	kh_fmt_time(rec->time, when);
	if (offline && no_registry)
		why = "--no-registry";
	else if (offline && obs_dirty_hive(o, "SOFTWARE"))
		why = "the SOFTWARE hive is dirty";
	if (put_file(p, rec) != KH_OK)
		kh_log(KH_LOG_WARN, "repair", "the repair record was not written to %s: %s",
		       KH_RREC_FILE, kh_lasterr());
	if (!why) {
		/* the upgrade last: a write cut short leaves no record of it */
		struct kh_regval v[3] = {
			{ KH_RREC_KEY, KH_RREC_TIME, KH_REG_SZ, when },
			{ KH_RREC_KEY, KH_RREC_BACKUP, KH_REG_SZ, rec->backup_id },
			{ KH_RREC_KEY, KH_RREC_UPGRADE, KH_REG_SZ, rec->upgrade },
		};

		if (journalled(p, v, NULL, 3) != KH_OK) {
			kh_log(KH_LOG_WARN, "repair", "the repair record was not written to %s: %s; "
			       KH_RREC_FILE " and status.json hold it", KH_RREC_KEY, kh_lasterr());
			return;
		}
	}
	kh_log(KH_LOG_INFO, "repair", "archive repair of upgrade '%s' recorded (%s, backup %s) "
	       "in %s: later runs for this upgrade only stage, trigger and wait", rec->upgrade,
	       when, rec->backup_id, why ? KH_RREC_FILE " and status.json only" :
	       KH_RREC_KEY ", " KH_RREC_FILE " and status.json");
	if (why)
		kh_log(KH_LOG_INFO, "repair", "not in the registry: %s", why);
}

void rrec_forget(kh_plat *p, const char *id)
{
	struct kh_rrec reg;
	struct kh_regraw gone[3];
	int rc = KH_OK, named = 0;

	if (from_registry(p, &reg) && !strcmp(reg.backup_id, id)) {
		named = 1;
		for (int i = 0; i < 3; i++)
			gone[i] = (struct kh_regraw){ .key = (char *)KH_RREC_KEY,
						      .name = (char *)reg_names[2 - i] };
		rc = journalled(p, NULL, gone, 3);
		if (rc != KH_OK)
			kh_log(KH_LOG_WARN, "restore", "the repair record in %s was not removed: %s",
			       KH_RREC_KEY, kh_lasterr());
	}
	if (from_file(p, &reg) && !strcmp(reg.backup_id, id)) {
		named = 1;
		if (put_file(p, NULL) != KH_OK)
			kh_log(KH_LOG_WARN, "restore", "the repair record in %s was not removed: %s",
			       KH_RREC_FILE, kh_lasterr());
	}
	/* status.json, the report of the last check or run, is left to the
	 * next one: parsing it here cost a restore of 100,000 entries 130 MB */
	if (named && rc == KH_OK)
		kh_log(KH_LOG_INFO, "restore", "backup %s restored: the repair record naming it is "
		       "removed, the next run may repair again", id);
}
