/* repair.c - the plan carried out step by step, each step journalled before
 * it changes anything, a failure before the archive is confirmed rolled back
 * through the same journal recovery that handles a crash.  Offline the
 * registry undo is the original hive file, moved into the backup; live it
 * is every old value, read and journalled exactly.  A restore is journalled
 * like a run. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"
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
	int archive_journalled;    /* the open journal holds archive or install moves */
	int clip_down;             /* ClipSVC stopped by this run, not started again */
	int committed;             /* past the point nothing rolls back from */
	int whole_wait;            /* --wait given: the wait step may use all that is left */
	const struct kh_bundle_file *root;   /* what verify waits for */
};

#define now_ms kh_mono_ms

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
static int open_journal(struct run *x, const char *kind)
{
	int rc = KH_OK;

	if (!x->journal_open && (rc = journal_begin(x->p, kind)) == KH_OK)
		x->journal_open = 1;
	return rc;
}

static int open_backup(struct run *x, const char *reason)
{
	int rc;

	if (x->have_backup)
		return KH_OK;
	if ((rc = open_journal(x, "run")) != KH_OK ||
	    (rc = backup_create(x->p, &x->b, reason)) != KH_OK)
		return rc;
	x->have_backup = 1;
	snprintf(x->r->backup_id, sizeof(x->r->backup_id), "%s", x->b.id);
	if ((rc = journal_backup(x->p, x->b.id, "own")) != KH_OK)
		return rc;
	return backup_save(x->p, &x->b);
}

static int casecmp_entp(const void *a, const void *b)
{
	return kh_strcasecmp((*(const struct kh_entry *const *)a)->name,
			     (*(const struct kh_entry *const *)b)->name);
}

/* Two entries of dir (of those the run moves: every one, or those named
 * like a bundle file) whose names differ only in case - Windows cannot tell
 * them apart - or one with a '\' in its name: nothing is changed. */
static int case_twins(const struct kh_entry *e, size_t n, const char *dir,
		      const struct kh_bundle *only)
{
	const struct kh_entry **v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;
	int rc = KH_OK;

	if (!v)
		return KH_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		int take = !only;

		for (size_t f = 0; only && !take && f < only->n; f++)
			take = !kh_strcasecmp(e[i].name, only->files[f].name);
		if (take && strchr(e[i].name, '\\')) {
			kh_seterr("%s holds '%s', a name Windows cannot hold (a '\\'); rename it; "
				  "nothing changed", dir, e[i].name);
			free(v);
			return KH_ERR_DATA;
		}
		if (take)
			v[k++] = &e[i];
	}
	qsort(v, k, sizeof(*v), casecmp_entp);
	for (size_t i = 1; rc == KH_OK && i < k; i++)
		if (!kh_strcasecmp(v[i - 1]->name, v[i]->name)) {
			kh_seterr("%s holds '%s' and '%s', names that differ only in case, which "
				  "Windows cannot tell apart; rename or remove one; nothing changed",
				  dir, v[i - 1]->name, v[i]->name);
			rc = KH_ERR_DATA;
		}
	free(v);
	return rc;
}

