/* cmd_media.c - the media verbs: `bake` the payload into a WIM, `lint` its images.
 *
 * bake (SPEC section 7) validates the payload completely before it opens the
 * WIM for writing, then plans per image: delete what an earlier bake left in
 * Windows\Setup\Scripts\khreset\ (never the chained script), add the payload,
 * move a foreign SetupComplete.cmd aside as the chained script (a rename in
 * the image: bytes, times and security descriptor stay as they were), add
 * ours.  One wimlib update per image, one append commit for the whole WIM,
 * then the WIM is re-opened and every added file compared with the payload.
 * Baking twice leaves the same image: ours is recognised by its marker line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <jansson.h>
#include <wimlib.h>

#include "bundle.h"
#include "cli.h"
#include "config.h"
#include "khreset.h"
#include "wim.h"

#define SCRIPTS      "\\Windows\\Setup\\Scripts"
#define SC_PATH      SCRIPTS "\\SetupComplete.cmd"
#define KHDIR        SCRIPTS "\\khreset"
#define CHAINED      KHDIR "\\SetupComplete.chained.cmd"
#define CHAINED_PREV KHDIR "\\SetupComplete.chained.prev.cmd"
#define CLIPSVC      "\\ProgramData\\Microsoft\\Windows\\ClipSVC"
#define ARCHIVE_DIR  CLIPSVC "\\Archive\\KeyHolder"
#define INSTALL_DIR  CLIPSVC "\\Install\\KeyHolder"
#define TASKS_DIR    "\\Windows\\System32\\Tasks"
#define MARKER       "rem khreset-setupcomplete"
#define SCRIPT_MAX   (1u << 20)
#define PAYLOAD_MAX  (512u << 20)

/* ------------------------------------------------------------------ */
/* shared helpers                                                       */

static int fail(const struct kh_globals *g, const char *verb, int rc)
{
	const char *m = kh_lasterr();

	fprintf(stderr, "khreset: %s: %s\n", verb, *m ? m : kh_errstr(rc));
	return kh_exitcode(rc);
}

static int usage(const char *verb)
{
	if (strcmp(verb, "bake") == 0)
		fprintf(stderr, "usage: khreset bake WIM --payload DIR "
			"[--index N|all] [--dry-run] [--rebuild]\n");
	else
		fprintf(stderr, "usage: khreset lint WIM [--bundle DIR]\n");
	return KH_EXIT_USAGE;
}

