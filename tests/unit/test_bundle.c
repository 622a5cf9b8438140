/* test_bundle.c - bundle load/create against sha256sum and openssl(1). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "khreset.h"
#include "bundle.h"
#include "platform.h"
#include "testutil.h"

#define A  "f912421d-3371-f33c-3cf8-22df25e5851f.xml"
#define B  "0a1b2c3d-0000-1111-2222-333344445555.xml"
#define XML(id) \
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><License xmlns=\"urn:" \
	"schemas-microsoft-com:windows:store:licensing:ls\"><Binding " \
	"Binding_Type=\"KeyHolder\"/><KeyHolder><KeyId>" id "</KeyId>" \
	"</KeyHolder></License>"
#define XML_A XML("f912421d-3371-f33c-3cf8-22df25e5851f")
#define XML_B XML("0a1b2c3d-0000-1111-2222-333344445555")
#define MAXSZ 1048576

static char root[64];     /* keys live here */
static char dir[128];     /* the bundle of the current test */
static char ref[128];     /* a reference archive of the current test */
static char sha_a[KH_SHA256_HEX], sha_b[KH_SHA256_HEX];

/* ---- fixtures --------------------------------------------------------- */



static void put(const char *in, const char *name, const void *data, size_t len)
{
	char p[256];
	FILE *fp;

	tu_fmt(p, sizeof(p), "%s/%s", in, name);
	assert_non_null(fp = fopen(p, "wb"));
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void puts_(const char *in, const char *name, const char *text)
{
	put(in, name, text, strlen(text));
}

/* Reads in/name as a string (malloc'd). */
static char *slurp(const char *in, const char *name)
{
	char p[256], *buf;
	FILE *fp;
	long n;

	tu_fmt(p, sizeof(p), "%s/%s", in, name);
	assert_non_null(fp = fopen(p, "rb"));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((n = ftell(fp)) >= 0);
	rewind(fp);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int exists(const char *in, const char *name)
{
	char p[256];
	struct stat st;

	tu_fmt(p, sizeof(p), "%s/%s", in, name);
	return lstat(p, &st) == 0;
}

/* sha256sum's verdict on in/name. */
static void sha256sum(const char *in, const char *name, char hex[KH_SHA256_HEX])
{
	char cmd[512];
	FILE *fp;

	tu_fmt(cmd, sizeof(cmd), "sha256sum '%s/%s'", in, name);
	assert_non_null(fp = popen(cmd, "r"));
	assert_int_equal(fscanf(fp, "%64s", hex), 1);
	assert_int_equal(pclose(fp), 0);
}

/* Writes dir/manifest.ini from a format (printf style). */
static void manifest(const char *f, ...) __attribute__((format(printf, 1, 2)));
static void manifest(const char *f, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, f);
	tu_vfmt(text, sizeof(text), f, ap);
	va_end(ap);
	puts_(dir, "manifest.ini", text);
}

/* The good bundle: two files and a hand-written manifest.ini. */
static void good_bundle(void)
{
	puts_(dir, A, XML_A);
	puts_(dir, B, XML_B);
	sha256sum(dir, A, sha_a);
	sha256sum(dir, B, sha_b);
	manifest("; test bundle\n[bundle]\nformat = 1\nname = Test set\n"
		 "target_build = 17763\n\n[install]\n%s = %s\n%s = %s\n",
		 A, sha_a, B, sha_b);
}

/* openssl(1) signs dir/manifest.ini with root/key into dir/manifest.sig */
static void openssl_sign(const char *key)
{
	assert_int_equal(tu_run(root, "openssl pkeyutl -sign -rawin -inkey %s -in "
			     "'%s/manifest.ini' -out '%s/manifest.sig'",
			     key, dir, dir), 0);
}

static int openssl_verify(const char *pub)
{
	return tu_run(root, "openssl pkeyutl -verify -pubin -inkey %s -rawin -in "
		   "'%s/manifest.ini' -sigfile '%s/manifest.sig'", pub, dir, dir);
}

static char *key(const char *name)
{
	static char p[4][160];
	static int i;

	i = (i + 1) % 4;
	tu_fmt(p[i], sizeof(p[i]), "%s/%s", root, name);
	return p[i];
}

/* Loads dir expecting err; on failure the message must contain want. */
static struct kh_bundle *load(const char *pub, size_t max, int err,
			      const char *want)
{
	struct kh_bundle *b = (struct kh_bundle *)1;
	int r;

	kh_clearerr();
	r = bundle_load(dir, pub, max, &b);
	if (r != err)
		fail_msg("bundle_load: %d (%s) [%s], expected %d", r,
			 kh_errstr(r), kh_lasterr(), err);
	if (err != KH_OK) {
		assert_null(b);
		if (want && !strstr(kh_lasterr(), want))
			fail_msg("message '%s' lacks '%s'", kh_lasterr(), want);
		return NULL;
	}
	assert_non_null(b);
	return b;
}

static void load_fails(const char *pub, int err, const char *want)
{
	load(pub, MAXSZ, err, want);
}

static void load_ok(const char *pub)
{
	bundle_free(load(pub, MAXSZ, KH_OK, NULL));
}

/* Captures what f() writes to stderr (the log). */
static char *stderr_of(void (*f)(void))
{
	char p[160];
	int saved, fd;

	tu_fmt(p, sizeof(p), "%s/stderr.txt", root);
	fflush(stderr);
	assert_true((saved = dup(2)) >= 0);
	assert_true((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	dup2(fd, 2);
	close(fd);
	f();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return slurp(root, "stderr.txt");
}

static int group_setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/khreset-bundle-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	return tu_run(root, "openssl genpkey -algorithm ed25519 -out k.pem && "
		   "openssl pkey -in k.pem -pubout -out k.pub && "
		   "openssl genpkey -algorithm ed25519 -out other.pem && "
		   "openssl pkey -in other.pem -pubout -out other.pub") ? -1 : 0;
}

static int group_teardown(void **state)
{
	return tu_run(root, "rm -rf '%s'", root) ? -1 : 0;
}

static int setup(void **state)
{
	tu_fmt(dir, sizeof(dir), "%s/bundle", root);
	tu_fmt(ref, sizeof(ref), "%s/reference", root);
	return tu_run(root, "rm -rf bundle reference && mkdir bundle reference");
}

/* ---- load ------------------------------------------------------------- */

static void test_good_unsigned(void **state)
{
	struct kh_bundle *b;

	good_bundle();
	b = load(NULL, MAXSZ, KH_OK, NULL);
	assert_string_equal(b->path, dir);
	assert_string_equal(b->name, "Test set");
	assert_int_equal(b->target_build, 17763);
	assert_true(b->verified);
	assert_false(b->is_signed);
	assert_int_equal(b->n, 2);
	assert_string_equal(b->files[0].name, A);
	assert_string_equal(b->files[0].sha256, sha_a);
	assert_int_equal(b->files[0].len, strlen(XML_A));
	assert_memory_equal(b->files[0].data, XML_A, strlen(XML_A));
	assert_string_equal(b->files[1].sha256, sha_b);
	assert_int_equal(b->files[1].n_good, 0);
	bundle_free(b);
	/* an empty public key means: no signature required */
	load_ok("");
}

/* A signature without a public key is not "signed". */
static void test_signature_ignored_without_pubkey(void **state)
{
	struct kh_bundle *b;

	good_bundle();
	put(dir, "manifest.sig", "garbage", 7);
	b = load(NULL, MAXSZ, KH_OK, NULL);
	assert_false(b->is_signed);
	bundle_free(b);
}

static void test_signed(void **state)
{
	struct kh_bundle *b;

	good_bundle();
	openssl_sign(key("k.pem"));
	b = load(key("k.pub"), MAXSZ, KH_OK, NULL);
	assert_true(b->is_signed);
	assert_true(b->verified);
	bundle_free(b);
}

/* One byte of manifest.ini changed after signing. */
static void test_forged(void **state)
{
	char *text;

	good_bundle();
	openssl_sign(key("k.pem"));
	text = slurp(dir, "manifest.ini");
	*strstr(text, "Test set") = 'B';
	puts_(dir, "manifest.ini", text);
	free(text);
	assert_int_not_equal(openssl_verify(key("k.pub")), 0);
	load_fails(key("k.pub"), KH_ERR_SIGNATURE, "manifest.sig");
}

static void test_wrong_key(void **state)
{
	good_bundle();
	openssl_sign(key("other.pem"));
	load_fails(key("k.pub"), KH_ERR_SIGNATURE, "manifest.sig");
	load_ok(key("other.pub"));
}

static void test_missing_signature(void **state)
{
	good_bundle();
	load_fails(key("k.pub"), KH_ERR_SIGNATURE, "manifest.sig missing");
}

static void test_malformed_signature(void **state)
{
	char *sig;

	good_bundle();
	openssl_sign(key("k.pem"));
	sig = slurp(dir, "manifest.sig");
	put(dir, "manifest.sig", sig, 63);
	load_fails(key("k.pub"), KH_ERR_SIGNATURE, "63 bytes");
	put(dir, "manifest.sig", sig, 64);
	put(dir, "manifest.sig", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
	    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
	    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 65);
	load_fails(key("k.pub"), KH_ERR_SIGNATURE, "65 bytes");
	free(sig);
}

static void test_signature_symlink(void **state)
{
	good_bundle();
	openssl_sign(key("k.pem"));
	assert_int_equal(tu_run(root, "mv bundle/manifest.sig real.sig && "
			     "ln -s ../real.sig bundle/manifest.sig"), 0);
	load_fails(key("k.pub"), KH_ERR_SIGNATURE, "symbolic link");
}

static void test_unreadable_pubkey(void **state)
{
	good_bundle();
	openssl_sign(key("k.pem"));
	load_fails(key("absent.pub"), KH_ERR_SIGNATURE, "absent.pub");
}

static void test_digest_mismatch(void **state)
{
	char want[512];

	good_bundle();
	puts_(dir, B, XML("0a1b2c3d-0000-1111-2222-333344445556"));
	sha256sum(dir, B, sha_a);     /* the actual digest now */
	tu_fmt(want, sizeof(want), "file %s: SHA-256 is %s, manifest says %s",
	    B, sha_a, sha_b);
	load_fails(NULL, KH_ERR_BUNDLE, want);
}

static void test_file_symlink(void **state)
{
	good_bundle();
	assert_int_equal(tu_run(root, "mv bundle/%s %s && ln -s ../%s bundle/%s",
			     A, A, A, A), 0);
	load_fails(NULL, KH_ERR_BUNDLE, "symbolic link");
	/* twin: the same content as a regular file */
	assert_int_equal(tu_run(root, "rm bundle/%s && mv %s bundle/%s", A, A, A), 0);
	load_ok(NULL);
}

static void test_manifest_symlink(void **state)
{
	good_bundle();
	assert_int_equal(tu_run(root, "mv bundle/manifest.ini m.ini && "
			     "ln -s ../m.ini bundle/manifest.ini"), 0);
	load_fails(NULL, KH_ERR_BUNDLE, "symbolic link");
}

static void test_not_regular(void **state)
{
	good_bundle();
	assert_int_equal(tu_run(root, "rm bundle/%s && mkfifo bundle/%s", A, A), 0);
	load_fails(NULL, KH_ERR_BUNDLE, "not a regular file");
	assert_int_equal(tu_run(root, "rm bundle/%s && mkdir bundle/%s", A, A), 0);
	load_fails(NULL, KH_ERR_BUNDLE, "not a regular file");
}

static void test_oversized(void **state)
{
	good_bundle();
	bundle_free(load(NULL, strlen(XML_A) - 1, KH_ERR_BUNDLE, A));
	assert_non_null(strstr(kh_lasterr(), "larger than"));
	/* twin: exactly at the limit (both files have the same size) */
	bundle_free(load(NULL, strlen(XML_A), KH_OK, NULL));
}

static void test_format(void **state)
{
	good_bundle();
	manifest("[bundle]\nformat = 2\n[install]\n%s = %s\n", A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "manifest.ini: [bundle] format must be 1");
	manifest("[bundle]\nname = x\n[install]\n%s = %s\n", A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "format must be 1");
	manifest("[install]\n%s = %s\n", A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "format must be 1");
	manifest("[bundle]\nformat = 1x\n[install]\n%s = %s\n", A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "format must be 1");
	/* twin, with a comment and odd case */
	manifest("[Bundle]\nFormat = 1 ; first\n[INSTALL]\n%s = %s\n", A, sha_a);
	load_ok(NULL);
}

static void test_target_build(void **state)
{
	struct kh_bundle *b;

	good_bundle();
	manifest("[bundle]\nformat = 1\ntarget_build = 17763x\n[install]\n"
		 "%s = %s\n", A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "target_build");
	manifest("[bundle]\nformat = 1\ntarget_build = -5\n[install]\n"
		 "%s = %s\n", A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "target_build");
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n", A, sha_a);
	b = load(NULL, MAXSZ, KH_OK, NULL);
	assert_int_equal(b->target_build, 0);
	assert_null(b->name);
	assert_int_equal(b->n, 1);
	bundle_free(b);
}

static void test_bad_digest_text(void **state)
{
	good_bundle();
	manifest("[bundle]\nformat = 1\n[install]\n%s = %.63s\n", A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, A);
	assert_non_null(strstr(kh_lasterr(), "not 64 hex digits"));
	manifest("[bundle]\nformat = 1\n[install]\n%s = %.63sg\n", A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "not 64 hex digits");
	manifest("[bundle]\nformat = 1\n[install]\n%s =\n", A);
	load_fails(NULL, KH_ERR_BUNDLE, "not 64 hex digits");
	/* twin: upper case digits are fine and stored lower case */
	{
		char up[KH_SHA256_HEX];
		struct kh_bundle *b;

		for (size_t i = 0; i < KH_SHA256_HEX; i++)
			up[i] = (char)((sha_a[i] >= 'a' && sha_a[i] <= 'f') ?
				       sha_a[i] - 32 : sha_a[i]);
		manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n", A, up);
		b = load(NULL, MAXSZ, KH_OK, NULL);
		assert_string_equal(b->files[0].sha256, sha_a);
		bundle_free(b);
	}
}

static void test_install_keys(void **state)
{
	good_bundle();
	manifest("[bundle]\nformat = 1\n[install]\nlicence.xml = %s\n", sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "licence.xml");
	manifest("[bundle]\nformat = 1\n[install]\n");
	load_fails(NULL, KH_ERR_BUNDLE, "[install] lists no files");
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n%s = %s\n",
		 A, sha_a, "F912421D-3371-F33C-3CF8-22DF25E5851F.xml", sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "given twice");
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n", A, sha_a);
	puts_(dir, A, "<License><KeyHolder></License>");
	sha256sum(dir, A, sha_a);
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n", A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "not well-formed XML (line 1:");
}

static void test_listed_file_missing(void **state)
{
	good_bundle();
	assert_int_equal(tu_run(root, "rm bundle/%s", B), 0);
	load_fails(NULL, KH_ERR_BUNDLE, B);
}

static void test_missing_manifest(void **state)
{
	good_bundle();
	assert_int_equal(tu_run(root, "rm bundle/manifest.ini"), 0);
	load_fails(NULL, KH_ERR_NOENT, "manifest.ini not found");
	assert_int_equal(tu_run(root, "rm -rf bundle"), 0);
	load_fails(NULL, KH_ERR_NOENT, "no such folder");
}

static void test_overlong_line(void **state)
{
	char pad[460];

	good_bundle();
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	manifest("[bundle]\nformat = 1\n; %s\n[install]\n%s = %s\n", pad, A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "line 3: longer than");
	manifest("[bundle]\nformat = 1\n; %.390s\n[install]\n%s = %s\n", pad, A, sha_a);
	load_ok(NULL);
}

/* A NUL byte would end a line early for minIni: refused, naming the line;
 * the same manifest without it loads. */
static void test_nul_byte(void **state)
{
	char text[512];
	int n;

	good_bundle();
	n = snprintf(text, sizeof(text), "[bundle]\nformat = 1\n[install]\n%s = %s\n", A, sha_a);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	put(dir, "manifest.ini", text, (size_t)n);
	load_ok(NULL);
	text[18] = '\0';                    /* "format = 1" -> "format = \0" */
	put(dir, "manifest.ini", text, (size_t)n);
	load_fails(NULL, KH_ERR_BUNDLE, "line 2: NUL byte");
}

/* Notepad's byte order mark would hide [bundle] from minIni. */
static void test_bom(void **state)
{
	good_bundle();
	manifest("\xef\xbb\xbf[bundle]\nformat = 1\n[install]\n%s = %s\n", A, sha_a);
	load_fails(NULL, KH_ERR_BUNDLE, "byte order mark");
	manifest("\r\n[bundle]\r\nformat = 1\r\n[install]\r\n%s = %s\r\n", A, sha_a);
	load_ok(NULL);                       /* twin: CRLF is fine */
}

static void warn_unknown(void)
{
	load_ok(NULL);
}

static void test_unknown_keys_warned(void **state)
{
	char *log;

	good_bundle();
	manifest("[bundle]\nformat = 1\ncolour = blue\n[install]\n%s = %s\n",
		 A, sha_a);
	log = stderr_of(warn_unknown);
	assert_non_null(strstr(log, "warn"));
	assert_non_null(strstr(log, "unknown key [bundle] colour"));
	free(log);
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n", A, sha_a);
	log = stderr_of(warn_unknown);
	assert_null(strstr(log, "unknown"));
	free(log);
}

/* ---- lookups ---------------------------------------------------------- */

static void test_find_case_insensitive(void **state)
{
	struct kh_bundle *b;
	const struct kh_bundle_file *f;

	good_bundle();
	b = load(NULL, MAXSZ, KH_OK, NULL);
	assert_non_null(f = bundle_find(b, "F912421D-3371-F33C-3CF8-22DF25E5851F.XML"));
	assert_string_equal(f->name, A);
	assert_ptr_equal(bundle_find(b, B), &b->files[1]);
	assert_null(bundle_find(b, "f912421d-3371-f33c-3cf8-22df25e5851e.xml"));
	assert_null(bundle_find(b, "f912421d-3371-f33c-3cf8-22df25e5851f"));
	assert_null(bundle_find(b, ""));
	assert_null(bundle_find(b, NULL));
	assert_null(bundle_find(NULL, A));
	bundle_free(b);
}

static void test_good_archived_without_archive(void **state)
{
	struct kh_bundle *b;
	char up[KH_SHA256_HEX];

	good_bundle();
	b = load(NULL, MAXSZ, KH_OK, NULL);
	for (size_t i = 0; i < KH_SHA256_HEX; i++)
		up[i] = (char)((sha_a[i] >= 'a' && sha_a[i] <= 'f') ? sha_a[i] - 32 : sha_a[i]);
	assert_true(bundle_good_archived(&b->files[0], sha_a));
	assert_true(bundle_good_archived(&b->files[0], up));
	assert_false(bundle_good_archived(&b->files[0], sha_b));
	assert_false(bundle_good_archived(&b->files[0], "abc"));
	assert_false(bundle_good_archived(&b->files[0], NULL));
	assert_false(bundle_good_archived(NULL, sha_a));
	bundle_free(b);
}

static void test_good_archived_with_archive(void **state)
{
	static const char g1[] = "1111111111111111111111111111111111111111111111111111111111111111";
	static const char g2[] = "ABCDEF0000000000000000000000000000000000000000000000000000000000";
	struct kh_bundle *b;
	const struct kh_bundle_file *fa, *fb;

	good_bundle();
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n%s = %s\n"
		 "[archive]\n; known good\n%s = %s , %s\n",
		 A, sha_a, B, sha_b, A, g1, g2);
	b = load(NULL, MAXSZ, KH_OK, NULL);
	fa = bundle_find(b, A);
	fb = bundle_find(b, B);
	assert_int_equal(fa->n_good, 2);
	assert_string_equal(fa->archive_good[1],
			    "abcdef0000000000000000000000000000000000000000000000000000000000");
	assert_true(bundle_good_archived(fa, g1));
	assert_true(bundle_good_archived(fa, g2));
	assert_false(bundle_good_archived(fa, sha_a));   /* listed: only those */
	assert_true(bundle_good_archived(fb, sha_b));    /* not listed: install */
	assert_false(bundle_good_archived(fb, g1));
	bundle_free(b);
}

static void test_archive_errors(void **state)
{
	static const char g1[] = "1111111111111111111111111111111111111111111111111111111111111111";

	good_bundle();
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n[archive]\n%s = %s\n",
		 A, sha_a, B, g1);
	load_fails(NULL, KH_ERR_BUNDLE, "[archive] " B " is not listed in [install]");
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n[archive]\n%s = %s,\n",
		 A, sha_a, A, g1);
	load_fails(NULL, KH_ERR_BUNDLE, "comma-separated");
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n[archive]\n%s = %s,,%s\n",
		 A, sha_a, A, g1, g1);
	load_fails(NULL, KH_ERR_BUNDLE, "comma-separated");
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n[archive]\n%s = %.60s\n",
		 A, sha_a, A, g1);
	load_fails(NULL, KH_ERR_BUNDLE, "comma-separated");
	manifest("[bundle]\nformat = 1\n[install]\n%s = %s\n[archive]\n%s =\n",
		 A, sha_a, A);
	load_fails(NULL, KH_ERR_BUNDLE, "comma-separated");
}

