/* SPDX-License-Identifier: ISC */
/*
 * The recent state changes of droverd's worker slots (and a few pool-wide
 * ones: reload applied, rollout halted), for `drover events [-f]`.
 *
 * A fixed ring of EVENTS_RING entries, allocated once (static): recording an
 * event never allocates; the oldest is overwritten. Followers (`events -f`)
 * get each new event as it is recorded; one that does not take its bytes
 * (more than EVENTS_MAX_BEHIND queued, or its fair share while droverd's
 * control output is at CONTROL_OUTPUT_LIMIT) is skipped, and told how many
 * events it missed (a marker) once it has caught up.
 */
#ifndef DROVER_EVENTS_H
#define DROVER_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define EVENTS_RING       1024       /* events kept; documented in docs/events-json.md */
#define EVENTS_MAX_BEHIND (64 << 10) /* bytes a follower may leave unread before events drop */

struct evbuffer;
struct control_client;

/* Why a slot changed state; the name each has in the output is events_cause_name(). */
enum event_cause {
    EVC_START,      /* operator start, start-up, scale up */
    EVC_STOP,       /* operator stop or scale down */
    EVC_RESTART,    /* operator restart */
    EVC_SHUTDOWN,   /* droverd is shutting down */
    EVC_SPAWNED,    /* forked (out of backoff, or a restart) */
    EVC_READY,      /* counts as exec'd / READY=1 */
    EVC_EXITED,     /* the worker exited (status or signal in the detail) */
    EVC_BACKOFF,    /* an unexpected exit: restart after a delay */
    EVC_FATAL,      /* past crash_limit: not restarted */
    EVC_FAILED,     /* droverd judged it broken (watchdog, check, request timeout, start timeout) */
    EVC_SPAWN_FAIL, /* fork or exec failed */
    EVC_RECYCLED,   /* max_requests reached */
    EVC_RELOAD,     /* a rolling restart of a reload, or the reload itself (pool-wide) */
    EVC_HALTED,     /* a rollout halted (pool-wide) */
    EVC_OOM,        /* killed by the kernel's OOM killer in its cgroup (memory.events oom_kill) */
    EVC__COUNT
};

const char *events_cause_name(enum event_cause c);

/*
 * Record one change. slot -1 for a pool-wide event (old/new_state NULL).
 * detail: "exit 1", "killed by KILL", "restart in 200ms", or NULL; copied
 * (cut at a fixed size).
 */
void events_record(const char *pool, long slot, pid_t pid, const char *old_state,
                   const char *new_state, enum event_cause cause, const char *detail);

/* The events kept, oldest first, of one pool (NULL: all), as text lines or JSON lines. */
void events_format_recent(struct evbuffer *out, const char *pool, bool json);

/* Stream every new event of pool (NULL: all) to the client until it leaves. */
void events_follow(struct control_client *c, const char *pool, bool json);

/* droverd is stopping: end every follower with exit 0 (before control_farewell). */
void events_close(void);

/* For tests and status: events recorded since start, and events dropped for slow followers. */
uint64_t events_recorded(void);
uint64_t events_dropped(void);

#endif
