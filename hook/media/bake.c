/* bake.c - `khreset bake`: the plan per image, its application, the
 * re-read verification and the verb (SPEC section 7).
 *
 * bake validates the payload completely (payload.c) before it opens the
 * WIM for writing, then plans per image: delete what an earlier bake left
 * in Windows\Setup\Scripts\khreset\ (never a chained script), add the
 * payload, rename a foreign SetupComplete.cmd to SetupComplete.chained.cmd
 * in the same folder (bytes, times and security descriptor stay as they
 * were; an older bake's chained script in khreset\ moves back up), add
 * ours.  One wimlib update per image, one append commit for the
 * whole WIM, then the WIM is re-opened and every added file compared with
 * the payload.  Baking twice leaves the same image: ours is recognised by
 * its marker line.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "khreset.h"
#include "media.h"
#include "wim.h"

enum sc_state { SC_ABSENT, SC_OURS, SC_FOREIGN };
static const char *const sc_names[] = { "absent", "ours", "foreign" };

/* What bake does to one path of an image. */
enum bake_op { BAKE_DELETE, BAKE_ADD, BAKE_RENAME };
static const char *const op_names[] = {
	[BAKE_DELETE] = "delete", [BAKE_ADD] = "add", [BAKE_RENAME] = "rename",
};

static const char *op_name(enum bake_op op)
{
	return (unsigned)op < sizeof(op_names) / sizeof(op_names[0]) ? op_names[op] : "unknown";
}

struct action {
	enum bake_op op;
	char *path;           /* image path (add: target) */
	char *src;            /* add: host source; rename: NULL */
	char *to;             /* rename: target */
	int keeps;            /* rename: the bytes below are checked at to */
	uint8_t sha1[20];
};

struct plan {
	int image;
	enum sc_state sc;
	char *sc_path;        /* as spelled in the image */
	char *sc_version;     /* ours: the version found */
	int chained;          /* a chained script must exist afterwards */
	int migrated;         /* scripts an older bake left in khreset\ moved up */
	int archive_removed;  /* --clean-archive: Archive\KeyHolder entries deleted */
	uint8_t chained_sha1[20];
	struct action *a;
	size_t n;
	int verified;
};

static void plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		free(pl->a[i].path);
		free(pl->a[i].src);
		free(pl->a[i].to);
	}
	free(pl->a);
	free(pl->sc_path);
	free(pl->sc_version);
}

static int act(struct plan *pl, enum bake_op op, const char *path, const char *src,
	       const char *to)
{
	struct action *v = realloc(pl->a, (pl->n + 1) * sizeof(*v));
	struct action *a;

	if (!v)
		return KH_ERR_NOMEM;
	pl->a = v;
	a = &pl->a[pl->n++];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->path = strdup(path);
	a->src = src ? strdup(src) : NULL;
	a->to = to ? strdup(to) : NULL;
	if (!a->path || (src && !a->src) || (to && !a->to))
		return KH_ERR_NOMEM;
	return KH_OK;
}

/* Reads the image's SetupComplete.cmd and decides absent/ours/foreign. */
static int plan_sc(kh_wim *w, struct plan *pl)
{
	struct kh_wim_ent e = { 0 };
	unsigned char *buf = NULL;
	char *t = NULL;
	size_t len;
	int found, rc;

	if ((rc = wim_stat(w, pl->image, SC_PATH, &found, &e)) != KH_OK || !found)
		return rc;
	rc = KH_ERR_DATA;
	if (e.is_dir || e.is_reparse) {
		kh_seterr("image %d: %s is not a regular file", pl->image, e.path);
		goto out;
	}
	pl->sc = SC_FOREIGN;
	memcpy(pl->chained_sha1, e.sha1, sizeof(e.sha1));
	pl->sc_path = e.path;
	e.path = NULL;
	rc = wim_read(w, pl->image, SC_PATH, SCRIPT_MAX, &buf, &len);
	if (rc == KH_ERR_TOOBIG)
		rc = KH_OK;                /* not ours: ours is small */
	if (rc != KH_OK || !buf)
		goto out;
	rc = KH_ERR_NOMEM;
	if (!(t = script_text(buf, len)))
		goto out;
	rc = KH_OK;
	if (script_is_ours(t)) {
		pl->sc = SC_OURS;
		pl->sc_version = strstr(t, "version=") ? script_version(t) : strdup("?");
	}
out:
	free(t);
	free(buf);
	wim_ent_clear(&e);
	return rc;
}

