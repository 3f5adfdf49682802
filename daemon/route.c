/* SPDX-License-Identifier: ISC */
/*
 * Routing work to a pool's workers (see route.h and docs/protocol.md).
 *
 * The daemon owns each routed pool's listening socket for the pool's whole
 * life, so clients wait in the backlog while workers restart.
 *
 *   message: clients send framed requests (pipelining allowed); requests
 *            wait in one bounded FIFO per pool and go to the least loaded
 *            worker over its socketpair (fd 3). Replies return to each
 *            client in the order of its requests. A worker that dies or
 *            times out gives its unanswered requests back to the head of
 *            the queue, up to max_attempts deliveries each.
 *   handoff: accepted connections are passed (SCM_RIGHTS) to the least
 *            busy worker; it writes one byte back per finished connection.
 *   shared:  every worker gets the listening socket as fd 3 (LISTEN_FDS).
 *
 * This module changes a slot only through slot_event(): SLOT_EV_FAIL for a
 * broken worker, SLOT_EV_RESTART to recycle one (max_requests), and the
 * STOP/RESTART events it deferred while a worker finished its requests.
 */
#include "route.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "choice.h"
#include "frame.h"
#include "log.h"
#include "parse.h"
#include "pool.h"
#include "sys.h"
#include "xmalloc.h"

#define ROUTE_MAX_CLIENTS         10000 /* per pool; more wait in the listen backlog */
#define FD_RESERVE                64    /* fds kept free of clients for control, logs, spawning */
#define CLIENT_MAX_PENDING        256 /* a client's requests not yet answered before we stop reading */
#define CLIENT_MAX_OUTPUT         (4 << 20) /* replies a client has not taken before we stop reading */
#define CLIENT_PARTIAL_TIMEOUT_US (60 * USEC_PER_SEC) /* to finish a frame once begun */
#define READ_CHUNK                65536
#define ACCEPT_BATCH              64
#define ACCEPT_RETRY_MS           100 /* after EMFILE/ENFILE */
#define LINK_LOST_GRACE_SEC       2   /* a worker that closed fd 3 has this long to exit */
#define LINGER_TIMEOUT_SEC        10  /* to take replies after the pool went away, between writes */

const double route_latency_bounds_s[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                         0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                         0.5,     1,      2.5,     5,      10,    30};
const size_t route_latency_nbounds =
    sizeof(route_latency_bounds_s) / sizeof(route_latency_bounds_s[0]);
#define NBUCKETS (sizeof(route_latency_bounds_s) / sizeof(route_latency_bounds_s[0]))

struct client;
struct worker_link;

enum request_state { REQ_QUEUED, REQ_INFLIGHT, REQ_DONE };

struct request {
    TAILQ_ENTRY(request) client_entry; /* in its client's pending list, in arrival order */
    TAILQ_ENTRY(request) entry;        /* in the route's queue or a worker's in-flight list */
    struct client *client;             /* NULL once the client has gone */
    enum request_state state;
    unsigned attempts;
    bool timed_out; /* its last delivery ended in request_timeout */
    uint64_t received_at;
    uint64_t dispatched_at;
    unsigned char *data; /* the frame exactly as a worker receives it */
    size_t len;
    struct evbuffer *reply; /* the client-ready reply, when it cannot be written yet */
};

TAILQ_HEAD(request_list, request);

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

struct worker_link {
    struct route *route;
    struct slot *slot;
    struct choice_node node; /* load = requests in flight (message) or connections held (handoff) */
    int fd;                  /* daemon's end of the socketpair; -1 when no worker */
    struct event *rev, *wev, *timeout_ev, *deferred_ev;
    struct evbuffer *in, *out;
    struct request_list inflight;
    unsigned ninflight;
    bool dirty;
    TAILQ_ENTRY(worker_link) dirty_entry;
    bool timeout_armed;
    pid_t lost_pid; /* the worker closed its end: killed if still alive after a grace */
    bool retiring;  /* reached max_requests: takes nothing new, restarts when idle */
    bool deferred;  /* a STOP/RESTART waits until in-flight requests are answered */
    enum slot_event deferred_event;
    uint64_t served; /* requests (or connections) given to the current process */
    int *fdq;        /* handoff: accepted fds waiting for the socketpair to take them */
    size_t nfdq;
};

struct route {
    struct pool *pool;
    int mode;
    int framing;
    size_t max_frame;
    unsigned max_queue;
    uint64_t request_timeout_us;
    unsigned max_attempts;
    uint64_t max_requests;
    unsigned worker_inflight;
    bool stdio;

    int listen_fd;
    bool from_activation; /* the fd belongs to the socket-activation table */
    char *listen;         /* as configured */
    char *unix_path;      /* to unlink when the pool goes (NULL for tcp/activation) */
    struct event *accept_ev;
    struct event *accept_retry_ev;
    struct event *flush_ev; /* writes to workers, once at the end of a loop pass */
    bool accepting;         /* wants new connections */
    bool accept_armed;      /* accept event is pending */

    struct choice choice;
    TAILQ_HEAD(, client) clients;
    unsigned nclients;
    struct request_list queue;
    unsigned nqueued;
    TAILQ_HEAD(, client) dirty_clients;
    TAILQ_HEAD(, worker_link) dirty_links;

