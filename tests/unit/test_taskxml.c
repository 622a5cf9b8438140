/* test_taskxml.c - the retry task's XML (hook/taskxml.c): valid against the
 * Task Scheduler schema subset tests/win/task-schema.xsd (written from
 * Microsoft's documentation), and the rules khreset relies on hold: SYSTEM
 * principal, boot trigger with delay, repetition interval * attempts, time
 * limit, restart on failure, allowed on batteries, no end boundary, command
 * escaped.  Each check is shown able to fail: forged twins of the XML must
 * fail the schema or the rule check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "khreset.h"
#include "taskxml.h"

#define XSD "tests/win/task-schema.xsd"

static xmlSchemaPtr schema;
static char schema_err[1024];     /* first error of the last validation */

static const struct kh_task deftask = {
	.name = "\\khreset\\Retry",
	.delay = "PT2M",
	.interval = "PT15M",
	.max_attempts = 12,
	.command = "C:\\Windows\\Setup\\Scripts\\khreset\\khreset.exe",
	.args = "run --from-task",
};

static void on_schema_error(void *ud, xmlErrorPtr e)
{
	if (!schema_err[0] && e && e->message)
	{
		snprintf(schema_err, sizeof(schema_err), "line %d: %s", e->line, e->message);
		schema_err[strcspn(schema_err, "\n")] = '\0';
	}
}

static int setup(void **state)
{
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(XSD);

	if (!pc)
		return -1;
	schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	if (!schema)
		fprintf(stderr, "cannot load %s (run from the top folder)\n", XSD);
	return schema ? 0 : -1;
}

static int teardown(void **state)
{
	xmlSchemaFree(schema);
	xmlCleanupParser();
	return 0;
}

static xmlDocPtr parse(const char *xml)
{
	return xmlReadMemory(xml, (int)strlen(xml), "task.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* 0 when doc is valid against the schema subset; the first error is kept. */
static int schema_check(xmlDocPtr doc)
{
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
	int r;

	assert_non_null(vc);
	schema_err[0] = '\0';
	xmlSchemaSetValidStructuredErrors(vc, on_schema_error, NULL);
	r = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
	return r;
}

/* ---- the rules we rely on (XPath over the task namespace) ---- */

static char rule_err[512];

/* Text of the single node matching path, or NULL (none, or several). */
static char *xp_text(xmlXPathContextPtr xc, const char *path)
{
	xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST path, xc);
	char *s = NULL;

	if (o && o->nodesetval && o->nodesetval->nodeNr == 1) {
		xmlChar *c = xmlNodeGetContent(o->nodesetval->nodeTab[0]);

		s = c ? strdup((char *)c) : NULL;
		xmlFree(c);
	}
	xmlXPathFreeObject(o);
	return s;
}

static int xp_count(xmlXPathContextPtr xc, const char *path)
{
	xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST path, xc);
	int n = o && o->nodesetval ? o->nodesetval->nodeNr : -1;

	xmlXPathFreeObject(o);
	return n;
}

/* The element at path must exist once with exactly this text. */
static int expect(xmlXPathContextPtr xc, const char *path, const char *want)
{
	char *got = xp_text(xc, path);
	int ok = got && !strcmp(got, want);

	if (!ok && !rule_err[0])
		snprintf(rule_err, sizeof(rule_err), "%s: want '%s', got '%s'", path, want,
			 got ? got : "(missing or repeated)");
	free(got);
	return ok;
}

static int expect_count(xmlXPathContextPtr xc, const char *path, int want)
{
	int n = xp_count(xc, path);

	if (n != want && !rule_err[0])
		snprintf(rule_err, sizeof(rule_err), "%s: %d found, want %d", path, n, want);
	return n == want;
}

