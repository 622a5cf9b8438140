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

/* Writes the document (SPEC section 4) in pieces to put, as
 * json_dumps(JSON_INDENT(2)) would lay it out, with a final newline; the
 * first error put returns stops it and is returned. */
int report_write(const struct kh_obs *o, const struct kh_decision *d,
		 const struct kh_result *r, kh_put_fn put, void *ctx);
/* In one pass: to ProgramData\khreset\status.json when save (replaced
 * atomically; durable: also fsynced, after a run - a check's report is
 * only replaced), and to out unless NULL.  Returns the status file's
 * result; out gets the whole document also when the file fails. */
int report_emit(kh_plat *p, const struct kh_obs *o, const struct kh_decision *d,
		const struct kh_result *r, int save, int durable, FILE *out);
/* Human text: verdict first, one line per archive entry, then the plan. */
void report_human(FILE *out, const struct kh_obs *o, const struct kh_decision *d,
		  const struct kh_result *r, int verbose);

#endif
