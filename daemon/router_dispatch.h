/* SPDX-License-Identifier: ISC */
/*
 * Message mode, middle layer: requests to workers and replies back.
 * Owns the path of a request after its client sent it: router_submit (to a
 * worker now, to the queue, or BUSY at max_queue), the adaptive in-flight
 * window (router_take), the queue_timeout timer's arming and expiry, the
 * worker's in-flight list, its replies decoded in order, request_timeout,
 * and a dead worker's requests retried at the head of the queue or failed
 * past max_attempts. Touches struct route's queue, choice, counters and
 * the workers' links (link.c); answers through router_reply.c. Never
 * writes to a client and never calls router.c: the callers (router.c's
 * callbacks) flush clients after these return.
 */
#ifndef DROVER_ROUTER_DISPATCH_H
#define DROVER_ROUTER_DISPATCH_H

#include <stdbool.h>

#include "queue.h"
#include "route_mode.h"

/*
 * A new request from a client: to a worker now, to the queue, or BUSY.
 * The queue_timeout timer is r->queue_ev, created by router.c with its
 * first client (no request exists before).
 */
void router_submit(struct route *r, struct request *q);
/* Queued requests go to workers with room, oldest first; what still waits gets its timer. */
void router_dispatch_pump(struct route *r);
/*
 * request_timeout or queue_timeout was shortened: the workers' timers and
 * the queue's, armed with the old value, are armed for what is left now.
 */
void router_timers_rearm(struct route *r);
/* queue_timeout's timer fired: answer what expired, re-arm. False: queue_timeout is off. */
bool router_queue_expire(struct route *r);
/*
 * The worker's socket was read (its bytes at data, or in l->in when data
 * is NULL: see link_ops.readable): replies, then more work for it.
 */
void router_replies_readable(struct route *r, struct worker_link *l, const unsigned char *data,
                             size_t n);
/* The worker's request timer fired. True when a request timed out (clients to flush). */
bool router_link_timed_out(struct route *r, struct worker_link *l);
/* The worker is gone: its unanswered requests go back to the head of the queue, or fail. */
void router_worker_gone(struct route *r, struct worker_link *l);

#endif
