/* cli.c - the command-line edge: the verb table (options, synopses), the
 * one grammar, the usage text, the error printer, the configuration lookup
 * and the retry task definition.
 *
 * Every verb's options and synopsis live in the table below, next to each
 * other: `help`, `VERB --help`, usage errors and the man page's test all
 * read them from here.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "state.h"

#define GLOBALS     "[--root DIR | --image DISK] [--config FILE] [--json] [-q|-v]"
#define OFFLINE_DIR "Windows/Setup/Scripts/khreset"
#define MAXOPT      24
#define COL         28

/* Global options: private getopt values, after enum cli_opt's. */
enum { G_ROOT = 0x200, G_CONFIG, G_JSON, G_IMAGE };

static const struct option global_opts[] = {
	{ "root", required_argument, NULL, G_ROOT },
	{ "image", required_argument, NULL, G_IMAGE },
	{ "config", required_argument, NULL, G_CONFIG },
	{ "json", no_argument, NULL, G_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static const struct { const char *flag, *what; } global_help[] = {
	{ "--root DIR", "act on a Windows volume mounted at DIR (offline mode; required on Linux)" },
	{ "--image DISK", "act on the Windows partition of a VM disk (raw or qcow2) that khreset\n"
			  "mounts itself (qemu-storage-daemon, ntfs-3g); check, run, restore;\n"
			  "check is read-only and safe on a running VM's disk, run refuses one" },
	{ "--config FILE", "khreset.ini; default: live, the one beside the executable; offline,\n"
			   "DIR/Windows/Setup/Scripts/khreset/khreset.ini when present;\n"
			   "else the built-in defaults" },
	{ "--json", "print the machine-readable document on stdout, nothing else" },
	{ "-q, --quiet", "errors only" },
	{ "-v, --verbose", "more detail (run, bake: every step and action)" },
	{ "-h, --help", "this text; after a verb, that verb's usage" },
	{ "--version", "the version (before the verb)" },
};

static const struct option no_opts[] = { { NULL, 0, NULL, 0 } };
static const struct option main_opts[] = {
	{ "version", no_argument, NULL, CLI_VERSION },
	{ NULL, 0, NULL, 0 }
};
static const struct option run_opts[] = {
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "no-activate", no_argument, NULL, OPT_NO_ACTIVATE },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "from-task", no_argument, NULL, OPT_FROM_TASK },
	{ "no-registry", no_argument, NULL, OPT_NO_REGISTRY },
	{ "evidence", required_argument, NULL, OPT_EVIDENCE },
	{ NULL, 0, NULL, 0 }
};
static const struct option restore_opts[] = {
	{ "latest", no_argument, NULL, OPT_LATEST },
	{ "list", no_argument, NULL, OPT_LIST },
	{ NULL, 0, NULL, 0 }
};
static const struct option bundle_opts[] = {
	{ "sign", required_argument, NULL, OPT_SIGN },
	{ "reference", required_argument, NULL, OPT_REFERENCE },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "build", required_argument, NULL, OPT_BUILD },
	{ "pubkey", required_argument, NULL, OPT_PUBKEY },
	{ NULL, 0, NULL, 0 }
};
static const struct option bake_opts[] = {
	{ "payload", required_argument, NULL, OPT_PAYLOAD },
	{ "index", required_argument, NULL, OPT_INDEX },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "rebuild", no_argument, NULL, OPT_REBUILD },
	{ "clean-archive", no_argument, NULL, OPT_CLEAN_ARCHIVE },
	{ NULL, 0, NULL, 0 }
};
static const struct option report_opts[] = {
	{ "csv", no_argument, NULL, OPT_CSV },
	{ NULL, 0, NULL, 0 }
};
static const struct option lint_opts[] = {
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ NULL, 0, NULL, 0 }
};

static const struct option collect_opts[] = {
	{ "for", required_argument, NULL, OPT_FOR },
	{ "every", required_argument, NULL, OPT_EVERY },
	{ NULL, 0, NULL, 0 }
};

