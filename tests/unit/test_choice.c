/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for daemon/choice.c: which worker gets the next request. Least
 * loaded first, round robin among equals, never past capacity; listing,
 * unlisting, releasing and changing the capacity keep that true.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "choice.h"

#define N 4

struct fixture {
    struct choice c;
    struct choice_node node[N];
};

static struct fixture fx;

/* Capacity cap, nodes 0..listed-1 listed in order. */
static void init(unsigned cap, unsigned listed)
{
    memset(&fx, 0, sizeof(fx));
    choice_init(&fx.c, cap);
    for (unsigned i = 0; i < listed; i++)
        choice_list(&fx.c, &fx.node[i]);
}

static int teardown(void **state)
{
    (void)state;
    choice_free(&fx.c);
    return 0;
}

/* Index of the node taken, or -1 for none. */
static int take(void)
{
    struct choice_node *n = choice_take(&fx.c);

    if (n == NULL)
        return -1;
    assert_true(n >= fx.node && n < fx.node + N);
    return (int)(n - fx.node);
}

static void release(int i)
{
    choice_release(&fx.c, &fx.node[i]);
}

/* choice_take_if: busy nodes only where the predicate allows; idle ones always. */
static bool not_node1(struct choice_node *n, void *arg)
{
    (void)arg;
    return n != &fx.node[1];
}

static int take_if(void)
{
    struct choice_node *n = choice_take_if(&fx.c, not_node1, NULL);

    return n == NULL ? -1 : (int)(n - fx.node);
}

static void test_take_if(void **state)
{
    (void)state;
    init(4, 2);
    /* Idle nodes are taken whatever the predicate says. */
    assert_int_equal(take_if(), 0);
    assert_int_equal(take_if(), 1);
    /* Both busy: node 1 is refused, so node 0 takes more, up to capacity. */
    assert_int_equal(take_if(), 0);
    assert_int_equal(take_if(), 0);
    assert_int_equal(take_if(), 0);
    assert_int_equal(fx.node[0].load, 4);
    assert_int_equal(fx.node[1].load, 1);
    assert_int_equal(take_if(), -1);
    /* Plain choice_take still gives node 1 its share. */
    assert_int_equal(take(), 1);
    /* Released to idle, node 1 is taken again by choice_take_if. */
    release(1);
    release(1);
    assert_int_equal(take_if(), 1);
}

static void test_round_robin(void **state)
{
    (void)state;
    init(1, 3);
    assert_int_equal(fx.c.available, 3);
    /* Equals are served in the order they became available. */
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), 2);
    assert_int_equal(fx.node[0].load, 1);
    assert_int_equal(fx.node[1].load, 1);
    assert_int_equal(fx.node[2].load, 1);
    /* All at capacity: nobody. */
    assert_int_equal(take(), -1);
    assert_int_equal(take(), -1);
    /* The one that finished first is next. */
    release(1);
    assert_int_equal(fx.node[1].load, 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), -1);
}

static void test_round_robin_pipelined(void **state)
{
    (void)state;
    init(2, 3);
    /* Everyone gets one before anyone gets two. */
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), 2);
    assert_int_equal(take(), -1);
    assert_int_equal(fx.node[0].load, 2);
    release(2);
    release(0);
    /* Both at load 1 now; 2 finished first, so 2 waited longest. */
    assert_int_equal(take(), 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), -1);
}

static void test_least_loaded(void **state)
{
    (void)state;
    init(3, 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), 0); /* both at 1: 0 waited longest */
    assert_int_equal(fx.node[0].load, 2);
    release(1);                  /* 1 back to 0 */
    assert_int_equal(take(), 1); /* least loaded wins over earlier listing */
    assert_int_equal(take(), 1); /* 1 at 1, 0 at 2 */
    assert_int_equal(take(), 0); /* both at 2 now; 0 got there first */
    assert_int_equal(take(), 1);
    assert_int_equal(take(), -1);
    assert_int_equal(fx.node[0].load, 3);
    assert_int_equal(fx.node[1].load, 3);
}

