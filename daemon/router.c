/* SPDX-License-Identifier: ISC */
/*
 * Message mode, top layer (see router.h and docs/protocol.md): client
 * connections and the mode's operations. Owns clients (accept, read within
 * the budgets, parse frames, write replies, hang-ups, the partial-frame
 * deadline), the end-of-callback flush of replies to clients, the heap
 * trim, and every libevent callback of the mode (clients', the queue
 * timer's, the links'). Calls down: router_dispatch.c (a request to a
 * worker, replies, retries) and router_reply.c (answers, budgets);
 * neither calls back up. A request's path: client_read_cb -> client_parse
 * -> router_submit -> dispatch (queued in the worker's link for the end of
 * the pass, link.c) ... the worker's reply -> router_link_readable ->
 * read_replies -> request_complete -> the client's output, written by
 * router_flush at the end of the callback.
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
#include "router_dispatch.h"
#include "router_reply.h"
#include "sys.h"
#include "xmalloc.h"

#define ROUTE_MAX_CLIENTS  10000 /* per pool; more wait in the listen backlog */
#define CLIENT_MAX_PENDING 256   /* a client's requests not yet answered before we stop reading */
/*
 * After the daemon's clients held TRIM_HIGH bytes or more, once they hold
 * TRIM_LOW or less the heap is trimmed: glibc keeps freed memory (and its
 * mmap threshold grows with large frames), so a burst of big requests
 * would otherwise leave droverd's RSS at its peak.
 */
#define TRIM_HIGH        (1u << 20)
#define TRIM_LOW         (256u << 10)
#define TRIM_INTERVAL_US (1 * USEC_PER_SEC) /* at most one trim a second; a due one waits */