/* Earlier bake's files go; chained scripts stay. */
static int plan_cleanup(kh_wim *w, struct plan *pl)
{
	struct kh_wim_ent *ents = NULL, e = { 0 };
	size_t n = 0;
	int found, rc;

	if ((rc = wim_stat(w, pl->image, KHDIR, &found, &e)) != KH_OK)
		return rc;
	if (found && (!e.is_dir || e.is_reparse)) {
		kh_seterr("image %d: %s exists and is not a folder", pl->image, e.path);
		wim_ent_clear(&e);
		return KH_ERR_DATA;
	}
	wim_ent_clear(&e);
	if ((rc = wim_list(w, pl->image, KHDIR, 0, &ents, &n)) != KH_OK)
		return rc;
	for (size_t i = 0; rc == KH_OK && i < n; i++)
		if (!script_is_chained(ents[i].name))
			rc = act(pl, BAKE_DELETE, ents[i].path, NULL, NULL);
	wim_free_ents(ents, n);
	return rc;
}

/* The first SetupComplete.chained.prev[N].cmd not in Windows\Setup\Scripts
 * (top) and not given already (from *k on); malloc'd. */
static char *prev_name(const struct kh_wim_ent *top, size_t ntop, int *k)
{
	for (;; (*k)++) {
		char *p = *k == 1 ? kh_asprintf("%s.cmd", CHAINED_PREV) :
				    kh_asprintf("%s%d.cmd", CHAINED_PREV, *k);
		const char *name;
		size_t i;

		if (!p)
			return NULL;
		name = strrchr(p, '\\') + 1;
		for (i = 0; i < ntop && kh_strcasecmp(top[i].name, name); i++)
			;
		if (i == ntop) {
			(*k)++;
			return p;
		}
		free(p);
	}
}

/* A rename that keeps the file's bytes: its digest is checked at the new
 * name after writing. */
static int act_move(struct plan *pl, const struct kh_wim_ent *e, const char *to)
{
	int rc = act(pl, BAKE_RENAME, e->path, NULL, to);

	if (rc == KH_OK) {
		memcpy(pl->a[pl->n - 1].sha1, e->sha1, sizeof(e->sha1));
		pl->a[pl->n - 1].keeps = 1;
	}
	return rc;
}

/* The chained script lives beside ours (CHAINED), so that its %~dp0 and
 * relative paths are the folder Setup gave it.  A foreign SetupComplete.cmd
 * becomes it; else the one there stays; else the one an older bake left in
 * khreset\ (OLD_CHAINED) moves back up.  One no one calls any more (a
 * foreign script replaced ours after a bake, or an old layout's extra) is
 * kept aside as the next free SetupComplete.chained.prev[N].cmd, never
 * lost.  The moves are renames inside the image: bytes, times and security
 * descriptor stay as they were. */
static int plan_chain(kh_wim *w, struct plan *pl)
{
	struct kh_wim_ent *top = NULL, *old = NULL, *cur = NULL, *oldcur = NULL, *live = NULL;
	size_t ntop = 0, nold = 0;
	int k = 1, rc;

	if ((rc = wim_list(w, pl->image, SCRIPTS, 0, &top, &ntop)) != KH_OK ||
	    (rc = wim_list(w, pl->image, KHDIR, 0, &old, &nold)) != KH_OK)
		goto out;
	for (size_t i = 0; i < ntop; i++)
		if (!kh_strcasecmp(top[i].name, CHAINED_NAME))
			cur = &top[i];
	for (size_t i = 0; i < nold; i++)
		if (!kh_strcasecmp(old[i].name, CHAINED_NAME) && !old[i].is_dir)
			oldcur = &old[i];
	if (cur && (cur->is_dir || cur->is_reparse)) {
		kh_seterr("image %d: %s is not a regular file", pl->image, cur->path);
		rc = KH_ERR_DATA;
		goto out;
	}
	if (pl->sc != SC_FOREIGN)
		live = cur ? cur : oldcur;
	/* what no one will call: aside first, so that CHAINED is free */
	for (size_t i = 0; rc == KH_OK && i < ntop + nold; i++) {
		struct kh_wim_ent *e = i < ntop ? &top[i] : &old[i - ntop];
		char *to;

		if (e == live || (e != cur && i < ntop) || e->is_dir ||
		    (i >= ntop && !script_is_chained(e->name)))
			continue;
		if (!(to = prev_name(top, ntop, &k)))
			rc = KH_ERR_NOMEM;
		else
			rc = act_move(pl, e, to);
		pl->migrated += i >= ntop;
		free(to);
	}
	if (rc == KH_OK && live == oldcur && live) {
		rc = act_move(pl, live, CHAINED);
		pl->migrated++;
	}
	if (rc == KH_OK && pl->sc == SC_FOREIGN) {
		struct kh_wim_ent sc = { .path = pl->sc_path };
		memcpy(sc.sha1, pl->chained_sha1, sizeof(sc.sha1));
		rc = act_move(pl, &sc, CHAINED);
	} else if (rc == KH_OK && live) {
		memcpy(pl->chained_sha1, live->sha1, sizeof(live->sha1));
	}
	pl->chained = pl->sc == SC_FOREIGN || live;
out:
	wim_free_ents(top, ntop);
	wim_free_ents(old, nold);
	return rc;
}