static void test_fifo_after_release(void **state)
{
    (void)state;
    init(2, 3);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), 2);
    /* Released in the order 2, 0, 1: that is the order they get work again. */
    release(2);
    release(0);
    release(1);
    assert_int_equal(take(), 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
}

static void test_unlist(void **state)
{
    (void)state;
    init(1, 3);
    choice_unlist(&fx.c, &fx.node[0]);
    assert_false(fx.node[0].listed);
    assert_int_equal(fx.c.available, 2);
    /* An unlisted node is never picked. */
    assert_int_equal(take(), 1);
    assert_int_equal(take(), 2);
    assert_int_equal(take(), -1);
    /* Unlisting twice changes nothing. */
    choice_unlist(&fx.c, &fx.node[0]);
    assert_int_equal(fx.c.available, 2);
    /* Listed again, it is filed at its load and picked. */
    choice_list(&fx.c, &fx.node[0]);
    assert_true(fx.node[0].listed);
    assert_int_equal(fx.c.available, 3);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), -1);
}

static void test_list_twice(void **state)
{
    (void)state;
    init(1, 2);
    /* Listing a listed node must not file it a second time. */
    choice_list(&fx.c, &fx.node[0]);
    assert_int_equal(fx.c.available, 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), -1);
}

static void test_unlist_busy(void **state)
{
    (void)state;
    init(1, 2);
    assert_int_equal(take(), 0); /* 0 at capacity: not filed */
    choice_unlist(&fx.c, &fx.node[0]);
    assert_int_equal(fx.c.available, 1);
    /* Its work finishes while it is unlisted (draining): the load still drops. */
    release(0);
    assert_int_equal(fx.node[0].load, 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), -1); /* 0 is still unlisted */
    choice_list(&fx.c, &fx.node[0]);
    assert_int_equal(take(), 0);
}

static void test_unlist_partially_loaded(void **state)
{
    (void)state;
    init(3, 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), 0);       /* 0 at load 2 */
    choice_unlist(&fx.c, &fx.node[0]); /* removed from level 2 */
    assert_int_equal(take(), 1);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), -1);
    choice_list(&fx.c, &fx.node[0]); /* back at level 2 */
    assert_int_equal(take(), 0);
    assert_int_equal(take(), -1);
}

static void test_release_at_zero(void **state)
{
    (void)state;
    init(2, 2);
    /* A stray release must not wrap the load around. */
    release(0);
    assert_int_equal(fx.node[0].load, 0);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), -1);
}

static void test_none_listed(void **state)
{
    (void)state;
    init(4, 0);
    assert_int_equal(fx.c.available, 0);
    assert_int_equal(take(), -1);
}

static void test_zero_capacity(void **state)
{
    (void)state;
    init(0, 2);
    assert_int_equal(fx.c.available, 2);
    assert_int_equal(take(), -1);
    release(0);
    choice_unlist(&fx.c, &fx.node[0]);
    assert_int_equal(fx.c.available, 1);
}

static void test_set_capacity_grow(void **state)
{
    struct choice_node *nodes[N + 1];

    (void)state;
    init(1, 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), -1);
    for (int i = 0; i < N; i++)
        nodes[i] = &fx.node[i];
    nodes[N] = NULL; /* a hole in the slot array is skipped */
    choice_set_capacity(&fx.c, 2, nodes, N + 1);
    assert_int_equal(fx.c.capacity, 2);
    assert_int_equal(fx.c.available, 2);
    /* Room for one more each; unlisted nodes 2 and 3 stay out. */
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), -1);
}

static void test_set_capacity_shrink(void **state)
{
    struct choice_node *nodes[N];

    (void)state;
    init(3, 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), 0); /* 0 at 2, 1 at 1 */
    for (int i = 0; i < N; i++)
        nodes[i] = &fx.node[i];
    choice_set_capacity(&fx.c, 1, nodes, N);
    /* Both are at or past the new capacity. */
    assert_int_equal(take(), -1);
    release(1);
    assert_int_equal(take(), 1);
    assert_int_equal(take(), -1);
    /* 0 must finish two requests before it gets another. */
    release(0);
    assert_int_equal(fx.node[0].load, 1);
    assert_int_equal(take(), -1);
    release(0);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), -1);
}

