/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for daemon/queue.c, the message-mode request queue, case by
 * case in the manner of test_slot.c: an empty queue; submitting in order;
 * BUSY at max_queue (and max_queue 0); taking the oldest; removing from the
 * head, the middle and the tail; a delivery counted; giving up after
 * max_attempts; a retry put back at the head, past max_queue, and a dead
 * worker's requests put back in their original order ahead of the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "queue.h"

#define NREQ 8
#define T0   1000000ULL /* an arbitrary, non-zero time in microseconds */

static struct rqueue q;
static struct request req[NREQ];

static int setup(void **state)
{
    (void)state;
    memset(req, 0, sizeof(req));
    queue_init(&q);
    return 0;
}

/* The queue holds exactly these requests, in this order (n of them). */
static void queue_is(const int *want, unsigned n)
{
    struct request *r;
    unsigned i = 0;

    assert_int_equal(q.n, n);
    assert_int_equal(queue_empty(&q), n == 0);
    TAILQ_FOREACH(r, &q.list, entry) {
        if (i >= n)
            fail_msg("more than %u requests in the queue", n);
        if (r != &req[want[i]])
            fail_msg("position %u holds request %d, want %d", i, (int)(r - req), want[i]);
        assert_int_equal(r->state, REQ_QUEUED);
        i++;
    }
    assert_int_equal(i, n);
}

static void submit_ok(int i, unsigned max_queue)
{
    assert_int_equal(queue_submit(&q, &req[i], max_queue), QUEUE_QUEUED);
}

/* --- an empty queue ------------------------------------------------------ */

static void test_empty(void **state)
{
    (void)state;
    queue_is(NULL, 0);
    assert_null(queue_first(&q));
    assert_null(queue_next(&q));
    assert_int_equal(q.n, 0); /* taking from an empty queue changes nothing */
}

/* --- submitting ---------------------------------------------------------- */

static void test_submit_in_order(void **state)
{
    (void)state;
    submit_ok(0, 10);
    submit_ok(1, 10);
    submit_ok(2, 10);
    queue_is((int[]){0, 1, 2}, 3);
}

static void test_submit_sets_queued(void **state)
{
    (void)state;
    req[0].state = REQ_DONE; /* whatever it was, it is waiting now */
    submit_ok(0, 1);
    assert_int_equal(req[0].state, REQ_QUEUED);
}

static void test_busy_at_max_queue(void **state)
{
    (void)state;
    submit_ok(0, 2);
    submit_ok(1, 2);
    req[2].state = REQ_DONE;
    assert_int_equal(queue_submit(&q, &req[2], 2), QUEUE_BUSY);
    /* A BUSY request is not filed and not touched: the router answers it. */
    assert_int_equal(req[2].state, REQ_DONE);
    queue_is((int[]){0, 1}, 2);
}

static void test_busy_then_room_again(void **state)
{
    (void)state;
    submit_ok(0, 1);
    assert_int_equal(queue_submit(&q, &req[1], 1), QUEUE_BUSY);
    assert_ptr_equal(queue_next(&q), &req[0]);
    submit_ok(1, 1);
    queue_is((int[]){1}, 1);
}

static void test_max_queue_zero_is_always_busy(void **state)
{
    (void)state;
    assert_int_equal(queue_submit(&q, &req[0], 0), QUEUE_BUSY);
    queue_is(NULL, 0);
}

/* A smaller max_queue after a reload: what waits stays, nothing new gets in. */
static void test_max_queue_lowered(void **state)
{
    (void)state;
    submit_ok(0, 10);
    submit_ok(1, 10);
    submit_ok(2, 10);
    assert_int_equal(queue_submit(&q, &req[3], 2), QUEUE_BUSY);
    queue_is((int[]){0, 1, 2}, 3);
}

/* --- taking -------------------------------------------------------------- */

static void test_first_leaves_it(void **state)
{
    (void)state;
    submit_ok(0, 10);
    submit_ok(1, 10);
    assert_ptr_equal(queue_first(&q), &req[0]);
    assert_ptr_equal(queue_first(&q), &req[0]);
    queue_is((int[]){0, 1}, 2);
}

