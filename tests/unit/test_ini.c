/* test_ini.c - minIni over a buffer (hook/ini): keys in order with their
 * lines, and the bytes minIni would misread refused instead of split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "khreset.h"
#include "ini/ini.h"
#include "testutil.h"

/* What browse saw, one "line:[section] key=value" per key. */
struct seen {
	char text[4096];
	int stop_after;        /* 0: never stop */
	int n;
};

static int record(const char *sec, const char *key, const char *val, int line, void *ud)
{
	struct seen *s = ud;
	size_t used = strlen(s->text);

	tu_fmt(s->text + used, sizeof(s->text) - used, "%d:[%s] %s=%s\n", line, sec, key, val);
	return !s->stop_after || ++s->n < s->stop_after;
}

static int browse(const char *text, size_t len, struct seen *s)
{
	kh_clearerr();
	return kh_ini_browse("t.ini", text, len, record, s);
}

static void test_keys_in_order_with_lines(void **state)
{
	static const char text[] = "top = 0\n; comment\n[a]\nx = 1 ; note\n\n"
				   "  [ b ]  \r\ny=\"q;uoted\"\r\n# c\n[a]\nx = 2";
	struct seen s = { "", 0, 0 };

	assert_int_equal(browse(text, strlen(text), &s), KH_OK);
	assert_string_equal(s.text, "1:[] top=0\n4:[a] x=1\n7:[b] y=q;uoted\n10:[a] x=2\n");
}

static void test_callback_stops(void **state)
{
	static const char text[] = "[a]\nx = 1\ny = 2\nz = 3\n";
	struct seen s = { "", 2, 0 };

	assert_int_equal(browse(text, strlen(text), &s), KH_OK);
	assert_string_equal(s.text, "2:[a] x=1\n3:[a] y=2\n");
}

/* A NUL would end minIni's line early: reading stops at its line, which is
 * named; the keys before it were seen.  Twin: the same text without it. */
static void test_nul_refused(void **state)
{
	static const char text[] = "[a]\nx = 1\ny = 2\0 3\nz = 4\n";
	struct seen s = { "", 0, 0 };

	assert_int_equal(browse(text, sizeof(text) - 1, &s), KH_ERR_DATA);
	assert_string_equal(s.text, "2:[a] x=1\n");
	assert_non_null(strstr(kh_lasterr(), "t.ini line 3: NUL byte"));
	memset(&s, 0, sizeof(s));
	assert_int_equal(browse(text, 15, &s), KH_OK);
	assert_string_equal(s.text, "2:[a] x=1\n3:[a] y=2\n");
}

/* minIni would split a line longer than its buffer and read the rest as a
 * line of its own (here a key "vv...vz" = "evil"); the glue refuses it.  The
 * room is shared with the section name. */
static void test_long_line_refused(void **state)
{
	struct seen s = { "", 0, 0 };
	char *text = malloc(8192);
	size_t n;

	assert_non_null(text);
	strcpy(text, "[a]\nx = ");
	n = strlen(text);
	memset(text + n, 'v', 3000);
	strcpy(text + n + 3000, "z = evil\n");
	assert_int_equal(browse(text, strlen(text), &s), KH_ERR_DATA);
	assert_string_equal(s.text, "");
	assert_non_null(strstr(kh_lasterr(), "t.ini line 2: too long"));
	/* twin: a long line that fits is read whole */
	memset(&s, 0, sizeof(s));
	strcpy(text + n + 1000, "\n");
	assert_int_equal(browse(text, strlen(text), &s), KH_OK);
	assert_int_equal(strlen(s.text), strlen("2:[a] x=\n") + 1000);
	/* the same line under a long section name no longer fits */
	memset(text, 's', 1100);
	text[0] = '[';
	memcpy(text + 1100, "]\nx = ", 6);
	memset(text + 1106, 'v', 1000);
	strcpy(text + 2106, "\n");
	memset(&s, 0, sizeof(s));
	assert_int_equal(browse(text, strlen(text), &s), KH_ERR_DATA);
	assert_non_null(strstr(kh_lasterr(), "line 2: too long"));
	free(text);
}

static void test_empty_text(void **state)
{
	struct seen s = { "", 0, 0 };

	assert_int_equal(browse("", 0, &s), KH_OK);
	assert_string_equal(s.text, "");
	assert_false(kh_ini_has_section("", 0, "a"));
}

static void test_has_section(void **state)
{
	static const char text[] = "[keyholder]\nx = 1\n[Registry]\nvalue1 = a\n[log]\n";

	assert_true(kh_ini_has_section(text, strlen(text), "registry"));
	assert_true(kh_ini_has_section(text, strlen(text), "KEYHOLDER"));
	assert_false(kh_ini_has_section(text, strlen(text), "task"));
	assert_false(kh_ini_has_section(text, strlen(text), "regist"));
	assert_false(kh_ini_has_section(text, strlen(text), "log"));     /* empty */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_in_order_with_lines),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_nul_refused),
		cmocka_unit_test(test_long_line_refused),
		cmocka_unit_test(test_empty_text),
		cmocka_unit_test(test_has_section),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
