/* test_digest.c - SHA-256 and Ed25519 against sha256sum and openssl(1). */
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
#include "digest.h"
#include "testutil.h"

static char tmp[64];

/* Builds tmp/name into out (asserting no truncation). */
static void path(char *out, size_t n, const char *name)
{
	int r = snprintf(out, n, "%s/%s", tmp, name);

	assert_true(r > 0 && (size_t)r < n);
}

static void put(const char *name, const void *data, size_t len)
{
	char p[256];
	FILE *fp;

	path(p, sizeof(p), name);
	assert_non_null(fp = fopen(p, "wb"));
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static size_t get(const char *name, void *buf, size_t cap)
{
	char p[256];
	FILE *fp;
	size_t n;

	path(p, sizeof(p), name);
	assert_non_null(fp = fopen(p, "rb"));
	n = fread(buf, 1, cap, fp);
	fclose(fp);
	return n;
}


/* sha256sum's verdict on tmp/name. */
static void sha256sum(const char *name, char hex[KH_SHA256_HEX])
{
	char cmd[512];
	FILE *fp;
	int r;

	r = snprintf(cmd, sizeof(cmd), "sha256sum '%s/%s'", tmp, name);
	assert_true(r > 0 && (size_t)r < sizeof(cmd));
	assert_non_null(fp = popen(cmd, "r"));
	assert_int_equal(fscanf(fp, "%64s", hex), 1);
	assert_int_equal(pclose(fp), 0);
}

static int setup(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/khreset-digest-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	if (tu_run(tmp, "openssl genpkey -algorithm ed25519 -out k.pem && "
		"openssl pkey -in k.pem -pubout -out k.pub && "
		"openssl genpkey -algorithm ed25519 -out other.pem && "
		"openssl pkey -in other.pem -pubout -out other.pub && "
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem && "
		"openssl pkey -in ec.pem -pubout -out ec.pub && "
		"openssl genpkey -algorithm ed25519 -aes256 -pass pass:secret -out enc.pem") != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	return tu_run(tmp, "rm -rf '%s'", tmp) == 0 ? 0 : -1;
}

static void test_sha256_vectors(void **state)
{
	char hex[KH_SHA256_HEX];

	assert_int_equal(kh_sha256_buf("abc", 3, hex), KH_OK);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
			    "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(kh_sha256_buf(NULL, 0, hex), KH_OK);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
			    "27ae41e4649b934ca495991b7852b855");
	/* negative twin: one bit changes everything */
	assert_int_equal(kh_sha256_buf("abd", 3, hex), KH_OK);
	assert_string_not_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
				"b00361a396177a9cb410ff61f20015ad");
}

/* Buffer digests agree with sha256sum across block and size edges. */
static void test_sha256_matches_sha256sum(void **state)
{
	static const size_t sizes[] = { 0, 1, 55, 56, 64, 65535, 65536, 65537, 300001 };
	char want[KH_SHA256_HEX], got[KH_SHA256_HEX];
	unsigned char *buf = malloc(300001);

	assert_non_null(buf);
	for (size_t i = 0; i < 300001; i++)
		buf[i] = (unsigned char)(i * 7 + (i >> 9));
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		put("blob", buf, sizes[s]);
		sha256sum("blob", want);
		assert_int_equal(kh_sha256_buf(buf, sizes[s], got), KH_OK);
		assert_string_equal(got, want);
	}
	free(buf);
}

static void test_is_sha256_hex(void **state)
{
	char s[80];

	memset(s, 'a', 64);
	s[64] = '\0';
	assert_true(kh_is_sha256_hex(s));
	s[10] = 'F';
	assert_true(kh_is_sha256_hex(s));
	s[10] = 'g';
	assert_false(kh_is_sha256_hex(s));
	s[10] = 'a';
	s[63] = '\0';
	assert_false(kh_is_sha256_hex(s));       /* 63 digits */
	s[63] = 'a';
	s[64] = 'a';
	s[65] = '\0';
	assert_false(kh_is_sha256_hex(s));       /* 65 digits */
	s[64] = ' ';
	assert_false(kh_is_sha256_hex(s));       /* trailing blank */
	assert_false(kh_is_sha256_hex(""));
	assert_false(kh_is_sha256_hex(NULL));
}

static const char msg[] = "[bundle]\nformat = 1\n";

/* Our signature verifies with openssl(1); a forgery does not. */
static void test_sign_verified_by_openssl(void **state)
{
	unsigned char sig[64];
	char k[256];

	path(k, sizeof(k), "k.pem");
	assert_int_equal(kh_ed25519_sign(k, msg, strlen(msg), sig), KH_OK);
	put("m", msg, strlen(msg));
	put("m.sig", sig, sizeof(sig));
	assert_int_equal(tu_run(tmp, "openssl pkeyutl -verify -pubin -inkey k.pub "
			     "-rawin -in m -sigfile m.sig"), 0);
	put("m", "[bundle]\nformat = 2\n", strlen(msg));
	assert_int_not_equal(tu_run(tmp, "openssl pkeyutl -verify -pubin -inkey k.pub "
				 "-rawin -in m -sigfile m.sig"), 0);
}

/* openssl(1)'s signature verifies with our code; forged, wrong key,
 * truncated and missing signatures do not. */