/* 0 when every rule holds for task t; else the first broken rule is kept. */
static int rule_check(xmlDocPtr doc, const struct kh_task *t)
{
	xmlXPathContextPtr xc = xmlXPathNewContext(doc);
	char dur[48], count[8];
	int ok = 1;

	assert_non_null(xc);
	rule_err[0] = '\0';
	assert_int_equal(taskxml_repeat_duration(t->interval, t->max_attempts, dur, sizeof(dur)),
			 KH_OK);
	snprintf(count, sizeof(count), "%d", TASKXML_RESTART_COUNT);
	xmlXPathRegisterNs(xc, BAD_CAST "t", BAD_CAST TASKXML_NS);
	/* runs as LocalSystem, elevated, and the action uses that principal */
	ok &= expect_count(xc, "/t:Task/t:Principals/t:Principal", 1);
	ok &= expect(xc, "/t:Task/t:Principals/t:Principal/t:UserId", TASKXML_SYSTEM_SID);
	ok &= expect(xc, "/t:Task/t:Principals/t:Principal/t:RunLevel", "HighestAvailable");
	ok &= expect_count(xc, "/t:Task/t:Principals/t:Principal/t:GroupId", 0);
	ok &= expect_count(xc, "/t:Task/t:Actions[@Context = /t:Task/t:Principals/t:Principal/@id]", 1);
	/* exactly two triggers: at boot and once registered (a VM that stays
	 * up retries too), each enabled, after the delay, repeated */
	ok &= expect_count(xc, "/t:Task/t:Triggers/*", 2);
	for (int i = 0; i < 2; i++) {
		static const char *const trig[] = { "t:BootTrigger", "t:RegistrationTrigger" };
		char x[160];

#define TRIG(rest) (snprintf(x, sizeof(x), "/t:Task/t:Triggers/%s%s", trig[i], rest), x)
		ok &= expect_count(xc, TRIG("[not(t:Enabled) or t:Enabled='true']"), 1);
		ok &= expect(xc, TRIG("/t:Delay"), t->delay);
		ok &= expect(xc, TRIG("/t:Repetition/t:Interval"), t->interval);
		ok &= expect(xc, TRIG("/t:Repetition/t:Duration"), dur);
		ok &= expect(xc, TRIG("/t:Repetition/t:StopAtDurationEnd"), "true");
#undef TRIG
	}
	/* never expires */
	ok &= expect_count(xc, "//t:EndBoundary", 0);
	ok &= expect_count(xc, "//t:DeleteExpiredTaskAfter", 0);
	/* settings */
	ok &= expect(xc, "/t:Task/t:Settings/t:ExecutionTimeLimit", TASKXML_TIME_LIMIT);
	ok &= expect(xc, "/t:Task/t:Settings/t:RestartOnFailure/t:Interval", TASKXML_RESTART_EVERY);
	ok &= expect(xc, "/t:Task/t:Settings/t:RestartOnFailure/t:Count", count);
	ok &= expect(xc, "/t:Task/t:Settings/t:DisallowStartIfOnBatteries", "false");
	ok &= expect(xc, "/t:Task/t:Settings/t:StopIfGoingOnBatteries", "false");
	ok &= expect(xc, "/t:Task/t:Settings/t:MultipleInstancesPolicy", "IgnoreNew");
	ok &= expect(xc, "/t:Task/t:Settings/t:StartWhenAvailable", "true");
	ok &= expect(xc, "/t:Task/t:Settings/t:Enabled", "true");
	/* the action: our program, our arguments, nothing else */
	ok &= expect_count(xc, "/t:Task/t:Actions/*", 1);
	ok &= expect(xc, "/t:Task/t:Actions/t:Exec/t:Command", t->command);
	ok &= expect(xc, "/t:Task/t:Actions/t:Exec/t:Arguments", t->args);
	xmlXPathFreeContext(xc);
	return ok ? 0 : -1;
}

/* ---- helpers for forged twins ---- */

/* xml with the first `from` replaced by `to` (from must occur). */
static char *replace(const char *xml, const char *from, const char *to)
{
	const char *at = strstr(xml, from);
	size_t n;
	char *out;

	if (!at)
		fail_msg("'%s' not in the XML", from);
	n = strlen(xml) - strlen(from) + strlen(to);
	out = malloc(n + 1);
	assert_non_null(out);
	memcpy(out, xml, (size_t)(at - xml));
	strcpy(out + (at - xml), to);
	strcat(out, at + strlen(from));
	return out;
}

static char *build_default(void)
{
	char *xml = taskxml_build(&deftask);

	if (!xml)
		fail_msg("taskxml_build: %s", kh_lasterr());
	return xml;
}

enum verdict { VALID, MALFORMED, SCHEMA_FAILS, RULES_FAIL };

static enum verdict judge(const char *xml, const struct kh_task *t)
{
	xmlDocPtr doc = parse(xml);
	enum verdict v;

