/* budget.h - the run's time budget and the retry of what is busy. */
#ifndef KH_BUDGET_H
#define KH_BUDGET_H

#include "platform.h"

/* Seconds a run may take after the budget ends: the rollback's ClipSVC
 * start and the bookkeeping (task, Status, event).  A run given --wait N
 * ends within N + KH_BUDGET_GRACE_S seconds (SPEC section 3). */
#define KH_BUDGET_GRACE_S 5

long kh_mono_ms(void);              /* CLOCK_MONOTONIC, milliseconds */
void kh_sleep_ms(long ms);
/* The absolute end of the budget (kh_mono_ms time); 0: none. */
void kh_budget_set(long deadline_ms);
/* Milliseconds left (0 once past; LONG_MAX without a budget). */
long kh_budget_left_ms(void);
/* min(configured_s, the seconds left, rounded up): every timeout a body
 * is given. */
int kh_budget_s(int configured_s);

/* plat_rename / plat_service_start|stop, tried again with backoff while
 * they answer KH_ERR_INUSE and the budget lasts; each service attempt is
 * given kh_budget_s(timeout_s).  KH_ERR_INUSE at the end of the budget;
 * without a budget (restore, recovery before a run) one attempt only. */
int kh_busy_rename(kh_plat *p, const char *from, const char *to);
int kh_busy_service(kh_plat *p, const char *name, int start, int timeout_s);
/* plat_read, the same way: a file held open without read sharing. */
int kh_busy_read(kh_plat *p, const char *path, size_t max, unsigned char **buf, size_t *len);

#endif
