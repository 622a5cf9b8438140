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
 *   fakesvc stop NAME ROOT            succeeds (exit 75: "not yet", below)
 *   fakesvc exec ROOT PROGRAM ARGS... plays activation.command: activates
 *                                     as CmitClientSVC does
 *   fakesvc tick ROOT                 ClipSVC's own later work: a late
 *                                     regeneration that is due now is done
 *   fakesvc licence ROOT              prints the recorded licence state
 *
 * Environment: FAKE_CLIPSVC_FAIL=1 (ClipSVC fails to start),
 * FAKE_ACTIVATION_NEVER=1 (the activation server never answers), and the
 * ways a real first boot differs from the model (issue 10):
 *   FAKE_CLIPSVC_LATE=N      ClipSVC regenerates N s after its start: the
 *                            start writes the time due into
 *                            ROOT/ProgramData/fake/clipsvc-due (a test
 *                            makes it due by writing 0 there); a later
 *                            start or tick does the copy once it is due
 *   FAKE_CLIPSVC_RENAME=1    archives each file under another name
 *                            (its first 8 characters become "abcdef01")
 *   FAKE_CLIPSVC_BYTES=1     archives different bytes (a comment added)
 *   FAKE_CLIPSVC_SKIP=NAME   does not archive the file NAME (a partial set)
 *   FAKE_CLIPSVC_RESTARTS=K  a stop of ClipSVC answers "not yet" (exit 75)
 *                            K times: a trigger started it again (counted
 *                            in ROOT/ProgramData/fake/clipsvc-stops)
 *   FAKE_ACTIVATION_ABSENT=1 CmitClientSVC does not exist (exit 4) until
 *                            ROOT/ProgramData/fake/logon exists
 *   FAKE_COMMAND_FAIL=N      the activation command exits N, activating
 *                            nothing
 *   FAKE_HANG=1              every start, stop and command hangs (an hour);
 *   FAKE_HANG=start          every start and command hangs, stops answer
 * The licence state lives in ROOT/ProgramData/fake/licence.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

static int env_is(const char *name, const char *val)
{
	const char *v = getenv(name);

	return v && !strcmp(v, val);
}

static long env_num(const char *name)
{
	const char *v = getenv(name);

	return v ? strtol(v, NULL, 10) : 0;
}

static void fake_path(char *out, size_t n, const char *root, const char *name)
{
	snprintf(out, n, "%s/ProgramData/fake", root);
	mkdir(out, 0755);
	snprintf(out, n, "%s/ProgramData/fake/%s", root, name);
}

static long read_num(const char *root, const char *name, long dflt)
{
	char path[4096], *s;
	long v;

	fake_path(path, sizeof(path), root, name);
	if (!(s = slurp(path)))
		return dflt;
	v = strtol(s, NULL, 10);
	free(s);
	return v;
}

static void write_num(const char *root, const char *name, long v)
{
	char path[4096], text[32];

	fake_path(path, sizeof(path), root, name);
	snprintf(text, sizeof(text), "%ld\n", v);
	put(path, text);
}

/* A late regeneration: not yet due (or just scheduled) -> 1. */
static int late(const char *root, int starting)
{
	long due = read_num(root, "clipsvc-due", -1);

	if (!getenv("FAKE_CLIPSVC_LATE") && due < 0)
		return 0;
	if (due < 0 && starting) {
		write_num(root, "clipsvc-due", (long)time(NULL) + env_num("FAKE_CLIPSVC_LATE"));
		return 1;
	}
	return due < 0 || time(NULL) < due;
}

static void archived_name(char *out, size_t n, const char *name)
{
	if (env_is("FAKE_CLIPSVC_RENAME", "1") && strlen(name) > 8)
		snprintf(out, n, "abcdef01%s", name + 8);
	else
		snprintf(out, n, "%s", name);
}

