/* cmd_task.c - `khreset task install|remove|status`: the retry scheduled
 * task (SPEC section 2; section 3 step 10; section 6 [task]).  Live mode
 * (Windows) only: on Linux, or with --root, exit 64.
 *
 * The task runs `<folder of this khreset.exe>\khreset.exe run --from-task`
 * as SYSTEM; its name, boot delay, interval and attempts come from the
 * configuration, read as `run` reads it: --config FILE, else khreset.ini
 * beside the executable, else the built-in defaults.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "khreset.h"
#include "platform.h"
#include "taskxml.h"

static int usage(void)
{
	fprintf(stderr, "usage: khreset task install|remove|status\n");
	return KH_EXIT_USAGE;
}

#ifndef _WIN32
int cmd_task(int argc, char **argv, const struct kh_globals *g)
{
	if (argc != 2 || (strcmp(argv[1], "install") && strcmp(argv[1], "remove") &&
			  strcmp(argv[1], "status")))
		return usage();
	fprintf(stderr, "khreset: task: the retry task exists only in live mode (Windows)\n");
	return KH_EXIT_USAGE;
}
#else

enum op { OP_INSTALL, OP_REMOVE, OP_STATUS };

static int fail(int rc, const char *what)
{
	const char *d = kh_lasterr();

	fprintf(stderr, "khreset: task %s: %s\n", what, d[0] ? d : kh_errstr(rc));
	return kh_exitcode(rc);
}

/* --config, else khreset.ini beside the executable, else defaults (with
 * bundle\ beside the executable). */
static int load_config(const struct kh_globals *g, const char *dir, struct kh_config **c)
{
	char *path;
	int rc;

	if (g->config)
		return config_load(g->config, NULL, c);
	if (!(path = kh_asprintf("%s\\khreset.ini", dir)))
		return KH_ERR_NOMEM;
	if ((rc = config_load(path, NULL, c)) == KH_ERR_NOENT) {
		kh_clearerr();
		rc = config_load(NULL, dir, c);
	}
	free(path);
	return rc;
}

/* A SYSTEM task must not run a program from a folder ordinary users can
 * write to (FIELD-CASE "Security"; lint's program-in-temp). */
static int in_temp(const char *dir)
{
	char low[1024];
	size_t i;

	for (i = 0; i < sizeof(low) - 2 && dir[i]; i++)
		low[i] = (dir[i] >= 'A' && dir[i] <= 'Z') ? (char)(dir[i] + 32) :
			 dir[i] == '/' ? '\\' : dir[i];
	low[i++] = '\\';
	low[i] = '\0';
	return strstr(low, "\\windows\\temp\\") != NULL || strstr(low, "\\appdata\\local\\temp\\") != NULL;
}

static void print_json(enum op op, const struct kh_task *t, int exists, const char *detail,
		       int changed)
{
	static const char *const names[] = { "install", "remove", "status" };
	json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s?, s:{s:s, s:s, s:s, s:i, s:s, s:s}}",
			      "action", names[op], "task", t->name, "exists", exists,
			      "changed", changed, "detail", detail,
			      "definition", "delay", t->delay, "interval", t->interval,
			      "command", t->command, "max_attempts", t->max_attempts,
			      "arguments", t->args, "principal", TASKXML_SYSTEM_SID);
	char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;

	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
}

