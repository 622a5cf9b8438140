/* main.c - the command line: global flags, then one verb from a table. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "khreset.h"

static const char usage_text[] =
"usage: khreset [--root DIR] [--config FILE] [--json] [-q|-v] VERB [ARGS]\n"
"\n"
"verbs:\n"
"  check                      diagnose; print the verdict and the plan run would carry out\n"
"  run [--force] [--no-activate] [--wait SEC] [--from-task]\n"
"                             check, then repair, verify and report\n"
"  restore ID|--latest|--list put a backup's archive entries back (current ones backed up first)\n"
"  task install|remove|status the retry scheduled task (live mode only)\n"
"  bundle create DIR [--sign KEY.pem] [--reference ARCHIVE_DIR] [--name TEXT] [--build N]\n"
"  bundle verify DIR [--pubkey PUB.pem]\n"
"                             write / check a keyholder bundle manifest\n"
"  bake WIM --payload DIR [--index N|all] [--dry-run] [--rebuild]\n"
"                             put khreset and its SetupComplete hook into install.wim\n"
"  lint WIM [--bundle DIR]    inspect a WIM's images for keyholder and hook problems\n"
"  version, help\n"
"\n"
"options:\n"
"  --root DIR     act on a Windows volume mounted at DIR (offline mode; required on Linux)\n"
"  --config FILE  khreset.ini (default offline: DIR/Windows/Setup/Scripts/khreset/khreset.ini)\n"
"  --json         print the machine-readable document on stdout, nothing else\n"
"  -q, -v         quieter, more verbose\n"
"\n"
"exit status: 0 ok/healthy/repaired, 1 failed (rolled back), 2 pending, 3 attention\n"
"(check: not healthy; run: blocked; lint: error finding), 64 usage, 65 bad input data,\n"
"75 busy, 77 not permitted\n";

static int cmd_help(int argc, char **argv, const struct kh_globals *g)
{
	fputs(usage_text, stdout);
	return KH_EXIT_OK;
}

static int cmd_version(int argc, char **argv, const struct kh_globals *g)
{
	printf("khreset %s\n", KH_VERSION);
	return KH_EXIT_OK;
}

static const struct {
	const char *name;
	kh_verb_fn fn;
} verbs[] = {
	{ "check", cmd_check },     { "run", cmd_run },
	{ "restore", cmd_restore }, { "task", cmd_task },
	{ "bundle", cmd_bundle },   { "bake", cmd_bake },
	{ "lint", cmd_lint },       { "version", cmd_version },
	{ "help", cmd_help },
};

static int usage(void)
{
	fputs(usage_text, stderr);
	return KH_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct kh_globals g = { .verbosity = 1, .argv0 = argv[0] };
	int ch;

	if (argc == 2 && !strcmp(argv[1], "/?"))
		return cmd_help(0, NULL, &g);
	while ((ch = getopt_long(argc, argv, "+qvh", lo, NULL)) != -1) {
		switch (ch) {
		case 'r': g.root = optarg; break;
		case 'c': g.config = optarg; break;
		case 'j': g.json = 1; break;
		case 'q': g.verbosity = 0; break;
		case 'v': g.verbosity = 2; break;
		case 'h': return cmd_help(0, NULL, &g);
		case 'V': return cmd_version(0, NULL, &g);
		default: return usage();
		}
	}
	if (optind >= argc)
		return usage();
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(argv[optind], verbs[i].name))
			return verbs[i].fn(argc - optind, argv + optind, &g);
	fprintf(stderr, "khreset: unknown verb '%s'\n", argv[optind]);
	return usage();
}
