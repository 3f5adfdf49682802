/* SPDX-License-Identifier: ISC */
/*
 * loadgen: a closed-loop load generator for drover's work sockets and for the
 * references it is compared with (echo workers on their own sockets, nginx).
 *
 * C clients are spread over a few threads, each thread multiplexing its
 * clients with one epoll set. Every client keeps P requests outstanding
 * (P = 1: send, wait for the reply, send the next) on one connection, or,
 * with --conn-per-request, connects, sends one request, reads the reply and
 * closes, over and over. Clients are split round-robin across the targets.
 *
 * Every request is unique (client id, sequence number, a pattern derived from
 * both) and every reply is checked against the request it answers: a reply
 * for an older request is a duplicate, anything else that differs is a
 * mismatch, a request still unanswered when the drain ends is lost.
 *
 *   --proto drover  replies are 4-byte length, status byte, body ('+' = the
 *                   worker's reply, '-' = drover's error "CODE message")
 *   --proto plain   replies are the request frame itself (echo-worker --listen, nginx)
 *
 * Output: one human line on stderr and one JSON line on stdout. Exit status:
 * 0 when every request got its own reply, 1 when any did not, 2 on bad usage.
 * It touches nothing but the sockets it is given.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "bench_time.h"
#include "frame.h"

#define MAX_TARGETS  64
#define MAX_THREADS  64
#define REPLY_SLACK  1024 /* room for a drover error text beyond the payload */
#define SEQ_OFFSET   4    /* body bytes 0..3: client id, 4..11: sequence number */
#define HEADER_BYTES 12

/* ------------------------------------------------------------------------------------------ */
/* Latency histogram: log-linear buckets (HDR style), 1/128 relative precision, in ns.        */

#define HIST_SUB_BITS 7
#define HIST_SUB      (1u << HIST_SUB_BITS) /* 128 sub-buckets per power of two */
#define HIST_DIRECT   (2 * HIST_SUB)        /* values below 256 ns are exact */
#define HIST_BUCKETS  (HIST_DIRECT + (64 - HIST_SUB_BITS - 2) * HIST_SUB)

struct histogram {
    uint64_t counts[HIST_BUCKETS];
    uint64_t n, max;
    double sum;
};

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_DIRECT)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 8 */
    uint64_t m = v >> (e - HIST_SUB_BITS);           /* in [128, 255] */
    return HIST_DIRECT + (e - HIST_SUB_BITS - 1) * HIST_SUB + (unsigned)(m - HIST_SUB);
}

/* The middle of the values bucket i holds. */
static double hist_value(unsigned i)
{
    if (i < HIST_DIRECT)
        return (double)i;
    unsigned e = (i - HIST_DIRECT) / HIST_SUB + HIST_SUB_BITS + 1;
    uint64_t m = (i - HIST_DIRECT) % HIST_SUB + HIST_SUB;
    unsigned shift = e - HIST_SUB_BITS;
    double lo = (double)(m << shift), width = (double)(1ull << shift);
    return lo + width / 2;
}

static void hist_record(struct histogram *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->n++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
}

static void hist_merge(struct histogram *into, const struct histogram *from)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->n += from->n;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
}

static double hist_percentile(const struct histogram *h, double pct)
{
    uint64_t rank, seen = 0;

    if (h->n == 0)
        return 0;
    rank = (uint64_t)ceil(pct / 100.0 * (double)h->n);
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            double v = hist_value(i);
            return v > (double)h->max ? (double)h->max : v;
        }
    }
    return (double)h->max;
}

/* ------------------------------------------------------------------------------------------ */
/* Options and shared state                                                                   */

enum proto { PROTO_DROVER, PROTO_PLAIN };

struct target {
    char spec[128];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int family;
};

static struct {
    enum proto proto;
    unsigned clients, threads, pipeline;
    size_t size;
    double duration_s, warmup_s, drain_s, hold_s;
    uint64_t requests; /* -n: a request count instead of a duration */
    bool conn_per_request;
    const char *label;
    struct target targets[MAX_TARGETS];
    unsigned ntargets;
} opt = {
    .proto = PROTO_DROVER,
    .clients = 1,
    .pipeline = 1,
    .size = 64,
    .duration_s = 3,
    .warmup_s = 0.5,
    .drain_s = 5,
    .label = "",
};

