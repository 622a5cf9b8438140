/* journal.c - the write-ahead journal and recovery (SPEC section 8).
 *
 * Design: every destructive action is first written to the journal as a
 * record of record.h and fsynced, then done; a run is over when its
 * commit record is on disk.  Recovery trusts a record only when it names
 * what khreset owns: the configured archive and install folders, the
 * backups the journal itself made (or restores from), the two hives, the
 * configured registry values.  It undoes an unfinished run in three
 * passes - the archive and install first (last record first), then the
 * registry, then the backups' states - tries every undo even when another
 * fails, and checks what it moves against the digests recorded.  It never
 * deletes anything but its own temp files and staged files that hold
 * exactly what was staged; whatever it finds in an original's place moves
 * into the backup's rolled-back part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "khreset.h"
#include "budget.h"
#include "state.h"

#define JOURNAL_FORMAT "1"
#define MAX_DIGEST  ((size_t)1 << 31)   /* hives included */

/* ---- the journal: writing ---- */

static unsigned long jcount;     /* records this process appended */
static struct kh_recbuf batch;   /* journal_hold: records kept for one append */
#define HOLD_MAX ((size_t)1 << 20)  /* ... of at most about this many bytes */
static int holding;

/* Test seams (SPEC section 10): KHRESET_TEST_STOP_AT=journal-N kills the
 * run once record N is on disk, journal-tear-N while half of it is.  A
 * batch (journal_hold) is one append of many records, each counted. */
static int jappend(kh_plat *p, struct kh_recbuf *t)
{
	const char *at = getenv("KHRESET_TEST_STOP_AT");
	unsigned long first = jcount + 1;
	char name[40];
	int rc = rec_done(t);

	/* records end in '\n' (a record never holds a raw one) */
	for (size_t i = 0, start = 0; rc == KH_OK && i < t->len; i++) {
		if (t->s[i] != '\n')
			continue;
		jcount++;
		if (at && !strncmp(at, "journal-tear-", 13)) {
			snprintf(name, sizeof(name), "journal-tear-%lu", jcount);
			if (!strcmp(at, name) &&
			    plat_append_sync(p, KH_JOURNAL, t->s, start + (i + 1 - start) / 2) == KH_OK)
				kh_test_stop(name);
		}
		start = i + 1;
	}
	if (rc == KH_OK)
		rc = plat_append_sync(p, KH_JOURNAL, t->s, t->len);
	rec_free(t);
	for (unsigned long k = first; rc == KH_OK && at && k <= jcount; k++) {
		snprintf(name, sizeof(name), "journal-%lu", k);
		kh_test_stop(name);
	}
	return rc;
}

int journal_begin(kh_plat *p, const char *kind)
{
	struct kh_recbuf t = { 0 };
	char when[32];
	int rc;

	kh_fmt_time(kh_now(), when);
	rec_open(&t, "khreset-journal");
	rec_str(&t, "format", JOURNAL_FORMAT);
	rec_str(&t, "kind", kind);
	rec_i64(&t, "pid", (int64_t)getpid());
	rec_str(&t, "started", when);
	rec_str(&t, "tool", "khreset " KH_VERSION);
	rec_close(&t);
	rc = jappend(p, &t);
	/* nothing has changed yet: what a full disk let through goes */
	if (rc != KH_OK && plat_remove(p, KH_JOURNAL) != KH_OK)
		kh_log(KH_LOG_WARN, "journal", "%s not removed after a failed start", KH_JOURNAL);
	return rc;
}

int journal_backup(kh_plat *p, const char *id, const char *role)
{
	struct kh_recbuf t = { 0 };

	rec_open(&t, "backup");
	rec_str(&t, "id", id);
	rec_str(&t, "role", role);
	rec_close(&t);
	return jappend(p, &t);
}

void journal_hold(void)
{
	rec_free(&batch);
	memset(&batch, 0, sizeof(batch));
	holding = 1;
}

int journal_release(kh_plat *p)
{
	int rc = KH_OK;

	holding = 0;
	if (batch.len || batch.nomem)
		rc = jappend(p, &batch);
	memset(&batch, 0, sizeof(batch));
	return rc;
}

