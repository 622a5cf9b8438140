/* observe.c - reads the system, the bundle and the keyholder folders, and
 * classifies every archive entry (SPEC section 3).  Changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyholder.h"
#include "khreset.h"
#include "observe.h"
#include "regview.h"

static const char *const cnames[] = {
	"current", "outdated", "carried-over", "post-upgrade", "foreign", "invalid"
};

const char *class_name(enum kh_class c)
{
	return (unsigned)c < 6 ? cnames[c] : "unknown";
}

static const char *type_text(enum kh_ftype t)
{
	return t == KH_FT_DIR ? "a directory" : t == KH_FT_LINK ? "a symbolic link"
					     : "not a regular file";
}

#define UNADDRESSABLE "the name holds a '\\', which no Windows path can name"

int obs_addressable(const char *name)
{
	return !strchr(name, '\\') && !strchr(name, '/');
}

const struct kh_entry *obs_unaddressable(const struct kh_obs *o)
{
	for (size_t i = 0; i < o->n_archive; i++)
		if (!obs_addressable(o->archive[i].name))
			return &o->archive[i];
	return NULL;
}

static void set_reason(struct kh_entry *e, enum kh_class cls, char *reason)
{
	e->cls = cls;
	free(e->reason);
	e->reason = reason;
}

void classify(struct kh_entry *e, const struct kh_bundle *b,
	      const struct kh_upgrade *up, int64_t max_size,
	      const char *xml_reason)
{
	const struct kh_bundle_file *bf;
	char when[32];

	if (e->stat_err)
		return set_reason(e, KH_CL_INVALID,
				  kh_asprintf("cannot be examined (%s): left where it is; "
					      "check the file system (chkdsk /f)", strerror(e->stat_err)));
	if (e->type != KH_FT_FILE)
		return set_reason(e, KH_CL_INVALID, kh_asprintf("%s", type_text(e->type)));
	if (!obs_addressable(e->name))
		return set_reason(e, KH_CL_INVALID, kh_strdup(UNADDRESSABLE));
	if (!kh_is_uuid_xml(e->name))
		return set_reason(e, KH_CL_INVALID, kh_strdup("name is not <uuid>.xml"));
	if (e->size > (uint64_t)max_size)
		return set_reason(e, KH_CL_INVALID,
				  kh_asprintf("larger than max_file_size (%llu > %lld bytes)",
					      (unsigned long long)e->size, (long long)max_size));
	if (xml_reason)
		return set_reason(e, KH_CL_INVALID, kh_strdup(xml_reason));
	bf = b ? bundle_find(b, e->name) : NULL;
	if (bf && bundle_good_archived(bf, e->sha256))
		return set_reason(e, KH_CL_CURRENT, kh_strdup("official keyholder, digest listed as good"));
	if (bf)
		return set_reason(e, KH_CL_OUTDATED,
				  kh_strdup("official keyholder name, but content not listed as good"));
	if (!up)
		return set_reason(e, KH_CL_FOREIGN,
				  kh_strdup(b ? "not in the bundle, and no upgrade was detected"
					      : "bundle unavailable; no upgrade was detected"));
	kh_fmt_time(up->time, when);
	if (up->time == 0 || e->mtime < up->time)
		return set_reason(e, KH_CL_CARRIED,
				  up->time ? kh_asprintf("not in the bundle, modified before the upgrade (%s)", when)
					   : kh_strdup("not in the bundle; upgrade time unknown"));
	set_reason(e, KH_CL_POST, kh_asprintf("not in the bundle, written after the upgrade (%s)", when));
}

/* Reads one entry's content for digest and XML check (regular files only). */
static int scan_entry(kh_plat *p, const char *dir, struct kh_entry *e,
		      const struct kh_config *c, char **xml_reason)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char *path;
	int rc;

	*xml_reason = NULL;
	if (e->type != KH_FT_FILE || e->size > c->max_file_size || !obs_addressable(e->name))
		return KH_OK;
	if (!(path = kh_asprintf("%s\\%s", dir, e->name)))
		return KH_ERR_NOMEM;
	rc = plat_read(p, path, c->max_file_size, &buf, &len);
	free(path);
	if (rc == KH_ERR_INUSE) {
		/* held open without read sharing (ClipSVC's own archive while it
		 * runs): not examined, so invalid - not waited for here, since
		 * the holder may be ClipSVC itself: run stops ClipSVC before it
		 * moves anything, and the backup's read of the entry waits for
		 * it within the budget (kh_busy_read) */
		kh_log(KH_LOG_WARN, "observe", "%s", kh_lasterr());
		kh_clearerr();
		*xml_reason = kh_strdup("held open by another process: its content could not "
					"be read; moved aside once it is free");
		return *xml_reason ? KH_OK : KH_ERR_NOMEM;
	}
	if (rc == KH_ERR_TOOBIG || rc == KH_ERR_UNSAFE) {
		/* changed under us: classify from what stat said */
		e->size = rc == KH_ERR_TOOBIG ? c->max_file_size + 1 : e->size;
		e->type = rc == KH_ERR_UNSAFE ? KH_FT_OTHER : e->type;
		return KH_OK;
	}
	if (rc != KH_OK)
		return rc;
	e->size = len;
	kh_sha256_buf(buf, len, e->sha256);
	if (!kh_is_uuid_xml(e->name) || keyholder_check(buf, len, xml_reason) == KH_OK)
		*xml_reason = NULL;
	free(buf);
	return KH_OK;
}

