/* SPDX-License-Identifier: ISC */
/*
 * A worker's link: the daemon's end of the socketpair that is the worker's
 * fd 3 (or stdin and stdout), with its read and write buffers, the batching
 * of writes to once per loop pass, the lazy request timer, the grace given
 * to a worker that closed its end, and the STOP/RESTART held back until
 * the worker has answered what it holds. The links of one route form a
 * link_group; what the bytes mean (replies, "done" bytes) is the owner's
 * business, told through struct link_ops. Changes a slot only through the
 * route hooks (fail, restart, stop); knows nothing of pools or clients.
 */
#ifndef DROVER_LINK_H
#define DROVER_LINK_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "choice.h"
#include "list.h"
#include "outbuf.h"
#include "queue.h"
#include "route_hooks.h"
#include "scratch.h"
#include "slot.h"

struct evbuffer;
struct worker_link;

/*
 * A pass's requests for a worker up to this size go out without an
 * evbuffer chain (outbuf.h): a few passes of 4 KiB requests (16 clients:
 * 4844 -> 4371 instructions per request against 4 KiB; bench/RESULTS.md).
 */
#define LINK_OUTBUF 32768

/* What a link's owner (router.c, handoff.c) is told. */
struct link_ops {
    /*
     * New bytes from the worker: the n bytes at data when l->in was empty
     * (valid until the next read; what the owner leaves it must add to
     * l->in), or, data NULL, appended to l->in.
     */
    void (*readable)(void *owner, struct worker_link *l, const unsigned char *data, size_t n);
    /* The socketpair takes more after a write that did not finish. */
    void (*writable)(struct worker_link *l);
    /* The timer armed with link_arm_timeout() fired (NULL: never armed). */
    void (*timeout)(void *owner, struct worker_link *l);
    /* The end of a loop pass: every worker's batch went out (NULL: nothing to do). */
    void (*flushed)(void *owner);
};

struct link_group {
    const char *name; /* the pool's, for logs */
    const struct route_hooks *hooks;
    const struct link_ops *ops;
    void *owner; /* given back to ops */
    struct choice *choice;
    TAILQ_HEAD(, worker_link) links; /* every link, in the order of their slots' first spawn */
    TAILQ_HEAD(, worker_link) dirty; /* with output for the end of the pass */
    struct event *flush_ev;
    uint64_t max_requests_reached; /* workers retired by max_requests */
};

struct worker_link {
    struct link_group *group;
    struct slot *slot;
    TAILQ_ENTRY(worker_link) entry;
    struct choice_node node; /* load = requests in flight (message) or connections held (handoff) */
    int fd;                  /* daemon's end of the socketpair; -1 when no worker */
    struct event *rev, *wev, *timeout_ev, *deferred_ev;
    struct evbuffer *in;
    struct outbuf out;            /* requests for the worker, sent at the end of the pass */
    struct request_list inflight; /* message: sent, not answered, oldest first */
    unsigned ninflight;
    bool dirty;
    TAILQ_ENTRY(worker_link) dirty_entry;
    bool timeout_armed;
    bool running;   /* the slot is running, as the route was last told */
    pid_t lost_pid; /* the worker closed its end: killed if still alive after a grace */
    bool retiring;  /* max_requests or memory_recycle: takes nothing new, restarts when idle */
    bool deferred;  /* a STOP/RESTART waits until in-flight requests are answered */
    enum slot_event deferred_event;
    uint64_t served;  /* requests (or connections) given to the current process */
    size_t read_hint; /* the owner wants this many bytes to end a frame (0: a full READ_CHUNK) */
    int *fdq;         /* handoff: accepted fds waiting for the socketpair to take them */
    size_t nfdq;
};

void link_group_init(struct link_group *g, const char *name, const struct route_hooks *hooks,
                     const struct link_ops *ops, void *owner, struct choice *choice);
void link_group_free(struct link_group *g);

/* Free a link link_worker_gone() emptied. */
void link_free(struct worker_link *l);

