/* wim.c - thin wimlib layer for bake and lint: open, look up, read, update,
 * commit.  Text crosses here: UTF-8 on our side, wimlib_tchar on wimlib's
 * (char on Linux, UTF-16 wchar_t in wimlib's Windows build). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wimlib.h>

#include "khreset.h"
#include "wim.h"

struct prop {
	int image;
	char *name, *value;
};

struct kh_wim {
	WIMStruct *wim;
	char *path;
	char *tmpdir;          /* lazily created, for wim_read */
	int count;
	int integrity;
	int progress;          /* print write progress */
	int last_pct;
	struct prop *props;    /* wim_prop's answers, in UTF-8 */
	size_t nprops;
};

#ifdef _WIN32
#define tc_from(s) kh_win_utf8_to_w(s)
#define tc_to(s)   kh_win_w_to_utf8(s)
#else
#define tc_from(s) strdup(s)
#define tc_to(s)   strdup(s)
#endif

/* wimlib's text as UTF-8, malloc'd; "" for NULL; NULL: no memory. */
static char *tc_str(const wimlib_tchar *t)
{
	return t ? tc_to(t) : strdup("");
}

void wim_init(void)
{
	wimlib_global_init(WIMLIB_INIT_FLAG_DEFAULT_CASE_INSENSITIVE);
	wimlib_set_print_errors(false);
}

void wim_cleanup(void)
{
	wimlib_global_cleanup();
}

/* wimlib error -> kh_err, with detail. */
static int wim_err(int wr, const char *file, const char *what)
{
	int rc;

	switch (wr) {
	case WIMLIB_ERR_NOMEM:
		rc = KH_ERR_NOMEM;
		break;
	case WIMLIB_ERR_WIM_IS_READONLY:
		rc = KH_ERR_PERM;
		break;
	case WIMLIB_ERR_ALREADY_LOCKED:
		rc = KH_ERR_BUSY;
		break;
	case WIMLIB_ERR_PATH_DOES_NOT_EXIST:
		rc = KH_ERR_NOENT;
		break;
	case WIMLIB_ERR_OPEN:
		rc = (errno == EACCES || errno == EPERM || errno == EROFS) ?
			KH_ERR_PERM : KH_ERR_IO;
		break;
	case WIMLIB_ERR_NOT_A_WIM_FILE: case WIMLIB_ERR_INVALID_HEADER:
	case WIMLIB_ERR_UNKNOWN_VERSION: case WIMLIB_ERR_IMAGE_COUNT:
	case WIMLIB_ERR_XML: case WIMLIB_ERR_INTEGRITY:
	case WIMLIB_ERR_INVALID_INTEGRITY_TABLE: case WIMLIB_ERR_IS_SPLIT_WIM:
	case WIMLIB_ERR_INVALID_LOOKUP_TABLE_ENTRY: case WIMLIB_ERR_INVALID_PARAM:
	case WIMLIB_ERR_INVALID_METADATA_RESOURCE: case WIMLIB_ERR_INVALID_CHUNK_SIZE:
	case WIMLIB_ERR_INVALID_COMPRESSION_TYPE: case WIMLIB_ERR_INVALID_PART_NUMBER:
	case WIMLIB_ERR_INVALID_RESOURCE_HASH: case WIMLIB_ERR_DECOMPRESSION:
	case WIMLIB_ERR_UNEXPECTED_END_OF_FILE: case WIMLIB_ERR_METADATA_NOT_FOUND:
	case WIMLIB_ERR_RESOURCE_NOT_FOUND: case WIMLIB_ERR_WIM_IS_ENCRYPTED:
	case WIMLIB_ERR_WIM_IS_INCOMPLETE: case WIMLIB_ERR_SPLIT_INVALID:
	case WIMLIB_ERR_INVALID_IMAGE: case WIMLIB_ERR_RESOURCE_ORDER:
		rc = KH_ERR_DATA;
		break;
	default:
		rc = KH_ERR_IO;
	}
	{
		char *e = tc_str(wimlib_get_error_string(wr));
		kh_seterr("%s: %s: %s", file, what, e ? e : "?");
		free(e);
	}
	return rc;
}

/* 1 if path is one part of a split WIM (total parts above 1). */
static int split_part(const char *path)
{
	struct wimlib_wim_info info;
	WIMStruct *wim;
	int split = 0;

	if (wimlib_open_wim(path, 0, &wim) == 0) {
		if (wimlib_get_wim_info(wim, &info) == 0)
			split = info.total_parts > 1;
		wimlib_free(wim);
	}
	return split;
}

