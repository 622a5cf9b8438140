/* collect.h - the evidence collector (hook/cmd_collect.c) as `run
 * --evidence DIR` starts and ends it around a run. */
#ifndef KH_COLLECT_H
#define KH_COLLECT_H

#include "cli.h"
#include "config.h"
#include "platform.h"

struct kh_collector;

/*
 * Opens the evidence folder dir and starts collecting for a run whose
 * --wait is wait_s (-1: none given).  Live, this executable's `collect` runs
 * as a child process until collect_end; offline - nothing changes by itself
 * on a mounted volume - and when the child cannot start, one sample is
 * taken now and one at the end.  Returns 0, or the SPEC exit code of a
 * refused folder (said on stderr): the run must not start.
 */
int collect_begin(kh_plat *p, const struct kh_config *c, const struct kh_globals *g,
		  const char *dir, int wait_s, struct kh_collector **out);
/* Ends it: the child is asked to stop and waited for, or the last sample
 * and the once items are taken here.  NULL: nothing to do. */
void collect_end(struct kh_collector *col);

#endif
