/* lint.c - `khreset lint`: the findings per image of a WIM (SPEC section
 * 7) and the verb; it changes nothing. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bundle.h"
#include "cli.h"
#include "config.h"
#include "khreset.h"
#include "media.h"
#include "wim.h"

enum sev { SEV_ERROR, SEV_WARNING, SEV_INFO };
/* A script or task bigger than this is a finding, not inspected.  Ours is
 * a few KiB; Setup's own scripts are small: 16 MiB is far past any real
 * one and still cheap to read and scan. */
#define LINT_SCRIPT_MAX (16u << 20)
static const char *const sev_names[] = { "error", "warning", "info" };

struct finding {
	const char *id;
	enum sev sev;
	char *path;
	char *detail;
};

struct lint_image {
	int image;
	struct finding *f;
	size_t n;
	char **archive;       /* names captured in Archive\KeyHolder */
	size_t n_archive;
	int hooked;           /* SetupComplete.cmd runs khreset.exe, which is there */
	int repairs_fresh;    /* ... and its khreset.ini lets it repair without an upgrade */
	int errors;
	char *summary;        /* image_summary() */
};

struct lint {
	const char *wim;
	kh_wim *w;
	struct kh_bundle *bundle;
	struct lint_image *img;
	int nimg;
	int count[3];
};

static int finding(struct lint *l, struct lint_image *li, const char *id, enum sev s,
		const char *path, const char *fmt, ...)
	KH_PRINTF(6, 7);

static int finding(struct lint *l, struct lint_image *li, const char *id, enum sev s,
		const char *path, const char *fmt, ...)
{
	struct finding *v = realloc(li->f, (li->n + 1) * sizeof(*v));
	va_list ap;
	int r;

	if (!v)
		return KH_ERR_NOMEM;
	li->f = v;
	v = &li->f[li->n++];
	v->id = id;
	v->sev = s;
	v->path = strdup(path);
	va_start(ap, fmt);
	r = vasprintf(&v->detail, fmt, ap);
	va_end(ap);
	if (r < 0)
		v->detail = NULL;
	l->count[s]++;
	li->errors += s == SEV_ERROR;
	return v->path && v->detail ? KH_OK : KH_ERR_NOMEM;
}

static int lint_archive(struct lint *l, struct lint_image *li)
{
	struct kh_wim_ent *e = NULL;
	char names[256] = "";
	size_t n = 0, used = 0;
	int rc;

	if ((rc = wim_list(l->w, li->image, ARCHIVE_DIR, 0, &e, &n)) != KH_OK || !n)
		return rc;
	if (!(li->archive = calloc(n, sizeof(*li->archive)))) {
		wim_free_ents(e, n);
		return KH_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		li->archive[i] = e[i].name;
		e[i].name = NULL;
		li->n_archive++;
	}
	for (size_t i = 0; i < n && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
					 i ? ", " : "", li->archive[i]);
	rc = finding(l, li, "archive-keyholders-present", SEV_ERROR, ARCHIVE_DIR,
		  "%zu entr%s captured from a used system: %s", n, n == 1 ? "y" : "ies", names);
	wim_free_ents(e, n);
	return rc;
}

static int lint_install(struct lint *l, struct lint_image *li)
{
	int rc = KH_OK;

	for (size_t i = 0; rc == KH_OK && l->bundle && i < l->bundle->n; i++) {
		const struct kh_bundle_file *f = &l->bundle->files[i];
		char *path = kh_asprintf("%s\\%s", INSTALL_DIR, f->name);
		unsigned char *buf = NULL;
		size_t len;

		if (!path)
			return KH_ERR_NOMEM;
		rc = wim_read(l->w, li->image, path, f->len, &buf, &len);
		if (rc == KH_ERR_NOENT)
			rc = finding(l, li, "install-keyholder-missing", SEV_ERROR, path,
				  "bundle file not in the image");
		else if (rc == KH_ERR_TOOBIG || rc == KH_ERR_UNSAFE ||
			 (rc == KH_OK && (len != f->len || memcmp(buf, f->data, len))))
			rc = finding(l, li, "install-keyholder-mismatch", SEV_ERROR, path,
				  "differs from the bundle's (sha256 %s)", f->sha256);
		free(buf);
		free(path);
	}
	return rc;
}