/* ---- create ----------------------------------------------------------- */

static void test_create_unsigned(void **state)
{
	struct kh_bundle *b;
	char *text;

	puts_(dir, B, XML_B);
	puts_(dir, A, XML_A);
	puts_(dir, "readme.txt", "not a keyholder");
	put(dir, "manifest.sig", "stale", 5);
	sha256sum(dir, A, sha_a);
	sha256sum(dir, B, sha_b);
	assert_int_equal(bundle_create(dir, NULL, 0, NULL, NULL, MAXSZ), KH_OK);
	assert_false(exists(dir, "manifest.sig"));
	text = slurp(dir, "manifest.ini");
	assert_non_null(strstr(text, "name = CMGE V2020-L multi-level keyholder\n"));
	assert_null(strstr(text, "target_build"));
	assert_null(strstr(text, "[archive]"));
	assert_null(strstr(text, "readme"));
	/* sorted: B's uuid (0a1b...) before A's (f912...) */
	assert_true(strstr(text, B) < strstr(text, A));
	free(text);
	b = load(NULL, MAXSZ, KH_OK, NULL);
	assert_int_equal(b->n, 2);
	assert_string_equal(b->files[0].name, B);
	assert_string_equal(b->files[0].sha256, sha_b);
	assert_string_equal(b->files[1].sha256, sha_a);
	assert_string_equal(b->name, "CMGE V2020-L multi-level keyholder");
	assert_int_equal(b->target_build, 0);
	bundle_free(b);
	assert_int_equal(bundle_create(dir, "Other", 19044, NULL, NULL, MAXSZ), KH_OK);
	b = load(NULL, MAXSZ, KH_OK, NULL);
	assert_string_equal(b->name, "Other");
	assert_int_equal(b->target_build, 19044);
	bundle_free(b);
}

