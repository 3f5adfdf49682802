/* SPDX-License-Identifier: ISC */
/*
 * Routing work to a pool: the listening socket the daemon owns for a pool
 * with `listen`, and per mode what each worker gets (fd 3 and variables)
 * and how work reaches it. pool.c tells this module about every worker's
 * life; this module never changes a slot's state except through
 * slot_event(SLOT_EV_FAIL) and slot_event(SLOT_EV_RESTART) (recycling).
 */
#ifndef DROVER_ROUTE_H
#define DROVER_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "droverd.h"

/* What a worker about to be spawned gets from the route. */
struct route_spawn {
    int fd3;       /* becomes the worker's fd 3; -1 for none */
    int fd_stdin;  /* work_fd = stdio: requests on stdin ... */
    int fd_stdout; /* ... and replies on stdout; -1 otherwise */
    char *env[4];  /* DROVER_FD=3, LISTEN_FDS=1, LISTEN_PID=..., LISTEN_FDNAMES=... (owned) */
    size_t nenv;
    int keep_fd; /* the daemon's end, kept on success */
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
    /* Request latency histogram (client request read -> reply queued), cumulative. */
    const uint64_t *latency_buckets; /* counts per bound in route_latency_bounds_us */
    size_t nbuckets;
    uint64_t latency_count;
    double latency_sum_s;
};

extern const double route_latency_bounds_s[];
extern const size_t route_latency_nbounds;

struct route *route_new(struct pool *p, char *err, size_t errsz);
void route_free(struct route *r);
/* Settings that apply live (max_queue, timeouts, ...) changed. */
void route_configure(struct route *r, const struct pool_config *pc);
/* Stop taking new work (shutdown or removal); work already taken is finished. */
void route_stop_accepting(struct route *r);

int route_prepare_spawn(struct route *r, struct slot *s, struct route_spawn *rs, char *err,
                        size_t errsz);
void route_after_spawn(struct route *r, struct slot *s, struct route_spawn *rs, bool ok);
void route_slot_state(struct route *r, struct slot *s, enum slot_state from);
void route_slot_exited(struct route *r, struct slot *s);
void route_slot_free(struct route *r, struct slot *s);
/*
 * A STOP or RESTART for a message-mode worker with requests in flight waits
 * until they are answered (true: deferred; the route sends it later). START
 * cancels such a wait.
 */
bool route_slot_defer(struct route *r, struct slot *s, enum slot_event ev);
bool route_slot_draining(const struct route *r, const struct slot *s);

/*
 * Let go of the pool's clients; replies they have not taken yet are still
 * written (shutdown, removal). route_lingering() is true while any are.
 */
void route_release_clients(struct route *r);
bool route_lingering(void);
void route_lingering_free(void);

/* Take the sockets systemd passed, before anything else opens an fd. */
void route_activation_init(void);
/* Close sockets kept for a re-created pool that never came back (exit). */
void route_release_held(void);

/* A socket passed by systemd (LISTEN_FDS) that names no pool of cfg is a start-up error. */
void route_check_activation(const struct config *cfg);

void route_get_stats(const struct route *r, struct route_stats *out);
/* Requests in flight on this slot's worker. */
unsigned route_slot_inflight(const struct route *r, const struct slot *s);
/* Work still held (queued or in flight): shutdown waits for it to drain. */
bool route_busy(const struct route *r);

#endif