/* Reads an image script or task as text, whole: any size up to
 * LINT_SCRIPT_MAX is inspected; a bigger one is a finding of its own,
 * never skipped in silence.  *text NULL when absent (or too big: then
 * *big is set). */
static int read_text(struct lint *l, struct lint_image *li, const char *path, char **text,
		     int *big)
{
	struct kh_wim_ent e = { 0 };
	unsigned char *buf = NULL;
	size_t len;
	int found, rc;

	*text = NULL;
	*big = 0;
	rc = wim_read(l->w, li->image, path, LINT_SCRIPT_MAX, &buf, &len);
	if (rc == KH_ERR_TOOBIG) {
		*big = 1;
		rc = wim_stat(l->w, li->image, path, &found, &e);
		if (rc == KH_OK)
			rc = finding(l, li, "script-too-big", SEV_WARNING, e.path ? e.path : path,
				     "%llu bytes, more than %u MiB: not inspected (for a hook or "
				     "a program in Windows\\Temp)", (unsigned long long)e.size,
				     LINT_SCRIPT_MAX >> 20);
		wim_ent_clear(&e);
		return rc;
	}
	if (rc == KH_ERR_NOENT || rc == KH_ERR_UNSAFE)
		return KH_OK;
	if (rc == KH_OK && !(*text = script_text(buf, len)))
		rc = KH_ERR_NOMEM;
	free(buf);
	return rc;
}

static int lint_temp_script(struct lint *l, struct lint_image *li, const char *path,
			    const char *text)
{
	char *hit = script_temp_line(text);
	int rc = KH_OK;

	if (hit)
		rc = finding(l, li, "program-in-temp", SEV_ERROR, path,
			  "runs a program from Windows\\Temp (user-writable): %.160s", hit);
	free(hit);
	return rc;
}

/* The image's khreset.ini: does the baked khreset repair a machine that was
 * never upgraded (a fresh deployment)?  Only with require_upgrade = false.
 * A file that does not parse is left to the image's khreset to report. */
static int lint_policy(struct lint *l, struct lint_image *li)
{
	struct kh_config *cfg = NULL;
	unsigned char *buf = NULL;
	char *shown;
	size_t len;
	int rc;

	rc = wim_read(l->w, li->image, KHDIR "\\khreset.ini", SCRIPT_MAX, &buf, &len);
	if (rc != KH_OK && rc != KH_ERR_NOENT)
		return rc == KH_ERR_NOMEM || rc == KH_ERR_IO ? rc : KH_OK;
	if (!(shown = kh_asprintf("image %d: %s", li->image, KHDIR "\\khreset.ini"))) {
		free(buf);
		return KH_ERR_NOMEM;
	}
	/* absent: khreset runs with the built-in defaults */
	rc = config_parse(buf, buf ? len : 0, shown, "/", &cfg);
	if (rc == KH_OK)
		li->repairs_fresh = !cfg->require_upgrade;
	config_free(cfg);
	free(shown);
	free(buf);
	return rc == KH_ERR_NOMEM ? rc : KH_OK;
}

static int lint_hook(struct lint *l, struct lint_image *li)
{
	char *text = NULL;
	int found, big, rc;

	if ((rc = read_text(l, li, SC_PATH, &text, &big)) != KH_OK || big)
		return rc;
	if ((rc = wim_stat(l->w, li->image, KHDIR "\\khreset.exe", &found, NULL)) != KH_OK)
		goto out;
	if (!text)
		rc = finding(l, li, "hook-missing", SEV_WARNING, SC_PATH,
			  "no SetupComplete.cmd: khreset does not run after the upgrade");
	else if (!script_mentions(text, "khreset.exe"))
		rc = finding(l, li, "hook-missing", SEV_WARNING, SC_PATH,
			  "SetupComplete.cmd does not run khreset");
	else if (!found)
		rc = finding(l, li, "hook-missing", SEV_WARNING, KHDIR "\\khreset.exe",
			  "SetupComplete.cmd runs khreset but khreset.exe is not in the image");
	else
		li->hooked = 1;
	if (rc == KH_OK && li->hooked)
		rc = lint_policy(l, li);
	if (rc == KH_OK && text && !script_is_ours(text))
		rc = finding(l, li, "setupcomplete-foreign", SEV_INFO, SC_PATH,
			  "SetupComplete.cmd is not khreset's (bake chains it after khreset)");
	if (rc == KH_OK && text)
		rc = lint_temp_script(l, li, SC_PATH, text);
out:
	free(text);
	return rc;
}

