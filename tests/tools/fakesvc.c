/* fakesvc.c - stand-ins for the two Windows services of the field case, so
 * the live plan can be exercised on Linux (tests/fake/plat_fake.c runs
 * these as the "services"; tests can run them directly too).
 *
 *   fakesvc start ClipSVC ROOT        copies each Install\KeyHolder file into
 *                                     Archive\KeyHolder unless that name is
 *                                     already archived (what was seen on site)
 *   fakesvc start CmitClientSVC ROOT  activates only if the archive holds the
 *                                     official root keyholder and nothing
 *                                     stale; then writes a 451b310a... file
 *   fakesvc stop NAME ROOT            always succeeds
 *   fakesvc licence ROOT              prints the recorded licence state
 *
 * Environment: FAKE_CLIPSVC_FAIL=1 (ClipSVC fails to start),
 * FAKE_ACTIVATION_NEVER=1 (the activation server never answers).
 * The licence state lives in ROOT/ProgramData/fake/licence.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ARCH "ProgramData/Microsoft/Windows/ClipSVC/Archive/KeyHolder"
#define INST "ProgramData/Microsoft/Windows/ClipSVC/Install/KeyHolder"
#define ROOTKH "f912421d-3371-f33c-3cf8-22df25e5851f.xml"
#define ACTKH "451b310a-7d1e-4c52-9a0b-3f6c1e2d8a47.xml"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = calloc(1, (size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

static int put(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return 1;
	fputs(text, f);
	return fclose(f) != 0;
}

static int clipsvc(const char *root)
{
	char src[4096], dst[4096];
	struct dirent *e;
	DIR *d;

	if (getenv("FAKE_CLIPSVC_FAIL") && !strcmp(getenv("FAKE_CLIPSVC_FAIL"), "1"))
		return 1;
	snprintf(src, sizeof(src), "%s/" INST, root);
	if (!(d = opendir(src)))
		return 0;
	while ((e = readdir(d))) {
		struct stat st;
		char *data;

		if (e->d_name[0] == '.')
			continue;
		snprintf(dst, sizeof(dst), "%s/" ARCH "/%s", root, e->d_name);
		if (lstat(dst, &st) == 0)
			continue;          /* same identity archived: not replaced */
		snprintf(src, sizeof(src), "%s/" INST "/%s", root, e->d_name);
		if ((data = slurp(src))) {
			put(dst, data);
			free(data);
		}
	}
	closedir(d);
	return 0;
}

/* Clean: the root keyholder from V2020-L, and nothing but official or
 * activation files beside it. */
static int archive_clean(const char *root)
{
	char path[4096];
	struct dirent *e;
	char *data;
	int ok;
	DIR *d;

	snprintf(path, sizeof(path), "%s/" ARCH "/" ROOTKH, root);
	data = slurp(path);
	ok = data && strstr(data, "V2020-L");
	free(data);
	snprintf(path, sizeof(path), "%s/" ARCH, root);
	if (!ok || !(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		struct stat st;
		char inst[4096];

		if (e->d_name[0] == '.' || !strcmp(e->d_name, ACTKH))
			continue;
		snprintf(inst, sizeof(inst), "%s/" INST "/%s", root, e->d_name);
		if (stat(inst, &st) != 0)
			ok = 0;        /* stale: not from the official set */
	}
	closedir(d);
	return ok;
}

static int activation(const char *root)
{
	char path[4096];

	if (getenv("FAKE_ACTIVATION_NEVER") && !strcmp(getenv("FAKE_ACTIVATION_NEVER"), "1"))
		return 0;
	if (!archive_clean(root))
		return 0;          /* "failed to activate using the intranet server" */
	snprintf(path, sizeof(path), "%s/ProgramData/fake", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/ProgramData/fake/licence", root);
	put(path, "licensed\n");
	snprintf(path, sizeof(path), "%s/" ARCH "/" ACTKH, root);
	return put(path, "<?xml version=\"1.0\"?><License><Activation>VDI</Activation></License>\n");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "licence")) {
		char path[4096], *s;
		snprintf(path, sizeof(path), "%s/ProgramData/fake/licence", argv[2]);
		s = slurp(path);
		printf("%s", s ? s : "notification\n");
		free(s);
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: fakesvc start|stop NAME ROOT | fakesvc licence ROOT\n");
		return 2;
	}
	if (!strcmp(argv[1], "stop"))
		return 0;
	if (strcmp(argv[1], "start"))
		return 2;
	if (!strcasecmp(argv[2], "ClipSVC"))
		return clipsvc(argv[3]);
	if (!strcasecmp(argv[2], "CmitClientSVC"))
		return activation(argv[3]);
	fprintf(stderr, "fakesvc: no such service %s\n", argv[2]);
	return 1;
}