    uint64_t accepted, requests, retries, failed, timeouts, busy, bad_frames, inflight_total;
    uint64_t buckets[NBUCKETS];
    uint64_t latency_count;
    double latency_sum;
};

static void route_pump(struct route *r);
static void route_flush(struct route *r);
static void link_write(struct worker_link *l);
static void route_accept_update(struct route *r);
static void client_close(struct client *c);
static int client_parse(struct client *c);
static void handoff_connection(struct route *r, int cfd);
static void routes_accept_update_all(void);
static void link_close_socket(struct worker_link *l);

/* ---------------------------------------------------------------------------------------- */
/* Socket activation and listeners kept across a pool's re-creation                        */

struct held_socket {
    char *name; /* LISTEN_FDNAMES entry, or the listen value of a parked listener */
    int fd;
    bool activation;
    bool claimed;
    char *unix_path;
};

static struct held_socket *held;
static size_t nheld;

/* Client connections of every pool, against what the fd limit leaves them. */
static unsigned clients_total;

/* Take the sockets systemd passed (LISTEN_FDS/LISTEN_FDNAMES) before anything else opens fds. */
void route_activation_init(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    uint64_t n;

    if (pid == NULL || fds == NULL || atoi(pid) != (int)getpid() ||
        parse_uint(fds, 1, 1024, &n, NULL, 0) != 0)
        goto out;
    char *copy = names != NULL ? xstrdup(names) : xstrdup(""), *save = NULL, *tok;
    tok = strtok_r(copy, ":", &save);
    for (uint64_t i = 0; i < n; i++) {
        int fd = 3 + (int)i;
        held = xreallocarray(held, nheld + 1, sizeof(*held));
        held[nheld] = (struct held_socket){
            .name = xstrdup(tok != NULL ? tok : "unknown"), .fd = fd, .activation = true};
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        nheld++;
        tok = tok != NULL ? strtok_r(NULL, ":", &save) : NULL;
    }
    free(copy);
out:
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
}

void route_check_activation(const struct config *cfg)
{
    for (size_t i = 0; i < nheld; i++) {
        const struct pool_config *pc;
        if (!held[i].activation)
            continue;
        pc = config_find_pool(cfg, held[i].name);
        if (pc == NULL)
            fatalx("socket activation: the socket named '%s' (LISTEN_FDNAMES) matches no pool; "
                   "name each socket after its pool with FileDescriptorName=",
                   held[i].name);
        if (pc->listen == NULL)
            fatalx("socket activation: pool '%s' got a socket but has no listen; set listen "
                   "(and mode) for it",
                   held[i].name);
    }
}

static struct held_socket *held_find(const char *name, bool activation)
{
    for (size_t i = 0; i < nheld; i++)
        if (!held[i].claimed && held[i].activation == activation && strcmp(held[i].name, name) == 0)
            return &held[i];
    return NULL;
}

static void held_remove(struct held_socket *h)
{
    size_t i = (size_t)(h - held);

    free(h->name);
    free(h->unix_path);
    memmove(&held[i], &held[i + 1], (nheld - i - 1) * sizeof(*held));
    nheld--;
}

/* ---------------------------------------------------------------------------------------- */
/* Listening                                                                                */

static int listen_unix(struct route *r, const struct pool_config *pc, char *err, size_t errsz)
{
    const char *path = pc->listen;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;
    mode_t old;

    if (strlen(path) >= sizeof(sun.sun_path))
        return parse_error(err, errsz, "listen path %s is too long", path);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (sys_mkdir_parent_of(path) != 0)
        return parse_error(err, errsz, "cannot create the directory of %s: %s", path,
                           strerror(errno));
    /* Replace a stale socket, but never one a live process listens on. */
    if (sys_unix_socket_live(path, SOCK_STREAM))
        return parse_error(err, errsz, "%s is in use by another process", path);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return parse_error(err, errsz, "socket: %s", strerror(errno));
    old = umask(0777);
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc != 0 || (pc->socket_group != NULL && chown(path, (uid_t)-1, pc->socket_gid) != 0) ||
        chmod(path, pc->socket_mode) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return parse_error(err, errsz, "listen on %s: %s", path, strerror(e));
    }
    r->unix_path = xstrdup(path);
    return fd;
}

static int listen_tcp(const char *spec, char *err, size_t errsz)
{
    struct sockaddr_storage ss = {0};
    socklen_t sslen;
    char host[64];
    const char *hp = spec + 4, *colon;
    uint64_t port;
    int fd, one = 1;

    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        snprintf(host, sizeof(host), "%.*s", (int)(close - hp - 1), hp + 1);
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
    }
    parse_uint(colon + 1, 1, 65535, &port, NULL, 0);
    if (strchr(host, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &s6->sin6_addr);
        sslen = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &s4->sin_addr);
        sslen = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return parse_error(err, errsz, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        return parse_error(err, errsz, "listen on %s: %s", spec, strerror(e));
    }
    return fd;
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

    while (b < NBUCKETS && s > route_latency_bounds_s[b])
        b++;
    if (b < NBUCKETS)
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
/* Workers                                                                                  */