static const struct verb {
	const char *name;
	kh_verb_fn fn;
	const struct option *opts;
	const char *synopsis;       /* one line per form, each starting with the verb */
	const char *what;
} verbs[] = {
	{ "check", cmd_check, no_opts, "check",
	  "diagnose; print the verdict and the plan run would carry out" },
	{ "run", cmd_run, run_opts,
	  "run [--force] [--no-activate] [--no-registry] [--wait SEC] [--from-task] [--evidence DIR]",
	  "check, then repair, verify and report; --wait: the whole run's time\n"
	  "budget; --evidence: collect beside it" },
	{ "restore", cmd_restore, restore_opts, "restore ID|--latest|--list",
	  "put a backup's archive entries back (current ones backed up first)" },
	{ "task", cmd_task, no_opts, "task install|remove|status",
	  "the retry scheduled task (live mode only)" },
	{ "bundle", cmd_bundle, bundle_opts,
	  "bundle create DIR [--sign KEY.pem] [--reference ARCHIVE_DIR] [--name TEXT] [--build N]\n"
	  "bundle verify DIR [--pubkey PUB.pem]",
	  "write / check a keyholder bundle manifest" },
	{ "bake", cmd_bake, bake_opts, "bake WIM --payload DIR [--index N|all] [--dry-run] [--rebuild] [--clean-archive]",
	  "put khreset and its SetupComplete hook into install.wim" },
	{ "lint", cmd_lint, lint_opts, "lint WIM [--bundle DIR]",
	  "inspect a WIM's images for keyholder and hook problems" },
	{ "collect", cmd_collect, collect_opts, "collect DIR [--for SEC] [--every SEC]",
	  "evidence for support, into the new or empty folder DIR: a sample\n"
	  "every 2 s (--every) for 60 s (--for); changes nothing, no lock" },
	{ "report", cmd_report, report_opts, "report PATH... [--csv]",
	  "many status documents (files, folders, - for JSON lines on stdin):\n"
	  "the fleet at a glance, the VMs needing attention worst first" },
	{ "version", cmd_version, no_opts, "version", "print the version" },
	{ "help", cmd_help, no_opts, "help [VERB]",
	  "this text, or one verb's usage (also --help, VERB --help, /?)" },
};

static const char exit_text[] =
"exit status: 0 ok/healthy/repaired, 1 failed (rolled back), 2 pending, 3 attention\n"
"(check: not healthy; run: blocked; lint: error finding; report: a VM needs attention),\n"
"64 usage, 65 bad input data, 75 busy, 77 not permitted\n";

static const struct verb *find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(name, verbs[i].name))
			return &verbs[i];
	return NULL;
}

kh_verb_fn cli_verb(const char *name)
{
	const struct verb *v = find(name);

	return v ? v->fn : NULL;
}

/* text at column COL; its continuation lines too */
static void put_indented(FILE *f, const char *text)
{
	const char *e;

	for (; (e = strchr(text, '\n')); text = e + 1)
		fprintf(f, "%.*s\n  %*s", (int)(e - text), text, COL, "");
	fprintf(f, "%s\n", text);
}

/* "  SYNOPSIS    what", the synopsis on lines of its own when long */
static void put_item(FILE *f, const char *synopsis, const char *what)
{
	const char *e;
	int len;

	for (;; synopsis = e + 1) {
		e = strchr(synopsis, '\n');
		len = e ? (int)(e - synopsis) : (int)strlen(synopsis);
		if (!e && len < COL) {
			fprintf(f, "  %-*.*s", COL, len, synopsis);
			break;
		}
		fprintf(f, "  %.*s\n", len, synopsis);
		if (!e) {
			fprintf(f, "  %*s", COL, "");
			break;
		}
	}
	put_indented(f, what);
}

