/* cmd_task.c - `khreset task install|remove|status`: the retry scheduled
 * task (SPEC section 2; section 3 step 10; section 6 [task]).  Live mode
 * (Windows) only: on Linux, or with --root, exit 64.
 *
 * The task runs `<folder of this khreset.exe>\khreset.exe run --from-task`
 * as SYSTEM; its name, boot delay, interval and attempts come from the
 * configuration, looked up as for `run` (cli_config): --config FILE, else
 * khreset.ini beside the executable, else the built-in defaults; the
 * definition itself is cli_task's, the one `run` registers too.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "khreset.h"
#include "platform.h"
#include "taskxml.h"

enum op { OP_INSTALL, OP_REMOVE, OP_STATUS };
static const char *const op_names[] = { "install", "remove", "status" };

static int parse(int argc, char **argv, struct kh_globals *g, enum op *op)
{
	int ch;

	if ((ch = cli_getopt(argc, argv, "task", g)) != -1)
		return cli_exit(ch);
	if (optind >= argc)
		return cli_usage_error("task", "install, remove or status?");
	for (*op = OP_INSTALL; *op <= OP_STATUS; (*op)++)
		if (!strcmp(argv[optind], op_names[*op]))
			break;
	if (*op > OP_STATUS)
		return cli_usage_error("task", "no action '%s'", argv[optind]);
	if (optind + 1 < argc)
		return cli_usage_error("task", "unexpected argument '%s'", argv[optind + 1]);
	if (g->root) {
		cli_say("task: the retry task exists only in live mode (Windows); not with --root");
		return KH_EXIT_USAGE;
	}
	return -1;
}

#ifndef _WIN32
int cmd_task(int argc, char **argv, struct kh_globals *g)
{
	enum op op = OP_STATUS;
	int ex;

	if ((ex = parse(argc, argv, g, &op)) != -1)
		return ex;
	cli_say("task: the retry task exists only in live mode (Windows)");
	return KH_EXIT_USAGE;
}
#else

/* A SYSTEM task must not run a program from a folder ordinary users can
 * write to (FIELD-CASE "Security"; lint's program-in-temp). */
static int in_temp(const char *path)
{
	char low[1024];
	size_t i;

	for (i = 0; i < sizeof(low) - 2 && path[i]; i++)
		low[i] = (path[i] >= 'A' && path[i] <= 'Z') ? (char)(path[i] + 32) :
			 path[i] == '/' ? '\\' : path[i];
	low[i++] = '\\';
	low[i] = '\0';
	return strstr(low, "\\windows\\temp\\") != NULL || strstr(low, "\\appdata\\local\\temp\\") != NULL;
}

static void print_json(enum op op, const struct kh_task *t, int exists, const char *detail,
		       int changed)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s?, s:{s:s, s:s, s:s, s:i, s:s, s:s}}",
			      "action", op_names[op], "task", t->name, "exists", exists,
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

int cmd_task(int argc, char **argv, struct kh_globals *g)
{
	struct kh_config *c = NULL;
	struct kh_task t = { 0 };
	kh_plat *p = NULL;
	char *detail = NULL, dur[48];
	const char *verb;
	enum op op = OP_STATUS;
	int rc, exists = 0, changed = 0, ex;

	if ((ex = parse(argc, argv, g, &op)) != -1)
		return ex;
	ex = KH_EXIT_OK;
	verb = op_names[op];
	if ((rc = plat_open(&p, NULL)) != KH_OK)
		return cli_fail(rc, "task %s: live system", verb);
	if ((rc = cli_config(g, p, &c)) != KH_OK) {
		ex = cli_fail(rc, "task %s: configuration", verb);
		goto out;
	}
	if ((rc = cli_task(c, &t)) != KH_OK) {
		ex = cli_fail(rc, "task %s", verb);
		goto out;
	}
	if (op != OP_STATUS && (rc = plat_writable(p)) != KH_OK) {
		ex = cli_fail(rc, "task %s", verb);    /* not elevated: 77 */
		goto out;
	}
	if (op == OP_INSTALL && in_temp(t.command)) {
		kh_seterr("%s is in a temporary folder ordinary users can write to; a SYSTEM "
			  "task must run khreset from an admin-only folder (e.g. "
			  "C:\\Windows\\Setup\\Scripts\\khreset)", t.command);
		ex = cli_fail(KH_ERR_PERM, "task %s", verb);     /* 77: not permitted */
		goto out;
	}
	switch (op) {
	case OP_INSTALL:
		if ((rc = plat_task_install(p, &t)) != KH_OK) {
			ex = cli_fail(rc, "task install");
			goto out;
		}
		changed = 1;
		break;
	case OP_REMOVE:
		if ((rc = plat_task_query(p, t.name, &exists, &detail)) != KH_OK) {
			ex = cli_fail(rc, "task remove");
			goto out;
		}
		free(detail);
		detail = NULL;
		if ((rc = plat_task_remove(p, t.name)) != KH_OK) {
			ex = cli_fail(rc, "task remove");
			goto out;
		}
		changed = exists;
		break;
	case OP_STATUS:
		break;
	}
	/* what is there now */
	if ((rc = plat_task_query(p, t.name, &exists, &detail)) != KH_OK) {
		ex = cli_fail(rc, "task status");
		goto out;
	}
	if (op == OP_INSTALL && !exists) {
		kh_seterr("registered, but Task Scheduler does not find %s", t.name);
		ex = cli_fail(KH_ERR_IO, "task install");
		goto out;
	}
	if (op == OP_REMOVE && exists) {
		kh_seterr("%s is still registered after removal", t.name);
		ex = cli_fail(KH_ERR_IO, "task remove");
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
	cli_task_free(&t);
	config_free(c);
	plat_close(p);
	return ex;
}
#endif
