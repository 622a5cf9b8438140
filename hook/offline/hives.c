/* hives.c - the offline body's registry: the SYSTEM and SOFTWARE hives of
 * the volume through hivex, and the raw Source OS keys.
 *
 * Design: a hive file is found and opened by the safe path walk (files.c)
 * and handed to hivex as /proc/self/fd/N of that fd, so hivex never sees a
 * path outside the root.  A change is made in memory, one hive at a time;
 * each hive it names is then committed whole to an exclusively created temp
 * file beside it and flushed.  plat_hive_stage stops there: the core moves
 * the original into its backup and the temp into its place, journalled, so
 * that the undo is the original file byte for byte.  plat_reg_set and
 * plat_reg_restore (the test fake's "live" registry) rename the temps over
 * the hives once every one is written.  A hive that cannot be opened,
 * changed or written leaves both as they were.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <hivex.h>
#include <iconv.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "khreset.h"
#include "offline.h"

#define CONFIG_DIR "Windows/System32/config"
#define CONFIG_DIR_WIN "Windows\\System32\\config"
/* ---------- registry ---------- */

/* "/proc/self/fd/N": how hivex reaches a file we opened safely. */
static void fd_path(char out[32], int fd)
{
	int n = snprintf(out, 32, "/proc/self/fd/%d", fd);

	if (n < 0 || n >= 32)       /* cannot happen for an int */
		abort();
}

enum { HIVE_SYSTEM, HIVE_SOFTWARE, NHIVES };
static const char *const hive_file[NHIVES] = { "SYSTEM", "SOFTWARE" };

struct hive {
	hive_h *h;
	int dfd;                    /* config folder, owned */
	int idx;
	char disk[NAME_MAX + 1];    /* on-disk name of the hive file */
	char shown[64];             /* "Windows/System32/config/SYSTEM" */
	char tmp[NAME_MAX + 1];     /* written, not yet renamed: "" when none */
};

/* 1 if s is well-formed UTF-8 (no overlong form, surrogate or code point
 * above U+10FFFF): hivex is handed nothing else. */
