/* state.c - backups and the write-ahead journal (SPEC section 8).
 *
 * Design: every destructive action is first written to the journal and
 * fsynced, then done.  A backup's manifest is saved before any entry moves
 * into it, so a backup folder always says what it should hold.  Recovery
 * reads the journal of an interrupted run and undoes it in reverse: moves
 * go back (an entry that took the original's place moves into the backup's
 * rolled-back part first), staged files that carry exactly the content we
 * wrote are removed, registry values get their old data back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ini/ini.h"
#include "khreset.h"
#include "state.h"

/* ---- backups ---- */

static const char *const bstate_names[KH_BS__COUNT] = {
	[KH_BS_IN_PROGRESS] = "in-progress", [KH_BS_COMPLETE] = "complete",
	[KH_BS_ROLLED_BACK] = "rolled-back", [KH_BS_RESTORED] = "restored",
};

const char *bstate_name(enum kh_bstate s)
{
	return (unsigned)s < KH_BS__COUNT ? bstate_names[s] : "unknown";
}

/* 1 and *s set when text names a state, else 0. */
static int bstate_parse(const char *text, enum kh_bstate *s)
{
	for (int i = 0; i < KH_BS__COUNT; i++)
		if (!strcmp(text, bstate_names[i])) {
			*s = (enum kh_bstate)i;
			return 1;
		}
	return 0;
}

char *backup_path(const struct kh_backup *b, const char *part, const char *name)
{
	if (!name)
		return kh_asprintf(KH_BACKUP_DIR "\\%s\\%s", b->id, part);
	return kh_asprintf(KH_BACKUP_DIR "\\%s\\%s\\%s", b->id, part, name);
}

int backup_create(kh_plat *p, struct kh_backup *b, const char *reason)
{
	struct kh_dirent st;
	char base[20], *dir;
	int rc;

	memset(b, 0, sizeof(*b));
	b->created = kh_now();
	kh_fmt_id(b->created, base);
	snprintf(b->id, sizeof(b->id), "%s", base);
	for (int i = 2; i < 1000; i++) {
		if (!(dir = backup_path(b, "", NULL)))
			return KH_ERR_NOMEM;
		rc = plat_stat(p, dir, &st);
		free(dir);
		if (rc == KH_ERR_NOENT)
			break;
		if (rc != KH_OK)
			return rc;
		free(st.name);
		snprintf(b->id, sizeof(b->id), "%s-%d", base, i);
	}
	b->reason = kh_strdup(reason);
	b->state = KH_BS_IN_PROGRESS;
	if (!b->reason)
		return KH_ERR_NOMEM;
	dir = backup_path(b, "archive", NULL);
	rc = dir ? plat_mkdirs(p, dir) : KH_ERR_NOMEM;
	free(dir);
	return rc;
}

int backup_add(struct kh_backup *b, const char *part, const char *origin,
	       const char *name, enum kh_ftype type, uint64_t size,
	       int64_t mtime, const char *sha256)
{
	struct kh_bfile *nf = realloc(b->files, (b->n + 1) * sizeof(*nf));
	struct kh_bfile *f;

	if (!nf)
		return KH_ERR_NOMEM;
	b->files = nf;
	f = &nf[b->n++];
	memset(f, 0, sizeof(*f));
	f->name = kh_strdup(name);
	f->part = kh_strdup(part);
	f->origin = kh_strdup(origin);
	f->type = type;
	f->size = size;
	f->mtime = mtime;
	snprintf(f->sha256, sizeof(f->sha256), "%s", sha256 ? sha256 : "");
	return f->name && f->part && f->origin ? KH_OK : KH_ERR_NOMEM;
}

static const char *const tnames[] = { "file", "directory", "symlink", "other" };

/* A growing text; after a failed append nothing more is added. */
struct text {
	char *s;
	size_t len, cap;
	int nomem;
};

