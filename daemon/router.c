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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
#define CLIENT_MAX_OUTPUT         (4 << 20) /* replies a client has not taken before we stop reading */
#define CLIENT_PARTIAL_TIMEOUT_US (60 * USEC_PER_SEC) /* to finish a frame once begun */

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
};

/* Client connections of every pool, against what the fd limit leaves them. */
static unsigned clients_total;

static void router_flush(struct route *r);
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

/* Write every answered request at the head of the client's list, in order. */
static void client_flush_done(struct client *c)
{
    struct request *q;

    while ((q = TAILQ_FIRST(&c->pending)) != NULL && q->state == REQ_DONE) {
        TAILQ_REMOVE(&c->pending, q, client_entry);
        c->npending--;
        evbuffer_add_buffer(c->out, q->reply);
        request_free(q);
        client_mark_dirty(c);
    }
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
    dst = TAILQ_FIRST(&c->pending) == q ? c->out : (q->reply = evbuffer_new());
    reply_header(r, dst, status, len);
    if (error != NULL)
        evbuffer_add(dst, error, len);
    else
        evbuffer_remove_buffer(src, dst, body_len);
    reply_trailer(r, dst);
    if (dst == c->out) {
        TAILQ_REMOVE(&c->pending, q, client_entry);
        c->npending--;
        request_free(q);
        client_mark_dirty(c);
        client_flush_done(c);
    }
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

/* A new request from a client: to a worker now, to the queue, or BUSY. */
static void router_submit(struct route *r, struct request *q)
{
    struct choice_node *n;

    if (queue_empty(&r->queue) && (n = choice_take(&r->choice)) != NULL) {
        dispatch(r, q, link_of(n));
        return;
    }
    if (queue_submit(&r->queue, q, r->max_queue) == QUEUE_BUSY) {
        char why[64];
        r->busy++;
        snprintf(why, sizeof(why), "queue full (%u waiting)", r->queue.n);
        request_fail(r, q, "BUSY", why);
    }
}

/* Give queued requests to workers with room, oldest first. */
static void router_dispatch_queued(struct route *r)
{
    struct choice_node *n;

    while (queue_first(&r->queue) != NULL && (n = choice_take(&r->choice)) != NULL)
        dispatch(r, queue_next(&r->queue), link_of(n));
}

static void router_pump(struct route *r)
{
    router_dispatch_queued(r);
    router_flush(r);
}

/* Replies from a worker, in the order of its requests. */
static void read_replies(struct route *r, struct worker_link *l)
{
    for (;;) {
        size_t avail = evbuffer_get_length(l->in);
        struct frame f;
        enum frame_result fr;
        struct request *q;

        if (avail == 0)
            return;
        fr = frame_evbuffer_decode(l->in, r->framing, r->max_frame, &f);
        if (fr == FRAME_INCOMPLETE)
            return;
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
        queue_requeue_front(&r->queue, q);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Clients                                                                                  */

static void client_update_reading(struct client *c)
{
    struct route *r = c->route;
    bool want = !c->eof && r->accepting && c->npending < CLIENT_MAX_PENDING &&
                evbuffer_get_length(c->out) < CLIENT_MAX_OUTPUT;

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
            queue_remove(&r->queue, q);
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
    event_free(c->rev);
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

/* Replies go to clients at the end of the callback that produced them, one write per client. */
static void router_flush(struct route *r)
{
    struct client *c;

    while ((c = TAILQ_FIRST(&r->dirty_clients)) != NULL) {
        TAILQ_REMOVE(&r->dirty_clients, c, dirty_entry);
        c->dirty = false;
        client_write(c);
    }
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

static void client_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    struct route *r = c->route;
    ssize_t n = buffer_read(c->in, (int)fd, READ_CHUNK);

    (void)what;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n < 0) {
        client_close(c);
        router_flush(r);
        return;
    }
    if (n == 0) {
        /* The client is done sending; answer what it asked, then close. */
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
