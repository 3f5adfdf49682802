/* SPDX-License-Identifier: ISC */
/*
 * The route's front (see route.h): what pool.c calls, dispatched to the
 * pool's mode through struct route_mode_ops (route_mode.h) instead of
 * branching on the mode:
 *
 *   message: router.c: framed requests, a bounded queue, in-order replies.
 *   handoff: handoff.c: accepted connections passed to workers.
 *   shared:  here: every worker gets the listening socket as fd 3
 *            (LISTEN_FDS) and accepts on it itself.
 *
 * Below this file: listen.c (the socket, accepting), link.c (each worker's
 * socketpair), queue.c (the request queue), linger.c (replies owed after
 * the pool went away). None of them calls back up here.
 */
#include "route.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handoff.h"
#include "linger.h"
#include "listen.h"
#include "log.h"
#include "parse.h"
#include "route_mode.h"
#include "router.h"
#include "tls.h"
#include "tls_relay.h"
#include "xmalloc.h"

static int shared_prepare_spawn(struct route *r, struct slot *s, struct route_spawn *rs, char *err,
                                size_t errsz)
{
    (void)s;
    (void)err;
    (void)errsz;
    rs->fd3 = listener_fd(r->listener);
    xasprintf(&rs->env[rs->nenv++], "LISTEN_FDS=1");
    xasprintf(&rs->env[rs->nenv++], "LISTEN_PID=%-20s", "");
    xasprintf(&rs->env[rs->nenv++], "LISTEN_FDNAMES=%s", r->name);
    rs->keep_fd = -1;
    return 0;
}

static const struct route_mode_ops shared_ops = {
    .workers_accept = true,
    .prepare_spawn = shared_prepare_spawn,
};

static const struct route_mode_ops *const mode_ops[] = {
    [ROUTE_MESSAGE] = &message_ops,
    [ROUTE_HANDOFF] = &handoff_ops,
    [ROUTE_SHARED] = &shared_ops,
};

/* The listener asks: take a connection now? Within the daemon's fd budget and the mode's room. */
static bool route_wants_connection(void *arg)
{
    struct route *r = arg;

    return r->accepting && router_clients_total() < r->hooks.client_budget() &&
           r->ops->has_room(r) && (r->tls == NULL || tls_server_has_room(r->tls));
}

static void route_accepted(void *arg, int fd)
{
    struct route *r = arg;

    r->accepted++;
    if (r->tls_refused)
        close(fd);
    else if (r->tls != NULL)
        tls_server_accept(r->tls, fd); /* to the mode by route_tls_ready, once it succeeds */
    else
        r->ops->accepted(r, fd);
}

/* A TLS client finished its handshake: fd is its decrypted side. */
static void route_tls_ready(void *arg, int fd)
{
    struct route *r = arg;

    if (!r->accepting || !r->ops->has_room(r)) {
        close(fd);
        return;
    }
    r->ops->accepted(r, fd);
}

/* tls_cert set, unset or its files re-read (every reload: a renewed certificate is taken). */
static void route_configure_tls(struct route *r, const struct pool_config *pc)
{
    char err[PARSE_ERR_MAX + 256];

    if (pc->tls_cert == NULL || r->mode != ROUTE_MESSAGE) {
        tls_server_free(r->tls);
        r->tls = NULL;
    } else if (r->tls == NULL) {
        r->tls = tls_server_new(pc, r->name, route_tls_ready, r, err, sizeof(err));
        if (r->tls == NULL)
            log_warnx("pool %s: TLS: %s; refusing connections until fixed", r->name, err);
    } else if (tls_server_configure(r->tls, pc, err, sizeof(err)) != 0) {
        log_warnx("pool %s: TLS files not re-read, the previous ones stay: %s", r->name, err);
    }
    r->tls_refused = pc->tls_cert != NULL && r->tls == NULL;
}

