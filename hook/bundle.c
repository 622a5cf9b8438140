/* bundle.c - load, verify and create the official keyholder set (SPEC 5). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "khreset.h"
#include "bundle.h"
#include "digest.h"
#include "ini/ini.h"
#include "keyholder.h"
#include "platform.h"

/*
 * Design note.  Every bundle file is read once into memory and used from
 * there: manifest.ini's signature is checked over those bytes and minIni
 * parses the same bytes, so what was verified is what is read.  Bytes
 * minIni would misread - a byte order mark, a NUL, a line longer than
 * MAX_LINE - are refused first.  The files come from the host (kh_read_host:
 * no symlink at the end, regular, size-capped) or, for a bundle inside a
 * mounted volume, from below its root (plat_read: the safe path walk, no
 * link anywhere on the way).
 */

#define MANIFEST     "manifest.ini"
#define SIGFILE      "manifest.sig"
#define SIGLEN       64
#define MAX_LINE     400
#define DEFAULT_MAX  1048576
#define MAX_MANIFEST (1024 * 1024)
#define MAX_PUBKEY   (64 * 1024)
#define MAX_FILES    256       /* a bundle holds a handful of keyholders */
#define DEFAULT_NAME "CMGE V2020-L multi-level keyholder"

struct blob {
	unsigned char *data;
	size_t len;
};

/* One key = value from the manifest, in file order. */
struct kv {
	char *key;
	char *val;
};

struct kvlist {
	struct kv *v;
	size_t n, cap;
};

/* Where the bundle is read from: p NULL, host paths; else paths below
 * p's Windows root. */
struct src {
	kh_plat *p;
};

struct manifest {
	const char *dir;
	struct kvlist bundle, install, archive;
	int nomem;
};

static void blob_free(struct blob *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static char *join(const char *dir, const char *name)
{
	char *p = kh_asprintf("%s/%s", dir, name);

	if (!p)
		kh_seterr("out of memory");
	return p;
}

/* Reads path: no symlink, regular file, at most limit bytes.  Returns
 * KH_ERR_NOENT, KH_ERR_UNSAFE, KH_ERR_TOOBIG, KH_ERR_IO or KH_ERR_NOMEM;
 * the detail in kh_lasterr() names the file. */
static int read_path(const struct src *s, const char *path, size_t limit,
		     struct blob *out)
{
	memset(out, 0, sizeof(*out));
	if (s && s->p)
		return plat_read(s->p, path, limit, &out->data, &out->len);
	return kh_read_host(path, limit, &out->data, &out->len);
}

/* The same for dir/name (below a root: dir\name). */
static int read_entry(const struct src *s, const char *dir, const char *name,
		      size_t limit, struct blob *out)
{
	char *path = s && s->p ? kh_asprintf("%s\\%s", dir, name) : join(dir, name);
	int err;

	memset(out, 0, sizeof(*out));
	if (!path)
		return KH_ERR_NOMEM;
	err = read_path(s, path, limit, out);
	free(path);
	return err;
}

/* dir must be a folder: on the host (stat), or below the root, reached
 * without a link and not one itself. */
static int check_dir(const struct src *s, const char *dir)
{
	struct kh_dirent st;
	struct stat hs;
	int err;

	if (!s || !s->p) {
		if (stat(dir, &hs) < 0 || !S_ISDIR(hs.st_mode)) {
			kh_seterr("bundle %s: no such folder", dir);
			return KH_ERR_NOENT;
		}
		return KH_OK;
	}
	if ((err = plat_stat(s->p, dir, &st)) == KH_ERR_NOENT)
		kh_seterr("bundle %s: no such folder", dir);
	if (err != KH_OK)
		return err;
	free(st.name);
	if (st.type == KH_FT_DIR)
		return KH_OK;
	kh_seterr("bundle %s: %s, refused", dir, st.type == KH_FT_LINK ?
		  "a symbolic link" : "not a folder");
	return st.type == KH_FT_LINK ? KH_ERR_UNSAFE : KH_ERR_NOENT;
}

/* ---- manifest parsing ------------------------------------------------- */

static int kv_add(struct kvlist *l, const char *key, const char *val)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct kv *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].key = kh_strdup(key);
	l->v[l->n].val = kh_strdup(val);
	if (!l->v[l->n].key || !l->v[l->n].val) {
		free(l->v[l->n].key);
		free(l->v[l->n].val);
		return -1;
	}
	l->n++;
	return 0;
}

