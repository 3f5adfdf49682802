/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for daemon/pace.c: when the event loop pauses between passes
 * and how long, grown while the workers stay stocked, halved when one ran
 * dry, within its bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pace.h"

static void test_init(void **state)
{
    struct pace p;

    (void)state;
    pace_init(&p);
    assert_int_equal(p.pause_us, PACE_MIN_US);
    assert_false(p.paused);
}

/* Not stocked: no pause, and a worker running dry then is none of the pause's doing. */
static void test_not_stocked_no_pause(void **state)
{
    struct pace p;

    (void)state;
    pace_init(&p);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(pace_after_pass(&p, false, false), 0);
        assert_int_equal(pace_after_pass(&p, false, true), 0);
    }
    assert_int_equal(p.pause_us, PACE_MIN_US);
    assert_false(p.paused);
}

/* Stocked: the first pause is the shortest; each pass after one with no worker dry, a step more. */
static void test_grows_by_steps_to_max(void **state)
{
    struct pace p;
    unsigned want = PACE_MIN_US;

    (void)state;
    pace_init(&p);
    assert_int_equal(pace_after_pass(&p, true, false), PACE_MIN_US);
    assert_true(p.paused);
    while (want < PACE_MAX_US) {
        want = want + PACE_STEP_US < PACE_MAX_US ? want + PACE_STEP_US : PACE_MAX_US;
        assert_int_equal(pace_after_pass(&p, true, false), want);
    }
    /* At the bound it stays there. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(pace_after_pass(&p, true, false), PACE_MAX_US);
}

/* A worker ran dry during a pause: half as long, down to the minimum. */
static void test_dry_halves_to_min(void **state)
{
    struct pace p;

    (void)state;
    pace_init(&p);
    p.pause_us = PACE_MAX_US;
    assert_int_equal(pace_after_pass(&p, true, false), PACE_MAX_US);
    assert_int_equal(pace_after_pass(&p, true, true), PACE_MAX_US / 2);
    assert_int_equal(pace_after_pass(&p, true, true), PACE_MAX_US / 4);
    assert_int_equal(pace_after_pass(&p, true, true), PACE_MAX_US / 8);
    assert_int_equal(pace_after_pass(&p, true, true), PACE_MIN_US); /* 6 would be under it */
    /* And grows again from there. */
    assert_int_equal(pace_after_pass(&p, true, false), PACE_MIN_US + PACE_STEP_US);
}

/* Dry even after the shortest pause: off, until PACE_CALM_PASSES stocked passes in a row saw none
 * dry. */
static void test_off_until_calm(void **state)
{
    struct pace p;

    (void)state;
    pace_init(&p);
    assert_int_equal(pace_after_pass(&p, true, false), PACE_MIN_US);
    assert_int_equal(pace_after_pass(&p, true, true), 0);
    assert_int_equal(p.pause_us, 0);
    assert_false(p.paused);
    /* Calm passes, broken once by a dry worker and once by a pass not stocked: counted again. */
    for (int i = 0; i < PACE_CALM_PASSES - 1; i++)
        assert_int_equal(pace_after_pass(&p, true, false), 0);
    assert_int_equal(pace_after_pass(&p, true, true), 0);
    for (int i = 0; i < PACE_CALM_PASSES - 1; i++)
        assert_int_equal(pace_after_pass(&p, true, false), 0);
    assert_int_equal(pace_after_pass(&p, false, false), 0);
    for (int i = 0; i < PACE_CALM_PASSES - 1; i++)
        assert_int_equal(pace_after_pass(&p, true, false), 0);
    /* The PACE_CALM_PASSES-th in a row: on again at the shortest, paused at once. */
    assert_int_equal(pace_after_pass(&p, true, false), PACE_MIN_US);
    assert_int_equal(p.calm, 0);
    assert_int_equal(pace_after_pass(&p, true, false), PACE_MIN_US + PACE_STEP_US);
}

/* Only a pass that followed a pause judges it; a dry worker in any other pass changes nothing. */
static void test_dry_without_pause_ignored(void **state)
{
    struct pace p;

    (void)state;
    pace_init(&p);
    p.pause_us = 40;
    assert_int_equal(pace_after_pass(&p, false, true), 0);
    assert_int_equal(pace_after_pass(&p, true, true), 40); /* no pause before: kept */
    assert_int_equal(p.pause_us, 40);
}

/* The pass after a pause judges it even when the workers are no longer stocked. */
static void test_judged_when_stock_ends(void **state)
{
    struct pace p;

    (void)state;
    pace_init(&p);
    p.pause_us = 40;
    assert_int_equal(pace_after_pass(&p, true, false), 40);
    assert_int_equal(pace_after_pass(&p, false, true), 0); /* ran dry: halved, no pause now */
    assert_int_equal(p.pause_us, 20);
    assert_false(p.paused);
    assert_int_equal(pace_after_pass(&p, true, false), 20);
    assert_int_equal(pace_after_pass(&p, false, false), 0); /* all still busy: a step more */
    assert_int_equal(p.pause_us, 30);
    /* Not paused since: the next stocked pass pauses 30 and nothing else moved it. */
    assert_int_equal(pace_after_pass(&p, false, true), 0);
    assert_int_equal(pace_after_pass(&p, true, false), 30);
}

/* The bounds themselves: a step never passes the maximum, a halving never goes under the minimum.
 */
static void test_bounds(void **state)
{
    struct pace p;

    (void)state;
    assert_true(PACE_MIN_US > 0);
    assert_true(PACE_MIN_US <= PACE_MAX_US);
    pace_init(&p);
    p.pause_us = PACE_MAX_US - 1;
    assert_int_equal(pace_after_pass(&p, true, false), PACE_MAX_US - 1);
    assert_int_equal(pace_after_pass(&p, true, false), PACE_MAX_US);
    p.pause_us = PACE_MIN_US + 1;
    assert_int_equal(pace_after_pass(&p, true, true), PACE_MIN_US);
    assert_int_equal(pace_after_pass(&p, true, true), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_not_stocked_no_pause),
        cmocka_unit_test(test_grows_by_steps_to_max),
        cmocka_unit_test(test_dry_halves_to_min),
        cmocka_unit_test(test_off_until_calm),
        cmocka_unit_test(test_dry_without_pause_ignored),
        cmocka_unit_test(test_judged_when_stock_ends),
        cmocka_unit_test(test_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