/* The chained scripts in one folder: SCRIPTS (where bake keeps them) or
 * KHDIR (where bakes before issue 10 did, their %~dp0 pointing there).
 * The one called (SetupComplete.chained.cmd) is inspected like a hook;
 * a prev one is run by no one. */
static int lint_chained_in(struct lint *l, struct lint_image *li, const char *dir, int old)
{
	struct kh_wim_ent *e = NULL;
	size_t n = 0;
	int rc;

	if ((rc = wim_list(l->w, li->image, dir, 0, &e, &n)) != KH_OK)
		return rc;
	for (size_t i = 0; rc == KH_OK && i < n; i++) {
		int called = !kh_strcasecmp(e[i].name, CHAINED_NAME);
		char *text = NULL;
		int big;

		if (!script_is_chained(e[i].name) || e[i].is_dir)
			continue;
		if (old)
			rc = finding(l, li, "chained-old-layout", SEV_WARNING, e[i].path,
				     "kept in khreset\\ by an older bake, where its own folder "
				     "(%%~dp0) is not Windows\\Setup\\Scripts\\: khreset bake moves "
				     "it up to %s", called ? CHAINED : "SetupComplete.chained.prev.cmd");
		if (rc == KH_OK && !old)
			rc = finding(l, li, "setupcomplete-foreign", SEV_INFO, e[i].path, called ?
				     "earlier SetupComplete.cmd, chained after khreset" :
				     "earlier chained script, kept aside by bake (not run)");
		if (rc == KH_OK && called &&
		    (rc = read_text(l, li, e[i].path, &text, &big)) == KH_OK && text)
			rc = lint_temp_script(l, li, e[i].path, text);
		free(text);
	}
	wim_free_ents(e, n);
	return rc;
}

static int lint_chained(struct lint *l, struct lint_image *li)
{
	int rc = lint_chained_in(l, li, SCRIPTS, 0);

	return rc == KH_OK ? lint_chained_in(l, li, KHDIR, 1) : rc;
}

static int lint_tasks(struct lint *l, struct lint_image *li)
{
	struct kh_wim_ent *e = NULL;
	size_t n = 0;
	int rc;

	if ((rc = wim_list(l->w, li->image, TASKS_DIR, 1, &e, &n)) != KH_OK)
		return rc;
	for (size_t i = 0; rc == KH_OK && i < n; i++) {
		char *text = NULL, *hit = NULL;
		int big;

		if (e[i].is_dir || e[i].is_reparse)
			continue;
		if ((rc = read_text(l, li, e[i].path, &text, &big)) == KH_OK && text &&
		    (hit = task_temp_command(text)))
			rc = finding(l, li, "program-in-temp", SEV_ERROR, e[i].path,
				  "scheduled task runs %.160s (Windows\\Temp is user-writable)", hit);
		free(hit);
		free(text);
	}
	wim_free_ents(e, n);
	return rc;
}

static int lint_image(struct lint *l, struct lint_image *li)
{
	int rc;

	if ((rc = lint_archive(l, li)) != KH_OK || (rc = lint_install(l, li)) != KH_OK ||
	    (rc = lint_hook(l, li)) != KH_OK || (rc = lint_chained(l, li)) != KH_OK)
		return rc;
	return lint_tasks(l, li);
}

/* ------------------------------------------------------------------ */
/* the answer for a non-specialist: fresh deployment, upgrade, summary  */

static int has(const struct lint_image *li, const char *id)
{
	for (size_t i = 0; i < li->n; i++)
		if (!strcmp(li->f[i].id, id))
			return 1;
	return 0;
}

/* Ready: nothing an error, and upgrades from the image run khreset. */
static int image_ready(const struct lint_image *li)
{
	return !li->errors && li->hooked;
}

