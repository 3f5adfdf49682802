/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for daemon/backoff.c: the restart delay sequence and its cap,
 * and the crash window that decides when a slot goes fatal.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

#define MS  1000ULL
#define SEC 1000000ULL

/* --- backoff_next_delay ------------------------------------------------- */

static void test_delay_sequence(void **state)
{
    static const uint64_t want[] = {0,         100 * MS,  200 * MS,  400 * MS,   800 * MS,
                                    1600 * MS, 3200 * MS, 6400 * MS, 12800 * MS, 25600 * MS,
                                    30 * SEC,  30 * SEC,  30 * SEC};

    (void)state;
    /* The first crash restarts at once, then base, doubling, up to the cap. */
    for (unsigned streak = 0; streak < sizeof(want) / sizeof(want[0]); streak++) {
        uint64_t got = backoff_next_delay(streak, 100 * MS, 30 * SEC);
        if (got != want[streak])
            fail_msg("streak %u: delay %llu, want %llu", streak, (unsigned long long)got,
                     (unsigned long long)want[streak]);
    }
}

static void test_delay_cap_exact(void **state)
{
    (void)state;
    /* Reaching the cap exactly. */
    assert_int_equal(backoff_next_delay(2, 100, 200), 200);
    assert_int_equal(backoff_next_delay(3, 100, 400), 400);
    assert_int_equal(backoff_next_delay(3, 100, 300), 300);
    /* An odd cap: the doubled delay below it is kept, not rounded up to the cap. */
    assert_int_equal(backoff_next_delay(2, 150, 301), 300);
    assert_int_equal(backoff_next_delay(2, 150, 299), 299);
    assert_int_equal(backoff_next_delay(3, 75, 301), 300);
    assert_int_equal(backoff_next_delay(3, 75, 299), 299);
}

static void test_delay_base_over_cap(void **state)
{
    (void)state;
    assert_int_equal(backoff_next_delay(0, 5 * SEC, SEC), 0);
    assert_int_equal(backoff_next_delay(1, 5 * SEC, SEC), SEC);
    assert_int_equal(backoff_next_delay(2, 5 * SEC, SEC), SEC);
    assert_int_equal(backoff_next_delay(1, SEC, SEC), SEC);
    assert_int_equal(backoff_next_delay(2, SEC, SEC), SEC);
}

static void test_delay_zero(void **state)
{
    (void)state;
    /*
     * restart_delay = 0: the first two crashes restart at once; then the
     * doubling starts from 1 ms, so a crash loop still slows down to the cap.
     */
    assert_int_equal(backoff_next_delay(1, 0, 30 * SEC), 0);
    assert_int_equal(backoff_next_delay(2, 0, 30 * SEC), 2 * MS);
    assert_int_equal(backoff_next_delay(5, 0, 30 * SEC), 16 * MS);
    assert_int_equal(backoff_next_delay(100, 0, 30 * SEC), 30 * SEC);
    /* With a zero cap as well, nothing slows it down: the operator asked for that. */
    assert_int_equal(backoff_next_delay(5, 0, 0), 0);
    /* A zero cap wins over the base. */
    assert_int_equal(backoff_next_delay(1, 100, 0), 0);
    assert_int_equal(backoff_next_delay(7, 100, 0), 0);
}

static void test_delay_no_overflow(void **state)
{
    (void)state;
    /* Huge streaks cost nothing and never wrap. */
    assert_int_equal(backoff_next_delay(UINT_MAX, 100 * MS, 30 * SEC), 30 * SEC);
    assert_int_equal(backoff_next_delay(64, 1, UINT64_MAX), 1ULL << 63);
    assert_int_equal(backoff_next_delay(65, 1, UINT64_MAX), UINT64_MAX);
    assert_int_equal(backoff_next_delay(UINT_MAX, 1, UINT64_MAX), UINT64_MAX);
    assert_int_equal(backoff_next_delay(2, (1ULL << 63) + 1, UINT64_MAX), UINT64_MAX);
    assert_int_equal(backoff_next_delay(3, 1ULL << 62, UINT64_MAX), UINT64_MAX);
    assert_int_equal(backoff_next_delay(2, 1ULL << 62, UINT64_MAX), 1ULL << 63);
}

static void test_delay_monotonic(void **state)
{
    static const uint64_t bases[] = {1, 7, 100 * MS, SEC};
    static const uint64_t caps[] = {1, 1000, 30 * SEC, UINT64_MAX};

    (void)state;
    for (size_t b = 0; b < 4; b++) {
        for (size_t c = 0; c < 4; c++) {
            uint64_t prev = 0;
            for (unsigned streak = 0; streak < 80; streak++) {
                uint64_t d = backoff_next_delay(streak, bases[b], caps[c]);
                assert_true(d >= prev);
                assert_true(d <= caps[c]);
                prev = d;
            }
        }
    }
}

