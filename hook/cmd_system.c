/* cmd_system.c - the verbs that act on a Windows system: check, run, restore. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "budget.h"
#include "cli.h"
#include "collect.h"
#include "khreset.h"
#include "repair.h"
#include "state.h"

#define LOG_DIR  "Windows\\Logs\\khreset"
#define LOG_FILE LOG_DIR "\\khreset.log"
#define LOG_MAX  (1u << 20)
#define LOG_KEEP 3

/* The khreset.log writer; a log that cannot be written is said once. */
struct logfile {
	kh_plat *p;
	int failed;
};

struct session {
	kh_plat *p;
	struct kh_config *c;
	int locked;
	struct logfile log;
};

static int session_open(struct session *s, const struct kh_globals *g)
{
	int rc;

	memset(s, 0, sizeof(*s));
#ifndef _WIN32
	if (!g->root) {
		cli_say("live mode needs Windows; on Linux give --root DIR "
			"(a mounted Windows volume)");
		return KH_EXIT_USAGE;
	}
#endif
	if ((rc = plat_open(&s->p, g->root)) != KH_OK)
		return cli_fail(rc, "%s", g->root ? g->root : "live system");
	if ((rc = cli_config(g, s->p, &s->c)) != KH_OK)
		return cli_fail(rc, "configuration");
	return 0;
}

/* khreset.log -> .1 -> .2 -> .3; the oldest is dropped. */
static void log_rotate(kh_plat *p)
{
	char from[64], to[64];

	snprintf(to, sizeof(to), LOG_FILE ".%d", LOG_KEEP);
	plat_remove(p, to);
	for (int i = LOG_KEEP - 1; i >= 0; i--) {
		snprintf(from, sizeof(from), i ? LOG_FILE ".%d" : LOG_FILE, i);
		snprintf(to, sizeof(to), LOG_FILE ".%d", i + 1);
		plat_rename(p, from, to);
	}
}

/* The log sink: never recurses, never disturbs the caller's error detail;
 * the first line that cannot be written is reported on stderr (the run
 * goes on: the log is its record, not its work). */
static void log_to_file(const char *line, void *ud)
{
	static int busy;
	char saved[1024];
	struct kh_dirent st;
	struct logfile *lf = ud;
	kh_plat *p = lf->p;
	int rc = KH_OK;

	if (busy)
		return;
	busy = 1;
	snprintf(saved, sizeof(saved), "%s", kh_lasterr());
	kh_clearerr();
	if (plat_stat(p, LOG_FILE, &st) == KH_OK) {
		if (st.size >= LOG_MAX)
			log_rotate(p);
		free(st.name);
	} else
		rc = plat_mkdirs(p, LOG_DIR);
	if (rc == KH_OK)
		rc = plat_append_sync(p, LOG_FILE, line, strlen(line));
	if (rc != KH_OK && !lf->failed) {
		lf->failed = 1;
		cli_say("the log %s cannot be written: %s; going on without it", LOG_FILE,
			kh_lasterr()[0] ? kh_lasterr() : kh_errstr(rc));
	}
	kh_seterr("%s", saved);
	busy = 0;
}

static void session_close(struct session *s)
{
	kh_log_sink(NULL, NULL, KH_LOG_INFO);
	if (s->locked)
		plat_unlock(s->p);
	config_free(s->c);
	if (s->p)
		plat_close(s->p);
}

/* Writable volume, state folder, single instance, interrupted run undone. */
static int session_lock(struct session *s, struct kh_result *r)
{
	const char *ro = plat_readonly_why(s->p);
	int rc;

	if (ro) {
		cli_say("nothing was changed: %s", ro);
		return KH_EXIT_NOPERM;
	}
	rc = plat_writable(s->p);

	if (rc == KH_OK)
		rc = plat_mkdirs(s->p, KH_STATE_DIR);
	if (rc != KH_OK)
		return cli_fail(rc, "%s", plat_is_offline(s->p) ? "volume not writable"
								 : "not permitted");
	if ((rc = plat_lock(s->p, KH_LOCKFILE)) != KH_OK)
		return cli_fail(rc, "lock");
	s->locked = 1;
	s->log.p = s->p;
	kh_log_sink(log_to_file, &s->log, s->c->log_level);
	if ((rc = journal_recover(s->p, s->c, &r->recovery)) != KH_OK)
		return cli_fail(rc, "recovering the interrupted run");
	if (r->recovery.found)
		cli_say("%s", r->recovery.detail);
	return 0;
}

