/* repairrec.h - the per-upgrade repair record (SPEC sections 3 and 4):
 * once a run has confirmed the archive repair for an upgrade, later runs
 * for that upgrade never repair again; a newer upgrade re-arms it. */
#ifndef KH_REPAIRREC_H
#define KH_REPAIRREC_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "upgrade.h"

/* The registry values: REG_SZ each, under this key (the 64-bit view). */
#define KH_RREC_KEY      "HKLM\\SOFTWARE\\khreset"
#define KH_RREC_UPGRADE  "RepairUpgrade"   /* the Source OS key name, or "none" */
#define KH_RREC_TIME     "RepairTime"      /* RFC 3339 UTC */
#define KH_RREC_BACKUP   "RepairBackup"    /* the backup ID */
/* The upgrade a repair with no upgrade detected is recorded under
 * (--force, Windows.old, require_upgrade = false): no Source OS key name
 * can be this. */
#define KH_RREC_NONE     "none"
/* The record's own small file in the state folder, {"repair": {...}} as
 * in the status document: read back where the registry has none, so an
 * observation never parses its previous status document (tens of MB at
 * 100,000 archive entries). */
#define KH_RREC_FILE     "ProgramData\\khreset\\repair.json"

/* Where the record was read, or that this run made it. */
enum kh_rrec_from { KH_RREC_ABSENT, KH_RREC_REGISTRY, KH_RREC_STATUS, KH_RREC_RUN };
/* (KH_RREC_STATUS: read from KH_RREC_FILE, named "repair.json") */

struct kh_rrec {
	enum kh_rrec_from from;    /* KH_RREC_ABSENT: no record */
	char upgrade[1024];        /* UTF-8 of at most 255 UTF-16 units */
	int64_t time;              /* when the repair was confirmed */
	char backup_id[32];
};

/* The upgrade a record for up carries: its Source OS key, or "none". */
const char *rrec_upgrade_of(const struct kh_upgrade *up);
/* 1 when rec is a record of the upgrade up (key names compared in any
 * case, as the registry does). */
int rrec_matches(const struct kh_rrec *rec, const struct kh_upgrade *up);
/* "registry", "status.json", "run"; NULL when absent. */
const char *rrec_from_name(enum kh_rrec_from f);

/* RFC 3339 UTC as kh_fmt_time writes it (YYYY-MM-DDTHH:MM:SSZ), strictly:
 * 1 and *t set, 0 when s is anything else. */
int rrec_parse_time(const char *s, int64_t *t);

/* The record in a status document's text (its top-level "repair"): 1 and
 * *out filled (from KH_RREC_STATUS); 0 when the document has none
 * (missing, null); -1 when it is damaged - not JSON, or a repair object
 * whose fields are missing or not valid - with kh_seterr saying what. */
int rrec_from_status(const char *json, size_t len, struct kh_rrec *out);

/* Reads the record for the current upgrade up: the registry's first,
 * KH_RREC_FILE's when the registry holds none for up (an offline run with
 * --no-registry leaves it only there); otherwise the record found
 * (for another upgrade), else absent.  A record that cannot be read or
 * parsed is warned about (naming the value or file) and taken as absent.
 * Never fails. */
void rrec_read(kh_plat *p, const struct kh_upgrade *up, struct kh_rrec *out);

/* After a run whose plan held the backup step: when it confirmed the
 * archive repair (archive_repaired, kh_result), the record of the upgrade
 * o->upgraded_from, dated now, with backup_id, goes into o->repair (the
 * status document carries it) and into the registry - live always,
 * offline only when the hive may be written: no --no-registry
 * (no_registry) and the SOFTWARE hive clean - and always into
 * KH_RREC_FILE.  A write that fails is warned about. */
struct kh_obs;
void rrec_after_run(kh_plat *p, struct kh_obs *o, unsigned plan, int no_registry,
		    int archive_repaired, const char *backup_id);

/* After restore of backup id: a record naming it (registry, KH_RREC_FILE,
 * status.json)
 * is removed - the repair it records is undone, so the next run may
 * repair again.  A record of another backup stays.  Failures are warned
 * about. */
void rrec_forget(kh_plat *p, const char *id);

#endif