static int do_backup(struct run *x, struct kh_stepres *s)
{
	int rc = open_backup(x, "repair");

	x->archive_journalled = 1;
	if (rc == KH_OK)
		rc = backup_move_dir(x->p, &x->b, KH_PART_ARCHIVE, x->c->archive_dir, NULL,
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
		rc = backup_move_dir(x->p, &x->b, KH_PART_INSTALL, x->c->install_dir,
				     e->name, x->c->max_file_size);
	}
	if (rc == KH_OK &&
	    (rc = journal_stage(x->p, x->c->install_dir, f->name, f->sha256)) == KH_OK &&
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
	int rc = open_journal(x, "run"), written = 0;

	x->archive_journalled = 1;
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

/* Live, ClipSVC is stopped before its archive is moved: it holds the
 * files, and a running one may write to the folder while it empties. */
static int do_stop(struct run *x, struct kh_stepres *s)
{
	const char *svc = x->c->clipsvc_service;
	int rc = kh_busy_service(x->p, svc, 0, x->c->clipsvc_timeout);

	x->clip_down = rc == KH_OK;
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%s stopped", svc);
	return rc;
}

static int do_restart(struct run *x, struct kh_stepres *s)
{
	const char *svc = x->c->clipsvc_service;
	int stopped = x->clip_down, rc = KH_OK;

	if (!stopped && (rc = kh_busy_service(x->p, svc, 0, x->c->clipsvc_timeout)) == KH_OK)
		x->clip_down = 1;
	if (rc == KH_OK && (rc = kh_busy_service(x->p, svc, 1, x->c->clipsvc_timeout)) == KH_OK)
		x->clip_down = 0;
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%s %s", svc,
			 stopped ? "started" : "stopped and started");
	return rc;
}

/* The root keyholder archived (with a good digest where [archive] lists
 * some); *have counts the bundle files archived, missing names them. */
static int archive_ready(struct run *x, int *ready, int *bad_digest, size_t *have,
			 char *missing, size_t msize)
{
	const struct kh_bundle *b = x->o->bundle;
	int rc = KH_OK;

	*ready = *bad_digest = 0;
	*have = 0;
	missing[0] = '\0';
	for (size_t i = 0; rc == KH_OK && i < b->n; i++) {
		const struct kh_bundle_file *f = &b->files[i];
		char *path = kh_asprintf("%s\\%s", x->c->archive_dir, f->name);
		unsigned char *buf = NULL;
		char sha[KH_SHA256_HEX];
		size_t len, used = strlen(missing);
		int good = 0;

		rc = path ? plat_read(x->p, path, x->c->max_file_size, &buf, &len) : KH_ERR_NOMEM;
		if (rc == KH_OK) {
			kh_sha256_buf(buf, len, sha);
			good = f->n_good == 0 || bundle_good_archived(f, sha);
			(*have)++;
		} else if (rc == KH_ERR_NOENT || rc == KH_ERR_INUSE) {
			kh_clearerr();     /* not there, or still being written: not yet */
			rc = KH_OK;
			snprintf(missing + used, msize - used, "%s%s", used ? ", " : "", f->name);
		}
		if (f == x->root) {
			*ready = good;
			*bad_digest = buf && !good;
		}
		free(buf);
		free(path);
	}
	return rc;
}

/* Waits, for up to clipsvc.timeout within the budget, for ClipSVC to
 * archive the root keyholder; the other bundle files are noted. */
static int do_verify(struct run *x, struct kh_stepres *s)
{
	long wait = kh_budget_s(x->c->clipsvc_timeout) * 1000L, t0 = now_ms();
	long left = kh_budget_left_ms(), deadline = t0 + (left < wait ? left : wait);
	int ready = 0, bad = 0, rc;
	char missing[256];
	size_t have = 0;

	while ((rc = archive_ready(x, &ready, &bad, &have, missing, sizeof(missing))) == KH_OK &&
	       !ready && now_ms() < deadline)
		kh_sleep_ms(deadline - now_ms() < 500 ? deadline - now_ms() : 500);
	if (rc == KH_OK && !ready) {
		kh_seterr("%s has not archived the root keyholder %s%s within %ld s "
			  "(%zu of %zu bundle file(s) archived)", x->c->clipsvc_service,
			  x->root->name, bad ? " with a digest the bundle lists as good" : "",
			  (now_ms() - t0 + 999) / 1000, have, x->o->bundle->n);
		rc = KH_ERR_TIMEOUT;
	}
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%s archived the root keyholder %s; "
			 "%zu of %zu bundle file(s) archived%s%s%s", x->c->clipsvc_service,
			 x->root->name, have, x->o->bundle->n, missing[0] ? " (not yet: " : "",
			 missing, missing[0] ? ")" : "");
	return rc;
}

/* 32-bit number as config writes it: decimal or 0x-hex. */
static int dword_of(const char *s, unsigned long long *v)
{
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return 0;
	errno = 0;
	*v = strtoull(hex ? s + 2 : s, &end, hex ? 16 : 10);
	return !errno && !*end && end != (hex ? s + 2 : s) && *v <= 0xffffffffULL;
}