	if (!doc)
		return MALFORMED;
	v = schema_check(doc) != 0 ? SCHEMA_FAILS : rule_check(doc, t) != 0 ? RULES_FAIL : VALID;
	xmlFreeDoc(doc);
	return v;
}

/* One forged twin: replace, judge, compare with the expected verdict. */
static void twin(const char *what, const char *from, const char *to, enum verdict want,
		 const char *msg_has)
{
	char *xml = build_default(), *bad = replace(xml, from, to);
	enum verdict v = judge(bad, &deftask);
	const char *msg = v == SCHEMA_FAILS ? schema_err : v == RULES_FAIL ? rule_err : "";

	if (v != want)
		fail_msg("%s: verdict %d, want %d (%s)\n%s", what, v, want, msg, bad);
	if (msg_has && !strstr(msg, msg_has))
		fail_msg("%s: message '%s' lacks '%s'", what, msg, msg_has);
	printf("  twin %-44s %s%s\n", what,
	       v == VALID ? "valid" : v == MALFORMED ? "not well-formed" :
	       v == SCHEMA_FAILS ? "schema fails: " : "rule fails: ",
	       v == VALID ? "" : msg);
	free(bad);
	free(xml);
}

/* ---- tests ---- */

static void test_duration_parse(void **state)
{
	static const struct { const char *s; long long v; } good[] = {
		{ "PT2M", 120 }, { "PT15M", 900 }, { "PT3H", 10800 }, { "P1D", 86400 },
		{ "P1DT2H", 93600 }, { "PT1H30M5S", 5405 }, { "PT0S", 0 }, { "P31D", 2678400 },
		{ "PT90M", 5400 },
	};
	static const char *const bad[] = {
		"", "P", "PT", "15M", "PT15", "PT1.5M", "P1Y", "P1M2D", "P1W", "PT1D", "P1H",
		"PT2M2M", "PT5S1M", "P1DT", "pt15m", "PT-1M", "PT 1M", "PT15MX",
		"PT99999999999999999999S",
	};
	long long v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (taskxml_parse_duration(good[i].s, &v) != KH_OK)
			fail_msg("%s rejected: %s", good[i].s, kh_lasterr());
		assert_int_equal(v, good[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kh_clearerr();
		if (taskxml_parse_duration(bad[i], &v) != KH_ERR_CONFIG)
			fail_msg("'%s' accepted as %lld", bad[i], v);
		assert_non_null(strstr(kh_lasterr(), "ISO 8601"));
	}
	assert_int_equal(taskxml_parse_duration(NULL, &v), KH_ERR_CONFIG);
}

static void test_duration_format(void **state)
{
	static const struct { long long v; const char *s; } t[] = {
		{ 0, "PT0S" }, { 59, "PT59S" }, { 120, "PT2M" }, { 10800, "PT3H" },
		{ 3661, "PT1H1M1S" }, { 86400, "P1D" }, { 93600, "P1DT2H" },
		{ 90061, "P1DT1H1M1S" },
	};
	char buf[48];
	long long back;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		taskxml_fmt_duration(t[i].v, buf, sizeof(buf));
		assert_string_equal(buf, t[i].s);
		assert_int_equal(taskxml_parse_duration(buf, &back), KH_OK);
		assert_int_equal(back, t[i].v);
	}
	assert_int_equal(taskxml_repeat_duration("PT15M", 12, buf, sizeof(buf)), KH_OK);
	assert_string_equal(buf, "PT3H");
	assert_int_equal(taskxml_repeat_duration("PT20M", 3, buf, sizeof(buf)), KH_OK);
	assert_string_equal(buf, "PT1H");
	assert_int_equal(taskxml_repeat_duration("PT45M", 100, buf, sizeof(buf)), KH_OK);
	assert_string_equal(buf, "P3DT3H");
	assert_int_equal(taskxml_repeat_duration("PT15M", 0, buf, sizeof(buf)), KH_ERR_CONFIG);
	assert_int_equal(taskxml_repeat_duration("P31D", 2000000000, buf, sizeof(buf)),
			 KH_ERR_CONFIG);
	assert_int_equal(taskxml_repeat_duration("15", 2, buf, sizeof(buf)), KH_ERR_CONFIG);
}