static void kv_free(struct kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].val);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static const char *kv_get(const struct kvlist *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (kh_strcasecmp(l->v[i].key, key) == 0)
			return l->v[i].val;
	return NULL;
}

/* Index of the first key that occurs twice (case-insensitive), or -1. */
static long kv_dup(const struct kvlist *l)
{
	for (size_t i = 1; i < l->n; i++)
		for (size_t j = 0; j < i; j++)
			if (kh_strcasecmp(l->v[i].key, l->v[j].key) == 0)
				return (long)i;
	return -1;
}

static int on_key(const char *section, const char *key, const char *val,
		  int line, void *user)
{
	struct manifest *m = user;
	struct kvlist *l = NULL;

	if (kh_strcasecmp(section, "bundle") == 0)
		l = &m->bundle;
	else if (kh_strcasecmp(section, "install") == 0)
		l = &m->install;
	else if (kh_strcasecmp(section, "archive") == 0)
		l = &m->archive;
	if (!l) {
		kh_log(KH_LOG_WARN, "bundle", "%s/" MANIFEST ": unknown "
		       "section [%s] (key %s) ignored", m->dir, section, key);
		return 1;
	}
	if (kv_add(l, key, val) < 0) {
		m->nomem = 1;
		return 0;
	}
	return 1;
}

static void manifest_free(struct manifest *m)
{
	kv_free(&m->bundle);
	kv_free(&m->install);
	kv_free(&m->archive);
}

/* Refuses bytes minIni would misread: NULs and overlong lines. */
static int prescan(const char *dir, const struct blob *mf)
{
	size_t line = 1, col = 0;

	if (mf->len >= 3 && memcmp(mf->data, "\xef\xbb\xbf", 3) == 0) {
		kh_seterr("bundle %s: " MANIFEST " starts with a UTF-8 byte "
			  "order mark, which minIni cannot read; save it "
			  "without one", dir);
		return KH_ERR_BUNDLE;
	}
	for (size_t i = 0; i < mf->len; i++) {
		if (mf->data[i] == '\0') {
			kh_seterr("bundle %s: " MANIFEST " line %zu: NUL byte",
				  dir, line);
			return KH_ERR_BUNDLE;
		}
		if (mf->data[i] == '\n') {
			line++;
			col = 0;
		} else if (++col > MAX_LINE) {
			kh_seterr("bundle %s: " MANIFEST " line %zu: longer "
				  "than %d characters", dir, line, MAX_LINE);
			return KH_ERR_BUNDLE;
		}
	}
	return KH_OK;
}

/* Parses the manifest's bytes (already prescanned) with minIni. */
static int parse_manifest(const char *dir, const struct blob *mf,
			  struct manifest *m)
{
	char *path;
	int err;

	if (!(path = join(dir, MANIFEST)))
		return KH_ERR_NOMEM;
	m->dir = dir;
	err = kh_ini_browse(path, mf->data, mf->len, on_key, m);
	free(path);
	if (m->nomem) {
		kh_seterr("out of memory");
		return KH_ERR_NOMEM;
	}
	return err == KH_OK ? KH_OK : KH_ERR_BUNDLE;
}

/* ---- checks ----------------------------------------------------------- */

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s - 'A' + 'a');
}

