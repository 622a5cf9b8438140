/* observe.h - what `check` sees (SPEC section 3), and the decision. */
#ifndef KH_OBSERVE_H
#define KH_OBSERVE_H

#include <stdint.h>
#include "bundle.h"
#include "config.h"
#include "digest.h"
#include "platform.h"
#include "repairrec.h"
#include "upgrade.h"

enum kh_class {
	KH_CL_CURRENT, KH_CL_OUTDATED, KH_CL_CARRIED, KH_CL_POST,
	KH_CL_FOREIGN, KH_CL_INVALID
};

struct kh_entry {
	char *name;
	enum kh_ftype type;
	uint64_t size;
	int64_t mtime;
	char sha256[KH_SHA256_HEX];   /* "" when not read */
	enum kh_class cls;
	char *reason;                 /* why this class, for people */
	int stat_err;                 /* errno of an lstat that failed; 0 */
};

struct kh_obs {
	int offline;
	long build;                      /* running CurrentBuild, 0 unknown */
	struct kh_source_os *hist;       /* upgrade history, raw */
	size_t n_hist;
	struct kh_upgrade upgrade;       /* its meaning (into hist) ... */
	const struct kh_upgrade *upgraded_from;  /* ... &upgrade, or NULL: none */
	int windows_old;
	enum kh_licence lic;
	uint32_t lic_reason;
	struct kh_bundle *bundle;        /* NULL when it failed to load */
	char *bundle_path;
	int bundle_err;                  /* kh_err of the load */
	char *bundle_msg;                /* its detail */
	struct kh_entry *archive;
	size_t n_archive;
	struct kh_entry *install;
	size_t n_install;
	int archive_missing;             /* the folder does not exist */
	struct kh_hive_state hives[2];   /* each hive read, and whether it is dirty */
	size_t n_hives;
	struct kh_regseen *reg;          /* each [registry] value in both views (regview.h) */
	size_t n_reg;
	struct kh_rrec repair;           /* the repair record (repairrec.h) */
};

/*
 * Reads system, bundle, archive and install (nothing is changed).  Returns
 * an error only when the system cannot be observed at all (hive missing or
 * corrupt, unsafe path); a bundle failure is recorded in obs instead.
 */
int observe(kh_plat *p, const struct kh_config *c, struct kh_obs *obs);
void obs_free(struct kh_obs *obs);

/* Classifies one archive entry (pure; entry fields filled, xml_reason set
 * when the content failed the XML check, NULL otherwise). */
void classify(struct kh_entry *e, const struct kh_bundle *b,
	      const struct kh_upgrade *upgraded_from, int64_t max_size,
	      const char *xml_reason);
const char *class_name(enum kh_class c);
/* The first dirty hive of o whose file name (the last path component)
 * is name, any case; NULL (name NULL: any dirty hive) when none. */
const struct kh_hive_state *obs_dirty_hive(const struct kh_obs *o, const char *name);
/* 1 if a path can name an entry called name: no '\' or '/' in it (a
 * Linux mount may show a name Windows could never have made). */
int obs_addressable(const char *name);
/* The first archive entry no path can name (classed invalid), or NULL:
 * nothing can move it, so a run that would is refused. */
const struct kh_entry *obs_unaddressable(const struct kh_obs *o);

/* --- decision (pure) --- */
enum kh_verdict { KH_V_HEALTHY, KH_V_REPAIR, KH_V_ACTIVATE, KH_V_BLOCKED };

enum kh_step {
	KH_ST_BACKUP = 1 << 0, KH_ST_STAGE = 1 << 1, KH_ST_RESTART = 1 << 2,
	KH_ST_VERIFY = 1 << 3, KH_ST_REGISTRY = 1 << 4, KH_ST_TRIGGER = 1 << 5,
	KH_ST_WAIT = 1 << 6
};
#define KH_ST_COUNT 7

struct kh_facts {
	int offline;
	int stale;              /* any outdated/carried-over/foreign/invalid */
	int all_current;        /* every bundle file archived as current */
	int missing;            /* a bundle file name absent from the archive */
	enum kh_licence lic;
	int upgraded;           /* upgraded_from set */
	int windows_old;
	int require_upgrade;
	int force;
	int repaired;           /* the repair record names this upgrade */
};

struct kh_decision {
	enum kh_verdict verdict;
	unsigned plan;          /* KH_ST_* */
	const char *why;        /* one line for people */
};

void facts_from(const struct kh_obs *o, const struct kh_config *c, int force,
		struct kh_facts *f);
void decide(const struct kh_facts *f, struct kh_decision *d);
const char *verdict_name(enum kh_verdict v);
const char *step_name(unsigned step);   /* one KH_ST_* bit */

#endif