static void emit(struct session *s, const struct kh_globals *g, const struct kh_obs *o,
		 const struct kh_decision *d, const struct kh_result *r, int durable)
{
	int save = !g->image || durable;      /* check of a disk image: mounted read-only */
	int rc;

	if (!save)
		kh_log(KH_LOG_INFO, "report", "status.json not written: %s is mounted read-only",
		       g->image);
	rc = report_emit(s->p, o, d, r, save, durable, g->json ? stdout : NULL);
	if (rc != KH_OK)
		kh_log(KH_LOG_WARN, "report", "status.json not written: %s",
		       kh_lasterr()[0] ? kh_lasterr() : kh_errstr(rc));
	if (!g->json && g->verbosity > 0)
		report_human(stdout, o, d, r, g->verbosity > 1);
}

static int observe_decide(struct session *s, int force, struct kh_obs *o,
			  struct kh_decision *d)
{
	struct kh_facts f;
	int rc = observe(s->p, s->c, o);

	if (rc != KH_OK)
		return cli_fail(rc, "observing the system");
	facts_from(o, s->c, force, &f);
	decide(&f, d);
	return 0;
}

static int bundle_needed(const struct kh_obs *o, const struct kh_decision *d)
{
	if (o->bundle || (d->verdict != KH_V_REPAIR && d->verdict != KH_V_ACTIVATE))
		return 0;
	cli_say("cannot %s without the official keyholder set: %s",
		d->verdict == KH_V_REPAIR ? "repair" : "activate",
		o->bundle_msg ? o->bundle_msg : "bundle unavailable");
	return kh_exitcode(o->bundle_err ? o->bundle_err : KH_ERR_BUNDLE);
}

/* A dirty hive (SPEC section 3) only read: its data may be stale. */
static void hive_warn(const struct kh_obs *o, const char *what)
{
	for (size_t i = 0; i < o->n_hives; i++)
		if (o->hives[i].dirty)
			kh_log(KH_LOG_WARN, "registry", "hive %s is dirty (%s): what was read "
			       "from it may be stale; %s", o->hives[i].path, o->hives[i].evidence, what);
}

/* The hive a configured key names ("HKLM\SOFTWARE\..." -> "SOFTWARE"). */
static void hive_of_key(const char *key, char out[16])
{
	const char *s = strchr(key, '\\');
	size_t n = s ? strcspn(s + 1, "\\") : 0;

	snprintf(out, 16, "%.*s", (int)(n < 15 ? n : 15), s ? s + 1 : "");
}

/* Dirty hives and the plan: --no-registry leaves the registry step to the
 * live run; else a dirty hive the step would write refuses the run before
 * anything changes (exit 65). */
static int hive_gate(const struct kh_obs *o, const struct kh_config *c,
		     const struct kh_runopts *opt, struct kh_decision *d)
{
	const struct kh_hive_state *h = NULL;
	char name[16];

	if (opt->no_registry && (d->plan & KH_ST_REGISTRY)) {
		d->plan &= ~(unsigned)KH_ST_REGISTRY;
		kh_log(KH_LOG_INFO, "registry", "--no-registry: the %zu configured value(s) are "
		       "left to the live run on the VM", c->n_reg);
	}
	for (size_t i = 0; !h && (d->plan & KH_ST_REGISTRY) && i < c->n_reg; i++) {
		hive_of_key(c->reg[i].key, name);
		h = obs_dirty_hive(o, name);
	}
	if (!h) {
		hive_warn(o, "it is not written");
		return 0;
	}
	cli_say("registry hive %s is dirty (%s): Windows has not yet replayed its "
		"transaction logs, and writing it would throw those changes away; "
		"nothing was changed.  Start the VM once and shut it down cleanly, then "
		"run again, or run --no-registry to repair the archive and leave the "
		"registry values to the live run", h->path, h->evidence);
	return KH_EXIT_DATAERR;
}

/* [bundle] target_build against the running build: check says so; run
 * refuses a bundle made for another build unless --force (SPEC 5). */
