/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for daemon/outbuf.h, the fixed array in front of an evbuffer
 * that a worker's and a client's output use: small adds stay in the array,
 * what does not fit goes to the evbuffer after it, and a write that the
 * fd takes only in part leaves the rest, in order, for the next write.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "outbuf.h"

static void fill(unsigned char *p, size_t n, unsigned char seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static void test_small_adds_stay_in_array(void **state)
{
    unsigned char arr[64], a[40], b[20], c[10];
    struct outbuf o;

    (void)state;
    outbuf_init(&o, arr, sizeof(arr));
    fill(a, sizeof(a), 1);
    fill(b, sizeof(b), 2);
    fill(c, sizeof(c), 3);
    outbuf_add(&o, a, sizeof(a));
    outbuf_add(&o, b, sizeof(b));
    assert_int_equal(o.n, 60);
    assert_int_equal(evbuffer_get_length(o.ev), 0);
    /* Does not fit: to the evbuffer, and from then on everything goes there. */
    outbuf_add(&o, c, sizeof(c));
    assert_int_equal(o.n, 60);
    assert_int_equal(evbuffer_get_length(o.ev), 10);
    outbuf_add(&o, c, 1);
    assert_int_equal(o.n, 60);
    assert_int_equal(outbuf_len(&o), 71);
    outbuf_spill(&o);
    assert_int_equal(o.n, 0);
    assert_int_equal(evbuffer_get_length(o.ev), 71);
    assert_memory_equal(evbuffer_pullup(o.ev, 71), a, sizeof(a));
    assert_memory_equal(evbuffer_pullup(o.ev, 71) + 40, b, sizeof(b));
    assert_memory_equal(evbuffer_pullup(o.ev, 71) + 60, c, sizeof(c));
    outbuf_clear(&o);
    assert_int_equal(outbuf_len(&o), 0);
    evbuffer_free(o.ev);
}

/* A pipe nearly full takes part of a write: the rest goes out later, in order. */
static void test_partial_write_keeps_order(void **state)
{
    static unsigned char arr[8192], want[8500 + 4000], got[sizeof(want)], junk[65536];
    struct outbuf o;
    size_t have = 0, before = 65536 - 4000;
    ssize_t w;
    int p[2];

    (void)state;
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    outbuf_init(&o, arr, sizeof(arr));
    fill(want, sizeof(want), 9);
    outbuf_add(&o, want, 5000);
    outbuf_add(&o, want + 5000, 3000);
    assert_int_equal(o.n, 8000);
    outbuf_add(&o, want + 8000, 500); /* over the array: the evbuffer, after it */
    outbuf_add(&o, want + 8500, 4000);
    assert_int_equal(o.n, 8000);
    assert_int_equal(outbuf_len(&o), sizeof(want));
    assert_int_equal(write(p[1], junk, before), (ssize_t)before);

    w = outbuf_write(&o, p[1]);
    /* Linux takes the few bytes the last pipe page has room for; EAGAIN would do as well. */
    assert_true((w > 0 && (size_t)w < 8000) || (w < 0 && errno == EAGAIN));
    assert_int_equal(outbuf_len(&o), sizeof(want) - (size_t)(w > 0 ? w : 0));
    assert_int_equal(o.n, 0);
    assert_int_equal(read(p[0], junk, before), (ssize_t)before);
    while (have < sizeof(want)) {
        ssize_t r;
        if (outbuf_len(&o) > 0)
            assert_true(outbuf_write(&o, p[1]) > 0);
        r = read(p[0], got + have, sizeof(got) - have);
        assert_true(r > 0);
        have += (size_t)r;
    }
    assert_int_equal(outbuf_len(&o), 0);
    assert_memory_equal(got, want, sizeof(want));
    evbuffer_free(o.ev);
    close(p[0]);
    close(p[1]);
}

/* An array of its own is made at the first add that fits it, never before. */
static void test_own_array_made_at_first_add(void **state)
{
    unsigned char big[100], a[30];
    struct outbuf o;
    int p[2];

    (void)state;
    outbuf_init_own(&o, 64);
    assert_null(o.b);
    assert_int_equal(outbuf_len(&o), 0);
    /* Bigger than the array: the evbuffer takes it, and no array is made for it. */
    fill(big, sizeof(big), 4);
    outbuf_add(&o, big, sizeof(big));
    assert_null(o.b);
    assert_int_equal(evbuffer_get_length(o.ev), sizeof(big));
    outbuf_clear(&o);
    fill(a, sizeof(a), 5);
    outbuf_add(&o, a, sizeof(a));
    assert_non_null(o.b);
    assert_int_equal(o.n, sizeof(a));
    assert_int_equal(pipe(p), 0);
    assert_int_equal(outbuf_write(&o, p[1]), (ssize_t)sizeof(a));
    assert_int_equal(read(p[0], big, sizeof(big)), (ssize_t)sizeof(a));
    assert_memory_equal(big, a, sizeof(a));
    /* Kept for the next pass. */
    assert_non_null(o.b);
    outbuf_free_own(&o);
    assert_null(o.b);
    evbuffer_free(o.ev);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_adds_stay_in_array),
        cmocka_unit_test(test_partial_write_keeps_order),
        cmocka_unit_test(test_own_array_made_at_first_add),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
