/* test_decide.c - the SPEC section 3 tables, row by row: verdict and plan
 * from facts, and the class of an archive entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "observe.h"

#define OFF 1
#define LIVE 0
#define LIC KH_LIC_LICENSED
#define NOT KH_LIC_NOTIFICATION
#define UNK KH_LIC_UNKNOWN
#define OFFLINE_REPAIR (KH_ST_BACKUP | KH_ST_STAGE | KH_ST_REGISTRY)
#define LIVE_REPAIR (KH_ST_BACKUP | KH_ST_STAGE | KH_ST_RESTART | KH_ST_VERIFY | \
		     KH_ST_REGISTRY | KH_ST_TRIGGER | KH_ST_WAIT)

static const struct row {
	const char *what;
	struct kh_facts f;
	enum kh_verdict v;
	unsigned plan;
} rows[] = {
	/* offline,stale,all_current,missing,lic,upgraded,winold,require,force[,repaired] */
	{ "offline clean+current -> healthy", { OFF, 0, 1, 0, UNK, 1, 0, 1, 0, 0 }, KH_V_HEALTHY, 0 },
	{ "offline stale after upgrade -> repair", { OFF, 1, 0, 0, UNK, 1, 0, 1, 0, 0 }, KH_V_REPAIR, OFFLINE_REPAIR },
	{ "offline stale, Windows.old -> repair", { OFF, 1, 0, 0, UNK, 0, 1, 1, 0, 0 }, KH_V_REPAIR, OFFLINE_REPAIR },
	{ "offline stale, no upgrade -> blocked", { OFF, 1, 0, 0, UNK, 0, 0, 1, 0, 0 }, KH_V_BLOCKED, 0 },
	{ "offline stale, no upgrade, --force -> repair", { OFF, 1, 0, 0, UNK, 0, 0, 1, 1, 0 }, KH_V_REPAIR, OFFLINE_REPAIR },
	{ "offline stale, require_upgrade=false -> repair", { OFF, 1, 0, 0, UNK, 0, 0, 0, 0, 0 }, KH_V_REPAIR, OFFLINE_REPAIR },
	{ "offline clean, bundle file missing -> activate", { OFF, 0, 0, 1, UNK, 1, 0, 1, 0, 0 }, KH_V_ACTIVATE, KH_ST_STAGE | KH_ST_REGISTRY },
	{ "offline stale with all current -> not healthy", { OFF, 1, 1, 0, UNK, 1, 0, 1, 0, 0 }, KH_V_REPAIR, OFFLINE_REPAIR },
	{ "live licensed -> healthy", { LIVE, 0, 1, 0, LIC, 1, 0, 1, 0, 0 }, KH_V_HEALTHY, 0 },
	{ "live licensed wins over a stale archive", { LIVE, 1, 0, 0, LIC, 1, 0, 1, 0, 0 }, KH_V_HEALTHY, 0 },
	{ "live stale, notification, upgraded -> repair", { LIVE, 1, 0, 0, NOT, 1, 0, 1, 0, 0 }, KH_V_REPAIR, LIVE_REPAIR },
	{ "live stale, notification, no upgrade -> blocked", { LIVE, 1, 0, 0, NOT, 0, 0, 1, 0, 0 }, KH_V_BLOCKED, 0 },
	{ "live clean, unlicensed, file missing -> activate w/ restart",
	  { LIVE, 0, 0, 1, NOT, 1, 0, 1, 0, 0 }, KH_V_ACTIVATE,
	  KH_ST_STAGE | KH_ST_RESTART | KH_ST_VERIFY | KH_ST_REGISTRY | KH_ST_TRIGGER | KH_ST_WAIT },
	{ "live clean, unlicensed, all archived -> activate w/o restart",
	  { LIVE, 0, 1, 0, NOT, 1, 0, 1, 0, 0 }, KH_V_ACTIVATE,
	  KH_ST_STAGE | KH_ST_REGISTRY | KH_ST_TRIGGER | KH_ST_WAIT },
	{ "live unknown licence is not healthy", { LIVE, 0, 1, 0, UNK, 1, 0, 1, 0, 0 }, KH_V_ACTIVATE,
	  KH_ST_STAGE | KH_ST_REGISTRY | KH_ST_TRIGGER | KH_ST_WAIT },
	/* never loop: the repair record names this upgrade */
	{ "offline stale, repaired for this upgrade -> activate, nothing moved",
	  { OFF, 1, 0, 0, UNK, 1, 0, 1, 0, 1 }, KH_V_ACTIVATE, KH_ST_STAGE | KH_ST_REGISTRY },
	{ "offline stale, repaired, --force -> repair again", { OFF, 1, 0, 0, UNK, 1, 0, 1, 1, 1 },
	  KH_V_REPAIR, OFFLINE_REPAIR },
	{ "offline clean, repaired -> healthy", { OFF, 0, 1, 0, UNK, 1, 0, 1, 0, 1 }, KH_V_HEALTHY, 0 },
	{ "live stale, repaired, all archived -> activate w/o restart",
	  { LIVE, 1, 0, 0, NOT, 1, 0, 1, 0, 1 }, KH_V_ACTIVATE,
	  KH_ST_STAGE | KH_ST_REGISTRY | KH_ST_TRIGGER | KH_ST_WAIT },
	{ "live stale, repaired, a bundle file missing -> activate w/ restart",
	  { LIVE, 1, 0, 1, NOT, 1, 0, 1, 0, 1 }, KH_V_ACTIVATE,
	  KH_ST_STAGE | KH_ST_RESTART | KH_ST_VERIFY | KH_ST_REGISTRY | KH_ST_TRIGGER | KH_ST_WAIT },
	{ "live stale, no upgrade, repaired (record \"none\") -> activate, not blocked",
	  { LIVE, 1, 0, 0, NOT, 0, 0, 1, 0, 1 }, KH_V_ACTIVATE,
	  KH_ST_STAGE | KH_ST_REGISTRY | KH_ST_TRIGGER | KH_ST_WAIT },
	{ "live licensed, repaired -> healthy", { LIVE, 1, 0, 0, LIC, 1, 0, 1, 0, 1 }, KH_V_HEALTHY, 0 },
	{ "live stale, repaired, --force -> repair again", { LIVE, 1, 0, 0, NOT, 1, 0, 1, 1, 1 },
	  KH_V_REPAIR, LIVE_REPAIR },
};

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct kh_decision d;

		decide(&rows[i].f, &d);
		if (d.verdict != rows[i].v || d.plan != rows[i].plan)
			fail_msg("%s: got %s plan %#x", rows[i].what, verdict_name(d.verdict), d.plan);
		assert_non_null(d.why);
	}
}