static void test_next_oldest_first(void **state)
{
    (void)state;
    submit_ok(0, 10);
    submit_ok(1, 10);
    submit_ok(2, 10);
    assert_ptr_equal(queue_next(&q), &req[0]);
    queue_is((int[]){1, 2}, 2);
    assert_ptr_equal(queue_next(&q), &req[1]);
    assert_ptr_equal(queue_next(&q), &req[2]);
    assert_null(queue_next(&q));
    queue_is(NULL, 0);
}

static void test_remove_head_middle_tail(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        submit_ok(i, 10);
    queue_remove(&q, &req[2]); /* middle */
    queue_is((int[]){0, 1, 3, 4}, 4);
    queue_remove(&q, &req[0]); /* head */
    queue_is((int[]){1, 3, 4}, 3);
    queue_remove(&q, &req[4]); /* tail */
    queue_is((int[]){1, 3}, 2);
    queue_remove(&q, &req[1]);
    queue_remove(&q, &req[3]);
    queue_is(NULL, 0);
}

/* --- deliveries ---------------------------------------------------------- */

static void test_mark_dispatched(void **state)
{
    (void)state;
    req[0].timed_out = true; /* the last delivery timed out ... */
    queue_mark_dispatched(&req[0], T0);
    assert_int_equal(req[0].state, REQ_INFLIGHT);
    assert_int_equal(req[0].attempts, 1);
    assert_false(req[0].timed_out); /* ... this one has not yet */
    assert_int_equal(req[0].dispatched_at, T0);
    queue_mark_dispatched(&req[0], T0 + 5);
    assert_int_equal(req[0].attempts, 2);
    assert_int_equal(req[0].dispatched_at, T0 + 5);
}

static void test_give_up(void **state)
{
    (void)state;
    /* max_attempts 3: retried after the first and second delivery, not after the third. */
    assert_false(queue_give_up(&req[0], 3)); /* never delivered */
    queue_mark_dispatched(&req[0], T0);
    assert_false(queue_give_up(&req[0], 3));
    queue_mark_dispatched(&req[0], T0);
    assert_false(queue_give_up(&req[0], 3));
    queue_mark_dispatched(&req[0], T0);
    assert_true(queue_give_up(&req[0], 3));
    /* Lowered by a reload below the attempts already made: give up too. */
    assert_true(queue_give_up(&req[0], 2));
}

static void test_give_up_max_attempts_one(void **state)
{
    (void)state;
    queue_mark_dispatched(&req[0], T0);
    assert_true(queue_give_up(&req[0], 1));
}

/* --- retries ------------------------------------------------------------- */

static void test_requeue_into_empty(void **state)
{
    (void)state;
    queue_mark_dispatched(&req[0], T0);
    queue_requeue_front(&q, &req[0]);
    queue_is((int[]){0}, 1);
    assert_int_equal(req[0].attempts, 1); /* the count is kept for the next give_up */
}

static void test_requeue_goes_first(void **state)
{
    (void)state;
    submit_ok(1, 10);
    submit_ok(2, 10);
    queue_mark_dispatched(&req[0], T0);
    queue_requeue_front(&q, &req[0]);
    queue_is((int[]){0, 1, 2}, 3);
    assert_ptr_equal(queue_next(&q), &req[0]);
}

/* A retry is never BUSY: it was admitted once, and max_queue only limits new requests. */
static void test_requeue_past_max_queue(void **state)
{
    (void)state;
    submit_ok(1, 2);
    submit_ok(2, 2);
    queue_requeue_front(&q, &req[0]);
    queue_is((int[]){0, 1, 2}, 3);
    assert_int_equal(queue_submit(&q, &req[3], 2), QUEUE_BUSY);
}

/*
 * A worker died with three requests in flight (oldest first: 0, 1, 2) while
 * 3 and 4 waited. Given back newest first, each at the head, they go out
 * again in their original order, before the ones that waited.
 */