static uint64_t start_ns, measure_start_ns, measure_end_ns, drain_end_ns;
static atomic_uint_fast64_t issued; /* -n mode: requests handed out */
static atomic_bool stop_sending;    /* -n mode: all requests handed out */
static pthread_barrier_t ready_barrier;

/* ------------------------------------------------------------------------------------------ */
/* Clients                                                                                    */

enum client_state { CL_IDLE, CL_CONNECTING, CL_OPEN, CL_RETRY, CL_DONE };

struct counters {
    uint64_t sent, answered, ok, in_window;
    uint64_t error_replies, busy, failed, timeout, other_reply;
    uint64_t mismatch, duplicate, lost, io, connect_errors, connect_retries, reconnects;
};

struct thread;

struct client {
    struct thread *th;
    unsigned id;
    const struct target *target;
    int fd;
    enum client_state state;
    uint64_t next_seq;   /* the next request to send */
    uint64_t expect_seq; /* the request the next reply answers */
    unsigned outstanding;
    uint64_t *sent_at;     /* per ring slot (seq % pipeline) */
    unsigned char *frames; /* per ring slot: the request frame, kept to check its reply */
    unsigned char *wbuf;   /* bytes not yet written */
    size_t wlen, woff, wcap;
    unsigned char *rbuf;
    size_t rlen, rcap;
    bool want_out;
    uint64_t retry_at;
    uint64_t connect_started; /* conn-per-request: latency counts from here */
};

struct thread {
    pthread_t tid;
    unsigned index;
    int epfd;
    struct client *clients;
    unsigned nclients;
    struct histogram hist;
    struct counters c;
    unsigned retrying;
    uint64_t drain_end; /* set once this thread stops sending */
};

static size_t frame_len(void)
{
    return FRAME_LENGTH_HEADER + opt.size;
}

static unsigned char *slot_frame(struct client *cl, uint64_t seq)
{
    return cl->frames + (size_t)(seq % opt.pipeline) * frame_len();
}

/* The body of request seq of client id: the ids, then a pattern of both. */
static void fill_body(unsigned char *body, unsigned id, uint64_t seq)
{
    unsigned char head[HEADER_BYTES];
    uint64_t x = seq * 0x9E3779B97F4A7C15ull ^ ((uint64_t)id << 40);
    size_t i = 0;

    head[0] = (unsigned char)(id >> 24);
    head[1] = (unsigned char)(id >> 16);
    head[2] = (unsigned char)(id >> 8);
    head[3] = (unsigned char)id;
    for (int k = 0; k < 8; k++)
        head[SEQ_OFFSET + k] = (unsigned char)(seq >> (56 - 8 * k));
    for (; i < opt.size && i < HEADER_BYTES; i++)
        body[i] = head[i];
    for (; i + 8 <= opt.size; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(body + i, &x, 8);
    }
    for (; i < opt.size; i++)
        body[i] = (unsigned char)(x >> (8 * (i % 8)));
}

static void client_epoll(struct client *cl, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = cl};

    epoll_ctl(cl->th->epfd, op, cl->fd, &ev);
}

static void client_want_out(struct client *cl, bool want)
{
    if (want == cl->want_out)
        return;
    cl->want_out = want;
    client_epoll(cl, EPOLL_CTL_MOD, EPOLLIN | (want ? EPOLLOUT : 0));
}

/* Whether more requests will be sent (no side effect). */
static bool may_send(uint64_t now)
{
    if (opt.requests > 0)
        return !atomic_load_explicit(&stop_sending, memory_order_relaxed);
    return now < measure_end_ns;
}

/* Take the right to send one more request: always within the duration, N in all with -n. */
static bool take_request(uint64_t now)
{
    if (opt.requests > 0) {
        if (atomic_load_explicit(&stop_sending, memory_order_relaxed))
            return false;
        if (atomic_fetch_add(&issued, 1) >= opt.requests) {
            atomic_store(&stop_sending, true);
            return false;
        }
        return true;
    }
    return now < measure_end_ns;
}