static void test_create_signed(void **state)
{
	struct kh_bundle *b;
	char *text;

	puts_(dir, A, XML_A);
	assert_int_equal(bundle_create(dir, "Signed set", 17763, key("k.pem"),
				       NULL, MAXSZ), KH_OK);
	assert_int_equal(openssl_verify(key("k.pub")), 0);
	assert_int_not_equal(openssl_verify(key("other.pub")), 0);
	b = load(key("k.pub"), MAXSZ, KH_OK, NULL);
	assert_true(b->is_signed);
	bundle_free(b);
	/* forged after the fact: both openssl and we refuse */
	text = slurp(dir, "manifest.ini");
	*strstr(text, "17763") = '2';
	puts_(dir, "manifest.ini", text);
	free(text);
	assert_int_not_equal(openssl_verify(key("k.pub")), 0);
	load_fails(key("k.pub"), KH_ERR_SIGNATURE, "manifest.sig");
}

static void test_create_reference(void **state)
{
	static const char *other = "99999999-8888-7777-6666-555555555555.xml";
	char want[KH_SHA256_HEX], line[256], *text;
	struct kh_bundle *b;

	puts_(dir, A, XML_A);
	puts_(dir, B, XML_B);
	/* the reference names A in upper case (Windows does not care), has a
	 * file the bundle lacks, and lacks B */
	puts_(ref, "F912421D-3371-F33C-3CF8-22DF25E5851F.xml",
	      "<License><Archived>yes</Archived></License>");
	puts_(ref, other, XML("99999999-8888-7777-6666-555555555555"));
	sha256sum(ref, "F912421D-3371-F33C-3CF8-22DF25E5851F.xml", want);
	assert_int_equal(bundle_create(dir, NULL, 0, NULL, ref, MAXSZ), KH_OK);
	text = slurp(dir, "manifest.ini");
	tu_fmt(line, sizeof(line), "[archive]\n%s = %s\n", A, want);
	assert_non_null(strstr(text, line));
	assert_null(strstr(text, other));
	assert_int_equal(strstr(text, B) - text, strstr(text, B) - text);
	free(text);
	b = load(NULL, MAXSZ, KH_OK, NULL);
	assert_int_equal(bundle_find(b, A)->n_good, 1);
	assert_true(bundle_good_archived(bundle_find(b, A), want));
	assert_int_equal(bundle_find(b, B)->n_good, 0);
	bundle_free(b);
	/* twin: without a reference there is no [archive] */
	assert_int_equal(bundle_create(dir, NULL, 0, NULL, NULL, MAXSZ), KH_OK);
	text = slurp(dir, "manifest.ini");
	assert_null(strstr(text, "[archive]"));
	free(text);
}