static void add(struct text *t, const char *fmt, ...) KH_PRINTF(2, 3);
static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	size_t need;
	char *ns;
	int n;

	if (t->nomem)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	need = t->len + (size_t)n + 1;
	if (n >= 0 && need > t->cap) {
		if ((ns = realloc(t->s, 2 * need)) != NULL) {
			t->s = ns;
			t->cap = 2 * need;
		}
	}
	if (n < 0 || need > t->cap) {
		t->nomem = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

static int fmt_manifest(const struct kh_backup *b, char **out, size_t *len)
{
	struct text t = { 0 };
	char when[32];

	kh_fmt_time(b->created, when);
	add(&t, "; khreset backup manifest: what this folder holds and where it came from\n"
		"[backup]\nid = %s\ncreated = %s\nreason = %s\nstate = %s\ntool = khreset %s\n",
	    b->id, when, b->reason, bstate_name(b->state), KH_VERSION);
	for (size_t i = 0; i < b->n; i++) {
		const struct kh_bfile *e = &b->files[i];
		kh_fmt_time(e->mtime, when);
		add(&t, "\n[file%zu]\nname = %s\npart = %s\norigin = %s\ntype = %s\n"
			"size = %llu\nmtime = %lld\nmtime_utc = %s\nsha256 = %s\n",
		    i + 1, e->name, e->part, e->origin, tnames[e->type],
		    (unsigned long long)e->size, (long long)e->mtime, when, e->sha256);
	}
	if (t.nomem) {
		free(t.s);
		return KH_ERR_NOMEM;
	}
	*out = t.s;
	*len = t.len;
	return KH_OK;
}

int backup_save(kh_plat *p, const struct kh_backup *b)
{
	char *text = NULL, *path = kh_asprintf(KH_BACKUP_DIR "\\%s\\manifest.ini", b->id);
	size_t len;
	int rc = path ? fmt_manifest(b, &text, &len) : KH_ERR_NOMEM;

	if (rc == KH_OK)
		rc = plat_write_atomic(p, path, text, len);
	free(text);
	free(path);
	return rc;
}

struct mload {
	struct kh_backup *b;
	int rc;
	char cur[64];
	int have_state;        /* a known state was read */
};

static int mload_cb(const char *sec, const char *key, const char *val, int line, void *ud)
{
	struct mload *m = ud;
	struct kh_backup *b = m->b;
	struct kh_bfile *f;

	if (!kh_strcasecmp(sec, "backup")) {
		if (!kh_strcasecmp(key, "reason"))
			free(b->reason), b->reason = kh_strdup(val);
		else if (!kh_strcasecmp(key, "state"))
			m->have_state = bstate_parse(val, &b->state);
		else if (!kh_strcasecmp(key, "created")) {
			struct tm tm = { 0 };
			if (strptime(val, "%Y-%m-%dT%H:%M:%SZ", &tm))
				b->created = (int64_t)timegm(&tm);
		}
		return 1;
	}
	if (strncmp(sec, "file", 4))
		return 1;
	if (strcmp(m->cur, sec)) {
		snprintf(m->cur, sizeof(m->cur), "%s", sec);
		if ((m->rc = backup_add(b, "", "", "", KH_FT_FILE, 0, 0, "")) != KH_OK)
			return 0;
	}
	f = &b->files[b->n - 1];
	if (!strcmp(key, "name"))
		free(f->name), f->name = kh_strdup(val);
	else if (!strcmp(key, "part"))
		free(f->part), f->part = kh_strdup(val);
	else if (!strcmp(key, "origin"))
		free(f->origin), f->origin = kh_strdup(val);
	else if (!strcmp(key, "size"))
		f->size = strtoull(val, NULL, 10);
	else if (!strcmp(key, "mtime"))
		f->mtime = strtoll(val, NULL, 10);
	else if (!strcmp(key, "sha256"))
		snprintf(f->sha256, sizeof(f->sha256), "%s", val);
	else if (!strcmp(key, "type"))
		for (int t = 0; t < 4; t++)
			if (!strcmp(val, tnames[t]))
				f->type = (enum kh_ftype)t;
	return 1;
}

int backup_load(kh_plat *p, const char *id, struct kh_backup *b)
{
	struct mload m = { b, KH_OK, "", 0 };
	unsigned char *buf = NULL;
	char *path;
	size_t len;
	int rc;

	memset(b, 0, sizeof(*b));
	if (snprintf(b->id, sizeof(b->id), "%s", id) >= (int)sizeof(b->id) ||
	    strpbrk(id, "\\/") || id[0] == '.') {
		kh_seterr("backup '%s': not a backup ID", id);
		return KH_ERR_USAGE;
	}
	if (!(path = kh_asprintf(KH_BACKUP_DIR "\\%s\\manifest.ini", id)))
		return KH_ERR_NOMEM;
	rc = plat_read(p, path, 64 << 20, &buf, &len);
	if (rc == KH_ERR_NOENT)
		kh_seterr("backup %s: no such backup (%s missing)", id, path);
	if (rc == KH_OK)
		rc = kh_ini_browse(path, buf, len, mload_cb, &m);
	free(buf);
	free(path);
	if (rc != KH_OK)
		return rc;
	if (m.rc == KH_OK && (!m.have_state || !b->reason)) {
		kh_seterr("backup %s: manifest.ini lacks [backup] reason or a known state", id);
		m.rc = KH_ERR_DATA;
	}
	for (size_t i = 0; m.rc == KH_OK && i < b->n; i++) {
		struct kh_bfile *f = &b->files[i];
		if (!f->name || !*f->name || strpbrk(f->name, "\\/") || !f->part ||
		    !*f->part || !f->origin || !*f->origin) {
			kh_seterr("backup %s: manifest.ini [file%zu] incomplete", id, i + 1);
			m.rc = KH_ERR_DATA;
		}
	}
	return m.rc;
}

void backup_free(struct kh_backup *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->files[i].name);
		free(b->files[i].part);
		free(b->files[i].origin);
	}
	free(b->files);
	free(b->reason);
	memset(b, 0, sizeof(*b));
}