static void client_close_fd(struct client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd); /* also leaves the epoll set */
    cl->fd = -1;
    cl->want_out = false;
    cl->wlen = cl->woff = cl->rlen = 0;
}

static int client_flush(struct client *cl)
{
    while (cl->woff < cl->wlen) {
        ssize_t n = send(cl->fd, cl->wbuf + cl->woff, cl->wlen - cl->woff, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            client_want_out(cl, true);
            return 0;
        }
        if (n < 0)
            return -1;
        cl->woff += (size_t)n;
    }
    cl->wlen = cl->woff = 0;
    client_want_out(cl, false);
    return 0;
}

/* Queue one new request (the caller flushes). */
static void client_queue_request(struct client *cl, uint64_t now)
{
    uint64_t seq = cl->next_seq++;
    unsigned char *f = slot_frame(cl, seq);

    frame_length_encode(f, (uint32_t)opt.size);
    fill_body(f + FRAME_LENGTH_HEADER, cl->id, seq);
    memcpy(cl->wbuf + cl->wlen, f, frame_len());
    cl->wlen += frame_len();
    cl->sent_at[seq % opt.pipeline] = now;
    cl->outstanding++;
    cl->th->c.sent++;
}

static void client_start_connect(struct client *cl, uint64_t now);

/* The connection broke: what was outstanding is lost; connect again unless we are done. */
static void client_broken(struct client *cl, uint64_t now)
{
    struct thread *th = cl->th;

    th->c.io++;
    th->c.lost += cl->outstanding;
    cl->expect_seq += cl->outstanding;
    cl->outstanding = 0;
    client_close_fd(cl);
    cl->state = CL_IDLE;
    if (may_send(now)) {
        th->c.reconnects++;
        client_start_connect(cl, now);
    } else {
        cl->state = CL_DONE;
    }
}

/* Send requests until P are outstanding (or just one, per connection, with --conn-per-request). */
static void client_fill(struct client *cl, uint64_t now)
{
    while (cl->outstanding < opt.pipeline && take_request(now)) {
        client_queue_request(cl, now);
        if (opt.conn_per_request)
            break;
    }
    if (cl->wlen > 0 && client_flush(cl) != 0) {
        client_broken(cl, now);
        return;
    }
    if (opt.conn_per_request && cl->outstanding == 0) {
        /* Connected, but the run ended meanwhile. */
        client_close_fd(cl);
        cl->state = CL_DONE;
    }
}

static void client_retry_later(struct client *cl, uint64_t now)
{
    client_close_fd(cl);
    cl->state = CL_RETRY;
    cl->retry_at = now + 200000; /* 0.2 ms */
    cl->th->retrying++;
}

static void client_start_connect(struct client *cl, uint64_t now)
{
    const struct target *t = cl->target;
    int fd = socket(t->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        cl->th->c.connect_errors++;
        client_retry_later(cl, now);
        return;
    }
    if (t->family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    cl->fd = fd;
    cl->connect_started = now;
    if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) == 0) {
        cl->state = CL_OPEN;
        client_epoll(cl, EPOLL_CTL_ADD, EPOLLIN);
        client_fill(cl, now);
        return;
    }
    if (errno == EINPROGRESS) {
        cl->state = CL_CONNECTING;
        cl->want_out = true;
        client_epoll(cl, EPOLL_CTL_ADD, EPOLLOUT);
        return;
    }
    /* A full Unix backlog says EAGAIN and gives no readiness event: try again shortly. */
    if (errno == EAGAIN)
        cl->th->c.connect_retries++;
    else
        cl->th->c.connect_errors++;
    client_retry_later(cl, now);
}