void route_configure(struct route *r, const struct pool_config *pc)
{
    unsigned cap = pc->worker_inflight_auto ? ROUTE_AUTO_INFLIGHT : pc->worker_inflight;
    /*
     * 0 (off) is the longest of all. A new route (frame_timeout, at least
     * 1 ms once configured, still 0) has nothing armed: nothing to shorten.
     */
    bool shorter =
        r->frame_timeout_us != 0 && ((pc->request_timeout_us - 1 < r->request_timeout_us - 1) ||
                                     (pc->queue_timeout_us - 1 < r->queue_timeout_us - 1) ||
                                     pc->frame_timeout_us < r->frame_timeout_us);

    r->framing = pc->framing;
    r->max_frame = pc->max_frame;
    r->max_queue = pc->max_queue;
    r->request_timeout_us = pc->request_timeout_us;
    r->max_attempts = pc->max_attempts;
    r->max_requests = pc->max_requests;
    r->recycle_memory = pc->memory_recycle > 0;
    r->stdio = pc->work_fd == WORK_FD_STDIO;
    r->queue_timeout_us = pc->queue_timeout_us;
    r->frame_timeout_us = pc->frame_timeout_us;
    r->client_buffer = pc->client_buffer;
    r->budget.limit = pc->pool_buffer;
    route_configure_tls(r, pc);
    if (r->choice.levels != NULL && cap != r->worker_inflight) {
        struct worker_link *l;
        struct choice_node **nodes;
        unsigned n = 0;

        TAILQ_FOREACH(l, &r->links.links, entry)
            n++;
        nodes = xcalloc(n + 1, sizeof(*nodes));
        n = 0;
        TAILQ_FOREACH(l, &r->links.links, entry)
            nodes[n++] = &l->node;
        choice_set_capacity(&r->choice, cap, nodes, n);
        free(nodes);
    }
    r->worker_inflight = cap;
    r->prefetch_max_age_us = pc->worker_inflight_auto ? ROUTE_PREFETCH_MAX_AGE_US : 0;
    if (shorter && r->ops != NULL && r->ops->timeouts_shortened != NULL)
        r->ops->timeouts_shortened(r);
}

struct route *route_new(const struct pool_config *pc, const char *name,
                        const struct route_hooks *hooks, char *err, size_t errsz)
{
    struct route *r = xcalloc(1, sizeof(*r));

    r->ops = mode_ops[pc->mode];
    r->hooks = *hooks;
    r->name = xstrdup(name);
    r->mode = pc->mode;
    r->listen = xstrdup(pc->listen);
    TAILQ_INIT(&r->clients);
    queue_init(&r->queue);
    TAILQ_INIT(&r->dirty_clients);
    route_configure(r, pc);
    choice_init(&r->choice, r->worker_inflight);
    r->listener = listener_open(pc, name, r->ops->workers_accept, err, errsz);
    if (r->listener == NULL) {
        choice_free(&r->choice);
        free(r->listen);
        free(r->name);
        free(r);
        return NULL;
    }
    r->accepting = true;
    if (strncmp(r->listen, "tcp:", 4) == 0 && pc->tls_cert == NULL &&
        !tls_listen_is_loopback(r->listen))
        log_warnx("pool %s: listen = %s without TLS (insecure_tcp = yes): anyone who can reach "
                  "it may send work",
                  name, r->listen);
    link_group_init(&r->links, r->name, &r->hooks, r->ops->link_ops, r, &r->choice);
    if (!r->ops->workers_accept)
        listener_accept(r->listener, r->ops->accept_flags, route_wants_connection, route_accepted,
                        r);
    return r;
}

void route_stop_accepting(struct route *r)
{
    r->accepting = false;
    listener_update(r->listener);
    if (r->ops->stop_accepting != NULL)
        r->ops->stop_accepting(r);
}

bool route_busy(const struct route *r)
{
    return route_holds_work(r);
}

const char *route_listen(const struct route *r)
{
    return r->listen;
}

void route_release_address(struct route *r)
{
    if (r->listener != NULL)
        listener_close(r->listener, false);
    r->listener = NULL;
}

bool route_holds_address(const struct route *r)
{
    return r->listener != NULL;
}

/* The pool's slots (and so the links) are freed first. */
void route_free(struct route *r, bool keep_socket)
{
    router_forget(r);
    route_release_clients(r);
    tls_server_free(r->tls); /* handshakes in progress close; relays live on */
    r->tls = NULL;
    if (r->listener != NULL)
        listener_close(r->listener, keep_socket);
    link_group_free(&r->links);
    if (r->queue_ev != NULL)
        event_free(r->queue_ev);
    choice_free(&r->choice);
    free(r->listen);
    free(r->name);
    free(r);
}

void route_release_clients(struct route *r)
{
    if (r->ops->release_clients != NULL)
        r->ops->release_clients(r);
}

bool route_lingering(void)
{
    return linger_pending();
}

/* ---------------------------------------------------------------------------------------- */
/* Worker life, as pool.c reports it                                                        */