/* --clean-archive: every entry captured in Archive\KeyHolder goes (the
 * folder stays, as ClipSVC has it on a new system). */
static int plan_archive(kh_wim *w, struct plan *pl)
{
	struct kh_wim_ent *ents = NULL, e = { 0 };
	size_t n = 0;
	int found, rc;

	if ((rc = wim_stat(w, pl->image, ARCHIVE_DIR, &found, &e)) != KH_OK || !found)
		return rc;
	if (!e.is_dir || e.is_reparse) {
		kh_seterr("image %d: %s exists and is not a folder", pl->image, e.path);
		wim_ent_clear(&e);
		return KH_ERR_DATA;
	}
	wim_ent_clear(&e);
	if ((rc = wim_list(w, pl->image, ARCHIVE_DIR, 0, &ents, &n)) != KH_OK)
		return rc;
	for (size_t i = 0; rc == KH_OK && i < n; i++)
		if ((rc = act(pl, BAKE_DELETE, ents[i].path, NULL, NULL)) == KH_OK)
			pl->archive_removed++;
	wim_free_ents(ents, n);
	return rc;
}

/* The folders bake writes into are real folders: a link (a reparse point)
 * on the way would carry the payload and the hook somewhere else. */
static int plan_folders(kh_wim *w, int image)
{
	static const char *const dirs[] = { "\\Windows", "\\Windows\\Setup", SCRIPTS, KHDIR };
	int rc = KH_OK;

	for (size_t i = 0; rc == KH_OK && i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct kh_wim_ent e = { 0 };
		int found;

		if ((rc = wim_stat(w, image, dirs[i], &found, &e)) != KH_OK || !found)
			break;
		if (e.is_reparse || !e.is_dir) {
			kh_seterr("image %d: %s is %s, not a folder: bake does not write through it",
				  image, e.path, e.is_reparse ? "a symbolic link or junction "
				  "(reparse point)" : "a file");
			rc = KH_ERR_DATA;
		}
		wim_ent_clear(&e);
	}
	return rc;
}

static int plan_image(kh_wim *w, const struct payload *p, int image, int clean,
		      struct plan *pl)
{
	char *bundle = NULL;
	int rc;

	memset(pl, 0, sizeof(*pl));
	pl->image = image;
	if ((rc = plan_folders(w, image)) != KH_OK || (rc = plan_sc(w, pl)) != KH_OK ||
	    (clean && (rc = plan_archive(w, pl)) != KH_OK) ||
	    (rc = plan_cleanup(w, pl)) != KH_OK)
		return rc;
	if (!(bundle = kh_asprintf("%s\\bundle", KHDIR)))
		return KH_ERR_NOMEM;
	if ((rc = act(pl, BAKE_ADD, KHDIR "\\khreset.exe", p->f[0].host, NULL)) == KH_OK &&
	    (rc = act(pl, BAKE_ADD, KHDIR "\\khreset.ini", p->f[1].host, NULL)) == KH_OK &&
	    (rc = act(pl, BAKE_ADD, bundle, p->bundle, NULL)) == KH_OK &&
	    (rc = plan_chain(w, pl)) == KH_OK)
		rc = act(pl, BAKE_ADD, SC_PATH, p->sc.host, NULL);
	free(bundle);
	return rc;
}

