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
	int wait_s;        /* -1: activation.timeout */
	int from_task;
	int no_registry;   /* --no-registry: the registry step is left out */
};

/* Runs d->plan; fills r (outcome, exit code, steps, backup ID).  A failure
 * in backup, stage, restart or verify is rolled back before returning. */
void repair_run(kh_plat *p, const struct kh_config *c, const struct kh_obs *o,
		const struct kh_decision *d, const struct kh_runopts *opt,
		struct kh_result *r);

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
