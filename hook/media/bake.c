/* bake.c - `khreset bake`: the plan per image, its application, the
 * re-read verification and the verb (SPEC section 7).
 *
 * bake validates the payload completely (payload.c) before it opens the
 * WIM for writing, then plans per image: delete what an earlier bake left
 * in Windows\Setup\Scripts\khreset\ (never the chained script), add the
 * payload, move a foreign SetupComplete.cmd aside as the chained script (a
 * rename in the image: bytes, times and security descriptor stay as they
 * were), add ours.  One wimlib update per image, one append commit for the
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
};

struct plan {
	int image;
	enum sc_state sc;
	char *sc_path;        /* as spelled in the image */
	char *sc_version;     /* ours: the version found */
	int chained;          /* a chained script must exist afterwards */
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

static int plan_chain(kh_wim *w, struct plan *pl)
{
	struct kh_wim_ent e = { 0 };
	int found, rc;

	if ((rc = wim_stat(w, pl->image, CHAINED, &found, &e)) != KH_OK)
		return rc;
	if (pl->sc == SC_FOREIGN) {
		/* a chained script no one calls any more is kept aside, never lost */
		if (found)
			rc = act(pl, BAKE_RENAME, e.path, NULL, CHAINED_PREV);
		if (rc == KH_OK)
			rc = act(pl, BAKE_RENAME, pl->sc_path, NULL, CHAINED);
		pl->chained = 1;
	} else if (found && pl->sc == SC_OURS) {
		memcpy(pl->chained_sha1, e.sha1, sizeof(e.sha1));
		pl->chained = 1;
	}
	wim_ent_clear(&e);
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

/* Re-read from the written WIM: every added byte, and the chain. */
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
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s?, s:b, s:i, s:o, s:b}",
			 "index", pl->image,
			 "name", wim_prop(w, pl->image, "NAME"),
			 "edition", wim_prop(w, pl->image, "WINDOWS/EDITIONID"),
			 "build", wim_prop(w, pl->image, "WINDOWS/VERSION/BUILD"),
			 "setupcomplete", sc_names[pl->sc],
			 "setupcomplete_version", pl->sc_version,
			 "chained", pl->chained, "archive_removed", pl->archive_removed,
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
		return "SetupComplete.cmd added";
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