static int utf8_ok(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		unsigned c = *u, n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1
			   : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : 9;
		unsigned long cp = n == 0 ? c : n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;

		if (n == 9)
			return 0;
		for (unsigned i = 1; i <= n; i++) {
			if ((u[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (u[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		u += n + 1;
	}
	return 1;
}

/* A key and value name hivex can be given. */
static int names_ok(const char *key, const char *name)
{
	if (utf8_ok(key) && (!name || utf8_ok(name)))
		return KH_OK;
	kh_seterr("registry %s%s%s: not valid UTF-8", key, name ? "\\" : "", name ? name : "");
	return KH_ERR_CONFIG;
}

/* "HKLM\SYSTEM\a\b" -> HIVE_SYSTEM, "a\b".  The 32-bit view's
 * "HKLM32\SOFTWARE\a" is "WOW6432Node\a" of SOFTWARE (kept in buf, KEY_BUF
 * bytes), as Windows stores it; a key outside SOFTWARE, or one already
 * below WOW6432Node, is the same in both views. */
#define KEY_BUF 1100
static int reg_split(const char *key, int *idx, const char **sub, char *buf)
{
	static const char *const roots[] = { "HKLM\\", "HKEY_LOCAL_MACHINE\\" };
	int wow = plat_reg_view_of(key, buf, KEY_BUF) == KH_VIEW_32;
	const char *k = buf;

	for (size_t i = 0; k[0] && i < 2; i++) {
		size_t rl = strlen(roots[i]);

		if (strncasecmp(k, roots[i], rl) != 0)
			continue;
		for (int h = 0; h < NHIVES; h++) {
			size_t hl = strlen(hive_file[h]);
			const char *s = k + rl;

			if (strncasecmp(s, hive_file[h], hl) != 0 || (s[hl] != '\0' && s[hl] != '\\'))
				continue;
			*idx = h;
			*sub = s[hl] ? s + hl + 1 : s + hl;
			if (wow && h == HIVE_SOFTWARE &&
			    (strncasecmp(*sub, "WOW6432Node", 11) || ((*sub)[11] && (*sub)[11] != '\\'))) {
				char rest[KEY_BUF];

				snprintf(rest, sizeof(rest), "%s", *sub);
				if ((size_t)snprintf(buf, KEY_BUF, "WOW6432Node%s%s", *rest ? "\\" : "",
						     rest) >= KEY_BUF)
					break;
				*sub = buf;
			}
			return KH_OK;
		}
	}
	kh_seterr("registry key %s: only HKLM\\SYSTEM and HKLM\\SOFTWARE (HKLM32\\SOFTWARE: "
		  "its 32-bit view) are supported", key);
	return KH_ERR_USAGE;
}

static int hive_missing(const struct hive *hv)
{
	kh_seterr("registry hive %s: not found", hv->shown);
	return KH_ERR_HIVE;
}

/* Closes the hive; a temp file not renamed into place is removed. */
static void hive_close(struct hive *hv)
{
	if (hv->tmp[0] && hv->dfd >= 0)
		unlinkat(hv->dfd, hv->tmp, 0);
	hv->tmp[0] = '\0';
	if (hv->h)
		hivex_close(hv->h);
	if (hv->dfd >= 0)
		close(hv->dfd);
	hv->h = NULL;
	hv->dfd = -1;
}

/* Opens the hive file found safely under the root (case-insensitively). */
static int hive_open(kh_plat *p, int idx, int write, struct hive *hv)
{
	char proc[32];
	struct kpath kp;
	struct stat st;
	int dfd, fd = -1, r, n;

	memset(hv, 0, sizeof(*hv));
	hv->dfd = -1;
	hv->idx = idx;
	n = snprintf(hv->shown, sizeof(hv->shown), "%s/%s", CONFIG_DIR,
		     hive_file[idx]);
	if (n < 0 || (size_t)n >= sizeof(hv->shown))
		return KH_ERR_IO;
	if ((r = off_path_parse(CONFIG_DIR, &kp)) != KH_OK)
		return r;
	r = off_resolve_dir(p, &kp, kp.n, 0, hv->shown, &dfd);
	if (r == KH_ERR_NOENT)
		return hive_missing(hv);
	if (r != KH_OK)
		return r;
	if ((hv->dfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return off_fail(errno, "cannot open folder of", hv->shown);
	r = off_find_entry(hv->dfd, hive_file[idx], hv->disk, hv->shown);
	if (r == KH_OK)
		r = off_open_file(hv->dfd, hv->disk, O_RDONLY, hv->shown, &fd);
	if (r == KH_ERR_NOENT)
		r = hive_missing(hv);
	if (r != KH_OK)
		goto fail;
	if (fstat(fd, &st) < 0) {
		r = off_fail(errno, "cannot stat", hv->shown);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = off_not_regular(hv->shown);
		goto fail;
	}
	if ((r = off_hive_plausible(fd, &st, hv->shown)) != KH_OK ||
	    (r = off_hive_check(p, hv->dfd, hv->disk, fd, hv->shown, write)) != KH_OK)
		goto fail;
	fd_path(proc, fd);
	if (!(hv->h = hivex_open(proc, write ? HIVEX_OPEN_WRITE : 0))) {
		r = off_hive_open_failed(errno, hv->shown);
		goto fail;
	}
	close(fd);
	return KH_OK;
fail:
	if (fd >= 0)
		close(fd);
	hive_close(hv);
	return r;
}

/* Writes the hive whole to an exclusive temp file beside it and flushes
 * it; hive_install renames it into place. */
static int hive_write_temp(struct hive *hv)
{
	char tmp[NAME_MAX + 1], proc[32];
	int fd, r;

	if ((r = kh_temp_name(tmp, sizeof(tmp), hv->disk, (long)getpid())) != KH_OK)
		return r;
	if ((r = off_create_temp(hv->dfd, tmp, hv->shown, &fd)) != KH_OK)
		return r;
	memcpy(hv->tmp, tmp, sizeof(tmp));
	fd_path(proc, fd);
	if (hivex_commit(hv->h, proc, 0) < 0)
		r = off_fail(errno, "cannot write registry hive", hv->shown);
	else if (fsync(fd) < 0)
		r = off_fail(errno, "cannot flush registry hive", hv->shown);
	if (close(fd) < 0 && r == KH_OK)
		r = off_fail(errno, "cannot close registry hive", hv->shown);
	return r;
}

static int hive_install(struct hive *hv)
{
	if (renameat(hv->dfd, hv->tmp, hv->dfd, hv->disk) < 0)
		return off_fail(errno, "cannot replace registry hive", hv->shown);
	hv->tmp[0] = '\0';
	return off_fsync_dir(hv->dfd, hv->shown);
}

/* Walks sub ("a\b\c") from the root key, creating missing keys if asked. */
static int key_find(struct hive *hv, const char *key, const char *sub,
		    int create, hive_node_h *out)
{
	hive_node_h node = hivex_root(hv->h), child;
	char part[256];

	while (node && *sub) {
		size_t l = strcspn(sub, "\\");

		if (l >= sizeof(part)) {
			kh_seterr("registry key %s: name too long", key);
			return KH_ERR_USAGE;
		}
		memcpy(part, sub, l);
		part[l] = '\0';
		sub += l + (sub[l] == '\\');
		if (l == 0)
			continue;
		errno = 0;
		child = hivex_node_get_child(hv->h, node, part);
		if (!child && errno) {
			kh_seterr("registry hive %s: corrupt at key %s (%s)",
				  hv->shown, key, strerror(errno));
			return KH_ERR_HIVE;
		}
		if (!child && create)
			child = hivex_node_add_child(hv->h, node, part);
		if (!child && create) {
			kh_seterr("registry hive %s: cannot create key %s (%s)",
				  hv->shown, key, strerror(errno));
			return KH_ERR_HIVE;
		}
		if (!child) {
			kh_seterr("registry key %s: not found", key);
			return KH_ERR_NOENT;
		}
		node = child;
	}
	if (!node) {
		kh_seterr("registry hive %s: no root key", hv->shown);
		return KH_ERR_HIVE;
	}
	*out = node;
	return KH_OK;
}

/* Reads a value as text.  KH_ERR_NOENT when absent; KH_ERR_DATA for types
 * other than REG_SZ, REG_EXPAND_SZ and REG_DWORD. */
static int val_get(struct hive *hv, hive_node_h node, const char *key,
		   const char *name, enum kh_regtype *type, char **out)
{
	hive_value_h v;
	hive_type t;
	size_t len;

	*out = NULL;
	errno = 0;
	v = hivex_node_get_value(hv->h, node, name);
	if (!v) {
		kh_seterr("registry value %s\\%s: not found", key, name);
		return errno ? KH_ERR_HIVE : KH_ERR_NOENT;
	}
	if (hivex_value_type(hv->h, v, &t, &len) < 0)
		goto corrupt;
	if (t == hive_t_REG_SZ || t == hive_t_REG_EXPAND_SZ) {
		*type = t == hive_t_REG_SZ ? KH_REG_SZ : KH_REG_EXPAND_SZ;
		if (!(*out = hivex_value_string(hv->h, v)))
			goto corrupt;
		return KH_OK;
	}
	if (t == hive_t_REG_DWORD && len == 4) {
		*type = KH_REG_DWORD;
		errno = 0;
		uint32_t d = (uint32_t)hivex_value_dword(hv->h, v);
		if (errno)
			goto corrupt;
		*out = kh_asprintf("%u", d);
		return *out ? KH_OK : KH_ERR_NOMEM;
	}
	kh_seterr("registry value %s\\%s: unsupported type %d", key, name, (int)t);
	return KH_ERR_DATA;
corrupt:
	kh_seterr("registry value %s\\%s: unreadable (%s)", key, name,
		  strerror(errno));
	return KH_ERR_HIVE;
}

int plat_reg_get(kh_plat *p, const char *key, const char *name, char **out)
{
	enum kh_regtype type;
	struct hive hv;
	hive_node_h node;
	const char *sub;
	char kb[KEY_BUF];
	int idx, r;

	*out = NULL;
	if ((r = reg_split(key, &idx, &sub, kb)) != KH_OK || (r = names_ok(key, name)) != KH_OK)
		return r;
	if ((r = hive_open(p, idx, 0, &hv)) != KH_OK)
		return r;
	if ((r = key_find(&hv, key, sub, 0, &node)) == KH_OK)
		r = val_get(&hv, node, key, name, &type, out);
	hive_close(&hv);
	return r;
}

/* Value data in registry form: UTF-16LE with NUL, or a 4-byte DWORD. */
struct encoded {
	char *data;
	size_t len;
	hive_type t;
};

static int utf16(const char *s, struct encoded *e)
{
	size_t inl = strlen(s), outl = inl * 4 + 2, cap = outl;
	char *in = (char *)s, *o;
	iconv_t cd = iconv_open("UTF-16LE", "UTF-8");
	int r = KH_OK;

	if (cd == (iconv_t)-1)
		return off_fail(errno, "iconv", "UTF-8 to UTF-16LE");
	if (!(e->data = o = malloc(cap))) {
		iconv_close(cd);
		return KH_ERR_NOMEM;
	}
	if (iconv(cd, &in, &inl, &o, &outl) == (size_t)-1 || outl < 2) {
		kh_seterr("registry data \"%s\": not valid UTF-8", s);
		r = KH_ERR_CONFIG;
	} else {
		*o++ = 0;
		*o++ = 0;
		e->len = (size_t)(o - e->data);
	}
	iconv_close(cd);
	return r;
}

static int parse_dword(const char *s, uint32_t *out)
{
	unsigned long long v;
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *d = hex ? s + 2 : s;
	char *end;

	if (!(hex ? isxdigit((unsigned char)*d) : isdigit((unsigned char)*d)))
		goto bad;
	errno = 0;
	v = strtoull(d, &end, hex ? 16 : 10);
	if (errno || *end || v > 0xffffffffULL)
		goto bad;
	*out = (uint32_t)v;
	return KH_OK;
bad:
	kh_seterr("REG_DWORD data \"%s\": not a decimal or 0x-hex 32-bit number", s);
	return KH_ERR_CONFIG;
}

static int encode(const struct kh_regval *v, struct encoded *e)
{
	uint32_t d;
	int r;

	memset(e, 0, sizeof(*e));
	if (!v->key || !v->name || !v->data) {
		kh_seterr("registry value: key, name and data are required");
		return KH_ERR_CONFIG;
	}
	switch (v->type) {
	case KH_REG_SZ:
	case KH_REG_EXPAND_SZ:
		e->t = v->type == KH_REG_SZ ? hive_t_REG_SZ : hive_t_REG_EXPAND_SZ;
		return utf16(v->data, e);
	case KH_REG_DWORD:
		if ((r = parse_dword(v->data, &d)) != KH_OK)
			return r;
		if (!(e->data = malloc(4)))
			return KH_ERR_NOMEM;
		for (int i = 0; i < 4; i++)
			e->data[i] = (char)((d >> (8 * i)) & 0xff);
		e->len = 4;
		e->t = hive_t_REG_DWORD;
		return KH_OK;
	}
	kh_seterr("registry value %s\\%s: unsupported type %d", v->key, v->name,
		  (int)v->type);
	return KH_ERR_CONFIG;
}

/* Deletes value name from node by rewriting the node's value list. */
static int val_delete(struct hive *hv, hive_node_h node, const char *key,
		      const char *name)
{
	hive_value_h *vs = hivex_node_values(hv->h, node);
	hive_set_value *set = NULL;
	size_t cnt = 0, k = 0;
	int r = KH_OK;

	if (!vs)
		goto corrupt;
	while (vs[cnt])
		cnt++;
	if (cnt && !(set = calloc(cnt, sizeof(*set)))) {
		free(vs);
		return KH_ERR_NOMEM;
	}
	for (size_t i = 0; i < cnt && r == KH_OK; i++) {
		char *vk = hivex_value_key(hv->h, vs[i]);

		if (!vk) {
			r = KH_ERR_HIVE;
		} else if (kh_strcasecmp(vk, name) == 0) {
			free(vk);
		} else {
			set[k].key = vk;
			set[k].value = hivex_value_value(hv->h, vs[i], &set[k].t,
							 &set[k].len);
			r = set[k++].value ? KH_OK : KH_ERR_HIVE;
		}
	}
	if (r == KH_OK && k != cnt &&
	    hivex_node_set_values(hv->h, node, k, set, 0) < 0)
		r = KH_ERR_HIVE;
	for (size_t i = 0; i < k; i++) {
		free(set[i].key);
		free(set[i].value);
	}
	free(set);
	free(vs);
	if (r == KH_OK)
		return KH_OK;
corrupt:
	kh_seterr("registry hive %s: cannot delete %s\\%s (%s)", hv->shown, key,
		  name, strerror(errno));
	return KH_ERR_HIVE;
}

static int val_set(struct hive *hv, hive_node_h node, const struct kh_regval *v)
{
	struct encoded e;
	hive_set_value sv;
	int r;

	if ((r = encode(v, &e)) != KH_OK)
		goto out;
	sv.key = v->name;
	sv.t = e.t;
	sv.len = e.len;
	sv.value = e.data;
	if (hivex_node_set_value(hv->h, node, &sv, 0) < 0) {
		kh_seterr("registry hive %s: cannot set %s\\%s (%s)", hv->shown,
			  v->key, v->name, strerror(errno));
		r = KH_ERR_HIVE;
	}
out:
	free(e.data);
	return r;
}

/* Applies one value (data NULL: delete) in an open hive. */
static int apply(struct hive *hv, const struct kh_regval *v)
{
	const char *sub;
	char kb[KEY_BUF];
	hive_node_h node;
	int idx, r;

	if ((r = reg_split(v->key, &idx, &sub, kb)) != KH_OK)
		return r;
	if (!v->data) {
		r = key_find(hv, v->key, sub, 0, &node);
		if (r == KH_ERR_NOENT)
			return KH_OK;
		return r == KH_OK ? val_delete(hv, node, v->key, v->name) : r;
	}
	if ((r = key_find(hv, v->key, sub, 1, &node)) != KH_OK)
		return r;
	return val_set(hv, node, v);
}

/* Puts back one value as plat_reg_read returned it (or removes a key that
 * was not there, when it is empty). */
static int apply_raw(struct hive *hv, const struct kh_regraw *o)
{
	hive_set_value sv;
	hive_node_h node;
	const char *sub;
	char kb[KEY_BUF];
	int idx, r;

	if ((r = reg_split(o->key, &idx, &sub, kb)) != KH_OK)
		return r;
	if (o->name && o->present) {
		if ((r = key_find(hv, o->key, sub, 1, &node)) != KH_OK)
			return r;
		sv.key = o->name;
		sv.t = (hive_type)o->type;
		sv.len = o->len;
		sv.value = (char *)o->data;
		if (hivex_node_set_value(hv->h, node, &sv, 0) < 0) {
			kh_seterr("registry hive %s: cannot set %s\\%s (%s)", hv->shown,
				  o->key, o->name, strerror(errno));
			return KH_ERR_HIVE;
		}
		return KH_OK;
	}
	if (o->present)
		return KH_OK;          /* a key that was there stays */
	r = key_find(hv, o->key, sub, 0, &node);
	if (r == KH_ERR_NOENT) {
		kh_clearerr();
		return KH_OK;
	}
	if (r != KH_OK)
		return r;
	if (o->name)
		return val_delete(hv, node, o->key, o->name);
	if (node == hivex_root(hv->h))
		return KH_OK;
	{
		hive_node_h *ch = hivex_node_children(hv->h, node);
		hive_value_h *vs = hivex_node_values(hv->h, node);
		int empty = ch && vs && !ch[0] && !vs[0];

		free(ch);
		free(vs);
		if (empty && hivex_node_delete_child(hv->h, node) < 0) {
			kh_seterr("registry hive %s: cannot remove key %s (%s)", hv->shown,
				  o->key, strerror(errno));
			return KH_ERR_HIVE;
		}
	}
	return KH_OK;
}

/* A batch of changes: values to set, or old values to put back. */
struct change {
	const struct kh_regval *vals;
	const struct kh_regraw *raws;
	size_t n;
	int reverse;
};

static const char *change_key(const struct change *c, size_t i)
{
	return c->vals ? c->vals[i].key : c->raws[i].key;
}

static int hive_of_key(const char *key)
{
	const char *sub;
	char kb[KEY_BUF];
	int idx;

	return key && reg_split(key, &idx, &sub, kb) == KH_OK ? idx : -1;
}

/* One hive: opened for writing, the changes that name it applied in order
 * (reverse: last first), written to its temp file. */
static int hive_stage(kh_plat *p, int idx, const struct change *c, struct hive *hv)
{
	int r;

	if ((r = hive_open(p, idx, 1, hv)) != KH_OK)
		return r;
	for (size_t k = 0; k < c->n && r == KH_OK; k++) {
		size_t i = c->reverse ? c->n - 1 - k : k;

		if (hive_of_key(change_key(c, i)) != idx)
			continue;
		r = c->vals ? apply(hv, &c->vals[i]) : apply_raw(hv, &c->raws[i]);
	}
	return r == KH_OK ? hive_write_temp(hv) : r;
}

static int hive_used(const struct change *c, int idx)
{
	for (size_t i = 0; i < c->n; i++)
		if (hive_of_key(change_key(c, i)) == idx)
			return 1;
	return 0;
}

/* Checks every value before anything is written. */
static int reg_validate(const struct kh_regval *vals, size_t n)
{
	struct encoded e;
	const char *sub;
	char kb[KEY_BUF];
	int idx, r;

	for (size_t i = 0; i < n; i++) {
		if ((r = encode(&vals[i], &e)) != KH_OK)
			return r;
		free(e.data);
		if ((r = reg_split(vals[i].key, &idx, &sub, kb)) != KH_OK ||
		    (r = names_ok(vals[i].key, vals[i].name)) != KH_OK)
			return r;
	}
	return KH_OK;
}

static void hives_init(struct hive hv[NHIVES])
{
	for (int h = 0; h < NHIVES; h++) {
		memset(&hv[h], 0, sizeof(hv[h]));
		hv[h].dfd = -1;
	}
}

/* Every hive the changes name is staged before any is renamed into
 * place, so a failure to open, change or write one changes none.  Only a
 * failed rename after another succeeded (same folder: not expected)
 * leaves the hives apart. */
static int reg_change(kh_plat *p, const struct change *c)
{
	struct hive hv[NHIVES];
	int h, r = KH_OK;

	hives_init(hv);
	for (h = 0; h < NHIVES && r == KH_OK; h++)
		if (hive_used(c, h))
			r = hive_stage(p, h, c, &hv[h]);
	for (h = 0; h < NHIVES && r == KH_OK; h++)
		if (hv[h].tmp[0])
			r = hive_install(&hv[h]);
	for (h = 0; h < NHIVES; h++)
		hive_close(&hv[h]);
	return r;
}

int plat_reg_set(kh_plat *p, const struct kh_regval *vals, size_t n)
{
	struct change c = { vals, NULL, n, 0 };
	int r = reg_validate(vals, n);

	return r == KH_OK ? reg_change(p, &c) : r;
}

int plat_reg_restore(kh_plat *p, const struct kh_regraw *old, size_t n)
{
	struct change c = { NULL, old, n, 1 };

	for (size_t i = 0; i < n; i++) {
		if (hive_of_key(old[i].key) < 0) {
			kh_seterr("registry undo: entry %zu names no HKLM\\SYSTEM or "
				  "HKLM\\SOFTWARE key", i);
			return KH_ERR_USAGE;
		}
		if (names_ok(old[i].key, old[i].name) != KH_OK)
			return KH_ERR_CONFIG;
	}
	return reg_change(p, &c);
}

int plat_reg_read(kh_plat *p, const char *key, const char *name, struct kh_regraw *out)
{
	struct hive hv;
	hive_node_h node;
	hive_value_h v;
	const char *sub;
	char kb[KEY_BUF];
	hive_type t;
	int idx, r;

	memset(out, 0, sizeof(*out));
	if ((r = reg_split(key, &idx, &sub, kb)) != KH_OK || (r = names_ok(key, name)) != KH_OK)
		return r;
	out->key = kh_strdup(key);
	out->name = name ? kh_strdup(name) : NULL;
	if (!out->key || (name && !out->name)) {
		r = KH_ERR_NOMEM;
		goto fail;
	}
	if ((r = hive_open(p, idx, 0, &hv)) != KH_OK)
		goto fail;
	r = key_find(&hv, key, sub, 0, &node);
	if (r == KH_ERR_NOENT) {
		kh_clearerr();
		r = KH_OK;
	} else if (r == KH_OK && !name) {
		out->present = 1;
	} else if (r == KH_OK) {
		errno = 0;
		if (!(v = hivex_node_get_value(hv.h, node, name))) {
			if (errno) {
				kh_seterr("registry value %s\\%s: unreadable (%s)", key, name,
					  strerror(errno));
				r = KH_ERR_HIVE;
			}
		} else if (!(out->data = (unsigned char *)hivex_value_value(hv.h, v, &t,
									       &out->len))) {
			kh_seterr("registry value %s\\%s: unreadable (%s)", key, name,
				  strerror(errno));
			r = KH_ERR_HIVE;
		} else {
			out->present = 1;
			out->type = (uint32_t)t;
		}
	}
	hive_close(&hv);
	if (r == KH_OK)
		return KH_OK;
fail:
	plat_free_regraw(out, 1);
	memset(out, 0, sizeof(*out));
	return r;
}

/* SHA-256 of file name in dfd, read in pieces. */
static int file_sha256(int dfd, const char *name, const char *shown, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), r = KH_OK;
	ssize_t got;

	if (fd < 0)
		r = off_fail(errno, "cannot open", shown);
	else if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		r = KH_ERR_NOMEM;
	while (r == KH_OK && (got = read(fd, buf, sizeof(buf))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			r = off_fail(errno, "cannot read", shown);
		else if (!EVP_DigestUpdate(ctx, buf, (size_t)got))
			r = KH_ERR_NOMEM;
	}
	if (r == KH_OK && (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32))
		r = KH_ERR_NOMEM;
	for (unsigned i = 0; r == KH_OK && i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
		hex[2 * i + 2] = '\0';
	}
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return r;
}

/* The staged hive handed to the caller: the temp stays. */
static int hive_hand_over(struct hive *hv, struct kh_hivetmp *t)
{
	char shown[NAME_MAX + 64];
	int r;

	memset(t, 0, sizeof(*t));
	snprintf(shown, sizeof(shown), "%s/%s", CONFIG_DIR, hv->tmp);
	if ((r = file_sha256(hv->dfd, hv->disk, hv->shown, t->sha_old)) != KH_OK ||
	    (r = file_sha256(hv->dfd, hv->tmp, shown, t->sha_new)) != KH_OK)
		return r;
	t->dir = kh_strdup(CONFIG_DIR_WIN);
	t->name = kh_strdup(hv->disk);
	t->temp = kh_strdup(hv->tmp);
	if (!t->dir || !t->name || !t->temp)
		return KH_ERR_NOMEM;
	hv->tmp[0] = '\0';
	return KH_OK;
}

int plat_hive_stage(kh_plat *p, const struct kh_regval *vals, size_t n,
		    struct kh_hivetmp **out, size_t *nout)
{
	struct change c = { vals, NULL, n, 0 };
	struct kh_hivetmp *t = calloc(NHIVES, sizeof(*t));
	struct hive hv[NHIVES];
	size_t k = 0;
	int h, r = t ? reg_validate(vals, n) : KH_ERR_NOMEM;

	*out = NULL;
	*nout = 0;
	hives_init(hv);
	for (h = 0; h < NHIVES && r == KH_OK; h++)
		if (hive_used(&c, h) && (r = hive_stage(p, h, &c, &hv[h])) == KH_OK &&
		    (r = kh_test_fail("hive-stage")) == KH_OK)
			r = hive_hand_over(&hv[h], &t[k++]);
	if (r != KH_OK) {
		/* the temps handed over go too */
		for (size_t i = 0; i < k; i++)
			for (h = 0; h < NHIVES; h++)
				if (hv[h].dfd >= 0 && t[i].temp && !strcmp(hv[h].disk, t[i].name))
					unlinkat(hv[h].dfd, t[i].temp, 0);
		plat_free_hivetmp(t, k);
		t = NULL;
		k = 0;
	}
	for (h = 0; h < NHIVES; h++)
		hive_close(&hv[h]);
	*out = t;
	*nout = k;
	return r;
}

/* ---------- Source OS entries ---------- */

/* Windows FILETIME (100 ns since 1601) to Unix seconds; 0 if unusable. */
static int64_t from_filetime(int64_t ft)
{
	int64_t t = ft / 10000000 - INT64_C(11644473600);

	return ft > 0 && t > 0 ? t : 0;
}

/* A value as text, NULL when missing or unreadable. */
static char *val_text(struct hive *hv, hive_node_h node, const char *key,
		      const char *name)
{
	enum kh_regtype type;
	char *s = NULL;

	if (val_get(hv, node, key, name, &type, &s) != KH_OK) {
		free(s);
		return NULL;
	}
	return s;
}

static void source_os_fill(struct hive *hv, hive_node_h node,
			   struct kh_source_os *e)
{
	e->written = from_filetime(hivex_node_timestamp(hv->h, node));
	e->build = val_text(hv, node, e->key, "CurrentBuild");
	e->product = val_text(hv, node, e->key, "ProductName");
}

static int source_os_scan(struct hive *hv, hive_node_h setup,
			  struct kh_source_os **list, size_t *n)
{
	hive_node_h *ch = hivex_node_children(hv->h, setup);
	struct kh_source_os *v;
	size_t cnt = 0, k = 0;

	if (!ch) {
		kh_seterr("registry hive %s: corrupt at key Setup", hv->shown);
		return KH_ERR_HIVE;
	}
	while (ch[cnt])
		cnt++;
	if (!(v = calloc(cnt ? cnt : 1, sizeof(*v)))) {
		free(ch);
		return KH_ERR_NOMEM;
	}
	for (size_t i = 0; i < cnt; i++) {
		char *name = hivex_node_name(hv->h, ch[i]);

		if (!name || strncasecmp(name, "Source OS", 9) != 0) {
			free(name);
			continue;
		}
		v[k].key = name;
		source_os_fill(hv, ch[i], &v[k++]);
	}
	free(ch);
	kh_clearerr();
	*list = v;
	*n = k;
	return KH_OK;
}

int plat_source_os(kh_plat *p, struct kh_source_os **list, size_t *n)
{
	hive_node_h setup;
	struct hive hv;
	int r;

	*list = NULL;
	*n = 0;
	if ((r = hive_open(p, HIVE_SYSTEM, 0, &hv)) != KH_OK)
		return r;
	r = key_find(&hv, "HKLM\\SYSTEM\\Setup", "Setup", 0, &setup);
	if (r == KH_OK)
		r = source_os_scan(&hv, setup, list, n);
	else if (r == KH_ERR_NOENT) {
		kh_clearerr();
		r = KH_OK;
	}
	hive_close(&hv);
	return r;
}