int wim_open(const char *path, int writable, kh_wim **out)
{
	int flags = WIMLIB_OPEN_FLAG_ERROR_IF_SPLIT | WIMLIB_OPEN_FLAG_CHECK_INTEGRITY;
	struct wimlib_wim_info info;
	wimlib_tchar *tpath;
	struct stat st;
	kh_wim *w;
	int wr;

	*out = NULL;
	if (stat(path, &st) != 0) {
		kh_seterr("%s: %s", path, strerror(errno));
		return errno == ENOENT ? KH_ERR_NOENT : KH_ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		kh_seterr("%s: not a regular file", path);
		return KH_ERR_DATA;
	}
	if (writable && access(path, W_OK) != 0) {
		kh_seterr("%s: no write access: %s", path, strerror(errno));
		return KH_ERR_PERM;
	}
	if (!(w = calloc(1, sizeof(*w))) || !(w->path = strdup(path))) {
		free(w);
		return KH_ERR_NOMEM;
	}
	w->last_pct = -1;
	if (writable)
		flags |= WIMLIB_OPEN_FLAG_WRITE_ACCESS;
	tpath = tc_from(path);
	wr = tpath ? wimlib_open_wim(tpath, flags, &w->wim) : WIMLIB_ERR_NOMEM;
	free(tpath);
	/* a split WIM's part is read-only to wimlib: say what it is (bad
	 * input, as lint says), not "no write access" */
	if (wr == WIMLIB_ERR_WIM_IS_READONLY && split_part(path))
		wr = WIMLIB_ERR_IS_SPLIT_WIM;
	if (wr != 0) {
		int rc = wim_err(wr, path, "cannot open as a WIM");
		wim_close(w);
		return rc;
	}
	wimlib_get_wim_info(w->wim, &info);
	w->count = (int)info.image_count;
	w->integrity = info.has_integrity_table;
	*out = w;
	return KH_OK;
}

