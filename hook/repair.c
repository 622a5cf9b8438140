/* repair.c - the plan carried out step by step, each step journalled before
 * it changes anything, a failure before the archive is confirmed rolled back
 * through the same journal recovery that handles a crash. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "khreset.h"
#include "repair.h"
#include "state.h"

struct run {
	kh_plat *p;
	const struct kh_config *c;
	const struct kh_obs *o;
	struct kh_result *r;
	struct kh_backup b;
	int have_backup;
	int journal_open;
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static struct kh_stepres *step_begin(struct kh_result *r, const char *name)
{
	struct kh_stepres *s;

	if (r->n_steps >= sizeof(r->steps) / sizeof(r->steps[0]))
		r->n_steps--;
	s = &r->steps[r->n_steps++];
	memset(s, 0, sizeof(*s));
	s->step = name;
	s->ms = now_ms();
	return s;
}

static int step_end(struct kh_stepres *s, int rc)
{
	s->ms = now_ms() - s->ms;
	s->ok = rc == KH_OK;
	if (rc != KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%s",
			 kh_lasterr()[0] ? kh_lasterr() : kh_errstr(rc));
	kh_log(rc == KH_OK ? KH_LOG_INFO : KH_LOG_ERROR, s->step, "%s%s",
	       rc == KH_OK ? "done: " : "FAILED: ", s->detail);
	return rc;
}

/* The journal opens before the first change; the backup folder only when
 * something is to be moved into it. */
static int open_journal(struct run *x)
{
	int rc = KH_OK;

	if (!x->journal_open && (rc = journal_begin(x->p, "-")) == KH_OK)
		x->journal_open = 1;
	return rc;
}

static int open_backup(struct run *x, const char *reason)
{
	int rc;

	if (x->have_backup)
		return KH_OK;
	if ((rc = open_journal(x)) != KH_OK ||
	    (rc = backup_create(x->p, &x->b, reason)) != KH_OK)
		return rc;
	x->have_backup = 1;
	snprintf(x->r->backup_id, sizeof(x->r->backup_id), "%s", x->b.id);
	if ((rc = journal_begin(x->p, x->b.id)) != KH_OK)
		return rc;
	return backup_save(x->p, &x->b);
}

static int do_backup(struct run *x, struct kh_stepres *s)
{
	int rc = open_backup(x, "repair");

	if (rc == KH_OK)
		rc = backup_move_dir(x->p, &x->b, "archive", x->c->archive_dir, NULL,
				     x->c->max_file_size);
	if (rc == KH_OK) {
		x->b.state = KH_BS_COMPLETE;
		rc = backup_save(x->p, &x->b);
	}
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%zu entr%s moved to backup %s",
			 x->b.n, x->b.n == 1 ? "y" : "ies", x->b.id);
	return rc;
}

/* Stages one bundle file; a different file already there is backed up. */
static int stage_one(struct run *x, const struct kh_bundle_file *f, int *written)
{
	char *path = kh_asprintf("%s\\%s", x->c->install_dir, f->name);
	unsigned char *back = NULL;
	char sha[KH_SHA256_HEX];
	size_t len;
	int rc = path ? KH_OK : KH_ERR_NOMEM;

	for (size_t i = 0; rc == KH_OK && i < x->o->n_install; i++) {
		const struct kh_entry *e = &x->o->install[i];

		if (kh_strcasecmp(e->name, f->name))
			continue;
		if (e->type == KH_FT_FILE && !strcmp(e->sha256, f->sha256))
			goto out;      /* already staged, identical */
		if ((rc = open_backup(x, "activate")) != KH_OK)
			break;
		rc = backup_move_dir(x->p, &x->b, "install", x->c->install_dir,
				     e->name, x->c->max_file_size);
	}
	if (rc == KH_OK && (rc = journal_stage(x->p, path, f->sha256)) == KH_OK &&
	    (rc = plat_write_atomic(x->p, path, f->data, f->len)) == KH_OK &&
	    (rc = plat_read(x->p, path, x->c->max_file_size, &back, &len)) == KH_OK) {
		kh_sha256_buf(back, len, sha);
		if (strcmp(sha, f->sha256)) {
			kh_seterr("%s: staged file reads back with digest %s, expected %s",
				  path, sha, f->sha256);
			rc = KH_ERR_IO;
		} else
			(*written)++;
	}
out:
	free(back);
	free(path);
	return rc;
}

