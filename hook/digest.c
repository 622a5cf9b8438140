/* digest.c - SHA-256 and Ed25519 sign/verify through OpenSSL EVP. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "khreset.h"
#include "digest.h"

#define MAX_PEM   (64 * 1024)   /* a PEM key file is a few hundred bytes */
#define ED_SIGLEN 64

static void tohex(const unsigned char *md, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * n] = '\0';
}

/* The most recent OpenSSL error as text, the queue emptied. */
static const char *sslerr(void)
{
	static char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, sizeof(buf), "no detail from OpenSSL");
	else
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

int kh_sha256_buf(const void *buf, size_t len, char hex[KH_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(len ? buf : "", len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32) {
		kh_seterr("SHA-256: %s", sslerr());
		return KH_ERR_NOMEM;
	}
	tohex(md, mdlen, hex);
	return KH_OK;
}

int kh_is_sha256_hex(const char *s)
{
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return s[i] == '\0';
}

/* Never prompt on the terminal: an encrypted key simply fails to load. */
static int nopass(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* RFC 8410: an Ed25519 SubjectPublicKeyInfo is this prefix + the 32-byte key. */
static const unsigned char ed25519_spki[12] = {
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
};

/* PEM armour read generically; an Ed25519 key taken straight from its fixed
 * DER form, anything else decoded by d2i_PUBKEY (which then names its type).
 * OpenSSL 3's decoder search behind PEM_read_PUBKEY costs more than the
 * rest of a `check` put together. */
static EVP_PKEY *read_pubkey(BIO *bio)
{
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *q;
	EVP_PKEY *pk = NULL;
	long len = 0;

	if (PEM_read_bio(bio, &name, &header, &der, &len) != 1 || strcmp(name, "PUBLIC KEY"))
		goto out;
	if (len == 44 && !memcmp(der, ed25519_spki, sizeof(ed25519_spki))) {
		pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der + 12, 32);
		goto out;
	}
	q = der;
	pk = d2i_PUBKEY(NULL, &q, len);
	if (pk && q != der + len) {      /* trailing bytes */
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	return pk;
}

/* A PEM key (private or public) from its bytes; shown names it in
 * messages.  Ed25519 only. */
static EVP_PKEY *parse_key(const unsigned char *pem, size_t len, const char *shown,
			   int private)
{
	EVP_PKEY *pk = NULL;
	BIO *bio;

	if (len <= INT_MAX && (bio = BIO_new_mem_buf(pem, (int)len)) != NULL) {
		pk = private ? PEM_read_bio_PrivateKey(bio, NULL, nopass, NULL) : read_pubkey(bio);
		BIO_free(bio);
	}
	if (!pk) {
		kh_seterr("key %s: not a PEM %s key (%s)", shown,
			  private ? "private" : "public", sslerr());
		return NULL;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519) {
		kh_seterr("key %s: %s key, expected ED25519", shown,
			  OBJ_nid2sn(EVP_PKEY_get_base_id(pk)));
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

/* Reads a PEM key file whole with kh_read_host - no symlink, regular,
 * small - and parses it. */
static EVP_PKEY *load_key(const char *path, int private)
{
	unsigned char *pem = NULL;
	EVP_PKEY *pk;
	size_t len = 0;

	if (!path || !*path) {
		kh_seterr("no key file given");
		return NULL;
	}
	if (kh_read_host(path, MAX_PEM, &pem, &len) != KH_OK) {
		char why[512];

		snprintf(why, sizeof(why), "%s", kh_lasterr());
		kh_seterr("key %s", why);
		return NULL;
	}
	pk = parse_key(pem, len, path, private);
	OPENSSL_cleanse(pem, len);
	free(pem);
	return pk;
}

int kh_ed25519_sign(const char *key_pem, const void *msg, size_t len,
		    unsigned char sig[64])
{
	EVP_PKEY *pk;
	EVP_MD_CTX *ctx = NULL;
	size_t siglen = ED_SIGLEN;
	int err = KH_ERR_DATA;

	if (!(pk = load_key(key_pem, 1)))
		goto out;
	err = KH_ERR_NOMEM;
	if (!(ctx = EVP_MD_CTX_new()) ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, len ? msg : (const void *)"", len) != 1 ||
	    siglen != ED_SIGLEN) {
		kh_seterr("sign with %s: %s", key_pem, sslerr());
		goto out;
	}
	err = KH_OK;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return err;
}

static int verify(EVP_PKEY *pk, const char *shown, const void *msg, size_t len,
		  const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = NULL;
	int err = KH_ERR_DATA;

	if (!pk)
		goto out;
	err = KH_ERR_SIGNATURE;
	if (!sig || siglen != ED_SIGLEN) {
		kh_seterr("signature is %zu bytes, expected %d", siglen, ED_SIGLEN);
		goto out;
	}
	err = KH_ERR_NOMEM;
	if (!(ctx = EVP_MD_CTX_new()) ||
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) != 1) {
		kh_seterr("verify with %s: %s", shown, sslerr());
		goto out;
	}
	if (EVP_DigestVerify(ctx, sig, siglen, len ? msg : (const void *)"", len) != 1) {
		ERR_clear_error();
		kh_seterr("signature does not verify with %s", shown);
		err = KH_ERR_SIGNATURE;
		goto out;
	}
	err = KH_OK;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return err;
}

int kh_ed25519_verify(const char *pub_pem, const void *msg, size_t len,
		      const unsigned char *sig, size_t siglen)
{
	return verify(load_key(pub_pem, 0), pub_pem, msg, len, sig, siglen);
}

int kh_ed25519_verify_mem(const void *pem, size_t pemlen, const char *shown,
			  const void *msg, size_t len, const unsigned char *sig, size_t siglen)
{
	return verify(parse_key(pem, pemlen, shown, 0), shown, msg, len, sig, siglen);
}
