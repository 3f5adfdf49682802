/* SPDX-License-Identifier: ISC */
/*
 * Message mode (see router.h and docs/protocol.md). A request's path:
 * client_read_cb -> client_parse -> router_submit -> dispatch (queued in
 * the worker's link for the end of the pass, link.c) ... the worker's
 * reply -> router_link_readable -> read_replies -> request_complete ->
 * the client's output, written by router_flush at the end of the callback.
 */
#include "router.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "budget.h"
#include "droverd.h"
#include "frame.h"
#include "listen.h"
#include "linger.h"
#include "log.h"
#include "parse.h"
#include "sys.h"
#include "xmalloc.h"

#define ROUTE_MAX_CLIENTS         10000 /* per pool; more wait in the listen backlog */
#define CLIENT_MAX_PENDING        256 /* a client's requests not yet answered before we stop reading */
#define CLIENT_PARTIAL_TIMEOUT_US (60 * USEC_PER_SEC) /* to finish a frame once begun */
/*
 * After the daemon's clients held TRIM_HIGH bytes or more, once they hold
 * TRIM_LOW or less the heap is trimmed: glibc keeps freed memory (and its
 * mmap threshold grows with large frames), so a burst of big requests
 * would otherwise leave droverd's RSS at its peak.
 */
#define TRIM_HIGH        (1u << 20)
#define TRIM_LOW         (256u << 10)
#define TRIM_INTERVAL_US (1 * USEC_PER_SEC) /* at most one trim a second; a due one waits */
#define READ_MIN         4096  /* the least one read of a client takes, whatever its budgets say */
#define REPLY_COPY_MAX   32768 /* smaller replies held for a client are copied, not moved */

