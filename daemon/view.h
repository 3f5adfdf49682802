/* SPDX-License-Identifier: ISC */
/*
 * One read-only view of the daemon for whatever shows it: `drover status`
 * (text and JSON) and `drover metrics` fill the same structs through
 * daemon_view_fill(), so both read pools and slots the same way and agree on
 * what "running", a slot's uptime or a pool's route counters mean. Filling a
 * view changes nothing; it is a snapshot of one instant of the loop.
 */
#ifndef DROVER_VIEW_H
#define DROVER_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "droverd.h"
#include "route.h"
#include "slot.h"
#include "recycle.h"
#include "sys.h"
#include "usage.h"

/* One slot as shown. Times are in seconds; < 0 means "none". */
struct slot_view {
    const struct slot *s;
    unsigned index;
    enum slot_state state;
    bool has_usage;          /* CPU and RSS known (only when asked for) */
    struct proc_usage usage; /* CPU: the cgroup's when it has it (usage.h); RSS from /proc */
    struct worker_usage wu;  /* every figure and its source (only when asked for) */
    bool has_recycle;        /* the slot's last memory recycle, in recycle */
    struct recycle_info recycle;
    double cpu_percent; /* of one CPU over the process's life; 0 without usage */
    double cpu_recent;  /* of one CPU since the previous status (<= 10 s); < 0 when unknown */
    double cpu_recent_window_s; /* the window cpu_recent covers */
    double uptime_s;            /* < 0 when no process */
    double exit_ago_s;          /* < 0 when it never exited */
    double next_start_s;        /* < 0 unless in backoff; 0 when the start is due */
    int cpu;                    /* pinned CPU or -1 */
    unsigned inflight;          /* requests at its worker now */
    char last_exit[128];        /* "exit 1, 3s ago" or "-" */
    char info[256];             /* why it is where it is, as the INFO column says it */
    const char *cgroup; /* its cgroup as /proc/PID/cgroup names it; NULL without containment */
};

/* One pool as shown, with its existing slots in index order. */
struct pool_view {
    const struct pool *p;
    unsigned running; /* slots in SLOT_RUNNING */
    unsigned started; /* of those, the ones that count as started (start_grace or READY=1) */
    unsigned by_state[SLOT_STATE__COUNT];
    bool has_route;
    struct route_stats route; /* when has_route */
    bool has_log;
    const char *log_path; /* when has_log */
    uint64_t log_dropped; /* when has_log */
    struct slot_view *slots;
    size_t nslots;
};

/* The pools that are not being removed (all of them, or only one). */
struct daemon_view {
    uint64_t now; /* the monotonic time the view was taken at */
    struct pool_view *pools;
    size_t npools;
    unsigned adopted;             /* processes droverd adopted (reap.c), read at most every 5 s */
    struct slot_view *slot_array; /* every pool's slots, one after another (view.c keeps it) */
};

/* How much of each worker's usage a view reads (usage.h). */
enum view_usage {
    VIEW_USAGE_NONE, /* none: health */
    VIEW_USAGE,      /* memory, CPU and pids (its cgroup's files, or /proc): text status */
    VIEW_USAGE_PEAK, /* and the memory peak, one more /proc file without containment */
};

/*
 * Fill v with every pool not being removed, or with only that one when only
 * is not NULL, each worker's usage read as usage says. Free with
 * daemon_view_free().
 */
void daemon_view_fill(struct daemon_view *v, const struct pool *only, enum view_usage usage);
void daemon_view_free(struct daemon_view *v);

/* Each pool of view dv in order, as const struct pool_view *pv. */
#define view_foreach_pool(dv, pv)                                                                  \
    for (const struct pool_view *pv = (dv)->pools; pv < (dv)->pools + (dv)->npools; pv++)
/*
 * Each slot of each pool in order, as pv and const struct slot_view *sv. Two
 * nested loops: `break` leaves only the current pool's slots.
 */
#define view_foreach_slot(dv, pv, sv)                                                              \
    view_foreach_pool(dv, pv)                                                                      \
        for (const struct slot_view *sv = pv->slots; sv < pv->slots + pv->nslots; sv++)

#endif