/* 1 when the value already holds the configured type and data. */
static int reg_is_set(kh_plat *p, const struct kh_regval *v, const struct kh_regraw *old)
{
	unsigned long long a, b;
	char *now = NULL;
	int same;

	if (!old->present || old->type != (uint32_t)v->type ||
	    plat_reg_get(p, v->key, v->name, &now) != KH_OK) {
		kh_clearerr();
		return 0;
	}
	if (v->type == KH_REG_DWORD)
		same = dword_of(now, &a) && dword_of(v->data, &b) && a == b;
	else
		same = !strcmp(now, v->data);
	free(now);
	return same;
}

/* Offline: every hive the values change is written whole beside itself,
 * then the original moves into the backup and the new one takes its
 * place, each hive journalled first. */
static int reg_offline(struct run *x, const struct kh_regval *vals, size_t n)
{
	struct kh_hivetmp *h = NULL;
	size_t nh = 0, journalled = 0;
	char *hold = NULL;
	int rc = open_backup(x, "activate");

	if (rc == KH_OK)
		rc = plat_hive_stage(x->p, vals, n, &h, &nh);
	if (rc == KH_OK)
		rc = (hold = backup_path(x->b.id, KH_PART_REGISTRY, NULL)) ? plat_mkdirs(x->p, hold)
									   : KH_ERR_NOMEM;
	for (size_t i = 0; rc == KH_OK && i < nh; i++) {
		char *live = kh_asprintf("%s\\%s", h[i].dir, h[i].name);
		struct kh_dirent st;

		rc = live ? plat_stat(x->p, live, &st) : KH_ERR_NOMEM;
		if (rc == KH_OK) {
			free(st.name);
			rc = backup_add(&x->b, KH_PART_REGISTRY, h[i].dir, h[i].name, KH_FT_FILE,
					st.size, st.mtime, h[i].sha_old);
		}
		free(live);
	}
	if (rc == KH_OK && nh)
		rc = backup_save(x->p, &x->b);
	for (size_t i = 0; rc == KH_OK && i < nh; i++) {
		const struct kh_hivetmp *t = &h[i];
		char *live = kh_asprintf("%s\\%s", t->dir, t->name);
		char *temp = kh_asprintf("%s\\%s", t->dir, t->temp);
		char *held = kh_asprintf("%s\\%s", hold, t->name);

		rc = live && temp && held ? journal_hive(x->p, t->name, t->temp, hold, t->sha_old,
							t->sha_new) : KH_ERR_NOMEM;
		if (rc == KH_OK) {
			journalled = i + 1;
			rc = plat_rename(x->p, live, held);
		}
		if (rc == KH_OK) {
			kh_test_stop("hive-held");
			rc = plat_rename(x->p, temp, live);
		}
		if (rc == KH_OK)
			kh_log(KH_LOG_INFO, "registry", "%s replaced; the original is in backup %s",
			       live, x->b.id);
		free(live);
		free(temp);
		free(held);
	}
	/* a temp not journalled goes now; a journalled one is recovery's */
	for (size_t i = journalled; i < nh; i++) {
		char *temp = kh_asprintf("%s\\%s", h[i].dir, h[i].temp);
		if (temp)
			plat_remove(x->p, temp);
		free(temp);
	}
	plat_free_hivetmp(h, nh);
	free(hold);
	return rc;
}

/* Live: the keys below the hive's root that the value's key path would
 * create (HKLM\SOFTWARE\a\b: HKLM\SOFTWARE\a, then HKLM\SOFTWARE\a\b). */
static int journal_new_keys(struct run *x, const char *k)
{
	const char *hive = strchr(k, '\\'), *sep = hive ? strchr(hive + 1, '\\') : NULL;
	int rc = KH_OK;

	while (rc == KH_OK && sep) {
		const char *next = strchr(sep + 1, '\\');
		char *path = kh_asprintf("%.*s", (int)(next ? (size_t)(next - k) : strlen(k)), k);
		struct kh_regraw key;

		rc = path ? plat_reg_read(x->p, path, NULL, &key) : KH_ERR_NOMEM;
		if (rc == KH_OK) {
			if (!key.present)
				rc = journal_regval(x->p, &key);
			plat_free_regraw(&key, 1);
		}
		free(path);
		sep = next;
	}
	return rc;
}

