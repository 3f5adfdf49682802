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