int backup_list(kh_plat *p, char ***ids, size_t *n)
{
	struct kh_dirent *ents = NULL;
	size_t ne = 0;
	int rc = plat_list(p, KH_BACKUP_DIR, &ents, &ne);

	*ids = NULL;
	*n = 0;
	if (rc == KH_ERR_NOENT)
		return KH_OK;
	if (rc != KH_OK)
		return rc;
	*ids = calloc(ne ? ne : 1, sizeof(char *));
	if (!*ids) {
		plat_free_list(ents, ne);
		return KH_ERR_NOMEM;
	}
	/* plat_list sorts by name; IDs sort by time */
	for (size_t i = 0; i < ne; i++)
		if (ents[i].type == KH_FT_DIR && ents[i].name[0] != '.') {
			(*ids)[(*n)++] = ents[i].name;
			ents[i].name = NULL;
		}
	plat_free_list(ents, ne);
	return KH_OK;
}

void backup_free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* Removes a backup folder: its parts' entries, then the folders. */
static int backup_delete(kh_plat *p, const char *id)
{
	static const char *const parts[] = { "archive", "install", "rolled-back" };
	char *dir;
	int rc = KH_OK;

	for (size_t i = 0; i < 3 && rc == KH_OK; i++) {
		struct kh_dirent *ents = NULL;
		size_t n = 0;

		if (!(dir = kh_asprintf(KH_BACKUP_DIR "\\%s\\%s", id, parts[i])))
			return KH_ERR_NOMEM;
		rc = plat_list(p, dir, &ents, &n);
		for (size_t j = 0; rc == KH_OK && j < n; j++) {
			char *f = kh_asprintf("%s\\%s", dir, ents[j].name);
			rc = f ? plat_remove(p, f) : KH_ERR_NOMEM;
			free(f);
		}
		plat_free_list(ents, n);
		if (rc == KH_OK)
			rc = plat_remove(p, dir);
		if (rc == KH_ERR_NOENT)
			rc = KH_OK;
		free(dir);
	}
	if (rc != KH_OK)
		return rc;
	if (!(dir = kh_asprintf(KH_BACKUP_DIR "\\%s\\manifest.ini", id)))
		return KH_ERR_NOMEM;
	rc = plat_remove(p, dir);
	free(dir);
	if (rc != KH_OK && rc != KH_ERR_NOENT)
		return rc;
	if (!(dir = kh_asprintf(KH_BACKUP_DIR "\\%s", id)))
		return KH_ERR_NOMEM;
	rc = plat_remove(p, dir);
	free(dir);
	return rc;
}

