/* main.c - the command line: the global options, then one verb (cli.c's
 * table) with the rest of the arguments, its own options and any more
 * global ones among them. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "image/image.h"
#include "khreset.h"

int main(int argc, char **argv)
{
	struct kh_globals g = { .verbosity = 1 };
	kh_verb_fn verb;
	int ch;

	if (argc == 2 && !strcmp(argv[1], "/?")) {
		cli_usage(stdout, NULL);
		return KH_EXIT_OK;
	}
	while ((ch = cli_getopt(argc, argv, NULL, &g)) != -1) {
		if (ch != CLI_VERSION)
			return cli_exit(ch);
		printf("khreset %s\n", KH_VERSION);
		return KH_EXIT_OK;
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "no verb given");
	if (!(verb = cli_verb(argv[optind])))
		return cli_usage_error(NULL, "unknown verb '%s'", argv[optind]);
	if (g.image)
		return image_verb(verb, argc - optind, argv + optind, &g);
	return verb(argc - optind, argv + optind, &g);
}
