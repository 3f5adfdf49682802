/* SPDX-License-Identifier: ISC */
/*
 * The spawn queue and its per-pass budget (see spawn_queue.h).
 */
#include "spawn_queue.h"

#include <event2/event.h>

/*
 * Forking is bounded: at most SPAWN_BATCH workers, and no more once SPAWN_PASS_US went
 * into vfork+exec (droverd waits for each exec), per spawn pass. Past that, a slot the
 * state machine started waits in spawn_queue (state starting, no process yet) for the
 * next spawn pass. A spawn pass runs at low priority, in a loop pass that had no I/O to
 * serve, or SPAWN_WAIT_MAX_US after the last at the latest; so a crash storm or thousands
 * of workers starting leave the control socket and routed pools served first.
 */
#define SPAWN_BATCH       16
#define SPAWN_PASS_US     5000
#define SPAWN_WAIT_MAX_US 20000
static TAILQ_HEAD(, slot) spawn_queue = TAILQ_HEAD_INITIALIZER(spawn_queue);
static struct event *spawn_idle_event; /* zero timer at low priority: the next idle pass */
static struct event *spawn_late_event; /* SPAWN_WAIT_MAX_US timer: no idle pass came */
static unsigned spawn_pass_count;      /* workers forked in this spawn pass */
static uint64_t spawn_pass_us;         /* time spent forking them */
static void (*spawn_turn)(struct slot *s);

static void spawn_pass_cb(evutil_socket_t fd, short what, void *arg);

void spawn_queue_set_turn(void (*turn)(struct slot *s))
{
    spawn_turn = turn;
}

struct slot *spawn_queue_first(void)
{
    return TAILQ_FIRST(&spawn_queue);
}

bool spawn_budget_left(void)
{
    return spawn_pass_count < SPAWN_BATCH && spawn_pass_us < SPAWN_PASS_US;
}

/* Schedule the next spawn pass, which resets the budget and forks what waits. */
static void spawn_pass_schedule(void)
{
    static const struct timeval zero = {0, 0};
    static const struct timeval late = {0, SPAWN_WAIT_MAX_US};

    if (spawn_idle_event == NULL) {
        spawn_idle_event = evtimer_new(droverd.base, spawn_pass_cb, NULL);
        event_priority_set(spawn_idle_event, DROVERD_PRIORITY_LOW);
        spawn_late_event = evtimer_new(droverd.base, spawn_pass_cb, NULL);
    }
    if (!evtimer_pending(spawn_idle_event, NULL))
        event_add(spawn_idle_event, &zero);
    if (!evtimer_pending(spawn_late_event, NULL))
        event_add(spawn_late_event, &late);
}

/* Count one fork against this spawn pass; the first of a pass schedules the next. */
void spawn_budget_use(uint64_t us)
{
    if (spawn_pass_count++ == 0)
        spawn_pass_schedule();
    spawn_pass_us += us;
}

void spawn_enqueue(struct slot *s)
{
    s->spawn_queued = true;
    TAILQ_INSERT_TAIL(&spawn_queue, s, spawn_entry);
    spawn_pass_schedule();
}

void spawn_dequeue(struct slot *s)
{
    if (!s->spawn_queued)
        return;
    TAILQ_REMOVE(&spawn_queue, s, spawn_entry);
    s->spawn_queued = false;
}

/* A new pass: fork the slots that wait, as far as this pass's budget goes. */
static void spawn_pass_cb(evutil_socket_t fd, short what, void *arg)
{
    struct slot *s;

    (void)fd;
    (void)what;
    (void)arg;
    /* Whichever of the two came first, this is the pass. */
    event_del(spawn_idle_event);
    event_del(spawn_late_event);
    spawn_pass_count = 0;
    spawn_pass_us = 0;
    while ((s = TAILQ_FIRST(&spawn_queue)) != NULL && spawn_budget_left())
        spawn_turn(s);
    if (!TAILQ_EMPTY(&spawn_queue))
        spawn_pass_schedule();
}
