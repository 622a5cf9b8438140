/* taskxml.c - builds the retry task's Task Scheduler 2.0 XML with libxml2's
 * tree API (escaping is libxml2's, never ours).
 *
 * Element order follows Microsoft's task schema (learn.microsoft.com,
 * "Task Scheduler Schema", taskschedulerschema-*-complextype pages).  Only
 * some of its types are xs:sequence - triggerBaseType (Enabled,
 * StartBoundary, EndBoundary, Repetition, ExecutionTimeLimit) extended by
 * bootTriggerType (Delay after those), principalsType, actionsType - and
 * there the order is required; taskType, registrationInfoType,
 * settingsType, principalType, repetitionType, restartType and execType are
 * xs:all, but we emit their children in the documented order too, so the
 * text matches what Task Scheduler itself exports.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "khreset.h"
#include "taskxml.h"

#define MAX_DURATION (366LL * 86400 * 100)   /* a century: plenty */

int taskxml_parse_duration(const char *iso, long long *secs)
{
	const char *s = iso;
	long long total = 0;
	int in_time = 0, parts = 0;
	/* components must come in this order, each at most once */
	static const char order[] = "DHMS";
	int last = -1;

	*secs = 0;
	if (!s || *s++ != 'P')
		goto bad;
	while (*s) {
		long long n = 0;
		const char *pos;
		int digits = 0, idx;
		long long mul;

		if (*s == 'T') {
			if (in_time || !s[1])
				goto bad;
			in_time = 1;
			s++;
			continue;
		}
		while (*s >= '0' && *s <= '9') {
			n = n * 10 + (*s++ - '0');
			if (n > MAX_DURATION)
				goto bad;
			digits++;
		}
		if (!digits || !*s || !(pos = strchr(order, *s)))
			goto bad;
		idx = (int)(pos - order);
		if (idx <= last || (idx == 0) == in_time)   /* D only before T; H,M,S only after */
			goto bad;
		last = idx;
		mul = idx == 0 ? 86400 : idx == 1 ? 3600 : idx == 2 ? 60 : 1;
		total += n * mul;
		if (total > MAX_DURATION)
			goto bad;
		parts++;
		s++;
	}
	if (!parts)
		goto bad;
	*secs = total;
	return KH_OK;
bad:
	kh_seterr("'%s' is not a supported ISO 8601 duration (P[nD][T[nH][nM][nS]], e.g. PT15M)",
		  iso ? iso : "(null)");
	return KH_ERR_CONFIG;
}

void taskxml_fmt_duration(long long secs, char *out, size_t outsz)
{
	long long d = secs / 86400, h = secs % 86400 / 3600, m = secs % 3600 / 60,
		  s = secs % 60;
	size_t o = 0;

	if (secs <= 0) {
		snprintf(out, outsz, "PT0S");
		return;
	}
	o += (size_t)snprintf(out + o, outsz - o, "P");
	if (d && o < outsz)
		o += (size_t)snprintf(out + o, outsz - o, "%lldD", d);
	if ((h || m || s) && o < outsz)
		o += (size_t)snprintf(out + o, outsz - o, "T");
	if (h && o < outsz)
		o += (size_t)snprintf(out + o, outsz - o, "%lldH", h);
	if (m && o < outsz)
		o += (size_t)snprintf(out + o, outsz - o, "%lldM", m);
	if (s && o < outsz)
		snprintf(out + o, outsz - o, "%lldS", s);
}

int taskxml_repeat_duration(const char *interval, int attempts, char *out, size_t outsz)
{
	long long iv;
	int rc;

	if ((rc = taskxml_parse_duration(interval, &iv)) != KH_OK)
		return rc;
	if (attempts < 1 || iv > MAX_DURATION / attempts) {
		kh_seterr("task repetition: %d attempts of %s is out of range", attempts, interval);
		return KH_ERR_CONFIG;
	}
	taskxml_fmt_duration(iv * attempts, out, outsz);
	return KH_OK;
}