int route_prepare_spawn(struct route *r, struct slot *s, struct route_spawn *rs, char *err,
                        size_t errsz)
{
    return r->ops->prepare_spawn(r, s, rs, err, errsz);
}

/* Shared mode has no links: the worker's fd 3 is the listening socket, which stays open. */
void route_after_spawn(struct route *r, struct slot *s, struct route_spawn *rs, bool ok)
{
    (void)r;
    if (s->link != NULL)
        link_after_spawn(s->link, rs, ok);
}

static void route_pump(struct route *r)
{
    if (r->ops->pump != NULL)
        r->ops->pump(r);
}

void route_slot_state(struct route *r, struct slot *s, enum slot_state state)
{
    struct worker_link *l = s->link;

    if (l == NULL)
        return;
    l->running = state == SLOT_RUNNING;
    if (l->running && l->fd >= 0 && !l->deferred && !l->retiring) {
        choice_list(&r->choice, &l->node);
        route_pump(r);
    } else if (!l->running) {
        choice_unlist(&r->choice, &l->node);
    }
    listener_update(r->listener);
}

void route_slot_exited(struct route *r, struct slot *s)
{
    struct worker_link *l = s->link;

    if (l == NULL)
        return;
    l->running = false;
    link_worker_gone(l);
    r->ops->worker_gone(r, l);
    link_worker_reaped(l);
    route_pump(r);
    listener_update(r->listener);
    route_check_drained(r);
}

bool route_slot_defer(struct route *r, struct slot *s, enum slot_event ev)
{
    struct worker_link *l = s->link;

    if (l == NULL || !r->ops->defers_stop)
        return false;
    if (ev == SLOT_EV_START) {
        /* Wanted up again before the drain ended: take work again. */
        if (l->deferred) {
            l->deferred = false;
            if (l->running && l->fd >= 0 && !l->retiring)
                choice_list(&r->choice, &l->node);
            route_pump(r);
        }
        return false;
    }
    if (ev != SLOT_EV_STOP && ev != SLOT_EV_RESTART)
        return false;
    choice_unlist(&r->choice, &l->node);
    if (l->deferred && ev == SLOT_EV_STOP)
        l->deferred_event = SLOT_EV_STOP; /* a stop overrides a pending restart */
    if (l->deferred)
        return true;
    if (l->ninflight == 0 || s->pid <= 0)
        return false;
    l->deferred = true;
    l->deferred_event = ev;
    return true;
}

void route_slot_free(struct route *r, struct slot *s)
{
    struct worker_link *l = s->link;

    if (l == NULL)
        return;
    link_worker_gone(l);
    r->ops->worker_gone(r, l);
    link_free(l);
    s->link = NULL;
    route_pump(r);
}

bool route_slot_retire(struct route *r, struct slot *s)
{
    if (s->link == NULL || r->ops->workers_accept)
        return false;
    link_retire(s->link);
    return true;
}

bool route_slot_draining(const struct route *r, const struct slot *s)
{
    (void)r;
    return s->link != NULL && s->link->deferred;
}

unsigned route_slot_inflight(const struct route *r, const struct slot *s)
{
    (void)r;
    return s->link != NULL ? s->link->node.load : 0;
}

void route_pace_look(struct route_pace *v)
{
    router_pace(v);
}

void route_get_stats(const struct route *r, struct route_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->mode = route_mode_name(r->mode);
    out->listen = r->listen;
    out->connections = r->nclients;
    out->accepted = r->accepted;
    out->queued = r->queue.n;
    out->inflight = r->inflight_total;
    out->requests = r->requests;
    out->retries = r->retries;
    out->failed = r->failed;
    out->timeouts = r->timeouts;
    out->busy = r->busy;
    out->bad_frames = r->bad_frames;
    out->queue_timeouts = r->queue_timeouts;
    out->abandoned = r->abandoned;
    out->buffered = r->budget.held;
    if (r->tls != NULL) {
        struct tls_stats ts;
        tls_server_stats(r->tls, &ts);
        out->tls = true;
        out->tls_handshakes = ts.handshakes;
        out->tls_handshake_failures = ts.failures;
        out->tls_handshake_timeouts = ts.timeouts;
        out->tls_handshaking = ts.handshaking;
    }
    out->max_requests_reached = r->links.max_requests_reached;
    if (r->ops->stats != NULL)
        r->ops->stats(r, out);
}