/* "--opt VAL" or "--opt=VAL"; returns 1 and advances *i when matched. */
static int opt_val(int argc, char **argv, int *i, const char *opt, const char **val)
{
	size_t n = strlen(opt);

	if (strncmp(argv[*i], opt, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != '\0')
		return 0;
	*val = *i + 1 < argc ? argv[++*i] : NULL;
	return 1;
}


/* Script or task text as 8-bit: UTF-16LE (with BOM) squashed, UTF-8 BOM
 * dropped, NULs removed.  Enough to look for ASCII paths. */
static char *text_of(const unsigned char *b, size_t len)
{
	int utf16 = len >= 2 && b[0] == 0xff && b[1] == 0xfe;
	size_t i = utf16 ? 2 : (len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf) ? 3 : 0;
	char *t = malloc(len + 1), *o = t;

	if (!t)
		return NULL;
	for (; i < len; i += utf16 ? 2 : 1) {
		unsigned c = b[i];
		if (utf16 && i + 1 < len && b[i + 1])
			c = '?';
		if (c)
			*o++ = (char)c;
	}
	*o = '\0';
	return t;
}

static void lower_slashes(char *s)
{
	for (; *s; s++)
		*s = *s == '/' ? '\\' : (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
}

/* Next line of text into a malloc'd, trimmed copy; NULL at the end. */
static char *next_line(const char **p)
{
	const char *s = *p, *e;
	char *l;

	if (!*s)
		return NULL;
	e = s + strcspn(s, "\r\n");
	*p = e + strspn(e, "\r\n");
	while (s < e && (*s == ' ' || *s == '\t' || *s == '@'))
		s++;
	if (!(l = strndup(s, (size_t)(e - s))))
		return NULL;
	for (size_t n = strlen(l); n && (l[n - 1] == ' ' || l[n - 1] == '\t'); n--)
		l[n - 1] = '\0';
	return l;
}

static int is_comment(const char *lower)
{
	return strncmp(lower, "::", 2) == 0 || strcmp(lower, "rem") == 0 ||
	       strncmp(lower, "rem ", 4) == 0 || strncmp(lower, "rem\t", 4) == 0;
}

/* 1 if a script's text carries our marker line. */
static int has_marker(const char *text)
{
	const char *p = text;
	char *l;
	int found = 0;

	while (!found && (l = next_line(&p))) {
		lower_slashes(l);
		found = strncmp(l, MARKER, strlen(MARKER)) == 0;
		free(l);
	}
	return found;
}

/* 1 if a non-comment line of a script mentions name (lowercase). */
static int script_mentions(const char *text, const char *name)
{
	const char *p = text;
	char *l;
	int found = 0;

	while (!found && (l = next_line(&p))) {
		lower_slashes(l);
		found = !is_comment(l) && strstr(l, name);
		free(l);
	}
	return found;
}

static const char *const temp_dirs[] = {
	"%windir%\\temp\\", "%systemroot%\\temp\\", "\\windows\\temp\\",
	"%temp%\\", "%tmp%\\", NULL
};
static const char *const prog_exts[] = {
	".exe", ".com", ".bat", ".cmd", ".ps1", ".vbs", ".js", ".wsf", ".hta",
	".msi", ".dll", NULL
};

static int ends_with_prog(const char *s, size_t n)
{
	for (size_t i = 0; prog_exts[i]; i++) {
		size_t m = strlen(prog_exts[i]);
		if (n >= m && strncmp(s + n - m, prog_exts[i], m) == 0)
			return 1;
	}
	return 0;
}

/* In a lowered line: a path under Windows\Temp.  need_prog: the path must
 * name a program (script lines); a task's <Command> always does. */
static int refs_temp(const char *l, int need_prog)
{
	for (size_t i = 0; temp_dirs[i]; i++) {
		for (const char *m = strstr(l, temp_dirs[i]); m; m = strstr(m + 1, temp_dirs[i])) {
			size_t quotes = 0, n;
			if (!need_prog)
				return 1;
			for (const char *q = l; q < m; q++)
				quotes += *q == '"';
			n = strcspn(m, quotes % 2 ? "\"" : "\" \t,;");
			if (ends_with_prog(m, n))
				return 1;
		}
	}
	return 0;
}

/* First script line that runs a program from Windows\Temp; malloc'd. */
static char *script_temp_line(const char *text)
{
	const char *p = text;
	char *l, *low;

	while ((l = next_line(&p))) {
		if (!(low = strdup(l))) {
			free(l);
			return NULL;
		}
		lower_slashes(low);
		if (!is_comment(low) && refs_temp(low, 1)) {
			free(low);
			return l;
		}
		free(low);
		free(l);
	}
	return NULL;
}

/* First task <Command> under Windows\Temp; malloc'd. */
static char *task_temp_command(const char *text)
{
	char *low = strdup(text), *hit = NULL;

	if (!low)
		return NULL;
	lower_slashes(low);         /* "</command>" now reads "<\command>" */
	for (char *s = strstr(low, "<command>"); s && !hit; s = strstr(s + 1, "<command>")) {
		char *b = s + strlen("<command>"), *e = strstr(b, "<\\command>");
		if (!e)
			break;
		*e = '\0';
		if (refs_temp(b, 0))
			hit = strndup(text + (b - low), (size_t)(e - b));
		*e = '<';
	}
	free(low);
	return hit;
}

static int name_starts(const char *name, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i]; i++) {
		char a = name[i], b = prefix[i];
		if (!a || ((a >= 'A' && a <= 'Z') ? a + 32 : a) != ((b >= 'A' && b <= 'Z') ? b + 32 : b))
			return 0;
	}
	return 1;
}