static void test_create_refuses(void **state)
{
	char *before;

	/* nothing to list */
	assert_int_equal(bundle_create(dir, NULL, 0, NULL, NULL, MAXSZ), KH_ERR_BUNDLE);
	assert_false(exists(dir, "manifest.ini"));
	/* a keyholder that is not XML */
	puts_(dir, A, XML_A);
	puts_(dir, B, "<License>");
	assert_int_equal(bundle_create(dir, NULL, 0, NULL, NULL, MAXSZ), KH_ERR_BUNDLE);
	assert_non_null(strstr(kh_lasterr(), B));
	assert_false(exists(dir, "manifest.ini"));
	/* a symlinked keyholder */
	assert_int_equal(tu_run(root, "rm bundle/%s && ln -s %s bundle/%s", B, A, B), 0);
	assert_int_equal(bundle_create(dir, NULL, 0, NULL, NULL, MAXSZ), KH_ERR_BUNDLE);
	assert_non_null(strstr(kh_lasterr(), "symbolic link"));
	assert_int_equal(tu_run(root, "rm bundle/%s", B), 0);
	/* too big */
	assert_int_equal(bundle_create(dir, NULL, 0, NULL, NULL, 10), KH_ERR_BUNDLE);
	/* a name minIni would not read back */
	assert_int_equal(bundle_create(dir, "a ; b", 0, NULL, NULL, MAXSZ), KH_ERR_USAGE);
	assert_int_equal(bundle_create(dir, "a\nformat = 2", 0, NULL, NULL, MAXSZ), KH_ERR_USAGE);
	assert_int_equal(bundle_create(dir, "x", -1, NULL, NULL, MAXSZ), KH_ERR_USAGE);
	/* a bad key changes nothing */
	assert_int_equal(bundle_create(dir, NULL, 0, NULL, NULL, MAXSZ), KH_OK);
	before = slurp(dir, "manifest.ini");
	assert_int_equal(bundle_create(dir, "New", 0, key("k.pub"), NULL, MAXSZ), KH_ERR_DATA);
	assert_int_equal(bundle_create(dir, "New", 0, key("absent.pem"), NULL, MAXSZ), KH_ERR_DATA);
	{
		char *after = slurp(dir, "manifest.ini");

		assert_string_equal(before, after);
		free(after);
	}
	free(before);
	/* a reference folder that does not exist */
	assert_int_equal(bundle_create(dir, NULL, 0, NULL, key("nowhere"), MAXSZ), KH_ERR_NOENT);
	/* no temp files left behind */
	assert_int_equal(tu_run(root, "test -z \"$(ls -A bundle | grep -v -e '^%s$' -e '^manifest.ini$')\"", A), 0);
}

