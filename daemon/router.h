/* SPDX-License-Identifier: ISC */
/*
 * Message mode: clients send framed requests (pipelining allowed);
 * requests wait in one bounded FIFO per pool (queue.c) and go to the least
 * loaded worker over its link (link.c). Replies return to each client in
 * the order of its requests. A worker that dies or times out gives its
 * unanswered requests back to the head of the queue, up to max_attempts
 * deliveries each. Owns client connections and requests; reaches the pool
 * only through the route's hooks.
 */
#ifndef DROVER_ROUTER_H
#define DROVER_ROUTER_H

#include "route_mode.h"

extern const struct route_mode_ops message_ops;

/* Client connections of every message-mode pool, against the daemon's fd budget. */
unsigned router_clients_total(void);
/*
 * For the loop's pacing (pace.h), in router_dispatch.c, which keeps the
 * message-mode routes with requests in flight: whether each has every
 * worker stocked, and how many replies left their worker with nothing.
 */
void router_pace(struct route_pace *v);
/*
 * The route is about to be freed: out of router_pace's sight. Its slots go
 * first and give back what they held (worker_gone), so nothing should be
 * in flight by then; this keeps the list sound if that order ever changes.
 */
void router_forget(struct route *r);

#endif