static void test_default_task_valid(void **state)
{
	char *xml = build_default();
	xmlDocPtr doc = parse(xml);

	assert_non_null(doc);
	if (schema_check(doc) != 0)
		fail_msg("schema: %s\n%s", schema_err, xml);
	if (rule_check(doc, &deftask) != 0)
		fail_msg("rule: %s\n%s", rule_err, xml);
	/* UTF-8 text with its declaration (hook/win32/task.c turns it into UTF-16) */
	assert_true(!strncmp(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38));
	assert_non_null(strstr(xml, "version=\"1.2\""));
	xmlFreeDoc(doc);
	free(xml);
}

/* Another configuration: the values come from the task, not constants. */
static void test_config_values_used(void **state)
{
	struct kh_task t = deftask;
	char *xml;
	xmlDocPtr doc;

	t.delay = "PT10M";
	t.interval = "PT1H";
	t.max_attempts = 30;
	t.command = "D:\\Tools\\kh\\khreset.exe";
	t.name = "\\Fleet\\khreset";
	xml = taskxml_build(&t);
	assert_non_null(xml);
	assert_non_null(doc = parse(xml));
	assert_int_equal(schema_check(doc), 0);
	if (rule_check(doc, &t) != 0)
		fail_msg("rule: %s", rule_err);
	assert_non_null(strstr(xml, "<Duration>P1DT6H</Duration>"));
	/* and the default task's rules do not hold for it */
	assert_int_not_equal(rule_check(doc, &deftask), 0);
	xmlFreeDoc(doc);
	free(xml);
}

/* Markup characters and non-ASCII text in the command and arguments are
 * escaped by libxml2 and come back unchanged. */
static void test_escaping(void **state)
{
	struct kh_task t = deftask;
	char *xml;
	xmlDocPtr doc;

	t.command = "C:\\Program Files\\A&B <x> \"q\" 'a'\\\xc3\x9cnic\xc3\xb6" "de\\khreset.exe";
	t.args = "run --from-task --note \"a<b>&c\" ]]> &amp;";
	xml = taskxml_build(&t);
	assert_non_null(xml);
	assert_non_null(strstr(xml, "A&amp;B &lt;x&gt;"));
	assert_non_null(strstr(xml, "]]&gt; &amp;amp;"));
	assert_null(strstr(xml, "<x>"));
	assert_non_null(doc = parse(xml));
	if (schema_check(doc) != 0)
		fail_msg("schema: %s", schema_err);
	if (rule_check(doc, &t) != 0)           /* Command/Arguments compare equal */
		fail_msg("rule: %s\n%s", rule_err, xml);
	xmlFreeDoc(doc);
	free(xml);
}

static void test_bad_input_refused(void **state)
{
	static const struct { const char *field, *value; int attempts; const char *msg; } bad[] = {
		{ "delay", "2 minutes", 12, "ISO 8601" },
		{ "interval", "PT30S", 12, "between PT1M and P31D" },
		{ "interval", "P32D", 12, "between PT1M and P31D" },
		{ "interval", "PT15M", 0, "max_attempts" },
		{ "command", "khreset.exe", 12, "absolute path" },
		{ "command", "", 12, "absolute path" },
		{ "name", "khreset\\Retry", 12, "start with" },
	};
	char longcmd[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kh_task t = deftask;

		if (!strcmp(bad[i].field, "delay")) t.delay = bad[i].value;
		if (!strcmp(bad[i].field, "interval")) t.interval = bad[i].value;
		if (!strcmp(bad[i].field, "command")) t.command = bad[i].value;
		if (!strcmp(bad[i].field, "name")) t.name = bad[i].value;
		t.max_attempts = bad[i].attempts;
		kh_clearerr();
		assert_null(taskxml_build(&t));
		if (!strstr(kh_lasterr(), bad[i].msg))
			fail_msg("%s=%s: '%s' lacks '%s'", bad[i].field, bad[i].value,
				 kh_lasterr(), bad[i].msg);
	}
	/* pathType: at most 260 characters (we allow 259: MAX_PATH with NUL) */
	memset(longcmd, 'a', sizeof(longcmd));
	memcpy(longcmd, "C:\\", 3);
	longcmd[260] = '\0';
	{
		struct kh_task t = deftask;

		t.command = longcmd;
		assert_null(taskxml_build(&t));
		longcmd[259] = '\0';
		t.command = longcmd;
		char *xml = taskxml_build(&t);
		assert_non_null(xml);
		free(xml);
	}
	assert_null(taskxml_build(NULL));
}

