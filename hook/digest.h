/* digest.h - SHA-256 and Ed25519 through OpenSSL's libcrypto. */
#ifndef KH_DIGEST_H
#define KH_DIGEST_H

#include <stddef.h>

#define KH_SHA256_HEX 65   /* 64 lowercase hex digits + NUL */

/* SHA-256 of a buffer as lowercase hex. */
int kh_sha256_buf(const void *buf, size_t len, char hex[KH_SHA256_HEX]);
/* 1 if s is exactly 64 hex digits (any case). */
int kh_is_sha256_hex(const char *s);

/* Ed25519 over msg.  key_pem: PEM private key file; pub_pem: PEM public key
 * file (host paths, read with kh_read_host: no symlink, at most 64 KiB).  verify: KH_OK or KH_ERR_SIGNATURE (forged / wrong key
 * / malformed signature) or KH_ERR_DATA (unreadable key), detail in
 * kh_lasterr(). */
int kh_ed25519_sign(const char *key_pem, const void *msg, size_t len,
		    unsigned char sig[64]);
int kh_ed25519_verify(const char *pub_pem, const void *msg, size_t len,
		      const unsigned char *sig, size_t siglen);
/* The same with the public key's PEM bytes already read (e.g. from below a
 * Windows root); shown names the key in messages. */
int kh_ed25519_verify_mem(const void *pem, size_t pemlen, const char *shown,
			  const void *msg, size_t len, const unsigned char *sig, size_t siglen);

#endif