static int build_mismatch(const struct kh_obs *o, const struct kh_decision *d, int run,
			  int force)
{
	long want = o->bundle ? o->bundle->target_build : 0;

	if (!want || !o->build || want == o->build ||
	    (d->verdict != KH_V_REPAIR && d->verdict != KH_V_ACTIVATE))
		return 0;
	if (!run || force) {
		cli_say("the bundle targets build %ld, this system runs build %ld%s", want,
			o->build, !run ? ": run refuses it without --force"
				       : "; used anyway (--force)");
		return 0;
	}
	cli_say("the bundle targets build %ld, this system runs build %ld: not used "
		"(nothing was changed; --force uses it anyway)", want, o->build);
	return KH_EXIT_DATAERR;
}

/* The backup folder, if there, must be a folder reached without a link:
 * said before anything changes rather than when the first entry moves. */
static int state_folders(kh_plat *p)
{
	static const char *const dirs[] = { KH_STATE_DIR, KH_BACKUP_DIR };
	struct kh_dirent st;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int rc = plat_stat(p, dirs[i], &st);

		if (rc == KH_ERR_NOENT) {
			kh_clearerr();
			return 0;
		}
		if (rc == KH_OK && st.type != KH_FT_DIR) {
			kh_seterr("%s: refused: %s", dirs[i], st.type == KH_FT_LINK ?
				  "a symbolic link" : "not a folder");
			rc = KH_ERR_UNSAFE;
		}
		free(st.name);
		if (rc != KH_OK)
			return cli_fail(rc, "state folder");
	}
	return 0;
}

/* The backup moves every archive entry: one no path can name would fail
 * it half-way, so the run is refused before it starts. */
static int movable(const struct kh_obs *o, const struct kh_decision *d)
{
	const struct kh_entry *e = (d->plan & KH_ST_BACKUP) ? obs_unaddressable(o) : NULL;

	if (!e)
		return 0;
	cli_say("archive entry '%s' cannot be moved aside: its name holds a '\\', which no "
		"Windows path can name; move it out of the archive by hand (nothing was changed)",
		e->name);
	return KH_EXIT_DATAERR;
}

int cmd_check(int argc, char **argv, struct kh_globals *g)
{
	struct session s;
	struct kh_obs o;
	struct kh_decision d;
	struct kh_result r = { 0 };
	int ch, ex, bad;

	if ((ch = cli_getopt(argc, argv, "check", g)) != -1)
		return cli_exit(ch);
	if (optind < argc)
		return cli_usage_error("check", "unexpected argument '%s'", argv[optind]);
	memset(&o, 0, sizeof(o));
	if ((ex = session_open(&s, g)) != 0)
		goto out;
	if (!g->image && plat_readonly_why(s.p))
		kh_log(KH_LOG_WARN, "check", "%s; what is read may be stale, and status.json "
		       "is not written", plat_readonly_why(s.p));
	if ((ex = observe_decide(&s, 0, &o, &d)) != 0)
		goto out;
	r.outcome = d.verdict == KH_V_HEALTHY ? KH_OUT_HEALTHY
		  : d.verdict == KH_V_BLOCKED ? KH_OUT_BLOCKED : KH_OUT_CHECKED;
	ex = d.verdict == KH_V_HEALTHY ? KH_EXIT_OK : KH_EXIT_ATTENTION;
	if ((bad = bundle_needed(&o, &d)) != 0)
		ex = bad;
	build_mismatch(&o, &d, 0, 0);
	hive_warn(&o, "run will not write it");
	r.exit_code = ex;
	emit(&s, g, &o, &d, &r, 0);
out:
	obs_free(&o);
	session_close(&s);
	return ex;
}

static int parse_run(int argc, char **argv, struct kh_globals *g, struct kh_runopts *opt,
		     const char **evidence)
{
	char *end;
	int ch;

	*opt = (struct kh_runopts){ .wait_s = -1 };
	while ((ch = cli_getopt(argc, argv, "run", g)) != -1) {
		switch (ch) {
		case OPT_FORCE: opt->force = 1; break;
		case OPT_NO_ACTIVATE: opt->no_activate = 1; break;
		case OPT_FROM_TASK: opt->from_task = 1; break;
		case OPT_NO_REGISTRY: opt->no_registry = 1; break;
		case OPT_EVIDENCE: *evidence = optarg; break;
		case OPT_WAIT:
			opt->wait_s = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || opt->wait_s < 0 || opt->wait_s > 86400)
				return cli_usage_error("run", "--wait: expected seconds 0..86400, "
						       "got '%s'", optarg);
			break;
		default:
			return cli_exit(ch);
		}
	}
	if (optind < argc)
		return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
	return -1;
}