int journal_move(kh_plat *p, const char *name, const char *from, const char *to,
		 enum kh_ftype type, uint64_t size, const char *sha256)
{
	struct kh_recbuf t = { 0 }, *b = holding ? &batch : &t;
	int rc;

	rec_open(b, "move");
	rec_str(b, "name", name);
	rec_str(b, "from", from);
	rec_str(b, "to", to);
	rec_str(b, "type", ftype_name(type));
	rec_u64(b, "size", size);
	rec_str(b, "sha256", sha256);
	rec_close(b);
	if (!holding)
		return jappend(p, &t);
	/* memory stays bounded: a held batch goes out a MiB at a time - still
	 * all of it before the first move is done */
	if (batch.len < HOLD_MAX)
		return KH_OK;
	rc = jappend(p, &batch);
	memset(&batch, 0, sizeof(batch));
	return rc;
}

int journal_stage(kh_plat *p, const char *dir, const char *name, const char *sha256)
{
	struct kh_recbuf t = { 0 };

	rec_open(&t, "stage");
	rec_str(&t, "dir", dir);
	rec_str(&t, "name", name);
	rec_str(&t, "sha256", sha256);
	rec_close(&t);
	return jappend(p, &t);
}

int journal_state(kh_plat *p, const char *id, enum kh_bstate from, enum kh_bstate to)
{
	struct kh_recbuf t = { 0 };

	rec_open(&t, "state");
	rec_str(&t, "id", id);
	rec_str(&t, "from", bstate_name(from));
	rec_str(&t, "to", bstate_name(to));
	rec_close(&t);
	return jappend(p, &t);
}

int journal_hive(kh_plat *p, const char *name, const char *temp, const char *hold,
		 const char *sha_old, const char *sha_new)
{
	struct kh_recbuf t = { 0 };

	rec_open(&t, "hive");
	rec_str(&t, "dir", KH_HIVE_DIR);
	rec_str(&t, "name", name);
	rec_str(&t, "temp", temp);
	rec_str(&t, "hold", hold);
	rec_str(&t, "old", sha_old);
	rec_str(&t, "new", sha_new);
	rec_close(&t);
	return jappend(p, &t);
}

int journal_regval(kh_plat *p, const struct kh_regraw *old)
{
	struct kh_recbuf t = { 0 };

	rec_open(&t, old->name ? "regval" : "regkey");
	rec_str(&t, "key", old->key);
	if (old->name)
		rec_str(&t, "name", old->name);
	rec_u64(&t, "present", old->present != 0);
	if (old->name && old->present) {
		rec_u64(&t, "type", old->type);
		rec_bytes(&t, "data", old->data, old->len);
	}
	rec_close(&t);
	return jappend(p, &t);
}

static int jmark(kh_plat *p, const char *type)
{
	struct kh_recbuf t = { 0 };

	rec_open(&t, type);
	rec_close(&t);
	return jappend(p, &t);
}

int journal_rollback(kh_plat *p)
{
	return jmark(p, "rollback");
}

int journal_commit(kh_plat *p)
{
	int rc = kh_test_fail("journal-commit");

	if (rc == KH_OK)
		rc = jmark(p, "commit");
	if (rc != KH_OK)
		kh_log(KH_LOG_WARN, "journal", "commit record not written (%s); removing the "
		       "journal instead", kh_lasterr());
	kh_test_stop("journal-committed");
	{
		int rm = kh_test_fail("journal-remove");

		if (rm == KH_OK)
			rm = plat_remove(p, KH_JOURNAL);
		if (rm == KH_ERR_NOENT)
			rm = KH_OK;
		if (rm == KH_OK)
			return KH_OK;
		if (rc == KH_OK) {
			kh_log(KH_LOG_WARN, "journal", "committed journal not removed (%s); the "
			       "next run removes it", kh_lasterr());
			return KH_OK;
		}
		return rm;
	}
}

/* ---- the journal: reading ---- */

enum { J_BEGIN, J_BACKUP, J_MOVE, J_STAGE, J_STATE, J_HIVE, J_REGVAL, J_REGKEY,
       J_ROLLBACK, J_COMMIT, J_OTHER };
