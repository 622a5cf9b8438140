/* cli.h - the command-line edge: the grammar every verb parses with, the
 * usage text, the one error printer, the configuration lookup and the
 * retry task definition.
 *
 * One grammar (SPEC section 2): the global options --root, --config,
 * --json, -q and -v are taken before or after the verb; every option takes
 * its value as `--opt value` or `--opt=value`; `VERB --help` prints that
 * verb's usage on stdout (exit 0); an unknown option, a missing value or a
 * stray operand prints the reason and the verb's usage on stderr (exit 64).
 * The verbs, their options and their synopses are one table in cli.c, the
 * source of `help`, `VERB --help`, usage errors and the man page's check.
 */
#ifndef KH_CLI_H
#define KH_CLI_H

#include <stdio.h>

#include "config.h"
#include "khreset.h"
#include "platform.h"

struct kh_globals {
	const char *root;      /* --root DIR, NULL: live */
	const char *image;     /* --image DISK: a VM disk khreset mounts itself */
	const char *config;    /* --config FILE, NULL: the lookup of cli_config */
	int json;              /* --json: machine output only on stdout */
	int verbosity;         /* 0 quiet (-q), 1 normal, 2 verbose (-v) */
};

/*
 * A verb: argv[0] is the verb itself, argv[1..] its arguments.  It parses
 * them with cli_getopt (which may still set global options in g) and
 * returns the SPEC exit code; it prints its result (human text, or JSON
 * with g->json) on stdout and errors on stderr.
 */
typedef int (*kh_verb_fn)(int argc, char **argv, struct kh_globals *g);

int cmd_check(int argc, char **argv, struct kh_globals *g);
int cmd_run(int argc, char **argv, struct kh_globals *g);
int cmd_restore(int argc, char **argv, struct kh_globals *g);
int cmd_task(int argc, char **argv, struct kh_globals *g);
int cmd_bundle(int argc, char **argv, struct kh_globals *g);
int cmd_bake(int argc, char **argv, struct kh_globals *g);
int cmd_lint(int argc, char **argv, struct kh_globals *g);
int cmd_report(int argc, char **argv, struct kh_globals *g);
int cmd_version(int argc, char **argv, struct kh_globals *g);
int cmd_help(int argc, char **argv, struct kh_globals *g);
int cmd_collect(int argc, char **argv, struct kh_globals *g);

/* What cli_getopt returns: a verb's own options (the table in cli.c says
 * which verb takes which), or one of the endings. */
enum cli_opt {
	CLI_BAD = '?',         /* reported on stderr with the usage: exit 64 */
	CLI_HELP = 0x100,      /* --help: the usage is on stdout: exit 0 */
	CLI_VERSION,           /* --version (before the verb) */
	OPT_FORCE, OPT_NO_ACTIVATE, OPT_WAIT, OPT_FROM_TASK,    /* run */
	OPT_LATEST, OPT_LIST,                                   /* restore */
	OPT_SIGN, OPT_REFERENCE, OPT_NAME, OPT_BUILD, OPT_PUBKEY, /* bundle */
	OPT_PAYLOAD, OPT_INDEX, OPT_DRY_RUN, OPT_REBUILD,       /* bake */
	OPT_CLEAN_ARCHIVE,                                      /* bake */
	OPT_BUNDLE,                                             /* lint */
	OPT_NO_REGISTRY,                                        /* run */
	OPT_EVIDENCE, OPT_FOR, OPT_EVERY,                       /* run, collect */
	OPT_CSV,                                                /* report */
};

/*
 * getopt_long for verb (NULL: the options before the verb, up to the verb
 * itself): returns the next of the verb's options (value in optarg), or -1
 * when the options are done (optind: the first operand, operands gathered
 * after the options).  Global options are stored in g wherever they appear;
 * at the end the log level follows -q/-v.  CLI_HELP and CLI_BAD are
 * reported already: the verb returns cli_exit(ch).
 */
int cli_getopt(int argc, char **argv, const char *verb, struct kh_globals *g);
int cli_exit(int ch);

/* The usage of verb (NULL: the whole text) on f. */
void cli_usage(FILE *f, const char *verb);
/* "khreset: VERB: why" and the verb's usage on stderr; KH_EXIT_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) KH_PRINTF(2, 3);
/* The verb named name, NULL if there is none. */
kh_verb_fn cli_verb(const char *name);

/* The one error printer: "khreset: WHAT: detail" on stderr, detail being
 * kh_lasterr(), else kh_errstr(rc); returns rc's SPEC exit code. */
int cli_fail(int rc, const char *fmt, ...) KH_PRINTF(2, 3);
/* "khreset: message" on stderr (notices and refusals with their own code). */
void cli_say(const char *fmt, ...) KH_PRINTF(1, 2);

/*
 * The configuration, looked up in one order: --config FILE; else, live,
 * khreset.ini beside the executable, offline (p on a mounted volume),
 * ROOT/Windows/Setup/Scripts/khreset/khreset.ini, read through p, when it
 * is there; else the built-in defaults with the bundle in that same folder.
 * p NULL (a verb without a system, e.g. lint): --config FILE, else the
 * defaults.  Errors are kh_err codes with kh_seterr() detail.
 */
int cli_config(const struct kh_globals *g, kh_plat *p, struct kh_config **c);

/* The retry task (SPEC section 3 step 10): `<folder of this executable>
 * \khreset.exe run --from-task` as SYSTEM, name and timing from c.  The
 * command is malloc'd: cli_task_free(). */
int cli_task(const struct kh_config *c, struct kh_task *t);
void cli_task_free(struct kh_task *t);

#endif
