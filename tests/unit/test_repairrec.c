/* test_repairrec.c - the repair record's readers (repairrec.c): the time
 * form, the status document's "repair", and what names an upgrade. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "khreset.h"
#include "repairrec.h"

static void test_time(void **state)
{
	static const char *const bad[] = {
		"", "2026-12-02T05:21:28", "2026-12-02t05:21:28Z", "2026-12-02 05:21:28Z",
		"2026-02-30T00:00:00Z", "2026-12-02T24:00:00Z", "2026-12-02T05:60:00Z",
		"1969-12-31T23:59:59Z", "+026-12-02T05:21:28Z", "2026-12-02T05:21:28Z ",
		"2026-12-02T05:21:28+00:00", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
	};
	int64_t t = 0;

	assert_true(rrec_parse_time("1970-01-01T00:00:00Z", &t));
	assert_int_equal(t, 0);
	assert_true(rrec_parse_time("2026-12-02T05:21:28Z", &t));
	assert_int_equal(t, 1796188888);
	assert_true(rrec_parse_time("2024-02-29T12:00:00Z", &t));   /* a leap day */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (rrec_parse_time(bad[i], &t))
			fail_msg("'%s' was taken as a time", bad[i]);
	assert_false(rrec_parse_time(NULL, &t));
}

static int parse(const char *json, struct kh_rrec *r)
{
	return rrec_from_status(json, strlen(json), r);
}

static void test_status(void **state)
{
	struct kh_rrec r;

	assert_int_equal(parse("{\"schema\": 1, \"repair\": {\"upgrade\": \"Source OS (Updated on "
			       "3/14/2020 10:20:30)\", \"time\": \"2026-12-02T05:21:28Z\", "
			       "\"backup_id\": \"20261202T052128Z\", \"source\": \"run\"}}", &r), 1);
	assert_int_equal(r.from, KH_RREC_STATUS);
	assert_string_equal(r.upgrade, "Source OS (Updated on 3/14/2020 10:20:30)");
	assert_int_equal(r.time, 1796188888);
	assert_string_equal(r.backup_id, "20261202T052128Z");
	/* no record: a document of an older version, or null */
	assert_int_equal(parse("{\"schema\": 1}", &r), 0);
	assert_int_equal(parse("{\"schema\": 1, \"repair\": null}", &r), 0);
	assert_int_equal(r.from, KH_RREC_ABSENT);
	/* damaged: said, and nothing taken */
	assert_int_equal(parse("{\"schema\": 1, \"repair\": {\"upgrade\": \"none\", \"time\": "
			       "\"yesterday\", \"backup_id\": \"20261202T052128Z\"}}", &r), -1);
	assert_non_null(strstr(kh_lasterr(), "repair.time 'yesterday'"));
	assert_int_equal(r.from, KH_RREC_ABSENT);
	assert_int_equal(parse("{\"repair\": {\"upgrade\": \"none\", \"time\": "
			       "\"2026-12-02T05:21:28Z\", \"backup_id\": \"../x\"}}", &r), -1);
	assert_non_null(strstr(kh_lasterr(), "repair.backup_id"));
	assert_int_equal(parse("{\"repair\": {\"upgrade\": \"\", \"time\": "
			       "\"2026-12-02T05:21:28Z\", \"backup_id\": \"a\"}}", &r), -1);
	assert_int_equal(parse("{\"repair\": {\"upgrade\": 7, \"time\": "
			       "\"2026-12-02T05:21:28Z\", \"backup_id\": \"a\"}}", &r), -1);
	assert_int_equal(parse("{\"repair\": \"done\"}", &r), -1);
	assert_int_equal(parse("[1, 2]", &r), -1);
	assert_int_equal(parse("{\"schema\": 1, \"repa", &r), -1);
	assert_non_null(strstr(kh_lasterr(), "not JSON"));
}

static void test_matches(void **state)
{
	struct kh_upgrade up = { .key = "Source OS (Updated on 3/14/2020 10:20:30)" };
	struct kh_rrec r = { .from = KH_RREC_REGISTRY, .upgrade = "source os (UPDATED ON 3/14/2020 10:20:30)" };

	assert_string_equal(rrec_upgrade_of(NULL), KH_RREC_NONE);
	assert_string_equal(rrec_upgrade_of(&up), up.key);
	assert_true(rrec_matches(&r, &up));
	assert_false(rrec_matches(&r, NULL));
	r.from = KH_RREC_ABSENT;
	assert_false(rrec_matches(&r, &up));
	assert_string_equal(rrec_from_name(KH_RREC_STATUS), "repair.json");
	assert_null(rrec_from_name(KH_RREC_ABSENT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