static const char *const jtypes[] = {
	[J_BEGIN] = "khreset-journal", [J_BACKUP] = "backup", [J_MOVE] = "move",
	[J_STAGE] = "stage", [J_STATE] = "state", [J_HIVE] = "hive", [J_REGVAL] = "regval",
	[J_REGKEY] = "regkey", [J_ROLLBACK] = "rollback", [J_COMMIT] = "commit",
};

static int jkind(const char *type)
{
	for (int i = 0; i < J_OTHER; i++)
		if (!strcmp(type, jtypes[i]))
			return i;
	return J_OTHER;
}

static int in_set(const char set[][32], size_t n, const char *id)
{
	for (size_t i = 0; id && i < n; i++)
		if (!strcmp(set[i], id))
			return 1;
	return 0;
}

/* dir is backup\ID\PART of one of the set; *id set to it. */
static int is_backup_part(const char set[][32], size_t n, const char *dir, const char *part,
			  const char **id)
{
	for (size_t i = 0; dir && i < n; i++) {
		char *want = backup_path(set[i], part, NULL);
		int eq = want && state_path_eq(dir, want);

		free(want);
		if (eq) {
			*id = set[i];
			return 1;
		}
	}
	return 0;
}

static const char *trust_move(const struct kh_journal *j, const struct kh_rec *r,
			      const struct kh_config *c)
{
	const char *from = rec_get(r, "from"), *to = rec_get(r, "to"), *id, *sha;
	enum kh_ftype t;
	uint64_t size;

	if (!state_name_ok(rec_get(r, "name")) || !ftype_parse(rec_get(r, "type"), &t) ||
	    !rec_get_u64(r, "size", &size) || !(sha = rec_get(r, "sha256")) ||
	    (*sha && !kh_is_sha256_hex(sha)))
		return "an incomplete move";
	if (from && to && state_path_eq(from, c->archive_dir) &&
	    is_backup_part(j->own, j->n_own, to, KH_PART_ARCHIVE, &id))
		return NULL;
	if (from && to && state_path_eq(from, c->install_dir) &&
	    is_backup_part(j->own, j->n_own, to, KH_PART_INSTALL, &id))
		return NULL;
	if (from && to && state_path_eq(to, c->archive_dir) &&
	    is_backup_part(j->source, j->n_source, from, KH_PART_ARCHIVE, &id))
		return NULL;
	return "a move outside the archive, install and backup folders the run owns";
}

static const char *trust_hive(const struct kh_journal *j, const struct kh_rec *r)
{
	const char *name = rec_get(r, "name"), *temp = rec_get(r, "temp"), *id;
	const char *old = rec_get(r, "old"), *nw = rec_get(r, "new");
	char want[64];

	if (!name || (kh_strcasecmp(name, "SYSTEM") && kh_strcasecmp(name, "SOFTWARE")) ||
	    !rec_get(r, "dir") || !state_path_eq(rec_get(r, "dir"), KH_HIVE_DIR))
		return "a hive other than SYSTEM or SOFTWARE";
	if (!j->pid || kh_temp_name(want, sizeof(want), name, j->pid) != KH_OK || !temp ||
	    strcmp(temp, want))
		return "a hive temp file that is not the run's";
	if (!is_backup_part(j->own, j->n_own, rec_get(r, "hold"),
			    KH_PART_REGISTRY, &id))
		return "a hive held outside the run's backup";
	if (!old || !nw || !kh_is_sha256_hex(old) || !kh_is_sha256_hex(nw))
		return "a hive without its digests";
	return NULL;
}

/* A registry value (or key) the configuration names: what the run sets. */
static const char *trust_reg(const struct kh_rec *r, int kind, const struct kh_config *c)
{
	const char *key = rec_get(r, "key"), *name = rec_get(r, "name");
	uint64_t present, type;

	if (!key || !rec_get_u64(r, "present", &present) || present > 1)
		return "an incomplete registry record";
	if (kind == J_REGVAL && (!name || (present && (!rec_get_u64(r, "type", &type) ||
				 type > UINT32_MAX || !rec_getn(r, "data", NULL)))))
		return "an incomplete registry record";
	for (size_t i = 0; i < c->n_reg; i++) {
		const char *ck = c->reg[i].key;
		size_t kl = strlen(key);

		if (kind == J_REGVAL && state_path_eq(key, ck) && !kh_strcasecmp(name, c->reg[i].name))
			return NULL;
		if (kind == J_REGKEY && strlen(ck) >= kl) {
			char *pre = kh_asprintf("%.*s", (int)kl, ck);
			int ok = pre && state_path_eq(pre, key) && (ck[kl] == '\0' || ck[kl] == '\\');

			free(pre);
			if (ok)
				return NULL;
		}
	}
	return "a registry value the configuration does not name";
}

