/* SPDX-License-Identifier: ISC */
/*
 * What route.c (the front pool.c talks to) shares with the modes below it:
 * struct route, and the operations each mode implements (message_ops in
 * router.c, handoff_ops in handoff.c, shared_ops in route.c). Only those
 * files (and router.c's layers, router_dispatch.c and router_reply.c) read
 * struct route's fields; the modes never call route.c,
 * they reach the pool through r->hooks and the sockets through listen.h
 * and link.h.
 */
#ifndef DROVER_ROUTE_MODE_H
#define DROVER_ROUTE_MODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "choice.h"
#include "link.h"
#include "list.h"
#include "queue.h"
#include "route_hooks.h"

/*
 * The default window of message mode (worker_inflight not set): start at
 * one request per worker; while every worker is busy and requests wait,
 * send the next one to a busy worker (it reads it the moment it is done,
 * without a round trip through droverd) as long as its oldest request has
 * been out less than ROUTE_PREFETCH_MAX_AGE_US, so nothing queues behind
 * a slow request; at most ROUTE_AUTO_INFLIGHT per worker.
 */
#define ROUTE_AUTO_INFLIGHT       16
#define ROUTE_PREFETCH_MAX_AGE_US 1000

struct client;
struct listener;
struct route;

struct route_mode_ops {
    bool workers_accept; /* shared: the workers accept on the socket; no links */
    int accept_flags;    /* for accept4() of connections droverd takes */
    bool defers_stop;    /* STOP/RESTART wait until a worker answered what it holds */
    const struct link_ops *link_ops;
    int (*prepare_spawn)(struct route *r, struct slot *s, struct route_spawn *rs, char *err,
                         size_t errsz);
    /* Room for one more connection (the daemon's fd budget aside). */
    bool (*has_room)(const struct route *r);
    void (*accepted)(struct route *r, int fd);
    /* A worker may take work: what waits goes out, replies are written (NULL: nothing waits). */
    void (*pump)(struct route *r);
    /* The worker is gone: its work is retried, failed or passed on. */
    void (*worker_gone)(struct route *r, struct worker_link *l);
    /* Nothing more is read from clients (NULL: no clients). */
    void (*stop_accepting)(struct route *r);
    /* Let go of clients; replies owed to them linger (NULL: no clients). */
    void (*release_clients)(struct route *r);
    /* Mode-specific numbers on top of the common ones (NULL: none). */
    void (*stats)(const struct route *r, struct route_stats *out);
    /* A reload shortened a timeout: timers armed with the old one are armed again (NULL: none). */
    void (*timeouts_shortened)(struct route *r);
};

struct route {
    const struct route_mode_ops *ops;
    struct route_hooks hooks;
    char *name; /* the pool's, for logs */
    int mode;
    char *listen; /* as configured */
    struct listener *listener;
    struct tls_server *tls; /* tls_cert set: connections are handed over after a handshake */
    bool tls_refused;       /* tls_cert set but unusable: connections are closed, never plain */
    bool accepting;         /* wants new connections and requests */

    /* Settings that apply live (route_configure). */
    int framing;
    size_t max_frame;
    unsigned max_queue;
    uint64_t request_timeout_us;
    unsigned max_attempts;
    uint64_t max_requests;
    bool recycle_memory; /* memory_recycle is set: tell hooks.request_done */
    unsigned worker_inflight;
    /*
     * The adaptive window (message mode, worker_inflight not set): a busy
     * worker is sent more only while its oldest request has been out less
     * than this; 0 = no bound (worker_inflight set: a fixed window).
     */
    uint64_t prefetch_max_age_us;
    bool stdio;
    uint64_t queue_timeout_us; /* 0 = none */
    uint64_t frame_timeout_us; /* a client's unfinished frame, while it is read */
    uint64_t client_buffer;

    struct choice choice;    /* which worker gets the next request or connection */
    struct link_group links; /* the workers' socketpairs */

    /* Message mode (router.c). */
    TAILQ_HEAD(, client) clients;
    unsigned nclients;
    struct rqueue queue;
    TAILQ_HEAD(, client) dirty_clients;
    struct budget budget;   /* bytes the pool's clients hold, against pool_buffer */
    struct event *queue_ev; /* queue_timeout: one lazy timer for the oldest waiting request */
    bool queue_timer_armed;

    uint64_t accepted, requests, retries, failed, timeouts, busy, bad_frames, inflight_total;
    uint64_t queue_timeouts, abandoned;
    TAILQ_ENTRY(route) busy_entry; /* while inflight_total > 0: in router_dispatch.c's busy list */
    uint64_t buckets[ROUTE_LATENCY_NBUCKETS];
    uint64_t latency_count;
    double latency_sum;
};

/* Work still held (queued or in flight). */
static inline bool route_holds_work(const struct route *r)
{
    return r->queue.n > 0 || r->inflight_total > 0;
}

/* A draining route whose work is done lets the pool's workers stop. */
static inline void route_check_drained(struct route *r)
{
    if (!r->accepting && !route_holds_work(r))
        r->hooks.drained(r->hooks.pool);
}

#endif
