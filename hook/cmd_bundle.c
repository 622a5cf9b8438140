/* cmd_bundle.c - `bundle create` and `bundle verify`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bundle.h"
#include "cli.h"
#include "khreset.h"

#define MAX_FILE 1048576

static int fail(int rc, const char *dir)
{
	const char *d = kh_lasterr();

	fprintf(stderr, "khreset: bundle %s: %s\n", dir, d[0] ? d : kh_errstr(rc));
	return kh_exitcode(rc);
}

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

int cmd_bundle(int argc, char **argv, const struct kh_globals *g)
{
	const char *sub = argc > 1 ? argv[1] : "", *dir = argc > 2 ? argv[2] : NULL;
	const char *key = NULL, *ref = NULL, *pub = NULL, *name = NULL;
	struct kh_bundle *b = NULL;
	long build = 0;
	int rc, ex;

	for (int i = 3; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "khreset: bundle: %s needs a value\n", argv[i]);
			return KH_EXIT_USAGE;
		}
		if (!strcmp(argv[i], "--sign") && !strcmp(sub, "create"))
			key = v;
		else if (!strcmp(argv[i], "--reference") && !strcmp(sub, "create"))
			ref = v;
		else if (!strcmp(argv[i], "--name") && !strcmp(sub, "create"))
			name = v;
		else if (!strcmp(argv[i], "--build") && !strcmp(sub, "create")) {
			char *end;
			build = strtol(v, &end, 10);
			if (*end || end == v || build <= 0) {
				fprintf(stderr, "khreset: bundle: --build: expected a build number, got '%s'\n", v);
				return KH_EXIT_USAGE;
			}
		}
		else if (!strcmp(argv[i], "--pubkey") && !strcmp(sub, "verify"))
			pub = v;
		else {
			fprintf(stderr, "khreset: bundle %s: unexpected argument '%s'\n", sub, argv[i]);
			return KH_EXIT_USAGE;
		}
		i++;
	}
	if (!dir || (strcmp(sub, "create") && strcmp(sub, "verify"))) {
		fprintf(stderr, "usage: khreset bundle create DIR [--sign KEY.pem] "
				"[--reference ARCHIVE_DIR]\n       khreset bundle verify DIR "
				"[--pubkey PUB.pem]\n");
		return KH_EXIT_USAGE;
	}
	if (!strcmp(sub, "create") &&
	    (rc = bundle_create(dir, name, build, key, ref, MAX_FILE)) != KH_OK)
		return fail(rc, dir);
	if ((rc = bundle_load(dir, pub, MAX_FILE, &b)) != KH_OK)
		return fail(rc, dir);
	ex = report(g, sub, b);
	bundle_free(b);
	return ex;
}
