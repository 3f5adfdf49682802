/* SPDX-License-Identifier: ISC */
/*
 * Pools (see pool.h): creating them from config, starting, stopping and
 * draining them, scaling, removing and re-creating them once their
 * processes are gone, the shutdown's halt and SIGKILL, and the callbacks
 * their route and memory recycling are given. A slot's process and its
 * state machine are worker.c's; a reload's rollout is rollout.c's.
 */
#include "pool.h"

#include <event2/event.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "keys.h"
#include "listen.h"
#include "log.h"
#include "output.h"
#include "parse.h"
#include "pool_settings.h"
#include "recycle.h"
#include "route.h"
#include "spawn_queue.h"
#include "sys.h"
#include "xmalloc.h"

#define FD_RESERVE  64 /* fds kept free of clients for control, logs, spawning */
#define FD_PER_SLOT 9  /* a worker's output pipes, socket pair, exec pipe, /proc fd */

static void pool_gc_cb(evutil_socket_t fd, short what, void *arg);

static struct event *gc_event;
static struct event *drain_event;

struct pool *pool_find(const char *name)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        if (!p->removing && strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

struct pool *pool_find_removing(const char *name)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        if (p->removing && strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

struct slot *pool_slot(struct pool *p, unsigned i)
{
    if (i >= p->nslots || p->slots[i] == NULL || p->slots[i]->removing)
        return NULL;
    return p->slots[i];
}

/* Ask for removed slots and pools to be freed once the current callback has returned. */
static void pool_gc_schedule(void)
{
    if (gc_event == NULL)
        gc_event = event_new(droverd.base, -1, 0, pool_gc_cb, NULL);
    event_active(gc_event, 0, 0);
}

/* After every slot event (worker_init): the rollout's next step, and freeing what was removed. */
static void pool_slot_settled(struct slot *s)
{
    struct pool *p = s->pool;

    if (p->rolling)
        pool_rolling_advance(p);
    if ((s->removing || p->removing) && !slot_state_has_process(s->fsm.state))
        pool_gc_schedule();
}

/* What a pool's route needs from it (route_hooks.h). */
static void pool_route_fail(struct slot *s, const char *why)
{
    slot_event(s, SLOT_EV_FAIL, why);
}

static void pool_route_restart(struct slot *s)
{
    /* A restart the route had deferred keeps its cause; one of its own is max_requests. */
    if (s->event_cause == 0)
        slot_cause_hint(EVC_RECYCLED);
    slot_event(s, SLOT_EV_RESTART, NULL);
}

static void pool_route_stop(struct slot *s)
{
    slot_event(s, SLOT_EV_STOP, NULL);
}

/*
 * The worker is over memory_recycle (recycle.c): a routed worker takes no new work and is
 * restarted once it has answered what it holds, as after max_requests; any other (no
 * routing, or shared mode where workers accept themselves) is restarted with stop_signal.
 */
static void slot_recycle(struct slot *s, const char *why)
{
    struct pool *p = s->pool;

    p->recycles_memory++;
    log_info("pool %s slot %u: recycling pid %d: %s", p->name, s->index, (int)s->pid, why);
    if (p->route != NULL && route_slot_retire(p->route, s))
        return;
    slot_event(s, SLOT_EV_RESTART, NULL);
}

static void pool_drain_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    pools_drain_check();
}

/* From inside the route's processing: stopping the workers waits for the end of the pass. */
static void pool_route_drained(void *pool)
{
    (void)pool;
    if (drain_event == NULL)
        drain_event = event_new(droverd.base, -1, 0, pool_drain_cb, NULL);
    event_active(drain_event, 0, 0);
}

/*
 * Every client costs one fd. Whatever the fd limit, keep enough for the
 * control socket, log files and restarting every worker (output pipes, a
 * socket pair, the exec pipe and the /proc fd status keeps, 9 each), so a
 * flood of clients cannot lock the operator out.
 */
static unsigned pools_client_budget(void)
{
    unsigned slots = 0;
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        slots += p->nslots;
    rlim_t limit = droverd.nofile_raised;
    rlim_t reserve = FD_RESERVE + FD_PER_SLOT * (rlim_t)slots;
    if (limit <= reserve)
        return 0;
    return limit - reserve > UINT_MAX ? UINT_MAX : (unsigned)(limit - reserve);
}

int pools_fds_fit(unsigned long slots, char *err, size_t errsz)
{
    unsigned long long need = FD_RESERVE + FD_PER_SLOT * (unsigned long long)slots;

    if (need <= (unsigned long long)droverd.nofile_raised)
        return 0;
    snprintf(err, errsz,
             "%lu workers in all need about %llu file descriptors; droverd may open %llu "
             "(RLIMIT_NOFILE: raise LimitNOFILE= or ulimit -n, or run fewer workers)",
             slots, need, (unsigned long long)droverd.nofile_raised);
    return -1;
}

int pools_accept_fds(const struct config *cfg, struct config_errors *errs)
{
    const struct pool_config *pc, *largest = NULL;
    unsigned long slots = 0;
    char err[PARSE_ERR_MAX];

    TAILQ_FOREACH(pc, &cfg->pools, entry) {
        slots += pc->nworkers;
        if (largest == NULL || pc->nworkers > largest->nworkers)
            largest = pc;
    }
    if (largest == NULL || pools_fds_fit(slots, err, sizeof(err)) == 0)
        return 0;
    /* Named at the largest pool's workers line (its section's when workers is not set). */
    const struct key_origin *o = &largest->origin[key_section_index(key_find(KEY_POOL, "workers"))];
    if (o->file == NULL)
        o = &largest->section;
    config_errors_add(errs, o->file, o->line, "workers: %s", err);
    return -1;
}

/* Re-created with the same listen value: the new pool takes the socket, with its backlog. */
static bool pool_keeps_socket(const struct pool *p)
{
    return p->recreate_cfg != NULL && p->recreate_cfg->listen != NULL &&
           strcmp(p->recreate_cfg->listen, route_listen(p->route)) == 0;
}

struct pool *pool_create(struct pool_config *pc, char *err, size_t errsz)
{
    struct pool *p = xcalloc(1, sizeof(*p));

    p->name = xstrdup(pc->name);
    pool_settings_init(p, pc);
    if (pc->listen != NULL) {
        struct route_hooks hooks = {
            .pool = p,
            .fail = pool_route_fail,
            .restart = pool_route_restart,
            .stop = pool_route_stop,
            .drained = pool_route_drained,
            .request_done = recycle_request_done,
            .client_budget = pools_client_budget,
        };
        p->route = route_new(pc, p->name, &hooks, err, errsz);
        if (p->route == NULL) {
            pool_log_free(p->log);
            free_strv(p->env_base);
            free(p->groups);
            free(p->name);
            free(p);
            return NULL;
        }
    }
    worker_init(pool_slot_settled);
    recycle_set_hook(slot_recycle);
    recycle_pool_changed(p);
    p->target = pc->nworkers;
    p->nslots = pc->nworkers;
    p->slots = xcalloc(p->nslots ? p->nslots : 1, sizeof(*p->slots));
    for (unsigned i = 0; i < p->nslots; i++)
        p->slots[i] = slot_new(p, i);
    TAILQ_INSERT_TAIL(&droverd.pools, p, entry);
    return p;
}

void pool_start(struct pool *p)
{
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL && !p->slots[i]->removing)
            slot_event(p->slots[i], SLOT_EV_START, NULL);
}

