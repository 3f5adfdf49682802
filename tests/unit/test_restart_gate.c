/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for daemon/restart_gate.c, a pool's budget of crash restarts,
 * case by case: no limit; a burst of COUNT at once, then one per
 * WINDOW/COUNT; times given in the order asked (the longest waiting goes
 * first); a calm spell refills the burst, never more; the bound of COUNT per
 * WINDOW plus the burst over any stretch of time; a count larger than the
 * window in microseconds; a new budget forgets the past, the same one keeps it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "restart_gate.h"

#define MS  1000ULL
#define SEC 1000000ULL
#define T0  (1000 * SEC) /* an arbitrary, non-zero start of time */

/* count 0 is no limit: every restart goes at the time it is due. */
static void test_no_limit(void **state)
{
    struct restart_gate g = {0};

    (void)state;
    restart_gate_set(&g, 0, SEC);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(restart_gate_take(&g, T0), T0);
    assert_int_equal(restart_gate_take(&g, T0 + 1), T0 + 1);
}

/* 4/1s: four at once, then one every 250 ms, each given the next free time. */
static void test_burst_then_pace(void **state)
{
    struct restart_gate g = {0};

    (void)state;
    restart_gate_set(&g, 4, SEC);
    for (int i = 0; i < 4; i++)
        assert_int_equal(restart_gate_take(&g, T0), T0);
    assert_int_equal(restart_gate_take(&g, T0), T0 + 250 * MS);
    assert_int_equal(restart_gate_take(&g, T0), T0 + 500 * MS);
    /* Asked later, still after those already given: first come, first served. */
    assert_int_equal(restart_gate_take(&g, T0 + 100 * MS), T0 + 750 * MS);
    assert_int_equal(restart_gate_take(&g, T0 + 750 * MS), T0 + 1000 * MS);
}

/* A restart asked for at the time it was given goes then, and the pace goes on from there. */
static void test_given_time_is_kept(void **state)
{
    struct restart_gate g = {0};
    uint64_t at;

    (void)state;
    restart_gate_set(&g, 1, 100 * MS);
    assert_int_equal(restart_gate_take(&g, T0), T0);
    at = restart_gate_take(&g, T0 + 10 * MS);
    assert_int_equal(at, T0 + 100 * MS);
    /* The slot's timer fires at `at`; the next one asked for then waits one more interval. */
    assert_int_equal(restart_gate_take(&g, at), T0 + 200 * MS);
}

/* After a calm spell the burst is back, but never more than COUNT at once. */
static void test_calm_refills_burst_only(void **state)
{
    struct restart_gate g = {0};
    uint64_t later = T0 + 3600 * SEC;

    (void)state;
    restart_gate_set(&g, 3, 300 * MS);
    for (int i = 0; i < 10; i++)
        restart_gate_take(&g, T0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(restart_gate_take(&g, later), later);
    assert_int_equal(restart_gate_take(&g, later), later + 100 * MS);
}

/* A partial refill: 150 ms of calm at 100 ms per restart gives one back (and half of the next). */
static void test_partial_refill(void **state)
{
    struct restart_gate g = {0};

    (void)state;
    restart_gate_set(&g, 2, 200 * MS);
    assert_int_equal(restart_gate_take(&g, T0), T0);
    assert_int_equal(restart_gate_take(&g, T0), T0);
    assert_int_equal(restart_gate_take(&g, T0), T0 + 100 * MS);
    /* Now busy up to T0 + 200 ms: at T0 + 150 ms the next is due at T0 + 200 ms... */
    assert_int_equal(restart_gate_take(&g, T0 + 150 * MS), T0 + 200 * MS);
    /* ...and after a long calm, two at once again. */
    assert_int_equal(restart_gate_take(&g, T0 + 10 * SEC), T0 + 10 * SEC);
    assert_int_equal(restart_gate_take(&g, T0 + 10 * SEC), T0 + 10 * SEC);
    assert_int_equal(restart_gate_take(&g, T0 + 10 * SEC), T0 + 10 * SEC + 100 * MS);
}

/*
 * The bound: however many ask, and whenever, no stretch of time of length L holds more
 * than COUNT + L * COUNT / WINDOW of the given times (the burst plus the pace).
 */
static void test_bound_over_any_stretch(void **state)
{
    struct restart_gate g = {0};
    uint64_t given[2000], now = T0;
    const unsigned count = 20;
    const uint64_t window = SEC, interval = window / count;

    (void)state;
    restart_gate_set(&g, count, window);
    for (size_t i = 0; i < 2000; i++) {
        /* 64 slots crashing in bursts, some asking late, as a storm does. */
        now += (i % 64 == 0) ? 37 * MS : (i % 7 == 0 ? 1 * MS : 0);
        given[i] = restart_gate_take(&g, now);
        assert_true(given[i] >= now);
        if (i > 0)
            assert_true(given[i] >= given[i - 1]); /* in the order asked */
    }
    for (size_t i = 0; i < 2000; i++) {
        size_t n = 0;
        for (size_t j = i; j < 2000 && given[j] < given[i] + window; j++)
            n++;
        if (n > count + window / interval)
            fail_msg("%zu restarts within 1s from restart %zu", n, i);
    }
    /* 2000 restarts at 20/s take about 100 s, not less. */
    assert_true(given[1999] - given[0] >= (2000 - count) * interval);
}

/* More than one restart per microsecond asked for: the interval is at least 1 us, never 0. */
static void test_count_beyond_window(void **state)
{
    struct restart_gate g = {0};

    (void)state;
    restart_gate_set(&g, 10, 5);
    assert_int_equal(g.interval_us, 1);
    for (int i = 0; i < 10; i++)
        assert_int_equal(restart_gate_take(&g, T0), T0);
    assert_int_equal(restart_gate_take(&g, T0), T0 + 1);
}

/* A new budget (a reload that changed it) starts full; the same one again keeps its past. */
static void test_set_forgets(void **state)
{
    struct restart_gate g = {0};

    (void)state;
    assert_true(restart_gate_set(&g, 1, SEC));
    restart_gate_take(&g, T0);
    assert_int_equal(restart_gate_take(&g, T0), T0 + SEC);
    assert_false(restart_gate_set(&g, 1, SEC)); /* the same budget: what it gave stands */
    assert_int_equal(restart_gate_take(&g, T0), T0 + 2 * SEC);
    assert_true(restart_gate_set(&g, 2, SEC));
    assert_int_equal(restart_gate_take(&g, T0), T0);
    assert_int_equal(restart_gate_take(&g, T0), T0);
    assert_int_equal(restart_gate_take(&g, T0), T0 + 500 * MS);
    assert_true(restart_gate_set(&g, 0, 0));
    assert_int_equal(restart_gate_take(&g, T0), T0);
    assert_false(restart_gate_set(&g, 0, SEC)); /* none is none, whatever the window */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_limit),
        cmocka_unit_test(test_burst_then_pace),
        cmocka_unit_test(test_given_time_is_kept),
        cmocka_unit_test(test_calm_refills_burst_only),
        cmocka_unit_test(test_partial_refill),
        cmocka_unit_test(test_bound_over_any_stretch),
        cmocka_unit_test(test_count_beyond_window),
        cmocka_unit_test(test_set_forgets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