static int check_signature(const struct src *s, const char *dir, const char *pubkey,
			   const struct blob *mf)
{
	struct blob sig, key = { 0 };
	int err;

	err = read_entry(s, dir, SIGFILE, 4096, &sig);
	if (err == KH_ERR_NOENT)
		kh_seterr("bundle %s: " SIGFILE " missing, required by public "
			  "key %s", dir, pubkey);
	if (err != KH_OK)
		return err == KH_ERR_NOMEM ? err : KH_ERR_SIGNATURE;
	if (s && s->p) {
		if ((err = read_path(s, pubkey, MAX_PUBKEY, &key)) == KH_OK)
			err = kh_ed25519_verify_mem(key.data, key.len, pubkey, mf->data,
						    mf->len, sig.data, sig.len);
		else if (err != KH_ERR_NOMEM) {
			char why[512];

			snprintf(why, sizeof(why), "%s", kh_lasterr());
			kh_seterr("key %s", why);
			err = KH_ERR_DATA;
		}
	} else {
		err = kh_ed25519_verify(pubkey, mf->data, mf->len, sig.data, sig.len);
	}
	if (err != KH_OK) {
		char why[512];

		snprintf(why, sizeof(why), "%s", kh_lasterr());
		kh_seterr("bundle %s: " SIGFILE ": %s", dir, why);
		if (err != KH_ERR_NOMEM)
			err = KH_ERR_SIGNATURE;
	}
	blob_free(&key);
	blob_free(&sig);
	return err;
}

static int check_bundle_section(const char *dir, const struct manifest *m,
				struct kh_bundle *b)
{
	static const char *known[] = { "format", "name", "target_build" };
	const char *v;
	long d = kv_dup(&m->bundle);

	if (d >= 0) {
		kh_seterr("bundle %s: " MANIFEST ": [bundle] %s given twice",
			  dir, m->bundle.v[d].key);
		return KH_ERR_BUNDLE;
	}
	for (size_t i = 0; i < m->bundle.n; i++) {
		size_t k = 0;

		while (k < 3 && kh_strcasecmp(m->bundle.v[i].key, known[k]))
			k++;
		if (k == 3)
			kh_log(KH_LOG_WARN, "bundle", "%s/" MANIFEST ": unknown "
			       "key [bundle] %s ignored", dir, m->bundle.v[i].key);
	}
	v = kv_get(&m->bundle, "format");
	if (!v || strcmp(v, "1") != 0) {
		kh_seterr("bundle %s: " MANIFEST ": [bundle] format must be 1",
			  dir);
		return KH_ERR_BUNDLE;
	}
	if ((v = kv_get(&m->bundle, "target_build")) && *v) {
		char *end;

		errno = 0;
		b->target_build = strtol(v, &end, 10);
		if (errno || *end || b->target_build <= 0 || *v < '0' || *v > '9') {
			kh_seterr("bundle %s: " MANIFEST ": [bundle] target_build "
				  "'%s' is not a build number", dir, v);
			return KH_ERR_BUNDLE;
		}
	}
	if ((v = kv_get(&m->bundle, "name")) && !(b->name = kh_strdup(v)))
		return KH_ERR_NOMEM;
	return KH_OK;
}

static int check_install(const char *dir, const struct manifest *m,
			 struct kh_bundle *b)
{
	long d = kv_dup(&m->install);

	if (m->install.n == 0) {
		kh_seterr("bundle %s: " MANIFEST ": [install] lists no files", dir);
		return KH_ERR_BUNDLE;
	}
	if (m->install.n > MAX_FILES) {
		kh_seterr("bundle %s: " MANIFEST ": [install] lists %zu files, more than %d",
			  dir, m->install.n, MAX_FILES);
		return KH_ERR_BUNDLE;
	}
	if (d >= 0) {
		kh_seterr("bundle %s: " MANIFEST ": [install] %s given twice",
			  dir, m->install.v[d].key);
		return KH_ERR_BUNDLE;
	}
	if (!(b->files = calloc(m->install.n, sizeof(*b->files))))
		return KH_ERR_NOMEM;
	for (size_t i = 0; i < m->install.n; i++) {
		const struct kv *e = &m->install.v[i];

		if (!kh_is_uuid_xml(e->key)) {
			kh_seterr("bundle %s: " MANIFEST ": [install] key '%s' "
				  "is not a <uuid>.xml name", dir, e->key);
			return KH_ERR_BUNDLE;
		}
		if (!kh_is_sha256_hex(e->val)) {
			kh_seterr("bundle %s: " MANIFEST ": [install] %s: '%s' "
				  "is not 64 hex digits", dir, e->key, e->val);
			return KH_ERR_BUNDLE;
		}
		if (!(b->files[i].name = kh_strdup(e->key)))
			return KH_ERR_NOMEM;
		memcpy(b->files[i].sha256, e->val, KH_SHA256_HEX);
		lower(b->files[i].sha256);
		b->n = i + 1;
	}
	return KH_OK;
}

