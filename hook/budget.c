/* budget.c - the run's time budget (SPEC section 3, "The time budget") and
 * the one place that waits for what another process holds: a body answers
 * KH_ERR_INUSE ("not yet"), and only this file tries again, with backoff,
 * while the budget lasts. */
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include "khreset.h"
#include "budget.h"

static long deadline;   /* CLOCK_MONOTONIC ms; 0: no budget */

long kh_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void kh_budget_set(long deadline_ms) { deadline = deadline_ms; }

long kh_budget_left_ms(void)
{
	long left;

	if (!deadline)
		return LONG_MAX;
	left = deadline - kh_mono_ms();
	return left > 0 ? left : 0;
}

int kh_budget_s(int configured_s)
{
	long left = kh_budget_left_ms();

	if (left == LONG_MAX)
		return configured_s;
	left = (left + 999) / 1000;
	return left < configured_s ? (int)left : configured_s;
}

void kh_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	if (ms > 0)
		while (nanosleep(&ts, &ts) != 0)
			;
}

/* Again after 250 ms, doubling to 2 s, while the budget lasts; the last
 * answer stands (KH_ERR_INUSE when it never came free). */
static int again(int (*op)(void *), void *ctx, const char *what)
{
	long wait = 250;
	int rc, tries = 1;

	while ((rc = op(ctx)) == KH_ERR_INUSE && deadline && kh_budget_left_ms() > 0) {
		long left = kh_budget_left_ms();

		kh_log(KH_LOG_INFO, "busy", "%s: %s; trying again in %ld ms", what,
		       kh_lasterr()[0] ? kh_lasterr() : kh_errstr(rc), wait < left ? wait : left);
		kh_sleep_ms(wait < left ? wait : left);
		if (kh_budget_left_ms() == 0)
			break;     /* no time left to give another attempt */
		wait = wait < 1000 ? wait * 2 : 2000;
		tries++;
	}
	if (rc == KH_ERR_INUSE)
		kh_seterr("%s: still in use by another process after %d attempt(s) within "
			  "the time budget", what, tries);
	return rc;
}

struct ren { kh_plat *p; const char *from, *to; };
struct svc { kh_plat *p; const char *name; int start, timeout_s; };

static int ren_op(void *v)
{
	struct ren *r = v;

	kh_clearerr();
	return plat_rename(r->p, r->from, r->to);
}

static int svc_op(void *v)
{
	struct svc *s = v;
	int t = kh_budget_s(s->timeout_s);

	kh_clearerr();
	return s->start ? plat_service_start(s->p, s->name, t) : plat_service_stop(s->p, s->name, t);
}

int kh_busy_rename(kh_plat *p, const char *from, const char *to)
{
	struct ren r = { p, from, to };

	return again(ren_op, &r, from);
}

struct rd { kh_plat *p; const char *path; size_t max; unsigned char **buf; size_t *len; };

static int rd_op(void *v)
{
	struct rd *r = v;

	kh_clearerr();
	return plat_read(r->p, r->path, r->max, r->buf, r->len);
}

int kh_busy_read(kh_plat *p, const char *path, size_t max, unsigned char **buf, size_t *len)
{
	struct rd r = { p, path, max, buf, len };

	return again(rd_op, &r, path);
}

int kh_busy_service(kh_plat *p, const char *name, int start, int timeout_s)
{
	struct svc s = { p, name, start, timeout_s };
	char what[160];

	snprintf(what, sizeof(what), "%s %s", start ? "starting" : "stopping", name);
	return again(svc_op, &s, what);
}
