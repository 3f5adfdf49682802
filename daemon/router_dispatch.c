/* SPDX-License-Identifier: ISC */
/* Message mode: requests to workers, replies back, retries (see router_dispatch.h). */
#include "router_dispatch.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "droverd.h"
#include "frame.h"
#include "parse.h"
#include "router.h"
#include "router_reply.h"
#include "sys.h"

/*
 * Routes with requests in flight, the only ones a loop pass asks about
 * (router_pace), and replies that left their worker with nothing in flight.
 */
static TAILQ_HEAD(, route) busy_routes = TAILQ_HEAD_INITIALIZER(busy_routes);
static uint64_t ran_dry;

static void inflight_add(struct route *r)
{
    if (r->inflight_total++ == 0)
        TAILQ_INSERT_TAIL(&busy_routes, r, busy_entry);
}

static void inflight_sub(struct route *r)
{
    if (--r->inflight_total == 0)
        TAILQ_REMOVE(&busy_routes, r, busy_entry);
}

void router_forget(struct route *r)
{
    if (r->inflight_total > 0) {
        TAILQ_REMOVE(&busy_routes, r, busy_entry);
        r->inflight_total = 0;
    }
}

void router_pace(struct route_pace *v)
{
    const struct route *r;

    v->ran_dry = ran_dry;
    v->stocked = !TAILQ_EMPTY(&busy_routes);
    /* Every worker that can take work holds two or more (a listed node's load is its count). */
    TAILQ_FOREACH(r, &busy_routes, busy_entry)
        if (!choice_all_loaded(&r->choice, 2)) {
            v->stocked = false;
            return;
        }
}

/* now: the time, or 0 to read the clock */
static void dispatch(struct route *r, struct request *q, struct worker_link *l, uint64_t now)
{
    link_count_delivery(l, r->max_requests);
    queue_mark_dispatched(q, now != 0 ? now : mono_now());
    TAILQ_INSERT_TAIL(&l->inflight, q, entry);
    l->ninflight++;
    inflight_add(r);
    outbuf_add(&l->out, q->data, q->len);
    link_mark_dirty(l);
    /* One lazy timer per worker: armed for the oldest request, re-armed when it fires early. */
    if (!l->timeout_armed)
        link_arm_timeout(l, r->request_timeout_us);
}

/*
 * queue_timeout: one lazy timer per pool, armed for the oldest waiting
 * request when none is armed; when it fires it answers what expired and
 * re-arms for the next (no timer per request).
 */
static void queue_timer_arm(struct route *r)
{
    uint64_t after = r->queue_timeout_us;

    if (r->queue_timer_armed || after == 0 || r->queue_ev == NULL)
        return;
    struct timeval tv = {(time_t)(after / 1000000), (suseconds_t)(after % 1000000)};
    event_add(r->queue_ev, &tv);
    r->queue_timer_armed = true;
}

bool router_queue_expire(struct route *r)
{
    uint64_t now = mono_now(), next;
    struct request *q;

    r->queue_timer_armed = false;
    if (r->queue_timeout_us == 0)
        return false;
    while ((q = queue_take_expired(&r->queue, now, r->queue_timeout_us)) != NULL) {
        char why[192], t[32];
        r->queue_timeouts++;
        format_duration(r->queue_timeout_us, t, sizeof(t));
        if (q->attempts == 0) {
            snprintf(why, sizeof(why), "no worker took the request within %s (queue_timeout)", t);
            request_fail(r, q, "TIMEOUT", why);
            continue;
        }
        /* It reached a worker before: the client must not read "never reached one". */
        snprintf(why, sizeof(why),
                 "delivered %u time%s without an answer (the worker %s), then no worker took it "
                 "again within %s (queue_timeout)",
                 q->attempts, q->attempts == 1 ? "" : "s",
                 q->timed_out ? "did not answer within request_timeout" : "died", t);
        request_fail(r, q, q->timed_out ? "TIMEOUT" : "FAILED", why);
    }
    next = queue_next_expiry(&r->queue, r->queue_timeout_us);
    if (next != 0) {
        uint64_t after = next > now ? next - now : 1;
        struct timeval tv = {(time_t)(after / 1000000), (suseconds_t)(after % 1000000)};
        event_add(r->queue_ev, &tv);
        r->queue_timer_armed = true;
    }
    return true;
}