/* wim_read's folder holds at most the file being read: empty it, remove it. */
static void tmpdir_remove(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d))) {
		char *f;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((f = kh_asprintf("%s/%s", dir, de->d_name)))
			unlink(f);
		free(f);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

void wim_close(kh_wim *w)
{
	if (!w)
		return;
	if (w->wim)
		wimlib_free(w->wim);
	if (w->tmpdir)
		tmpdir_remove(w->tmpdir);
	for (size_t i = 0; i < w->nprops; i++) {
		free(w->props[i].name);
		free(w->props[i].value);
	}
	free(w->props);
	free(w->tmpdir);
	free(w->path);
	free(w);
}

int wim_image_count(const kh_wim *w) { return w->count; }
int wim_has_integrity(const kh_wim *w) { return w->integrity; }

const char *wim_prop(const kh_wim *w, int image, const char *name)
{
	kh_wim *m = (kh_wim *)w;       /* the answers are cached */
	struct prop *v;
	wimlib_tchar *tname;
	char *val;

	for (size_t i = 0; i < w->nprops; i++)
		if (w->props[i].image == image && !strcmp(w->props[i].name, name))
			return w->props[i].value;
	if (!(tname = tc_from(name)))
		return "";
	val = tc_str(wimlib_get_image_property(w->wim, image, tname));
	free(tname);
	if (!val || !(v = realloc(m->props, (w->nprops + 1) * sizeof(*v)))) {
		free(val);
		return "";
	}
	m->props = v;
	v[m->nprops] = (struct prop){ image, strdup(name), val };
	if (!v[m->nprops].name) {
		free(val);
		return "";
	}
	return v[m->nprops++].value;
}

void wim_ent_clear(struct kh_wim_ent *e)
{
	free(e->name);
	free(e->path);
	memset(e, 0, sizeof(*e));
}

void wim_free_ents(struct kh_wim_ent *ents, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wim_ent_clear(&ents[i]);
	free(ents);
}

static int ent_fill(struct kh_wim_ent *e, const struct wimlib_dir_entry *d)
{
	memset(e, 0, sizeof(*e));
	if (!(e->name = tc_str(d->filename)) || !(e->path = tc_str(d->full_path))) {
		wim_ent_clear(e);
		return WIMLIB_ERR_NOMEM;
	}
	for (char *p = e->path; *p; p++)
		if (*p == '/')
			*p = '\\';
	e->is_dir = !!(d->attributes & WIMLIB_FILE_ATTRIBUTE_DIRECTORY);
	e->is_reparse = !!(d->attributes & WIMLIB_FILE_ATTRIBUTE_REPARSE_POINT);
	e->size = d->streams[0].resource.uncompressed_size;
	memcpy(e->sha1, d->streams[0].resource.sha1_hash, sizeof(e->sha1));
	return 0;
}

static int stat_cb(const struct wimlib_dir_entry *d, void *ctx)
{
	return ctx ? ent_fill(ctx, d) : 0;
}

/* wimlib_iterate_dir_tree on a UTF-8 path. */
static int iterate(kh_wim *w, int image, const char *path, int flags,
		   wimlib_iterate_dir_tree_callback_t cb, void *ctx)
{
	wimlib_tchar *t = tc_from(path);
	int wr = t ? wimlib_iterate_dir_tree(w->wim, image, t, flags, cb, ctx) :
		     WIMLIB_ERR_NOMEM;

	free(t);
	return wr;
}

int wim_stat(kh_wim *w, int image, const char *path, int *found,
	     struct kh_wim_ent *ent)
{
	int wr = iterate(w, image, path, 0, stat_cb, ent);

	*found = wr == 0;
	if (wr == 0 || wr == WIMLIB_ERR_PATH_DOES_NOT_EXIST)
		return KH_OK;
	return wim_err(wr, w->path, path);
}

struct list_ctx {
	struct kh_wim_ent *v;
	size_t n, cap;
};

static int list_cb(const struct wimlib_dir_entry *d, void *ctx)
{
	struct list_ctx *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct kh_wim_ent *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return WIMLIB_ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (ent_fill(&l->v[l->n], d))
		return WIMLIB_ERR_NOMEM;
	l->n++;
	return 0;
}

int wim_list(kh_wim *w, int image, const char *dir, int recursive,
	     struct kh_wim_ent **ents, size_t *n)
{
	int flags = WIMLIB_ITERATE_DIR_TREE_FLAG_CHILDREN;
	struct list_ctx l = { 0 };
	int wr;

	if (recursive)
		flags |= WIMLIB_ITERATE_DIR_TREE_FLAG_RECURSIVE;
	wr = iterate(w, image, dir, flags, list_cb, &l);
	if (wr && wr != WIMLIB_ERR_PATH_DOES_NOT_EXIST) {
		wim_free_ents(l.v, l.n);
		return wim_err(wr, w->path, dir);
	}
	*ents = l.v;
	*n = l.n;
	return KH_OK;
}

/* TMPDIR; Windows names its temporary folder TEMP or TMP. */
static const char *tmp_base(void)
{
	static const char *const vars[] = { "TMPDIR", "TEMP", "TMP" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *t = getenv(vars[i]);
		if (t && *t)
			return t;
	}
	return "/tmp";
}

static int tmpdir_get(kh_wim *w)
{
	char *tpl;

	if (w->tmpdir)
		return KH_OK;
	if (!(tpl = kh_asprintf("%s/khreset-wim.XXXXXX", tmp_base())))
		return KH_ERR_NOMEM;
	if (!mkdtemp(tpl)) {
		kh_seterr("%s: %s", tpl, strerror(errno));
		free(tpl);
		return KH_ERR_IO;
	}
	w->tmpdir = tpl;
	return KH_OK;
}


int wim_read(kh_wim *w, int image, const char *path, size_t max,
	     unsigned char **buf, size_t *len)
{
	/* no attributes: a read-only or system file in the image must stay
	 * removable from the scratch folder on Windows */
	int flags = WIMLIB_EXTRACT_FLAG_NO_PRESERVE_DIR_STRUCTURE |
		    WIMLIB_EXTRACT_FLAG_NO_ACLS | WIMLIB_EXTRACT_FLAG_NO_ATTRIBUTES;
	struct kh_wim_ent e = { 0 };
	wimlib_tchar *tdir = NULL, *tpath = NULL;
	char *host = NULL;
	int found, rc, wr;

	*buf = NULL;
	*len = 0;
	if ((rc = wim_stat(w, image, path, &found, &e)) != KH_OK)
		return rc;
	if (!found) {
		kh_seterr("%s: image %d: %s: not found", w->path, image, path);
		return KH_ERR_NOENT;
	}
	rc = KH_ERR_UNSAFE;
	if (e.is_dir || e.is_reparse || strchr(e.name, '/') || !*e.name) {
		kh_seterr("%s: image %d: %s: not a regular file", w->path, image, path);
		goto out;
	}
	rc = KH_ERR_TOOBIG;
	if (e.size > max) {
		kh_seterr("%s: image %d: %s: larger than %zu bytes", w->path, image, path, max);
		goto out;
	}
	if ((rc = tmpdir_get(w)) != KH_OK)
		goto out;
	rc = KH_ERR_NOMEM;
	if (!(host = kh_asprintf("%s/%s", w->tmpdir, e.name)))
		goto out;
	unlink(host);
	if (!(tdir = tc_from(w->tmpdir)) || !(tpath = tc_from(path)))
		goto out;
	wr = wimlib_extract_paths(w->wim, image, tdir, (const wimlib_tchar *const *)&tpath,
				  1, flags);
	if (wr) {
		rc = wim_err(wr, w->path, path);
		goto out;
	}
	rc = kh_read_host(host, max, buf, len);
	unlink(host);
out:
	free(tdir);
	free(tpath);
	free(host);
	wim_ent_clear(&e);
	return rc;
}

static void cmds_free(struct wimlib_update_command *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		switch (c[i].op) {
		case WIMLIB_UPDATE_OP_ADD:
			free(c[i].add.fs_source_path);
			free(c[i].add.wim_target_path);
			break;
		case WIMLIB_UPDATE_OP_DELETE:
			free(c[i].delete_.wim_path);
			break;
		case WIMLIB_UPDATE_OP_RENAME:
			free(c[i].rename.wim_source_path);
			free(c[i].rename.wim_target_path);
			break;
		}
	}
	free(c);
}