/* issue 8 item 10: a bundle inside a mounted volume is read below its root
 * through the safe path walk: a link on the way or at the end is refused,
 * where the host reader would have followed it. */
static void test_below_root(void **state)
{
	struct kh_bundle *b = NULL;
	kh_plat *p;

	good_bundle();
	openssl_sign(key("k.pem"));
	assert_int_equal(plat_open(&p, root), KH_OK);
	assert_int_equal(bundle_load_at(p, "bundle", "k.pub", MAXSZ, &b), KH_OK);
	assert_true(b->verified);
	assert_true(b->is_signed);
	assert_int_equal(b->n, 2);
	bundle_free(b);
	/* the folder behind a symbolic link */
	assert_int_equal(tu_run(root, "mv bundle real && ln -s real bundle"), 0);
	assert_int_equal(bundle_load_at(p, "bundle", "k.pub", MAXSZ, &b), KH_ERR_UNSAFE);
	assert_null(b);
	assert_non_null(strstr(kh_lasterr(), "bundle: a symbolic link, refused"));
	/* twin: the host reader follows a link to a folder */
	assert_int_equal(bundle_load(dir, key("k.pub"), MAXSZ, &b), KH_OK);
	bundle_free(b);
	assert_int_equal(tu_run(root, "mkdir d && mv real d/real && rm bundle && ln -s d l && "
				"mkdir bundle"), 0);
	assert_int_equal(bundle_load_at(p, "l\\real", "k.pub", MAXSZ, &b), KH_ERR_UNSAFE);
	assert_non_null(strstr(kh_lasterr(), "symlink"));
	/* the key behind a link */
	assert_int_equal(tu_run(root, "rm -r bundle && mv d/real bundle && ln -s k.pub l.pub"), 0);
	assert_int_equal(bundle_load_at(p, "bundle", "l.pub", MAXSZ, &b), KH_ERR_SIGNATURE);
	assert_non_null(strstr(kh_lasterr(), "l.pub"));
	assert_int_equal(bundle_load_at(p, "bundle", "k.pub", MAXSZ, &b), KH_OK);
	bundle_free(b);
	assert_int_equal(tu_run(root, "rm -f l l.pub && rmdir d"), 0);
	plat_close(p);
}