void router_timers_rearm(struct route *r)
{
    uint64_t now = mono_now(), next;
    struct worker_link *l;
    struct request *q;

    TAILQ_FOREACH(l, &r->links.links, entry) {
        /* A lost worker's timer is its grace, not a request's. */
        if (l->lost_pid != 0 || !l->timeout_armed)
            continue;
        link_disarm_timeout(l);
        q = TAILQ_FIRST(&l->inflight);
        if (q == NULL || r->request_timeout_us == 0)
            continue;
        next = q->dispatched_at + r->request_timeout_us;
        link_arm_timeout(l, next > now ? next - now : 1);
    }
    if (r->queue_timer_armed) {
        event_del(r->queue_ev);
        r->queue_timer_armed = false;
        next = queue_next_expiry(&r->queue, r->queue_timeout_us);
        if (r->queue_timeout_us != 0 && next != 0) {
            uint64_t after = next > now ? next - now : 1;
            struct timeval tv = {(time_t)(after / 1000000), (suseconds_t)(after % 1000000)};
            event_add(r->queue_ev, &tv);
            r->queue_timer_armed = true;
        }
    }
}

/* The adaptive window: a busy worker takes more while its oldest request is recent. */
struct prefetch_test {
    const struct route *r;
    uint64_t now; /* read once per take, at the first busy worker asked about; 0 before */
};

static bool prefetch_ok(struct choice_node *n, void *arg)
{
    struct prefetch_test *t = arg;
    const struct request *q = TAILQ_FIRST(&link_of(n)->inflight);

    if (q == NULL)
        return true;
    if (t->now == 0)
        t->now = mono_now();
    return t->now - q->dispatched_at < t->r->prefetch_max_age_us;
}

/* A worker with room for one more request (now: the time if known, else 0). */
static struct choice_node *router_take(struct route *r, uint64_t now)
{
    struct prefetch_test t = {.r = r, .now = now};

    if (r->prefetch_max_age_us == 0)
        return choice_take(&r->choice);
    return choice_take_if(&r->choice, prefetch_ok, &t);
}

void router_submit(struct route *r, struct request *q)
{
    struct choice_node *n;

    /* Read in this callback: its arrival time is now's, as near as matters. */
    if (queue_empty(&r->queue) && (n = router_take(r, q->received_at)) != NULL) {
        dispatch(r, q, link_of(n), q->received_at);
        return;
    }
    q->queued_at = q->received_at;
    if (queue_submit(&r->queue, q, r->max_queue) == QUEUE_BUSY) {
        char why[64];
        r->busy++;
        snprintf(why, sizeof(why), "queue full (%u waiting)", r->queue.n);
        request_fail(r, q, "BUSY", why);
        return;
    }
    queue_timer_arm(r);
}

/* Give queued requests to workers with room, oldest first. */
static void router_dispatch_queued(struct route *r)
{
    struct choice_node *n;
    struct request *q;
    uint64_t now;

    if (queue_first(&r->queue) == NULL)
        return;
    now = mono_now();
    while ((q = queue_first(&r->queue)) != NULL) {
        /*
         * A half-closed client's socket is no longer watched (it reads as
         * EOF for good): ask whether it hung up since, before a worker
         * does its work for nobody. Its queued requests leave with it.
         */
        if (q->client != NULL && (q->client->eof || q->client->hup_seen) &&
            client_hung_up(q->client)) {
            client_left(r, q->client);
            continue;
        }
        if ((n = router_take(r, now)) == NULL)
            break;
        dispatch(r, queue_next(&r->queue), link_of(n), now);
    }
}

void router_dispatch_pump(struct route *r)
{
    router_dispatch_queued(r);
    /* Requests left waiting get their queue_timeout (it may have been set by a reload). */
    if (!queue_empty(&r->queue))
        queue_timer_arm(r);
}

/*
 * A large reply (READ_MIN or more) read so far in part: read just its rest
 * next, so the rest lands in a chain of its size and the next reply starts
 * a chain of its own. Otherwise the chain that ends one
 * big reply begins the next, and each reply held for a client that does not
 * read keeps two chains' worth of memory (bench/RESULTS.md, memory).
 */