static int scan_dir(kh_plat *p, const struct kh_config *c, const char *dir,
		    const struct kh_obs *o, int classify_it,
		    struct kh_entry **out, size_t *n_out, int *missing)
{
	struct kh_dirent *ents = NULL;
	struct kh_entry *es = NULL;
	size_t n = 0;
	int rc = plat_list(p, dir, &ents, &n);

	*out = NULL;
	*n_out = 0;
	if (missing)
		*missing = rc == KH_ERR_NOENT;
	if (rc == KH_ERR_NOENT)
		return KH_OK;
	if (rc != KH_OK)
		return rc;
	if (n && !(es = calloc(n, sizeof(*es)))) {
		plat_free_list(ents, n);
		return KH_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct kh_entry *e = &es[i];
		char *xml = NULL;

		e->name = ents[i].name;
		ents[i].name = NULL;
		e->type = ents[i].type;
		e->size = ents[i].size;
		e->mtime = ents[i].mtime;
		e->stat_err = ents[i].err;
		if ((rc = scan_entry(p, dir, e, c, &xml)) != KH_OK) {
			free(xml);
			*out = es;
			*n_out = i + 1;
			plat_free_list(ents, n);
			return rc;
		}
		if (classify_it)
			classify(e, o->bundle, o->upgraded_from, (int64_t)c->max_file_size, xml);
		free(xml);
	}
	plat_free_list(ents, n);
	*out = n ? es : NULL;
	*n_out = n;
	return KH_OK;
}

static void observe_hives(kh_plat *p, struct kh_obs *o)
{
	const struct kh_hive_state *h;
	size_t n = plat_hive_states(p, &h);

	o->n_hives = n < 2 ? n : 2;
	if (o->n_hives)
		memcpy(o->hives, h, o->n_hives * sizeof(*h));
}

const struct kh_hive_state *obs_dirty_hive(const struct kh_obs *o, const char *name)
{
	for (size_t i = 0; i < o->n_hives; i++) {
		const char *base = strrchr(o->hives[i].path, '/');

		base = base ? base + 1 : o->hives[i].path;
		if (o->hives[i].dirty && (!name || !kh_strcasecmp(base, name)))
			return &o->hives[i];
	}
	return NULL;
}

static int observe_system(kh_plat *p, struct kh_obs *o)
{
	struct kh_dirent st;
	char *s = NULL;
	int rc;

	rc = plat_reg_get(p, "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion",
			  "CurrentBuild", &s);
	if (rc == KH_OK)
		o->build = upgrade_build(s);
	else if (rc != KH_ERR_NOENT)
		return rc;
	free(s);
	if ((rc = plat_source_os(p, &o->hist, &o->n_hist)) != KH_OK)
		return rc;
	if (upgrade_find(o->hist, o->n_hist, o->build, &o->upgrade))
		o->upgraded_from = &o->upgrade;
	observe_hives(p, o);
	rc = plat_stat(p, "Windows.old", &st);
	if (rc == KH_OK) {
		o->windows_old = st.type == KH_FT_DIR;
		free(st.name);
	}
	return KH_OK;
}

/* The volume's own configuration names a bundle below the root: read it
 * from there, never through a host path. */
static void observe_bundle(kh_plat *p, const struct kh_config *c, struct kh_obs *o)
{
	o->bundle_path = kh_strdup(c->bundle_dir);
	kh_clearerr();
	o->bundle_err = bundle_load_at(c->bundle_below_root ? p : NULL, c->bundle_dir,
				       c->public_key, c->max_file_size, &o->bundle);
	if (o->bundle_err != KH_OK)
		o->bundle_msg = kh_strdup(kh_lasterr());
}

int observe(kh_plat *p, const struct kh_config *c, struct kh_obs *o)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->offline = plat_is_offline(p);
	if ((rc = observe_system(p, o)) != KH_OK)
		return rc;
	rrec_read(p, o->upgraded_from, &o->repair);
	plat_licence(p, &o->lic, &o->lic_reason);
	observe_bundle(p, c, o);
	rc = scan_dir(p, c, c->archive_dir, o, 1, &o->archive, &o->n_archive,
		      &o->archive_missing);
	if (rc == KH_OK)
		rc = scan_dir(p, c, c->install_dir, o, 0, &o->install, &o->n_install, NULL);
	if (rc == KH_OK)
		rc = regseen_read(p, c, &o->reg, &o->n_reg);
	return rc;
}

static void free_entries(struct kh_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].reason);
	}
	free(e);
}

void obs_free(struct kh_obs *o)
{
	plat_free_source_os(o->hist, o->n_hist);
	bundle_free(o->bundle);
	free(o->bundle_path);
	free(o->bundle_msg);
	free_entries(o->archive, o->n_archive);
	free_entries(o->install, o->n_install);
	regseen_free(o->reg, o->n_reg);
	memset(o, 0, sizeof(*o));
}
