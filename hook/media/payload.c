/* payload.c - loading and validating bake's payload folder: khreset.exe,
 * khreset.ini, bundle/ and SetupComplete.cmd, all read and checked before
 * the WIM is opened for writing. */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle.h"
#include "config.h"
#include "khreset.h"
#include "media.h"

#define PAYLOAD_MAX  (512u << 20)

static void pfile_clear(struct pfile *f)
{
	free(f->rel);
	free(f->host);
	free(f->data);
}

void payload_free(struct payload *p)
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

/* 1 if path (existing) is inside dir (existing), after resolving links
 * (Windows' final paths separate with '\'). */
static int path_inside(const char *path, const char *dir)
{
	char *a = realpath(path, NULL), *b = realpath(dir, NULL);
	int in = a && b && strncmp(a, b, strlen(b)) == 0 &&
		 (a[strlen(b)] == '/' || a[strlen(b)] == '\\' || a[strlen(b)] == '\0');

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
	char *t = script_text(p->sc.data, p->sc.len);
	int rc = KH_OK;

	if (!t)
		return KH_ERR_NOMEM;
	if (!script_is_ours(t) || !strstr(t, "version=")) {
		kh_seterr("payload %s: SetupComplete.cmd is not khreset's (no '%s version=' line)",
			  p->dir, MARKER);
		rc = KH_ERR_DATA;
	} else if (!(p->sc_version = script_version(t))) {
		rc = KH_ERR_NOMEM;
	} else if (strcmp(p->sc_version, KH_VERSION) != 0) {
		kh_log(KH_LOG_WARN, "bake", "payload SetupComplete.cmd version %s, khreset %s",
		       p->sc_version, KH_VERSION);
	}
	free(t);
	return rc;
}

/* Everything is checked here, before the WIM is opened for writing. */
int payload_load(const char *dir, struct payload *p)
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