static void json_out(json_t *root)
{
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* bake: the payload                                                    */

struct pfile {
	char *rel;            /* image path under khreset\, '\' separators */
	char *host;
	unsigned char *data;
	size_t len;
};

struct payload {
	char *dir;
	char *bundle;         /* host path of bundle/ */
	struct pfile *f;      /* khreset.exe, khreset.ini, bundle\* */
	size_t n;
	struct pfile sc;      /* SetupComplete.cmd */
	char *sc_version;
};

static void pfile_clear(struct pfile *f)
{
	free(f->rel);
	free(f->host);
	free(f->data);
}

static void payload_free(struct payload *p)
{
	for (size_t i = 0; i < p->n; i++)
		pfile_clear(&p->f[i]);
	free(p->f);
	pfile_clear(&p->sc);
	free(p->dir);
	free(p->bundle);
	free(p->sc_version);
	memset(p, 0, sizeof(*p));
}

static int pfile_load(struct pfile *f, const char *dir, const char *name,
		      const char *rel)
{
	int rc;

	if (!(f->host = kh_asprintf("%s/%s", dir, name)) || !(f->rel = strdup(rel)))
		return KH_ERR_NOMEM;
	rc = kh_read_host(f->host, PAYLOAD_MAX, &f->data, &f->len);
	if (rc == KH_ERR_NOENT)
		kh_seterr("payload %s: %s missing", dir, name);
	else if (rc != KH_OK)
		kh_seterr("payload %s: %s: not a regular file (or unreadable)", dir, name);
	return rc == KH_OK ? KH_OK : KH_ERR_DATA;
}

static int payload_add(struct payload *p, const char *dir, const char *name,
		       const char *rel)
{
	struct pfile *v = realloc(p->f, (p->n + 1) * sizeof(*v));

	if (!v)
		return KH_ERR_NOMEM;
	p->f = v;
	memset(&p->f[p->n], 0, sizeof(*v));
	return pfile_load(&p->f[p->n++], dir, name, rel);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* bundle/ must hold regular files only: it is added to the image as is. */
static int payload_bundle_files(struct payload *p)
{
	char **names = NULL, *rel = NULL;
	size_t n = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = KH_OK;

	if (lstat(p->bundle, &st) != 0 || !S_ISDIR(st.st_mode) || !(d = opendir(p->bundle))) {
		kh_seterr("payload %s: bundle/ missing or not a folder", p->dir);
		return KH_ERR_DATA;
	}
	while (rc == KH_OK && (de = readdir(d))) {
		char **v;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (!(v = realloc(names, (n + 1) * sizeof(*v))) || !(v[n] = strdup(de->d_name)))
			rc = KH_ERR_NOMEM;
		if (v)
			names = v, n += rc == KH_OK;
	}
	closedir(d);
	if (rc == KH_OK)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; rc == KH_OK && i < n; i++) {
		free(rel);
		if (!(rel = kh_asprintf("bundle\\%s", names[i])))
			rc = KH_ERR_NOMEM;
		else if ((rc = payload_add(p, p->bundle, names[i], rel)) != KH_OK)
			kh_seterr("payload %s: bundle/%s: only regular files allowed in bundle/",
				  p->dir, names[i]);
	}
	free(rel);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* 1 if path (existing) is inside dir (existing), after resolving links. */
static int path_inside(const char *path, const char *dir)
{
	char *a = realpath(path, NULL), *b = realpath(dir, NULL);
	int in = a && b && strncmp(a, b, strlen(b)) == 0 &&
		 (a[strlen(b)] == '/' || a[strlen(b)] == '\0');

	free(a);
	free(b);
	return in;
}

/* The payload's khreset.ini must point at its own bundle/ (and key). */
static int payload_check_config(struct payload *p, struct kh_config *cfg)
{
	struct kh_bundle *b = NULL;
	int rc;

	if (!cfg->bundle_dir || !path_inside(cfg->bundle_dir, p->bundle) ||
	    !path_inside(p->bundle, cfg->bundle_dir)) {
		kh_seterr("payload %s: khreset.ini [bundle] dir must name the payload's bundle/ "
			  "(it is %s)", p->dir, cfg->bundle_dir ? cfg->bundle_dir : "unset");
		return KH_ERR_DATA;
	}
	if (cfg->public_key && *cfg->public_key && !path_inside(cfg->public_key, p->bundle)) {
		kh_seterr("payload %s: khreset.ini [bundle] public_key %s must be inside bundle/ "
			  "so the image carries it", p->dir, cfg->public_key);
		return KH_ERR_DATA;
	}
	rc = bundle_load(p->bundle, cfg->public_key, cfg->max_file_size, &b);
	if (rc != KH_OK) {
		char msg[900];
		snprintf(msg, sizeof(msg), "%s", kh_lasterr());
		kh_seterr("payload %s: bundle fails verification: %s", p->dir, msg);
		rc = rc == KH_ERR_NOMEM ? rc : KH_ERR_BUNDLE;
	}
	bundle_free(b);
	return rc;
}

static int payload_marker(struct payload *p)
{
	char *t = text_of(p->sc.data, p->sc.len), *s;
	int rc = KH_OK;

	if (!t)
		return KH_ERR_NOMEM;
	if (!has_marker(t) || !(s = strstr(t, "version="))) {
		kh_seterr("payload %s: SetupComplete.cmd is not khreset's (no '%s version=' line)",
			  p->dir, MARKER);
		rc = KH_ERR_DATA;
	} else if (!(p->sc_version = strndup(s + 8, strcspn(s + 8, " \t\r\n")))) {
		rc = KH_ERR_NOMEM;
	} else if (strcmp(p->sc_version, KH_VERSION) != 0) {
		kh_log(KH_LOG_WARN, "bake", "payload SetupComplete.cmd version %s, khreset %s",
		       p->sc_version, KH_VERSION);
	}
	free(t);
	return rc;
}

/* Everything is checked here, before the WIM is opened for writing. */
static int payload_load(const char *dir, struct payload *p)
{
	struct kh_config *cfg = NULL;
	char *ini = NULL;
	struct stat st;
	int rc;

	memset(p, 0, sizeof(*p));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		kh_seterr("payload %s: not a folder", dir);
		return KH_ERR_DATA;
	}
	if (!(p->dir = strdup(dir)) || !(p->bundle = kh_asprintf("%s/bundle", dir)) ||
	    !(ini = kh_asprintf("%s/khreset.ini", dir)))
		goto nomem;
	if ((rc = payload_add(p, dir, "khreset.exe", "khreset.exe")) != KH_OK ||
	    (rc = payload_add(p, dir, "khreset.ini", "khreset.ini")) != KH_OK ||
	    (rc = pfile_load(&p->sc, dir, "SetupComplete.cmd", "SetupComplete.cmd")) != KH_OK ||
	    (rc = payload_bundle_files(p)) != KH_OK || (rc = payload_marker(p)) != KH_OK)
		goto out;
	if ((rc = config_load(ini, dir, &cfg)) != KH_OK) {
		rc = rc == KH_ERR_NOMEM ? rc : KH_ERR_CONFIG;
		goto out;
	}
	rc = payload_check_config(p, cfg);
	goto out;
nomem:
	rc = KH_ERR_NOMEM;
out:
	config_free(cfg);
	free(ini);
	return rc;
}

/* ------------------------------------------------------------------ */
/* bake: the plan per image                                             */

enum sc_state { SC_ABSENT, SC_OURS, SC_FOREIGN };
static const char *const sc_names[] = { "absent", "ours", "foreign" };

struct action {
	const char *op;       /* "delete" | "add" | "rename" */
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

static int act(struct plan *pl, const char *op, const char *path, const char *src,
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
	char *t = NULL, *v;
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
	if (!(t = text_of(buf, len)))
		goto out;
	rc = KH_OK;
	if (has_marker(t)) {
		pl->sc = SC_OURS;
		v = strstr(t, "version=");
		pl->sc_version = strndup(v ? v + 8 : "?", v ? strcspn(v + 8, " \t\r\n") : 1);
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
		if (!name_starts(ents[i].name, "SetupComplete.chained"))
			rc = act(pl, "delete", ents[i].path, NULL, NULL);
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
			rc = act(pl, "rename", e.path, NULL, CHAINED_PREV);
		if (rc == KH_OK)
			rc = act(pl, "rename", pl->sc_path, NULL, CHAINED);
		pl->chained = 1;
	} else if (found && pl->sc == SC_OURS) {
		memcpy(pl->chained_sha1, e.sha1, sizeof(e.sha1));
		pl->chained = 1;
	}
	wim_ent_clear(&e);
	return rc;
}

static int plan_image(kh_wim *w, const struct payload *p, int image, struct plan *pl)
{
	char *bundle = NULL;
	int rc;

	memset(pl, 0, sizeof(*pl));
	pl->image = image;
	if ((rc = plan_sc(w, pl)) != KH_OK || (rc = plan_cleanup(w, pl)) != KH_OK)
		return rc;
	if (!(bundle = kh_asprintf("%s\\bundle", KHDIR)))
		return KH_ERR_NOMEM;
	if ((rc = act(pl, "add", KHDIR "\\khreset.exe", p->f[0].host, NULL)) == KH_OK &&
	    (rc = act(pl, "add", KHDIR "\\khreset.ini", p->f[1].host, NULL)) == KH_OK &&
	    (rc = act(pl, "add", bundle, p->bundle, NULL)) == KH_OK &&
	    (rc = plan_chain(w, pl)) == KH_OK)
		rc = act(pl, "add", SC_PATH, p->sc.host, NULL);
	free(bundle);
	return rc;
}

static int plan_apply(kh_wim *w, const struct plan *pl)
{
	struct wimlib_update_command *c = calloc(pl->n ? pl->n : 1, sizeof(*c));
	int rc;

	if (!c)
		return KH_ERR_NOMEM;
	for (size_t i = 0; i < pl->n; i++) {
		const struct action *a = &pl->a[i];
		if (strcmp(a->op, "delete") == 0) {
			c[i].op = WIMLIB_UPDATE_OP_DELETE;
			c[i].delete_.wim_path = a->path;
			c[i].delete_.delete_flags = WIMLIB_DELETE_FLAG_FORCE |
						    WIMLIB_DELETE_FLAG_RECURSIVE;
		} else if (strcmp(a->op, "rename") == 0) {
			c[i].op = WIMLIB_UPDATE_OP_RENAME;
			c[i].rename.wim_source_path = a->path;
			c[i].rename.wim_target_path = a->to;
		} else {
			c[i].op = WIMLIB_UPDATE_OP_ADD;
			c[i].add.fs_source_path = a->src;
			c[i].add.wim_target_path = a->path;
			c[i].add.add_flags = WIMLIB_ADD_FLAG_NO_ACLS;
		}
	}
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
	int dry_run, rebuild;
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

static int bake_args(int argc, char **argv, struct bake_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		if (opt_val(argc, argv, &i, "--payload", &v)) {
			if (!(o->payload = v))
				return 0;
		} else if (opt_val(argc, argv, &i, "--index", &v)) {
			if (!(o->index = v))
				return 0;
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			o->dry_run = 1;
		} else if (strcmp(argv[i], "--rebuild") == 0) {
			o->rebuild = 1;
		} else if (argv[i][0] == '-' || o->wim) {
			fprintf(stderr, "khreset: bake: unexpected argument '%s'\n", argv[i]);
			return 0;
		} else {
			o->wim = argv[i];
		}
	}
	return o->wim && o->payload;
}

/* --index N|all -> [first, last]; 0 usage, -1 out of range. */
static int parse_index(const char *s, int count, int *first, int *last)
{
	char *end;
	long n;

	if (!s || strcmp(s, "all") == 0) {
		*first = 1;
		*last = count;
		return 1;
	}
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || end == s || n < 1)
		return 0;
	if (n > count)
		return -1;
	*first = *last = (int)n;
	return 1;
}

static json_t *plan_json(kh_wim *w, const struct plan *pl)
{
	json_t *acts = json_array();

	for (size_t i = 0; i < pl->n; i++) {
		const struct action *a = &pl->a[i];
		json_t *o = json_pack("{s:s, s:s}", "op", a->op, "path", a->path);
		if (a->to)
			json_object_set_new(o, "to", json_string(a->to));
		if (a->src)
			json_object_set_new(o, "source", json_string(a->src));
		json_array_append_new(acts, o);
	}
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s?, s:b, s:o, s:b}",
			 "index", pl->image,
			 "name", wim_prop(w, pl->image, "NAME"),
			 "edition", wim_prop(w, pl->image, "WINDOWS/EDITIONID"),
			 "build", wim_prop(w, pl->image, "WINDOWS/VERSION/BUILD"),
			 "setupcomplete", sc_names[pl->sc],
			 "setupcomplete_version", pl->sc_version,
			 "chained", pl->chained, "actions", acts,
			 "verified", pl->verified);
}