static const char *trust(struct kh_journal *j, const struct kh_rec *r, int kind,
			 const struct kh_config *c)
{
	const char *id = rec_get(r, "id"), *role = rec_get(r, "role");
	enum kh_bstate s;

	switch (kind) {
	case J_BACKUP:
		if (!backup_id_ok(id) || !role || (strcmp(role, "own") && strcmp(role, "source")))
			return "a backup record without a backup ID";
		if (!strcmp(role, "own") && j->n_own < 4 && !in_set(j->own, j->n_own, id))
			snprintf(j->own[j->n_own++], 32, "%s", id);
		else if (!strcmp(role, "source") && j->n_source < 4 &&
			 !in_set(j->source, j->n_source, id))
			snprintf(j->source[j->n_source++], 32, "%s", id);
		return NULL;
	case J_MOVE:
		return trust_move(j, r, c);
	case J_STAGE:
		if (!rec_get(r, "dir") || !state_path_eq(rec_get(r, "dir"), c->install_dir) ||
		    !state_name_ok(rec_get(r, "name")) || !kh_is_sha256_hex(rec_get(r, "sha256")))
			return "a staged file outside the install folder";
		return NULL;
	case J_STATE:
		if (!(in_set(j->own, j->n_own, id) || in_set(j->source, j->n_source, id)) ||
		    !bstate_parse(rec_get(r, "from"), &s) || !bstate_parse(rec_get(r, "to"), &s))
			return "a state of a backup the run does not own";
		return NULL;
	case J_HIVE:
		return trust_hive(j, r);
	case J_REGVAL:
	case J_REGKEY:
		return trust_reg(r, kind, c);
	case J_ROLLBACK:
		j->rolling_back = 1;
		return NULL;
	case J_COMMIT:
		j->committed = 1;
		return NULL;
	case J_BEGIN:
		return "a second begin record";
	}
	return "a record of a kind this khreset does not know";
}

int journal_parse(const void *buf, size_t len, const struct kh_config *c,
		  struct kh_journal *j)
{
	int rc;

	memset(j, 0, sizeof(*j));
	if ((rc = rec_parse(buf, len, &j->recs)) != KH_OK)
		return rc;
	if (!(j->j = calloc(j->recs.n ? j->recs.n : 1, sizeof(*j->j)))) {
		journal_free(j);
		return KH_ERR_NOMEM;
	}
	for (size_t i = 0; i < j->recs.n; i++) {
		const struct kh_rec *r = &j->recs.r[i];
		struct kh_jrec *e = &j->j[j->n++];

		e->rec = r;
		e->kind = r->ok ? jkind(r->type) : J_OTHER;
		if (!r->ok) {
			if (r->torn)
				j->torn++;
			else
				j->damaged++;
			e->why = r->why;
			continue;
		}
		if (e->kind == J_BEGIN && i == 0) {
			const char *fmt = rec_get(r, "format"), *kind = rec_get(r, "kind");
			int64_t pid;

			if (!fmt || strcmp(fmt, JOURNAL_FORMAT)) {
				kh_seterr("%s: format %s, not one this khreset knows; nothing undone",
					  KH_JOURNAL, fmt ? fmt : "(none)");
				journal_free(j);
				return KH_ERR_DATA;
			}
			snprintf(j->kind, sizeof(j->kind), "%s", kind ? kind : "");
			if (rec_get_i64(r, "pid", &pid) && pid > 0 && pid < INT32_MAX)
				j->pid = (long)pid;
			e->trusted = 1;
			continue;
		}
		e->why = j->j[0].trusted ? trust(j, r, e->kind, c)
					 : "a journal whose begin record is damaged or missing";
		e->trusted = e->why == NULL;
		if (!e->trusted)
			j->untrusted++;
	}
	return KH_OK;
}