/*
 * Requests for a worker go out once per pass of the event loop: everything
 * dispatched to it while the callbacks epoll woke us for run goes in one
 * write when the pass ends (flush_ev runs after them, in the same pass).
 * One wake-up of the worker then serves every request of the pass, idle
 * worker or busy. (Writing to an idle worker at once woke it for the
 * first request and again for the rest; bench/RESULTS.md has the figures.)
 */
static struct worker_link *link_of(struct choice_node *n)
{
    return (struct worker_link *)((char *)n - offsetof(struct worker_link, node));
}

static void link_mark_dirty(struct worker_link *l)
{
    if (!l->dirty) {
        l->dirty = true;
        TAILQ_INSERT_TAIL(&l->route->dirty_links, l, dirty_entry);
        event_active(l->route->flush_ev, 0, 0);
    }
}

static void link_arm_timeout(struct worker_link *l, uint64_t after_us)
{
    struct timeval tv = {(time_t)(after_us / 1000000), (suseconds_t)(after_us % 1000000)};

    event_add(l->timeout_ev, &tv);
    l->timeout_armed = true;
}

/*
 * One more request (or connection) for this worker. max_requests counts
 * deliveries: after N it takes nothing new, and restarts once idle.
 */
static void link_count_delivery(struct route *r, struct worker_link *l)
{
    l->served++;
    if (r->max_requests > 0 && l->served >= r->max_requests && !l->retiring) {
        l->retiring = true;
        choice_unlist(&r->choice, &l->node);
    }
}

static void dispatch(struct route *r, struct request *q, struct worker_link *l)
{
    link_count_delivery(r, l);
    q->state = REQ_INFLIGHT;
    q->attempts++;
    q->timed_out = false;
    q->dispatched_at = mono_now();
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
static void route_submit(struct route *r, struct request *q)
{
    struct choice_node *n;

    if (TAILQ_EMPTY(&r->queue) && (n = choice_take(&r->choice)) != NULL) {
        dispatch(r, q, link_of(n));
        return;
    }
    if (r->nqueued >= r->max_queue) {
        char why[64];
        r->busy++;
        snprintf(why, sizeof(why), "queue full (%u waiting)", r->nqueued);
        request_fail(r, q, "BUSY", why);
        return;
    }
    q->state = REQ_QUEUED;
    TAILQ_INSERT_TAIL(&r->queue, q, entry);
    r->nqueued++;
}

/* Give queued requests to workers with room, oldest first. */
static void route_pump(struct route *r)
{
    struct request *q;
    struct choice_node *n;

    while ((q = TAILQ_FIRST(&r->queue)) != NULL && (n = choice_take(&r->choice)) != NULL) {
        TAILQ_REMOVE(&r->queue, q, entry);
        r->nqueued--;
        dispatch(r, q, link_of(n));
    }
}

static void link_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker_link *l = arg;

    (void)fd;
    (void)what;
    if (!l->deferred)
        return;
    l->deferred = false;
    slot_event(l->slot, l->deferred_event, NULL);
}

/* The worker has nothing in flight: run what waited for that. */
static void link_idle(struct worker_link *l)
{
    if (l->deferred) {
        /* From its own event: slot_event must not run inside our read callback's loop. */
        event_active(l->deferred_ev, 0, 0);
    } else if (l->retiring && l->slot->pid > 0 && l->slot->fsm.state == SLOT_RUNNING) {
        l->retiring = false;
        l->deferred = true;
        l->deferred_event = SLOT_EV_RESTART;
        event_active(l->deferred_ev, 0, 0);
    }
}

static void link_fail(struct worker_link *l, const char *why)
{
    if (l->slot->pid > 0) {
        log_warnx("pool %s slot %u: worker %s; killing it", l->route->pool->name, l->slot->index,
                  why);
        slot_event(l->slot, SLOT_EV_FAIL, why);
    }
    /* Read nothing more from it; its requests are given back when it is reaped. */
    link_close_socket(l);
}

/* Message mode: replies from a worker, in the order of its requests. */
static void link_read_replies(struct route *r, struct worker_link *l)
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
            if (l->timeout_armed) {
                event_del(l->timeout_ev);
                l->timeout_armed = false;
            }
        }
        if (l->ninflight == 0)
            link_idle(l);
        if (l->fd < 0)
            return;
    }
}

/* Handoff mode: one byte back per finished connection. */
static void link_read_done(struct route *r, struct worker_link *l)
{
    size_t n = evbuffer_get_length(l->in);

    evbuffer_drain(l->in, n);
    while (n-- > 0) {
        if (l->node.load == 0) {
            log_debug("pool %s slot %u: more 'done' bytes than connections", r->pool->name,
                      l->slot->index);
            break;
        }
        choice_release(&r->choice, &l->node);
        r->requests++;
        l->slot->requests++;
    }
    if (l->node.load == 0 && l->retiring && l->slot->pid > 0)
        link_idle(l);
    route_accept_update(r);
}