static void usage_all(FILE *f)
{
	fprintf(f, "usage: khreset " GLOBALS " VERB [ARGS]\n\nverbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		put_item(f, verbs[i].synopsis, verbs[i].what);
	fprintf(f, "\noptions (before or after the verb; a value as --root=DIR or --root DIR):\n");
	for (size_t i = 0; i < sizeof(global_help) / sizeof(global_help[0]); i++)
		put_item(f, global_help[i].flag, global_help[i].what);
	fprintf(f, "\n%s", exit_text);
}

void cli_usage(FILE *f, const char *verb)
{
	const struct verb *v = find(verb);
	const char *s, *e;

	if (!v) {
		usage_all(f);
		return;
	}
	for (s = v->synopsis; s; s = e ? e + 1 : NULL) {
		e = strchr(s, '\n');
		fprintf(f, "%s khreset %.*s\n", s == v->synopsis ? "usage:" : "      ",
			e ? (int)(e - s) : (int)strlen(s), s);
	}
	fprintf(f, "  %s\n  global options, before or after the verb: " GLOBALS "\n", v->what);
}

/* One message, one line: names in it come escaped (kh_escape). */
static void vsay(const char *verb, const char *fmt, va_list ap)
{
	char raw[2048], safe[2048];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	fprintf(stderr, "khreset: ");
	if (verb)
		fprintf(stderr, "%s: ", verb);
	fprintf(stderr, "%s\n", kh_escape(raw, safe, sizeof(safe)));
}

void cli_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(NULL, fmt, ap);
	va_end(ap);
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(verb, fmt, ap);
	va_end(ap);
	cli_usage(stderr, verb);
	return KH_EXIT_USAGE;
}

int cli_fail(int rc, const char *fmt, ...)
{
	const char *d = kh_lasterr();
	char what[512];
	va_list ap;

	char safe[512];

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fprintf(stderr, "khreset: %s: %s\n", kh_escape(what, safe, sizeof(safe)),
		d[0] ? d : kh_errstr(rc));
	return kh_exitcode(rc);
}

/* The long option name[0..n) stands for: exact, else an unambiguous
 * abbreviation (as getopt_long takes them); NULL if none. */
static const struct option *lookup(const struct option *lo, const char *name, size_t n)
{
	const struct option *hit = NULL;
	int abbrev = 0;

	for (; lo->name; lo++) {
		if (strncmp(lo->name, name, n) != 0)
			continue;
		if (!lo->name[n])
			return lo;
		hit = lo;
		abbrev++;
	}
	return abbrev == 1 ? hit : NULL;
}

/* The option getopt_long just refused, named as it was typed.  Decided
 * from the table, not from getopt's return, which differs between C
 * libraries (mingw's says ':' for a value given to a flag). */
static int bad_option(const char *verb, char **argv, const struct option *lo)
{
	const char *a = optind > 0 ? argv[optind - 1] : "";
	const struct option *o;
	int n;

	if (strncmp(a, "--", 2) != 0)
		return cli_usage_error(verb, "unknown option '-%c'", optopt ? optopt : '?');
	n = (int)strcspn(a, "=");
	if (!(o = lookup(lo, a + 2, (size_t)n - 2)))
		return cli_usage_error(verb, "unknown option '%.*s'", n, a);
	if (o->has_arg == no_argument)
		return cli_usage_error(verb, "option '--%s' takes no value", o->name);
	return cli_usage_error(verb, "option '--%s' needs a value", o->name);
}

static size_t add_opts(struct option *lo, size_t n, const struct option *add)
{
	for (; add->name && n < MAXOPT - 1; add++)
		lo[n++] = *add;
	return n;
}

int cli_getopt(int argc, char **argv, const char *verb, struct kh_globals *g)
{
	static char **seen;
	const struct verb *v = find(verb);
	struct option lo[MAXOPT];
	size_t n;
	int ch;

	if (argv != seen) {         /* a new command line: getopt starts over */
		seen = argv;
		optind = 0;
	}
	opterr = 0;
	n = add_opts(lo, add_opts(lo, 0, global_opts), v ? v->opts : main_opts);
	memset(&lo[n], 0, sizeof(lo[n]));
	for (;;) {
		switch ((ch = getopt_long(argc, argv, v ? ":qvh" : "+:qvh", lo, NULL))) {
		case G_ROOT: g->root = optarg; break;
		case G_IMAGE: g->image = optarg; break;
		case G_CONFIG: g->config = optarg; break;
		case G_JSON: g->json = 1; break;
		case 'q': g->verbosity = 0; break;
		case 'v': g->verbosity = 2; break;
		case 'h':
			cli_usage(stdout, verb);
			return CLI_HELP;
		case '?': case ':':
			bad_option(v ? verb : NULL, argv, lo);
			return CLI_BAD;
		case -1:
			kh_log_setlevel(g->verbosity == 0 ? KH_LOG_ERROR
					: g->verbosity == 2 ? KH_LOG_DEBUG : KH_LOG_WARN);
			return -1;
		default:
			return ch;
		}
	}
}