static int do_stage(struct run *x, struct kh_stepres *s)
{
	const struct kh_bundle *b = x->o->bundle;
	int rc = open_journal(x), written = 0;

	if (rc == KH_OK)
		rc = plat_mkdirs(x->p, x->c->install_dir);
	for (size_t i = 0; rc == KH_OK && i < b->n; i++) {
		rc = stage_one(x, &b->files[i], &written);
		if (rc == KH_OK && written == 1) {
			kh_test_stop("stage-one");
			rc = kh_test_fail("stage-one");
		}
	}
	if (rc == KH_OK && x->have_backup)
		rc = backup_save(x->p, &x->b);
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%d of %zu bundle file(s) written to %s",
			 written, b->n, x->c->install_dir);
	return rc;
}

static int do_restart(struct run *x, struct kh_stepres *s)
{
	const char *svc = x->c->clipsvc_service;
	int rc = plat_service_stop(x->p, svc, x->c->clipsvc_timeout);

	if (rc == KH_OK)
		rc = plat_service_start(x->p, svc, x->c->clipsvc_timeout);
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%s stopped and started", svc);
	return rc;
}

/* Every bundle file name archived (with a good digest where listed). */
static int archive_ready(struct run *x, int *ready)
{
	const struct kh_bundle *b = x->o->bundle;
	int rc = KH_OK;

	*ready = 1;
	for (size_t i = 0; rc == KH_OK && *ready && i < b->n; i++) {
		char *path = kh_asprintf("%s\\%s", x->c->archive_dir, b->files[i].name);
		unsigned char *buf = NULL;
		char sha[KH_SHA256_HEX];
		size_t len;

		rc = path ? plat_read(x->p, path, x->c->max_file_size, &buf, &len) : KH_ERR_NOMEM;
		if (rc == KH_ERR_NOENT) {
			*ready = 0;
			rc = KH_OK;
		} else if (rc == KH_OK) {
			kh_sha256_buf(buf, len, sha);
			*ready = b->files[i].n_good == 0 || bundle_good_archived(&b->files[i], sha);
		}
		free(buf);
		free(path);
	}
	return rc;
}

static int do_verify(struct run *x, struct kh_stepres *s)
{
	long deadline = now_ms() + x->c->clipsvc_timeout * 1000L;
	int ready = 0, rc;

	while ((rc = archive_ready(x, &ready)) == KH_OK && !ready && now_ms() < deadline) {
		struct timespec ts = { 0, 500 * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (rc == KH_OK && !ready) {
		kh_seterr("%s did not archive the official keyholders within %d s",
			  x->c->clipsvc_service, x->c->clipsvc_timeout);
		rc = KH_ERR_TIMEOUT;
	}
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "archive regenerated by %s",
			 x->c->clipsvc_service);
	return rc;
}

/* Old values go to the journal before the new ones are written. */
static int do_registry(struct run *x, struct kh_stepres *s)
{
	const struct kh_config *c = x->c;
	struct kh_regval *old = calloc(c->n_reg ? c->n_reg : 1, sizeof(*old));
	int rc = old ? KH_OK : KH_ERR_NOMEM;

	for (size_t i = 0; rc == KH_OK && i < c->n_reg; i++) {
		old[i].key = kh_strdup(c->reg[i].key);
		old[i].name = kh_strdup(c->reg[i].name);
		old[i].type = c->reg[i].type;
		rc = plat_reg_get(x->p, c->reg[i].key, c->reg[i].name, &old[i].data);
		if (rc == KH_ERR_NOENT)
			rc = KH_OK;
	}
	if (rc == KH_OK)
		rc = kh_test_fail("registry");
	/* journalled only while the run can still roll back (offline) */
	if (rc == KH_OK && c->n_reg && x->journal_open)
		rc = journal_reg(x->p, old, c->n_reg);
	if (rc == KH_OK && c->n_reg)
		rc = plat_reg_set(x->p, c->reg, c->n_reg);
	if (old)
		plat_free_regvals(old, c->n_reg);
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%zu value(s) set%s", c->n_reg,
			 c->n_reg ? "" : " (none configured)");
	return rc;
}

static int do_trigger(struct run *x, struct kh_stepres *s)
{
	const char *svc = x->c->activation_service;
	int rc = KH_OK;

	if (svc && (rc = plat_service_stop(x->p, svc, x->c->activation_timeout)) == KH_OK)
		rc = plat_service_start(x->p, svc, x->c->activation_timeout);
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%s%s", svc ? svc : "no service",
			 svc ? " restarted" : " configured");
	return rc;
}