static void bake_json(struct bake *b)
{
	json_t *imgs = json_array(), *root;

	for (int i = 0; i < b->npl && b->w; i++)
		json_array_append_new(imgs, plan_json(b->w, &b->pl[i]));
	root = json_pack("{s:s, s:s, s:b, s:s, s:b, s:o, s:{s:b, s:i, s:b, s:s?}}",
			 "wim", b->o.wim, "payload", b->o.payload,
			 "dry_run", b->o.dry_run,
			 "mode", b->o.rebuild ? "rebuild" : "append",
			 "integrity", b->integrity, "images", imgs,
			 "result", "ok", b->rc == KH_EXIT_OK,
			 "exit_code", b->rc, "written", b->stage_written,
			 "error", b->rc ? kh_lasterr() : NULL);
	json_out(root);
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
		printf("  image %-3d %-24s %-14s %-6s %s\n", pl->image,
		       wim_prop(b->w, pl->image, "NAME"),
		       wim_prop(b->w, pl->image, "WINDOWS/EDITIONID"),
		       wim_prop(b->w, pl->image, "WINDOWS/VERSION/BUILD"), sc_human(pl));
		for (size_t j = 0; show_actions && j < pl->n; j++)
			printf("    %-7s %s%s%s\n", pl->a[j].op, pl->a[j].path,
			       pl->a[j].to ? " -> " : "", pl->a[j].to ? pl->a[j].to : "");
	}
}