/* A reply that is not the one expected: a duplicate of an older one, or garbage. */
static void client_bad_reply(struct client *cl, const unsigned char *body, size_t len, uint64_t now)
{
    struct thread *th = cl->th;
    bool dup = false;

    if (len == opt.size && opt.size >= HEADER_BYTES) {
        unsigned id =
            (unsigned)body[0] << 24 | (unsigned)body[1] << 16 | (unsigned)body[2] << 8 | body[3];
        uint64_t seq = 0;
        for (int k = 0; k < 8; k++)
            seq = seq << 8 | body[SEQ_OFFSET + k];
        dup = id == cl->id && seq < cl->expect_seq;
    }
    if (dup)
        th->c.duplicate++;
    else
        th->c.mismatch++;
    /* The stream is out of step: start over on a new connection. The request this
       reply stood for is counted above; the others outstanding are lost. */
    th->c.lost += cl->outstanding > 0 ? cl->outstanding - 1 : 0;
    cl->expect_seq += cl->outstanding;
    cl->outstanding = 0;
    client_close_fd(cl);
    cl->state = CL_IDLE;
    if (may_send(now)) {
        th->c.reconnects++;
        client_start_connect(cl, now);
    } else {
        cl->state = CL_DONE;
    }
}

static void client_answered(struct client *cl, uint64_t now)
{
    struct thread *th = cl->th;
    uint64_t sent =
        opt.conn_per_request ? cl->connect_started : cl->sent_at[cl->expect_seq % opt.pipeline];

    cl->expect_seq++;
    cl->outstanding--;
    th->c.answered++;
    if (now >= measure_start_ns && (now < measure_end_ns || opt.requests > 0)) {
        th->c.in_window++;
        hist_record(&th->hist, now - sent);
    }
}

static void count_error_reply(struct thread *th, const unsigned char *text, size_t len)
{
    th->c.error_replies++;
    if (len >= 4 && memcmp(text, "BUSY", 4) == 0)
        th->c.busy++;
    else if (len >= 6 && memcmp(text, "FAILED", 6) == 0)
        th->c.failed++;
    else if (len >= 7 && memcmp(text, "TIMEOUT", 7) == 0)
        th->c.timeout++;
    else
        th->c.other_reply++;
}

/* Check every complete reply in the read buffer. Returns -1 when the client was reset. */
static int client_parse(struct client *cl, uint64_t now)
{
    struct thread *th = cl->th;
    size_t off = 0;

    while (cl->rlen - off >= FRAME_LENGTH_HEADER) {
        const unsigned char *p = cl->rbuf + off;
        uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];

        if ((size_t)n + FRAME_LENGTH_HEADER > cl->rcap || cl->outstanding == 0) {
            client_bad_reply(cl, p + FRAME_LENGTH_HEADER, 0, now);
            return -1;
        }
        if (cl->rlen - off < FRAME_LENGTH_HEADER + (size_t)n)
            break;
        const unsigned char *expect = slot_frame(cl, cl->expect_seq);
        const unsigned char *body = p + FRAME_LENGTH_HEADER;
        if (opt.proto == PROTO_PLAIN) {
            if (n != opt.size || memcmp(body, expect + FRAME_LENGTH_HEADER, opt.size) != 0) {
                client_bad_reply(cl, body, n, now);
                return -1;
            }
            th->c.ok++;
        } else if (n >= 1 && body[0] == FRAME_STATUS_OK) {
            if (n - 1 != opt.size ||
                memcmp(body + 1, expect + FRAME_LENGTH_HEADER, opt.size) != 0) {
                client_bad_reply(cl, body + 1, n - 1, now);
                return -1;
            }
            th->c.ok++;
        } else if (n >= 1 && body[0] == FRAME_STATUS_ERROR) {
            count_error_reply(th, body + 1, n - 1);
        } else {
            client_bad_reply(cl, body, 0, now);
            return -1;
        }
        client_answered(cl, now);
        off += FRAME_LENGTH_HEADER + n;
    }
    if (off > 0) {
        memmove(cl->rbuf, cl->rbuf + off, cl->rlen - off);
        cl->rlen -= off;
    }
    return 0;
}

