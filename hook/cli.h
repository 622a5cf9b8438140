/* cli.h - what every verb gets from the command line edge. */
#ifndef KH_CLI_H
#define KH_CLI_H

struct kh_globals {
	const char *root;      /* --root DIR, NULL: live */
	const char *config;    /* --config FILE, NULL: default */
	int json;              /* --json: machine output only on stdout */
	int verbosity;         /* 0 quiet (-q), 1 normal, 2 verbose (-v) */
	const char *argv0;
};

/*
 * A verb: argv[0] is the verb itself, argv[1..] its arguments.  Returns the
 * SPEC exit code.  Verbs print their own result (human text, or JSON with
 * g->json) on stdout and errors on stderr.
 */
typedef int (*kh_verb_fn)(int argc, char **argv, const struct kh_globals *g);

int cmd_check(int argc, char **argv, const struct kh_globals *g);
int cmd_run(int argc, char **argv, const struct kh_globals *g);
int cmd_restore(int argc, char **argv, const struct kh_globals *g);
int cmd_bundle(int argc, char **argv, const struct kh_globals *g);
int cmd_bake(int argc, char **argv, const struct kh_globals *g);
int cmd_lint(int argc, char **argv, const struct kh_globals *g);
int cmd_task(int argc, char **argv, const struct kh_globals *g);

#endif