/* Splits "hex[,hex...]" into f->archive_good. */
static int parse_good(const char *dir, const struct kv *e,
		      struct kh_bundle_file *f)
{
	char *copy, *tok, *save = NULL;
	size_t cap = 1;
	int err = KH_ERR_NOMEM;

	for (const char *p = e->val; *p; p++)
		cap += *p == ',';
	if (!(copy = kh_strdup(e->val)) ||
	    !(f->archive_good = calloc(cap, sizeof(char *))))
		goto out;
	err = KH_ERR_BUNDLE;
	for (char *s = copy; (tok = strtok_r(s, ",", &save)); s = NULL) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		for (char *t = tok + strlen(tok); t > tok && (t[-1] == ' ' || t[-1] == '\t');)
			*--t = '\0';
		if (!kh_is_sha256_hex(tok))
			goto bad;
		if (!(f->archive_good[f->n_good] = kh_strdup(tok))) {
			err = KH_ERR_NOMEM;
			goto out;
		}
		lower(f->archive_good[f->n_good++]);
	}
	if (f->n_good != cap)   /* an empty item: "a,,b" or a trailing comma */
		goto bad;
	err = KH_OK;
	goto out;
bad:
	kh_seterr("bundle %s: " MANIFEST ": [archive] %s: '%s' is not a "
		  "comma-separated list of SHA-256 digests", dir, e->key, e->val);
out:
	free(copy);
	return err;
}

static int check_archive(const char *dir, const struct manifest *m,
			 struct kh_bundle *b)
{
	long d = kv_dup(&m->archive);

	if (d >= 0) {
		kh_seterr("bundle %s: " MANIFEST ": [archive] %s given twice",
			  dir, m->archive.v[d].key);
		return KH_ERR_BUNDLE;
	}
	for (size_t i = 0; i < m->archive.n; i++) {
		const struct kv *e = &m->archive.v[i];
		struct kh_bundle_file *f;
		int err;

		f = (struct kh_bundle_file *)bundle_find(b, e->key);
		if (!f) {
			kh_seterr("bundle %s: " MANIFEST ": [archive] %s is not "
				  "listed in [install]", dir, e->key);
			return KH_ERR_BUNDLE;
		}
		if ((err = parse_good(dir, e, f)) != KH_OK)
			return err;
	}
	return KH_OK;
}

/* Reads one bundle file and checks it against the manifest. */
static int check_file(const struct src *s, const char *dir, size_t limit,
		      struct kh_bundle_file *f)
{
	struct blob bl;
	char hex[KH_SHA256_HEX], *why = NULL;
	int err;

	err = read_entry(s, dir, f->name, limit, &bl);
	if (err != KH_OK)
		return err == KH_ERR_NOMEM || err == KH_ERR_IO ? err : KH_ERR_BUNDLE;
	if ((err = kh_sha256_buf(bl.data, bl.len, hex)) != KH_OK)
		goto out;
	err = KH_ERR_BUNDLE;
	if (strcmp(hex, f->sha256) != 0) {
		kh_seterr("bundle %s: file %s: SHA-256 is %s, manifest says %s",
			  dir, f->name, hex, f->sha256);
		goto out;
	}
	if (keyholder_check(bl.data, bl.len, &why) != KH_OK) {
		kh_seterr("bundle %s: file %s: %s", dir, f->name,
			  why ? why : "out of memory");
		goto out;
	}
	f->data = bl.data;
	f->len = bl.len;
	bl.data = NULL;
	err = KH_OK;
out:
	free(why);
	blob_free(&bl);
	return err;
}

/* ---- load ------------------------------------------------------------- */