static void client_readable(struct client *cl, uint64_t now)
{
    ssize_t n;

    do
        n = recv(cl->fd, cl->rbuf + cl->rlen, cl->rcap - cl->rlen, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        client_broken(cl, now);
        return;
    }
    cl->rlen += (size_t)n;
    if (client_parse(cl, now) != 0)
        return;
    if (opt.conn_per_request) {
        if (cl->outstanding == 0) {
            client_close_fd(cl);
            cl->state = CL_IDLE;
            if (may_send(now))
                client_start_connect(cl, now);
            else
                cl->state = CL_DONE;
        }
        return;
    }
    client_fill(cl, now);
}

static void client_event(struct client *cl, uint32_t events, uint64_t now)
{
    if (cl->state == CL_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(cl->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            cl->th->c.connect_errors++;
            client_retry_later(cl, now);
            return;
        }
        cl->state = CL_OPEN;
        cl->want_out = false;
        client_epoll(cl, EPOLL_CTL_MOD, EPOLLIN);
        client_fill(cl, now);
        return;
    }
    if (cl->state != CL_OPEN)
        return;
    if (events & EPOLLOUT) {
        if (client_flush(cl) != 0) {
            client_broken(cl, now);
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        client_readable(cl, now);
}

/* ------------------------------------------------------------------------------------------ */
/* Threads                                                                                    */

static bool thread_done(struct thread *th, uint64_t now)
{
    if (now >= drain_end_ns)
        return true;
    if (may_send(now))
        return false;
    if (th->drain_end == 0)
        th->drain_end = now + (uint64_t)(opt.drain_s * 1e9);
    else if (now >= th->drain_end)
        return true;
    for (unsigned i = 0; i < th->nclients; i++)
        if (th->clients[i].outstanding > 0 || th->clients[i].state == CL_CONNECTING)
            return false;
    return true;
}

static void *thread_main(void *arg)
{
    struct thread *th = arg;
    struct epoll_event events[256];

    pthread_barrier_wait(&ready_barrier); /* main sets the clock */
    pthread_barrier_wait(&ready_barrier);
    uint64_t now = now_ns();
    for (unsigned i = 0; i < th->nclients; i++) {
        struct client *cl = &th->clients[i];
        if (opt.conn_per_request)
            client_start_connect(cl, now);
        else if (cl->state == CL_OPEN)
            client_fill(cl, now);
    }
    for (;;) {
        now = now_ns();
        if (thread_done(th, now))
            break;
        int timeout = th->retrying > 0 ? 1 : 20;
        int n = epoll_wait(th->epfd, events, 256, timeout);
        now = now_ns();
        for (int i = 0; i < n; i++)
            client_event(events[i].data.ptr, events[i].events, now);
        if (th->retrying > 0) {
            for (unsigned i = 0; i < th->nclients; i++) {
                struct client *cl = &th->clients[i];
                if (cl->state == CL_RETRY && now >= cl->retry_at) {
                    th->retrying--;
                    cl->state = CL_IDLE;
                    if (may_send(now))
                        client_start_connect(cl, now);
                    else
                        cl->state = CL_DONE;
                }
            }
        }
    }
    /* Whatever is still outstanding after the drain never came back. */
    for (unsigned i = 0; i < th->nclients; i++) {
        struct client *cl = &th->clients[i];
        th->c.lost += cl->outstanding;
        cl->outstanding = 0;
        client_close_fd(cl);
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Set-up and report                                                                          */

static int parse_target(const char *spec, struct target *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->spec, sizeof(t->spec), "%s", spec);
    if (strncmp(spec, "tcp:", 4) == 0) {
        char host[64];
        const char *colon = strrchr(spec + 4, ':');
        struct sockaddr_in *sin = (struct sockaddr_in *)&t->addr;
        if (colon == NULL || (size_t)(colon - spec - 4) >= sizeof(host))
            return -1;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - spec - 4), spec + 4);
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)atoi(colon + 1));
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return -1;
        t->addrlen = sizeof(*sin);
        t->family = AF_INET;
        return 0;
    }
    if (strncmp(spec, "unix:", 5) == 0)
        spec += 5;
    struct sockaddr_un *sun = (struct sockaddr_un *)&t->addr;
    if (strlen(spec) >= sizeof(sun->sun_path))
        return -1;
    sun->sun_family = AF_UNIX;
    snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", spec);
    t->addrlen = sizeof(*sun);
    t->family = AF_UNIX;
    return 0;
}

