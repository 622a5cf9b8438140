/* upgrade.h - the upgrade history, as the bodies read it from the
 * SYSTEM\Setup\Source OS keys, turned into the one `upgraded_from` of SPEC
 * section 3.  Pure: the live and offline builds decide the same way. */
#ifndef KH_UPGRADE_H
#define KH_UPGRADE_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h"

/* Where an upgrade's time came from. */
enum kh_time_from { KH_TIME_NONE, KH_TIME_LAST_WRITE, KH_TIME_NAME };

struct kh_upgrade {
	const char *key;             /* the Source OS key (borrowed from the list) */
	long build;
	const char *product;         /* borrowed; NULL if missing */
	int64_t time;                /* the upgrade's time, Unix seconds; 0 unknown */
	enum kh_time_from time_from; /* which evidence time is */
	/* the evidence */
	int64_t name_date;           /* the date in the key name; 0 none */
	int64_t last_write;          /* the key's last-write time; 0 none */
	int newest;                  /* the newest of all Source OS keys */
};

/* "Source OS (Updated on 3/14/2020 10:20:30)" (month/day/year, any case)
 * -> Unix seconds, taken as UTC; 0 when the name is not of that form or
 * the date is not a real one. */
int64_t upgrade_name_date(const char *key);

/* CurrentBuild text -> build number; 0 when missing or not a positive
 * decimal number of at most 9 digits (nothing else around it). */
long upgrade_build(const char *text);

/* upgraded_from: of the entries whose build is lower than running, the
 * newest: the later date in the name, by build where the dates tie or a
 * name does not parse.  Its time: the key's last-write time when it is the
 * newest of all keys (the last upgrade rewrote them all, so the time holds
 * only there), else the date in its name, else the last-write time (a
 * later bound).  1 and *out filled when there is one; 0 when none (also
 * when running is unknown, <= 0). */
int upgrade_find(const struct kh_source_os *list, size_t n, long running,
		 struct kh_upgrade *out);

/* "last-write", "name", or NULL for KH_TIME_NONE. */
const char *upgrade_time_from_name(enum kh_time_from f);

#endif