/* Our commands as wimlib's, text converted; NULL: no memory. */
static struct wimlib_update_command *cmds_to(const struct wim_cmd *cmds, size_t n)
{
	struct wimlib_update_command *c = calloc(n ? n : 1, sizeof(*c));
	int ok = c != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		switch (cmds[i].op) {
		case WIM_DELETE:
			c[i].op = WIMLIB_UPDATE_OP_DELETE;
			c[i].delete_.delete_flags = WIMLIB_DELETE_FLAG_FORCE |
						    WIMLIB_DELETE_FLAG_RECURSIVE;
			ok = (c[i].delete_.wim_path = tc_from(cmds[i].path)) != NULL;
			break;
		case WIM_RENAME:
			c[i].op = WIMLIB_UPDATE_OP_RENAME;
			ok = (c[i].rename.wim_source_path = tc_from(cmds[i].path)) &&
			     (c[i].rename.wim_target_path = tc_from(cmds[i].to));
			break;
		case WIM_ADD:
			c[i].op = WIMLIB_UPDATE_OP_ADD;
			c[i].add.add_flags = WIMLIB_ADD_FLAG_NO_ACLS;
			ok = (c[i].add.fs_source_path = tc_from(cmds[i].src)) &&
			     (c[i].add.wim_target_path = tc_from(cmds[i].path));
			break;
		}
	}
	if (!ok) {
		cmds_free(c, n);
		return NULL;
	}
	return c;
}

int wim_update(kh_wim *w, int image, const struct wim_cmd *cmds, size_t n)
{
	struct wimlib_update_command *c = cmds_to(cmds, n);
	int wr = c ? wimlib_update_image(w->wim, image, c, n, 0) : WIMLIB_ERR_NOMEM;

	cmds_free(c, n);
	if (wr)
		return wim_err(wr, w->path, "update failed (image unchanged)");
	return KH_OK;
}

static void show_pct(kh_wim *w, const char *what, uint64_t done, uint64_t total)
{
	int pct = total ? (int)(done * 100 / total) : 100;

	if (!w->progress || pct == w->last_pct)
		return;
	w->last_pct = pct;
	fprintf(stderr, "\rkhreset: %s %3d%% (%llu of %llu MiB)", what, pct,
		(unsigned long long)(done >> 20), (unsigned long long)(total >> 20));
	if (pct == 100)
		fputc('\n', stderr), w->last_pct = -1;
}

static enum wimlib_progress_status
on_progress(enum wimlib_progress_msg msg, union wimlib_progress_info *info, void *ctx)
{
	kh_wim *w = ctx;

	switch (msg) {
	case WIMLIB_PROGRESS_MSG_WRITE_STREAMS:
		show_pct(w, "writing", info->write_streams.completed_bytes,
			 info->write_streams.total_bytes);
		break;
	case WIMLIB_PROGRESS_MSG_CALC_INTEGRITY:
		show_pct(w, "integrity", info->integrity.completed_bytes,
			 info->integrity.total_bytes);
		break;
	case WIMLIB_PROGRESS_MSG_WRITE_METADATA_END:
		/* New data is in the file; the header does not point to it yet. */
		kh_test_stop("bake-commit");
		break;
	default:
		break;
	}
	return WIMLIB_PROGRESS_STATUS_CONTINUE;
}

int wim_commit(kh_wim *w, int rebuild, int progress)
{
	int flags = 0, wr;

	if (rebuild)
		flags |= WIMLIB_WRITE_FLAG_REBUILD;
	if (w->integrity)
		flags |= WIMLIB_WRITE_FLAG_CHECK_INTEGRITY;
	w->progress = progress;
	wimlib_register_progress_function(w->wim, on_progress, w);
	wr = wimlib_overwrite(w->wim, flags, 0);
	wimlib_register_progress_function(w->wim, NULL, NULL);
	if (w->progress && w->last_pct >= 0)
		fputc('\n', stderr);
	if (wr)
		return wim_err(wr, w->path, "write failed (WIM left as it was)");
	return KH_OK;
}