static int connect_blocking(const struct target *t)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = socket(t->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) == 0) {
            if (t->family != AF_UNIX) {
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            }
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            return fd;
        }
        int e = errno;
        close(fd);
        if (e != EAGAIN && e != ECONNREFUSED && e != ENOENT)
            return -1;
        struct timespec ts = {0, 10000000}; /* 10 ms: the server may still be starting */
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: loadgen [options] TARGET...\n"
               "  TARGET               a Unix socket path (or unix:PATH), or tcp:HOST:PORT;\n"
               "                       clients are split round-robin across targets\n"
               "  -P, --proto P        drover (replies carry a status byte) | plain (echo)\n"
               "  -c, --clients N      concurrent clients (1)\n"
               "  -t, --threads N      threads multiplexing the clients (min(clients, 2))\n"
               "  -p, --pipeline N     requests outstanding per connection (1 = closed loop)\n"
               "  -s, --size BYTES     request payload size (64)\n"
               "  -d, --duration SEC   measured time (3)\n"
               "  -w, --warmup SEC     unmeasured time before it (0.5)\n"
               "  -n, --requests N     send N requests in all instead of a duration\n"
               "      --drain SEC      how long to wait for outstanding replies at the end (5)\n"
               "      --conn-per-request  connect, one request, reply, close, repeat\n"
               "      --hold SEC       connect, then stay idle SEC seconds before sending\n"
               "  -l, --label TEXT     copied into the JSON line\n"
               "Prints one human line on stderr and one JSON line on stdout.\n");
}