int backup_prune(kh_plat *p, int keep, const char *spare)
{
	char **ids;
	size_t n, excess;
	int rc = backup_list(p, &ids, &n);

	if (rc != KH_OK)
		return rc;
	excess = n > (size_t)keep ? n - (size_t)keep : 0;
	for (size_t i = 0; i < n && excess && rc == KH_OK; i++) {
		if (spare && !strcmp(ids[i], spare))
			continue;
		kh_log(KH_LOG_INFO, "retention", "deleting backup %s (keep_backups = %d)",
		       ids[i], keep);
		rc = backup_delete(p, ids[i]);
		excess--;
	}
	backup_free_ids(ids, n);
	return rc;
}

/* Digest of a regular file at path; "" when it is larger than max. */
static int digest_of(kh_plat *p, const char *path, size_t max, char sha[KH_SHA256_HEX])
{
	unsigned char *buf = NULL;
	size_t len;
	int rc = plat_read(p, path, max, &buf, &len);

	sha[0] = '\0';
	if (rc == KH_ERR_TOOBIG)
		return KH_OK;
	if (rc == KH_OK)
		rc = kh_sha256_buf(buf, len, sha);
	free(buf);
	return rc;
}

int backup_move_dir(kh_plat *p, struct kh_backup *b, const char *part,
		    const char *dir, const char *only, size_t max_size)
{
	struct kh_dirent *ents = NULL;
	size_t n = 0, first = b->n;
	char *pdir = backup_path(b, part, NULL);
	int rc = pdir ? plat_list(p, dir, &ents, &n) : KH_ERR_NOMEM;

	if (rc == KH_ERR_NOENT)
		rc = KH_OK;
	if (rc == KH_OK && n)
		rc = plat_mkdirs(p, pdir);
	for (size_t i = 0; rc == KH_OK && i < n; i++) {
		char sha[KH_SHA256_HEX] = "", *from;

		if (only && kh_strcasecmp(only, ents[i].name))
			continue;
		if (ents[i].err) {      /* cannot be examined, nor moved */
			kh_log(KH_LOG_WARN, "backup", "%s\\%s cannot be examined (%s): left where "
			       "it is", dir, ents[i].name, strerror(ents[i].err));
			continue;
		}
		if (!(from = kh_asprintf("%s\\%s", dir, ents[i].name)))
			rc = KH_ERR_NOMEM;
		else if (ents[i].type == KH_FT_FILE)
			rc = digest_of(p, from, max_size, sha);
		if (rc == KH_OK)
			rc = backup_add(b, part, dir, ents[i].name, ents[i].type,
					ents[i].size, ents[i].mtime, sha);
		free(from);
	}
	/* the manifest lands before anything moves */
	if (rc == KH_OK && b->n > first)
		rc = backup_save(p, b);
	for (size_t i = first; rc == KH_OK && i < b->n; i++) {
		char *from = kh_asprintf("%s\\%s", dir, b->files[i].name);
		char *to = backup_path(b, part, b->files[i].name);

		rc = from && to ? journal_move(p, from, to) : KH_ERR_NOMEM;
		if (rc == KH_OK)
			rc = plat_rename(p, from, to);
		if (rc == KH_OK) {
			kh_log(KH_LOG_INFO, "backup", "moved %s to backup %s", from, b->id);
			kh_test_stop("backup-move");
		}
		free(from);
		free(to);
	}
	/* what landed in the backup is what was recorded */
	for (size_t i = first; rc == KH_OK && i < b->n; i++) {
		char sha[KH_SHA256_HEX], *to = backup_path(b, part, b->files[i].name);

		if (!to)
			rc = KH_ERR_NOMEM;
		else if (b->files[i].type == KH_FT_FILE && b->files[i].sha256[0] &&
			 (rc = digest_of(p, to, max_size, sha)) == KH_OK &&
			 strcmp(sha, b->files[i].sha256)) {
			kh_seterr("backup %s: %s changed while being moved", b->id, to);
			rc = KH_ERR_IO;
		}
		free(to);
	}
	plat_free_list(ents, n);
	free(pdir);
	return rc;
}