/* Live: the retry task follows the outcome, Status values and event. */
static void finish_live(struct session *s, const struct kh_decision *d, int from_task,
			long attempt, struct kh_result *r)
{
	struct kh_task t;
	int rc = cli_task(s->c, &t);

	retry_finish(s->p, s->c, rc == KH_OK ? &t : NULL, d, from_task, attempt, r);
	cli_task_free(&t);
}

int cmd_run(int argc, char **argv, struct kh_globals *g)
{
	struct kh_runopts opt;
	struct session s;
	struct kh_obs o;
	struct kh_decision d;
	struct kh_result r = { 0 };
	struct kh_collector *ev = NULL;
	const char *evidence = NULL;
	long attempt = 0, t0 = kh_mono_ms();
	char why[600];
	int ex;

	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
	if ((ex = parse_run(argc, argv, g, &opt, &evidence)) != -1)
		return ex;
	if ((ex = session_open(&s, g)) != 0)
		goto out;
	if (opt.from_task && plat_is_offline(s.p)) {
		ex = cli_usage_error("run", "--from-task is for the live retry task only");
		goto out;
	}
	if (evidence && (ex = collect_begin(s.p, s.c, g, evidence, opt.wait_s, &ev)) != 0)
		goto out;
	attempt = retry_begin(s.p, s.c, opt.from_task);
	/* the budget counts from the process start, a task run's from the end
	 * of its jitter (SPEC section 3) */
	if (opt.from_task)
		t0 = kh_mono_ms();
	opt.deadline_ms = t0 + config_budget_s(s.c, opt.wait_s) * 1000L;
	kh_budget_set(opt.deadline_ms);
	if ((ex = state_folders(s.p)) != 0 || (ex = session_lock(&s, &r)) != 0 ||
	    (ex = observe_decide(&s, opt.force, &o, &d)) != 0)
		goto out;
	if ((ex = bundle_needed(&o, &d)) != 0 || (ex = movable(&o, &d)) != 0 ||
	    (ex = build_mismatch(&o, &d, 1, opt.force)) != 0)
		goto out;
	if ((ex = hive_gate(&o, s.c, &opt, &d)) != 0)
		goto out;
	if (d.verdict == KH_V_HEALTHY) {
		r.outcome = KH_OUT_HEALTHY;
		r.exit_code = KH_EXIT_OK;
	} else if (d.verdict == KH_V_BLOCKED) {
		r.outcome = KH_OUT_BLOCKED;
		r.exit_code = KH_EXIT_ATTENTION;
		cli_say("blocked: %s", d.why);
	} else {
		kh_log(KH_LOG_INFO, "run", "khreset %s: verdict %s (%s)", KH_VERSION,
		       verdict_name(d.verdict), d.why);
		repair_run(s.p, s.c, &o, &d, &opt, &r);
		rrec_after_run(s.p, &o, d.plan, opt.no_registry, r.archive_repaired, r.backup_id);
	}
	/* the status document reports the licence as it is now */
	if (!plat_is_offline(s.p)) {
		plat_licence(s.p, &o.lic, &o.lic_reason);
		finish_live(&s, &d, opt.from_task, attempt, &r);
	}
	ex = r.exit_code;
	repair_summary(&r, why, sizeof(why));
	kh_log(ex == KH_EXIT_FAILED ? KH_LOG_ERROR : KH_LOG_INFO, "run", "outcome %s, exit %d%s%s%s%s",
	       outcome_name(r.outcome), ex, r.backup_id[0] ? ", backup " : "", r.backup_id,
	       why[0] ? "; " : "", why);
	kh_test_stop("report");
	emit(&s, g, &o, &d, &r, 1);
out:
	collect_end(ev);
	obs_free(&o);
	session_close(&s);
	return ex;
}

static void print_json(json_t *j)
{
	if (j)
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("\n");
	json_decref(j);
}

