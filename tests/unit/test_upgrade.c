/* test_upgrade.c - upgraded_from from raw Source OS keys (hook/upgrade.c),
 * table by table: the date in a key name, the build text, the choice.
 *
 * Before the core decided, the two bodies disagreed on: a name without its
 * time (offline: no date; live: midnight), a name in another case (offline:
 * a date; live: none), an hour of 25 (offline: none; live: the next day),
 * and a CurrentBuild with text after the number (offline: the number;
 * live: none).  Both let the listing order pick among equal times.  The
 * rows marked "was:" pin the one answer now; those of issue 9 (a real
 * hive upgraded twice) are where ordering by last-write time went wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "upgrade.h"

#define SRC(date) "Source OS (Updated on " date ")"

static const struct date_row {
	const char *key;
	int64_t want;
} dates[] = {
	{ SRC("3/14/2020 10:20:30"), 1584181230 },
	{ SRC("11/2/2021 8:05:09"), 1635840309 },
	{ SRC("1/6/2019 02:18:37"), 1546741117 },          /* a real key */
	{ "source os (updated on 11/2/2021 8:05:09)", 1635840309 },  /* was: live none */
	{ SRC("2/29/2020 0:00:00"), 1582934400 },          /* leap day */
	{ SRC("2/29/2000 12:00:00"), 951825600 },          /* 400-year leap */
	{ SRC("12/31/9999 23:59:59"), 253402300799 },
	/* negative twins: no date rather than a guess */
	{ "Source OS", 0 },
	{ "Source OS (Updated on )", 0 },
	{ SRC("3/14/2020"), 0 },                           /* was: live midnight */
	{ SRC("3/14/2020 25:00:00"), 0 },                  /* was: live next day */
	{ SRC("3/14/2020 10:60:00"), 0 },
	{ SRC("3/14/2020 10:20:60"), 0 },
	{ SRC("13/14/2020 10:20:30"), 0 },
	{ SRC("0/14/2020 10:20:30"), 0 },
	{ SRC("4/31/2020 10:20:30"), 0 },
	{ SRC("2/29/2019 10:20:30"), 0 },                  /* not a leap year */
	{ SRC("2/29/1900 10:20:30"), 0 },
	{ SRC("3/14/1969 10:20:30"), 0 },
	{ SRC("3/14/20201 10:20:30"), 0 },
	{ SRC("+3/14/2020 10:20:30"), 0 },
	{ SRC("3/ 14/2020 10:20:30"), 0 },
	{ "Source OS (Updated on 3/14/2020 10:20:30", 0 },  /* no ")" */
	{ SRC("3/14/2020 10:20:30) x"), 0 },
	{ "Source OS (Installed on 3/14/2020 10:20:30)", 0 },
	{ NULL, 0 },
};

static void test_name_date(void **state)
{
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		int64_t got = upgrade_name_date(dates[i].key);

		if (got != dates[i].want)
			fail_msg("%s: got %lld, want %lld", dates[i].key ? dates[i].key : "NULL",
				 (long long)got, (long long)dates[i].want);
	}
}

static const struct build_row {
	const char *text;
	long want;
} builds[] = {
	{ "17134", 17134 },
	{ "017763", 17763 },
	{ "999999999", 999999999 },
	{ NULL, 0 },                    /* missing */
	{ "", 0 },
	{ "0", 0 },
	{ "-17134", 0 },
	{ "+17134", 0 },
	{ " 17134", 0 },
	{ "17134 ", 0 },                /* was: offline 17134 */
	{ "17134.1", 0 },
	{ "1234567890", 0 },            /* more than 9 digits */
	{ "0x4a0e", 0 },
};

static void test_build(void **state)
{
	for (size_t i = 0; i < sizeof(builds) / sizeof(builds[0]); i++) {
		long got = upgrade_build(builds[i].text);

		if (got != builds[i].want)
			fail_msg("\"%s\": got %ld, want %ld", builds[i].text ? builds[i].text : "NULL",
				 got, builds[i].want);
	}
}