void journal_free(struct kh_journal *j)
{
	rec_free_all(&j->recs);
	free(j->j);
	memset(j, 0, sizeof(*j));
}

/* ---- recovery ---- */

struct undo {
	kh_plat *p;
	const struct kh_config *c;
	struct kh_journal *j;
	struct kh_recovery *r;
	int first_err;         /* of the undos that failed */
	int failed;
	char first_msg[256];
};

static void undo_fail(struct undo *u, int rc, const char *what)
{
	u->failed++;
	kh_log(KH_LOG_ERROR, "recover", "%s: %s", what, kh_lasterr()[0] ? kh_lasterr()
								      : kh_errstr(rc));
	if (u->first_err == KH_OK) {
		u->first_err = rc;
		snprintf(u->first_msg, sizeof(u->first_msg), "%s: %s", what,
			 kh_lasterr()[0] ? kh_lasterr() : kh_errstr(rc));
	}
}

static void undone(struct undo *u)
{
	char name[32];

	u->r->undone++;
	snprintf(name, sizeof(name), "recover-%d", u->r->undone);
	kh_test_stop(name);
}

/* A temp file of the run goes; anything else by that name stays. */
static int remove_temp(kh_plat *p, const char *path)
{
	struct kh_dirent st;
	int rc = plat_stat(p, path, &st);

	if (rc == KH_OK) {
		free(st.name);
		rc = st.type == KH_FT_FILE ? plat_remove(p, path) : KH_ERR_UNSAFE;
	}
	if (rc == KH_OK)
		kh_log(KH_LOG_INFO, "recover", "removed unfinished temp file %s", path);
	kh_clearerr();
	return rc;
}

/* What does not match its record stays where it is, said, not moved. */
static void left(struct undo *u)
{
	u->r->ignored++;
	kh_log(KH_LOG_WARN, "recover", "%s", kh_lasterr());
	kh_clearerr();
}

/* Whatever stands at path moves into the run's rolled-back part (a
 * counter added when the name is taken there). */
static int move_aside(struct undo *u, const char *path, const char *name)
{
	char *dir, *to = NULL;
	int rc;

	if (!u->j->n_own) {
		kh_seterr("%s is in the way and the run made no backup to move it into", path);
		return KH_ERR_EXISTS;
	}
	if (!(dir = backup_path(u->j->own[0], KH_PART_ROLLED, NULL)))
		return KH_ERR_NOMEM;
	rc = plat_mkdirs(u->p, dir);
	for (int i = 1; rc == KH_OK && i < 100; i++) {
		free(to);
		to = i == 1 ? kh_asprintf("%s\\%s", dir, name)
			    : kh_asprintf("%s\\%s.%d", dir, name, i);
		if (!to) {
			rc = KH_ERR_NOMEM;
			break;
		}
		if ((rc = kh_busy_rename(u->p, path, to)) != KH_ERR_EXISTS)
			break;
	}
	if (rc == KH_OK)
		kh_log(KH_LOG_INFO, "recover", "moved %s, found in an original's place, to %s",
		       path, to);
	free(to);
	free(dir);
	return rc;
}

/* The entry at path is the one recorded: type, size and digest. */
static int verify(struct undo *u, const char *path, enum kh_ftype type, uint64_t size,
		  const char *sha, const struct kh_dirent *st)
{
	char now[KH_SHA256_HEX];
	int rc;

	if (st->type != type || (type == KH_FT_FILE && st->size != size)) {
		kh_seterr("%s is not what the journal recorded (type or size differ); "
			  "left where it is", path);
		return KH_ERR_DATA;
	}
	if (type != KH_FT_FILE || !*sha)
		return KH_OK;
	if ((rc = state_digest(u->p, path, MAX_DIGEST, now)) != KH_OK)
		return rc;
	if (strcmp(now, sha)) {
		kh_seterr("%s has digest %s, the journal recorded %s; left where it is", path,
			  now, sha);
		return KH_ERR_DATA;
	}
	return KH_OK;
}

/* Entry `name` goes back from `to` to `from`; a newcomer at `from` moves
 * aside first. */