/* "C:\..." or "\\server\..." */
static int is_absolute(const char *p)
{
	return (((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z') && p[1] == ':' &&
		(p[2] == '\\' || p[2] == '/')) ||
	       (p[0] == '\\' && p[1] == '\\');
}

/* Number of UTF-16 code units of UTF-8 text (pathType counts characters). */
static size_t u16len(const char *s)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xC0) != 0x80)
			n += (*p >= 0xF0) ? 2 : 1;
	return n;
}

static int check_task(const struct kh_task *t, char *dur, size_t dursz)
{
	long long v;
	int rc;

	if (!t->name || t->name[0] != '\\' || !t->name[1]) {
		kh_seterr("task name must start with '\\' (e.g. \\khreset\\Retry)");
		return KH_ERR_CONFIG;
	}
	if ((rc = taskxml_parse_duration(t->delay, &v)) != KH_OK)
		return rc;
	if ((rc = taskxml_parse_duration(t->interval, &v)) != KH_OK)
		return rc;
	/* repetitionType/Interval: PT1M..P31D */
	if (v < 60 || v > 31 * 86400) {
		kh_seterr("task interval %s must be between PT1M and P31D", t->interval);
		return KH_ERR_CONFIG;
	}
	if (t->max_attempts < 1) {
		kh_seterr("task max_attempts must be at least 1");
		return KH_ERR_CONFIG;
	}
	if ((rc = taskxml_repeat_duration(t->interval, t->max_attempts, dur, dursz)) != KH_OK)
		return rc;
	/* execType/Command is a pathType: non-empty, at most 260 characters */
	if (!t->command || !is_absolute(t->command) || u16len(t->command) > 259) {
		kh_seterr("task command '%s' must be an absolute path shorter than 260 characters",
			  t->command ? t->command : "");
		return KH_ERR_CONFIG;
	}
	return KH_OK;
}

/* One child with escaped text; NULL on allocation failure. */
static xmlNodePtr add(xmlNodePtr parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, NULL, BAD_CAST name, BAD_CAST text);
}

/* A trigger (bootTriggerType or registrationTriggerType: the triggerBaseType
 * sequence, then Delay), repeated every interval for dur.  1, or 0 on
 * allocation failure. */
static int add_trigger(xmlNodePtr triggers, const char *type, const struct kh_task *t,
		       const char *dur)
{
	xmlNodePtr trig = xmlNewChild(triggers, NULL, BAD_CAST type, NULL), rep;
	int ok = trig != NULL;

	if (!trig)
		return 0;
	ok &= add(trig, "Enabled", "true") != NULL;
	/* no StartBoundary, and never an EndBoundary */
	ok &= (rep = xmlNewChild(trig, NULL, BAD_CAST "Repetition", NULL)) != NULL;
	if (rep) {
		ok &= add(rep, "Interval", t->interval) != NULL;
		ok &= add(rep, "Duration", dur) != NULL;
		ok &= add(rep, "StopAtDurationEnd", "true") != NULL;
	}
	ok &= add(trig, "Delay", t->delay) != NULL;
	return ok;
}