/* Keys and times of the cases below. */
#define K2019A SRC("1/6/2019 02:18:37")
#define K2019B SRC("5/16/2019 00:55:20")
#define K2020 SRC("3/14/2020 10:20:30")
#define T2019A 1546741117
#define T2019B 1557968120
#define T2020 1584181230
#define W 1600000000                    /* a last-write time */

#define E(key, written, build) { (char *)(key), (written), (char *)(build), (char *)"Windows 10 Enterprise G" }

static const struct find_row {
	const char *what;
	long running;
	struct kh_source_os in[4];
	size_t n;
	const char *key;                /* chosen; NULL: none */
	int64_t time;
	enum kh_time_from from;
} finds[] = {
	{ "the field case: last-write time", 17763, { E(K2020, W, "17134") }, 1,
	  K2020, W, KH_TIME_LAST_WRITE },
	{ "no last-write time: the date in the name", 17763, { E(K2020, 0, "17134") }, 1,
	  K2020, T2020, KH_TIME_NAME },
	{ "a last-write time before 1970 counts as none", 17763, { E(K2020, -5, "17134") }, 1,
	  K2020, T2020, KH_TIME_NAME },
	{ "unparsable name, last-write time: still an upgrade", 17763,
	  { E("Source OS (Updated on someday)", W, "17134") }, 1,
	  "Source OS (Updated on someday)", W, KH_TIME_LAST_WRITE },
	{ "unparsable name, no last-write time: an upgrade at an unknown time", 17763,
	  { E(SRC("3/14/2020"), 0, "17134") }, 1, SRC("3/14/2020"), 0, KH_TIME_NONE },
	{ "name in another case: its date", 17763,
	  { E("SOURCE OS (UPDATED ON 3/14/2020 10:20:30)", 0, "17134") }, 1,
	  "SOURCE OS (UPDATED ON 3/14/2020 10:20:30)", T2020, KH_TIME_NAME },
	/* not an upgrade from an older version */
	{ "no keys", 17763, { { 0 } }, 0, NULL, 0, 0 },
	{ "build missing", 17763, { E(K2020, W, NULL) }, 1, NULL, 0, 0 },
	{ "build not a number", 17763, { E(K2020, W, "RS4") }, 1, NULL, 0, 0 },
	{ "build with text after it", 17763, { E(K2020, W, "17134 ") }, 1, NULL, 0, 0 },
	{ "build equal to running", 17763, { E(K2020, W, "17763") }, 1, NULL, 0, 0 },
	{ "build higher than running", 17134, { E(K2020, W, "17763") }, 1, NULL, 0, 0 },
	{ "running build unknown", 0, { E(K2020, W, "17134") }, 1, NULL, 0, 0 },
	/* several upgrades */
	{ "several: the newest time", 19041,
	  { E(K2019B, W + 100, "17134"), E(K2020, W + 200, "17763"), E(K2019A, W, "15063") }, 3,
	  K2020, W + 200, KH_TIME_LAST_WRITE },
	{ "several: one equal to running is skipped; the chosen older key takes the date "
	  "in its name (its last-write time is the later upgrade's)", 17763,
	  { E(K2019A, W, "15063"), E(K2020, W + 200, "17763") }, 2,
	  K2019A, T2019A, KH_TIME_NAME },                 /* was: W, last-write */
	{ "several: one without a build is skipped, but is still the newest key", 17763,
	  { E(K2019A, W, "15063"), E(K2020, W + 200, NULL) }, 2,
	  K2019A, T2019A, KH_TIME_NAME },                 /* was: W, last-write */
	{ "an undated name against a dated one: the higher build", 17763,
	  { E(SRC("x"), 0, "16299"), E(K2019A, 0, "15063") }, 2,
	  SRC("x"), 0, KH_TIME_NONE },                    /* was: K2019A by its time */
	{ "an undated name against a dated one: the higher build, other order", 17763,
	  { E(K2019A, 0, "15063"), E(SRC("x"), 0, "16299") }, 2,
	  SRC("x"), 0, KH_TIME_NONE },
	{ "an undated older key that is not the newest: its last-write time, a later bound", 17763,
	  { E(SRC("x"), W, "15063"), E(K2019B, W, "16299") }, 2,
	  K2019B, W, KH_TIME_LAST_WRITE },
	/* the real hive of doc/FIELD-CASE.md: upgraded twice; the second
	 * upgrade rewrote both keys, so their last-write times are equal, or
	 * the older key's a second later (Setup writes them one by one) */
	{ "real hive, equal last-write times: the later name, its last-write time", 18362,
	  { E(K2019A, W, "15063"), E(K2019B, W, "17134") }, 2,
	  K2019B, W, KH_TIME_LAST_WRITE },
	{ "real hive, equal last-write times, other order", 18362,
	  { E(K2019B, W, "17134"), E(K2019A, W, "15063") }, 2,
	  K2019B, W, KH_TIME_LAST_WRITE },
	{ "real hive, the older key written a second later: still the later name", 18362,
	  { E(K2019A, W + 1, "15063"), E(K2019B, W, "17134") }, 2,
	  K2019B, W, KH_TIME_LAST_WRITE },                /* was: K2019A at W + 1 */
	{ "real hive, the older key written a second later, other order", 18362,
	  { E(K2019B, W, "17134"), E(K2019A, W + 1, "15063") }, 2,
	  K2019B, W, KH_TIME_LAST_WRITE },                /* was: K2019A at W + 1 */
	{ "real hive, running the middle build: the older upgrade, the date in its name", 17134,
	  { E(K2019B, W, "17134"), E(K2019A, W, "15063") }, 2,
	  K2019A, T2019A, KH_TIME_NAME },                 /* was: W, last-write */
	{ "names give the order even against last-write times", 17763,
	  { E(K2020, W, "17134"), E(K2019A, W + 500, "15063") }, 2,
	  K2020, W, KH_TIME_LAST_WRITE },                 /* was: K2019A at W + 500 */
	/* ties */
	{ "tie: the later date in the name", 17763,
	  { E(K2019B, W, "17134"), E(K2019A, W, "15063") }, 2,
	  K2019B, W, KH_TIME_LAST_WRITE },
	{ "dates tie: the higher build", 17763,
	  { E(K2020, W, "16299"), E("source os (updated on 3/14/2020 10:20:30)", W, "17134") }, 2,
	  "source os (updated on 3/14/2020 10:20:30)", W, KH_TIME_LAST_WRITE },
	{ "dates tie: the higher build, other order", 17763,
	  { E("source os (updated on 3/14/2020 10:20:30)", W, "17134"), E(K2020, W, "16299") }, 2,
	  "source os (updated on 3/14/2020 10:20:30)", W, KH_TIME_LAST_WRITE },
	{ "no names to tell: the higher build", 17763,
	  { E(SRC("a"), W, "17134"), E(SRC("b"), W, "15063") }, 2,
	  SRC("a"), W, KH_TIME_LAST_WRITE },
	{ "no names to tell: the higher build, other order", 17763,
	  { E(SRC("b"), W, "15063"), E(SRC("a"), W, "17134") }, 2,
	  SRC("a"), W, KH_TIME_LAST_WRITE },
	{ "tie in everything: the larger key name", 17763,
	  { E(SRC("a"), W, "17134"), E(SRC("b"), W, "17134") }, 2,
	  SRC("b"), W, KH_TIME_LAST_WRITE },
	{ "tie in everything: the larger key name, other order", 17763,
	  { E(SRC("b"), W, "17134"), E(SRC("a"), W, "17134") }, 2,
	  SRC("b"), W, KH_TIME_LAST_WRITE },
	{ "same build, one name dated: the dated one", 17763,
	  { E(K2019B " ", W, "17134"), E(K2019B, 0, "17134") }, 2,
	  K2019B, T2019B, KH_TIME_NAME },
	/* dates and builds that disagree (a cycle): one answer in any order */
	{ "a cycle, order 1", 17763,
	  { E(K2020, W, "15063"), E(K2019B, W, "17134"), E(SRC("x"), W, "16299") }, 3,
	  SRC("x"), W, KH_TIME_LAST_WRITE },
	{ "a cycle, order 2", 17763,
	  { E(SRC("x"), W, "16299"), E(K2019B, W, "17134"), E(K2020, W, "15063") }, 3,
	  SRC("x"), W, KH_TIME_LAST_WRITE },
	{ "a cycle, order 3", 17763,
	  { E(K2019B, W, "17134"), E(SRC("x"), W, "16299"), E(K2020, W, "15063") }, 3,
	  SRC("x"), W, KH_TIME_LAST_WRITE },
};

