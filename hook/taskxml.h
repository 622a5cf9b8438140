/* taskxml.h - the Task Scheduler 2.0 XML of the retry task (SPEC section 3
 * step 10, section 6 [task]).  Pure C on libxml2's tree API, compiled on
 * Linux (unit tests) and Windows (hook/win32/task.c hands it to RegisterTask). */
#ifndef KH_TASKXML_H
#define KH_TASKXML_H

#include "platform.h"

/* Fixed settings of the task (not configurable; asserted by the tests). */
#define TASKXML_NS            "http://schemas.microsoft.com/windows/2004/02/mit/task"
#define TASKXML_TIME_LIMIT    "PT30M"   /* Settings/ExecutionTimeLimit */
#define TASKXML_RESTART_EVERY "PT5M"    /* Settings/RestartOnFailure/Interval */
#define TASKXML_RESTART_COUNT 3         /* Settings/RestartOnFailure/Count */
#define TASKXML_SYSTEM_SID    "S-1-5-18"

/*
 * The task XML for t, UTF-8 text with an XML declaration naming UTF-8
 * (malloc'd, NUL-terminated).  Elements in the order of Microsoft's schema
 * (where it is an xs:sequence the order is required; elsewhere it is kept
 * anyway), text escaped by libxml2.  NULL with kh_seterr() on invalid input:
 * delay/interval not a supported ISO 8601 duration, interval outside
 * PT1M..P31D, max_attempts < 1, command empty, not absolute or longer than
 * 259 characters, or no name.
 */
char *taskxml_build(const struct kh_task *t);

/*
 * ISO 8601 durations as Task Scheduler uses them: "P[nD][T[nH][nM][nS]]"
 * (no years/months - their length varies - no weeks, no fractions, at
 * least one component).  KH_OK, or KH_ERR_CONFIG with kh_seterr().
 */
int taskxml_parse_duration(const char *iso, long long *secs);
/* Canonical text of secs ("PT3H", "P1DT2H30M", "PT0S"); out >= 40 bytes. */
void taskxml_fmt_duration(long long secs, char *out, size_t outsz);
/* Repetition duration: interval * attempts, formatted into out. */
int taskxml_repeat_duration(const char *interval, int attempts, char *out,
			    size_t outsz);

#endif
