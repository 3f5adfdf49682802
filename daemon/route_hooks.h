/* SPDX-License-Identifier: ISC */
/*
 * What the route layer and the pool that owns it exchange: the callbacks
 * pool.c gives to route_new() (the route never includes pool.h), what a
 * worker about to be spawned gets, and the numbers status and metrics
 * read. Types only; included by route.h and by the route's lower modules.
 */
#ifndef DROVER_ROUTE_HOOKS_H
#define DROVER_ROUTE_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct slot;

struct route_hooks {
    void *pool; /* given back to drained() */
    /* The worker is broken: kill it and count a crash (SLOT_EV_FAIL); why is a static string. */
    void (*fail)(struct slot *s, const char *why);
    /* Recycle the worker (max_requests), or the restart that waited for its requests. */
    void (*restart)(struct slot *s);
    /* The stop that waited for the worker's requests. */
    void (*stop)(struct slot *s);
    /*
     * The route stopped accepting and holds no work any more: the pool may
     * stop its workers. Called in the middle of the route's processing, so
     * the pool acts on it later in the pass, not from inside this call.
     */
    void (*drained)(void *pool);
    /* A request (or handoff connection) of the worker completed (set with memory_recycle). */
    void (*request_done)(struct slot *s);
    /* Client connections every route together may hold (the daemon's fd budget). */
    unsigned (*client_budget)(void);
};

/* What a worker about to be spawned gets from the route. */
struct route_spawn {
    int fd3;       /* becomes the worker's fd 3; -1 for none */
    int fd_stdin;  /* work_fd = stdio: requests on stdin ... */
    int fd_stdout; /* ... and replies on stdout; -1 otherwise */
    char *env[4];  /* DROVER_FD=3, LISTEN_FDS=1, LISTEN_PID=..., LISTEN_FDNAMES=... (owned) */
    size_t nenv;
    int keep_fd; /* the daemon's end, kept on success */
};

/* How the routes' work stands after a loop pass, for the loop's pacing (pace.h). */
struct route_pace {
    bool stocked;     /* work in flight, and in each pool with some every worker that can take work
                         holds two or more */
    uint64_t ran_dry; /* times a worker's last request in flight was answered (since start) */
};

struct route_stats {
    const char *mode;
    const char *listen;
    uint64_t connections; /* open client connections */
    uint64_t accepted;
    uint64_t queued; /* requests waiting for a worker */
    uint64_t inflight;
    uint64_t requests; /* answered by a worker */
    uint64_t retries;
    uint64_t failed; /* FAILED answered to a client */
    uint64_t timeouts;
    uint64_t busy; /* BUSY answered to a client */
    uint64_t bad_frames;
    uint64_t queue_timeouts; /* TIMEOUT answered: no worker took the request within queue_timeout */
    uint64_t abandoned;      /* requests dropped before delivery: their client had gone */
    uint64_t buffered;       /* request and reply bytes the pool's clients hold now */
    bool tls;                /* the listener speaks TLS (tls_cert) */
    uint64_t tls_handshakes, tls_handshake_failures, tls_handshake_timeouts, tls_handshaking;
    uint64_t max_requests_reached; /* workers recycled by max_requests */
    /* Request latency histogram (client request read -> reply queued), cumulative. */
    const uint64_t *latency_buckets; /* counts per bound in route_latency_bounds_s */
    size_t nbuckets;
    uint64_t latency_count;
    double latency_sum_s;
};

extern const double route_latency_bounds_s[];
extern const size_t route_latency_nbounds;
#define ROUTE_LATENCY_NBUCKETS 18

#endif