const double route_latency_bounds_s[ROUTE_LATENCY_NBUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
const size_t route_latency_nbounds = ROUTE_LATENCY_NBUCKETS;

struct client {
    TAILQ_ENTRY(client) entry;
    TAILQ_ENTRY(client) dirty_entry;
    struct route *route;
    int fd;
    struct event *rev, *wev, *partial_ev;
    struct evbuffer *in, *out;
    struct request_list pending;
    unsigned npending;
    bool reading;           /* read event armed */
    bool eof;               /* the client finished sending */
    bool dirty;             /* output waiting for the end-of-callback flush */
    uint64_t partial_since; /* when bytes of an incomplete frame started waiting; 0 = none */
    /*
     * Memory: held_items is the bytes of its requests' data and of replies
     * waiting for older ones; held, what the budgets were last told (those
     * plus the unparsed input and the unwritten output).
     */
    uint64_t held_items, held;
    /* While not reading: tells when the client hangs up (NULL: the backend cannot). */
    struct event *hup_ev;
    bool hup_watch; /* hup_ev is added */
    bool hup_seen;  /* it half-closed while not read: stop watching */
};

/* Client connections of every pool, against what the fd limit leaves them. */
static unsigned clients_total;
/* Bytes the clients of every pool hold, against buffer_limit. */
static struct budget daemon_budget;
static uint64_t last_trim;
static struct event *trim_ev; /* a trim that was due too soon after the last one */

static void router_flush(struct route *r);
static void router_trim(void);
static void client_close(struct client *c);
static int client_parse(struct client *c);

unsigned router_clients_total(void)
{
    return clients_total;
}

/* ---------------------------------------------------------------------------------------- */
/* Requests and replies                                                                     */

static void request_free(struct request *q)
{
    if (q->reply != NULL)
        evbuffer_free(q->reply);
    free(q->data);
    free(q);
}

static void client_mark_dirty(struct client *c)
{
    if (!c->dirty) {
        c->dirty = true;
        TAILQ_INSERT_TAIL(&c->route->dirty_clients, c, dirty_entry);
    }
}

/* Reply header for a payload of len bytes with this status, into out. */
static void reply_header(const struct route *r, struct evbuffer *out, char status, size_t len)
{
    if (r->framing == FRAMING_LENGTH) {
        unsigned char hdr[FRAME_LENGTH_HEADER + 1];
        frame_length_encode(hdr, (uint32_t)(len + 1));
        hdr[FRAME_LENGTH_HEADER] = (unsigned char)status;
        evbuffer_add(out, hdr, sizeof(hdr));
    } else {
        evbuffer_add(out, &status, 1);
    }
}

static void reply_trailer(const struct route *r, struct evbuffer *out)
{
    if (r->framing == FRAMING_LINE)
        evbuffer_add(out, "\n", 1);
}

static void record_latency(struct route *r, const struct request *q)
{
    double s = (double)(mono_now() - q->received_at) / 1e6;
    size_t b = 0;

    while (b < ROUTE_LATENCY_NBUCKETS && s > route_latency_bounds_s[b])
        b++;
    if (b < ROUTE_LATENCY_NBUCKETS)
        r->buckets[b]++;
    r->latency_count++;
    r->latency_sum += s;
}

/* Tell the pool's and the daemon's budgets what the client holds now. */
static void client_account(struct client *c)
{
    uint64_t now = c->held_items + evbuffer_get_length(c->in) + evbuffer_get_length(c->out);

    if (now == c->held)
        return;
    budget_change(&c->route->budget, c->held, now);
    budget_change(&daemon_budget, c->held, now);
    c->held = now;
}

/* Write every answered request at the head of the client's list, in order. */
static void client_flush_done(struct client *c)
{
    struct request *q;

    while ((q = TAILQ_FIRST(&c->pending)) != NULL && q->state == REQ_DONE) {
        TAILQ_REMOVE(&c->pending, q, client_entry);
        c->npending--;
        c->held_items -= evbuffer_get_length(q->reply);
        evbuffer_add_buffer(c->out, q->reply);
        request_free(q);
        client_mark_dirty(c);
    }
}

/*
 * A small reply that will be kept a while (the client has not taken the
 * ones before it) is copied, packed behind them: moved, it would keep the
 * whole read chain it arrived in (up to 64 KiB for a few bytes).
 */
static void reply_copy(struct evbuffer *src, struct evbuffer *dst, size_t len)
{
    struct evbuffer_iovec v[4];
    int n = evbuffer_peek(src, (ev_ssize_t)len, NULL, v, 4);
    size_t left = len;

    if (n < 0 || n > 4) {
        evbuffer_remove_buffer(src, dst, len);
        return;
    }
    for (int i = 0; i < n && left > 0; i++) {
        size_t take = v[i].iov_len < left ? v[i].iov_len : left;
        evbuffer_add(dst, v[i].iov_base, take);
        left -= take;
    }
    evbuffer_drain(src, len);
}

/*
 * The request has its answer: body bytes taken from src (a worker's
 * reply), or an error text. Written at once when it is the client's oldest
 * outstanding request; kept otherwise.
 */
static void request_complete(struct route *r, struct request *q, char status, struct evbuffer *src,
                             size_t body_len, const char *error)
{
    struct client *c = q->client;
    struct evbuffer *dst;
    size_t len = error != NULL ? strlen(error) : body_len;

    record_latency(r, q);
    if (c == NULL) {
        /* The client left; the reply goes nowhere. */
        if (src != NULL)
            evbuffer_drain(src, body_len);
        request_free(q);
        return;
    }
    q->state = REQ_DONE;
    /* Answered: its bytes are not sent again. */
    c->held_items -= q->len;
    free(q->data);
    q->data = NULL;
    dst = TAILQ_FIRST(&c->pending) == q ? c->out : (q->reply = evbuffer_new());
    reply_header(r, dst, status, len);
    if (error != NULL)
        evbuffer_add(dst, error, len);
    else if (body_len < REPLY_COPY_MAX && (dst != c->out || evbuffer_get_length(c->out) > 0))
        reply_copy(src, dst, body_len);
    else
        evbuffer_remove_buffer(src, dst, body_len);
    reply_trailer(r, dst);
    if (dst == c->out) {
        TAILQ_REMOVE(&c->pending, q, client_entry);
        c->npending--;
        request_free(q);
        client_mark_dirty(c);
        client_flush_done(c);
    } else {
        c->held_items += evbuffer_get_length(dst);
    }
    client_account(c);
}

static void request_fail(struct route *r, struct request *q, const char *code, const char *why)
{
    char text[256];

    snprintf(text, sizeof(text), "%s %s", code, why);
    request_complete(r, q, FRAME_STATUS_ERROR, NULL, 0, text);
}

/* ---------------------------------------------------------------------------------------- */
/* Requests to workers                                                                      */

static void dispatch(struct route *r, struct request *q, struct worker_link *l)
{
    link_count_delivery(l, r->max_requests);
    queue_mark_dispatched(q, mono_now());
    TAILQ_INSERT_TAIL(&l->inflight, q, entry);
    l->ninflight++;
    r->inflight_total++;
    evbuffer_add(l->out, q->data, q->len);
    link_mark_dirty(l);
    /* One lazy timer per worker: armed for the oldest request, re-armed when it fires early. */
    if (!l->timeout_armed)
        link_arm_timeout(l, r->request_timeout_us);
}

static void queue_timeout_cb(evutil_socket_t fd, short what, void *arg);

/*
 * queue_timeout: one lazy timer per pool, armed for the oldest waiting
 * request when none is armed; when it fires it answers what expired and
 * re-arms for the next (no timer per request).
 */
static void queue_timer_arm(struct route *r)
{
    uint64_t after = r->queue_timeout_us;

    if (r->queue_timer_armed || after == 0)
        return;
    if (r->queue_ev == NULL)
        r->queue_ev = evtimer_new(droverd.base, queue_timeout_cb, r);
    struct timeval tv = {(time_t)(after / 1000000), (suseconds_t)(after % 1000000)};
    event_add(r->queue_ev, &tv);
    r->queue_timer_armed = true;
}

static void queue_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct route *r = arg;
    uint64_t now = mono_now(), next;
    struct request *q;

    (void)fd;
    (void)what;
    r->queue_timer_armed = false;
    if (r->queue_timeout_us == 0)
        return;
    while ((q = queue_take_expired(&r->queue, now, r->queue_timeout_us)) != NULL) {
        char why[96], t[32];
        r->queue_timeouts++;
        format_duration(r->queue_timeout_us, t, sizeof(t));
        snprintf(why, sizeof(why), "no worker took the request within %s (queue_timeout)", t);
        request_fail(r, q, "TIMEOUT", why);
    }
    next = queue_next_expiry(&r->queue, r->queue_timeout_us);
    if (next != 0) {
        uint64_t after = next > now ? next - now : 1;
        struct timeval tv = {(time_t)(after / 1000000), (suseconds_t)(after % 1000000)};
        event_add(r->queue_ev, &tv);
        r->queue_timer_armed = true;
    }
    router_flush(r);
    route_check_drained(r);
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

static struct choice_node *router_take(struct route *r)
{
    struct prefetch_test t = {.r = r};

    if (r->prefetch_max_age_us == 0)
        return choice_take(&r->choice);
    return choice_take_if(&r->choice, prefetch_ok, &t);
}

/* A new request from a client: to a worker now, to the queue, or BUSY. */
static void router_submit(struct route *r, struct request *q)
{
    struct choice_node *n;

    if (queue_empty(&r->queue) && (n = router_take(r)) != NULL) {
        dispatch(r, q, link_of(n));
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

    while (queue_first(&r->queue) != NULL && (n = router_take(r)) != NULL)
        dispatch(r, queue_next(&r->queue), link_of(n));
}

static void router_pump(struct route *r)
{
    router_dispatch_queued(r);
    /* Requests left waiting get their queue_timeout (it may have been set by a reload). */
    if (!queue_empty(&r->queue))
        queue_timer_arm(r);
    router_flush(r);
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

/* Replies from a worker, in the order of its requests. */
static void read_replies(struct route *r, struct worker_link *l)
{
    l->read_hint = 0;
    for (;;) {
        size_t avail = evbuffer_get_length(l->in);
        struct frame f;
        enum frame_result fr;
        struct request *q;

        if (avail == 0)
            return;
        fr = frame_evbuffer_decode(l->in, r->framing, r->max_frame, &f);
        if (fr == FRAME_INCOMPLETE) {
            reply_read_hint(r, l, avail);
            return;
        }
        if (fr == FRAME_TOO_BIG) {
            link_fail(l, "sent a reply larger than max_frame");
            return;
        }
        q = TAILQ_FIRST(&l->inflight);
        if (q == NULL) {
            link_fail(l, "sent a reply with no request pending");
            return;
        }
        TAILQ_REMOVE(&l->inflight, q, entry);
        l->ninflight--;
        r->inflight_total--;
        choice_release(&r->choice, &l->node);
        evbuffer_drain(l->in, f.body_off);
        r->requests++;
        l->slot->requests++;
        request_complete(r, q, FRAME_STATUS_OK, l->in, f.body_len, NULL);
        evbuffer_drain(l->in, f.frame_len - f.body_off - f.body_len);
        if (r->recycle_memory)
            r->hooks.request_done(l->slot);
        if (l->ninflight == 0) {
            link_disarm_timeout(l);
            link_idle(l);
        }
        if (l->fd < 0)
            return;
    }
}

static void router_link_readable(void *owner, struct worker_link *l)
{
    struct route *r = owner;
    bool was_dirty;

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
    router_flush(r);
    route_check_drained(r);
}

static void router_link_timeout(void *owner, struct worker_link *l)
{
    struct route *r = owner;
    struct request *q = TAILQ_FIRST(&l->inflight);
    uint64_t now = mono_now();

    if (q == NULL)
        return;
    if (now - q->dispatched_at < r->request_timeout_us) {
        link_arm_timeout(l, q->dispatched_at + r->request_timeout_us - now);
        return;
    }
    q->timed_out = true;
    r->timeouts++;
    link_fail(l, "did not answer within request_timeout");
    router_flush(r);
}

static void router_links_flushed(void *owner)
{
    router_flush(owner);
}

/* The worker is gone: its unanswered requests go back to the head of the queue, or fail. */
static void router_worker_gone(struct route *r, struct worker_link *l)
{
    struct request *q;

    /* Newest first, each inserted at the head, so the oldest ends up first. */
    while ((q = TAILQ_LAST(&l->inflight, request_list)) != NULL) {
        TAILQ_REMOVE(&l->inflight, q, entry);
        l->ninflight--;
        r->inflight_total--;
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

/* ---------------------------------------------------------------------------------------- */
/* Clients                                                                                  */

/*
 * Read the client only within its budgets: its own client_buffer, and,
 * when the pool (pool_buffer) or the daemon (buffer_limit) is at its
 * bound, its fair share of it, so the clients holding the most stop first
 * and the socket pushes back on them. A client is stopped only while
 * something will wake it again (a request of its own to be answered, or
 * replies for it to take); one with neither may always send its next
 * request, however large, so no client waits on a budget it cannot free.
 */
static bool client_within_budget(const struct client *c)
{
    const struct route *r = c->route;

    if (c->npending == 0 && evbuffer_get_length(c->out) == 0)
        return true;
    if (c->held >= r->client_buffer)
        return false;
    daemon_budget.limit = droverd.config != NULL ? droverd.config->daemon.buffer_limit : 0;
    return budget_may_read(&r->budget, c->held) && budget_may_read(&daemon_budget, c->held);
}

/*
 * How much one read may take: what is left below the client's bounds, so
 * many clients at once pass a bound by little; at least READ_MIN, so a
 * request in progress still completes.
 */
static size_t client_read_size(const struct client *c)
{
    const struct route *r = c->route;
    uint64_t room = r->client_buffer > c->held ? r->client_buffer - c->held : 0;
    uint64_t pool = budget_room(&r->budget, c->held), all = budget_room(&daemon_budget, c->held);

    if (pool < room)
        room = pool;
    if (all < room)
        room = all;
    return room < READ_MIN ? READ_MIN : room > READ_CHUNK ? READ_CHUNK : (size_t)room;
}

static void client_update_reading(struct client *c)
{
    struct route *r = c->route;
    bool want =
        !c->eof && r->accepting && c->npending < CLIENT_MAX_PENDING && client_within_budget(c);
    /* Not read, a client that hangs up is still noticed, so its queued requests are dropped. */
    bool watch = !want && !c->eof && !c->hup_seen && c->hup_ev != NULL && c->npending > 0;

    if (watch != c->hup_watch) {
        c->hup_watch = watch;
        if (watch)
            event_add(c->hup_ev, NULL);
        else
            event_del(c->hup_ev);
    }
    if (want == c->reading)
        return;
    c->reading = want;
    if (want)
        event_add(c->rev, NULL);
    else
        event_del(c->rev);
}

static void client_free(struct client *c)
{
    struct route *r = c->route;
    struct request *q, *next;

    TAILQ_FOREACH_SAFE(q, &c->pending, client_entry, next) {
        TAILQ_REMOVE(&c->pending, q, client_entry);
        switch (q->state) {
        case REQ_QUEUED:
            /* Never delivered: nobody would take the reply. */
            queue_remove(&r->queue, q);
            r->abandoned++;
            request_free(q);
            break;
        case REQ_INFLIGHT:
            q->client = NULL; /* answered into the void when it returns */
            break;
        case REQ_DONE:
            request_free(q);
            break;
        }
    }
    if (c->dirty)
        TAILQ_REMOVE(&r->dirty_clients, c, dirty_entry);
    TAILQ_REMOVE(&r->clients, c, entry);
    r->nclients--;
    clients_total--;
    budget_change(&r->budget, c->held, 0);
    budget_change(&daemon_budget, c->held, 0);
    event_free(c->rev);
    if (c->hup_ev != NULL)
        event_free(c->hup_ev);
    event_free(c->wev);
    event_free(c->partial_ev);
    evbuffer_free(c->in);
    if (c->out != NULL)
        evbuffer_free(c->out);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    /* A client closed: pools paused for want of fds may take connections again. */
    listener_update_all();
}

/* Free a client, first handing its unwritten replies to a lingering connection. */
static void client_release(struct client *c)
{
    if (evbuffer_get_length(c->out) > 0 && c->fd >= 0) {
        linger_add(c->fd, c->out);
        c->fd = -1;
        c->out = NULL;
    }
    client_free(c);
}

static void router_release_clients(struct route *r)
{
    struct client *c;
    struct request *q;

    /* No worker will take what still waits: answer it rather than drop it. */
    while ((q = queue_next(&r->queue)) != NULL) {
        r->failed++;
        request_fail(r, q, "FAILED", "droverd shut down or removed the pool");
    }

    while ((c = TAILQ_FIRST(&r->clients)) != NULL)
        client_release(c);
}

static void client_close(struct client *c)
{
    client_free(c);
}

static void client_write(struct client *c)
{
    if (evbuffer_get_length(c->out) > 0 && evbuffer_write(c->out, c->fd) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK) {
        client_close(c);
        return;
    }
    client_account(c);
    /*
     * Requests already read but left unparsed at the pending cap: nothing
     * new may arrive on the socket to wake us for them, so take them now.
     */
    if (c->npending < CLIENT_MAX_PENDING && evbuffer_get_length(c->in) > 0 && c->route->accepting &&
        client_parse(c) != 0)
        return;
    if (evbuffer_get_length(c->out) > 0) {
        event_add(c->wev, NULL);
    } else if (c->eof && c->npending == 0) {
        client_close(c);
        return;
    }
    client_update_reading(c);
}

static void client_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    client_write(arg);
}

static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    router_trim();
}

/*
 * Give the heap back after a burst (see TRIM_HIGH), at most once per
 * TRIM_INTERVAL_US: under steady load the clients' bytes rise and fall all
 * the time, and a trim is not free. One that comes too soon waits on a timer.
 */
static void router_trim(void)
{
    uint64_t now;

    if (daemon_budget.peak < TRIM_HIGH || daemon_budget.held > TRIM_LOW)
        return;
    now = mono_now();
    if (now - last_trim < TRIM_INTERVAL_US) {
        uint64_t left = last_trim + TRIM_INTERVAL_US - now;
        struct timeval tv = {(time_t)(left / 1000000), (suseconds_t)(left % 1000000)};
        if (trim_ev == NULL)
            trim_ev = evtimer_new(droverd.base, trim_cb, NULL);
        if (!event_pending(trim_ev, EV_TIMEOUT, NULL))
            event_add(trim_ev, &tv);
        return;
    }
    if (budget_trim_due(&daemon_budget, TRIM_HIGH, TRIM_LOW)) {
        malloc_trim(0);
        last_trim = now;
    }
}

/* Replies go to clients at the end of the callback that produced them, one write per client. */
static void router_flush(struct route *r)
{
    struct client *c;

    while ((c = TAILQ_FIRST(&r->dirty_clients)) != NULL) {
        TAILQ_REMOVE(&r->dirty_clients, c, dirty_entry);
        c->dirty = false;
        client_write(c);
    }
    router_trim();
}

static void client_bad_frame(struct client *c, const char *why)
{
    struct route *r = c->route;

    r->bad_frames++;
    log_debug("pool %s: client sent %s; closing it", r->name, why);
    client_close(c);
}

/* Cut complete frames out of the client's input and submit them. Returns -1 if closed. */
static int client_parse(struct client *c)
{
    struct route *r = c->route;

    for (;;) {
        size_t avail = evbuffer_get_length(c->in);
        struct request *q;
        struct frame f;
        size_t frame_len;

        if (avail == 0 || c->npending >= CLIENT_MAX_PENDING)
            return 0;
        switch (frame_evbuffer_decode(c->in, r->framing, r->max_frame, &f)) {
        case FRAME_OK:
            break;
        case FRAME_INCOMPLETE:
            return 0;
        default:
            client_bad_frame(c, r->framing == FRAMING_LENGTH ? "a frame larger than max_frame"
                                                             : "a line longer than max_frame");
            return -1;
        }
        frame_len = f.frame_len;
        q = xcalloc(1, sizeof(*q));
        q->client = c;
        q->received_at = mono_now();
        /* Kept whole, because a retry sends exactly the same bytes again. */
        q->len = frame_len;
        q->data = xmalloc(frame_len);
        evbuffer_remove(c->in, q->data, frame_len);
        c->held_items += frame_len;
        TAILQ_INSERT_TAIL(&c->pending, q, client_entry);
        c->npending++;
        router_submit(r, q);
    }
}

static void client_partial_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    uint64_t now = mono_now();

    (void)fd;
    (void)what;
    if (c->partial_since == 0 || evbuffer_get_length(c->in) == 0)
        return;
    if (now - c->partial_since >= CLIENT_PARTIAL_TIMEOUT_US) {
        client_bad_frame(c, "half a frame and then nothing for 60s");
        return;
    }
    uint64_t left = c->partial_since + CLIENT_PARTIAL_TIMEOUT_US - now;
    struct timeval tv = {(time_t)(left / 1000000), (suseconds_t)(left % 1000000)};
    event_add(c->partial_ev, &tv);
}

/*
 * The client closed its socket altogether, not just its sending half
 * (shutdown(SHUT_WR), after which it still waits for replies): a Unix
 * socket says so with POLLHUP. Over TCP the two look alike until a reply
 * cannot be written.
 */
static bool client_hung_up(const struct client *c)
{
    struct pollfd p = {.fd = c->fd, .events = 0};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

/* The client has gone: what it asked and nobody took yet is dropped (counted), not delivered. */
static void client_gone(struct client *c)
{
    log_debug("pool %s: client hung up with %u request%s unanswered", c->route->name, c->npending,
              c->npending == 1 ? "" : "s");
    client_close(c);
}

/* A client not being read hung up or half-closed. */
static void client_hup_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    struct route *r = c->route;

    (void)fd;
    (void)what;
    if (client_hung_up(c)) {
        client_gone(c);
        router_flush(r);
        return;
    }
    /* Only half-closed: the rest of its input is read when reading resumes. */
    c->hup_seen = true;
    client_update_reading(c);
}

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    struct route *r = c->route;
    ssize_t n = buffer_read(c->in, (int)fd, client_read_size(c));

    (void)what;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n < 0) {
        client_close(c);
        router_flush(r);
        return;
    }
    if (n == 0 && client_hung_up(c)) {
        client_gone(c);
        router_flush(r);
        return;
    }
    if (n == 0) {
        /* The client is done sending (a half-close); answer what it asked, then close. */
        c->eof = true;
        client_update_reading(c);
        if (evbuffer_get_length(c->in) > 0 && client_parse(c) != 0) {
            router_flush(r);
            return;
        }
        if (c->npending == 0 && evbuffer_get_length(c->out) == 0)
            client_close(c);
        router_flush(r);
        return;
    }
    if (client_parse(c) != 0) {
        router_flush(r);
        return;
    }
    /* Bytes of an unfinished frame start a deadline, armed only in that case. */
    if (evbuffer_get_length(c->in) == 0) {
        c->partial_since = 0;
    } else if (c->partial_since == 0) {
        struct timeval tv = {CLIENT_PARTIAL_TIMEOUT_US / USEC_PER_SEC, 0};
        c->partial_since = mono_now();
        if (!event_pending(c->partial_ev, EV_TIMEOUT, NULL))
            event_add(c->partial_ev, &tv);
    }
    client_account(c);
    client_update_reading(c);
    router_flush(r);
}