static int undo_move(struct undo *u, const struct kh_rec *r)
{
	const char *name = rec_get(r, "name"), *from_dir = rec_get(r, "from");
	const char *to_dir = rec_get(r, "to"), *sha = rec_get(r, "sha256");
	char *from = kh_asprintf("%s\\%s", from_dir, name);
	char *to = kh_asprintf("%s\\%s", to_dir, name);
	struct kh_dirent st;
	enum kh_ftype type = KH_FT_FILE;
	uint64_t size = 0;
	int rc = from && to ? plat_stat(u->p, to, &st) : KH_ERR_NOMEM;

	ftype_parse(rec_get(r, "type"), &type);
	rec_get_u64(r, "size", &size);
	if (rc == KH_ERR_NOENT) {
		kh_clearerr();
		rc = KH_OK;            /* never moved, or back already */
		goto out;
	}
	if (rc != KH_OK)
		goto out;
	free(st.name);
	if ((rc = verify(u, to, type, size, sha, &st)) != KH_OK)
		goto out;
	rc = plat_stat(u->p, from, &st);
	if (rc == KH_OK) {
		free(st.name);
		rc = move_aside(u, from, name);
	} else if (rc == KH_ERR_NOENT) {
		kh_clearerr();
		rc = KH_OK;
	}
	if (rc == KH_OK && (rc = kh_busy_rename(u->p, to, from)) == KH_OK) {
		kh_log(KH_LOG_INFO, "recover", "moved %s back to %s", to, from);
		undone(u);
	}
out:
	if (rc == KH_ERR_DATA)
		left(u);
	else if (rc != KH_OK)
		undo_fail(u, rc, to ? to : "a move");
	free(from);
	free(to);
	return rc;
}

/* A staged file is removed only if it holds exactly what we wrote. */
static void undo_stage(struct undo *u, const struct kh_rec *r)
{
	const char *dir = rec_get(r, "dir"), *name = rec_get(r, "name");
	char now[KH_SHA256_HEX], leaf[256], *path = kh_asprintf("%s\\%s", dir, name), *tmp;
	int rc;

	if (!path)
		return undo_fail(u, KH_ERR_NOMEM, "a staged file");
	if (u->j->pid && kh_temp_name(leaf, sizeof(leaf), name, u->j->pid) == KH_OK &&
	    (tmp = kh_asprintf("%s\\%s", dir, leaf))) {
		remove_temp(u->p, tmp);
		free(tmp);
	}
	rc = state_digest(u->p, path, u->c->max_file_size, now);
	if (rc == KH_ERR_NOENT) {
		kh_clearerr();
	} else if (rc != KH_OK) {
		undo_fail(u, rc, path);
	} else if (strcmp(now, rec_get(r, "sha256"))) {
		kh_log(KH_LOG_WARN, "recover", "%s changed since staged; left in place", path);
	} else if ((rc = plat_remove(u->p, path)) == KH_OK) {
		kh_log(KH_LOG_INFO, "recover", "removed staged %s", path);
		undone(u);
	} else {
		undo_fail(u, rc, path);
	}
	free(path);
}

/* The original hive back from the backup; the new one aside. */
static void undo_hive(struct undo *u, const struct kh_rec *r)
{
	const char *name = rec_get(r, "name"), *hold = rec_get(r, "hold");
	char *live = kh_asprintf(KH_HIVE_DIR "\\%s", name);
	char *held = kh_asprintf("%s\\%s", hold, name);
	char *temp = kh_asprintf(KH_HIVE_DIR "\\%s", rec_get(r, "temp"));
	struct kh_dirent st;
	int rc = live && held && temp ? plat_stat(u->p, held, &st) : KH_ERR_NOMEM;

	if (rc == KH_OK) {
		free(st.name);
		rc = verify(u, held, KH_FT_FILE, st.size, rec_get(r, "old"), &st);
		if (rc == KH_OK && (rc = plat_stat(u->p, live, &st)) == KH_OK) {
			free(st.name);
			rc = move_aside(u, live, name);
		} else if (rc == KH_ERR_NOENT) {
			kh_clearerr();
			rc = KH_OK;
		}
		if (rc == KH_OK && (rc = plat_rename(u->p, held, live)) == KH_OK) {
			kh_log(KH_LOG_INFO, "recover", "registry hive %s put back from %s", live,
			       held);
			undone(u);
		}
	} else if (rc == KH_ERR_NOENT) {
		kh_clearerr();
		rc = KH_OK;            /* the original never left */
	}
	if (rc == KH_OK && temp)
		remove_temp(u->p, temp);
	if (rc == KH_ERR_DATA)
		left(u);
	else if (rc != KH_OK)
		undo_fail(u, rc, live ? live : "a hive");
	free(live);
	free(held);
	free(temp);
}