/* Live: the keys the change creates and every old value, exactly, go to
 * a journal of their own before the new values are written. */
static int reg_live(struct run *x, const struct kh_regval *vals, size_t n,
		    const struct kh_regraw *old)
{
	int rc = open_journal(x, "registry");

	for (size_t i = 0; rc == KH_OK && i < n; i++) {
		int seen = 0;

		for (size_t k = 0; k < i && !seen; k++)
			seen = state_path_eq(vals[k].key, vals[i].key);
		if (!seen)
			rc = journal_new_keys(x, vals[i].key);
	}
	for (size_t i = 0; rc == KH_OK && i < n; i++)
		rc = journal_regval(x->p, &old[i]);
	if (rc == KH_OK)
		rc = plat_reg_set(x->p, vals, n);
	return rc == KH_OK ? kh_test_fail("registry-written") : rc;
}

/* The values not set already change; nothing is written when none does. */
static int do_registry(struct run *x, struct kh_stepres *s)
{
	const struct kh_config *c = x->c;
	size_t n = c->n_reg ? c->n_reg : 1, k = 0;
	struct kh_regraw *old = calloc(n, sizeof(*old));
	struct kh_regval *chg = calloc(n, sizeof(*chg));
	int rc = old && chg ? KH_OK : KH_ERR_NOMEM;

	for (size_t i = 0; rc == KH_OK && i < c->n_reg; i++) {
		if ((rc = plat_reg_read(x->p, c->reg[i].key, c->reg[i].name, &old[k])) != KH_OK)
			break;
		if (reg_is_set(x->p, &c->reg[i], &old[k])) {
			plat_free_regraw(&old[k], 1);
			memset(&old[k], 0, sizeof(old[k]));
		} else {
			chg[k++] = c->reg[i];
		}
	}
	if (rc == KH_OK)
		rc = kh_test_fail("registry");
	if (rc == KH_OK && k)
		rc = plat_is_offline(x->p) ? reg_offline(x, chg, k) : reg_live(x, chg, k, old);
	if (old)
		plat_free_regraw(old, n);
	free(old);
	free(chg);
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%zu of %zu value(s) changed%s", k,
			 c->n_reg, c->n_reg && !k ? " (all already set)" : "");
	return rc;
}

/* activation.command split into words: spaces separate, "..." quotes
 * (a Windows path with spaces).  *argv malloc'd, its words in buf. */
static int split_command(const char *cmd, char **buf, char ***argv)
{
	size_t n = 0, cap = strlen(cmd) / 2 + 2;
	char *o, **v;

	*buf = o = kh_strdup(cmd);
	*argv = v = calloc(cap, sizeof(*v));
	if (!o || !v)
		return KH_ERR_NOMEM;
	for (const char *c = cmd; *c;) {
		int q = 0;

		while (*c == ' ' || *c == '\t')
			c++;
		if (!*c)
			break;
		v[n++] = o;
		for (; *c && (q || (*c != ' ' && *c != '\t')); c++)
			if (*c == '"')
				q = !q;
			else
				*o++ = *c;
		*o++ = '\0';
	}
	v[n] = NULL;
	return n ? KH_OK : KH_ERR_CONFIG;
}

static int run_command(struct run *x, char *out, size_t size)
{
	int t = kh_budget_s(x->c->activation_timeout), code = -1, rc;
	char *buf = NULL, **argv = NULL;

	rc = split_command(x->c->activation_command, &buf, &argv);
	if (rc == KH_OK) {
		kh_clearerr();
		rc = plat_exec(x->p, argv, t, &code);
	}
	if (rc == KH_OK)
		kh_log(code ? KH_LOG_WARN : KH_LOG_INFO, "trigger", "%s exited %d", argv[0], code);
	if (rc == KH_OK && code) {
		kh_seterr("activation command %s exited %d", argv[0], code);
		rc = KH_ERR_SERVICE;
	} else if (rc == KH_ERR_TIMEOUT) {
		kh_seterr("activation command %s still ran after %d s: ended", argv[0], t);
	} else if (rc != KH_OK && !kh_lasterr()[0]) {
		kh_seterr("activation command %s: %s", argv && argv[0] ? argv[0] : "", kh_errstr(rc));
	}
	snprintf(out, size, rc == KH_OK ? "%s exited 0" : "%s", rc == KH_OK ? argv[0] : kh_lasterr());
	free(argv);
	free(buf);
	return rc;
}

