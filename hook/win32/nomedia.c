/* nomedia.c - the verbs the Windows executable does not carry.
 *
 * bake and lint edit/inspect install.wim through wimlib, which is a Linux
 * build dependency only (SPEC: media work happens on the build host); the
 * Windows build leaves out hook/media/ and links these instead.  The
 * arguments are parsed as the Linux build parses them (so `bake --help`
 * still answers), then exit 64 with a clear message, like the Linux
 * build's live verbs without --root.
 */
#include "cli.h"

static int linux_only(int argc, char **argv, const char *verb, struct kh_globals *g)
{
	int ch;

	while ((ch = cli_getopt(argc, argv, verb, g)) != -1)
		if (ch == CLI_HELP || ch == CLI_BAD)
			return cli_exit(ch);
	cli_say("'%s' is available in the Linux build only (it needs wimlib); "
		"run it on the build host", verb);
	return KH_EXIT_USAGE;
}

int cmd_bake(int argc, char **argv, struct kh_globals *g)
{
	return linux_only(argc, argv, "bake", g);
}

int cmd_lint(int argc, char **argv, struct kh_globals *g)
{
	return linux_only(argc, argv, "lint", g);
}
