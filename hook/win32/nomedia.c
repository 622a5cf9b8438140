/* nomedia.c - bake and lint in a khreset.exe built without wimlib.
 *
 * win/deps.sh builds wimlib from Debian's source package; when the archive
 * it reaches does not serve that package, win/win.mk links this file
 * instead of hook/media/ (build/win/deps/.wimlib-missing says why).  The
 * arguments are parsed as the full build parses them (so `bake --help`
 * still answers), then exit 64 with a clear message.
 */
#include "cli.h"

static int no_wimlib(int argc, char **argv, const char *verb, struct kh_globals *g)
{
	int ch;

	while ((ch = cli_getopt(argc, argv, verb, g)) != -1)
		if (ch == CLI_HELP || ch == CLI_BAD)
			return cli_exit(ch);
	cli_say("'%s' is not in this khreset.exe: it was built without wimlib "
		"(see win/README-win.md); use a build that has it, or the Linux build", verb);
	return KH_EXIT_USAGE;
}

int cmd_bake(int argc, char **argv, struct kh_globals *g)
{
	return no_wimlib(argc, argv, "bake", g);
}

int cmd_lint(int argc, char **argv, struct kh_globals *g)
{
	return no_wimlib(argc, argv, "lint", g);
}