static int plan_apply(kh_wim *w, const struct plan *pl)
{
	static const enum wim_op ops[] = {
		[BAKE_DELETE] = WIM_DELETE, [BAKE_ADD] = WIM_ADD, [BAKE_RENAME] = WIM_RENAME,
	};
	struct wim_cmd *c = calloc(pl->n ? pl->n : 1, sizeof(*c));
	int rc;

	if (!c)
		return KH_ERR_NOMEM;
	for (size_t i = 0; i < pl->n; i++)
		c[i] = (struct wim_cmd){ ops[pl->a[i].op], pl->a[i].path, pl->a[i].src, pl->a[i].to };
	rc = wim_update(w, pl->image, c, pl->n);
	free(c);
	return rc;
}

/* 1 if an action of pl writes path (an add's target, a rename's). */
static int planned_target(const struct plan *pl, const char *path)
{
	for (size_t i = 0; i < pl->n; i++) {
		const char *t = pl->a[i].op == BAKE_ADD ? pl->a[i].path :
				pl->a[i].op == BAKE_RENAME ? pl->a[i].to : NULL;
		if (t && !kh_strcasecmp(t, path))
			return 1;
	}
	return 0;
}

/* A kept script moved: the same bytes at the new name, the old one gone
 * (unless something else was put there). */
static int verify_move(kh_wim *w, const struct plan *pl, const struct action *a)
{
	struct kh_wim_ent e = { 0 };
	int found, rc;

	if (!a->keeps)
		return KH_OK;
	rc = wim_stat(w, pl->image, a->to, &found, &e);
	if (rc == KH_OK && (!found || memcmp(e.sha1, a->sha1, sizeof(a->sha1)) != 0)) {
		kh_seterr("image %d: %s missing or changed after moving %s there", pl->image,
			  a->to, a->path);
		rc = KH_ERR_IO;
	}
	wim_ent_clear(&e);
	if (rc == KH_OK && !planned_target(pl, a->path)) {
		rc = wim_stat(w, pl->image, a->path, &found, NULL);
		if (rc == KH_OK && found) {
			kh_seterr("image %d: %s still there after moving it to %s", pl->image,
				  a->path, a->to);
			rc = KH_ERR_IO;
		}
	}
	return rc;
}

/* Re-read from the written WIM: every added byte, every moved script, and
 * the chain. */
static int verify_image(kh_wim *w, const struct payload *p, struct plan *pl)
{
	struct kh_wim_ent e = { 0 };
	int found, rc = KH_OK;

	for (size_t i = 0; rc == KH_OK && i <= p->n; i++) {
		const struct pfile *f = i < p->n ? &p->f[i] : &p->sc;
		char *path = i < p->n ? kh_asprintf("%s\\%s", KHDIR, f->rel) : strdup(SC_PATH);
		unsigned char *buf = NULL;
		size_t len;

		if (!path)
			return KH_ERR_NOMEM;
		rc = wim_read(w, pl->image, path, f->len, &buf, &len);
		if (rc == KH_OK && (len != f->len || memcmp(buf, f->data, len) != 0)) {
			kh_seterr("image %d: %s differs from payload %s after writing",
				  pl->image, path, f->host);
			rc = KH_ERR_IO;
		}
		free(buf);
		free(path);
	}
	if (rc == KH_OK && pl->archive_removed) {
		struct kh_wim_ent *left = NULL;
		size_t n = 0;
		rc = wim_list(w, pl->image, ARCHIVE_DIR, 0, &left, &n);
		if (rc == KH_OK && n) {
			kh_seterr("image %d: %s still holds %s after writing", pl->image,
				  ARCHIVE_DIR, left[0].name);
			rc = KH_ERR_IO;
		}
		wim_free_ents(left, n);
	}
	for (size_t i = 0; rc == KH_OK && i < pl->n; i++)
		rc = verify_move(w, pl, &pl->a[i]);
	if (rc == KH_OK && pl->chained) {
		rc = wim_stat(w, pl->image, CHAINED, &found, &e);
		if (rc == KH_OK && (!found || memcmp(e.sha1, pl->chained_sha1, 20) != 0)) {
			kh_seterr("image %d: %s missing or changed after writing", pl->image, CHAINED);
			rc = KH_ERR_IO;
		}
		wim_ent_clear(&e);
	}
	pl->verified = rc == KH_OK;
	return rc;
}

/* ------------------------------------------------------------------ */
/* bake: the verb                                                       */

struct bake_opts {
	const char *wim, *payload, *index;
	int dry_run, rebuild, clean_archive;
};

struct bake {
	struct bake_opts o;
	struct payload p;
	kh_wim *w;
	struct plan *pl;
	int npl;
	int integrity;
	int rc;
	int stage_written;    /* the WIM was committed */
};