static void test_verify_openssl_signature(void **state)
{
	unsigned char sig[128];
	char pub[256], other[256];
	size_t n;

	path(pub, sizeof(pub), "k.pub");
	path(other, sizeof(other), "other.pub");
	put("m", msg, strlen(msg));
	assert_int_equal(tu_run(tmp, "openssl pkeyutl -sign -rawin -inkey k.pem "
			     "-in m -out m.sig"), 0);
	assert_int_equal(n = get("m.sig", sig, sizeof(sig)), 64);
	assert_int_equal(kh_ed25519_verify(pub, msg, strlen(msg), sig, n), KH_OK);

	assert_int_equal(kh_ed25519_verify(pub, msg, strlen(msg) - 1, sig, n),
			 KH_ERR_SIGNATURE);
	assert_int_equal(kh_ed25519_verify(other, msg, strlen(msg), sig, n),
			 KH_ERR_SIGNATURE);
	assert_non_null(strstr(kh_lasterr(), "other.pub"));
	assert_int_equal(kh_ed25519_verify(pub, msg, strlen(msg), sig, 63),
			 KH_ERR_SIGNATURE);
	assert_non_null(strstr(kh_lasterr(), "63 bytes"));
	assert_int_equal(kh_ed25519_verify(pub, msg, strlen(msg), NULL, 0),
			 KH_ERR_SIGNATURE);
	sig[5] ^= 1;
	assert_int_equal(kh_ed25519_verify(pub, msg, strlen(msg), sig, n),
			 KH_ERR_SIGNATURE);
}

static void test_empty_message(void **state)
{
	unsigned char sig[64];
	char k[256], pub[256];

	path(k, sizeof(k), "k.pem");
	path(pub, sizeof(pub), "k.pub");
	assert_int_equal(kh_ed25519_sign(k, NULL, 0, sig), KH_OK);
	assert_int_equal(kh_ed25519_verify(pub, NULL, 0, sig, 64), KH_OK);
	assert_int_equal(kh_ed25519_verify(pub, "x", 1, sig, 64), KH_ERR_SIGNATURE);
}

/* Keys that are not Ed25519, not PEM, encrypted or absent: KH_ERR_DATA. */
static void test_bad_keys(void **state)
{
	unsigned char sig[64] = { 0 };
	char p[256];

	path(p, sizeof(p), "ec.pem");
	assert_int_equal(kh_ed25519_sign(p, msg, 3, sig), KH_ERR_DATA);
	assert_non_null(strstr(kh_lasterr(), "expected ED25519"));
	path(p, sizeof(p), "ec.pub");
	assert_int_equal(kh_ed25519_verify(p, msg, 3, sig, 64), KH_ERR_DATA);
	assert_non_null(strstr(kh_lasterr(), "expected ED25519"));

	path(p, sizeof(p), "k.pub");          /* public key where private wanted */
	assert_int_equal(kh_ed25519_sign(p, msg, 3, sig), KH_ERR_DATA);
	path(p, sizeof(p), "k.pem");          /* and the other way round */
	assert_int_equal(kh_ed25519_verify(p, msg, 3, sig, 64), KH_ERR_DATA);

	path(p, sizeof(p), "enc.pem");        /* encrypted: fails, never prompts */
	assert_int_equal(kh_ed25519_sign(p, msg, 3, sig), KH_ERR_DATA);

	put("junk.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n", 32);
	path(p, sizeof(p), "junk.pem");
	assert_int_equal(kh_ed25519_verify(p, msg, 3, sig, 64), KH_ERR_DATA);
	path(p, sizeof(p), "absent.pem");
	assert_int_equal(kh_ed25519_verify(p, msg, 3, sig, 64), KH_ERR_DATA);
	assert_non_null(strstr(kh_lasterr(), "absent.pem"));
	assert_int_equal(kh_ed25519_verify(tmp, msg, 3, sig, 64), KH_ERR_DATA);
	assert_non_null(strstr(kh_lasterr(), "not a regular file"));
	assert_int_equal(kh_ed25519_sign(NULL, msg, 3, sig), KH_ERR_DATA);
	assert_int_equal(kh_ed25519_verify("", msg, 3, sig, 64), KH_ERR_DATA);
}

/* A key is never read through a symbolic link; the same key as a regular
 * file is. */
static void test_key_symlink(void **state)
{
	unsigned char sig[64];
	char k[256], pub[256];

	path(k, sizeof(k), "link.pem");
	path(pub, sizeof(pub), "link.pub");
	assert_int_equal(tu_run(tmp, "ln -sf k.pem link.pem && ln -sf k.pub link.pub"), 0);
	assert_int_equal(kh_ed25519_sign(k, msg, 3, sig), KH_ERR_DATA);
	assert_non_null(strstr(kh_lasterr(), "symbolic link"));
	assert_non_null(strstr(kh_lasterr(), "link.pem"));
	assert_int_equal(tu_run(tmp, "rm link.pem && cp k.pem link.pem"), 0);
	assert_int_equal(kh_ed25519_sign(k, msg, 3, sig), KH_OK);
	assert_int_equal(kh_ed25519_verify(pub, msg, 3, sig, 64), KH_ERR_DATA);
	assert_non_null(strstr(kh_lasterr(), "symbolic link"));
	assert_int_equal(tu_run(tmp, "rm link.pub && cp k.pub link.pub"), 0);
	assert_int_equal(kh_ed25519_verify(pub, msg, 3, sig, 64), KH_OK);
}

/* An oversized key file is not read. */
static void test_key_too_big(void **state)
{
	unsigned char sig[64] = { 0 };
	char p[256];

	assert_int_equal(tu_run(tmp, "cp k.pub big.pub && head -c 70000 /dev/zero >> big.pub"), 0);
	path(p, sizeof(p), "big.pub");
	assert_int_equal(kh_ed25519_verify(p, msg, 3, sig, 64), KH_ERR_DATA);
	assert_non_null(strstr(kh_lasterr(), "larger than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_matches_sha256sum),
		cmocka_unit_test(test_is_sha256_hex),
		cmocka_unit_test(test_sign_verified_by_openssl),
		cmocka_unit_test(test_verify_openssl_signature),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_key_symlink),
		cmocka_unit_test(test_key_too_big),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