/* ---- journal ---- */

static int jwrite(kh_plat *p, const char *fmt, ...) KH_PRINTF(2, 3);
static int jwrite(kh_plat *p, const char *fmt, ...)
{
	va_list ap;
	char *line;
	int rc, r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0)
		return KH_ERR_NOMEM;
	rc = plat_append_sync(p, KH_JOURNAL, line, (size_t)r);
	free(line);
	return rc;
}

int journal_begin(kh_plat *p, const char *id)
{
	return jwrite(p, "begin\t%s\t%ld\n", id, (long)getpid());
}

int journal_move(kh_plat *p, const char *from, const char *to)
{
	return jwrite(p, "move\t%s\t%s\n", from, to);
}

int journal_stage(kh_plat *p, const char *path, const char *sha256)
{
	return jwrite(p, "stage\t%s\t%s\n", path, sha256);
}

int journal_reg(kh_plat *p, const struct kh_regval *old, size_t n)
{
	int rc = KH_OK;

	for (size_t i = 0; rc == KH_OK && i < n; i++)
		rc = jwrite(p, "reg\t%s\t%s\t%d\t%d\t%s\n", old[i].key, old[i].name,
			    (int)old[i].type, old[i].data != NULL,
			    old[i].data ? old[i].data : "");
	return rc;
}

int journal_end(kh_plat *p)
{
	int rc = plat_remove(p, KH_JOURNAL);

	return rc == KH_ERR_NOENT ? KH_OK : rc;
}

#define MAXF 6

static size_t split(char *line, char **f)
{
	size_t n = 0;

	for (char *s = line; n < MAXF; ) {
		f[n++] = s;
		if (!(s = strchr(s, '\t')))
			break;
		*s++ = '\0';
	}
	return n;
}

/* Entry `to` went back to `from`; a newcomer at `from` moves aside first. */
static int undo_move(kh_plat *p, const char *id, const char *from, const char *to,
		     struct kh_recovery *r)
{
	struct kh_dirent st;
	int rc = plat_stat(p, to, &st);

	if (rc == KH_ERR_NOENT)
		return KH_OK;          /* never moved */
	if (rc != KH_OK)
		return rc;
	free(st.name);
	rc = plat_stat(p, from, &st);
	if (rc == KH_OK) {
		const char *base = strrchr(from, '\\');
		char *dir = kh_asprintf(KH_BACKUP_DIR "\\%s\\rolled-back", id);
		char *aside = kh_asprintf("%s\\%s", dir ? dir : "", base ? base + 1 : from);

		free(st.name);
		rc = dir && aside ? plat_mkdirs(p, dir) : KH_ERR_NOMEM;
		if (rc == KH_OK)
			rc = plat_rename(p, from, aside);
		free(dir);
		free(aside);
		if (rc != KH_OK)
			return rc;
	} else if (rc != KH_ERR_NOENT)
		return rc;
	if ((rc = plat_rename(p, to, from)) == KH_OK) {
		r->undone++;
		kh_log(KH_LOG_INFO, "recover", "moved %s back to %s", to, from);
	}
	return rc;
}

/* A staged file is removed only if it holds exactly what we wrote. */
static int undo_stage(kh_plat *p, const char *path, const char *sha, long pid,
		      struct kh_recovery *r)
{
	char now[KH_SHA256_HEX], leaf[256], *tmp = NULL;
	const char *base = strrchr(path, '\\');
	int rc;

