/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for daemon/budget.c, the memory budgets of message mode:
 * holdings added and given back (holders counted once each), no limit,
 * the limit reached, the fair share that lets the light members read on
 * while the heavy ones stop, and the heap trim due once after a peak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "budget.h"

static void test_change_counts_holders(void **state)
{
    struct budget b = {.limit = 100};

    (void)state;
    budget_change(&b, 0, 10);
    budget_change(&b, 0, 20);
    budget_change(&b, 10, 15);
    assert_int_equal(b.held, 35);
    assert_int_equal(b.holders, 2);
    budget_change(&b, 15, 0);
    assert_int_equal(b.held, 20);
    assert_int_equal(b.holders, 1);
    budget_change(&b, 0, 0);
    assert_int_equal(b.holders, 1);
    budget_change(&b, 20, 0);
    assert_int_equal(b.held, 0);
    assert_int_equal(b.holders, 0);
    assert_int_equal(b.peak, 35);
}

static void test_no_limit_always_reads(void **state)
{
    struct budget b = {.limit = 0};

    (void)state;
    budget_change(&b, 0, UINT64_C(1) << 40);
    assert_false(budget_over(&b));
    assert_true(budget_may_read(&b, UINT64_C(1) << 40));
}

static void test_under_limit_reads(void **state)
{
    struct budget b = {.limit = 100};

    (void)state;
    budget_change(&b, 0, 99);
    assert_false(budget_over(&b));
    assert_true(budget_may_read(&b, 99));
}

/* At the limit the heavy member stops; a light one (below its share) reads on. */
static void test_over_limit_fair_share(void **state)
{
    struct budget b = {.limit = 100};

    (void)state;
    budget_change(&b, 0, 90); /* the hog */
    budget_change(&b, 0, 5);
    budget_change(&b, 0, 5);
    assert_true(budget_over(&b));
    assert_int_equal(budget_share(&b), 33);
    assert_false(budget_may_read(&b, 90));
    assert_true(budget_may_read(&b, 5));
    assert_true(budget_may_read(&b, 0)); /* a new member */
    assert_false(budget_may_read(&b, 33));
}

/* Over the limit, some member holds at least its share: someone always stops. */
static void test_someone_stops(void **state)
{
    struct budget b = {.limit = 100};

    (void)state;
    for (int i = 0; i < 4; i++)
        budget_change(&b, 0, 25);
    assert_true(budget_over(&b));
    assert_false(budget_may_read(&b, 25));
}

/* Room: up to the limit below it, up to the fair share at it, unbounded without one. */
static void test_room(void **state)
{
    struct budget b = {.limit = 100};

    (void)state;
    assert_int_equal(budget_room(&b, 0), 100);
    budget_change(&b, 0, 60);
    assert_int_equal(budget_room(&b, 60), 40);
    budget_change(&b, 0, 40);
    assert_int_equal(budget_room(&b, 60), 0);
    assert_int_equal(budget_room(&b, 40), 10);
    b.limit = 0;
    assert_true(budget_room(&b, 60) == UINT64_MAX);
}

static void test_trim_once_after_peak(void **state)
{
    struct budget b = {.limit = 0};

    (void)state;
    budget_change(&b, 0, 1000);
    assert_false(budget_trim_due(&b, 500, 10)); /* still held */
    budget_change(&b, 1000, 10);
    assert_true(budget_trim_due(&b, 500, 10));
    assert_false(budget_trim_due(&b, 500, 10)); /* the peak restarted */
    budget_change(&b, 10, 400);
    budget_change(&b, 400, 0);
    assert_false(budget_trim_due(&b, 500, 10)); /* a small peak */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_change_counts_holders),
        cmocka_unit_test(test_no_limit_always_reads),
        cmocka_unit_test(test_under_limit_reads),
        cmocka_unit_test(test_over_limit_fair_share),
        cmocka_unit_test(test_someone_stops),
        cmocka_unit_test(test_trim_once_after_peak),
        cmocka_unit_test(test_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
