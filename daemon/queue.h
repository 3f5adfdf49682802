/* SPDX-License-Identifier: ISC */
/*
 * The message-mode request queue: requests waiting for a worker, oldest
 * first, bounded by max_queue, and the bookkeeping of a request's
 * deliveries (attempts, give up after max_attempts). A pure module: no
 * libevent, no system calls, no logging, so tests/unit/test_queue.c walks
 * every case. The router (router*.c) owns the requests; this module only
 * files them and never frees one.
 */
#ifndef DROVER_QUEUE_H
#define DROVER_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"

struct client;
struct evbuffer;

/* Frames up to this size live in the request itself (sizeof(struct request): 248 bytes). */
#define REQUEST_INLINE 144

enum request_state {
    REQ_QUEUED,   /* waiting in a queue for a worker */
    REQ_INFLIGHT, /* sent to a worker, not answered yet */
    REQ_DONE,     /* answered; the reply waits for older ones of its client */
};

struct request {
    TAILQ_ENTRY(request) client_entry; /* in its client's pending list, in arrival order */
    TAILQ_ENTRY(request) entry;        /* in the queue or a worker's in-flight list */
    struct client *client;             /* NULL once the client has gone */
    enum request_state state;
    unsigned attempts; /* deliveries to a worker so far */
    bool timed_out;    /* its last delivery ended in request_timeout */
    uint64_t received_at;
    uint64_t queued_at; /* when it last entered the queue (set by the caller) */
    uint64_t dispatched_at;
    unsigned char *data; /* the frame exactly as a worker receives it */
    size_t len;
    struct evbuffer *reply; /* the client-ready reply, when it cannot be written yet */
    /* A small frame's bytes, held here: data points to them (no allocation, router_reply.c). */
    unsigned char inline_data[REQUEST_INLINE];
};

TAILQ_HEAD(request_list, request);

struct rqueue {
    struct request_list list;
    unsigned n;
};

enum queue_result {
    QUEUE_QUEUED, /* filed at the tail */
    QUEUE_BUSY,   /* max_queue requests already wait: answer BUSY */
};

void queue_init(struct rqueue *q);
bool queue_empty(const struct rqueue *q);
/* A new request waits at the tail, unless max_queue already wait. */
enum queue_result queue_submit(struct rqueue *q, struct request *r, unsigned max_queue);
/* The oldest waiting request, left in the queue; NULL when none waits. */
struct request *queue_first(const struct rqueue *q);
/* Take the oldest waiting request out; NULL when none waits. */
struct request *queue_next(struct rqueue *q);
/* Take a waiting request out wherever it is (its client went away). */
void queue_remove(struct rqueue *q, struct request *r);

/* The request goes to a worker now: count the attempt. */
void queue_mark_dispatched(struct request *r, uint64_t now);
/*
 * Its worker died or timed out. Either it has had max_attempts deliveries
 * (true: the caller answers FAILED or TIMEOUT), or it goes back to the head
 * of the queue, whatever max_queue says, so it is the next one sent.
 * Returning a worker's requests newest first leaves the oldest at the head.
 */
bool queue_give_up(const struct request *r, unsigned max_attempts);
void queue_requeue_front(struct rqueue *q, struct request *r);

/*
 * queue_timeout: the queue is a few retried requests at the head (put back
 * there, newest entries first) and then new ones in the order they came,
 * so the expired ones are found without walking the queue. Take out one
 * that has waited timeout_us or longer at now (NULL: none has).
 */
struct request *queue_take_expired(struct rqueue *q, uint64_t now, uint64_t timeout_us);
/* When the next waiting request expires; 0 when none waits. */
uint64_t queue_next_expiry(const struct rqueue *q, uint64_t timeout_us);

#endif