static void test_set_capacity_keeps_unlisted_out(void **state)
{
    struct choice_node *nodes[N];

    (void)state;
    init(1, 3);
    choice_unlist(&fx.c, &fx.node[1]);
    for (int i = 0; i < N; i++)
        nodes[i] = &fx.node[i];
    choice_set_capacity(&fx.c, 2, nodes, N);
    assert_int_equal(fx.c.available, 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 2);
    assert_int_equal(take(), -1);
    assert_int_equal(fx.node[1].load, 0);
}

/* choice_all_loaded: every listed node at the load or more; unlisted ones do not count. */
static void test_all_loaded(void **state)
{
    (void)state;
    init(4, 0);
    assert_false(choice_all_loaded(&fx.c, 2)); /* nothing listed */
    choice_free(&fx.c);

    init(4, 2);
    assert_false(choice_all_loaded(&fx.c, 2)); /* both idle */
    assert_true(choice_all_loaded(&fx.c, 0));
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_false(choice_all_loaded(&fx.c, 2)); /* one each */
    assert_true(choice_all_loaded(&fx.c, 1));
    assert_int_equal(take(), 0);
    assert_false(choice_all_loaded(&fx.c, 2)); /* node 1 still at one */
    assert_int_equal(take(), 1);
    assert_true(choice_all_loaded(&fx.c, 2)); /* two each */
    assert_false(choice_all_loaded(&fx.c, 3));
    /* An idle node that is not listed (retiring) does not count; once listed it does. */
    choice_list(&fx.c, &fx.node[2]);
    assert_false(choice_all_loaded(&fx.c, 2));
    choice_unlist(&fx.c, &fx.node[2]);
    assert_true(choice_all_loaded(&fx.c, 2));
    /* A release takes node 0 back under. */
    release(0);
    assert_false(choice_all_loaded(&fx.c, 2));
    choice_free(&fx.c);

    /* At the capacity a node is not filed: loaded enough when the load asked is within it, */
    init(2, 2);
    for (int i = 0; i < 4; i++)
        assert_true(take() >= 0);
    assert_int_equal(take(), -1);
    assert_true(choice_all_loaded(&fx.c, 2));
    /* and unknown (false) when the load asked is over the capacity. */
    assert_false(choice_all_loaded(&fx.c, 3));
    choice_free(&fx.c);
    init(1, 2);
    assert_int_equal(take(), 0);
    assert_int_equal(take(), 1);
    assert_true(choice_all_loaded(&fx.c, 1));
    assert_false(choice_all_loaded(&fx.c, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_round_robin, teardown),
        cmocka_unit_test_teardown(test_round_robin_pipelined, teardown),
        cmocka_unit_test_teardown(test_least_loaded, teardown),
        cmocka_unit_test_teardown(test_fifo_after_release, teardown),
        cmocka_unit_test_teardown(test_unlist, teardown),
        cmocka_unit_test_teardown(test_list_twice, teardown),
        cmocka_unit_test_teardown(test_unlist_busy, teardown),
        cmocka_unit_test_teardown(test_unlist_partially_loaded, teardown),
        cmocka_unit_test_teardown(test_release_at_zero, teardown),
        cmocka_unit_test_teardown(test_none_listed, teardown),
        cmocka_unit_test_teardown(test_zero_capacity, teardown),
        cmocka_unit_test_teardown(test_set_capacity_grow, teardown),
        cmocka_unit_test_teardown(test_set_capacity_shrink, teardown),
        cmocka_unit_test_teardown(test_set_capacity_keeps_unlisted_out, teardown),
        cmocka_unit_test_teardown(test_take_if, teardown),
        cmocka_unit_test_teardown(test_all_loaded, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