const double route_latency_bounds_s[ROUTE_LATENCY_NBUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
const size_t route_latency_nbounds = ROUTE_LATENCY_NBUCKETS;

/* Client connections of every pool, against what the fd limit leaves them. */
static unsigned clients_total;
static uint64_t last_trim;
static struct event *trim_ev; /* a trim that was due too soon after the last one */

static void router_flush(struct route *r);
static void router_trim(void);
static void client_close(struct client *c);
static void client_gone(struct client *c);
static void client_parse(struct client *c);

unsigned router_clients_total(void)
{
    return clients_total;
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
    struct budget *all = router_daemon_budget();

    if (c->npending == 0 && outbuf_len(&c->out) == 0)
        return true;
    if (c->held >= r->client_buffer)
        return false;
    all->limit = droverd.config != NULL ? droverd.config->daemon.buffer_limit : 0;
    return budget_may_read(&r->budget, c->held) && budget_may_read(all, c->held);
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
    uint64_t pool = budget_room(&r->budget, c->held),
             all = budget_room(router_daemon_budget(), c->held);

    if (pool < room)
        room = pool;
    if (all < room)
        room = all;
    return room < READ_MIN ? READ_MIN : room > READ_CHUNK ? READ_CHUNK : (size_t)room;
}

/*
 * The deadline of an unfinished frame: frame_timeout from now, when its
 * count starts (bytes left after a read, or reading resumes with some);
 * each frame completed stops it (client_submit_frame).
 */
static void client_partial_start(struct client *c, uint64_t now)
{
    c->partial_since = now;
    if (!event_pending(c->partial_ev, EV_TIMEOUT, NULL)) {
        uint64_t t = c->route->frame_timeout_us;
        struct timeval tv = {(time_t)(t / USEC_PER_SEC), (suseconds_t)(t % USEC_PER_SEC)};
        event_add(c->partial_ev, &tv);
    }
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
    if (want) {
        event_add(c->rev, NULL);
        /* An unfinished frame's frame_timeout counts only while droverd reads the client. */
        if (evbuffer_get_length(c->in) > 0)
            client_partial_start(c, mono_now());
    } else {
        event_del(c->rev);
    }
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
    budget_change(router_daemon_budget(), c->held, 0);
    event_free(c->rev);
    if (c->hup_ev != NULL)
        event_free(c->hup_ev);
    event_free(c->wev);
    event_free(c->partial_ev);
    evbuffer_free(c->in);
    if (c->out.ev != NULL)
        evbuffer_free(c->out.ev);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    /* Whatever path closed it (a failed write among them), the memory it held may go back. */
    router_trim();
    /* A client closed: pools paused for want of fds may take connections again. */
    listener_update_all();
}

/* Free a client, first handing its unwritten replies to a lingering connection. */
static void client_release(struct client *c)
{
    if (outbuf_len(&c->out) > 0 && c->fd >= 0) {
        outbuf_spill(&c->out);
        linger_add(c->fd, c->out.ev);
        c->fd = -1;
        c->out.ev = NULL;
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
    size_t out = outbuf_len(&c->out), in;

    if (out > 0) {
        ssize_t n = outbuf_write(&c->out, c->fd);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            client_close(c);
            return;
        }
        if (n > 0)
            out -= (size_t)n;
    }
    in = evbuffer_get_length(c->in);
    client_account_len(c, in, out);
    /*
     * Requests already read but left unparsed at the pending cap: nothing
     * new may arrive on the socket to wake us for them, so take them now.
     */
    if (c->npending < CLIENT_MAX_PENDING && in > 0 && c->route->accepting) {
        client_parse(c);
        out = outbuf_len(&c->out);
    }
    if (out > 0) {
        event_add(c->wev, NULL);
    } else if (c->eof && c->npending == 0) {
        if (c->refused) {
            /* It may still be sending what droverd will not read: the end waits for it. */
            linger_close(c->fd);
            c->fd = -1;
        }
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

static bool trim_again; /* a trim after a burst is done once more, TRIM_INTERVAL_US later */

static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (trim_again) {
        /* What workers still held for the burst's clients was freed after the first trim. */
        trim_again = false;
        malloc_trim(0);
        last_trim = mono_now();
        return;
    }
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

    if (router_daemon_budget()->peak < TRIM_HIGH || router_daemon_budget()->held > TRIM_LOW)
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
    if (budget_trim_due(router_daemon_budget(), TRIM_HIGH, TRIM_LOW)) {
        struct timeval tv = {TRIM_INTERVAL_US / USEC_PER_SEC, TRIM_INTERVAL_US % USEC_PER_SEC};
        malloc_trim(0);
        last_trim = now;
        trim_again = true;
        if (trim_ev == NULL)
            trim_ev = evtimer_new(droverd.base, trim_cb, NULL);
        event_del(trim_ev);
        event_add(trim_ev, &tv);
    }
}

/* Replies go to clients at the end of the callback that produced them, one write per client. */
static void router_flush(struct route *r)
{
    struct client *c;

    while ((c = TAILQ_FIRST(&r->dirty_clients)) != NULL) {
        TAILQ_REMOVE(&r->dirty_clients, c, dirty_entry);
        c->dirty = false;
        if (c->gone)
            client_gone(c);
        else
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

/* A frame's bytes out of the input: straight from its first chain when that holds them. */
static void take_bytes(struct evbuffer *in, unsigned char *dst, size_t len)
{
    struct evbuffer_iovec v;

    if (evbuffer_peek(in, (ev_ssize_t)len, NULL, &v, 1) == 1 && v.iov_len >= len) {
        memcpy(dst, v.iov_base, len);
        evbuffer_drain(in, len);
    } else {
        evbuffer_remove(in, dst, len);
    }
}

/* A frame of frame_len bytes, at flat or at the start of c->in, becomes a request. */
static void client_submit_frame(struct client *c, const unsigned char *flat, size_t frame_len,
                                uint64_t *now)
{
    struct request *q;

    /* Frames read together arrived together: one clock read for them. */
    if (*now == 0)
        *now = mono_now();
    /* Kept whole, because a retry sends exactly the same bytes again. */
    q = request_new(c, frame_len, *now);
    if (flat != NULL)
        memcpy(q->data, flat, frame_len);
    else
        take_bytes(c->in, q->data, frame_len);
    c->held_items += frame_len;
    c->partial_since = 0; /* a frame completed: what follows starts a count of its own */
    TAILQ_INSERT_TAIL(&c->pending, q, client_entry);
    c->npending++;
    router_submit(c->route, q);
}

/*
 * A frame larger than max_frame (f: what its length header announced):
 * droverd reads nothing more from the client, answers the requests before
 * it, then this one with TOOBIG, and closes the connection once all of it
 * is written (client_write, linger_close), as after a half-close. Closing
 * at once would lose the answers of requests that may already have run.
 */
static void client_frame_too_big(struct client *c, const struct frame *f, uint64_t *now)
{
    struct route *r = c->route;
    struct request *q;
    char what[64], why[192];

    r->bad_frames++;
    if (r->framing == FRAMING_LENGTH)
        snprintf(what, sizeof(what), "a request of %zu bytes is larger", f->body_len);
    else
        snprintf(what, sizeof(what), "a line longer");
    snprintf(why, sizeof(why),
             "%s than max_frame (%zu bytes); nothing after it was read and the connection closes",
             what, r->max_frame);
    log_debug("pool %s: client sent %s than max_frame; answering what it sent before, then "
              "closing it",
              r->name, what);
    c->eof = true;
    c->refused = true;
    evbuffer_drain(c->in, evbuffer_get_length(c->in));
    c->partial_since = 0;
    event_del(c->partial_ev);
    if (*now == 0)
        *now = mono_now();
    q = request_new(c, 0, *now);
    TAILQ_INSERT_TAIL(&c->pending, q, client_entry);
    c->npending++;
    request_fail(r, q, "TOOBIG", why);
    client_update_reading(c);
}

/* Cut complete frames out of the client's input and submit them. */
static void client_parse(struct client *c)
{
    struct route *r = c->route;
    uint64_t now = 0;

    for (;;) {
        struct frame f;

        if (c->npending >= CLIENT_MAX_PENDING || evbuffer_get_length(c->in) == 0)
            return;
        switch (frame_evbuffer_decode(c->in, r->framing, r->max_frame, &f)) {
        case FRAME_OK:
            break;
        case FRAME_INCOMPLETE:
            return;
        default:
            client_frame_too_big(c, &f, &now);
            return;
        }
        client_submit_frame(c, NULL, f.frame_len, &now);
    }
}

/*
 * The same from the n bytes one read brought into an empty c->in (see
 * scratch_read): whole frames are taken in place; the rest (the start of
 * a frame, or frames past the pending cap) goes to c->in. Returns the
 * bytes left in c->in.
 */
static size_t client_parse_flat(struct client *c, const unsigned char *data, size_t n)
{
    struct route *r = c->route;
    uint64_t now = 0;
    size_t off = 0;

    while (off < n && c->npending < CLIENT_MAX_PENDING) {
        struct frame f;
        enum frame_result fr = frame_decode(r->framing, data + off, n - off, r->max_frame, &f);

        if (fr == FRAME_INCOMPLETE)
            break;
        if (fr != FRAME_OK) {
            client_frame_too_big(c, &f, &now);
            return 0;
        }
        client_submit_frame(c, data + off, f.frame_len, &now);
        off += f.frame_len;
    }
    if (off < n)
        evbuffer_add(c->in, data + off, n - off);
    return n - off;
}

static void client_partial_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    uint64_t now = mono_now();

    (void)fd;
    (void)what;
    if (evbuffer_get_length(c->in) == 0)
        c->partial_since = 0;
    /* Not read now (droverd's pushback): the count starts again when reading resumes. */
    if (c->partial_since == 0 || !c->reading)
        return;
    if (now - c->partial_since >= c->route->frame_timeout_us) {
        char t[32], why[96];
        format_duration(c->route->frame_timeout_us, t, sizeof(t));
        snprintf(why, sizeof(why), "part of a frame and not the rest within %s (frame_timeout)", t);
        client_bad_frame(c, why);
        return;
    }
    uint64_t left = c->partial_since + c->route->frame_timeout_us - now;
    struct timeval tv = {(time_t)(left / 1000000), (suseconds_t)(left % 1000000)};
    event_add(c->partial_ev, &tv);
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
    const unsigned char *data = NULL;
    size_t in;
    ssize_t n = evbuffer_get_length(c->in) == 0 ? scratch_read((int)fd, client_read_size(c), &data)
                                                : buffer_read(c->in, (int)fd, client_read_size(c));

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
        if (evbuffer_get_length(c->in) > 0)
            client_parse(c);
        if (c->npending == 0 && outbuf_len(&c->out) == 0)
            client_close(c);
        router_flush(r);
        return;
    }
    if (data != NULL) {
        in = client_parse_flat(c, data, (size_t)n);
    } else {
        client_parse(c);
        in = evbuffer_get_length(c->in);
    }
    /* Bytes of an unfinished frame start a deadline, armed only in that case. */
    if (in == 0)
        c->partial_since = 0;
    else if (c->partial_since == 0)
        client_partial_start(c, mono_now());
    client_account_len(c, in, outbuf_len(&c->out));
    client_update_reading(c);
    router_flush(r);
}

static void queue_timeout_cb(evutil_socket_t fd, short what, void *arg);

static void client_new(struct route *r, int fd)
{
    struct client *c = xcalloc(1, sizeof(*c));

    c->route = r;
    c->fd = fd;
    c->in = evbuffer_new();
    outbuf_init(&c->out, c->out_bytes, sizeof(c->out_bytes));
    TAILQ_INIT(&c->pending);
    c->rev = event_new(droverd.base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
    c->wev = event_new(droverd.base, fd, EV_WRITE, client_write_cb, c);
    c->partial_ev = evtimer_new(droverd.base, client_partial_cb, c);
    if (event_base_get_features(droverd.base) & EV_FEATURE_EARLY_CLOSE)
        c->hup_ev = event_new(droverd.base, fd, EV_CLOSED | EV_PERSIST, client_hup_cb, c);
    /* The queue_timeout timer (router_dispatch.c arms it): requests exist only with clients. */
    if (r->queue_ev == NULL)
        r->queue_ev = evtimer_new(droverd.base, queue_timeout_cb, r);
    TAILQ_INSERT_TAIL(&r->clients, c, entry);
    r->nclients++;
    clients_total++;
    client_update_reading(c);
}

/* ---------------------------------------------------------------------------------------- */
/* The mode's operations (route_mode.h) and the callbacks that end with a flush              */

static void queue_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct route *r = arg;

    (void)fd;
    (void)what;
    if (!router_queue_expire(r))
        return;
    router_flush(r);
    route_check_drained(r);
}

static void router_pump(struct route *r)
{
    router_dispatch_pump(r);
    router_flush(r);
}

static void router_link_readable(void *owner, struct worker_link *l, const unsigned char *data,
                                 size_t n)
{
    struct route *r = owner;

    router_replies_readable(r, l, data, n);
    router_flush(r);
    route_check_drained(r);
}

static void router_link_timeout(void *owner, struct worker_link *l)
{
    struct route *r = owner;

    if (router_link_timed_out(r, l))
        router_flush(r);
}

static void router_links_flushed(void *owner)
{
    router_flush(owner);
}

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

/* A reload shortened a timeout: every timer armed with the old value, again with the new. */
static void router_timeouts_shortened(struct route *r)
{
    struct client *c;

    router_timers_rearm(r);
    TAILQ_FOREACH(c, &r->clients, entry) {
        if (c->partial_since == 0 || !event_pending(c->partial_ev, EV_TIMEOUT, NULL))
            continue;
        event_del(c->partial_ev);
        uint64_t now = mono_now(), end = c->partial_since + r->frame_timeout_us;
        uint64_t after = end > now ? end - now : 1;
        struct timeval tv = {(time_t)(after / USEC_PER_SEC), (suseconds_t)(after % USEC_PER_SEC)};
        event_add(c->partial_ev, &tv);
    }
}

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
    .timeouts_shortened = router_timeouts_shortened,
};