/* What the manifest's bytes say, every check that needs no other file. */
static int parse_checked(const char *dir, const struct blob *mf, struct manifest *m,
			 struct kh_bundle *b)
{
	int err;

	if ((err = parse_manifest(dir, mf, m)) != KH_OK ||
	    (err = check_bundle_section(dir, m, b)) != KH_OK ||
	    (err = check_install(dir, m, b)) != KH_OK)
		return err;
	return check_archive(dir, m, b);
}

static int load_manifest(const struct src *s, const char *dir, const char *pubkey,
			 struct manifest *m, struct kh_bundle *b)
{
	struct blob mf = { 0 };
	int err;

	if ((err = check_dir(s, dir)) != KH_OK)
		return err;
	err = read_entry(s, dir, MANIFEST, MAX_MANIFEST, &mf);
	if (err == KH_ERR_NOENT)
		kh_seterr("bundle %s: " MANIFEST " not found", dir);
	else if (err == KH_ERR_UNSAFE || err == KH_ERR_TOOBIG)
		err = KH_ERR_BUNDLE;
	if (err != KH_OK)
		goto out;
	if ((err = prescan(dir, &mf)) != KH_OK)
		goto out;
	if (pubkey && *pubkey) {
		if ((err = check_signature(s, dir, pubkey, &mf)) != KH_OK)
			goto out;
		b->is_signed = 1;
	}
	err = parse_checked(dir, &mf, m, b);
out:
	blob_free(&mf);
	return err;
}

static struct kh_bundle *bundle_new(const char *dir)
{
	struct kh_bundle *b = calloc(1, sizeof(*b));

	if (b && !(b->path = kh_strdup(dir))) {
		free(b);
		b = NULL;
	}
	if (!b)
		kh_seterr("out of memory");
	return b;
}

static int load(const struct src *s, const char *dir, const char *pubkey,
		size_t max_file_size, struct kh_bundle **out)
{
	struct manifest m = { 0 };
	struct kh_bundle *b;
	size_t limit = max_file_size ? max_file_size : DEFAULT_MAX;
	int err = KH_ERR_NOMEM;

	*out = NULL;
	if (!dir || !*dir) {
		kh_seterr("bundle: no folder given");
		return KH_ERR_NOENT;
	}
	if (!(b = bundle_new(dir)))
		goto out;
	if ((err = load_manifest(s, dir, pubkey, &m, b)) != KH_OK)
		goto out;
	for (size_t i = 0; i < b->n; i++)
		if ((err = check_file(s, dir, limit, &b->files[i])) != KH_OK)
			goto out;
	b->verified = 1;
	*out = b;
	b = NULL;
out:
	if (err == KH_ERR_NOMEM)
		kh_seterr("bundle %s: out of memory", dir);
	manifest_free(&m);
	bundle_free(b);
	return err;
}

int bundle_load(const char *dir, const char *pubkey, size_t max_file_size,
		struct kh_bundle **out)
{
	return load(NULL, dir, pubkey, max_file_size, out);
}

int bundle_load_at(kh_plat *p, const char *dir, const char *pubkey,
		   size_t max_file_size, struct kh_bundle **out)
{
	struct src s = { p };

	return load(p ? &s : NULL, dir, pubkey, max_file_size, out);
}

int bundle_parse(const void *text, size_t len, const char *dir, struct kh_bundle **out)
{
	struct blob mf = { (unsigned char *)text, len };
	struct manifest m = { 0 };
	struct kh_bundle *b;
	int err = KH_ERR_NOMEM;

	*out = NULL;
	if (!(b = bundle_new(dir)))
		return err;
	if ((err = prescan(dir, &mf)) == KH_OK && (err = parse_checked(dir, &mf, &m, b)) == KH_OK) {
		*out = b;
		b = NULL;
	}
	if (err == KH_ERR_NOMEM)
		kh_seterr("bundle %s: out of memory", dir);
	manifest_free(&m);
	bundle_free(b);
	return err;
}

