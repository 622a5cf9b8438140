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
	char *bundle_dir;        /* host path, resolved against the config's folder */
	char *public_key;        /* host path or NULL */
	int require_upgrade;
	int keep_backups;
	char *clipsvc_service;
	int clipsvc_timeout;
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
 * Invalid syntax or value (a NUL byte, a line over 1022 bytes included):
 * KH_ERR_CONFIG, kh_seterr() naming file, line and key.  Missing file:
 * KH_ERR_NOENT; a link or non-regular file: KH_ERR_UNSAFE.
 */
int config_load(const char *path, const char *default_base,
		struct kh_config **out);
/* The same over bytes already read (e.g. from inside the Windows root):
 * shown names the file in messages, base is the folder bundle.dir and
 * bundle.public_key are relative to (NULL: shown's folder).  text NULL:
 * the built-in defaults, relative to base. */
int config_parse(const void *text, size_t len, const char *shown, const char *base,
		 struct kh_config **out);
void config_free(struct kh_config *c);

#endif