static void test_find(void **state)
{
	for (size_t i = 0; i < sizeof(finds) / sizeof(finds[0]); i++) {
		const struct find_row *r = &finds[i];
		struct kh_upgrade u;
		int found = upgrade_find(r->in, r->n, r->running, &u);

		if (!r->key) {
			if (found)
				fail_msg("%s: chose %s, want none", r->what, u.key);
			continue;
		}
		if (!found)
			fail_msg("%s: chose none, want %s", r->what, r->key);
		if (strcmp(u.key, r->key) || u.time != r->time || u.time_from != r->from)
			fail_msg("%s: chose %s at %lld (%d), want %s at %lld (%d)", r->what,
				 u.key, (long long)u.time, (int)u.time_from, r->key,
				 (long long)r->time, (int)r->from);
		if (u.build <= 0 || u.build >= r->running)
			fail_msg("%s: chose build %ld, running %ld", r->what, u.build, r->running);
		assert_string_equal(u.product, "Windows 10 Enterprise G");
	}
}

static void test_find_fields(void **state)
{
	struct kh_source_os in[] = {
		{ (char *)K2020, W, (char *)"17134", NULL },
	};
	struct kh_upgrade u = { .key = "stale" };

	assert_int_equal(upgrade_find(in, 1, 17763, &u), 1);
	assert_int_equal(u.build, 17134);
	assert_null(u.product);           /* missing ProductName stays missing */
	assert_string_equal(upgrade_time_from_name(u.time_from), "last-write");
	assert_int_equal(u.name_date, T2020);
	assert_int_equal(u.last_write, W);
	assert_int_equal(u.newest, 1);
	/* negative twin: none found leaves nothing stale behind */
	assert_int_equal(upgrade_find(in, 1, 17134, &u), 0);
	assert_null(u.key);
	assert_int_equal(u.build, 0);
	assert_int_equal(u.name_date, 0);
}

