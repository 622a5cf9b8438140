/* retry.c - what a live run leaves for the fleet and for the next attempt
 * (SPEC section 3 step 10, section 4): the random start delay of a task
 * run, the attempt count, the retry task itself, the Status values under
 * HKLM\SOFTWARE\khreset and the Application event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "khreset.h"
#include "repair.h"

#define STATUS_KEY "HKLM\\SOFTWARE\\khreset\\Status"

static void sleep_s(unsigned s)
{
	struct timespec ts = { (time_t)s, 0 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

long retry_begin(kh_plat *p, const struct kh_config *c, int from_task)
{
	unsigned r = 0;
	char *s = NULL;
	long attempts = 0;

	if (!from_task)
		return 0;
	if (c->task_jitter > 0 && RAND_bytes((unsigned char *)&r, sizeof(r)) == 1) {
		r %= (unsigned)c->task_jitter + 1;
		kh_log(KH_LOG_INFO, "task", "waiting %u s before this attempt (jitter %d s)",
		       r, c->task_jitter);
		sleep_s(r);
	}
	if (plat_reg_get(p, STATUS_KEY, "Attempts", &s) == KH_OK)
		attempts = strtol(s, NULL, 10);
	free(s);
	return attempts + 1;
}

/* The retry task follows the outcome: removed once healthy or repaired,
 * installed while pending, removed with a failure after the last attempt. */
static void follow_task(kh_plat *p, const struct kh_config *c, const struct kh_task *t,
			int from_task, long attempts, struct kh_result *r)
{
	struct kh_stepres *s = &r->steps[r->n_steps < 15 ? r->n_steps++ : 15];
	int rc = t ? KH_OK : KH_ERR_IO;

	memset(s, 0, sizeof(*s));
	s->step = "task";
	if (rc == KH_OK && r->outcome == KH_OUT_PENDING && from_task &&
	    attempts >= c->task_max_attempts) {
		r->outcome = KH_OUT_FAILED;
		r->exit_code = KH_EXIT_FAILED;
		rc = plat_task_remove(p, t->name);
		snprintf(s->detail, sizeof(s->detail),
			 "attempt %ld of %d still not activated: giving up, task removed",
			 attempts, c->task_max_attempts);
	} else if (rc == KH_OK && r->outcome == KH_OUT_PENDING && from_task) {
		snprintf(s->detail, sizeof(s->detail), "attempt %ld of %d; the task tries again",
			 attempts, c->task_max_attempts);
	} else if (rc == KH_OK && r->outcome == KH_OUT_PENDING) {
		rc = plat_task_install(p, t);
		snprintf(s->detail, sizeof(s->detail), "retry task %s registered", t->name);
	} else if (rc == KH_OK && (r->outcome == KH_OUT_REPAIRED ||
				   r->outcome == KH_OUT_HEALTHY)) {
		rc = plat_task_remove(p, t->name);
		snprintf(s->detail, sizeof(s->detail), "retry task %s removed (if present)", t->name);
	} else if (rc == KH_OK) {
		snprintf(s->detail, sizeof(s->detail), "retry task left as it is");
	}
	s->ok = rc == KH_OK;
	if (rc != KH_OK) {
		snprintf(s->detail, sizeof(s->detail), "%s", kh_lasterr());
		kh_log(KH_LOG_ERROR, "task", "%s", s->detail);
	}
}

static void write_status(kh_plat *p, const struct kh_result *r, long attempts)
{
	char code[16], att[16], when[32];
	struct kh_regval v[6] = {
		{ STATUS_KEY, "Outcome", KH_REG_SZ, (char *)outcome_name(r->outcome) },
		{ STATUS_KEY, "ExitCode", KH_REG_DWORD, code },
		{ STATUS_KEY, "LastRun", KH_REG_SZ, when },
		{ STATUS_KEY, "Attempts", KH_REG_DWORD, att },
		{ STATUS_KEY, "BackupId", KH_REG_SZ, (char *)r->backup_id },
		{ STATUS_KEY, "Version", KH_REG_SZ, KH_VERSION },
	};

	snprintf(code, sizeof(code), "%d", r->exit_code);
	snprintf(att, sizeof(att), "%ld", attempts);
	kh_fmt_time(kh_now(), when);
	if (plat_reg_set(p, v, 6) != KH_OK)
		kh_log(KH_LOG_WARN, "report", "status values not written: %s", kh_lasterr());
}

/* SPEC section 4: the Application event of each outcome. */
static int event_id(enum kh_outcome o)
{
	static const int ids[KH_OUT__COUNT] = {
		[KH_OUT_HEALTHY] = 100, [KH_OUT_REPAIRED] = 101, [KH_OUT_PENDING] = 102,
		[KH_OUT_FAILED] = 200,  [KH_OUT_BLOCKED] = 201,  [KH_OUT_CHECKED] = 200,
	};

	return (unsigned)o < KH_OUT__COUNT ? ids[o] : 200;
}

void retry_finish(kh_plat *p, const struct kh_config *c, const struct kh_task *t,
		  const struct kh_decision *d, int from_task, long attempts,
		  struct kh_result *r)
{
	char *text, why[600];

	if (plat_is_offline(p))
		return;
	follow_task(p, c, t, from_task, attempts, r);
	/* the count stays while the task retries and after it gave up; a
	 * healthy or repaired system starts again from 0 */
	write_status(p, r, r->outcome == KH_OUT_PENDING || r->outcome == KH_OUT_FAILED
			   ? attempts : 0);
	repair_summary(r, why, sizeof(why));
	text = kh_asprintf("khreset %s: %s (verdict %s: %s)%s%s%s%s", KH_VERSION,
			   outcome_name(r->outcome), verdict_name(d->verdict), d->why,
			   why[0] ? "; " : "", why, r->backup_id[0] ? "; backup " : "", r->backup_id);
	if (!text || plat_event(p, event_id(r->outcome), text) != KH_OK)
		kh_log(KH_LOG_WARN, "report", "event not written: %s", kh_lasterr());
	free(text);
}