static double parse_double(const char *s, const char *what)
{
    char *end;
    double v = strtod(s, &end);

    if (*s == '\0' || *end != '\0' || v < 0) {
        fprintf(stderr, "loadgen: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"proto", required_argument, NULL, 'P'},   {"clients", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'}, {"pipeline", required_argument, NULL, 'p'},
        {"size", required_argument, NULL, 's'},    {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},  {"requests", required_argument, NULL, 'n'},
        {"drain", required_argument, NULL, 'D'},   {"conn-per-request", no_argument, NULL, 'C'},
        {"label", required_argument, NULL, 'l'},   {"help", no_argument, NULL, 'h'},
        {"hold", required_argument, NULL, 'H'},    {NULL, 0, NULL, 0},
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "P:c:t:p:s:d:w:n:l:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'P':
            if (strcmp(optarg, "drover") == 0)
                opt.proto = PROTO_DROVER;
            else if (strcmp(optarg, "plain") == 0)
                opt.proto = PROTO_PLAIN;
            else {
                fprintf(stderr, "loadgen: --proto is drover or plain\n");
                exit(2);
            }
            break;
        case 'c':
            opt.clients = (unsigned)parse_double(optarg, "client count");
            break;
        case 't':
            opt.threads = (unsigned)parse_double(optarg, "thread count");
            break;
        case 'p':
            opt.pipeline = (unsigned)parse_double(optarg, "pipeline depth");
            break;
        case 's':
            opt.size = (size_t)parse_double(optarg, "size");
            break;
        case 'd':
            opt.duration_s = parse_double(optarg, "duration");
            break;
        case 'w':
            opt.warmup_s = parse_double(optarg, "warm-up");
            break;
        case 'n':
            opt.requests = (uint64_t)parse_double(optarg, "request count");
            break;
        case 'D':
            opt.drain_s = parse_double(optarg, "drain time");
            break;
        case 'C':
            opt.conn_per_request = true;
            break;
        case 'H':
            opt.hold_s = parse_double(optarg, "hold time");
            break;
        case 'l':
            opt.label = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (opt.ntargets == MAX_TARGETS || parse_target(argv[i], &opt.targets[opt.ntargets]) != 0) {
            fprintf(stderr, "loadgen: bad or too many targets at '%s'\n", argv[i]);
            exit(2);
        }
        opt.ntargets++;
    }
    if (opt.ntargets == 0 || opt.clients == 0 || opt.pipeline == 0 || opt.size == 0 ||
        opt.size > (64u << 20) || (opt.duration_s <= 0 && opt.requests == 0)) {
        usage(stderr);
        exit(2);
    }
    if (opt.conn_per_request)
        opt.pipeline = 1;
    if (opt.requests > 0)
        opt.warmup_s = 0;
    if (opt.threads == 0)
        opt.threads = opt.clients < 2 ? opt.clients : 2;
    if (opt.threads > opt.clients)
        opt.threads = opt.clients;
    if (opt.threads > MAX_THREADS)
        opt.threads = MAX_THREADS;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

int main(int argc, char **argv)
{
    struct thread *threads;
    struct histogram *all;
    struct counters sum = {0};
    uint64_t end_ns;

    signal(SIGPIPE, SIG_IGN);
    parse_args(argc, argv);

    threads = calloc(opt.threads, sizeof(*threads));
    all = calloc(1, sizeof(*all));
    pthread_barrier_init(&ready_barrier, NULL, opt.threads + 1);
    for (unsigned t = 0; t < opt.threads; t++) {
        struct thread *th = &threads[t];
        th->index = t;
        th->epfd = epoll_create1(EPOLL_CLOEXEC);
        th->clients = calloc(opt.clients / opt.threads + 1, sizeof(struct client));
    }
    /* Client i runs on thread i % T and talks to target i % ntargets. */
    for (unsigned i = 0; i < opt.clients; i++) {
        struct thread *th = &threads[i % opt.threads];
        struct client *cl = &th->clients[th->nclients++];
        cl->th = th;
        cl->id = i;
        cl->target = &opt.targets[i % opt.ntargets];
        cl->fd = -1;
        cl->sent_at = calloc(opt.pipeline, sizeof(uint64_t));
        cl->frames = malloc(opt.pipeline * frame_len());
        cl->wcap = opt.pipeline * frame_len();
        cl->wbuf = malloc(cl->wcap);
        cl->rcap = opt.pipeline * (frame_len() + 1) + REPLY_SLACK;
        if (cl->rcap < 65536)
            cl->rcap = 65536;
        cl->rbuf = malloc(cl->rcap);
        if (cl->sent_at == NULL || cl->frames == NULL || cl->wbuf == NULL || cl->rbuf == NULL) {
            fprintf(stderr, "loadgen: out of memory\n");
            return 2;
        }
        if (!opt.conn_per_request) {
            cl->fd = connect_blocking(cl->target);
            if (cl->fd < 0) {
                fprintf(stderr, "loadgen: connect %s: %s\n", cl->target->spec, strerror(errno));
                return 2;
            }
            cl->state = CL_OPEN;
            client_epoll(cl, EPOLL_CTL_ADD, EPOLLIN);
        }
    }
    if (opt.hold_s > 0) {
        struct timespec ts = {(time_t)opt.hold_s,
                              (long)((opt.hold_s - (double)(time_t)opt.hold_s) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    for (unsigned t = 0; t < opt.threads; t++)
        pthread_create(&threads[t].tid, NULL, thread_main, &threads[t]);
    pthread_barrier_wait(&ready_barrier);
    start_ns = now_ns();
    measure_start_ns = start_ns + (uint64_t)(opt.warmup_s * 1e9);
    measure_end_ns =
        opt.requests > 0 ? UINT64_MAX : measure_start_ns + (uint64_t)(opt.duration_s * 1e9);
    drain_end_ns = opt.requests > 0 ? UINT64_MAX : measure_end_ns + (uint64_t)(opt.drain_s * 1e9);
    pthread_barrier_wait(&ready_barrier);
    for (unsigned t = 0; t < opt.threads; t++) {
        struct counters *c = &threads[t].c;
        pthread_join(threads[t].tid, NULL);
        hist_merge(all, &threads[t].hist);
        sum.sent += c->sent;
        sum.answered += c->answered;
        sum.ok += c->ok;
        sum.in_window += c->in_window;
        sum.error_replies += c->error_replies;
        sum.busy += c->busy;
        sum.failed += c->failed;
        sum.timeout += c->timeout;
        sum.other_reply += c->other_reply;
        sum.mismatch += c->mismatch;
        sum.duplicate += c->duplicate;
        sum.lost += c->lost;
        sum.io += c->io;
        sum.connect_errors += c->connect_errors;
        sum.connect_retries += c->connect_retries;
        sum.reconnects += c->reconnects;
    }
    end_ns = now_ns();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

    double window_s = opt.requests > 0 ? (double)(end_ns - start_ns) / 1e9 : opt.duration_s;
    double rps = (double)sum.in_window / window_s;
    double p50 = hist_percentile(all, 50) / 1e3, p90 = hist_percentile(all, 90) / 1e3;
    double p99 = hist_percentile(all, 99) / 1e3, p999 = hist_percentile(all, 99.9) / 1e3;
    double max = (double)all->max / 1e3, mean = all->n ? all->sum / (double)all->n / 1e3 : 0;
    uint64_t errors =
        sum.error_replies + sum.mismatch + sum.duplicate + sum.lost + sum.io + sum.connect_errors;
    const char *proto = opt.proto == PROTO_DROVER ? "drover" : "plain";

    fprintf(stderr,
            "loadgen%s%s: %s%s %u clients x%u %zuB over %u target%s, %u thread%s: "
            "%.0f req/s  p50 %.1fus  p90 %.1fus  p99 %.1fus  max %.1fus  "
            "errors %" PRIu64 " (error replies %" PRIu64 ", mismatch %" PRIu64
            ", duplicate %" PRIu64 ", lost %" PRIu64 ", io %" PRIu64 ")\n",
            opt.label[0] ? " " : "", opt.label, proto,
            opt.conn_per_request ? " conn-per-request" : "", opt.clients, opt.pipeline, opt.size,
            opt.ntargets, opt.ntargets == 1 ? "" : "s", opt.threads, opt.threads == 1 ? "" : "s",
            rps, p50, p90, p99, max, errors, sum.error_replies, sum.mismatch, sum.duplicate,
            sum.lost, sum.io);

    printf("{\"label\":");
    json_string(opt.label);
    printf(",\"proto\":\"%s\",\"conn_per_request\":%s,\"targets\":%u,\"clients\":%u,"
           "\"threads\":%u,\"pipeline\":%u,\"size\":%zu,\"window_s\":%.3f,"
           "\"requests\":%" PRIu64 ",\"rps\":%.1f,"
           "\"lat_us\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f,"
           "\"mean\":%.2f},"
           "\"sent\":%" PRIu64 ",\"answered\":%" PRIu64 ",\"ok\":%" PRIu64 ","
           "\"errors\":{\"total\":%" PRIu64 ",\"error_replies\":%" PRIu64 ",\"busy\":%" PRIu64
           ",\"failed\":%" PRIu64 ",\"timeout\":%" PRIu64 ",\"other_reply\":%" PRIu64
           ",\"mismatch\":%" PRIu64 ",\"duplicate\":%" PRIu64 ",\"lost\":%" PRIu64
           ",\"io\":%" PRIu64 ",\"connect\":%" PRIu64 "},"
           "\"connect_retries\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"elapsed_s\":%.3f,"
           "\"cpu_s\":%.3f}\n",
           proto, opt.conn_per_request ? "true" : "false", opt.ntargets, opt.clients, opt.threads,
           opt.pipeline, opt.size, window_s, sum.in_window, rps, p50, p90, p99, p999, max, mean,
           sum.sent, sum.answered, sum.ok, errors, sum.error_replies, sum.busy, sum.failed,
           sum.timeout, sum.other_reply, sum.mismatch, sum.duplicate, sum.lost, sum.io,
           sum.connect_errors, sum.connect_retries, sum.reconnects,
           (double)(end_ns - start_ns) / 1e9, cpu_s);
    fflush(stdout);
    return sum.mismatch + sum.duplicate + sum.lost + sum.io + sum.connect_errors > 0 ? 1 : 0;
}