/* The activation service restarted, then activation.command run: both
 * are tried; the first that fails is the step's error. */
static int do_trigger(struct run *x, struct kh_stepres *s)
{
	const char *svc = x->c->activation_service;
	char sd[200] = "no service", cd[300] = "no command";
	int rc = KH_OK, rc2 = KH_OK;

	if (svc) {
		if ((rc = kh_busy_service(x->p, svc, 0, x->c->activation_timeout)) == KH_OK)
			rc = kh_busy_service(x->p, svc, 1, x->c->activation_timeout);
		snprintf(sd, sizeof(sd), rc == KH_OK ? "%s restarted" : "%s", rc == KH_OK ? svc
			 : kh_lasterr()[0] ? kh_lasterr() : kh_errstr(rc));
	}
	if (x->c->activation_command)
		rc2 = run_command(x, cd, sizeof(cd));
	snprintf(s->detail, sizeof(s->detail), "%s; %s", sd, cd);
	if (rc == KH_OK)
		rc = rc2;
	if (rc != KH_OK)
		kh_seterr("%s", s->detail);
	return rc;
}

static int do_wait(struct run *x, struct kh_stepres *s)
{
	long left = kh_budget_left_ms(), t0 = now_ms();
	long wait = x->whole_wait ? left : kh_budget_s(x->c->activation_timeout) * 1000L;
	long deadline = t0 + (wait < left ? wait : left);
	enum kh_licence st = KH_LIC_UNKNOWN;
	uint32_t why = 0;
	int rc;

	for (;;) {
		if ((rc = plat_licence(x->p, &st, &why)) != KH_OK || st == KH_LIC_LICENSED ||
		    now_ms() >= deadline)
			break;
		long rest = deadline - now_ms(), step = x->c->activation_interval * 1000L;

		kh_sleep_ms(step < rest ? step : rest);
	}
	if (rc == KH_OK && st != KH_LIC_LICENSED) {
		kh_seterr("not licensed after %ld s (hrReason 0x%08x)", (now_ms() - t0 + 500) / 1000,
			  why);
		rc = KH_ERR_TIMEOUT;
	}
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "licensed");
	return rc;
}

/* After the budget, what puts the system back gets a few seconds more. */
static int grace_s(int configured_s)
{
	long left = kh_budget_left_ms();

	if (left == LONG_MAX)
		return configured_s;
	left = (left + 999) / 1000 + KH_BUDGET_GRACE_S - 2;
	return left < configured_s ? (int)left : configured_s;
}

/* Undo through the journal, then put ClipSVC back on its feet (live, when
 * the archive was part of what was undone). */
static void rollback(struct run *x)
{
	struct kh_stepres *s = step_begin(x->r, "rollback");
	struct kh_recovery rec;
	int rc;

	journal_rollback(x->p);        /* a full disk may refuse it: not needed */
	rc = journal_recover(x->p, x->c, &rec);
	x->journal_open = 0;
	if (rc == KH_OK && x->archive_journalled && !plat_is_offline(x->p)) {
		rc = plat_service_start(x->p, x->c->clipsvc_service, grace_s(x->c->clipsvc_timeout));
		x->clip_down = 0;      /* tried: not again */
	}
	if (rc == KH_OK)
		snprintf(s->detail, sizeof(s->detail), "%d action(s) undone; %s as before",
			 rec.undone, x->archive_journalled ? "archive" : "registry values");
	step_end(s, rc);
}


static void finish(struct kh_result *r, enum kh_outcome outcome, int code)
{
	r->outcome = outcome;
	r->exit_code = code;
}

