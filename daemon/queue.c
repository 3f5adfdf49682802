/* SPDX-License-Identifier: ISC */
/*
 * The message-mode request queue (see queue.h). Pure: lists and counters.
 */
#include "queue.h"

void queue_init(struct rqueue *q)
{
    TAILQ_INIT(&q->list);
    q->n = 0;
}

bool queue_empty(const struct rqueue *q)
{
    return TAILQ_EMPTY(&q->list);
}

enum queue_result queue_submit(struct rqueue *q, struct request *r, unsigned max_queue)
{
    if (q->n >= max_queue)
        return QUEUE_BUSY;
    r->state = REQ_QUEUED;
    TAILQ_INSERT_TAIL(&q->list, r, entry);
    q->n++;
    return QUEUE_QUEUED;
}

struct request *queue_first(const struct rqueue *q)
{
    return TAILQ_FIRST(&q->list);
}

struct request *queue_next(struct rqueue *q)
{
    struct request *r = TAILQ_FIRST(&q->list);

    if (r != NULL)
        queue_remove(q, r);
    return r;
}

void queue_remove(struct rqueue *q, struct request *r)
{
    TAILQ_REMOVE(&q->list, r, entry);
    q->n--;
}

void queue_mark_dispatched(struct request *r, uint64_t now)
{
    r->state = REQ_INFLIGHT;
    r->attempts++;
    r->timed_out = false;
    r->dispatched_at = now;
}

bool queue_give_up(const struct request *r, unsigned max_attempts)
{
    return r->attempts >= max_attempts;
}

void queue_requeue_front(struct rqueue *q, struct request *r)
{
    r->state = REQ_QUEUED;
    TAILQ_INSERT_HEAD(&q->list, r, entry);
    q->n++;
}

struct request *queue_take_expired(struct rqueue *q, uint64_t now, uint64_t timeout_us)
{
    struct request *r;

    TAILQ_FOREACH(r, &q->list, entry) {
        if (now - r->queued_at >= timeout_us) {
            queue_remove(q, r);
            return r;
        }
        if (r->attempts == 0)
            break; /* new requests wait in arrival order: the rest are younger */
    }
    return NULL;
}

uint64_t queue_next_expiry(const struct rqueue *q, uint64_t timeout_us)
{
    const struct request *r;
    uint64_t next = 0;

    TAILQ_FOREACH(r, &q->list, entry) {
        if (next == 0 || r->queued_at + timeout_us < next)
            next = r->queued_at + timeout_us;
        if (r->attempts == 0)
            break;
    }
    return next;
}