/* Read up to max bytes without the FIONREAD that evbuffer_read() costs. */
static ssize_t buf_read(struct evbuffer *buf, int fd, size_t max)
{
    struct evbuffer_iovec v[2];
    int nv = evbuffer_reserve_space(buf, (ev_ssize_t)max, v, 2);
    struct iovec iov[2];
    ssize_t n;

    if (nv <= 0)
        return -1;
    for (int i = 0; i < nv; i++) {
        iov[i].iov_base = v[i].iov_base;
        iov[i].iov_len = v[i].iov_len;
    }
    do
        n = readv(fd, iov, nv);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        evbuffer_commit_space(buf, v, 0);
        return n;
    }
    if ((size_t)n <= v[0].iov_len) {
        v[0].iov_len = (size_t)n;
        nv = 1;
    } else {
        v[1].iov_len = (size_t)n - v[0].iov_len;
    }
    evbuffer_commit_space(buf, v, nv);
    return n;
}

/*
 * The worker's end of the socketpair closed. Usually it is exiting and is
 * about to be reaped; one that lives on without its work socket is broken,
 * and is killed after a grace period.
 */
static void link_lost(struct worker_link *l)
{
    struct timeval grace = {LINK_LOST_GRACE_SEC, 0};

    l->lost_pid = l->slot->pid;
    link_close_socket(l);
    event_add(l->timeout_ev, &grace);
    l->timeout_armed = true;
}

/* A draining route whose work is done lets the pool's workers stop. */
static void route_check_drained(struct route *r)
{
    if (!r->accepting && !route_busy(r))
        droverd_state_changed();
}

static void link_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker_link *l = arg;
    struct route *r = l->route;
    ssize_t n = buf_read(l->in, (int)fd, READ_CHUNK);
    bool was_dirty;

    (void)what;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        link_lost(l);
        route_flush(r);
        return;
    }
    if (r->mode == ROUTE_MESSAGE)
        link_read_replies(r, l);
    else
        link_read_done(r, l);
    was_dirty = l->dirty;
    route_pump(r);
    /*
     * Requests taken from the queue for the worker that just answered go
     * out before the replies are written, so the worker is busy again
     * while clients read. (Requests clients sent in this pass still wait
     * for the end of it, to go out together.)
     */
    if (l->dirty && !was_dirty) {
        TAILQ_REMOVE(&r->dirty_links, l, dirty_entry);
        l->dirty = false;
        link_write(l);
    }
    route_flush(r);
    route_check_drained(r);
}

static void link_write(struct worker_link *l)
{
    if (l->fd < 0) {
        evbuffer_drain(l->out, evbuffer_get_length(l->out));
        return;
    }
    if (evbuffer_get_length(l->out) > 0 && evbuffer_write(l->out, l->fd) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK) {
        /* EPIPE or ECONNRESET: the worker closed its end, most likely by dying. */
        if (errno == EPIPE || errno == ECONNRESET)
            link_lost(l);
        else
            link_fail(l, "work socket write failed");
        return;
    }
    if (evbuffer_get_length(l->out) > 0)
        event_add(l->wev, NULL);
}

/* Handoff: pass queued fds while the socketpair takes them. */
static void link_send_fds(struct worker_link *l)
{
    while (l->nfdq > 0 && l->fd >= 0) {
        int cfd = l->fdq[0];
        char byte = 'c';
        struct iovec iov = {&byte, 1};
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf)};
        struct cmsghdr *cm;

        memset(&u, 0, sizeof(u)); /* the padding after the fd goes to the kernel too */
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &cfd, sizeof(int));
        if (sendmsg(l->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                event_add(l->wev, NULL);
                return;
            }
            link_fail(l, "stopped taking connections");
            return;
        }
        close(cfd);
        memmove(l->fdq, l->fdq + 1, (l->nfdq - 1) * sizeof(int));
        l->nfdq--;
    }
}

static void link_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker_link *l = arg;

    (void)fd;
    (void)what;
    if (l->route->mode == ROUTE_HANDOFF)
        link_send_fds(l);
    else
        link_write(l);
}

static void link_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker_link *l = arg;
    struct route *r = l->route;
    struct request *q = TAILQ_FIRST(&l->inflight);
    uint64_t now = mono_now();

    (void)fd;
    (void)what;
    l->timeout_armed = false;
    if (l->lost_pid != 0) {
        if (l->slot->pid == l->lost_pid) {
            l->lost_pid = 0;
            link_fail(l, "closed its work socket but kept running");
        }
        return;
    }
    if (q == NULL)
        return;
    if (now - q->dispatched_at < r->request_timeout_us) {
        link_arm_timeout(l, q->dispatched_at + r->request_timeout_us - now);
        return;
    }
    q->timed_out = true;
    r->timeouts++;
    link_fail(l, "did not answer within request_timeout");
    route_flush(r);
}

static struct worker_link *link_new(struct route *r, struct slot *s)
{
    struct worker_link *l = xcalloc(1, sizeof(*l));

    l->route = r;
    l->slot = s;
    l->fd = -1;
    l->in = evbuffer_new();
    l->out = evbuffer_new();
    TAILQ_INIT(&l->inflight);
    l->timeout_ev = evtimer_new(droverd.base, link_timeout_cb, l);
    l->deferred_ev = event_new(droverd.base, -1, 0, link_deferred_cb, l);
    return l;
}