/* [clipsvc] root_keyholder among the bundle's files, else its first. */
static const struct kh_bundle_file *root_of(struct run *x)
{
	const struct kh_bundle *b = x->o->bundle;
	const char *want = x->c->root_keyholder;

	for (size_t i = 0; i < b->n; i++)
		if (!want || !kh_strcasecmp(want, b->files[i].name))
			return &b->files[i];
	if (want)
		kh_seterr("%s: [clipsvc] root_keyholder = %s is not a file of the bundle; "
			  "nothing changed", x->c->path ? x->c->path : "configuration", want);
	else
		kh_seterr("the bundle holds no keyholder file; nothing changed");
	return NULL;
}

/* What the run would move, checked before anything changes. */
static int precheck(struct run *x, unsigned plan, struct kh_stepres **s)
{
	int rc = KH_OK;

	if (plan & KH_ST_BACKUP)
		rc = case_twins(x->o->archive, x->o->n_archive, x->c->archive_dir, NULL);
	if (rc == KH_OK && (plan & KH_ST_STAGE) && x->o->bundle)
		rc = case_twins(x->o->install, x->o->n_install, x->c->install_dir, x->o->bundle);
	if (rc == KH_OK && (plan & KH_ST_VERIFY) && x->o->bundle && !(x->root = root_of(x)))
		rc = KH_ERR_CONFIG;
	if (rc != KH_OK) {
		*s = step_begin(x->r, "check");
		step_end(*s, rc);
	}
	return rc;
}

static int not_yet(int rc) { return rc == KH_ERR_INUSE || rc == KH_ERR_TIMEOUT; }

static int run_step(struct run *x, unsigned bit, struct kh_stepres *s)
{
	switch (bit) {
	case KH_ST_BACKUP: return do_backup(x, s);
	case KH_ST_STAGE: return do_stage(x, s);
	case KH_ST_RESTART: return do_restart(x, s);
	case KH_ST_VERIFY: return do_verify(x, s);
	case KH_ST_REGISTRY: return do_registry(x, s);
	case KH_ST_TRIGGER: return do_trigger(x, s);
	case KH_ST_WAIT: return do_wait(x, s);
	}
	return KH_OK;
}

/* The outcome: a failure before the commit point was rolled back (failed,
 * or pending when it was only "not yet"); after it, pending. */
static void outcome(struct run *x, int rc, int offline, int no_activate)
{
	struct kh_result *r = x->r;

	if (rc != KH_OK && x->journal_open) {
		int archive = x->archive_journalled;

		rollback(x);
		if (archive && (offline || !not_yet(rc)))
			finish(r, KH_OUT_FAILED, KH_EXIT_FAILED);
		else
			finish(r, KH_OUT_PENDING, KH_EXIT_PENDING);
	} else if (rc != KH_OK && !x->committed && !not_yet(rc)) {
		finish(r, KH_OUT_FAILED, KH_EXIT_FAILED);
	} else if (rc != KH_OK || offline || no_activate) {
		finish(r, KH_OUT_PENDING, KH_EXIT_PENDING);
	} else {
		finish(r, KH_OUT_REPAIRED, KH_EXIT_OK);
	}
	/* a ClipSVC this run stopped is not left stopped */
	if (x->clip_down) {
		struct kh_stepres *s = step_begin(r, "start-clipsvc");

		kh_clearerr();
		if (step_end(s, plat_service_start(x->p, x->c->clipsvc_service,
						   grace_s(x->c->clipsvc_timeout))) == KH_OK)
			snprintf(s->detail, sizeof(s->detail), "%s started again",
				 x->c->clipsvc_service);
	}
}

void repair_run(kh_plat *p, const struct kh_config *c, const struct kh_obs *o,
		const struct kh_decision *d, const struct kh_runopts *opt,
		struct kh_result *r)
{
	struct run x = { .p = p, .c = c, .o = o, .r = r, .whole_wait = opt->wait_s >= 0 };
	int offline = plat_is_offline(p);
	/* the last step a failure rolls back: ClipSVC started again live,
	 * the registry offline */
	unsigned undoable = offline ? KH_ST_BACKUP | KH_ST_STAGE | KH_ST_REGISTRY
				    : KH_ST_BACKUP | KH_ST_STAGE | KH_ST_RESTART;
	unsigned last = 0;
	struct kh_stepres *s;
	int rc;
	static const struct {
		unsigned bit;
		const char *stop;
	} order[] = {
		{ KH_ST_BACKUP, "backup" }, { KH_ST_STAGE, "stage" },
		{ KH_ST_RESTART, "restart-clipsvc" }, { KH_ST_VERIFY, "verify" },
		{ KH_ST_REGISTRY, "registry" }, { KH_ST_TRIGGER, "trigger" },
		{ KH_ST_WAIT, "wait" },
	};