static int bake_plan_all(struct bake *b)
{
	int first, last, rc, r;

	r = parse_index(b->o.index, wim_image_count(b->w), &first, &last);
	if (r == 0) {
		kh_seterr("--index %s: expected an image number or 'all'", b->o.index);
		return KH_ERR_USAGE;
	}
	if (r < 0 || wim_image_count(b->w) == 0) {
		kh_seterr("%s: image %s does not exist (the WIM has %d)", b->o.wim,
			  b->o.index ? b->o.index : "1", wim_image_count(b->w));
		return KH_ERR_DATA;
	}
	if (!(b->pl = calloc((size_t)(last - first + 1), sizeof(*b->pl))))
		return KH_ERR_NOMEM;
	for (int i = first; i <= last; i++) {
		rc = plan_image(b->w, &b->p, i, &b->pl[b->npl++]);
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
	rc = wim_commit(b->w, b->o.rebuild, isatty(2) && g->verbosity > 0);
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

	if (!bake_args(argc, argv, &b.o))
		return usage("bake");
	kh_clearerr();
	wim_init();
	rc = bake_run(&b, g);
	b.rc = rc == KH_OK ? KH_EXIT_OK : kh_exitcode(rc);
	if (rc != KH_OK)
		fail(g, "bake", rc);
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

/* ------------------------------------------------------------------ */
/* lint                                                                 */

enum sev { SEV_ERROR, SEV_WARNING, SEV_INFO };
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
	for (size_t i = 0; i < n && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
					 i ? ", " : "", e[i].name);
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

/* Reads an image script as text; *text NULL when absent. */
static int read_text(struct lint *l, int image, const char *path, char **text)
{
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	*text = NULL;
	rc = wim_read(l->w, image, path, SCRIPT_MAX, &buf, &len);
	if (rc == KH_ERR_NOENT || rc == KH_ERR_TOOBIG || rc == KH_ERR_UNSAFE)
		return KH_OK;
	if (rc == KH_OK && !(*text = text_of(buf, len)))
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

static int lint_hook(struct lint *l, struct lint_image *li)
{
	char *text = NULL;
	int found, rc;

	if ((rc = read_text(l, li->image, SC_PATH, &text)) != KH_OK)
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
	if (rc == KH_OK && text && !has_marker(text))
		rc = finding(l, li, "setupcomplete-foreign", SEV_INFO, SC_PATH,
			  "SetupComplete.cmd is not khreset's (bake chains it after khreset)");
	if (rc == KH_OK && text)
		rc = lint_temp_script(l, li, SC_PATH, text);
out:
	free(text);
	return rc;
}

static int lint_chained(struct lint *l, struct lint_image *li)
{
	struct kh_wim_ent *e = NULL;
	size_t n = 0;
	int rc;

	if ((rc = wim_list(l->w, li->image, KHDIR, 0, &e, &n)) != KH_OK)
		return rc;
	for (size_t i = 0; rc == KH_OK && i < n; i++) {
		char *text = NULL;
		if (!name_starts(e[i].name, "SetupComplete.chained") || e[i].is_dir)
			continue;
		if ((rc = read_text(l, li->image, e[i].path, &text)) == KH_OK && text) {
			rc = finding(l, li, "setupcomplete-foreign", SEV_INFO, e[i].path,
				  "earlier SetupComplete.cmd, chained after khreset");
			if (rc == KH_OK)
				rc = lint_temp_script(l, li, e[i].path, text);
		}
		free(text);
	}
	wim_free_ents(e, n);
	return rc;
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
		if (e[i].is_dir || e[i].is_reparse)
			continue;
		if ((rc = read_text(l, li->image, e[i].path, &text)) == KH_OK && text &&
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

static void lint_free(struct lint *l)
{
	for (int i = 0; i < l->nimg; i++) {
		for (size_t j = 0; j < l->img[i].n; j++) {
			free(l->img[i].f[j].path);
			free(l->img[i].f[j].detail);
		}
		free(l->img[i].f);
	}
	free(l->img);
	bundle_free(l->bundle);
	wim_close(l->w);
}

static void lint_json(struct lint *l, int code)
{
	json_t *imgs = json_array(), *root;

	for (int i = 0; i < l->nimg; i++) {
		const struct lint_image *li = &l->img[i];
		json_t *fs = json_array();
		for (size_t j = 0; j < li->n; j++)
			json_array_append_new(fs, json_pack("{s:s, s:s, s:s, s:s}",
				"id", li->f[j].id, "severity", sev_names[li->f[j].sev],
				"path", li->f[j].path, "detail", li->f[j].detail));
		json_array_append_new(imgs, json_pack("{s:i, s:s, s:s, s:s, s:o}",
			"index", li->image, "name", wim_prop(l->w, li->image, "NAME"),
			"edition", wim_prop(l->w, li->image, "WINDOWS/EDITIONID"),
			"build", wim_prop(l->w, li->image, "WINDOWS/VERSION/BUILD"),
			"findings", fs));
	}
	root = json_pack("{s:s, s:s?, s:o, s:{s:i, s:i, s:i}, s:i}", "wim", l->wim,
			 "bundle", l->bundle ? l->bundle->path : NULL, "images", imgs,
			 "summary", "error", l->count[SEV_ERROR], "warning",
			 l->count[SEV_WARNING], "info", l->count[SEV_INFO], "exit_code", code);
	json_out(root);
	json_decref(root);
}

static void lint_human(struct lint *l)
{
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
	}
}

/* --bundle: verified with the key and size limit of --config, if given. */
static int lint_load_bundle(struct lint *l, const char *dir, const struct kh_globals *g)
{
	struct kh_config *cfg = NULL;
	int rc;

	if (g->config && (rc = config_load(g->config, NULL, &cfg)) != KH_OK)
		return rc;
	rc = bundle_load(dir, cfg ? cfg->public_key : NULL,
			 cfg ? cfg->max_file_size : 1048576, &l->bundle);
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
	return KH_OK;
}

int cmd_lint(int argc, char **argv, struct kh_globals *g)
{
	struct lint l = { 0 };
	const char *bundle = NULL;
	int rc, code;

	for (int i = 1; i < argc; i++) {
		if (opt_val(argc, argv, &i, "--bundle", &bundle)) {
			if (!bundle)
				return usage("lint");
		} else if (argv[i][0] == '-' || l.wim) {
			return usage("lint");
		} else {
			l.wim = argv[i];
		}
	}
	if (!l.wim)
		return usage("lint");
	kh_clearerr();
	wim_init();
	rc = lint_run(&l, bundle, g);
	if (rc != KH_OK)
		code = fail(g, "lint", rc);
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