/* --- classification --- */
static struct kh_bundle_file bf;
static struct kh_bundle bundle;
static const char *NAME = "f912421d-3371-f33c-3cf8-22df25e5851f.xml";
static const char *GOOD = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

static int setup(void **state)
{
	bf.name = (char *)NAME;
	memcpy(bf.sha256, GOOD, 65);
	bundle.files = &bf;
	bundle.n = 1;
	return 0;
}

static enum kh_class cls(const char *name, enum kh_ftype t, uint64_t size,
			 int64_t mtime, const char *sha, const struct kh_upgrade *up,
			 const char *xml)
{
	struct kh_entry e = { .name = (char *)name, .type = t, .size = size, .mtime = mtime };
	enum kh_class c;

	snprintf(e.sha256, sizeof(e.sha256), "%s", sha);
	classify(&e, &bundle, up, 1048576, xml);
	assert_non_null(e.reason);
	free(e.reason);
	c = e.cls;
	return c;
}

static void test_classes(void **state)
{
	struct kh_upgrade up = { .build = 17134, .time = 1000, .time_from = KH_TIME_LAST_WRITE };
	struct kh_upgrade unknown = { .build = 17134, .time = 0, .time_from = KH_TIME_NONE };
	const char *other = "11111111-2222-3333-4444-555555555555.xml";
	const char *bad = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

	assert_int_equal(cls(NAME, KH_FT_FILE, 10, 5, GOOD, &up, NULL), KH_CL_CURRENT);
	assert_int_equal(cls("F912421D-3371-F33C-3CF8-22DF25E5851F.XML", KH_FT_FILE, 10, 5,
			     GOOD, &up, NULL), KH_CL_CURRENT);
	assert_int_equal(cls(NAME, KH_FT_FILE, 10, 5, bad, &up, NULL), KH_CL_OUTDATED);
	assert_int_equal(cls(other, KH_FT_FILE, 10, 999, bad, &up, NULL), KH_CL_CARRIED);
	assert_int_equal(cls(other, KH_FT_FILE, 10, 1000, bad, &up, NULL), KH_CL_POST);
	assert_int_equal(cls(other, KH_FT_FILE, 10, 1000, bad, NULL, NULL), KH_CL_FOREIGN);
	/* an upgrade whose time is unknown: nothing is post-upgrade */
	assert_int_equal(cls(other, KH_FT_FILE, 10, 1000, bad, &unknown, NULL), KH_CL_CARRIED);
	assert_int_equal(cls(other, KH_FT_DIR, 0, 5, "", &up, NULL), KH_CL_INVALID);
	assert_int_equal(cls(other, KH_FT_LINK, 0, 5, "", &up, NULL), KH_CL_INVALID);
	assert_int_equal(cls("notes.xml", KH_FT_FILE, 10, 5, bad, &up, NULL), KH_CL_INVALID);
	assert_int_equal(cls(other, KH_FT_FILE, 2000000, 5, "", &up, NULL), KH_CL_INVALID);
	assert_int_equal(cls(NAME, KH_FT_FILE, 10, 5, GOOD, &up, "not well-formed"), KH_CL_INVALID);
}