void bundle_free(struct kh_bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct kh_bundle_file *f = &b->files[i];

		for (size_t j = 0; j < f->n_good; j++)
			free(f->archive_good[j]);
		free(f->archive_good);
		free(f->data);
		free(f->name);
	}
	free(b->files);
	free(b->name);
	free(b->path);
	free(b);
}

const struct kh_bundle_file *bundle_find(const struct kh_bundle *b,
					 const char *name)
{
	if (!b || !name)
		return NULL;
	for (size_t i = 0; i < b->n; i++)
		if (kh_strcasecmp(b->files[i].name, name) == 0)
			return &b->files[i];
	return NULL;
}

int bundle_good_archived(const struct kh_bundle_file *f, const char *sha256)
{
	if (!f || !kh_is_sha256_hex(sha256))
		return 0;
	if (f->n_good == 0)
		return kh_strcasecmp(f->sha256, sha256) == 0;
	for (size_t i = 0; i < f->n_good; i++)
		if (kh_strcasecmp(f->archive_good[i], sha256) == 0)
			return 1;
	return 0;
}

/* ---- create ----------------------------------------------------------- */

struct entry {
	char *name;
	char sha256[KH_SHA256_HEX];
	char *good;            /* digest of the reference copy, or NULL */
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static void entries_free(struct entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].name);
		free(e->v[i].good);
	}
	free(e->v);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = kh_strcasecmp(x->name, y->name);

	return c ? c : strcmp(x->name, y->name);
}

static int entries_add(struct entries *e, const char *name)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		struct entry *v = realloc(e->v, cap * sizeof(*v));

		if (!v)
			return KH_ERR_NOMEM;
		e->v = v;
		e->cap = cap;
	}
	memset(&e->v[e->n], 0, sizeof(e->v[0]));
	if (!(e->v[e->n].name = kh_strdup(name)))
		return KH_ERR_NOMEM;
	e->n++;
	return KH_OK;
}

static int is_ours(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	       strcmp(name, MANIFEST) == 0 || strcmp(name, SIGFILE) == 0;
}

/* Collects the <uuid>.xml names of dir, sorted. */
static int list_xml(const char *dir, struct entries *e)
{
	struct dirent *d;
	DIR *dp;
	int err = KH_OK;

	if (!(dp = opendir(dir))) {
		kh_seterr("bundle %s: %s", dir, strerror(errno));
		return errno == ENOENT ? KH_ERR_NOENT : KH_ERR_IO;
	}
	while (err == KH_OK && (d = readdir(dp))) {
		if (kh_is_uuid_xml(d->d_name))
			err = entries_add(e, d->d_name);
		else if (!is_ours(d->d_name))
			kh_log(KH_LOG_WARN, "bundle", "%s/%s: not a <uuid>.xml "
			       "name, ignored", dir, d->d_name);
	}
	closedir(dp);
	if (err != KH_OK)
		return err;
	if (e->n == 0) {
		kh_seterr("bundle %s: no <uuid>.xml files", dir);
		return KH_ERR_BUNDLE;
	}
	qsort(e->v, e->n, sizeof(e->v[0]), entry_cmp);
	for (size_t i = 1; i < e->n; i++)
		if (kh_strcasecmp(e->v[i - 1].name, e->v[i].name) == 0) {
			kh_seterr("bundle %s: %s and %s differ only in case",
				  dir, e->v[i - 1].name, e->v[i].name);
			return KH_ERR_BUNDLE;
		}
	return KH_OK;
}

/* Digest of each bundle file, which must be well-formed keyholder XML. */
static int digest_files(const char *dir, size_t limit, struct entries *e)
{
	for (size_t i = 0; i < e->n; i++) {
		struct blob bl;
		char *why = NULL;
		int err;

		if ((err = read_entry(NULL, dir, e->v[i].name, limit, &bl)) != KH_OK)
			return err == KH_ERR_NOMEM || err == KH_ERR_IO ?
			       err : KH_ERR_BUNDLE;
		err = kh_sha256_buf(bl.data, bl.len, e->v[i].sha256);
		if (err == KH_OK && keyholder_check(bl.data, bl.len, &why) != KH_OK) {
			kh_seterr("bundle %s: file %s: %s", dir, e->v[i].name,
				  why ? why : "out of memory");
			err = KH_ERR_BUNDLE;
		}
		free(why);
		blob_free(&bl);
		if (err != KH_OK)
			return err;
	}
	return KH_OK;
}

