/* state.c - backups and their manifests (SPEC section 8).
 *
 * Design: a backup's manifest is saved before any entry moves into it, so
 * a backup folder always says what it should hold.  The manifest is
 * records of record.h - exact bytes, each record with its own length and
 * checksum - written whole, so one damaged record means the file was
 * damaged afterwards, and nothing of it is trusted.  The moves are
 * journalled (journal.c) one by one before they happen.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "khreset.h"
#include "budget.h"
#include "state.h"

#define MANIFEST_FORMAT "1"

/* ---- names and paths ---- */

static const char *const bstate_names[KH_BS__COUNT] = {
	[KH_BS_IN_PROGRESS] = "in-progress", [KH_BS_COMPLETE] = "complete",
	[KH_BS_ROLLED_BACK] = "rolled-back", [KH_BS_RESTORED] = "restored",
};

const char *bstate_name(enum kh_bstate s)
{
	return (unsigned)s < KH_BS__COUNT ? bstate_names[s] : "unknown";
}

int bstate_parse(const char *text, enum kh_bstate *s)
{
	for (int i = 0; text && i < KH_BS__COUNT; i++)
		if (!strcmp(text, bstate_names[i])) {
			*s = (enum kh_bstate)i;
			return 1;
		}
	return 0;
}

static const char *const tnames[] = { "file", "directory", "symlink", "other" };

const char *ftype_name(enum kh_ftype t)
{
	return (unsigned)t < 4 ? tnames[t] : "other";
}

int ftype_parse(const char *text, enum kh_ftype *t)
{
	for (int i = 0; text && i < 4; i++)
		if (!strcmp(text, tnames[i])) {
			*t = (enum kh_ftype)i;
			return 1;
		}
	return 0;
}

const char *const kh_parts[KH_NPARTS] = { KH_PART_ARCHIVE, KH_PART_INSTALL,
					   KH_PART_REGISTRY, KH_PART_ROLLED };

static int part_ok(const char *part)
{
	for (size_t i = 0; part && i < KH_NPARTS; i++)
		if (!strcmp(part, kh_parts[i]))
			return 1;
	return 0;
}

int backup_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n >= 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= 'a' && id[i] <= 'z') ||
		      (id[i] >= '0' && id[i] <= '9') || (i && (id[i] == '-' || id[i] == '_'))))
			return 0;
	return 1;
}

int state_name_ok(const char *name)
{
	return name && *name && strcmp(name, ".") && strcmp(name, "..") &&
	       !strpbrk(name, "\\/");
}

int state_path_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		char x = *a == '/' ? '\\' : *a, y = *b == '/' ? '\\' : *b;

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
		if (!x)
			return 1;
	}
}


char *backup_path(const char *id, const char *part, const char *name)
{
	if (!part || !*part)
		return kh_asprintf(KH_BACKUP_DIR "\\%s", id);
	if (!name)
		return kh_asprintf(KH_BACKUP_DIR "\\%s\\%s", id, part);
	return kh_asprintf(KH_BACKUP_DIR "\\%s\\%s\\%s", id, part, name);
}

/* ---- backups ---- */

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
		if (!(dir = backup_path(b->id, "", NULL)))
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
	kh_clearerr();
	b->reason = kh_strdup(reason);
	b->state = KH_BS_IN_PROGRESS;
	return b->reason ? KH_OK : KH_ERR_NOMEM;
}

int backup_add(struct kh_backup *b, const char *part, const char *origin,
	       const char *name, enum kh_ftype type, uint64_t size,
	       int64_t mtime, const char *sha256)
{
	struct kh_bfile *f;

	if (b->n == b->cap) {
		size_t nc = b->cap ? 2 * b->cap : 16;
		struct kh_bfile *nf = realloc(b->files, nc * sizeof(*nf));

		if (!nf)
			return KH_ERR_NOMEM;
		b->files = nf;
		b->cap = nc;
	}
	f = &b->files[b->n++];
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

size_t backup_count(const struct kh_backup *b, const char *part)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		n += !strcmp(b->files[i].part, part);
	return n;
}