void pool_destroy(struct pool *p)
{
    TAILQ_REMOVE(&droverd.pools, p, entry);
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL)
            slot_free(p->slots[i]);
    free(p->slots);
    recycle_pool_free(p);
    if (p->route != NULL)
        route_free(p->route, pool_keeps_socket(p));
    pool_log_free(p->log);
    free_strv(p->env_base);
    free(p->groups);
    free(p->halt_reason);
    free(p->name);
    free(p);
}

/* Is every slot of the pool without a process? */
static bool pool_is_down(const struct pool *p)
{
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL && slot_state_has_process(p->slots[i]->fsm.state))
            return false;
    return true;
}

/* The pool other than except whose socket is bound to listen now, or NULL. */
static struct pool *pool_holding(const char *listen, const struct pool *except)
{
    struct pool *p;

    if (listen == NULL)
        return NULL;
    TAILQ_FOREACH(p, &droverd.pools, entry)
        if (p != except && p->route != NULL && route_holds_address(p->route) &&
            strcmp(route_listen(p->route), listen) == 0)
            return p;
    return NULL;
}

/*
 * Free slots that were scaled away and pools that were removed, once their
 * processes are gone; start a re-created pool again. Runs from its own
 * event so nothing is freed under a caller's feet.
 */
static void pool_gc_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pool *p, *next;
    char err[PARSE_ERR_MAX];
    bool deferred = false, destroyed = false;

    (void)fd;
    (void)what;
    (void)arg;
    TAILQ_FOREACH_SAFE(p, &droverd.pools, entry, next) {
        if (p->removing) {
            struct pool_config *again = p->recreate_cfg;
            struct pool *holder;
            if (!pool_is_down(p))
                continue;
            if (again != NULL && !droverd.shutting_down &&
                (holder = pool_holding(again->listen, p)) != NULL && holder->removing) {
                /*
                 * Its new address is still another stopping pool's (two pools
                 * swapping addresses): let go of ours, which that one may be
                 * moving to, and wait for it to be down.
                 */
                if (p->route != NULL)
                    route_release_address(p->route);
                deferred = true;
                continue;
            }
            destroyed = true;
            if (again == NULL)
                log_info("pool %s: removed", p->name);
            else if (strcmp(again->name, p->name) != 0)
                log_info("pool %s: removed; pool %s starts on its socket", p->name, again->name);
            else
                log_info("pool %s: stopped; starting it again", p->name);
            pool_destroy(p);
            if (again != NULL && !droverd.shutting_down) {
                struct pool *np = pool_create(again, err, sizeof(err));
                if (np == NULL)
                    log_warnx("pool %s: cannot start again: %s", again->name, err);
                else
                    pool_start(np);
            }
            continue;
        }
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = p->slots[i];
            if (s != NULL && s->removing && !slot_state_has_process(s->fsm.state)) {
                slot_free(s);
                p->slots[i] = NULL;
            }
        }
        while (p->nslots > 0 && p->slots[p->nslots - 1] == NULL)
            p->nslots--;
    }
    listen_release_unwanted(pool_listen_wanted);
    /* A pool that waited for an address another freed in this pass takes it now. */
    if (deferred && destroyed)
        pool_gc_schedule();
    droverd_state_changed();
}