static void reply_read_hint(const struct route *r, struct worker_link *l, size_t avail)
{
    unsigned char hdr[FRAME_LENGTH_HEADER];
    size_t want;

    l->read_hint = 0;
    if (r->framing != FRAMING_LENGTH || avail < FRAME_LENGTH_HEADER ||
        evbuffer_copyout(l->in, hdr, sizeof(hdr)) != (ev_ssize_t)sizeof(hdr))
        return;
    want = FRAME_LENGTH_HEADER +
           ((size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | (size_t)hdr[3]);
    if (want > avail && want >= READ_MIN && want - avail < READ_CHUNK)
        l->read_hint = want - avail;
}

/*
 * The worker's reply f to its oldest request: its bytes at flat (the
 * frame's start), or, flat NULL, at the start of l->in. Returns false when
 * the worker is to be read no further.
 */
static bool reply_one(struct route *r, struct worker_link *l, const struct frame *f,
                      const unsigned char *flat, uint64_t *now)
{
    struct request *q = TAILQ_FIRST(&l->inflight);
    struct evbuffer_iovec first;

    if (q == NULL) {
        link_fail(l, "sent a reply with no request pending");
        return false;
    }
    TAILQ_REMOVE(&l->inflight, q, entry);
    l->ninflight--;
    inflight_sub(r);
    choice_release(&r->choice, &l->node);
    r->requests++;
    l->slot->requests++;
    /* Replies read together arrived together: one clock read for them. */
    if (*now == 0)
        *now = mono_now();
    if (flat != NULL) {
        request_complete(r, q, *now, FRAME_STATUS_OK, NULL, flat + f->body_off, f->body_len, NULL);
    } else if (f->body_len <= REPLY_FLAT_MAX &&
               evbuffer_peek(l->in, (ev_ssize_t)f->frame_len, NULL, &first, 1) == 1 &&
               first.iov_len >= f->frame_len) {
        /* A small reply lying whole in the first chain is copied from there, one drain. */
        request_complete(r, q, *now, FRAME_STATUS_OK, NULL,
                         (const unsigned char *)first.iov_base + f->body_off, f->body_len, NULL);
        evbuffer_drain(l->in, f->frame_len);
    } else {
        evbuffer_drain(l->in, f->body_off);
        request_complete(r, q, *now, FRAME_STATUS_OK, l->in, NULL, f->body_len, NULL);
        evbuffer_drain(l->in, f->frame_len - f->body_off - f->body_len);
    }
    if (r->recycle_memory)
        r->hooks.request_done(l->slot);
    /*
     * The request timer stays armed when the worker goes idle: it finds
     * nothing in flight when it fires, or a newer request and re-arms for
     * it. Disarmed here and armed again by the next dispatch, it cost a
     * libevent timer-heap removal and insertion per request at
     * worker_inflight = 1 (bench/RESULTS.md, issue 16).
     */
    if (l->ninflight == 0) {
        ran_dry++;
        link_idle(l);
    }
    return l->fd >= 0;
}

/*
 * The worker's next reply is larger than max_frame (f: the length its
 * header announced, in length framing). Its oldest request is answered
 * FAILED and not sent to another worker: a reply too large is most often
 * the request's own doing (a result the pool's max_frame cannot carry),
 * and another worker would only be killed for it too (nginx does not try
 * the next upstream on an invalid answer either). The worker's stream
 * cannot be followed past it: the worker is killed, and its other
 * requests go to other workers as when a worker dies.
 */
static void reply_too_big(struct route *r, struct worker_link *l, const struct frame *f)
{
    struct request *q = TAILQ_FIRST(&l->inflight);

    if (q != NULL) {
        char what[64], why[192];

        TAILQ_REMOVE(&l->inflight, q, entry);
        l->ninflight--;
        inflight_sub(r);
        choice_release(&r->choice, &l->node);
        if (r->framing == FRAMING_LENGTH)
            snprintf(what, sizeof(what), "reply of %zu bytes is larger", f->body_len);
        else
            snprintf(what, sizeof(what), "reply is a line longer");
        snprintf(why, sizeof(why),
                 "the worker's %s than max_frame (%zu bytes); not sent to another worker", what,
                 r->max_frame);
        if (q->client == NULL) {
            r->abandoned++;
            request_free(q);
        } else {
            r->failed++;
            request_fail(r, q, "FAILED", why);
        }
    }
    link_fail(l, "sent a reply larger than max_frame");
}

/* Replies from a worker, in the order of its requests, from l->in. */
static void read_replies(struct route *r, struct worker_link *l)
{
    uint64_t now = 0;

    l->read_hint = 0;
    for (;;) {
        size_t avail = evbuffer_get_length(l->in);
        struct frame f;
        enum frame_result fr;

        if (avail == 0)
            return;
        fr = frame_evbuffer_decode(l->in, r->framing, r->max_frame, &f);
        if (fr == FRAME_INCOMPLETE) {
            reply_read_hint(r, l, avail);
            return;
        }
        if (fr == FRAME_TOO_BIG) {
            reply_too_big(r, l, &f);
            return;
        }
        if (!reply_one(r, l, &f, NULL, &now))
            return;
    }
}

/*
 * The same from the n bytes one read brought into an empty l->in (see
 * scratch_read): whole replies are taken in place; the rest, the start of
 * a reply, goes to l->in.
 */
static void read_replies_flat(struct route *r, struct worker_link *l, const unsigned char *data,
                              size_t n)
{
    size_t off = 0;
    uint64_t now = 0;

    l->read_hint = 0;
    while (off < n) {
        struct frame f;
        enum frame_result fr = frame_decode(r->framing, data + off, n - off, r->max_frame, &f);

        if (fr == FRAME_INCOMPLETE)
            break;
        if (fr != FRAME_OK) {
            reply_too_big(r, l, &f);
            return;
        }
        if (!reply_one(r, l, &f, data + off, &now))
            return;
        off += f.frame_len;
    }
    if (off < n) {
        evbuffer_add(l->in, data + off, n - off);
        reply_read_hint(r, l, n - off);
    }
}

void router_replies_readable(struct route *r, struct worker_link *l, const unsigned char *data,
                             size_t n)
{
    bool was_dirty;

    if (data != NULL)
        read_replies_flat(r, l, data, n);
    else
        read_replies(r, l);
    was_dirty = l->dirty;
    router_dispatch_queued(r);
    /*
     * Requests taken from the queue for the worker that just answered go
     * out before the replies are written, so the worker is busy again
     * while clients read. (Requests clients sent in this pass still wait
     * for the end of it, to go out together.)
     */
    if (l->dirty && !was_dirty)
        link_write_now(l);
}

bool router_link_timed_out(struct route *r, struct worker_link *l)
{
    struct request *q = TAILQ_FIRST(&l->inflight);
    uint64_t now = mono_now();

    if (q == NULL)
        return false;
    if (now - q->dispatched_at < r->request_timeout_us) {
        link_arm_timeout(l, q->dispatched_at + r->request_timeout_us - now);
        return false;
    }
    q->timed_out = true;
    r->timeouts++;
    link_fail(l, "did not answer within request_timeout");
    return true;
}

void router_worker_gone(struct route *r, struct worker_link *l)
{
    struct request *q;

    /* Newest first, each inserted at the head, so the oldest ends up first. */
    while ((q = TAILQ_LAST(&l->inflight, request_list)) != NULL) {
        TAILQ_REMOVE(&l->inflight, q, entry);
        l->ninflight--;
        inflight_sub(r);
        if (q->client == NULL) {
            r->abandoned++; /* its client went away: not delivered again */
            request_free(q);
            continue;
        }
        /* At the shutdown's deadline nothing will serve it: answer at once. */
        if (droverd.shutdown_forced || queue_give_up(q, r->max_attempts)) {
            char why[128];
            r->failed++;
            if (droverd.shutdown_forced) {
                request_fail(r, q, "FAILED", "droverd shut down (shutdown_timeout)");
            } else if (q->timed_out) {
                char t[32];
                format_duration(r->request_timeout_us, t, sizeof(t));
                snprintf(why, sizeof(why), "no reply within %s (%u attempt%s)", t, q->attempts,
                         q->attempts == 1 ? "" : "s");
                request_fail(r, q, "TIMEOUT", why);
            } else {
                snprintf(why, sizeof(why), "the worker died (%u attempt%s)", q->attempts,
                         q->attempts == 1 ? "" : "s");
                request_fail(r, q, "FAILED", why);
            }
            continue;
        }
        r->retries++;
        q->queued_at = mono_now();
        queue_requeue_front(&r->queue, q);
        queue_timer_arm(r);
    }
}