static void test_archive_good_list(void **state)
{
	struct kh_upgrade up = { .build = 17134, .time = 1000, .time_from = KH_TIME_LAST_WRITE };
	char *good[] = { (char *)"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" };

	bf.archive_good = good;
	bf.n_good = 1;
	/* with [archive] listed, only those digests are current */
	assert_int_equal(cls(NAME, KH_FT_FILE, 10, 5, good[0], &up, NULL), KH_CL_CURRENT);
	assert_int_equal(cls(NAME, KH_FT_FILE, 10, 5, GOOD, &up, NULL), KH_CL_OUTDATED);
	bf.archive_good = NULL;
	bf.n_good = 0;
}

/* facts_from: the record counts only for the upgrade it names. */
static void test_record_facts(void **state)
{
	struct kh_config c = { .require_upgrade = 1 };
	struct kh_entry stale = { .name = (char *)"x.xml", .cls = KH_CL_OUTDATED };
	struct kh_obs o = { .archive = &stale, .n_archive = 1 };
	struct kh_upgrade first = { .key = "Source OS (Updated on 3/14/2020 10:20:30)" };
	struct kh_upgrade second = { .key = "Source OS (Updated on 11/1/2026 10:00:00)" };
	struct kh_facts f;
	struct kh_decision d;

	o.repair.from = KH_RREC_REGISTRY;
	snprintf(o.repair.upgrade, sizeof(o.repair.upgrade), "SOURCE OS (updated on 3/14/2020 10:20:30)");
	o.upgraded_from = &first;
	facts_from(&o, &c, 0, &f);
	assert_true(f.repaired);      /* key names compare in any case */
	decide(&f, &d);
	assert_int_equal(d.verdict, KH_V_ACTIVATE);
	assert_false(d.plan & KH_ST_BACKUP);
	/* a second upgrade re-arms the repair */
	o.upgraded_from = &second;
	facts_from(&o, &c, 0, &f);
	assert_false(f.repaired);
	decide(&f, &d);
	assert_int_equal(d.verdict, KH_V_REPAIR);
	/* no upgrade detected: the record "none" holds, a named one does not */
	o.upgraded_from = NULL;
	facts_from(&o, &c, 0, &f);
	assert_false(f.repaired);
	snprintf(o.repair.upgrade, sizeof(o.repair.upgrade), KH_RREC_NONE);
	facts_from(&o, &c, 0, &f);
	assert_true(f.repaired);
	o.upgraded_from = &first;
	facts_from(&o, &c, 0, &f);
	assert_false(f.repaired);
	/* no record, no hold */
	o.repair.from = KH_RREC_ABSENT;
	o.upgraded_from = NULL;
	facts_from(&o, &c, 0, &f);
	assert_false(f.repaired);
}

static void test_names(void **state)
{
	assert_string_equal(verdict_name(KH_V_BLOCKED), "blocked");
	assert_string_equal(step_name(KH_ST_RESTART), "restart-clipsvc");
	assert_string_equal(class_name(KH_CL_CARRIED), "carried-over");
	assert_string_equal(step_name(3), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test_setup(test_classes, setup),
		cmocka_unit_test_setup(test_archive_good_list, setup),
		cmocka_unit_test(test_record_facts),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
