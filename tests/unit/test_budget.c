/* test_budget.c - the run's time budget: every timeout a body is given is
 * min(configured, what is left), rounded up to whole seconds; none once
 * the budget is spent; the configured one without a budget. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "budget.h"
#include "khreset.h"

static void test_no_budget(void **state)
{
	kh_budget_set(0);
	assert_true(kh_budget_left_ms() == LONG_MAX);
	assert_int_equal(kh_budget_s(60), 60);
}

static void test_min_of_left(void **state)
{
	kh_budget_set(kh_mono_ms() + 10500);
	assert_int_equal(kh_budget_s(60), 11);       /* 10.5 s left: 11 */
	assert_int_equal(kh_budget_s(5), 5);
	assert_true(kh_budget_left_ms() <= 10500 && kh_budget_left_ms() > 9000);
	kh_budget_set(0);
}

static void test_spent(void **state)
{
	kh_budget_set(kh_mono_ms() - 1);
	assert_int_equal(kh_budget_left_ms(), 0);
	assert_int_equal(kh_budget_s(60), 0);
	kh_budget_set(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_budget),
		cmocka_unit_test(test_min_of_left),
		cmocka_unit_test(test_spent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