static int list_backups(struct session *s, const struct kh_globals *g)
{
	json_t *arr = json_array();
	char **ids = NULL;
	size_t n = 0;
	int rc = backup_list(s->p, &ids, &n);

	if (rc != KH_OK) {
		json_decref(arr);
		return cli_fail(rc, "listing backups");
	}
	if (!g->json)
		printf("%zu backup(s) under %s\n", n, KH_BACKUP_DIR);
	for (size_t i = 0; i < n; i++) {
		struct kh_backup b;
		char when[32];
		int ok = backup_load(s->p, ids[i], &b) == KH_OK;
		size_t ne = backup_count(&b, KH_PART_ARCHIVE) + backup_count(&b, KH_PART_INSTALL);
		json_t *e;

		kh_fmt_time(b.created, when);
		e = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id", ids[i],
			"state", ok ? bstate_name(b.state) : "unreadable", "reason", ok ? b.reason : "",
			"created", when, "entries", (json_int_t)ne,
			"hives", (json_int_t)backup_count(&b, KH_PART_REGISTRY));
		if (!ok && e)
			json_object_set_new(e, "error", json_string(kh_lasterr()));
		json_array_append_new(arr, e);
		if (!g->json)
			printf("  %-20s %-12s %-9s %3zu entr%s  %s\n", ids[i],
			       ok ? bstate_name(b.state) : "UNREADABLE", ok ? b.reason : "-", ne,
			       ne == 1 ? "y  " : "ies", when);
		if (!g->json && !ok)
			printf("    %s\n", kh_lasterr());
		backup_free(&b);
	}
	if (g->json)
		print_json(json_pack("{s:o}", "backups", arr));
	else
		json_decref(arr);
	backup_free_ids(ids, n);
	return KH_EXIT_OK;
}

/* The newest complete backup that holds archive entries, or NULL. */
static char *latest_complete(struct session *s)
{
	char **ids = NULL, *id = NULL;
	size_t n = 0;

	if (backup_list(s->p, &ids, &n) != KH_OK)
		return NULL;
	for (size_t i = n; !id && i-- > 0;) {
		struct kh_backup b;
		if (backup_load(s->p, ids[i], &b) == KH_OK && b.state == KH_BS_COMPLETE &&
		    backup_count(&b, KH_PART_ARCHIVE))
			id = kh_strdup(ids[i]);
		backup_free(&b);
	}
	backup_free_ids(ids, n);
	return id;
}

int cmd_restore(int argc, char **argv, struct kh_globals *g)
{
	struct kh_result r = { 0 };
	struct session s;
	char *id = NULL;
	int list = 0, latest = 0, ch, ex, rc;

	while ((ch = cli_getopt(argc, argv, "restore", g)) != -1) {
		switch (ch) {
		case OPT_LIST: list = 1; break;
		case OPT_LATEST: latest = 1; break;
		default: return cli_exit(ch);
		}
	}
	if (optind < argc)
		id = argv[optind++];
	if (optind < argc)
		return cli_usage_error("restore", "unexpected argument '%s'", argv[optind]);
	if (list + latest + (id != NULL) != 1)
		return cli_usage_error("restore", "needs exactly one of ID, --latest, --list");
	if ((ex = session_open(&s, g)) != 0)
		goto out;
	if (list) {
		ex = list_backups(&s, g);
		goto out;
	}
	if ((ex = session_lock(&s, &r)) != 0)
		goto out;
	id = latest ? latest_complete(&s) : kh_strdup(id);
	if (!id) {
		if (r.recovery.found) {
			const char *msg = "nothing to restore; the interrupted run was rolled "
					  "back and the archive is as it was";
			if (g->json)
				print_json(json_pack("{s:n, s:s}", "restored", "detail", msg));
			else
				printf("khreset: %s\n", msg);
			ex = KH_EXIT_OK;
		} else {
			cli_say("no complete backup to restore");
			ex = KH_EXIT_FAILED;
		}
		goto out;
	}
	rc = restore_backup(s.p, s.c, id, &r);
	if (rc == KH_OK)
		rrec_forget(s.p, id);
	if (rc != KH_OK) {
		ex = cli_fail(rc, "restore");
	} else {
		ex = KH_EXIT_OK;
		if (g->json)
			print_json(json_pack("{s:s, s:s}", "restored", id, "backup_id", r.backup_id));
		else
			printf("khreset: restored backup %s; what was in the archive is now backup %s\n",
			       id, r.backup_id);
	}
	free(id);
out:
	session_close(&s);
	return ex;
}