static void undo_reg(struct undo *u, const struct kh_rec *r, int kind)
{
	struct kh_regraw v = { 0 };
	uint64_t present = 0, type = 0;
	size_t len = 0;
	int rc;

	v.key = (char *)rec_get(r, "key");
	v.name = kind == J_REGVAL ? (char *)rec_get(r, "name") : NULL;
	rec_get_u64(r, "present", &present);
	rec_get_u64(r, "type", &type);
	v.present = present != 0;
	v.type = (uint32_t)type;
	if (v.present && v.name) {
		v.data = (unsigned char *)rec_getn(r, "data", &len);
		v.len = len;
	}
	if ((rc = plat_reg_restore(u->p, &v, 1)) == KH_OK) {
		kh_log(KH_LOG_INFO, "recover", "registry %s%s%s put back", v.key,
		       v.name ? "\\" : "", v.name ? v.name : "");
		undone(u);
	} else {
		undo_fail(u, rc, v.key);
	}
}

static int set_state(kh_plat *p, const char *id, enum kh_bstate s)
{
	struct kh_backup b;
	int rc = backup_load(p, id, &b);

	if (rc == KH_OK && b.state != s) {
		b.state = s;
		rc = backup_save(p, &b);
	}
	backup_free(&b);
	return rc;
}

/* A backup the run made: marked rolled-back, kept as evidence; one that
 * never got its manifest is removed if it holds nothing. */
static void close_own(struct undo *u, const char *id)
{
	int rc = set_state(u->p, id, KH_BS_ROLLED_BACK);

	if (rc == KH_ERR_NOENT) {
		for (size_t i = 0; i < KH_NPARTS; i++) {
			char *dir = backup_path(id, kh_parts[i], NULL);
			if (dir)
				plat_remove(u->p, dir);
			free(dir);
		}
		{
			char *dir = backup_path(id, "", NULL);
			if (dir)
				plat_remove(u->p, dir);
			free(dir);
		}
		kh_clearerr();
	} else if (rc != KH_OK) {
		/* a full disk: the state stays, the entries are back all the same */
		kh_log(KH_LOG_WARN, "recover", "backup %s not marked rolled-back: %s", id,
		       kh_lasterr());
	}
}

static void undo_all(struct undo *u)
{
	struct kh_journal *j = u->j;

	/* the archive and install first, the registry after, then the states */
	for (size_t i = j->n; i-- > 0;) {
		if (!j->j[i].trusted)
			continue;
		if (j->j[i].kind == J_MOVE)
			undo_move(u, j->j[i].rec);
		else if (j->j[i].kind == J_STAGE)
			undo_stage(u, j->j[i].rec);
	}
	for (size_t i = j->n; i-- > 0;) {
		if (!j->j[i].trusted)
			continue;
		if (j->j[i].kind == J_HIVE)
			undo_hive(u, j->j[i].rec);
		else if (j->j[i].kind == J_REGVAL || j->j[i].kind == J_REGKEY)
			undo_reg(u, j->j[i].rec, j->j[i].kind);
	}
	/* hive temps the run wrote before it could journal them */
	for (int h = 0; j->pid && plat_is_offline(u->p) && h < 2; h++) {
		char leaf[64], *tmp;

		if (kh_temp_name(leaf, sizeof(leaf), h ? "SOFTWARE" : "SYSTEM", j->pid) == KH_OK &&
		    (tmp = kh_asprintf(KH_HIVE_DIR "\\%s", leaf))) {
			remove_temp(u->p, tmp);
			free(tmp);
		}
	}
	if (u->failed)
		return;        /* the states wait until everything is back */
	for (size_t i = j->n; i-- > 0;) {
		const struct kh_rec *r = j->j[i].rec;
		enum kh_bstate s = KH_BS_COMPLETE;
		int rc;

		if (!j->j[i].trusted || j->j[i].kind != J_STATE)
			continue;
		bstate_parse(rec_get(r, "from"), &s);
		if ((rc = set_state(u->p, rec_get(r, "id"), s)) != KH_OK)
			kh_log(KH_LOG_WARN, "recover", "backup %s not set back to %s: %s",
			       rec_get(r, "id"), bstate_name(s), kh_lasterr());
	}
	for (size_t i = 0; i < j->n_own; i++)
		close_own(u, j->own[i]);
}