static int regenerate(const char *root)
{
	char src[4096], dst[4096], name[512];
	struct dirent *e;
	DIR *d;

	snprintf(src, sizeof(src), "%s/" INST, root);
	if (!(d = opendir(src)))
		return 0;
	while ((e = readdir(d))) {
		struct stat st;
		char *data;

		if (e->d_name[0] == '.' || (getenv("FAKE_CLIPSVC_SKIP") &&
					     !strcasecmp(getenv("FAKE_CLIPSVC_SKIP"), e->d_name)))
			continue;
		archived_name(name, sizeof(name), e->d_name);
		snprintf(dst, sizeof(dst), "%s/" ARCH "/%s", root, name);
		if (lstat(dst, &st) == 0)
			continue;          /* same identity archived: not replaced */
		snprintf(src, sizeof(src), "%s/" INST "/%s", root, e->d_name);
		if ((data = slurp(src))) {
			put(dst, data);
			if (env_is("FAKE_CLIPSVC_BYTES", "1")) {
				FILE *f = fopen(dst, "ab");
				if (f) {
					fputs("<!-- regenerated -->\r\n", f);
					fclose(f);
				}
			}
			free(data);
		}
	}
	closedir(d);
	return 0;
}

static int clipsvc(const char *root)
{
	if (env_is("FAKE_CLIPSVC_FAIL", "1"))
		return 1;
	if (late(root, 1))
		return 0;              /* started; the archive comes later */
	return regenerate(root);
}

static int absent(const char *root);

/* A stop answered "not yet" while the trigger keeps starting it again. */
static int stop(const char *name, const char *root)
{
	long n;

	if (!strcasecmp(name, "CmitClientSVC") && absent(root))
		return 4;
	if (strcasecmp(name, "ClipSVC") || !getenv("FAKE_CLIPSVC_RESTARTS"))
		return 0;
	n = read_num(root, "clipsvc-stops", 0);
	write_num(root, "clipsvc-stops", n + 1);
	return n < env_num("FAKE_CLIPSVC_RESTARTS") ? 75 : 0;
}

/* The activation service exists only once the user has logged on. */
static int absent(const char *root)
{
	char path[4096];
	struct stat st;

	if (!env_is("FAKE_ACTIVATION_ABSENT", "1"))
		return 0;
	fake_path(path, sizeof(path), root, "logon");
	return stat(path, &st) != 0;
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

static int activate(const char *root)
{
	char path[4096];

	if (env_is("FAKE_ACTIVATION_NEVER", "1"))
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

static int activation(const char *root)
{
	return absent(root) ? 4 : activate(root);
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
	if (argc == 3 && !strcmp(argv[1], "tick"))
		return late(argv[2], 0) ? 0 : regenerate(argv[2]);
	if ((env_is("FAKE_HANG", "1") && (!strcmp(argv[1], "start") || !strcmp(argv[1], "stop") ||
					   !strcmp(argv[1], "exec"))) ||
	    (env_is("FAKE_HANG", "start") && (!strcmp(argv[1], "start") || !strcmp(argv[1], "exec"))))
		sleep(3600);
	if (argc >= 4 && !strcmp(argv[1], "exec")) {
		if (env_num("FAKE_COMMAND_FAIL"))
			return (int)env_num("FAKE_COMMAND_FAIL");
		return activate(argv[2]);
	}
	if (argc != 4) {
		fprintf(stderr, "usage: fakesvc start|stop NAME ROOT | fakesvc exec ROOT PROGRAM "
			"[ARG...] | fakesvc tick ROOT | fakesvc licence ROOT\n");
		return 2;
	}
	if (!strcmp(argv[1], "stop"))
		return stop(argv[2], argv[3]);
	if (strcmp(argv[1], "start"))
		return 2;
	if (!strcasecmp(argv[2], "ClipSVC"))
		return clipsvc(argv[3]);
	if (!strcasecmp(argv[2], "CmitClientSVC"))
		return activation(argv[3]);
	fprintf(stderr, "fakesvc: no such service %s\n", argv[2]);
	return 1;
}