char *taskxml_build(const struct kh_task *t)
{
	char dur[48], count[8];
	xmlDocPtr doc;
	xmlNodePtr root, n, set, rst, pr, act, ex;
	xmlNsPtr ns;
	xmlChar *mem = NULL;
	int len = 0, ok = 1;
	char *out = NULL;

	if (!t || check_task(t, dur, sizeof(dur)) != KH_OK)
		return NULL;
	snprintf(count, sizeof(count), "%d", TASKXML_RESTART_COUNT);

	if (!(doc = xmlNewDoc(BAD_CAST "1.0")))
		goto nomem;
	if (!(root = xmlNewDocNode(doc, NULL, BAD_CAST "Task", NULL)))
		goto nomem_doc;
	xmlDocSetRootElement(doc, root);
	/* Children created with ns NULL inherit the parent's namespace. */
	if (!(ns = xmlNewNs(root, BAD_CAST TASKXML_NS, NULL)))
		goto nomem_doc;
	xmlSetNs(root, ns);
	/* 1.2 (Vista and later) has every element used here. */
	ok &= xmlNewProp(root, BAD_CAST "version", BAD_CAST "1.2") != NULL;

	/* RegistrationInfo (xs:all; documented order: ..., Author, Version, Description) */
	ok &= (n = xmlNewChild(root, NULL, BAD_CAST "RegistrationInfo", NULL)) != NULL;
	if (n) {
		ok &= add(n, "Author", "khreset") != NULL;
		ok &= add(n, "Version", KH_VERSION) != NULL;
		ok &= add(n, "Description",
			  "Retries the keyholder repair and licence activation after boot "
			  "until Windows is activated; removes itself on success or after "
			  "the last attempt.") != NULL;
	}

	/* Triggers: at every boot, and once registered - so a VM that stays up
	 * after the first boot still retries without waiting for a reboot.
	 * Both after the delay, both repeated for the same duration. */
	ok &= (n = xmlNewChild(root, NULL, BAD_CAST "Triggers", NULL)) != NULL;
	if (n) {
		ok &= add_trigger(n, "BootTrigger", t, dur);
		ok &= add_trigger(n, "RegistrationTrigger", t, dur);
	}

	/* Settings (xs:all; documented order kept) */
	ok &= (set = xmlNewChild(root, NULL, BAD_CAST "Settings", NULL)) != NULL;
	if (set) {
		ok &= add(set, "AllowStartOnDemand", "true") != NULL;
		ok &= (rst = xmlNewChild(set, NULL, BAD_CAST "RestartOnFailure", NULL)) != NULL;
		if (rst) {
			ok &= add(rst, "Interval", TASKXML_RESTART_EVERY) != NULL;
			ok &= add(rst, "Count", count) != NULL;
		}
		ok &= add(set, "MultipleInstancesPolicy", "IgnoreNew") != NULL;
		ok &= add(set, "DisallowStartIfOnBatteries", "false") != NULL;
		ok &= add(set, "StopIfGoingOnBatteries", "false") != NULL;
		ok &= add(set, "AllowHardTerminate", "true") != NULL;
		ok &= add(set, "StartWhenAvailable", "true") != NULL;
		ok &= add(set, "Enabled", "true") != NULL;
		ok &= add(set, "ExecutionTimeLimit", TASKXML_TIME_LIMIT) != NULL;
	}

	/* Principals/Principal id="Author": LocalSystem, elevated. */
	ok &= (n = xmlNewChild(root, NULL, BAD_CAST "Principals", NULL)) != NULL;
	pr = n ? xmlNewChild(n, NULL, BAD_CAST "Principal", NULL) : NULL;
	ok &= pr != NULL;
	if (pr) {
		ok &= xmlNewProp(pr, BAD_CAST "id", BAD_CAST "Author") != NULL;
		ok &= add(pr, "UserId", TASKXML_SYSTEM_SID) != NULL;
		ok &= add(pr, "RunLevel", "HighestAvailable") != NULL;
	}

	/* Actions Context="Author" / Exec (Command, Arguments) */
	ok &= (act = xmlNewChild(root, NULL, BAD_CAST "Actions", NULL)) != NULL;
	if (act) {
		ok &= xmlNewProp(act, BAD_CAST "Context", BAD_CAST "Author") != NULL;
		ok &= (ex = xmlNewChild(act, NULL, BAD_CAST "Exec", NULL)) != NULL;
		if (ex) {
			ok &= add(ex, "Command", t->command) != NULL;
			if (t->args && t->args[0])
				ok &= add(ex, "Arguments", t->args) != NULL;
		}
	}
	if (!ok)
		goto nomem_doc;

	xmlDocDumpFormatMemoryEnc(doc, &mem, &len, "UTF-8", 1);
	xmlFreeDoc(doc);
	if (!mem || len <= 0)
		goto nomem;
	out = malloc((size_t)len + 1);
	if (out) {
		memcpy(out, mem, (size_t)len);
		out[len] = '\0';
	}
	xmlFree(mem);
	if (!out)
		goto nomem;
	return out;

nomem_doc:
	xmlFreeDoc(doc);
nomem:
	kh_seterr("task XML: out of memory");
	return NULL;
}