static void test_dead_worker_order(void **state)
{
    (void)state;
    submit_ok(3, 10);
    submit_ok(4, 10);
    for (int i = 2; i >= 0; i--) {
        queue_mark_dispatched(&req[i], T0);
        queue_requeue_front(&q, &req[i]);
    }
    queue_is((int[]){0, 1, 2, 3, 4}, 5);
}

/* One request through a worker that keeps dying, max_attempts 2. */
static void test_retry_story(void **state)
{
    struct request *r;

    (void)state;
    submit_ok(0, 10);
    r = queue_next(&q);
    queue_mark_dispatched(r, T0);
    /* The worker died: one attempt of two, so it goes back. */
    assert_false(queue_give_up(r, 2));
    queue_requeue_front(&q, r);
    queue_is((int[]){0}, 1);
    r = queue_next(&q);
    queue_mark_dispatched(r, T0 + 10);
    /* Died again: two attempts of two; the router answers FAILED. */
    assert_true(queue_give_up(r, 2));
    queue_is(NULL, 0);
}

/* queue_timeout: nothing waits, so nothing expires and no timer is due. */
static void test_expiry_empty(void **state)
{
    (void)state;
    assert_null(queue_take_expired(&q, T0, 10));
    assert_int_equal(queue_next_expiry(&q, 10), 0);
}

/* New requests expire oldest first; the younger ones stay, in order. */
static void test_expiry_in_arrival_order(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        req[i].queued_at = T0 + (uint64_t)i * 100;
        queue_submit(&q, &req[i], 10);
    }
    assert_int_equal(queue_next_expiry(&q, 1000), T0 + 1000);
    assert_null(queue_take_expired(&q, T0 + 999, 1000));
    assert_ptr_equal(queue_take_expired(&q, T0 + 1100, 1000), &req[0]);
    assert_ptr_equal(queue_take_expired(&q, T0 + 1100, 1000), &req[1]);
    assert_null(queue_take_expired(&q, T0 + 1100, 1000));
    assert_int_equal(queue_next_expiry(&q, 1000), T0 + 1200);
    queue_is((const int[]){2}, 1);
}

/*
 * Retried requests at the head entered the queue last: one that has not
 * expired does not hide an expired new request behind it, and the next
 * expiry is the earliest of them all.
 */
static void test_expiry_retried_head(void **state)
{
    (void)state;
    req[0].queued_at = T0;
    queue_submit(&q, &req[0], 10);
    req[1].queued_at = T0 + 100;
    queue_submit(&q, &req[1], 10);
    queue_mark_dispatched(&req[2], T0);
    req[2].queued_at = T0 + 900;
    queue_requeue_front(&q, &req[2]);
    queue_is((const int[]){2, 0, 1}, 3);
    assert_int_equal(queue_next_expiry(&q, 1000), T0 + 1000);
    assert_ptr_equal(queue_take_expired(&q, T0 + 1000, 1000), &req[0]);
    assert_null(queue_take_expired(&q, T0 + 1000, 1000));
    assert_int_equal(queue_next_expiry(&q, 1000), T0 + 1100);
    assert_ptr_equal(queue_take_expired(&q, T0 + 1900, 1000), &req[2]);
    assert_ptr_equal(queue_take_expired(&q, T0 + 1900, 1000), &req[1]);
    queue_is(NULL, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
    const struct CMUnitTest tests[] = {
        T(test_empty),
        T(test_submit_in_order),
        T(test_submit_sets_queued),
        T(test_busy_at_max_queue),
        T(test_busy_then_room_again),
        T(test_max_queue_zero_is_always_busy),
        T(test_max_queue_lowered),
        T(test_first_leaves_it),
        T(test_next_oldest_first),
        T(test_remove_head_middle_tail),
        T(test_mark_dispatched),
        T(test_give_up),
        T(test_give_up_max_attempts_one),
        T(test_requeue_into_empty),
        T(test_requeue_goes_first),
        T(test_requeue_past_max_queue),
        T(test_dead_worker_order),
        T(test_retry_story),
        T(test_expiry_empty),
        T(test_expiry_in_arrival_order),
        T(test_expiry_retried_head),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