/* One line per image: the verdict, then what is wrong and how to fix it. */
static char *image_summary(const struct lint_image *li)
{
	char s[640];
	size_t u = 0;

#define ADD(...) (u += (size_t)snprintf(u < sizeof(s) ? s + u : NULL, \
					   u < sizeof(s) ? sizeof(s) - u : 0, __VA_ARGS__))
	if (image_ready(li))
		return kh_strdup("ready: a fresh install starts without captured licence files "
				 "and an upgrade runs khreset's keyholder reset");
	ADD("not ready:");
	if (li->n_archive)
		ADD(" a fresh install copies %zu licence file%s captured from a used PC into every "
		    "new machine, so activation can fail there%s (fix: khreset bake --clean-archive);",
		    li->n_archive, li->n_archive == 1 ? "" : "s",
		    li->repairs_fresh ? ", until khreset resets them at first boot" : "");
	if (!li->hooked)
		ADD(" an upgrade does not run khreset's keyholder reset (fix: khreset bake);");
	if (has(li, "install-keyholder-missing") || has(li, "install-keyholder-mismatch"))
		ADD(" the staged keyholders are not the official bundle's (fix: recapture, or "
		    "replace them from the bundle);");
	if (has(li, "program-in-temp"))
		ADD(" a setup step runs a program from Windows\\Temp, which any user can replace "
		    "(fix: move it out of Temp);");
#undef ADD
	if (u >= sizeof(s))
		u = sizeof(s) - 1;
	if (u && s[u - 1] == ';')
		s[u - 1] = '\0';
	return kh_strdup(s);
}

static int lint_summaries(struct lint *l)
{
	for (int i = 0; i < l->nimg; i++)
		if (!(l->img[i].summary = image_summary(&l->img[i])))
			return KH_ERR_NOMEM;
	return KH_OK;
}

static int ready_count(const struct lint *l)
{
	int n = 0;

	for (int i = 0; i < l->nimg; i++)
		n += image_ready(&l->img[i]);
	return n;
}

static char *summary_line(const struct lint *l)
{
	int ready = ready_count(l);

	if (ready == l->nimg)
		return kh_asprintf("all %d image%s ready for fresh installs and upgrades", l->nimg,
				   l->nimg == 1 ? "" : "s");
	return kh_asprintf("%d of %d image%s ready; fix the others as their summary says, "
			   "then lint again", ready, l->nimg, l->nimg == 1 ? "" : "s");
}

static json_t *fresh_json(const struct lint_image *li)
{
	json_t *names = json_array();

	for (size_t i = 0; i < li->n_archive; i++)
		json_array_append_new(names, json_string(li->archive[i]));
	return json_pack("{s:b, s:o, s:b}", "carries_archive", li->n_archive > 0,
			 "archive_entries", names, "repaired_at_first_boot",
			 li->n_archive > 0 && li->hooked && li->repairs_fresh);
}

static void lint_free(struct lint *l)
{
	for (int i = 0; i < l->nimg; i++) {
		for (size_t j = 0; j < l->img[i].n; j++) {
			free(l->img[i].f[j].path);
			free(l->img[i].f[j].detail);
		}
		for (size_t j = 0; j < l->img[i].n_archive; j++)
			free(l->img[i].archive[j]);
		free(l->img[i].archive);
		free(l->img[i].summary);
		free(l->img[i].f);
	}
	free(l->img);
	bundle_free(l->bundle);
	wim_close(l->w);
}

static void lint_json(struct lint *l, int code)
{
	json_t *imgs = json_array(), *root;
	char *line = summary_line(l);

	for (int i = 0; i < l->nimg; i++) {
		const struct lint_image *li = &l->img[i];
		json_t *fs = json_array();
		for (size_t j = 0; j < li->n; j++)
			json_array_append_new(fs, json_pack("{s:s, s:s, s:s, s:s}",
				"id", li->f[j].id, "severity", sev_names[li->f[j].sev],
				"path", li->f[j].path, "detail", li->f[j].detail));
		json_array_append_new(imgs, json_pack("{s:i, s:s, s:s, s:s, s:o, s:o, s:b, s:s}",
			"index", li->image, "name", wim_prop(l->w, li->image, "NAME"),
			"edition", wim_prop(l->w, li->image, "WINDOWS/EDITIONID"),
			"build", wim_prop(l->w, li->image, "WINDOWS/VERSION/BUILD"),
			"findings", fs, "fresh_deployment", fresh_json(li),
			"ready", image_ready(li), "summary", li->summary));
	}
	root = json_pack("{s:s, s:s?, s:o, s:{s:i, s:i, s:i}, s:i, s:s?, s:i}", "wim", l->wim,
			 "bundle", l->bundle ? l->bundle->path : NULL, "images", imgs,
			 "summary", "error", l->count[SEV_ERROR], "warning",
			 l->count[SEV_WARNING], "info", l->count[SEV_INFO],
			 "ready_images", ready_count(l), "summary_line", line, "exit_code", code);
	media_json(root);
	json_decref(root);
	free(line);
}

