/* nomedia.c - the verbs the Windows executable does not carry.
 *
 * bake and lint edit/inspect install.wim through wimlib, which is a Linux
 * build dependency only (SPEC: media work happens on the build host); the
 * Windows build leaves out hook/media/ and links these
 * instead.  Exit 64 with a clear message, like the Linux build's live verbs
 * without --root.
 */
#include <stdio.h>

#include "khreset.h"
#include "cli.h"

static int linux_only(const char *verb)
{
	fprintf(stderr, "khreset: '%s' is available in the Linux build only "
		"(it needs wimlib); run it on the build host\n", verb);
	return KH_EXIT_USAGE;
}

int cmd_bake(int argc, char **argv, const struct kh_globals *g)
{
	(void)argc; (void)argv; (void)g;
	return linux_only("bake");
}

int cmd_lint(int argc, char **argv, const struct kh_globals *g)
{
	(void)argc; (void)argv; (void)g;
	return linux_only("lint");
}