/*
 * Make the socketpair for the slot's worker about to be spawned, on fd 3
 * or (stdio) its stdin and stdout; the slot gets its link on first use.
 */
int link_prepare_spawn(struct link_group *g, struct slot *s, bool stdio, struct route_spawn *rs,
                       char *err, size_t errsz);
/* The spawn happened (ok) or not: keep the daemon's end, close the worker's. */
void link_after_spawn(struct worker_link *l, struct route_spawn *rs, bool ok);
/* Stop listing, reading and writing: the worker is gone or broken. */
void link_close_socket(struct worker_link *l);
/* The worker is gone: close, disarm, forget its counts (its requests are the owner's). */
void link_worker_gone(struct worker_link *l);
/*
 * The worker was reaped: a RESTART that waited for it is moot (the slot
 * restarts by itself); a STOP must still happen.
 */
void link_worker_reaped(struct worker_link *l);

static inline struct worker_link *link_of(struct choice_node *n)
{
    return (struct worker_link *)((char *)n - offsetof(struct worker_link, node));
}

/*
 * Requests for a worker go out once per pass of the event loop: everything
 * dispatched to it while the callbacks epoll woke us for run goes in one
 * write when the pass ends (flush_ev runs after them, in the same pass).
 * One wake-up of the worker then serves every request of the pass, idle
 * worker or busy. (Writing to an idle worker at once woke it for the
 * first request and again for the rest; bench/RESULTS.md has the figures.)
 */
static inline void link_mark_dirty(struct worker_link *l)
{
    if (!l->dirty) {
        l->dirty = true;
        /* The first link of the pass activates the flush; the others join it. */
        if (TAILQ_EMPTY(&l->group->dirty))
            event_active(l->group->flush_ev, 0, 0);
        TAILQ_INSERT_TAIL(&l->group->dirty, l, dirty_entry);
    }
}

/* Write l->out (at the end of the pass, or when the socketpair takes more). */
void link_write(struct worker_link *l);
/* Take the link out of this pass's batch and write it now. */
void link_write_now(struct worker_link *l);
void link_arm_timeout(struct worker_link *l, uint64_t after_us);
void link_disarm_timeout(struct worker_link *l);
/*
 * One more request (or connection) for this worker. max_requests counts
 * deliveries: after N it takes nothing new, and restarts once idle.
 */
void link_count_delivery(struct worker_link *l, uint64_t max_requests);
/* Take nothing new; restart once idle (at once if idle now). max_requests, memory_recycle. */
void link_retire(struct worker_link *l);
/* The worker has nothing in flight: run the STOP/RESTART that waited for that. */
void link_idle(struct worker_link *l);
/* The worker is broken: kill it (its requests are given back when it is reaped). */
void link_fail(struct worker_link *l, const char *why);

/* Read up to max bytes from fd into buf without the FIONREAD that evbuffer_read() costs. */
ssize_t buffer_read(struct evbuffer *buf, int fd, size_t max);
/*
 * Read up to max bytes (at most READ_CHUNK) from fd into a scratch buffer
 * of link.c's: *data points at them until the next scratch_read. For an
 * empty input buffer: whole frames are taken from there, and only the
 * rest is added to the evbuffer (no chain allocated and freed per read).
 */
ssize_t scratch_read(int fd, size_t max, const unsigned char **data);
/*
 * The same behind the bytes held holds (at most SCRATCH_HELD_MAX: the start
 * of a frame an earlier read left), copied to the scratch buffer first and
 * drained from held once the read brought more: *data then holds them and
 * the new bytes, the total returned. On an error or end of file held keeps
 * its bytes.
 */
ssize_t scratch_read_after(struct evbuffer *held, int fd, size_t max, const unsigned char **data);
/*
 * One read's worth: just under 64 KiB, because libevent sizes a buffer
 * chain to the next power of two above the request plus its own header; a
 * 64 KiB read would take a 128 KiB chain, and a reply held for a client that
 * does not read keeps its whole chain (bench/RESULTS.md, memory).
 */
#define READ_CHUNK (65536 - 256)

#endif
