/* cmd_system.c - the verbs that act on a Windows system: check, run, restore. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "khreset.h"
#include "repair.h"
#include "state.h"

#define LOG_DIR  "Windows\\Logs\\khreset"
#define LOG_FILE LOG_DIR "\\khreset.log"
#define LOG_MAX  (1u << 20)
#define LOG_KEEP 3

#define OFFLINE_CONFIG "Windows\\Setup\\Scripts\\khreset\\khreset.ini"
#define OFFLINE_BASE   "Windows/Setup/Scripts/khreset"

struct session {
	kh_plat *p;
	struct kh_config *c;
	int locked;
};

static int fail(int rc, const char *what)
{
	const char *d = kh_lasterr();

	fprintf(stderr, "khreset: %s: %s\n", what, d[0] ? d : kh_errstr(rc));
	return kh_exitcode(rc);
}

/* Offline default config: read safely from inside the root. */
static int load_offline_config(struct session *s, const char *root)
{
	unsigned char *buf = NULL;
	char *shown, *base;
	size_t len;
	int rc = plat_read(s->p, OFFLINE_CONFIG, 1 << 20, &buf, &len);

	base = kh_asprintf("%s/%s", root, OFFLINE_BASE);
	shown = kh_asprintf("%s/%s/khreset.ini", root, OFFLINE_BASE);
	if (!base || !shown)
		rc = KH_ERR_NOMEM;
	if (rc == KH_ERR_NOENT)
		rc = config_load(NULL, base, &s->c);
	else if (rc == KH_OK)
		rc = config_parse(buf, len, shown, base, &s->c);
	free(buf);
	free(base);
	free(shown);
	return rc;
}

/* Live default config: khreset.ini beside the executable, else defaults
 * with bundle\ beside it. */
static int load_live_config(struct session *s)
{
	char *dir = plat_self_dir(), *path = dir ? kh_asprintf("%s\\khreset.ini", dir) : NULL;
	int rc;

	if (!path) {
		free(dir);
		kh_seterr("cannot find the executable's folder");
		return KH_ERR_IO;
	}
	if ((rc = config_load(path, NULL, &s->c)) == KH_ERR_NOENT) {
		kh_clearerr();
		rc = config_load(NULL, dir, &s->c);
	}
	free(path);
	free(dir);
	return rc;
}

