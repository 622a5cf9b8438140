/* config.h - khreset.ini (SPEC section 6), parsed with minIni. */
#ifndef KH_CONFIG_H
#define KH_CONFIG_H

#include <stddef.h>
#include "platform.h"

struct kh_config {
	char *path;              /* file read, or NULL for built-in defaults */
	char *archive_dir;       /* relative to the Windows root */
	char *install_dir;
	size_t max_file_size;
	char *bundle_dir;        /* host path, resolved against the config's folder;
				  * below the root when bundle_below_root */
	char *public_key;        /* the same, or NULL */
	int bundle_below_root;   /* the volume's own file: bundle_dir and public_key
				  * are paths below the Windows root, read with plat_read */
	int require_upgrade;
	int keep_backups;
	char *clipsvc_service;
	int clipsvc_timeout;
	char *root_keyholder;     /* the name verify waits for; NULL: the bundle's
				   * first [install] file */
	char *activation_service; /* NULL: none */
	char *activation_command; /* NULL: none */
	int activation_timeout;
	int activation_interval;
	struct kh_regval *reg;    /* [registry] valueN, in N order */
	size_t n_reg;
	char *task_name;
	char *task_delay;
	char *task_interval;     /* repetition interval, ISO 8601 (PT15M) */
	int task_jitter;
	int task_max_attempts;
	int log_level;            /* KH_LOG_* */
};

/*
 * Loads the host file path (NULL: built-in defaults; bundle_dir then
 * relative to default_base, e.g. the executable's or the config default
 * folder), read with kh_read_host: no symlink, at most 1 MiB.
 * Unknown sections/keys: warning through kh_log (not an error).
 * Invalid syntax or value: KH_ERR_CONFIG, kh_seterr() naming file, line and
 * key.  That includes a NUL byte, a line over 1022 bytes, a value that is
 * not UTF-8, a key given twice, a number with a sign or a leading zero, a
 * duration Task Scheduler would refuse, a registry key part over 255 or a
 * value name over 16383 characters, a control character in a registry
 * name, the same registry value twice.  A UTF-8 signature (BOM) is skipped;
 * UTF-16 is refused.  Missing file: KH_ERR_NOENT; a link or non-regular
 * file: KH_ERR_UNSAFE.
 */
int config_load(const char *path, const char *default_base,
		struct kh_config **out);
/* The same over bytes already read (e.g. from inside the Windows root):
 * shown names the file in messages, base is the folder bundle.dir and
 * bundle.public_key are relative to (NULL: shown's folder).  text NULL:
 * the built-in defaults, relative to base. */
int config_parse(const void *text, size_t len, const char *shown, const char *base,
		 struct kh_config **out);
/* The volume's own khreset.ini, read from below the root (text NULL: the
 * defaults): dir is its folder relative to the root, and bundle.dir and
 * bundle.public_key are taken relative to dir, below the root too
 * (bundle_below_root set); an absolute path or ".." there is KH_ERR_CONFIG
 * naming the line. */
int config_parse_root(const void *text, size_t len, const char *shown, const char *dir,
		      struct kh_config **out);
void config_free(struct kh_config *c);

/* The time budget of a run, seconds from its start (SPEC section 3):
 * --wait (wait_s >= 0), else twice clipsvc.timeout plus activation.timeout.
 * run and run --evidence's collector use this one function. */
int config_budget_s(const struct kh_config *c, int wait_s);

#endif