/* 1 if s is an image number or "all". */
static int index_syntax(const char *s)
{
	char *end;
	long n;

	if (strcmp(s, "all") == 0)
		return 1;
	errno = 0;
	n = strtol(s, &end, 10);
	return !errno && !*end && end != s && n >= 1 && n <= INT_MAX;
}

static int bake_args(int argc, char **argv, struct kh_globals *g, struct bake_opts *o)
{
	int ch;

	while ((ch = cli_getopt(argc, argv, "bake", g)) != -1) {
		switch (ch) {
		case OPT_PAYLOAD: o->payload = optarg; break;
		case OPT_INDEX: o->index = optarg; break;
		case OPT_DRY_RUN: o->dry_run = 1; break;
		case OPT_REBUILD: o->rebuild = 1; break;
		case OPT_CLEAN_ARCHIVE: o->clean_archive = 1; break;
		default: return cli_exit(ch);
		}
	}
	if (optind >= argc)
		return cli_usage_error("bake", "which WIM?");
	o->wim = argv[optind++];
	if (optind < argc)
		return cli_usage_error("bake", "unexpected argument '%s'", argv[optind]);
	if (!o->payload)
		return cli_usage_error("bake", "--payload DIR is required");
	if (o->index && !index_syntax(o->index))
		return cli_usage_error("bake", "--index %s: expected an image number or 'all'",
				       o->index);
	return -1;
}

/* --index N|all (syntax checked already) -> [first, last]; 0: out of range. */
static int parse_index(const char *s, int count, int *first, int *last)
{
	long n;

	if (!s || strcmp(s, "all") == 0) {
		*first = 1;
		*last = count;
		return 1;
	}
	n = strtol(s, NULL, 10);
	if (n > count)
		return 0;
	*first = *last = (int)n;
	return 1;
}

static json_t *plan_json(kh_wim *w, const struct plan *pl)
{
	json_t *acts = json_array();

	for (size_t i = 0; i < pl->n; i++) {
		const struct action *a = &pl->a[i];
		json_t *o = json_pack("{s:s, s:s}", "op", op_name(a->op), "path", a->path);
		if (a->to)
			json_object_set_new(o, "to", json_string(a->to));
		if (a->src)
			json_object_set_new(o, "source", json_string(a->src));
		json_array_append_new(acts, o);
	}
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s?, s:b, s:s?, s:i, s:i, s:o, s:b}",
			 "index", pl->image,
			 "name", wim_prop(w, pl->image, "NAME"),
			 "edition", wim_prop(w, pl->image, "WINDOWS/EDITIONID"),
			 "build", wim_prop(w, pl->image, "WINDOWS/VERSION/BUILD"),
			 "setupcomplete", sc_names[pl->sc],
			 "setupcomplete_version", pl->sc_version,
			 "chained", pl->chained, "chained_path", pl->chained ? CHAINED : NULL,
			 "migrated", pl->migrated, "archive_removed", pl->archive_removed,
			 "actions", acts, "verified", pl->verified);
}

static void bake_json(struct bake *b)
{
	json_t *imgs = json_array(), *root;

	for (int i = 0; i < b->npl && b->w; i++)
		json_array_append_new(imgs, plan_json(b->w, &b->pl[i]));
	root = json_pack("{s:s, s:s, s:b, s:s, s:b, s:b, s:o, s:{s:b, s:i, s:b, s:s?}}",
			 "wim", b->o.wim, "payload", b->o.payload,
			 "dry_run", b->o.dry_run,
			 "mode", b->o.rebuild ? "rebuild" : "append",
			 "clean_archive", b->o.clean_archive,
			 "integrity", b->integrity, "images", imgs,
			 "result", "ok", b->rc == KH_EXIT_OK,
			 "exit_code", b->rc, "written", b->stage_written,
			 "error", b->rc ? kh_lasterr() : NULL);
	media_json(root);
	json_decref(root);
}

static const char *sc_human(const struct plan *pl)
{
	switch (pl->sc) {
	case SC_ABSENT:
		return pl->chained ? "SetupComplete.cmd added, chain kept" : "SetupComplete.cmd added";
	case SC_OURS:
		return pl->chained ? "SetupComplete.cmd replaced, chain kept" :
				     "SetupComplete.cmd replaced";
	default:
		return "foreign SetupComplete.cmd chained after khreset";
	}
}