static void pool_stop_slots(struct pool *p)
{
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL)
            slot_event(p->slots[i], SLOT_EV_STOP, NULL);
}

void pool_stop(struct pool *p, bool remove)
{
    if (remove)
        p->removing = true;
    p->rolling = false;
    if (p->route != NULL) {
        /* Take no new work; the workers stop once what was taken is answered. */
        route_stop_accepting(p->route);
        p->draining = true;
        pools_drain_check();
    } else {
        pool_stop_slots(p);
    }
    if (remove)
        pool_gc_schedule();
}

void pools_drain_check(void)
{
    struct pool *p, *next;

    TAILQ_FOREACH_SAFE(p, &droverd.pools, entry, next) {
        /* In a shutdown no worker starts again: with none left, what waits is answered now. */
        if (!p->draining || (route_busy(p->route) && !(droverd.shutting_down && pool_is_down(p))))
            continue;
        p->draining = false;
        pool_stop_slots(p);
    }
}

bool pool_listen_wanted(const char *listen)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        if (p->recreate_cfg != NULL && p->recreate_cfg->listen != NULL &&
            strcmp(p->recreate_cfg->listen, listen) == 0)
            return true;
    return false;
}

void pool_recreate(struct pool *p, struct pool_config *pc)
{
    p->recreate_cfg = pc;
    pool_stop(p, true);
}

