/* SPDX-License-Identifier: ISC */
/*
 * memory_recycle (see recycle.h). Owns each slot's struct slot_recycle and
 * each pool's recycle timer; reads memory through usage.c; changes no slot
 * state itself: the decision goes to the hook pool.c registered.
 */
#include "recycle.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgstat.h"
#include "droverd.h"
#include "log.h"
#include "sys.h"
#include "usage.h"
#include "xmalloc.h"

struct slot_recycle {
    pid_t pid;           /* the worker the last decision was about */
    bool pending;        /* decided, that worker not gone yet */
    bool done;           /* that worker is gone */
    uint64_t exit_at;    /* when done: the exit it made (fsm.exit_at) */
    uint64_t at;         /* when decided */
    uint64_t checked_at; /* the last check at a request's completion */
    char why[160];
};

static void (*recycle_hook)(struct slot *s, const char *why);

void recycle_set_hook(void (*recycle)(struct slot *s, const char *why))
{
    recycle_hook = recycle;
}

static struct slot_recycle *slot_recycle_get(struct slot *s)
{
    if (s->recycle == NULL)
        s->recycle = xcalloc(1, sizeof(*s->recycle));
    return s->recycle;
}

/* Is the slot's worker one that may be recycled now? */
static bool recyclable(const struct slot *s)
{
    const struct slot_recycle *rc = s->recycle;

    return s->pool->cfg->memory_recycle > 0 && s->pid > 0 && s->fsm.state == SLOT_RUNNING &&
           s->fsm.pending_fail == NULL && !s->probation && !s->removing && !s->pool->removing &&
           !droverd.shutting_down && (rc == NULL || !rc->pending || rc->pid != s->pid);
}

/* Compare the worker's memory with memory_recycle; over it, recycle it. */
static void recycle_check(struct slot *s, uint64_t now)
{
    uint64_t limit = s->pool->cfg->memory_recycle, mem;
    enum usage_source src;
    struct slot_recycle *rc;
    char why[sizeof(rc->why)];

    if (!recyclable(s) || usage_memory(s, &mem, &src) != 0)
        return;
    if (!recycle_memory_over(mem, limit, why, sizeof(why)))
        return;
    rc = slot_recycle_get(s);
    rc->pid = s->pid;
    rc->pending = true;
    rc->done = false;
    rc->at = now;
    memcpy(rc->why, why, sizeof(rc->why));
    if (recycle_hook != NULL)
        recycle_hook(s, rc->why);
}

void recycle_request_done(struct slot *s)
{
    uint64_t now = mono_now();

    if (s->pool->cfg->memory_recycle == 0)
        return;
    if (s->recycle != NULL && now - s->recycle->checked_at < RECYCLE_REQUEST_GAP_MS * 1000ULL)
        return;
    slot_recycle_get(s)->checked_at = now;
    recycle_check(s, now);
}

static void recycle_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pool *p = arg;
    uint64_t now = mono_now();

    (void)fd;
    (void)what;
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL)
            recycle_check(p->slots[i], now);
}

void recycle_pool_changed(struct pool *p)
{
    struct timeval tv = {RECYCLE_INTERVAL_MS / 1000, (RECYCLE_INTERVAL_MS % 1000) * 1000};

    if (p->cfg->memory_recycle > 0 && p->recycle_timer == NULL) {
        p->recycle_timer = event_new(droverd.base, -1, EV_PERSIST, recycle_timer_cb, p);
        event_add(p->recycle_timer, &tv);
    } else if (p->cfg->memory_recycle == 0 && p->recycle_timer != NULL) {
        recycle_pool_free(p);
    }
}

void recycle_pool_free(struct pool *p)
{
    if (p->recycle_timer != NULL)
        event_free(p->recycle_timer);
    p->recycle_timer = NULL;
}

void recycle_slot_changed(struct slot *s)
{
    struct slot_recycle *rc = s->recycle;

    if (rc == NULL || !rc->pending || s->pid == rc->pid)
        return;
    /* The worker it was about is gone (recycled, or it died first). */
    rc->pending = false;
    rc->done = true;
    rc->exit_at = s->fsm.has_exit ? s->fsm.exit_at : 0;
    log_debug("pool %s slot %u: recycle of pid %d done", s->pool->name, s->index, (int)rc->pid);
}

void recycle_slot_free(struct slot *s)
{
    free(s->recycle);
    s->recycle = NULL;
}

bool recycle_slot_info(const struct slot *s, struct recycle_info *ri)
{
    const struct slot_recycle *rc = s->recycle;

    memset(ri, 0, sizeof(*ri));
    if (rc == NULL || (!rc->pending && !rc->done))
        return false;
    ri->why = rc->why;
    ri->pending = rc->pending;
    ri->was_last_exit = rc->done && s->fsm.has_exit && s->fsm.exit_at == rc->exit_at;
    ri->at = rc->at;
    return true;
}