/* What could not be read or trusted is said, and the journal kept aside. */
static void report_ignored(kh_plat *p, struct kh_journal *j, struct kh_recovery *r)
{
	for (size_t i = 0; i < j->n; i++) {
		const struct kh_jrec *e = &j->j[i];

		if (e->trusted || (e->rec->torn && i + 1 == j->n))
			continue;
		r->ignored++;
		kh_log(KH_LOG_WARN, "recover", "journal record %zu (byte %zu) ignored: %s%s",
		       e->rec->line, e->rec->offset, e->rec->ok ? "names " : "", e->why);
	}
	for (int i = 1; r->ignored && i < 100; i++) {
		char *to = i == 1 ? kh_strdup(KH_JOURNAL ".damaged")
				  : kh_asprintf(KH_JOURNAL ".damaged.%d", i);
		int rc = to ? plat_rename(p, KH_JOURNAL, to) : KH_ERR_NOMEM;

		if (rc == KH_OK)
			kh_log(KH_LOG_WARN, "recover", "the journal is kept as %s", to);
		free(to);
		if (rc != KH_ERR_EXISTS)
			break;
	}
	kh_clearerr();
}

int journal_recover(kh_plat *p, const struct kh_config *c, struct kh_recovery *r)
{
	struct kh_journal j;
	struct undo u = { p, c, &j, r, KH_OK, 0, "" };
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = plat_read(p, KH_JOURNAL, 64 << 20, &buf, &len);
	if (rc == KH_ERR_NOENT) {
		kh_clearerr();
		return KH_OK;
	}
	if (rc != KH_OK)
		return rc;
	rc = journal_parse(buf, len, c, &j);
	free(buf);
	if (rc != KH_OK)
		return rc;
	if (j.committed || j.n == j.torn) {
		/* a finished run, or one killed before its first record landed */
		kh_log(KH_LOG_INFO, "recover", "journal of a %s run removed",
		       j.committed ? "completed" : "not started");
		journal_free(&j);
		rc = plat_remove(p, KH_JOURNAL);
		return rc == KH_ERR_NOENT ? KH_OK : rc;
	}
	r->found = 1;
	snprintf(r->id, sizeof(r->id), "%s", j.n_own ? j.own[0] : "(no backup)");
	undo_all(&u);
	if (u.failed) {
		snprintf(r->detail, sizeof(r->detail), "%s run %s could not be rolled back "
			 "completely: %d action(s) undone, %d failed (%s); the journal is kept "
			 "and the next run tries again", j.rolling_back ? "failed" : "interrupted",
			 r->id, r->undone, u.failed, u.first_msg);
		kh_log(KH_LOG_ERROR, "recover", "%s", r->detail);
		kh_seterr("%s", r->detail);
		journal_free(&j);
		return u.first_err;
	}
	report_ignored(p, &j, r);
	snprintf(r->detail, sizeof(r->detail), "%s run %s (%s, pid %ld) rolled back: %d "
		 "action(s) undone%s", j.rolling_back ? "failed" : "interrupted", r->id,
		 j.kind[0] ? j.kind : "unknown kind", j.pid, r->undone,
		 r->ignored ? "; some journal records were damaged, untrusted or did not "
			      "match what they name, and were left alone (see the log)" : "");
	kh_log(KH_LOG_WARN, "recover", "%s", r->detail);
	journal_free(&j);
	rc = plat_remove(p, KH_JOURNAL);
	return rc == KH_ERR_NOENT ? (kh_clearerr(), KH_OK) : rc;
}
