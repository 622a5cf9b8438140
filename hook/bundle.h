/* bundle.h - the official keyholder set: a folder of <uuid>.xml files with
 * manifest.ini and optional manifest.sig (SPEC section 5).
 * Bundle paths are host paths (not under the Windows root). */
#ifndef KH_BUNDLE_H
#define KH_BUNDLE_H

#include <stddef.h>
#include "digest.h"

struct kh_bundle_file {
	char *name;                    /* as written in [install] */
	char sha256[KH_SHA256_HEX];    /* from [install], lowercase */
	unsigned char *data;           /* file content, digest checked */
	size_t len;
	char **archive_good;           /* from [archive], lowercase; may be 0 */
	size_t n_good;
};

struct kh_bundle {
	char *path;            /* the folder */
	char *name;            /* [bundle] name */
	long target_build;     /* [bundle] target_build, 0 if absent */
	int is_signed;         /* manifest.sig present and verified */
	int verified;          /* every check passed */
	struct kh_bundle_file *files;
	size_t n;
};

/*
 * Loads and verifies a bundle: manifest.ini parsed with minIni ([bundle]
 * format must be 1, [install] at least one <uuid>.xml = sha256), every file
 * opened without following symlinks, regular, <= max_file_size, digest
 * equal to the manifest's.  pubkey: PEM public key path or NULL/"": when
 * given, manifest.sig must exist and verify (KH_ERR_SIGNATURE otherwise).
 * When no pubkey is given, is_signed stays 0 even if a signature exists.
 * Errors: KH_ERR_BUNDLE / KH_ERR_SIGNATURE / KH_ERR_NOENT with kh_seterr()
 * naming the file, key or entry.
 */
int bundle_load(const char *dir, const char *pubkey, size_t max_file_size,
		struct kh_bundle **out);
/* The same for a bundle inside a mounted volume (p NULL: the host): dir and
 * pubkey are paths below p's Windows root, read with plat_read - the safe
 * path walk, no link anywhere on the way (KH_ERR_UNSAFE). */
struct kh_plat;
int bundle_load_at(struct kh_plat *p, const char *dir, const char *pubkey,
		   size_t max_file_size, struct kh_bundle **out);
/* Only the checks of manifest.ini's bytes (no other file is read, no
 * signature): what bundle_load does before it reads the keyholders.  dir
 * names the bundle in messages; the files have names and digests, no
 * data.  At most 256 [install] files. */
int bundle_parse(const void *text, size_t len, const char *dir, struct kh_bundle **out);
void bundle_free(struct kh_bundle *b);

/* Case-insensitive lookup by file name; NULL if not a bundle file. */
const struct kh_bundle_file *bundle_find(const struct kh_bundle *b,
					 const char *name);
/* 1 if sha256 (hex, any case) is good for f once archived: one of
 * archive_good, or, when [archive] lists nothing for f, f->sha256. */
int bundle_good_archived(const struct kh_bundle_file *f, const char *sha256);

/*
 * Writes dir/manifest.ini for every <uuid>.xml in dir (sorted; other files
 * ignored with a warning; each must be well-formed keyholder XML), with
 * [archive] digests from reference_dir (a known-good Archive\KeyHolder
 * copy; host path; may be NULL) for names present in both.  sign_key: PEM
 * private Ed25519 key path or NULL; writes dir/manifest.sig when given and
 * removes a stale manifest.sig when not.  Files written atomically.
 */
int bundle_create(const char *dir, const char *name, long target_build,
		  const char *sign_key, const char *reference_dir,
		  size_t max_file_size);

#endif