	if (kh_temp_name(leaf, sizeof(leaf), base ? base + 1 : path, pid) == KH_OK)
		tmp = kh_asprintf("%.*s%s", base ? (int)(base - path + 1) : 0, path, leaf);
	if (tmp && plat_remove(p, tmp) == KH_OK)
		kh_log(KH_LOG_INFO, "recover", "removed unfinished temp file %s", tmp);
	free(tmp);
	rc = digest_of(p, path, 64 << 20, now);
	if (rc == KH_ERR_NOENT)
		return KH_OK;
	if (rc != KH_OK)
		return rc;
	if (strcmp(now, sha)) {
		kh_log(KH_LOG_WARN, "recover", "%s changed since staged; left in place", path);
		return KH_OK;
	}
	if ((rc = plat_remove(p, path)) == KH_OK) {
		r->undone++;
		kh_log(KH_LOG_INFO, "recover", "removed staged %s", path);
	}
	return rc;
}

static int undo_reg(kh_plat *p, char **f, struct kh_recovery *r)
{
	struct kh_regval v = { f[1], f[2], (enum kh_regtype)atoi(f[3]),
			       atoi(f[4]) ? f[5] : NULL };
	int rc = plat_reg_undo(p, &v, 1);

	if (rc == KH_OK) {
		r->undone++;
		kh_log(KH_LOG_INFO, "recover", "registry %s\\%s restored", f[1], f[2]);
	}
	return rc;
}

static void mark_rolled_back(kh_plat *p, const char *id)
{
	struct kh_backup b;

	if (backup_load(p, id, &b) == KH_OK) {
		b.state = KH_BS_ROLLED_BACK;
		backup_save(p, &b);
	}
	backup_free(&b);
}

int journal_recover(kh_plat *p, struct kh_recovery *r)
{
	unsigned char *buf = NULL;
	char **lines = NULL, *save = NULL;
	size_t len, n = 0;
	long pid = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = plat_read(p, KH_JOURNAL, 64 << 20, &buf, &len);
	if (rc == KH_ERR_NOENT)
		return KH_OK;
	if (rc != KH_OK)
		return rc;
	for (char *l = strtok_r((char *)buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char **nl = realloc(lines, (n + 1) * sizeof(*lines));
		if (!nl) {
			rc = KH_ERR_NOMEM;
			goto out;
		}
		lines = nl;
		lines[n++] = l;
	}
	if (n && !strcmp(lines[n - 1], "end"))
		goto done;
	r->found = 1;
	for (size_t i = 0; i < n; i++) {
		char id[32];
		if (sscanf(lines[i], "begin\t%31[^\t]\t%ld", id, &pid) == 2 && strcmp(id, "-"))
			snprintf(r->id, sizeof(r->id), "%s", id);
	}
	for (size_t i = n; rc == KH_OK && i-- > 0;) {
		char *f[MAXF] = { 0 };
		size_t nf = split(lines[i], f);

		if (!strcmp(f[0], "move") && nf == 3)
			rc = undo_move(p, r->id, f[1], f[2], r);
		else if (!strcmp(f[0], "stage") && nf == 3)
			rc = undo_stage(p, f[1], f[2], pid, r);
		else if (!strcmp(f[0], "reg") && nf == 6)
			rc = undo_reg(p, f, r);
	}
	if (rc != KH_OK)
		goto out;
	if (r->id[0])
		mark_rolled_back(p, r->id);
	else
		snprintf(r->id, sizeof(r->id), "(no backup)");
	snprintf(r->detail, sizeof(r->detail),
		 "interrupted run %s (pid %ld) rolled back: %d action(s) undone",
		 r->id, pid, r->undone);
	kh_log(KH_LOG_WARN, "recover", "%s", r->detail);
done:
	rc = journal_end(p);
out:
	free(lines);
	free(buf);
	return rc;
}