static void lint_human(struct lint *l)
{
	char *line;

	printf("lint: %s: %d error(s), %d warning(s), %d info in %d image(s) of %s\n",
	       l->count[SEV_ERROR] ? "FAIL" : "ok", l->count[SEV_ERROR],
	       l->count[SEV_WARNING], l->count[SEV_INFO], l->nimg, l->wim);
	for (int i = 0; i < l->nimg; i++) {
		const struct lint_image *li = &l->img[i];
		printf("  image %-3d %-24s %-14s %s\n", li->image,
		       wim_prop(l->w, li->image, "NAME"),
		       wim_prop(l->w, li->image, "WINDOWS/EDITIONID"),
		       wim_prop(l->w, li->image, "WINDOWS/VERSION/BUILD"));
		if (!li->n)
			printf("    %-7s no findings\n", "ok");
		for (size_t j = 0; j < li->n; j++)
			printf("    %-7s %-26s %s: %s\n", sev_names[li->f[j].sev],
			       li->f[j].id, li->f[j].path, li->f[j].detail);
		if (li->n_archive)
			printf("    fresh deployment: carries %zu captured archive entr%s into new "
			       "machines%s\n", li->n_archive, li->n_archive == 1 ? "y" : "ies",
			       !li->hooked ? " (khreset is not in the image)" :
			       li->repairs_fresh ? " (khreset in the image resets them at first boot)" :
			       " (khreset in the image leaves them: it acts after upgrades only)");
		else
			printf("    fresh deployment: no captured archive entries\n");
		printf("    summary: %s\n", li->summary);
	}
	if ((line = summary_line(l)))
		printf("summary: %s\n", line);
	free(line);
}

/* --bundle: verified with the key and size limit of --config, if given
 * (no system here: else the built-in defaults). */
static int lint_load_bundle(struct lint *l, const char *dir, const struct kh_globals *g)
{
	struct kh_config *cfg = NULL;
	int rc;

	if ((rc = cli_config(g, NULL, &cfg)) != KH_OK)
		return rc;
	rc = bundle_load(dir, cfg->public_key, cfg->max_file_size, &l->bundle);
	config_free(cfg);
	return rc;
}

static int lint_run(struct lint *l, const char *bundle, const struct kh_globals *g)
{
	int rc;

	if (bundle && (rc = lint_load_bundle(l, bundle, g)) != KH_OK)
		return rc;
	if ((rc = wim_open(l->wim, 0, &l->w)) != KH_OK)
		return rc;
	if (!(l->img = calloc((size_t)wim_image_count(l->w) + 1, sizeof(*l->img))))
		return KH_ERR_NOMEM;
	for (int i = 1; i <= wim_image_count(l->w); i++) {
		l->img[l->nimg].image = i;
		if ((rc = lint_image(l, &l->img[l->nimg++])) != KH_OK)
			return rc;
	}
	return lint_summaries(l);
}

int cmd_lint(int argc, char **argv, struct kh_globals *g)
{
	struct lint l = { 0 };
	const char *bundle = NULL;
	int ch, rc, code;

	while ((ch = cli_getopt(argc, argv, "lint", g)) != -1) {
		if (ch != OPT_BUNDLE)
			return cli_exit(ch);
		bundle = optarg;
	}
	if (optind >= argc)
		return cli_usage_error("lint", "which WIM?");
	l.wim = argv[optind++];
	if (optind < argc)
		return cli_usage_error("lint", "unexpected argument '%s'", argv[optind]);
	kh_clearerr();
	wim_init();
	rc = lint_run(&l, bundle, g);
	if (rc != KH_OK)
		code = cli_fail(rc, "lint");
	else
		code = l.count[SEV_ERROR] ? KH_EXIT_ATTENTION : KH_EXIT_OK;
	if (rc == KH_OK && g->json)
		lint_json(&l, code);
	else if (rc == KH_OK)
		lint_human(&l);
	lint_free(&l);
	wim_cleanup();
	return code;
}