int cmd_task(int argc, char **argv, const struct kh_globals *g)
{
	struct kh_config *c = NULL;
	struct kh_task t;
	kh_plat *p = NULL;
	char *dir = NULL, *cmd = NULL, *detail = NULL, dur[48];
	enum op op;
	int rc, exists = 0, changed = 0, ex = KH_EXIT_OK;

	if (argc != 2)
		return usage();
	if (!strcmp(argv[1], "install"))
		op = OP_INSTALL;
	else if (!strcmp(argv[1], "remove"))
		op = OP_REMOVE;
	else if (!strcmp(argv[1], "status"))
		op = OP_STATUS;
	else
		return usage();
	if (g->root) {
		fprintf(stderr, "khreset: task: the retry task exists only in live mode (Windows); "
				"not with --root\n");
		return KH_EXIT_USAGE;
	}
	kh_log_setlevel(g->verbosity == 0 ? KH_LOG_ERROR
			: g->verbosity == 2 ? KH_LOG_DEBUG : KH_LOG_WARN);
	if ((rc = plat_open(&p, NULL)) != KH_OK)
		return fail(rc, "live system");
	if (!(dir = plat_self_dir())) {
		kh_seterr("cannot find the executable's folder");
		ex = fail(KH_ERR_IO, argv[1]);
		goto out;
	}
	if ((rc = load_config(g, dir, &c)) != KH_OK) {
		ex = fail(rc, "configuration");
		goto out;
	}
	if (!(cmd = kh_asprintf("%s\\khreset.exe", dir))) {
		ex = fail(KH_ERR_NOMEM, argv[1]);
		goto out;
	}
	t.name = c->task_name;
	t.delay = c->task_delay;
	t.interval = c->task_interval;
	t.max_attempts = c->task_max_attempts;
	t.command = cmd;
	t.args = "run --from-task";

	if (op != OP_STATUS && (rc = plat_writable(p)) != KH_OK) {
		ex = fail(rc, argv[1]);    /* not elevated: 77 */
		goto out;
	}
	if (op == OP_INSTALL && in_temp(dir)) {
		kh_seterr("%s is in a temporary folder ordinary users can write to; a SYSTEM "
			  "task must run khreset from an admin-only folder (e.g. "
			  "C:\\Windows\\Setup\\Scripts\\khreset)", cmd);
		ex = fail(KH_ERR_PERM, argv[1]);     /* 77: not permitted */
		goto out;
	}
	switch (op) {
	case OP_INSTALL:
		if ((rc = plat_task_install(p, &t)) != KH_OK) {
			ex = fail(rc, "install");
			goto out;
		}
		changed = 1;
		break;
	case OP_REMOVE:
		if ((rc = plat_task_query(p, t.name, &exists, &detail)) != KH_OK) {
			ex = fail(rc, "remove");
			goto out;
		}
		free(detail);
		detail = NULL;
		if ((rc = plat_task_remove(p, t.name)) != KH_OK) {
			ex = fail(rc, "remove");
			goto out;
		}
		changed = exists;
		break;
	case OP_STATUS:
		break;
	}
	/* what is there now */
	if ((rc = plat_task_query(p, t.name, &exists, &detail)) != KH_OK) {
		ex = fail(rc, "status");
		goto out;
	}
	if (op == OP_INSTALL && !exists) {
		kh_seterr("registered, but Task Scheduler does not find %s", t.name);
		ex = fail(KH_ERR_IO, "install");
		goto out;
	}
	if (op == OP_REMOVE && exists) {
		kh_seterr("%s is still registered after removal", t.name);
		ex = fail(KH_ERR_IO, "remove");
		goto out;
	}
	if (g->json) {
		print_json(op, &t, exists, detail, changed);
	} else if (g->verbosity > 0) {
		if (taskxml_repeat_duration(t.interval, t.max_attempts, dur, sizeof(dur)) != KH_OK)
			snprintf(dur, sizeof(dur), "?");
		switch (op) {
		case OP_INSTALL:
			printf("task %s installed: at boot + %s, every %s for %s (%d attempts), "
			       "as SYSTEM: \"%s\" %s\n", t.name, t.delay, t.interval, dur,
			       t.max_attempts, t.command, t.args);
			break;
		case OP_REMOVE:
			printf("task %s %s\n", t.name, changed ? "removed" : "was not installed");
			break;
		case OP_STATUS:
			if (exists)
				printf("task %s: installed (%s)\n", t.name, detail ? detail : "no details");
			else
				printf("task %s: not installed\n", t.name);
			break;
		}
	}
out:
	free(detail);
	free(cmd);
	free(dir);
	config_free(c);
	plat_close(p);
	return ex;
}
#endif