int cli_exit(int ch)
{
	return ch == CLI_HELP ? KH_EXIT_OK : KH_EXIT_USAGE;
}

int cmd_help(int argc, char **argv, struct kh_globals *g)
{
	int ch;

	if ((ch = cli_getopt(argc, argv, "help", g)) != -1)
		return cli_exit(ch);
	if (optind + 1 < argc || (optind < argc && !find(argv[optind])))
		return cli_usage_error("help", "no verb '%s'", argv[argc - 1]);
	cli_usage(stdout, optind < argc ? argv[optind] : NULL);
	return KH_EXIT_OK;
}

int cmd_version(int argc, char **argv, struct kh_globals *g)
{
	int ch;

	if ((ch = cli_getopt(argc, argv, "version", g)) != -1)
		return cli_exit(ch);
	if (optind < argc)
		return cli_usage_error("version", "unexpected argument '%s'", argv[optind]);
	printf("khreset %s\n", KH_VERSION);
	return KH_EXIT_OK;
}

/* Offline: the volume's own khreset.ini, read through p (below the root,
 * no link followed), else defaults with the bundle in that folder; its
 * bundle and public key are below the root too. */
static int offline_config(const char *root, kh_plat *p, struct kh_config **c)
{
	unsigned char *buf = NULL;
	char *shown;
	size_t len;
	int rc = plat_read(p, OFFLINE_DIR "/khreset.ini", 1 << 20, &buf, &len);

	shown = kh_asprintf("%s/" OFFLINE_DIR "/khreset.ini", root);
	if (!shown)
		rc = KH_ERR_NOMEM;
	if (rc == KH_ERR_NOENT) {
		kh_clearerr();
		rc = config_parse_root(NULL, 0, NULL, OFFLINE_DIR, c);
	} else if (rc == KH_OK) {
		rc = config_parse_root(buf, len, shown, OFFLINE_DIR, c);
	}
	free(buf);
	free(shown);
	return rc;
}

/* Live: khreset.ini beside the executable, else defaults with bundle\
 * beside it. */
static int live_config(struct kh_config **c)
{
	char *dir = plat_self_dir(), *path = dir ? kh_asprintf("%s\\khreset.ini", dir) : NULL;
	int rc;

	if (!path) {
		free(dir);
		kh_seterr("cannot find the executable's folder");
		return KH_ERR_IO;
	}
	if ((rc = config_load(path, NULL, c)) == KH_ERR_NOENT) {
		kh_clearerr();
		rc = config_load(NULL, dir, c);
	}
	free(path);
	free(dir);
	return rc;
}

int cli_config(const struct kh_globals *g, kh_plat *p, struct kh_config **c)
{
	if (g->config)
		return config_load(g->config, NULL, c);
	if (!p)
		return config_load(NULL, NULL, c);
	return g->root ? offline_config(g->root, p, c) : live_config(c);
}

int cli_task(const struct kh_config *c, struct kh_task *t)
{
	char *dir = plat_self_dir(), *cmd = dir ? kh_asprintf("%s\\khreset.exe", dir) : NULL;
	int found = dir != NULL;

	free(dir);
	*t = (struct kh_task){ c->task_name, c->task_delay, c->task_interval,
			       c->task_max_attempts, cmd, "run --from-task" };
	if (cmd)
		return KH_OK;
	if (!found)
		kh_seterr("cannot find the executable's folder");
	return found ? KH_ERR_NOMEM : KH_ERR_IO;
}

void cli_task_free(struct kh_task *t)
{
	free((char *)t->command);
	t->command = NULL;
}