	kh_budget_set(opt->deadline_ms);
	if ((rc = precheck(&x, d->plan, &s)) != KH_OK) {
		finish(r, KH_OUT_FAILED, kh_exitcode(rc));
		return;
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (d->plan & undoable & order[i].bit)
			last = order[i].bit;
	if (!offline && (d->plan & KH_ST_BACKUP) && (d->plan & KH_ST_RESTART)) {
		s = step_begin(r, "stop-clipsvc");
		kh_clearerr();
		if (step_end(s, rc = do_stop(&x, s)) == KH_OK)
			kh_test_stop("stop-clipsvc");
	}
	for (size_t i = 0; rc == KH_OK && i < sizeof(order) / sizeof(order[0]); i++) {
		unsigned bit = order[i].bit;

		if (!(d->plan & bit))
			continue;
		if (opt->no_activate && (bit == KH_ST_TRIGGER || bit == KH_ST_WAIT))
			continue;
		s = step_begin(r, step_name(bit));
		kh_clearerr();
		rc = run_step(&x, bit, s);
		step_end(s, rc);
		if (rc == KH_OK)
			kh_test_stop(order[i].stop);
		/* past the last undoable step the change is confirmed: from here
		 * on nothing rolls back, and the journal is committed (live, the
		 * registry step has a journal of its own) */
		if (rc == KH_OK && bit == last)
			x.committed = 1;
		if (rc == KH_OK && x.journal_open &&
		    (bit == last || (!offline && bit == KH_ST_REGISTRY))) {
			kh_test_stop("journal-end");
			if ((rc = journal_commit(p)) == KH_OK) {
				x.journal_open = 0;
				if (x.archive_journalled && (d->plan & KH_ST_BACKUP) && x.have_backup)
					r->archive_repaired = 1;
				x.archive_journalled = 0;
			}
		}
	}
	outcome(&x, rc, offline, opt->no_activate);
	if (x.have_backup && r->exit_code != KH_EXIT_FAILED)
		backup_prune(p, c->keep_backups, x.b.id);
	backup_free(&x.b);
}

void repair_summary(const struct kh_result *r, char *out, size_t size)
{
	const struct kh_stepres *bad = NULL, *rb = NULL;

	out[0] = '\0';
	for (size_t i = 0; i < r->n_steps; i++) {
		if (!strcmp(r->steps[i].step, "rollback"))
			rb = &r->steps[i];
		else if (!bad && !r->steps[i].ok && strcmp(r->steps[i].step, "task"))
			bad = &r->steps[i];
	}
	if (!bad && !rb)
		return;
	snprintf(out, size, "%s%s%s; %s%s", bad ? bad->step : "", bad ? " not done: " : "",
		 bad ? bad->detail : "",
		 rb && rb->ok ? "rolled back: " : rb ? "rollback FAILED: " :
		 r->archive_repaired ? "nothing rolled back: the archive repair stands, the "
				       "backup is kept for restore" : "nothing rolled back",
		 rb ? rb->detail : "");
	if (rb && !bad)
		memmove(out, out + 2, strlen(out + 2) + 1);
}

/* ---- restore ---- */

/* Every archive entry is there as recorded and goes back to the archive
 * folder khreset owns. */
static int check_backup(kh_plat *p, const struct kh_config *c, const struct kh_backup *b)
{
	int rc = KH_OK;

	if (!backup_count(b, KH_PART_ARCHIVE)) {
		kh_seterr("backup %s holds no archive entries; nothing to restore", b->id);
		return KH_ERR_DATA;
	}
	for (size_t i = 0; rc == KH_OK && i < b->n; i++) {
		const struct kh_bfile *f = &b->files[i];
		char *path, sha[KH_SHA256_HEX] = "";
		struct kh_dirent st;

		if (strcmp(f->part, KH_PART_ARCHIVE))
			continue;
		if (!state_path_eq(f->origin, c->archive_dir)) {
			kh_seterr("backup %s: %s came from %s, not the archive folder %s; nothing "
				  "restored", b->id, f->name, f->origin, c->archive_dir);
			return KH_ERR_DATA;
		}
		if (!(path = backup_path(b->id, f->part, f->name)))
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
		if (rc == KH_OK && f->type == KH_FT_FILE && f->sha256[0] &&
		    (rc = state_digest(p, path, c->max_file_size, sha)) == KH_OK &&
		    strcmp(sha, f->sha256)) {
			kh_seterr("backup %s: %s has digest %s, manifest says %s; nothing restored",
				  b->id, path, sha[0] ? sha : "(too large to read)", f->sha256);
			rc = KH_ERR_DATA;
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
	char *pdir = backup_path(b->id, KH_PART_ARCHIVE, NULL);
	int rc = pdir ? KH_OK : KH_ERR_NOMEM;

	for (size_t i = 0; rc == KH_OK && i < b->n; i++) {
		const struct kh_bfile *f = &b->files[i];
		char *from, *to;

		if (strcmp(f->part, KH_PART_ARCHIVE))
			continue;
		from = backup_path(b->id, f->part, f->name);
		to = kh_asprintf("%s\\%s", f->origin, f->name);
		rc = from && to ? plat_mkdirs(p, f->origin) : KH_ERR_NOMEM;
		if (rc == KH_OK)
			rc = journal_move(p, f->name, pdir, f->origin, f->type, f->size, f->sha256);
		if (rc == KH_OK)
			rc = plat_rename(p, from, to);
		if (rc == KH_OK) {
			kh_log(KH_LOG_INFO, "restore", "moved %s back to %s", from, to);
			kh_test_stop("restore-move");
		}
		free(from);
		free(to);
	}
	free(pdir);
	return rc;
}

/* What is in the archive now becomes a new backup, then the old one's
 * entries move back; journalled like a run, from the first change on. */
int restore_backup(kh_plat *p, const struct kh_config *c, const char *id,
		   struct kh_result *r)
{
	struct kh_backup old, now;
	struct kh_stepres *s;
	int rc, journal = 0;

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
	if (step_end(s, rc = check_backup(p, c, &old)) != KH_OK)
		goto out;
	s = step_begin(r, "backup");
	if ((rc = journal_begin(p, "restore")) == KH_OK)
		journal = 1;
	if (rc == KH_OK && (rc = journal_backup(p, old.id, "source")) == KH_OK &&
	    (rc = backup_create(p, &now, "restore")) == KH_OK &&
	    (rc = journal_backup(p, now.id, "own")) == KH_OK &&
	    (rc = backup_save(p, &now)) == KH_OK)
		rc = backup_move_dir(p, &now, KH_PART_ARCHIVE, c->archive_dir, NULL,
				     c->max_file_size);
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
		if (rc == KH_OK &&
		    (rc = journal_state(p, old.id, KH_BS_COMPLETE, KH_BS_RESTORED)) == KH_OK) {
			old.state = KH_BS_RESTORED;
			rc = backup_save(p, &old);
		}
		if (rc == KH_OK) {
			kh_test_stop("restore-marked");
			snprintf(s->detail, sizeof(s->detail), "archive entries of %s put back", id);
		}
		step_end(s, rc);
	}
	if (rc == KH_OK) {
		rc = journal_commit(p);
		journal = rc != KH_OK;
	}
	if (rc != KH_OK && journal) {
		struct kh_recovery rec;
		char why[1024];

		snprintf(why, sizeof(why), "%s", kh_lasterr());
		journal_rollback(p);
		s = step_begin(r, "rollback");
		if (step_end(s, journal_recover(p, c, &rec)) == KH_OK)
			snprintf(s->detail, sizeof(s->detail), "%d action(s) undone; archive as "
				 "before", rec.undone);
		kh_seterr("%s", why);
	}
out:
	backup_free(&old);
	backup_free(&now);
	return rc;
}