void pool_scale(struct pool *p, unsigned n)
{
    if (n > p->nslots) {
        p->slots = xreallocarray(p->slots, n, sizeof(*p->slots));
        for (unsigned i = p->nslots; i < n; i++)
            p->slots[i] = NULL;
        p->nslots = n;
    }
    p->target = n;
    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (i < n) {
            if (s == NULL) {
                s = p->slots[i] = slot_new(p, i);
                /* It runs the rollout's new settings: a halt rolls it back with the others. */
                s->replaced = p->rolling && !p->rolling_back;
                if (!droverd.shutting_down)
                    slot_event(s, SLOT_EV_START, NULL);
            } else if (s->removing) {
                s->removing = false;
                slot_event(s, SLOT_EV_START, NULL);
            }
        } else if (s != NULL && !s->removing) {
            s->removing = true;
            s->rolling = false;
            slot_event(s, SLOT_EV_STOP, NULL);
        }
    }
}

bool pools_all_down(void)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        for (unsigned i = 0; i < p->nslots; i++)
            if (p->slots[i] != NULL && slot_state_has_process(p->slots[i]->fsm.state))
                return false;
    return true;
}

bool pools_all_settled(void)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = p->slots[i];
            if (s == NULL || s->removing)
                continue;
            /* Running is not enough: started (start_grace or READY=1), as drover start waits. */
            if (!(s->fsm.state == SLOT_RUNNING && s->fsm.up) && s->fsm.state != SLOT_FATAL &&
                s->fsm.want_up)
                return false;
        }
    return true;
}

void pools_halt(void)
{
    struct pool *p;
    struct slot *q;
    struct slot_action act;
    uint64_t now = mono_now();

    /* Slots still waiting for their turn to fork never get it. */
    while ((q = spawn_queue_first()) != NULL)
        slot_event_queued(q, SLOT_EV_STOP, now);
    TAILQ_FOREACH(p, &droverd.pools, entry) {
        /* A crash during the shutdown is a crash, and the end of that slot. */
        p->policy.restart = RESTART_NEVER;
        p->rolling = false;
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = p->slots[i];
            /* A restart under way (rolling, recycling) ends with the stop. */
            if (s != NULL && s->fsm.state == SLOT_STOPPING)
                slot_step(&s->fsm, &p->policy, SLOT_EV_STOP, 0, NULL, now, &act);
        }
    }
}

/*
 * No grace left: every worker is stopped with SIGKILL, through its state machine and past
 * any drain its route waits for, so its exit is a stop (not a crash to restart).
 */
void pools_kill_all(void)
{
    struct pool *p;
    uint64_t now = mono_now();

    TAILQ_FOREACH(p, &droverd.pools, entry)
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = p->slots[i];
            struct slot_action act;
            enum slot_state from;
            bool was_up;

            if (s == NULL || s->pid <= 0)
                continue;
            from = s->fsm.state;
            was_up = s->fsm.up;
            slot_step(&s->fsm, &p->policy, SLOT_EV_STOP, 0, NULL, now, &act);
            act.signal = SIGKILL;
            slot_apply(s, from, was_up, SLOT_EV_STOP, &act, now);
        }
    /* A slot whose main process is gone may still have a populated cgroup. */
    TAILQ_FOREACH(p, &droverd.pools, entry)
        for (unsigned i = 0; i < p->nslots; i++)
            if (p->slots[i] != NULL)
                cgroup_slot_signal(p->slots[i]->cg, SIGKILL, 0);
}

void pools_reopen_logs(void)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
        if (p->log != NULL)
            pool_log_reopen(p->log);
}
