/* cmd_bundle.c - `bundle create` and `bundle verify`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bundle.h"
#include "cli.h"
#include "khreset.h"

#define MAX_FILE 1048576

static int report(const struct kh_globals *g, const char *verb, const struct kh_bundle *b)
{
	if (g->json) {
		json_t *files = json_array(), *doc;
		for (size_t i = 0; i < b->n; i++)
			json_array_append_new(files, json_pack("{s:s, s:s, s:I}", "name",
				b->files[i].name, "sha256", b->files[i].sha256,
				"archive_digests", (json_int_t)b->files[i].n_good));
		doc = json_pack("{s:s, s:s, s:s?, s:b, s:b, s:o}", "verb", verb, "path",
				b->path, "name", b->name, "verified", b->verified,
				"signed", b->is_signed, "files", files);
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("\n");
		json_decref(doc);
		return KH_EXIT_OK;
	}
	printf("bundle %s: %s, %zu file(s), %s\n", verb, b->path, b->n,
	       b->is_signed ? "signature verified" : "unsigned (no public key given)");
	for (size_t i = 0; i < b->n; i++)
		printf("  %-44s %s%s\n", b->files[i].name, b->files[i].sha256,
		       b->files[i].n_good ? "  (+archive digests)" : "");
	return KH_EXIT_OK;
}

struct bundle_opts {
	const char *sub, *dir;
	const char *key, *ref, *pub, *name;
	long build;
};

static int parse(int argc, char **argv, struct kh_globals *g, struct bundle_opts *o)
{
	int for_create = 0;
	char *end;
	int ch;

	while ((ch = cli_getopt(argc, argv, "bundle", g)) != -1) {
		switch (ch) {
		case OPT_SIGN: o->key = optarg; for_create = 1; break;
		case OPT_REFERENCE: o->ref = optarg; for_create = 1; break;
		case OPT_NAME: o->name = optarg; for_create = 1; break;
		case OPT_BUILD:
			o->build = strtol(optarg, &end, 10);
			if (*end || end == optarg || o->build <= 0)
				return cli_usage_error("bundle", "--build: expected a build number, "
						       "got '%s'", optarg);
			for_create = 1;
			break;
		case OPT_PUBKEY: o->pub = optarg; break;
		default: return cli_exit(ch);
		}
	}
	o->sub = optind < argc ? argv[optind++] : "";
	o->dir = optind < argc ? argv[optind++] : NULL;
	if (strcmp(o->sub, "create") && strcmp(o->sub, "verify"))
		return cli_usage_error("bundle", "create or verify?");
	if (!o->dir)
		return cli_usage_error("bundle", "%s needs DIR", o->sub);
	if (optind < argc)
		return cli_usage_error("bundle", "unexpected argument '%s'", argv[optind]);
	if (for_create && strcmp(o->sub, "create"))
		return cli_usage_error("bundle", "--sign, --reference, --name and --build are "
				       "for bundle create");
	if (o->pub && strcmp(o->sub, "verify"))
		return cli_usage_error("bundle", "--pubkey is for bundle verify");
	return -1;
}

int cmd_bundle(int argc, char **argv, struct kh_globals *g)
{
	struct bundle_opts o = { 0 };
	struct kh_bundle *b = NULL;
	int rc, ex;

	if ((ex = parse(argc, argv, g, &o)) != -1)
		return ex;
	if (!strcmp(o.sub, "create") &&
	    (rc = bundle_create(o.dir, o.name, o.build, o.key, o.ref, MAX_FILE)) != KH_OK)
		return cli_fail(rc, "bundle %s", o.dir);
	if ((rc = bundle_load(o.dir, o.pub, MAX_FILE, &b)) != KH_OK)
		return cli_fail(rc, "bundle %s", o.dir);
	ex = report(g, o.sub, b);
	bundle_free(b);
	return ex;
}