/* The evidence of a chosen older key: both times, and that it is not the
 * newest (so its last-write time, the later upgrade's, is not its own). */
static void test_find_evidence(void **state)
{
	struct kh_source_os in[] = {
		{ (char *)K2019B, W, (char *)"17134", NULL },
		{ (char *)K2019A, W, (char *)"15063", NULL },
	};
	struct kh_upgrade u;

	assert_int_equal(upgrade_find(in, 2, 17134, &u), 1);
	assert_string_equal(u.key, K2019A);
	assert_int_equal(u.name_date, T2019A);
	assert_int_equal(u.last_write, W);
	assert_int_equal(u.newest, 0);
	assert_int_equal(u.time, T2019A);
	assert_string_equal(upgrade_time_from_name(u.time_from), "name");
}

static void test_time_from_names(void **state)
{
	assert_string_equal(upgrade_time_from_name(KH_TIME_LAST_WRITE), "last-write");
	assert_string_equal(upgrade_time_from_name(KH_TIME_NAME), "name");
	assert_null(upgrade_time_from_name(KH_TIME_NONE));
	assert_null(upgrade_time_from_name((enum kh_time_from)7));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_date),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_find_fields),
		cmocka_unit_test(test_find_evidence),
		cmocka_unit_test(test_time_from_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