static int session_open(struct session *s, const struct kh_globals *g)
{
	int rc;

	memset(s, 0, sizeof(*s));
#ifndef _WIN32
	if (!g->root) {
		fprintf(stderr, "khreset: live mode needs Windows; on Linux give --root DIR "
				"(a mounted Windows volume)\n");
		return KH_EXIT_USAGE;
	}
#endif
	if ((rc = plat_open(&s->p, g->root)) != KH_OK)
		return fail(rc, g->root ? g->root : "live system");
	rc = g->config ? config_load(g->config, NULL, &s->c)
	   : g->root ? load_offline_config(s, g->root) : load_live_config(s);
	if (rc != KH_OK)
		return fail(rc, "configuration");
	kh_log_setlevel(g->verbosity == 0 ? KH_LOG_ERROR
			: g->verbosity == 2 ? KH_LOG_DEBUG : KH_LOG_WARN);
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

/* The log sink: never recurses, never disturbs the caller's error detail. */
static void log_to_file(const char *line, void *ud)
{
	static int busy;
	char saved[1024];
	struct kh_dirent st;
	kh_plat *p = ud;

	if (busy)
		return;
	busy = 1;
	snprintf(saved, sizeof(saved), "%s", kh_lasterr());
	if (plat_stat(p, LOG_FILE, &st) == KH_OK) {
		if (st.size >= LOG_MAX)
			log_rotate(p);
		free(st.name);
	} else
		plat_mkdirs(p, LOG_DIR);
	plat_append_sync(p, LOG_FILE, line, strlen(line));
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
	int rc = plat_writable(s->p);

	if (rc == KH_OK)
		rc = plat_mkdirs(s->p, KH_STATE_DIR);
	if (rc != KH_OK)
		return fail(rc, plat_is_offline(s->p) ? "volume not writable" : "not permitted");
	if ((rc = plat_lock(s->p, KH_LOCKFILE)) != KH_OK)
		return fail(rc, "lock");
	s->locked = 1;
	kh_log_sink(log_to_file, s->p, s->c->log_level);
	if ((rc = journal_recover(s->p, &r->recovery)) != KH_OK)
		return fail(rc, "recovering the interrupted run");
	if (r->recovery.found)
		fprintf(stderr, "khreset: %s\n", r->recovery.detail);
	return 0;
}

static void emit(struct session *s, const struct kh_globals *g, const struct kh_obs *o,
		 const struct kh_decision *d, const struct kh_result *r, int durable)
{
	char *json = report_json(o, d, r);
	int rc;

	if (!json) {
		fprintf(stderr, "khreset: out of memory building the status\n");
		return;
	}
	if ((rc = report_save(s->p, json, durable)) != KH_OK)
		kh_log(KH_LOG_WARN, "report", "status.json not written: %s",
		       kh_lasterr()[0] ? kh_lasterr() : kh_errstr(rc));
	if (g->json)
		printf("%s\n", json);
	else if (g->verbosity > 0)
		report_human(stdout, o, d, r, g->verbosity > 1);
	free(json);
}

static int observe_decide(struct session *s, int force, struct kh_obs *o,
			  struct kh_decision *d)
{
	struct kh_facts f;
	int rc = observe(s->p, s->c, o);

	if (rc != KH_OK)
		return fail(rc, "observing the system");
	facts_from(o, s->c, force, &f);
	decide(&f, d);
	return 0;
}

static int bundle_needed(const struct kh_obs *o, const struct kh_decision *d)
{
	if (o->bundle || (d->verdict != KH_V_REPAIR && d->verdict != KH_V_ACTIVATE))
		return 0;
	fprintf(stderr, "khreset: cannot %s without the official keyholder set: %s\n",
		d->verdict == KH_V_REPAIR ? "repair" : "activate",
		o->bundle_msg ? o->bundle_msg : "bundle unavailable");
	return kh_exitcode(o->bundle_err ? o->bundle_err : KH_ERR_BUNDLE);
}

int cmd_check(int argc, char **argv, const struct kh_globals *g)
{
	struct session s;
	struct kh_obs o;
	struct kh_decision d;
	struct kh_result r = { 0 };
	int ex;

	if (argc > 1) {
		fprintf(stderr, "khreset: check: unexpected argument '%s'\n", argv[1]);
		return KH_EXIT_USAGE;
	}
	memset(&o, 0, sizeof(o));
	if ((ex = session_open(&s, g)) != 0 || (ex = observe_decide(&s, 0, &o, &d)) != 0)
		goto out;
	r.outcome = d.verdict == KH_V_HEALTHY ? KH_OUT_HEALTHY
		  : d.verdict == KH_V_BLOCKED ? KH_OUT_BLOCKED : KH_OUT_CHECKED;
	ex = d.verdict == KH_V_HEALTHY ? KH_EXIT_OK : KH_EXIT_ATTENTION;
	if (bundle_needed(&o, &d))
		ex = bundle_needed(&o, &d);
	r.exit_code = ex;
	emit(&s, g, &o, &d, &r, 0);
out:
	obs_free(&o);
	session_close(&s);
	return ex;
}

static int parse_run(int argc, char **argv, struct kh_runopts *opt)
{
	static const struct option lo[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "no-activate", no_argument, NULL, 'n' },
		{ "wait", required_argument, NULL, 'w' },
		{ "from-task", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	int ch;

	*opt = (struct kh_runopts){ .wait_s = -1 };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (ch) {
		case 'f': opt->force = 1; break;
		case 'n': opt->no_activate = 1; break;
		case 't': opt->from_task = 1; break;
		case 'w':
			opt->wait_s = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || opt->wait_s < 0 || opt->wait_s > 86400) {
				fprintf(stderr, "khreset: --wait: expected seconds 0..86400, got '%s'\n",
					optarg);
				return KH_EXIT_USAGE;
			}
			break;
		default:
			return KH_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "khreset: run: unexpected argument '%s'\n", argv[optind]);
		return KH_EXIT_USAGE;
	}
	return 0;
}