static int do_wait(struct run *x, struct kh_stepres *s, int wait_s)
{
	long deadline = now_ms() + wait_s * 1000L;
	enum kh_licence st = KH_LIC_UNKNOWN;
	uint32_t why = 0;
	int rc;

	for (;;) {
		if ((rc = plat_licence(x->p, &st, &why)) != KH_OK || st == KH_LIC_LICENSED ||
		    now_ms() >= deadline)
			break;
		long left = deadline - now_ms(), step = x->c->activation_interval * 1000L;
		struct timespec ts;

		step = step < left ? step : left;
		ts.tv_sec = step / 1000;
		ts.tv_nsec = (step % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
	if (rc == KH_OK && st != KH_LIC_LICENSED) {
		kh_seterr("not licensed after %d s (hrReason 0x%08x)", wait_s, why);
		rc = KH_ERR_TIMEOUT;
	}
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "licensed");
	return rc;
}

/* Undo through the journal, then put ClipSVC back on its feet (live). */
static void rollback(struct run *x)
{
	struct kh_stepres *s = step_begin(x->r, "rollback");
	struct kh_recovery rec;
	int rc = journal_recover(x->p, &rec);

	x->journal_open = 0;
	if (rc == KH_OK && !plat_is_offline(x->p))
		rc = plat_service_start(x->p, x->c->clipsvc_service, x->c->clipsvc_timeout);
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%d action(s) undone; archive as before",
			 rec.undone);
	step_end(s, rc);
}

static void finish(struct kh_result *r, enum kh_outcome outcome, int code)
{
	r->outcome = outcome;
	r->exit_code = code;
}

void repair_run(kh_plat *p, const struct kh_config *c, const struct kh_obs *o,
		const struct kh_decision *d, const struct kh_runopts *opt,
		struct kh_result *r)
{
	struct run x = { .p = p, .c = c, .o = o, .r = r };
	int wait_s = opt->wait_s >= 0 ? opt->wait_s : c->activation_timeout;
	/* the last step a failure rolls back: verify live, registry offline */
	unsigned undoable = plat_is_offline(p) ? KH_ST_BACKUP | KH_ST_STAGE | KH_ST_REGISTRY
					       : KH_ST_BACKUP | KH_ST_STAGE | KH_ST_RESTART | KH_ST_VERIFY;
	unsigned last = 0;
	int rc = KH_OK;
	static const struct {
		unsigned bit;
		const char *stop;
	} order[] = {
		{ KH_ST_BACKUP, "backup" }, { KH_ST_STAGE, "stage" },
		{ KH_ST_RESTART, "restart-clipsvc" }, { KH_ST_VERIFY, "verify" },
		{ KH_ST_REGISTRY, "registry" }, { KH_ST_TRIGGER, "trigger" },
		{ KH_ST_WAIT, "wait" },
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (d->plan & undoable & order[i].bit)
			last = order[i].bit;
	for (size_t i = 0; rc == KH_OK && i < sizeof(order) / sizeof(order[0]); i++) {
		unsigned bit = order[i].bit;
		struct kh_stepres *s;

		if (!(d->plan & bit))
			continue;
		if (opt->no_activate && (bit == KH_ST_TRIGGER || bit == KH_ST_WAIT))
			continue;
		s = step_begin(r, step_name(bit));
		kh_clearerr();
		switch (bit) {
		case KH_ST_BACKUP: rc = do_backup(&x, s); break;
		case KH_ST_STAGE: rc = do_stage(&x, s); break;
		case KH_ST_RESTART: rc = do_restart(&x, s); break;
		case KH_ST_VERIFY: rc = do_verify(&x, s); break;
		case KH_ST_REGISTRY: rc = do_registry(&x, s); break;
		case KH_ST_TRIGGER: rc = do_trigger(&x, s); break;
		case KH_ST_WAIT: rc = do_wait(&x, s, wait_s); break;
		}
		step_end(s, rc);
		if (rc == KH_OK)
			kh_test_stop(order[i].stop);
		/* past the last undoable step the change is confirmed: from here
		 * on nothing rolls back, and the journal is closed */
		if (rc == KH_OK && x.journal_open && bit == last) {
			kh_test_stop("journal-end");
			rc = journal_end(p);
			x.journal_open = 0;
		}
	}
	if (rc != KH_OK && x.journal_open) {
		rollback(&x);
		finish(r, KH_OUT_FAILED, KH_EXIT_FAILED);
	} else if (rc == KH_ERR_TIMEOUT || (rc == KH_OK && plat_is_offline(p))) {
		finish(r, KH_OUT_PENDING, KH_EXIT_PENDING);
	} else if (rc != KH_OK) {
		finish(r, KH_OUT_FAILED, KH_EXIT_FAILED);
	} else if (opt->no_activate) {
		finish(r, KH_OUT_PENDING, KH_EXIT_PENDING);
	} else {
		finish(r, KH_OUT_REPAIRED, KH_EXIT_OK);
	}
	if (x.have_backup && r->exit_code != KH_EXIT_FAILED)
		backup_prune(p, c->keep_backups, x.b.id);
	backup_free(&x.b);
}

/* ---- restore ---- */

static int check_backup(kh_plat *p, const struct kh_backup *b, size_t max)
{
	int rc = KH_OK;

	for (size_t i = 0; rc == KH_OK && i < b->n; i++) {
		const struct kh_bfile *f = &b->files[i];
		char *path, sha[KH_SHA256_HEX] = "";
		struct kh_dirent st;

		if (strcmp(f->part, "archive"))
			continue;
		if (!(path = backup_path(b, f->part, f->name)))
			return KH_ERR_NOMEM;
		rc = plat_stat(p, path, &st);
		if (rc == KH_OK) {
			free(st.name);
			if (st.type != f->type || (f->type == KH_FT_FILE && st.size != f->size)) {
				kh_seterr("backup %s: %s is not what the manifest recorded",
					  b->id, path);
				rc = KH_ERR_DATA;
			}
		}
		if (rc == KH_OK && f->type == KH_FT_FILE && f->sha256[0]) {
			unsigned char *buf = NULL;
			size_t len;
			rc = plat_read(p, path, max, &buf, &len);
			if (rc == KH_OK)
				kh_sha256_buf(buf, len, sha);
			free(buf);
			if (rc == KH_OK && strcmp(sha, f->sha256)) {
				kh_seterr("backup %s: %s has digest %s, manifest says %s; nothing restored",
					  b->id, path, sha, f->sha256);
				rc = KH_ERR_DATA;
			}
		}
		if (rc == KH_ERR_NOENT)
			kh_seterr("backup %s: %s is missing; nothing restored", b->id, path);
		if (rc == KH_ERR_NOENT || rc == KH_ERR_TOOBIG)
			rc = KH_ERR_DATA;
		free(path);
	}
	return rc;
}

static int move_back(kh_plat *p, const struct kh_backup *b)
{
	int rc = KH_OK;

	for (size_t i = 0; rc == KH_OK && i < b->n; i++) {
		const struct kh_bfile *f = &b->files[i];
		char *from, *to;

		if (strcmp(f->part, "archive"))
			continue;
		from = backup_path(b, f->part, f->name);
		to = kh_asprintf("%s\\%s", f->origin, f->name);
		rc = from && to ? plat_mkdirs(p, f->origin) : KH_ERR_NOMEM;
		if (rc == KH_OK)
			rc = journal_move(p, from, to);
		if (rc == KH_OK)
			rc = plat_rename(p, from, to);
		if (rc == KH_OK) {
			kh_log(KH_LOG_INFO, "restore", "moved %s back to %s", from, to);
			kh_test_stop("restore-move");
		}
		free(from);
		free(to);
	}
	return rc;
}

int restore_backup(kh_plat *p, const struct kh_config *c, const char *id,
		   struct kh_result *r)
{
	struct kh_backup old, now;
	struct kh_stepres *s;
	int rc;

