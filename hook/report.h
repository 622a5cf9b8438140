/* report.h - the status document (SPEC section 4) and the human summary. */
#ifndef KH_REPORT_H
#define KH_REPORT_H

#include <stdio.h>
#include "observe.h"
#include "state.h"

/* The outcome of a verb (SPEC section 4, result.outcome).  Zero is "checked":
 * observed, nothing carried out yet. */
enum kh_outcome { KH_OUT_CHECKED, KH_OUT_HEALTHY, KH_OUT_REPAIRED, KH_OUT_PENDING,
		  KH_OUT_FAILED, KH_OUT_BLOCKED, KH_OUT__COUNT };
const char *outcome_name(enum kh_outcome o);

struct kh_stepres {
	const char *step;
	int ok;
	long ms;
	char detail[512];
};

struct kh_result {
	enum kh_outcome outcome;
	int exit_code;
	char backup_id[32];     /* "" none */
	int archive_repaired;   /* the stale entries are backed up, the set staged
				 * and (live) ClipSVC restarted: confirmed, never
				 * rolled back from here (issue 10: the per-upgrade
				 * "repair done" record follows it) */
	struct kh_stepres steps[16];
	size_t n_steps;
	struct kh_recovery recovery;
};

/* Builds the document as JSON text (malloc'd). */
char *report_json(const struct kh_obs *o, const struct kh_decision *d,
		  const struct kh_result *r);
/* Writes it atomically to ProgramData\khreset\status.json; durable: also
 * fsynced (after a run; a check's report is only replaced atomically). */
int report_save(kh_plat *p, const char *json, int durable);
/* Human text: verdict first, one line per archive entry, then the plan. */
void report_human(FILE *out, const struct kh_obs *o, const struct kh_decision *d,
		  const struct kh_result *r, int verbose);

#endif
