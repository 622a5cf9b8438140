/* repair.h - carrying out the plan (SPEC section 3) and restoring backups. */
#ifndef KH_REPAIR_H
#define KH_REPAIR_H

#include "config.h"
#include "observe.h"
#include "platform.h"
#include "report.h"

struct kh_runopts {
	int force;
	int no_activate;
	int wait_s;        /* --wait: the whole run's budget; -1: none given */
	long deadline_ms;  /* kh_mono_ms() time the run ends by (the budget,
			    * config_budget_s from the process start); 0: none */
	int from_task;
	int no_registry;   /* --no-registry: the registry step is left out */
};

/* Runs d->plan within opt->deadline_ms; fills r (outcome, exit code,
 * steps, backup ID).  Live: ClipSVC is stopped before the backup; a
 * failure before it has started again cleanly is rolled back (failed, or
 * pending when it was only busy or out of time); from then on nothing
 * rolls back and a failure is pending (SPEC section 3). */
void repair_run(kh_plat *p, const struct kh_config *c, const struct kh_obs *o,
		const struct kh_decision *d, const struct kh_runopts *opt,
		struct kh_result *r);

/* One line for people and the event log: the step that did not succeed and
 * why, and whether anything was rolled back ("" when every step did). */
void repair_summary(const struct kh_result *r, char *out, size_t size);

/* Puts the archive entries of backup `id` back, after checking every digest
 * and backing up what is there now.  Returns a kh_err. */
int restore_backup(kh_plat *p, const struct kh_config *c, const char *id,
		   struct kh_result *r);

/* Live retry bookkeeping (retry.c).  retry_begin: for a task run, waits
 * the random jitter and returns this attempt's number (0 otherwise).
 * retry_finish: the retry task t (defined by the CLI edge, cli_task; NULL
 * when it could not be, kh_lasterr() says why) follows the outcome (after
 * the last attempt a pending outcome becomes failed), then the Status
 * values and the event.  Both do nothing offline. */
long retry_begin(kh_plat *p, const struct kh_config *c, int from_task);
void retry_finish(kh_plat *p, const struct kh_config *c, const struct kh_task *t,
		  const struct kh_decision *d, int from_task, long attempts,
		  struct kh_result *r);

#endif