static void client_new(struct route *r, int fd)
{
    struct client *c = xcalloc(1, sizeof(*c));

    c->route = r;
    c->fd = fd;
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    TAILQ_INIT(&c->pending);
    c->rev = event_new(droverd.base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
    c->wev = event_new(droverd.base, fd, EV_WRITE, client_write_cb, c);
    c->partial_ev = evtimer_new(droverd.base, client_partial_cb, c);
    if (event_base_get_features(droverd.base) & EV_FEATURE_EARLY_CLOSE)
        c->hup_ev = event_new(droverd.base, fd, EV_CLOSED | EV_PERSIST, client_hup_cb, c);
    TAILQ_INSERT_TAIL(&r->clients, c, entry);
    r->nclients++;
    clients_total++;
    client_update_reading(c);
}

/* ---------------------------------------------------------------------------------------- */
/* The mode's operations (route_mode.h)                                                     */

static int router_prepare_spawn(struct route *r, struct slot *s, struct route_spawn *rs, char *err,
                                size_t errsz)
{
    if (link_prepare_spawn(&r->links, s, r->stdio, rs, err, errsz) != 0)
        return -1;
    xasprintf(&rs->env[rs->nenv++], "DROVER_FRAMING=%s", framing_name(r->framing));
    return 0;
}

static bool router_has_room(const struct route *r)
{
    return r->nclients < ROUTE_MAX_CLIENTS;
}

static void router_accepted(struct route *r, int fd)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on Unix: fine */
    client_new(r, fd);
}

/* Requests already read are answered; nothing more is read. */
static void router_stop_accepting(struct route *r)
{
    struct client *c;

    TAILQ_FOREACH(c, &r->clients, entry)
        client_update_reading(c);
}

static void router_stats(const struct route *r, struct route_stats *out)
{
    out->latency_buckets = r->buckets;
    out->nbuckets = ROUTE_LATENCY_NBUCKETS;
    out->latency_count = r->latency_count;
    out->latency_sum_s = r->latency_sum;
}

static const struct link_ops router_link_ops = {
    .readable = router_link_readable,
    .writable = link_write,
    .timeout = router_link_timeout,
    .flushed = router_links_flushed,
};

const struct route_mode_ops message_ops = {
    .accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC,
    .defers_stop = true,
    .link_ops = &router_link_ops,
    .prepare_spawn = router_prepare_spawn,
    .has_room = router_has_room,
    .accepted = router_accepted,
    .pump = router_pump,
    .worker_gone = router_worker_gone,
    .stop_accepting = router_stop_accepting,
    .release_clients = router_release_clients,
    .stats = router_stats,
};