static void link_close_socket(struct worker_link *l)
{
    choice_unlist(&l->route->choice, &l->node);
    if (l->rev != NULL) {
        event_free(l->rev);
        event_free(l->wev);
        l->rev = l->wev = NULL;
    }
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
    if (l->dirty) {
        TAILQ_REMOVE(&l->route->dirty_links, l, dirty_entry);
        l->dirty = false;
    }
    evbuffer_drain(l->in, evbuffer_get_length(l->in));
    evbuffer_drain(l->out, evbuffer_get_length(l->out));
}

/* The worker is gone: its unanswered requests go back to the head of the queue, or fail. */
static void link_worker_gone(struct route *r, struct worker_link *l)
{
    struct request *q;

    link_close_socket(l);
    if (l->timeout_armed) {
        event_del(l->timeout_ev);
        l->timeout_armed = false;
    }
    /* Newest first, each inserted at the head, so the oldest ends up first. */
    while ((q = TAILQ_LAST(&l->inflight, request_list)) != NULL) {
        TAILQ_REMOVE(&l->inflight, q, entry);
        l->ninflight--;
        r->inflight_total--;
        if (q->client == NULL) {
            request_free(q);
            continue;
        }
        if (q->attempts >= r->max_attempts) {
            char why[128];
            r->failed++;
            if (q->timed_out) {
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
        q->state = REQ_QUEUED;
        TAILQ_INSERT_HEAD(&r->queue, q, entry);
        r->nqueued++;
    }
    l->node.load = 0;
    l->served = 0;
    l->retiring = false;
    l->lost_pid = 0;
    /*
     * Handoff: connections accepted but not yet passed go to another worker
     * with room, or are closed (their clients may retry) when none has any.
     */
    int *fds = l->fdq;
    size_t nfds = l->nfdq;
    l->fdq = NULL;
    l->nfdq = 0;
    for (size_t i = 0; i < nfds; i++) {
        if (r->mode == ROUTE_HANDOFF && choice_has_room(&r->choice))
            handoff_connection(r, fds[i]);
        else
            close(fds[i]);
    }
    free(fds);
}

/* ---------------------------------------------------------------------------------------- */
/* Clients (message mode)                                                                   */

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

    TAILQ_FOREACH_SAFE(q, &c->pending, client_entry, next)
    {
        TAILQ_REMOVE(&c->pending, q, client_entry);
        switch (q->state) {
        case REQ_QUEUED:
            TAILQ_REMOVE(&r->queue, q, entry);
            r->nqueued--;
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
    routes_accept_update_all();
}

/*
 * Replies a client has not taken when its pool goes away (removed,
 * re-created, shutdown) are still delivered: the connection lingers on its
 * own until they are written, or until LINGER_TIMEOUT_SEC pass without the
 * client taking any.
 */
struct lingering {
    TAILQ_ENTRY(lingering) entry;
    int fd;
    struct evbuffer *out;
    struct event *ev;
};

static TAILQ_HEAD(, lingering) lingering = TAILQ_HEAD_INITIALIZER(lingering);

static void linger_free(struct lingering *lg)
{
    TAILQ_REMOVE(&lingering, lg, entry);
    event_free(lg->ev);
    evbuffer_free(lg->out);
    close(lg->fd);
    free(lg);
    droverd_state_changed();
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lingering *lg = arg;
    struct timeval tv = {LINGER_TIMEOUT_SEC, 0};

    if (what & EV_TIMEOUT) {
        linger_free(lg);
        return;
    }
    if (evbuffer_write(lg->out, (int)fd) < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        linger_free(lg);
        return;
    }
    if (evbuffer_get_length(lg->out) == 0) {
        linger_free(lg);
        return;
    }
    event_add(lg->ev, &tv);
}

/* Free a client, first handing its unwritten replies to a lingering connection. */
static void client_release(struct client *c)
{
    if (evbuffer_get_length(c->out) > 0 && c->fd >= 0) {
        struct lingering *lg = xcalloc(1, sizeof(*lg));
        struct timeval tv = {LINGER_TIMEOUT_SEC, 0};

        lg->fd = c->fd;
        lg->out = c->out;
        c->fd = -1;
        c->out = NULL;
        lg->ev = event_new(droverd.base, lg->fd, EV_WRITE, linger_cb, lg);
        event_add(lg->ev, &tv);
        TAILQ_INSERT_TAIL(&lingering, lg, entry);
    }
    client_free(c);
}

void route_release_clients(struct route *r)
{
    struct client *c;

    while ((c = TAILQ_FIRST(&r->clients)) != NULL)
        client_release(c);
}

bool route_lingering(void)
{
    return !TAILQ_EMPTY(&lingering);
}

void route_lingering_free(void)
{
    struct lingering *lg;

    while ((lg = TAILQ_FIRST(&lingering)) != NULL)
        linger_free(lg);
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

/* Write what callbacks queued for clients and workers, one write per peer. */
/* Replies go to clients at the end of the callback that produced them. */
static void route_flush(struct route *r)
{
    struct client *c;

    while ((c = TAILQ_FIRST(&r->dirty_clients)) != NULL) {
        TAILQ_REMOVE(&r->dirty_clients, c, dirty_entry);
        c->dirty = false;
        client_write(c);
    }
}

/* The end of a loop pass: each worker's batch goes out (see link_mark_dirty). */
static void route_flush_links_cb(evutil_socket_t fd, short what, void *arg)
{
    struct route *r = arg;
    struct worker_link *l;

    (void)fd;
    (void)what;
    while ((l = TAILQ_FIRST(&r->dirty_links)) != NULL) {
        TAILQ_REMOVE(&r->dirty_links, l, dirty_entry);
        l->dirty = false;
        link_write(l);
    }
    route_flush(r);
}

static void client_bad_frame(struct client *c, const char *why)
{
    struct route *r = c->route;

    r->bad_frames++;
    log_debug("pool %s: client sent %s; closing it", r->pool->name, why);
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
        route_submit(r, q);
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
    ssize_t n = buf_read(c->in, (int)fd, READ_CHUNK);

    (void)what;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n < 0) {
        client_close(c);
        route_flush(r);
        return;
    }
    if (n == 0) {
        /* The client is done sending; answer what it asked, then close. */
        c->eof = true;
        client_update_reading(c);
        if (evbuffer_get_length(c->in) > 0 && client_parse(c) != 0) {
            route_flush(r);
            return;
        }
        if (c->npending == 0 && evbuffer_get_length(c->out) == 0) {
            client_close(c);
            route_flush(r);
            return;
        }
        route_flush(r);
        return;
    }
    if (client_parse(c) != 0) {
        route_flush(r);
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
    route_flush(r);
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
/* Accepting                                                                                */

/*
 * Every client costs one fd. Whatever the fd limit, keep enough for the
 * control socket, log files and restarting every worker (a pipe and a
 * socket pair each), so a flood of clients cannot lock the operator out.
 */
static bool fds_left_for_a_client(void)
{
    unsigned slots = 0;
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
    slots += p->nslots;
    rlim_t limit = droverd.nofile_raised;
    rlim_t reserve = FD_RESERVE + 6 * (rlim_t)slots;
    return limit > reserve && clients_total < limit - reserve;
}

/* A client closed: pools paused for want of fds may take connections again. */
static void routes_accept_update_all(void)
{
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
    if (p->route != NULL)
        route_accept_update(p->route);
}

static bool route_has_room(const struct route *r)
{
    if (!fds_left_for_a_client())
        return false;
    if (r->mode == ROUTE_MESSAGE)
        return r->nclients < ROUTE_MAX_CLIENTS;
    /* Handoff: some ready worker can hold one more connection. */
    return choice_has_room(&r->choice);
}

/* Arm the accept event exactly when we want and can take a connection. */
static void route_accept_update(struct route *r)
{
    bool want = r->accepting && r->accept_ev != NULL && route_has_room(r) &&
                !event_pending(r->accept_retry_ev, EV_TIMEOUT, NULL);

    if (want == r->accept_armed)
        return;
    r->accept_armed = want;
    if (want)
        event_add(r->accept_ev, NULL);
    else
        event_del(r->accept_ev);
}

static void handoff_connection(struct route *r, int cfd)
{
    struct choice_node *n = choice_take(&r->choice);
    struct worker_link *l;

    if (n == NULL) {
        close(cfd); /* cannot happen: accept is armed only with room */
        return;
    }
    l = link_of(n);
    l->fdq = xreallocarray(l->fdq, l->nfdq + 1, sizeof(int));
    l->fdq[l->nfdq++] = cfd;
    link_count_delivery(r, l);
    link_send_fds(l);
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    route_accept_update(arg);
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct route *r = arg;

    (void)what;
    for (int i = 0; i < ACCEPT_BATCH && r->accept_armed; i++) {
        /* Handoff gives the worker a blocking socket, as a prefork server expects. */
        int flags = SOCK_CLOEXEC | (r->mode == ROUTE_MESSAGE ? SOCK_NONBLOCK : 0);
        int cfd = accept4((int)fd, NULL, NULL, flags);

        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of fds: leave connections in the backlog and try again shortly. */
                struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};
                log_warn("pool %s: accept (pausing %dms)", r->pool->name, ACCEPT_RETRY_MS);
                event_add(r->accept_retry_ev, &tv);
                r->accept_armed = false;
                event_del(r->accept_ev);
            }
            break;
        }
        r->accepted++;
        if (r->mode == ROUTE_MESSAGE) {
            int one = 1;
            setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on Unix: fine */
            client_new(r, cfd);
        } else {
            handoff_connection(r, cfd);
        }
        route_accept_update(r);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* The route's life                                                                         */

void route_configure(struct route *r, const struct pool_config *pc)
{
    unsigned cap = pc->worker_inflight;

    r->framing = pc->framing;
    r->max_frame = pc->max_frame;
    r->max_queue = pc->max_queue;
    r->request_timeout_us = pc->request_timeout_us;
    r->max_attempts = pc->max_attempts;
    r->max_requests = pc->max_requests;
    r->stdio = pc->work_fd == WORK_FD_STDIO;
    if (r->choice.levels != NULL && cap != r->worker_inflight) {
        struct pool *p = r->pool;
        struct choice_node **nodes = xcalloc(p->nslots + 1, sizeof(*nodes));
        for (unsigned i = 0; i < p->nslots; i++)
            if (p->slots[i] != NULL && p->slots[i]->link != NULL)
                nodes[i] = &p->slots[i]->link->node;
        choice_set_capacity(&r->choice, cap, nodes, p->nslots);
        free(nodes);
    }
    r->worker_inflight = cap;
}

struct route *route_new(struct pool *p, char *err, size_t errsz)
{
    struct route *r = xcalloc(1, sizeof(*r));
    const struct pool_config *pc = p->cfg;
    struct held_socket *h;

    r->pool = p;
    r->mode = pc->mode;
    r->listen = xstrdup(pc->listen);
    r->listen_fd = -1;
    TAILQ_INIT(&r->clients);
    TAILQ_INIT(&r->queue);
    TAILQ_INIT(&r->dirty_clients);
    TAILQ_INIT(&r->dirty_links);
    route_configure(r, pc);
    choice_init(&r->choice, pc->worker_inflight);

    if ((h = held_find(p->name, true)) != NULL) {
        h->claimed = true;
        r->listen_fd = h->fd;
        r->from_activation = true;
        log_info("pool %s: using the socket passed by systemd (%s)", p->name, h->name);
    } else if ((h = held_find(pc->listen, false)) != NULL) {
        /* The same socket, kept while the pool was re-created; socket_mode may have changed. */
        r->listen_fd = h->fd;
        r->unix_path = h->unix_path;
        h->unix_path = NULL;
        held_remove(h);
        if (r->unix_path != NULL &&
            ((pc->socket_group != NULL && chown(r->unix_path, (uid_t)-1, pc->socket_gid) != 0) ||
             chmod(r->unix_path, pc->socket_mode) != 0))
            log_warn("pool %s: chmod/chown %s", p->name, r->unix_path);
    } else if (strncmp(pc->listen, "tcp:", 4) == 0) {
        r->listen_fd = listen_tcp(pc->listen, err, errsz);
    } else {
        r->listen_fd = listen_unix(r, pc, err, errsz);
    }
    if (r->listen_fd < 0) {
        choice_free(&r->choice);
        free(r->listen);
        free(r);
        return NULL;
    }
    /*
     * droverd accepts without blocking; in shared mode the workers accept,
     * and a server written for socket activation expects a blocking socket
     * (the flag belongs to the socket, which they share).
     */
    int fl = fcntl(r->listen_fd, F_GETFL);
    if (fl >= 0)
        fcntl(r->listen_fd, F_SETFL, r->mode == ROUTE_SHARED ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
    fcntl(r->listen_fd, F_SETFD, FD_CLOEXEC);
    r->accepting = true;
    r->accept_retry_ev = evtimer_new(droverd.base, accept_retry_cb, r);
    r->flush_ev = event_new(droverd.base, -1, 0, route_flush_links_cb, r);
    if (r->mode != ROUTE_SHARED) {
        r->accept_ev = event_new(droverd.base, r->listen_fd, EV_READ | EV_PERSIST, accept_cb, r);
        route_accept_update(r);
    }
    return r;
}

void route_stop_accepting(struct route *r)
{
    struct client *c;

    r->accepting = false;
    route_accept_update(r);
    /* Requests already read are answered; nothing more is read. */
    TAILQ_FOREACH(c, &r->clients, entry)
    client_update_reading(c);
}

bool route_busy(const struct route *r)
{
    return r->nqueued > 0 || r->inflight_total > 0;
}

void route_free(struct route *r)
{
    struct request *q;
    struct pool *p = r->pool;

    route_release_clients(r);
    while ((q = TAILQ_FIRST(&r->queue)) != NULL) {
        TAILQ_REMOVE(&r->queue, q, entry);
        request_free(q);
    }
    if (r->accept_ev != NULL)
        event_free(r->accept_ev);
    event_free(r->accept_retry_ev);
    event_free(r->flush_ev);
    if (r->from_activation) {
        for (size_t i = 0; i < nheld; i++)
            if (held[i].fd == r->listen_fd)
                held[i].claimed = false; /* a re-created pool takes it again */
    } else if (p->recreate_cfg != NULL && p->recreate_cfg->listen != NULL &&
               strcmp(p->recreate_cfg->listen, r->listen) == 0) {
        /* Re-created with the same address: keep the socket (and its backlog). */
        held = xreallocarray(held, nheld + 1, sizeof(*held));
        held[nheld++] = (struct held_socket){
            .name = xstrdup(r->listen), .fd = r->listen_fd, .unix_path = r->unix_path};
        r->unix_path = NULL;
    } else {
        close(r->listen_fd);
        if (r->unix_path != NULL)
            unlink(r->unix_path);
    }
    choice_free(&r->choice);
    free(r->unix_path);
    free(r->listen);
    free(r);
}

/* Parked sockets nobody took again (a re-create that failed) are closed at exit. */
void route_release_held(void)
{
    for (size_t i = 0; i < nheld; i++) {
        if (!held[i].activation) {
            close(held[i].fd);
            if (held[i].unix_path != NULL)
                unlink(held[i].unix_path);
        }
        free(held[i].name);
        free(held[i].unix_path);
    }
    free(held);
    held = NULL;
    nheld = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Worker life, as pool.c reports it                                                        */

int route_prepare_spawn(struct route *r, struct slot *s, struct route_spawn *rs, char *err,
                        size_t errsz)
{
    int sv[2];

    if (r->mode == ROUTE_SHARED) {
        rs->fd3 = r->listen_fd;
        xasprintf(&rs->env[rs->nenv++], "LISTEN_FDS=1");
        xasprintf(&rs->env[rs->nenv++], "LISTEN_PID=%-20s", "");
        xasprintf(&rs->env[rs->nenv++], "LISTEN_FDNAMES=%s", r->pool->name);
        rs->keep_fd = -1;
        return 0;
    }
    if (s->link == NULL)
        s->link = link_new(r, s);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return parse_error(err, errsz, "socketpair: %s", strerror(errno));
    sys_set_nonblock_cloexec(sv[0]);
    rs->keep_fd = sv[0];
    if (r->stdio && r->mode == ROUTE_MESSAGE) {
        rs->fd_stdin = sv[1];
        rs->fd_stdout = sv[1];
    } else {
        rs->fd3 = sv[1];
        xasprintf(&rs->env[rs->nenv++], "DROVER_FD=3");
    }
    if (r->mode == ROUTE_MESSAGE)
        xasprintf(&rs->env[rs->nenv++], "DROVER_FRAMING=%s", framing_name(r->framing));
    return 0;
}

void route_after_spawn(struct route *r, struct slot *s, struct route_spawn *rs, bool ok)
{
    struct worker_link *l = s->link;
    int child_end = rs->fd3 >= 0 ? rs->fd3 : rs->fd_stdin;

    if (r->mode == ROUTE_SHARED)
        return;
    if (child_end >= 0)
        close(child_end);
    if (!ok) {
        close(rs->keep_fd);
        return;
    }
    link_close_socket(l);
    l->fd = rs->keep_fd;
    l->rev = event_new(droverd.base, l->fd, EV_READ | EV_PERSIST, link_read_cb, l);
    l->wev = event_new(droverd.base, l->fd, EV_WRITE, link_write_cb, l);
    event_add(l->rev, NULL);
    l->served = 0;
    l->retiring = false;
}

void route_slot_state(struct route *r, struct slot *s, enum slot_state from)
{
    struct worker_link *l = s->link;

    (void)from;
    if (l == NULL)
        return;
    if (s->fsm.state == SLOT_RUNNING && l->fd >= 0 && !l->deferred && !l->retiring) {
        choice_list(&r->choice, &l->node);
        route_pump(r);
        route_flush(r);
    } else if (s->fsm.state != SLOT_RUNNING) {
        choice_unlist(&r->choice, &l->node);
    }
    route_accept_update(r);
}

void route_slot_exited(struct route *r, struct slot *s)
{
    if (s->link == NULL)
        return;
    link_worker_gone(r, s->link);
    if (s->link->deferred) {
        /*
         * The worker is gone. A restart that waited for it is moot (the slot
         * restarts by itself); a stop must still happen.
         */
        if (s->link->deferred_event == SLOT_EV_RESTART)
            s->link->deferred = false;
        else
            event_active(s->link->deferred_ev, 0, 0);
    }
    route_pump(r);
    route_flush(r);
    route_accept_update(r);
    route_check_drained(r);
}

bool route_slot_defer(struct route *r, struct slot *s, enum slot_event ev)
{
    struct worker_link *l = s->link;

    if (l == NULL || r->mode != ROUTE_MESSAGE)
        return false;
    if (ev == SLOT_EV_START) {
        /* Wanted up again before the drain ended: take work again. */
        if (l->deferred) {
            l->deferred = false;
            if (s->fsm.state == SLOT_RUNNING && l->fd >= 0 && !l->retiring)
                choice_list(&r->choice, &l->node);
            route_pump(r);
            route_flush(r);
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
    link_worker_gone(r, l);
    event_free(l->timeout_ev);
    event_free(l->deferred_ev);
    evbuffer_free(l->in);
    evbuffer_free(l->out);
    free(l->fdq);
    free(l);
    s->link = NULL;
    route_pump(r);
    route_flush(r);
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

void route_get_stats(const struct route *r, struct route_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->mode = route_mode_name(r->mode);
    out->listen = r->listen;
    out->connections = r->nclients;
    out->accepted = r->accepted;
    out->queued = r->nqueued;
    out->inflight = r->inflight_total;
    if (r->mode == ROUTE_HANDOFF) {
        /* Connections held by workers. */
        for (unsigned i = 0; i < r->pool->nslots; i++)
            if (r->pool->slots[i] != NULL && r->pool->slots[i]->link != NULL)
                out->inflight += r->pool->slots[i]->link->node.load;
    }
    out->requests = r->requests;
    out->retries = r->retries;
    out->failed = r->failed;
    out->timeouts = r->timeouts;
    out->busy = r->busy;
    out->bad_frames = r->bad_frames;
    if (r->mode == ROUTE_MESSAGE) {
        out->latency_buckets = r->buckets;
        out->nbuckets = NBUCKETS;
        out->latency_count = r->latency_count;
        out->latency_sum_s = r->latency_sum;
    }
}