/* The checks can fail: forged twins of the valid XML.  (Anchors are exact
 * text of the formatted output, indentation included.) */
#define SET_ENABLED "</StartWhenAvailable>\n    <Enabled>true</Enabled>\n"
static void test_forged_twins(void **state)
{
	/* order inside an xs:sequence (triggerBaseType + bootTriggerType) */
	twin("Delay before Repetition", "      <Repetition>",
	     "      <Delay>PT2M</Delay>\n      <Repetition>", SCHEMA_FAILS, "Repetition");
	twin("trigger Enabled omitted (optional)", "      <Enabled>true</Enabled>\n", "",
	     VALID, NULL);   /* the sequence's members are optional ... */
	twin("Enabled after Repetition", "      <Delay>",
	     "      <Enabled>true</Enabled>\n      <Delay>", SCHEMA_FAILS, "Enabled");
	/* an end boundary: in its place the schema accepts it, our rule not */
	twin("EndBoundary (in sequence order)", "      <Repetition>",
	     "      <EndBoundary>2030-01-01T00:00:00</EndBoundary>\n      <Repetition>",
	     RULES_FAIL, "EndBoundary");
	twin("EndBoundary (out of order)", "      <Delay>",
	     "      <EndBoundary>2030-01-01T00:00:00</EndBoundary>\n      <Delay>",
	     SCHEMA_FAILS, "EndBoundary");
	twin("EndBoundary in Settings", SET_ENABLED,
	     SET_ENABLED "    <EndBoundary>2030-01-01T00:00:00</EndBoundary>\n",
	     SCHEMA_FAILS, "EndBoundary");
	/* Settings is xs:all in Microsoft's schema: a swap is valid (faithful
	 * model), and the rules still hold */
	twin("Settings children swapped (xs:all)",
	     "    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\n"
	     "    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>\n",
	     "    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>\n"
	     "    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\n",
	     VALID, NULL);
	twin("Settings child repeated", SET_ENABLED,
	     SET_ENABLED "    <Enabled>true</Enabled>\n", SCHEMA_FAILS, "Enabled");
	twin("unknown Settings child", SET_ENABLED,
	     SET_ENABLED "    <Bogus>1</Bogus>\n", SCHEMA_FAILS, "Bogus");
	/* types and facets */
	twin("Repetition Interval PT30S", "<Interval>PT15M</Interval>",
	     "<Interval>PT30S</Interval>", SCHEMA_FAILS, "PT30S");
	twin("RestartOnFailure Count 0", "<Count>3</Count>", "<Count>0</Count>",
	     SCHEMA_FAILS, "Count");
	twin("boolean 'yes'", "<StartWhenAvailable>true<", "<StartWhenAvailable>yes<",
	     SCHEMA_FAILS, "yes");
	twin("RunLevel unknown", "HighestAvailable</RunLevel>", "Highest</RunLevel>",
	     SCHEMA_FAILS, "Highest");
	twin("two Principals", "    </Principal>\n",
	     "    </Principal>\n    <Principal id=\"Other\"><UserId>S-1-5-19</UserId></Principal>\n",
	     SCHEMA_FAILS, "Principal");
	twin("Context names no principal", "Context=\"Author\"", "Context=\"Nobody\"",
	     SCHEMA_FAILS, NULL);
	twin("Exec without Command", "      <Command>C:\\Windows\\Setup\\Scripts\\khreset\\khreset.exe</Command>\n",
	     "", SCHEMA_FAILS, "Command");
	/* our rules */
	twin("principal not SYSTEM", "<UserId>S-1-5-18<", "<UserId>S-1-5-32-545<",
	     RULES_FAIL, "UserId");
	twin("least privilege", "HighestAvailable</RunLevel>", "LeastPrivilege</RunLevel>",
	     RULES_FAIL, "RunLevel");
	twin("not on batteries", "<DisallowStartIfOnBatteries>false<",
	     "<DisallowStartIfOnBatteries>true<", RULES_FAIL, "DisallowStartIfOnBatteries");
	twin("stops on batteries", "<StopIfGoingOnBatteries>false<",
	     "<StopIfGoingOnBatteries>true<", RULES_FAIL, "StopIfGoingOnBatteries");
	twin("no time limit", "    <ExecutionTimeLimit>PT30M</ExecutionTimeLimit>\n", "",
	     RULES_FAIL, "ExecutionTimeLimit");
	twin("unlimited time (PT0S)", "<ExecutionTimeLimit>PT30M<", "<ExecutionTimeLimit>PT0S<",
	     RULES_FAIL, "ExecutionTimeLimit");
	twin("no restart on failure",
	     "    <RestartOnFailure>\n      <Interval>PT5M</Interval>\n      <Count>3</Count>\n"
	     "    </RestartOnFailure>\n", "", RULES_FAIL, "RestartOnFailure");
	twin("restart count 1", "<Count>3</Count>", "<Count>1</Count>", RULES_FAIL, "Count");
	twin("repetition forever (no Duration)", "        <Duration>PT3H</Duration>\n", "",
	     RULES_FAIL, "Duration");
	twin("repetition too long", "<Duration>PT3H<", "<Duration>P1D<", RULES_FAIL, "Duration");
	twin("no delay", "      <Delay>PT2M</Delay>\n", "", RULES_FAIL, "Delay");
	twin("disabled trigger", "      <Enabled>true</Enabled>\n",
	     "      <Enabled>false</Enabled>\n", RULES_FAIL, "BootTrigger");
	twin("disabled task", SET_ENABLED,
	     "</StartWhenAvailable>\n    <Enabled>false</Enabled>\n",
	     RULES_FAIL, "Settings/t:Enabled");
	twin("other program", "khreset\\khreset.exe<", "khreset\\evil.exe<", RULES_FAIL, "Command");
	twin("second boot trigger", "    </BootTrigger>\n",
	     "    </BootTrigger>\n    <BootTrigger/>\n", RULES_FAIL, "Triggers");
#define REG_TRIGGER "    <RegistrationTrigger>\n      <Enabled>true</Enabled>\n      <Repetition>\n" \
	"        <Interval>PT15M</Interval>\n        <Duration>PT3H</Duration>\n" \
	"        <StopAtDurationEnd>true</StopAtDurationEnd>\n      </Repetition>\n" \
	"      <Delay>PT2M</Delay>\n    </RegistrationTrigger>\n"
	twin("no registration trigger (boot only: waits for a reboot)", REG_TRIGGER, "",
	     RULES_FAIL, "Triggers");
	twin("registration trigger as a second boot trigger", REG_TRIGGER,
	     "    <BootTrigger>\n      <Enabled>true</Enabled>\n      <Delay>PT2M</Delay>\n    </BootTrigger>\n",
	     RULES_FAIL, "BootTrigger");
	twin("registration trigger without delay",
	     "      <Delay>PT2M</Delay>\n    </RegistrationTrigger>",
	     "    </RegistrationTrigger>", RULES_FAIL, "RegistrationTrigger/t:Delay");
	twin("registration trigger repeated forever",
	     "        <Duration>PT3H</Duration>\n        <StopAtDurationEnd>true</StopAtDurationEnd>\n      </Repetition>\n      <Delay>PT2M</Delay>\n    </RegistrationTrigger>",
	     "        <StopAtDurationEnd>true</StopAtDurationEnd>\n      </Repetition>\n      <Delay>PT2M</Delay>\n    </RegistrationTrigger>",
	     RULES_FAIL, "Duration");
	twin("Delay before Repetition in the registration trigger",
	     "    <RegistrationTrigger>\n      <Enabled>true</Enabled>\n      <Repetition>",
	     "    <RegistrationTrigger>\n      <Enabled>true</Enabled>\n      <Delay>PT2M</Delay>\n      <Repetition>",
	     SCHEMA_FAILS, "Repetition");
	twin("second action", "    </Exec>\n",
	     "    </Exec>\n    <Exec><Command>C:\\x.exe</Command></Exec>\n", RULES_FAIL, "Actions");
	twin("unescaped ampersand", "run --from-task", "run & --from-task", MALFORMED, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_default_task_valid),
		cmocka_unit_test(test_config_values_used),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_bad_input_refused),
		cmocka_unit_test(test_forged_twins),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