static int fmt_manifest(const struct kh_backup *b, struct kh_recbuf *t)
{
	char when[32];

	kh_fmt_time(b->created, when);
	rec_open(t, "khreset-backup");
	rec_str(t, "format", MANIFEST_FORMAT);
	rec_str(t, "id", b->id);
	rec_i64(t, "created", b->created);
	rec_str(t, "created_utc", when);
	rec_str(t, "reason", b->reason);
	rec_str(t, "state", bstate_name(b->state));
	rec_str(t, "tool", "khreset " KH_VERSION);
	rec_close(t);
	for (size_t i = 0; i < b->n; i++) {
		const struct kh_bfile *e = &b->files[i];

		rec_open(t, "file");
		rec_str(t, "name", e->name);
		rec_str(t, "part", e->part);
		rec_str(t, "origin", e->origin);
		rec_str(t, "type", tnames[e->type]);
		rec_u64(t, "size", e->size);
		rec_i64(t, "mtime", e->mtime);
		rec_str(t, "sha256", e->sha256);
		rec_close(t);
	}
	return rec_done(t);
}

int backup_save(kh_plat *p, const struct kh_backup *b)
{
	struct kh_recbuf t = { 0 };
	char *path = backup_path(b->id, KH_MANIFEST, NULL);
	int rc = path ? KH_OK : KH_ERR_NOMEM;

	/* the parts a run moves into, and the one its rollback may need on
	 * a full disk, exist before anything moves */
	for (size_t i = 0; rc == KH_OK && i < KH_NPARTS; i++) {
		char *dir;

		if (strcmp(kh_parts[i], KH_PART_ARCHIVE) && strcmp(kh_parts[i], KH_PART_ROLLED))
			continue;
		dir = backup_path(b->id, kh_parts[i], NULL);
		rc = dir ? plat_mkdirs(p, dir) : KH_ERR_NOMEM;
		free(dir);
	}
	if (rc == KH_OK)
		rc = fmt_manifest(b, &t);
	if (rc == KH_OK)
		rc = plat_write_atomic(p, path, t.s, t.len);
	rec_free(&t);
	free(path);
	return rc;
}

static int bad_manifest(const char *id, const struct kh_rec *r, const char *why)
{
	kh_seterr("backup %s: %s record %zu (byte %zu): %s; the manifest is not trusted",
		  id, KH_MANIFEST, r->line, r->offset, why);
	return KH_ERR_DATA;
}

static int load_file(struct kh_backup *b, const struct kh_rec *r)
{
	const char *name = rec_get(r, "name"), *part = rec_get(r, "part");
	const char *origin = rec_get(r, "origin"), *sha = rec_get(r, "sha256");
	enum kh_ftype type;
	uint64_t size;
	int64_t mtime;

	if (!state_name_ok(name))
		return bad_manifest(b->id, r, "no usable name");
	if (!part_ok(part) || !origin || !*origin)
		return bad_manifest(b->id, r, "no part or origin");
	if (!ftype_parse(rec_get(r, "type"), &type) || !rec_get_u64(r, "size", &size) ||
	    !rec_get_i64(r, "mtime", &mtime))
		return bad_manifest(b->id, r, "no type, size or mtime");
	if (!sha || (*sha && !kh_is_sha256_hex(sha)))
		return bad_manifest(b->id, r, "no SHA-256");
	return backup_add(b, part, origin, name, type, size, mtime, sha);
}

int manifest_parse(const char *id, const void *buf, size_t len, struct kh_backup *b)
{
	struct kh_recs rs;
	const struct kh_rec *h;
	int rc;

	memset(b, 0, sizeof(*b));
	snprintf(b->id, sizeof(b->id), "%s", id);
	if ((rc = rec_parse(buf, len, &rs)) != KH_OK)
		return rc;
	for (size_t i = 0; i < rs.n; i++)
		if (!rs.r[i].ok) {
			rc = bad_manifest(id, &rs.r[i], rs.r[i].why);
			goto out;
		}
	h = rs.n ? &rs.r[0] : NULL;
	if (!h || strcmp(h->type, "khreset-backup")) {
		kh_seterr("backup %s: %s does not start with its khreset-backup record", id,
			  KH_MANIFEST);
		rc = KH_ERR_DATA;
		goto out;
	}
	if (!rec_get(h, "format") || strcmp(rec_get(h, "format"), MANIFEST_FORMAT)) {
		rc = bad_manifest(id, h, "a format this khreset does not know");
		goto out;
	}
	if (!rec_get(h, "id") || strcmp(rec_get(h, "id"), id)) {
		rc = bad_manifest(id, h, "the ID of another backup");
		goto out;
	}
	if (!bstate_parse(rec_get(h, "state"), &b->state) || !rec_get(h, "reason") ||
	    !*rec_get(h, "reason") || !rec_get_i64(h, "created", &b->created)) {
		rc = bad_manifest(id, h, "no known state, reason or time");
		goto out;
	}
	if (!(b->reason = kh_strdup(rec_get(h, "reason")))) {
		rc = KH_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 1; rc == KH_OK && i < rs.n; i++)
		if (!strcmp(rs.r[i].type, "file"))
			rc = load_file(b, &rs.r[i]);
out:
	rec_free_all(&rs);
	return rc;
}