/* Fills good digests from a known-good archive copy, names compared as
 * Windows compares them. */
static int add_reference(const char *ref, size_t limit, struct entries *e)
{
	struct dirent *d;
	DIR *dp;
	int err = KH_OK;

	if (!(dp = opendir(ref))) {
		kh_seterr("reference %s: %s", ref, strerror(errno));
		return errno == ENOENT ? KH_ERR_NOENT : KH_ERR_IO;
	}
	while (err == KH_OK && (d = readdir(dp))) {
		struct entry *hit = NULL;
		char hex[KH_SHA256_HEX];
		struct blob bl;

		for (size_t i = 0; i < e->n && !hit; i++)
			if (kh_strcasecmp(e->v[i].name, d->d_name) == 0)
				hit = &e->v[i];
		if (!hit) {
			if (!is_ours(d->d_name))
				kh_log(KH_LOG_INFO, "bundle", "reference %s/%s: "
				       "not in the bundle, ignored", ref, d->d_name);
			continue;
		}
		if ((err = read_entry(NULL, ref, d->d_name, limit, &bl)) != KH_OK)
			break;
		err = kh_sha256_buf(bl.data, bl.len, hex);
		blob_free(&bl);
		if (err == KH_OK && !hit->good && !(hit->good = kh_strdup(hex)))
			err = KH_ERR_NOMEM;
	}
	closedir(dp);
	return err == KH_ERR_NOENT || err == KH_ERR_UNSAFE ||
	       err == KH_ERR_TOOBIG ? KH_ERR_BUNDLE : err;
}

/* A name minIni reads back verbatim: printable, no comment or quote
 * characters, no edge blanks. */
static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 200 || s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ';' ||
		    *s == '#' || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