	memset(&now, 0, sizeof(now));
	if ((rc = backup_load(p, id, &old)) != KH_OK)
		goto out;
	if (old.state != KH_BS_COMPLETE) {
		kh_seterr("backup %s is %s; only a complete backup can be restored", id,
			  bstate_name(old.state));
		rc = KH_ERR_DATA;
		goto out;
	}
	s = step_begin(r, "check-backup");
	if (step_end(s, rc = check_backup(p, &old, c->max_file_size)) != KH_OK)
		goto out;
	s = step_begin(r, "backup");
	rc = backup_create(p, &now, "restore");
	if (rc == KH_OK && (rc = journal_begin(p, now.id)) == KH_OK &&
	    (rc = backup_save(p, &now)) == KH_OK)
		rc = backup_move_dir(p, &now, "archive", c->archive_dir, NULL, c->max_file_size);
	if (rc == KH_OK) {
		now.state = KH_BS_COMPLETE;
		rc = backup_save(p, &now);
		snprintf(r->backup_id, sizeof(r->backup_id), "%s", now.id);
		snprintf(s->detail, sizeof(s->detail), "%zu current entr%s moved to backup %s",
			 now.n, now.n == 1 ? "y" : "ies", now.id);
	}
	step_end(s, rc);
	if (rc == KH_OK) {
		s = step_begin(r, "restore");
		rc = move_back(p, &old);
		if (rc == KH_OK) {
			old.state = KH_BS_RESTORED;
			rc = backup_save(p, &old);
			snprintf(s->detail, sizeof(s->detail), "archive entries of %s put back", id);
		}
		step_end(s, rc);
	}
	if (rc == KH_OK)
		rc = journal_end(p);
	else if (now.id[0]) {
		struct kh_recovery rec;
		journal_recover(p, &rec);
	}
out:
	backup_free(&old);
	backup_free(&now);
	return rc;
}