int backup_load(kh_plat *p, const char *id, struct kh_backup *b)
{
	unsigned char *buf = NULL;
	char *path;
	size_t len;
	int rc;

	memset(b, 0, sizeof(*b));
	if (!backup_id_ok(id)) {
		kh_seterr("backup '%s': not a backup ID", id);
		return KH_ERR_USAGE;
	}
	if (!(path = backup_path(id, KH_MANIFEST, NULL)))
		return KH_ERR_NOMEM;
	rc = plat_read(p, path, 256 << 20, &buf, &len);
	if (rc == KH_ERR_NOENT) {
		char *old = backup_path(id, "manifest.ini", NULL);
		struct kh_dirent st;

		if (old && plat_stat(p, old, &st) == KH_OK) {
			free(st.name);
			kh_seterr("backup %s: made by an older khreset (manifest.ini, a format that "
				  "cannot hold every name); not read - its files are in %s", id,
				  KH_BACKUP_DIR);
			rc = KH_ERR_DATA;
		} else {
			kh_seterr("backup %s: no such backup (%s missing)", id, path);
		}
		free(old);
	}
	if (rc == KH_OK)
		rc = manifest_parse(id, buf, len, b);
	free(buf);
	free(path);
	return rc;
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
	if (rc == KH_ERR_NOENT) {
		kh_clearerr();
		return KH_OK;
	}
	if (rc != KH_OK)
		return rc;
	*ids = calloc(ne ? ne : 1, sizeof(char *));
	if (!*ids) {
		plat_free_list(ents, ne);
		return KH_ERR_NOMEM;
	}
	/* plat_list sorts by name; IDs sort by time */
	for (size_t i = 0; i < ne; i++)
		if (ents[i].type == KH_FT_DIR && backup_id_ok(ents[i].name)) {
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
	char *dir;
	int rc = KH_OK;

	for (size_t i = 0; i < KH_NPARTS && rc == KH_OK; i++) {
		struct kh_dirent *ents = NULL;
		size_t n = 0;

		if (!(dir = backup_path(id, kh_parts[i], NULL)))
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
	if (!(dir = backup_path(id, KH_MANIFEST, NULL)))
		return KH_ERR_NOMEM;
	rc = plat_remove(p, dir);
	free(dir);
	if (rc != KH_OK && rc != KH_ERR_NOENT)
		return rc;
	if (!(dir = backup_path(id, "", NULL)))
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

int state_digest(kh_plat *p, const char *path, size_t max, char sha[KH_SHA256_HEX])
{
	unsigned char *buf = NULL;
	size_t len;
	int rc = kh_busy_read(p, path, max, &buf, &len);

	sha[0] = '\0';
	if (rc == KH_ERR_TOOBIG) {
		kh_clearerr();
		return KH_OK;
	}
	if (rc == KH_OK)
		rc = kh_sha256_buf(buf, len, sha);
	free(buf);
	return rc;
}

static int casecmp_ent(const void *a, const void *b)
{
	const struct kh_dirent *x = *(const struct kh_dirent *const *)a;
	const struct kh_dirent *y = *(const struct kh_dirent *const *)b;

	return kh_strcasecmp(x->name, y->name);
}

/* Names Windows could not hold side by side, or at all, refuse the move
 * before anything changes. */
static int check_names(const char *dir, struct kh_dirent *ents, size_t n, const char *only)
{
	struct kh_dirent **v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;
	int rc = KH_OK;

	if (!v)
		return KH_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (!only || !kh_strcasecmp(only, ents[i].name))
			v[k++] = &ents[i];
	qsort(v, k, sizeof(*v), casecmp_ent);
	for (size_t i = 0; rc == KH_OK && i < k; i++) {
		if (!state_name_ok(v[i]->name)) {
			kh_seterr("%s: entry '%s' has a name Windows cannot hold (a '\\'); "
				  "nothing moved", dir, v[i]->name);
			rc = KH_ERR_DATA;
		} else if (i && !kh_strcasecmp(v[i - 1]->name, v[i]->name)) {
			kh_seterr("%s: entries '%s' and '%s' differ only in case, which Windows "
				  "cannot tell apart; rename or remove one; nothing moved", dir,
				  v[i - 1]->name, v[i]->name);
			rc = KH_ERR_DATA;
		}
	}
	free(v);
	return rc;
}

void state_log_moved(size_t i, size_t n, const char *area, const char *from,
		     const char *how, const char *to)
{
	if (i < KH_LOG_MOVES)
		kh_log(KH_LOG_INFO, area, "moved %s %s %s", from, how, to);
	else
		kh_log(KH_LOG_DEBUG, area, "moved %s %s %s", from, how, to);
	if (i == KH_LOG_MOVES && n > KH_LOG_MOVES)
		kh_log(KH_LOG_INFO, area, "... and %zu more moved %s %s (each named at log "
		       "level debug; the backup's manifest lists them all)", n - KH_LOG_MOVES,
		       how, to);
}

int backup_move_dir(kh_plat *p, struct kh_backup *b, const char *part,
		    const char *dir, const char *only, size_t max_size)
{
	struct kh_dirent *ents = NULL;
	size_t n = 0, first = b->n;
	int i_rc;
	char *pdir = backup_path(b->id, part, NULL);
	int rc = pdir ? plat_list(p, dir, &ents, &n) : KH_ERR_NOMEM;

	if (rc == KH_ERR_NOENT) {
		kh_clearerr();
		rc = KH_OK;
	}
	if (rc == KH_OK)
		rc = check_names(dir, ents, n, only);
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
			rc = state_digest(p, from, max_size, sha);
		if (rc == KH_OK)
			rc = backup_add(b, part, dir, ents[i].name, ents[i].type,
					ents[i].size, ents[i].mtime, sha);
		free(from);
	}
	/* the manifest lands before anything moves */
	if (rc == KH_OK && b->n > first)
		rc = backup_save(p, b);
	if (rc == KH_OK && b->n > first)
		rc = plat_mkdirs(p, pdir);
	/* every move journalled in one flush, then done, the folders flushed
	 * once: linear in the entries, a few flushes in all */
	journal_hold();
	for (size_t i = first; rc == KH_OK && i < b->n; i++)
		rc = journal_move(p, b->files[i].name, dir, pdir, b->files[i].type,
				  b->files[i].size, b->files[i].sha256);
	if ((i_rc = journal_release(p)) != KH_OK && rc == KH_OK)
		rc = i_rc;
	if (rc == KH_OK)
		plat_defer_sync(p);
	for (size_t i = first; rc == KH_OK && i < b->n; i++) {
		const struct kh_bfile *f = &b->files[i];
		char *from = kh_asprintf("%s\\%s", dir, f->name);
		char *to = backup_path(b->id, part, f->name);

		rc = from && to ? kh_busy_rename(p, from, to) : KH_ERR_NOMEM;
		if (rc == KH_OK) {
			state_log_moved(i - first, b->n - first, "backup", from, "to backup", b->id);
			kh_test_stop("backup-move");
		}
		free(from);
		free(to);
	}
	if ((i_rc = plat_sync_deferred(p)) != KH_OK && rc == KH_OK)
		rc = i_rc;
	/* what landed in the backup is what was recorded */
	for (size_t i = first; rc == KH_OK && i < b->n; i++) {
		char sha[KH_SHA256_HEX], *to = backup_path(b->id, part, b->files[i].name);

		if (!to)
			rc = KH_ERR_NOMEM;
		else if (b->files[i].type == KH_FT_FILE && b->files[i].sha256[0] &&
			 (rc = state_digest(p, to, max_size, sha)) == KH_OK &&
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