int cmd_run(int argc, char **argv, const struct kh_globals *g)
{
	struct kh_runopts opt;
	struct session s;
	struct kh_obs o;
	struct kh_decision d;
	struct kh_result r = { 0 };
	long attempt = 0;
	int ex;

	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
	if ((ex = parse_run(argc, argv, &opt)) != 0)
		return ex;
	if ((ex = session_open(&s, g)) != 0)
		goto out;
	if (opt.from_task && plat_is_offline(s.p)) {
		fprintf(stderr, "khreset: --from-task is for the live retry task only\n");
		ex = KH_EXIT_USAGE;
		goto out;
	}
	attempt = retry_begin(s.p, s.c, opt.from_task);
	if ((ex = session_lock(&s, &r)) != 0 || (ex = observe_decide(&s, opt.force, &o, &d)) != 0)
		goto out;
	if ((ex = bundle_needed(&o, &d)) != 0)
		goto out;
	if (d.verdict == KH_V_HEALTHY) {
		r.outcome = KH_OUT_HEALTHY;
		r.exit_code = KH_EXIT_OK;
	} else if (d.verdict == KH_V_BLOCKED) {
		r.outcome = KH_OUT_BLOCKED;
		r.exit_code = KH_EXIT_ATTENTION;
		fprintf(stderr, "khreset: blocked: %s\n", d.why);
	} else {
		kh_log(KH_LOG_INFO, "run", "khreset %s: verdict %s (%s)", KH_VERSION,
		       verdict_name(d.verdict), d.why);
		repair_run(s.p, s.c, &o, &d, &opt, &r);
	}
	/* the status document reports the licence as it is now */
	if (!plat_is_offline(s.p))
		plat_licence(s.p, &o.lic, &o.lic_reason);
	retry_finish(s.p, s.c, &d, opt.from_task, attempt, &r);
	ex = r.exit_code;
	kh_log(ex == KH_EXIT_FAILED ? KH_LOG_ERROR : KH_LOG_INFO, "run", "outcome %s, exit %d%s%s",
	       outcome_name(r.outcome), ex, r.backup_id[0] ? ", backup " : "", r.backup_id);
	kh_test_stop("report");
	emit(&s, g, &o, &d, &r, 1);
out:
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
		return fail(rc, "listing backups");
	}
	if (!g->json)
		printf("%zu backup(s) under %s\n", n, KH_BACKUP_DIR);
	for (size_t i = 0; i < n; i++) {
		struct kh_backup b;
		char when[32];
		int ok = backup_load(s->p, ids[i], &b) == KH_OK;

		kh_fmt_time(b.created, when);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", ids[i],
			"state", ok ? b.state : "unreadable", "reason", ok ? b.reason : "",
			"created", when, "entries", (json_int_t)b.n));
		if (!g->json)
			printf("  %-20s %-12s %-9s %3zu entr%s  %s\n", ids[i],
			       ok ? b.state : "UNREADABLE", ok ? b.reason : "-", b.n,
			       b.n == 1 ? "y  " : "ies", when);
		backup_free(&b);
	}
	if (g->json)
		print_json(json_pack("{s:o}", "backups", arr));
	else
		json_decref(arr);
	backup_free_ids(ids, n);
	return KH_EXIT_OK;
}

/* The newest complete backup's ID, or NULL. */
static char *latest_complete(struct session *s)
{
	char **ids = NULL, *id = NULL;
	size_t n = 0;

	if (backup_list(s->p, &ids, &n) != KH_OK)
		return NULL;
	for (size_t i = n; !id && i-- > 0;) {
		struct kh_backup b;
		if (backup_load(s->p, ids[i], &b) == KH_OK && !strcmp(b.state, "complete"))
			id = kh_strdup(ids[i]);
		backup_free(&b);
	}
	backup_free_ids(ids, n);
	return id;
}

int cmd_restore(int argc, char **argv, const struct kh_globals *g)
{
	struct kh_result r = { 0 };
	struct session s;
	char *id = NULL;
	int list = 0, latest = 0, ex, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list"))
			list = 1;
		else if (!strcmp(argv[i], "--latest"))
			latest = 1;
		else if (argv[i][0] != '-' && !id)
			id = argv[i];
		else {
			fprintf(stderr, "khreset: restore: unexpected argument '%s'\n", argv[i]);
			return KH_EXIT_USAGE;
		}
	}
	if (list + latest + (id != NULL) != 1) {
		fprintf(stderr, "khreset: restore needs exactly one of ID, --latest, --list\n");
		return KH_EXIT_USAGE;
	}
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
			fprintf(stderr, "khreset: no complete backup to restore\n");
			ex = KH_EXIT_FAILED;
		}
		goto out;
	}
	rc = restore_backup(s.p, s.c, id, &r);
	if (rc != KH_OK) {
		ex = fail(rc, "restore");
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