static char *manifest_text(const char *name, long target_build,
			   const struct entries *e)
{
	char *text, *t;
	int any = 0;

	text = kh_asprintf("; khreset keyholder bundle manifest, written by "
			   "khreset %s\n; every byte may be covered by "
			   "manifest.sig: do not edit\n[bundle]\nformat = 1\n"
			   "name = %s\n", KH_VERSION, name);
	if (text && target_build > 0) {
		t = kh_asprintf("%starget_build = %ld\n", text, target_build);
		free(text);
		text = t;
	}
	for (size_t i = 0; text && i <= e->n; i++) {
		t = i == 0 ? kh_asprintf("%s[install]\n", text) :
		    kh_asprintf("%s%s = %s\n", text, e->v[i - 1].name,
				e->v[i - 1].sha256);
		free(text);
		text = t;
	}
	for (size_t i = 0; text && i < e->n; i++) {
		if (!e->v[i].good)
			continue;
		t = kh_asprintf("%s%s%s = %s\n", text, any++ ? "" : "[archive]\n",
				e->v[i].name, e->v[i].good);
		free(text);
		text = t;
	}
	return text;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Writes dir/name atomically: temp file, fsync, rename. */
static int write_atomic(const char *dir, const char *name, const void *buf,
			size_t len)
{
	char *tmp = NULL, *path = NULL;
	int fd = -1, err = KH_ERR_NOMEM;

	if (!(path = join(dir, name)) ||
	    !(tmp = kh_asprintf("%s/.%s.XXXXXX", dir, name)))
		goto out;
	err = KH_ERR_IO;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		kh_seterr("%s: %s", path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, 0644) < 0 || write_all(fd, buf, len) < 0 ||
	    fsync(fd) < 0) {
		kh_seterr("%s: %s", path, strerror(errno));
		goto out;
	}
	if (close(fd) < 0 || (fd = -1, rename(tmp, path) < 0)) {
		fd = -1;
		kh_seterr("%s: %s", path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	sync_dir(dir);
	err = KH_OK;
out:
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(path);
	if (err == KH_ERR_NOMEM)
		kh_seterr("out of memory");
	return err;
}

static int remove_stale_sig(const char *dir)
{
	char *path = join(dir, SIGFILE);
	int err = KH_OK;

	if (!path)
		return KH_ERR_NOMEM;
	if (unlink(path) == 0) {
		kh_log(KH_LOG_INFO, "bundle", "%s: removed (no signing key)", path);
	} else if (errno != ENOENT) {
		kh_seterr("%s: %s", path, strerror(errno));
		err = KH_ERR_IO;
	}
	free(path);
	return err;
}

/* Writes manifest.ini (and manifest.sig), signing before anything is
 * written so a bad key changes nothing. */
static int write_manifest(const char *dir, const char *text,
			  const char *sign_key, unsigned char sig[SIGLEN])
{
	size_t len = strlen(text);
	int err;

	if (sign_key && (err = kh_ed25519_sign(sign_key, text, len, sig)) != KH_OK)
		return err;
	if ((err = write_atomic(dir, MANIFEST, text, len)) != KH_OK)
		return err;
	if (sign_key)
		return write_atomic(dir, SIGFILE, sig, SIGLEN);
	return remove_stale_sig(dir);
}

/* Did dir/name end up holding exactly these bytes? */
static int holds(const char *dir, const char *name, const void *buf,
		 size_t len, size_t limit)
{
	struct blob bl;
	int same;

	if (read_entry(NULL, dir, name, limit, &bl) != KH_OK)
		return 0;
	same = bl.len == len && memcmp(bl.data, buf, len) == 0;
	blob_free(&bl);
	return same;
}

/* What was written must load and be what was meant. */
static int recheck(const char *dir, const char *text,
		   const unsigned char *sig, size_t limit, size_t nfiles)
{
	struct kh_bundle *b = NULL;
	int err;

	if ((err = bundle_load(dir, NULL, limit, &b)) != KH_OK)
		return err;
	if (b->n != nfiles || !holds(dir, MANIFEST, text, strlen(text), MAX_MANIFEST) ||
	    (sig && !holds(dir, SIGFILE, sig, SIGLEN, SIGLEN))) {
		kh_seterr("bundle %s: " MANIFEST " or " SIGFILE " changed "
			  "while written", dir);
		err = KH_ERR_BUNDLE;
	}
	bundle_free(b);
	return err;
}

int bundle_create(const char *dir, const char *name, long target_build,
		  const char *sign_key, const char *reference_dir,
		  size_t max_file_size)
{
	struct entries e = { 0 };
	size_t limit = max_file_size ? max_file_size : DEFAULT_MAX;
	unsigned char sig[SIGLEN];
	char *text = NULL;
	int err = KH_ERR_USAGE;

	if (!name)
		name = DEFAULT_NAME;
	if (sign_key && !*sign_key)
		sign_key = NULL;
	if (!name_ok(name)) {
		kh_seterr("bundle name '%s': 1-200 printable characters, no "
			  "; # \" \\ and no leading or trailing blank", name);
		goto out;
	}
	if (target_build < 0) {
		kh_seterr("target build %ld: must be positive", target_build);
		goto out;
	}
	if ((err = list_xml(dir, &e)) != KH_OK ||
	    (err = digest_files(dir, limit, &e)) != KH_OK)
		goto out;
	if (reference_dir && (err = add_reference(reference_dir, limit, &e)) != KH_OK)
		goto out;
	err = KH_ERR_NOMEM;
	if (!(text = manifest_text(name, target_build, &e))) {
		kh_seterr("out of memory");
		goto out;
	}
	if ((err = write_manifest(dir, text, sign_key, sig)) != KH_OK ||
	    (err = recheck(dir, text, sign_key ? sig : NULL, limit, e.n)) != KH_OK)
		goto out;
	kh_log(KH_LOG_INFO, "bundle", "%s/" MANIFEST ": %zu file(s)%s", dir, e.n,
	       sign_key ? ", signed" : "");
out:
	free(text);
	entries_free(&e);
	return err;
}