static void bake_human(struct bake *b, int show_actions)
{
	if (b->o.dry_run)
		printf("dry run: %d image(s) of %s would change; nothing written\n",
		       b->npl, b->o.wim);
	else
		printf("baked: %d image(s) of %s, re-read and verified (%s%s)\n",
		       b->npl, b->o.wim, b->o.rebuild ? "rebuilt" : "appended",
		       b->integrity ? ", integrity table kept" : "");
	for (int i = 0; i < b->npl; i++) {
		const struct plan *pl = &b->pl[i];
		printf("  image %-3d %-24s %-14s %-6s %s", pl->image,
		       wim_prop(b->w, pl->image, "NAME"),
		       wim_prop(b->w, pl->image, "WINDOWS/EDITIONID"),
		       wim_prop(b->w, pl->image, "WINDOWS/VERSION/BUILD"), sc_human(pl));
		if (pl->migrated)
			printf("; %d chained script%s of an older bake %s up from khreset\\",
			       pl->migrated, pl->migrated == 1 ? "" : "s",
			       b->o.dry_run ? "to move" : "moved");
		if (pl->archive_removed)
			printf("; %d captured archive entr%s %s", pl->archive_removed,
			       pl->archive_removed == 1 ? "y" : "ies",
			       b->o.dry_run ? "to remove" : "removed");
		putchar('\n');
		for (size_t j = 0; show_actions && j < pl->n; j++)
			printf("    %-7s %s%s%s\n", op_name(pl->a[j].op), pl->a[j].path,
			       pl->a[j].to ? " -> " : "", pl->a[j].to ? pl->a[j].to : "");
	}
}

static int bake_plan_all(struct bake *b)
{
	int first, last, rc, r;

	r = parse_index(b->o.index, wim_image_count(b->w), &first, &last);
	if (!r || wim_image_count(b->w) == 0) {
		kh_seterr("%s: image %s does not exist (the WIM has %d)", b->o.wim,
			  b->o.index ? b->o.index : "1", wim_image_count(b->w));
		return KH_ERR_DATA;
	}
	if (!(b->pl = calloc((size_t)(last - first + 1), sizeof(*b->pl))))
		return KH_ERR_NOMEM;
	for (int i = first; i <= last; i++) {
		rc = plan_image(b->w, &b->p, i, b->o.clean_archive, &b->pl[b->npl++]);
		if (rc != KH_OK)
			return rc;
	}
	return KH_OK;
}

static int bake_write(struct bake *b, const struct kh_globals *g)
{
	int rc;

	for (int i = 0; i < b->npl; i++)
		if ((rc = plan_apply(b->w, &b->pl[i])) != KH_OK)
			return rc;
	/* progress for a person at a console: not for -q, a log or a pipe */
	rc = wim_commit(b->w, b->o.rebuild, isatty(1) && isatty(2) && g->verbosity > 0);
	if (rc != KH_OK)
		return rc;
	b->stage_written = 1;
	/* re-open: read back what is on disk, not what is in memory */
	wim_close(b->w);
	b->w = NULL;
	if ((rc = wim_open(b->o.wim, 0, &b->w)) != KH_OK)
		return rc;
	for (int i = 0; i < b->npl; i++)
		if ((rc = verify_image(b->w, &b->p, &b->pl[i])) != KH_OK)
			return rc;
	return KH_OK;
}

static int bake_run(struct bake *b, const struct kh_globals *g)
{
	int rc;

	if ((rc = payload_load(b->o.payload, &b->p)) != KH_OK)
		return rc;
	if ((rc = wim_open(b->o.wim, !b->o.dry_run, &b->w)) != KH_OK)
		return rc;
	b->integrity = wim_has_integrity(b->w);
	if ((rc = bake_plan_all(b)) != KH_OK || b->o.dry_run)
		return rc;
	return bake_write(b, g);
}

int cmd_bake(int argc, char **argv, struct kh_globals *g)
{
	struct bake b = { 0 };
	int rc;

	if ((rc = bake_args(argc, argv, g, &b.o)) != -1)
		return rc;
	kh_clearerr();
	wim_init();
	rc = bake_run(&b, g);
	b.rc = rc == KH_OK ? KH_EXIT_OK : kh_exitcode(rc);
	if (rc != KH_OK)
		cli_fail(rc, "bake");
	if (g->json)
		bake_json(&b);
	else if (rc == KH_OK)
		bake_human(&b, b.o.dry_run || g->verbosity > 1);
	for (int i = 0; i < b.npl; i++)
		plan_free(&b.pl[i]);
	free(b.pl);
	payload_free(&b.p);
	wim_close(b.w);
	wim_cleanup();
	return b.rc;
}