/* The manifest's bytes alone, as the fuzz target reads them. */
static void test_parse_manifest_bytes(void **state)
{
	static char text[40000];
	struct kh_bundle *b = NULL;
	size_t n;

	tu_fmt(text, sizeof(text), "[bundle]\nformat = 1\n[install]\n%s = %s\n", A,
	       "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	assert_int_equal(bundle_parse(text, strlen(text), "mem", &b), KH_OK);
	assert_int_equal(b->n, 1);
	assert_null(b->files[0].data);
	bundle_free(b);
	/* more than 256 keyholders is not a bundle */
	n = (size_t)snprintf(text, sizeof(text), "[bundle]\nformat = 1\n[install]\n");
	for (int i = 0; i < 257; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%08x-0000-0000-0000-000000000000.xml = "
				      "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", i);
	assert_true(n < sizeof(text));
	assert_int_equal(bundle_parse(text, n, "mem", &b), KH_ERR_BUNDLE);
	assert_non_null(strstr(kh_lasterr(), "257 files, more than 256"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, NULL)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_good_unsigned),
		T(test_signature_ignored_without_pubkey),
		T(test_signed),
		T(test_forged),
		T(test_wrong_key),
		T(test_missing_signature),
		T(test_malformed_signature),
		T(test_signature_symlink),
		T(test_unreadable_pubkey),
		T(test_digest_mismatch),
		T(test_file_symlink),
		T(test_manifest_symlink),
		T(test_not_regular),
		T(test_oversized),
		T(test_format),
		T(test_target_build),
		T(test_bad_digest_text),
		T(test_install_keys),
		T(test_listed_file_missing),
		T(test_missing_manifest),
		T(test_overlong_line),
		T(test_nul_byte),
		T(test_bom),
		T(test_unknown_keys_warned),
		T(test_find_case_insensitive),
		T(test_good_archived_without_archive),
		T(test_good_archived_with_archive),
		T(test_archive_errors),
		T(test_create_unsigned),
		T(test_create_signed),
		T(test_create_reference),
		T(test_create_refuses),
		T(test_below_root),
		T(test_parse_manifest_bytes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