/* --- crash window ------------------------------------------------------- */

static void test_window_limit(void **state)
{
    struct crash_window w = {0};

    (void)state;
    crash_window_reset(&w, 3);
    /* Three crashes within the window are allowed, the fourth is one too many. */
    assert_false(crash_window_record(&w, 1 * SEC, 60 * SEC));
    assert_false(crash_window_record(&w, 2 * SEC, 60 * SEC));
    assert_false(crash_window_record(&w, 3 * SEC, 60 * SEC));
    assert_int_equal(crash_window_count(&w, 3 * SEC, 60 * SEC), 3);
    assert_true(crash_window_record(&w, 4 * SEC, 60 * SEC));
    assert_int_equal(crash_window_count(&w, 4 * SEC, 60 * SEC), 4);
    crash_window_free(&w);
}

static void test_window_spread_out(void **state)
{
    struct crash_window w = {0};

    (void)state;
    crash_window_reset(&w, 3);
    /* One crash every 100 s against a 250 s window: never more than 3 inside. */
    for (uint64_t t = 100; t < 2000; t += 100)
        assert_false(crash_window_record(&w, t * SEC, 250 * SEC));
    assert_int_equal(crash_window_count(&w, 1900 * SEC, 250 * SEC), 3);
    /* Then a burst. */
    assert_true(crash_window_record(&w, 1901 * SEC, 250 * SEC));
    crash_window_free(&w);
}

static void test_window_boundary(void **state)
{
    struct crash_window w = {0};

    (void)state;
    crash_window_reset(&w, 1);
    assert_false(crash_window_record(&w, 1000, 10));
    /* Exactly a window later is outside it... */
    assert_false(crash_window_record(&w, 1010, 10));
    assert_int_equal(crash_window_count(&w, 1010, 10), 1);
    /* ...one microsecond less is inside. */
    assert_true(crash_window_record(&w, 1019, 10));
    assert_int_equal(crash_window_count(&w, 1019, 10), 2);
    assert_int_equal(crash_window_count(&w, 1029, 10), 0);
    crash_window_free(&w);
}

static void test_window_no_limit(void **state)
{
    struct crash_window w = {0};

    (void)state;
    crash_window_reset(&w, 0);
    for (uint64_t t = 1; t < 1000; t++)
        assert_false(crash_window_record(&w, t, 60 * SEC));
    assert_int_equal(crash_window_count(&w, 1000, 60 * SEC), 0);
    crash_window_free(&w);
}

static void test_window_reset_forgets(void **state)
{
    struct crash_window w = {0};

    (void)state;
    crash_window_reset(&w, 2);
    assert_false(crash_window_record(&w, 1, 100));
    assert_false(crash_window_record(&w, 2, 100));
    assert_int_equal(crash_window_count(&w, 3, 100), 2);
    crash_window_reset(&w, 2);
    assert_int_equal(crash_window_count(&w, 3, 100), 0);
    assert_false(crash_window_record(&w, 3, 100));
    assert_false(crash_window_record(&w, 4, 100));
    assert_true(crash_window_record(&w, 5, 100));
    /* Resizing to another limit forgets too. */
    crash_window_reset(&w, 5);
    assert_int_equal(w.cap, 6);
    assert_int_equal(crash_window_count(&w, 5, 100), 0);
    crash_window_reset(&w, 0);
    assert_int_equal(w.cap, 0);
    assert_false(crash_window_record(&w, 6, 100));
    crash_window_free(&w);
    crash_window_free(&w); /* twice is harmless */
    assert_null(w.times);
}

static void test_window_ring_wraps(void **state)
{
    struct crash_window w = {0};

    (void)state;
    crash_window_reset(&w, 2);
    /* Many crashes, far apart, then three close together. */
    for (uint64_t t = 1; t <= 10; t++)
        assert_false(crash_window_record(&w, t * 1000, 100));
    assert_int_equal(w.len, 3); /* keeps limit + 1 */
    assert_false(crash_window_record(&w, 20000, 100));
    assert_false(crash_window_record(&w, 20001, 100));
    assert_true(crash_window_record(&w, 20002, 100));
    assert_int_equal(crash_window_count(&w, 20002, 100), 3);
    crash_window_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_sequence),       cmocka_unit_test(test_delay_cap_exact),
        cmocka_unit_test(test_delay_base_over_cap),  cmocka_unit_test(test_delay_zero),
        cmocka_unit_test(test_delay_no_overflow),    cmocka_unit_test(test_delay_monotonic),
        cmocka_unit_test(test_window_limit),         cmocka_unit_test(test_window_spread_out),
        cmocka_unit_test(test_window_boundary),      cmocka_unit_test(test_window_no_limit),
        cmocka_unit_test(test_window_reset_forgets), cmocka_unit_test(test_window_ring_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
