/* SPDX-License-Identifier: ISC */
/*
 * memory_recycle: a worker whose memory is over the pool's memory_recycle
 * is recycled gracefully. Checked when one of its requests (or handoff
 * connections) completes, at most once per RECYCLE_REQUEST_GAP_MS per
 * worker, and every RECYCLE_INTERVAL_MS on a timer that exists only for
 * pools that set the key (idle pools without it never wake droverd). The
 * memory compared is the cgroup's memory.current with containment (and the
 * memory controller), else the worker's RSS (usage.h).
 *
 * Why no kernel notification: cgroup v2 reports a memory threshold only
 * through memory.high, which also throttles the cgroup by reclaim once
 * over it, so the requests a recycled worker still has to finish would be
 * slowed; and memory.high is the operator's own limit (memory_high).
 *
 * The pool layer tells this module about its pools and slots; the decision goes
 * back through the hook given to recycle_set_hook(), which retires the
 * worker like max_requests (routed pools) or restarts it with stop_signal
 * (others). Never includes pool.h.
 */
#ifndef DROVER_RECYCLE_H
#define DROVER_RECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#define RECYCLE_INTERVAL_MS    1000
#define RECYCLE_REQUEST_GAP_MS 1

struct pool;
struct slot;

/* recycle(s, why): s's worker is over memory_recycle; why lives as long as s. */
void recycle_set_hook(void (*recycle)(struct slot *s, const char *why));
/* The pool was created or its config changed: arm or drop its timer. */
void recycle_pool_changed(struct pool *p);
/* The pool is being freed. */
void recycle_pool_free(struct pool *p);
/* The slot's state or worker changed: a recycle decided for a worker that is gone is done. */
void recycle_slot_changed(struct slot *s);
void recycle_slot_free(struct slot *s);
/* A request (or connection) of the slot's worker completed. */
void recycle_request_done(struct slot *s);

/* The slot's last memory recycle, for status; NULL when none. */
struct recycle_info {
    const char *why;
    bool pending;       /* decided; the worker still finishes what it holds */
    bool was_last_exit; /* the slot's last exit is that recycle */
    uint64_t at;        /* when it was decided (monotonic, µs) */
};
bool recycle_slot_info(const struct slot *s, struct recycle_info *ri);

#endif
