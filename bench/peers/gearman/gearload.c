/* SPDX-License-Identifier: ISC */
/*
 * gearload: workclient's closed loop, spoken in gearman's binary protocol
 * (gearman.org/protocol) to a gearmand, so the gearman route is measured the
 * way every other route is: C clients on one thread with epoll, each with one
 * job outstanding (SUBMIT_JOB, then JOB_CREATED, then WORK_COMPLETE), the
 * unique request bodies (client id, sequence number, pattern), every result
 * checked against its own request, and the JSON fields bench/ reads from
 * workclient (rps, lat_us, errors{failed, lost, duplicate, mismatch, io, connect}).
 * Latency runs from SUBMIT_JOB sent to WORK_COMPLETE received.
 *
 *   gearload [-c CLIENTS] [-s BYTES] [-d SEC] [-w SEC] [--drain SEC]
 *            [-f FUNCTION] [-l LABEL] HOST:PORT
 *
 * Exit 0 when every job got its own result, 1 otherwise, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_time.h"
#include "stats.h"

#define HEADER_BYTES     12 /* of a request body: client id (4), sequence number (8) */
#define PKT_HEADER       12 /* of a gearman packet: magic (4), type (4), size (4) */
#define T_SUBMIT_JOB     7
#define T_JOB_CREATED    8
#define T_WORK_STATUS    12
#define T_WORK_COMPLETE  13
#define T_WORK_FAIL      14
#define T_ERROR          19
#define T_WORK_EXCEPTION 25
#define T_WORK_DATA      28
#define T_WORK_WARNING   29
#define OLD_HANDLES      8

static struct {
    unsigned clients;
    size_t size;
    double duration_s, warmup_s, drain_s;
    const char *function, *label;
    struct sockaddr_in addr;
} opt = {.clients = 1,
         .size = 64,
         .duration_s = 3,
         .warmup_s = 0.5,
         .drain_s = 5,
         .function = "echo",
         .label = ""};

static uint64_t measure_start, measure_end, drain_end;

struct counters {
    uint64_t sent, answered, ok, in_window, failed, mismatch, duplicate, lost, io, connect_errors,
        reconnects;
} c;

struct client {
    unsigned id;
    int fd;
    bool outstanding, want_out;
    uint64_t seq, sent_at;
    unsigned char *req;  /* the request body, kept to check the result */
    unsigned char *wbuf; /* the SUBMIT_JOB packet */
    size_t wlen, woff;
    unsigned char *rbuf;
    size_t rlen, rcap;
    char handle[64];           /* of the job outstanding, once JOB_CREATED came */
    char old[OLD_HANDLES][64]; /* handles of jobs already answered */
    unsigned nold;
};

static int epfd;
static uint64_t *lat;
static size_t nlat, latcap;

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The request body: the ids, then a pattern of both. */
static void fill_body(unsigned char *body, unsigned id, uint64_t seq)
{
    unsigned char head[HEADER_BYTES];
    uint64_t x = seq * 0x9E3779B97F4A7C15ull ^ ((uint64_t)id << 40);
    size_t i = 0;

    put32(head, id);
    for (int k = 0; k < 8; k++)
        head[4 + k] = (unsigned char)(seq >> (56 - 8 * k));
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

static void set_events(struct client *cl, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = cl};

    if (out != cl->want_out) {
        cl->want_out = out;
        epoll_ctl(epfd, EPOLL_CTL_MOD, cl->fd, &ev);
    }
}

static int flush(struct client *cl)
{
    while (cl->woff < cl->wlen) {
        ssize_t n = send(cl->fd, cl->wbuf + cl->woff, cl->wlen - cl->woff, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            set_events(cl, true);
            return 0;
        }
        if (n < 0)
            return -1;
        cl->woff += (size_t)n;
    }
    cl->wlen = cl->woff = 0;
    set_events(cl, false);
    return 0;
}

static int connect_to(void)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&opt.addr, sizeof(opt.addr)) == 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            return fd;
        }
        close(fd);
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void send_job(struct client *cl, uint64_t now)
{
    char unique[32];
    size_t flen = strlen(opt.function), ulen;
    unsigned char *p = cl->wbuf;

    ulen = (size_t)snprintf(unique, sizeof(unique), "%u:%" PRIu64, cl->id, cl->seq);
    fill_body(cl->req, cl->id, cl->seq);
    memcpy(p, "\0REQ", 4);
    put32(p + 4, T_SUBMIT_JOB);
    put32(p + 8, (uint32_t)(flen + 1 + ulen + 1 + opt.size));
    p += PKT_HEADER;
    memcpy(p, opt.function, flen + 1);
    p += flen + 1;
    memcpy(p, unique, ulen + 1);
    p += ulen + 1;
    memcpy(p, cl->req, opt.size);
    cl->wlen = (size_t)(p + opt.size - cl->wbuf);
    cl->woff = 0;
    cl->handle[0] = '\0';
    cl->outstanding = true;
    cl->sent_at = now;
    c.sent++;
}

static void client_open(struct client *cl);
static void next_job(struct client *cl, uint64_t now);

/* The connection broke: the job outstanding is lost; connect again while the run lasts. */
static void client_broken(struct client *cl, uint64_t now)
{
    c.io++;
    if (cl->outstanding)
        c.lost++;
    cl->outstanding = false;
    close(cl->fd);
    cl->fd = -1;
    cl->rlen = 0;
    cl->seq++;
    if (now < measure_end) {
        c.reconnects++;
        client_open(cl);
        if (cl->fd >= 0)
            next_job(cl, now);
    }
}

static void next_job(struct client *cl, uint64_t now)
{
    if (now >= measure_end)
        return;
    send_job(cl, now);
    if (flush(cl) != 0)
        client_broken(cl, now);
}

static void client_open(struct client *cl)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = cl};

    cl->fd = connect_to();
    cl->want_out = false;
    if (cl->fd < 0) {
        c.connect_errors++;
        return;
    }
    epoll_ctl(epfd, EPOLL_CTL_ADD, cl->fd, &ev);
}

static void remember_handle(struct client *cl)
{
    memcpy(cl->old[cl->nold++ % OLD_HANDLES], cl->handle, sizeof(cl->handle));
}

static bool old_handle(struct client *cl, const char *h)
{
    for (unsigned i = 0; i < OLD_HANDLES && i < cl->nold; i++)
        if (strcmp(cl->old[i], h) == 0)
            return true;
    return false;
}

/* One response packet. Returns -1 when the client was reset. */
static int on_packet(struct client *cl, uint32_t type, const unsigned char *data, size_t len,
                     uint64_t now)
{
    const unsigned char *nul = memchr(data, '\0', len);
    size_t hlen = nul != NULL ? (size_t)(nul - data) : len;
    char h[64];

    snprintf(h, sizeof(h), "%.*s", (int)(hlen < 63 ? hlen : 63), (const char *)data);
    switch (type) {
    case T_JOB_CREATED:
        snprintf(cl->handle, sizeof(cl->handle), "%s", h);
        return 0;
    case T_WORK_STATUS:
    case T_WORK_DATA:
    case T_WORK_WARNING:
        return 0;
    case T_WORK_COMPLETE:
    case T_WORK_FAIL:
    case T_WORK_EXCEPTION:
        if (!cl->outstanding || strcmp(h, cl->handle) != 0) {
            if (old_handle(cl, h))
                c.duplicate++;
            else
                c.mismatch++;
            return 0; /* a stray result; the job outstanding may still be answered */
        }
        if (type == T_WORK_COMPLETE) {
            const unsigned char *body = nul != NULL ? nul + 1 : data + len;
            size_t blen = (size_t)(data + len - body);
            if (blen != opt.size || memcmp(body, cl->req, opt.size) != 0)
                c.mismatch++;
            else
                c.ok++;
        } else {
            c.failed++;
        }
        c.answered++;
        if (now >= measure_start && now < measure_end) {
            c.in_window++;
            if (nlat == latcap)
                lat = realloc(lat, (latcap = latcap ? latcap * 2 : 65536) * sizeof(*lat));
            lat[nlat++] = now - cl->sent_at;
        }
        remember_handle(cl);
        cl->outstanding = false;
        cl->seq++;
        next_job(cl, now);
        return cl->fd < 0 ? -1 : 0;
    case T_ERROR:
    default:
        c.mismatch++;
        client_broken(cl, now);
        return -1;
    }
}

static void client_readable(struct client *cl, uint64_t now)
{
    for (;;) {
        if (cl->rcap - cl->rlen < 65536) {
            cl->rcap *= 2;
            cl->rbuf = realloc(cl->rbuf, cl->rcap);
        }
        ssize_t n = recv(cl->fd, cl->rbuf + cl->rlen, cl->rcap - cl->rlen, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            client_broken(cl, now);
            return;
        }
        cl->rlen += (size_t)n;
    }
    size_t off = 0;
    while (cl->rlen - off >= PKT_HEADER) {
        const unsigned char *p = cl->rbuf + off;
        uint32_t type = get32(p + 4), len = get32(p + 8);
        if (memcmp(p, "\0RES", 4) != 0) {
            c.mismatch++;
            client_broken(cl, now);
            return;
        }
        if (cl->rlen - off < PKT_HEADER + (size_t)len)
            break;
        off += PKT_HEADER + len;
        if (on_packet(cl, type, p + PKT_HEADER, len, now) != 0)
            return;
    }
    memmove(cl->rbuf, cl->rbuf + off, cl->rlen - off);
    cl->rlen -= off;
}

/* Percentile P of the sorted latencies, in µs. */
static double pct_us(double p)
{
    return (double)pct(lat, nlat, p) / 1e3;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"clients", required_argument, NULL, 'c'},  {"size", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'}, {"warmup", required_argument, NULL, 'w'},
        {"drain", required_argument, NULL, 'D'},    {"function", required_argument, NULL, 'f'},
        {"label", required_argument, NULL, 'l'},    {NULL, 0, NULL, 0},
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "c:s:d:w:f:l:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            opt.clients = (unsigned)atoi(optarg);
            break;
        case 's':
            opt.size = (size_t)atol(optarg);
            break;
        case 'd':
            opt.duration_s = atof(optarg);
            break;
        case 'w':
            opt.warmup_s = atof(optarg);
            break;
        case 'D':
            opt.drain_s = atof(optarg);
            break;
        case 'f':
            opt.function = optarg;
            break;
        case 'l':
            opt.label = optarg;
            break;
        default:
            goto usage;
        }
    }
    char host[64];
    const char *colon = optind < argc ? strrchr(argv[optind], ':') : NULL;
    if (colon == NULL || opt.clients == 0 || opt.size < HEADER_BYTES ||
        (size_t)(colon - argv[optind]) >= sizeof(host))
        goto usage;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - argv[optind]), argv[optind]);
    opt.addr.sin_family = AF_INET;
    opt.addr.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &opt.addr.sin_addr) != 1)
        goto usage;

    signal(SIGPIPE, SIG_IGN);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct client *cls = calloc(opt.clients, sizeof(*cls));
    for (unsigned i = 0; i < opt.clients; i++) {
        struct client *cl = &cls[i];
        cl->id = i;
        cl->req = malloc(opt.size);
        cl->wbuf = malloc(PKT_HEADER + strlen(opt.function) + 64 + opt.size);
        cl->rcap = 2 * 65536 + opt.size;
        cl->rbuf = malloc(cl->rcap);
        client_open(cl);
        if (cl->fd < 0) {
            fprintf(stderr, "gearload: cannot connect to %s\n", argv[optind]);
            return 2;
        }
    }
    uint64_t start = now_ns();
    measure_start = start + (uint64_t)(opt.warmup_s * 1e9);
    measure_end = measure_start + (uint64_t)(opt.duration_s * 1e9);
    drain_end = measure_end + (uint64_t)(opt.drain_s * 1e9);
    for (unsigned i = 0; i < opt.clients; i++)
        next_job(&cls[i], start);

    struct epoll_event events[256];
    for (;;) {
        uint64_t now = now_ns();
        if (now >= drain_end)
            break;
        if (now >= measure_end) {
            bool any = false;
            for (unsigned i = 0; i < opt.clients && !any; i++)
                any = cls[i].outstanding && cls[i].fd >= 0;
            if (!any)
                break;
        }
        int n = epoll_wait(epfd, events, 256, 20);
        now = now_ns();
        for (int i = 0; i < n; i++) {
            struct client *cl = events[i].data.ptr;
            if (cl->fd < 0)
                continue;
            if ((events[i].events & EPOLLOUT) && flush(cl) != 0) {
                client_broken(cl, now);
                continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                client_readable(cl, now);
        }
        /* a client whose reconnect failed: try again while the run lasts */
        for (unsigned i = 0; i < opt.clients; i++)
            if (cls[i].fd < 0 && now < measure_end) {
                client_open(&cls[i]);
                if (cls[i].fd >= 0)
                    next_job(&cls[i], now);
            }
    }
    for (unsigned i = 0; i < opt.clients; i++)
        if (cls[i].outstanding)
            c.lost++;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    qsort(lat, nlat, sizeof(*lat), cmp_u64);
    double mean = 0;
    for (size_t i = 0; i < nlat; i++)
        mean += (double)lat[i];
    mean = nlat ? mean / (double)nlat / 1e3 : 0;
    double rps = (double)c.in_window / opt.duration_s;
    uint64_t errors = c.failed + c.mismatch + c.duplicate + c.lost + c.io + c.connect_errors;

    fprintf(stderr,
            "gearload%s%s: %u clients %zuB: %.0f jobs/s  p50 %.1fus  p99 %.1fus  max %.1fus  "
            "errors %" PRIu64 " (failed %" PRIu64 ", mismatch %" PRIu64 ", duplicate %" PRIu64
            ", lost %" PRIu64 ", io %" PRIu64 ")\n",
            opt.label[0] ? " " : "", opt.label, opt.clients, opt.size, rps, pct_us(50), pct_us(99),
            nlat ? (double)lat[nlat - 1] / 1e3 : 0.0, errors, c.failed, c.mismatch, c.duplicate,
            c.lost, c.io);
    printf("{\"label\":\"%s\",\"proto\":\"gearman\",\"conn_per_request\":false,\"targets\":1,"
           "\"clients\":%u,\"threads\":1,\"pipeline\":1,\"size\":%zu,\"window_s\":%.3f,"
           "\"requests\":%" PRIu64 ",\"rps\":%.1f,"
           "\"lat_us\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f,"
           "\"mean\":%.2f},\"sent\":%" PRIu64 ",\"answered\":%" PRIu64 ",\"ok\":%" PRIu64 ","
           "\"errors\":{\"total\":%" PRIu64 ",\"error_replies\":%" PRIu64 ",\"busy\":0,"
           "\"failed\":%" PRIu64 ",\"timeout\":0,\"other_reply\":0,\"mismatch\":%" PRIu64
           ",\"duplicate\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"io\":%" PRIu64 ",\"connect\":%" PRIu64
           "},\"connect_retries\":0,\"reconnects\":%" PRIu64 ",\"cpu_s\":%.3f}\n",
           opt.label, opt.clients, opt.size, opt.duration_s, c.in_window, rps, pct_us(50),
           pct_us(90), pct_us(99), pct_us(99.9), nlat ? (double)lat[nlat - 1] / 1e3 : 0.0, mean,
           c.sent, c.answered, c.ok, errors, c.failed, c.failed, c.mismatch, c.duplicate, c.lost,
           c.io, c.connect_errors, c.reconnects, cpu_s);
    return c.mismatch + c.duplicate + c.lost + c.io + c.connect_errors > 0 ? 1 : 0;

usage:
    fprintf(stderr, "usage: gearload [-c CLIENTS] [-s BYTES] [-d SEC] [-w SEC] [--drain SEC] "
                    "[-f FUNCTION] [-l LABEL] HOST:PORT\n");
    return 2;
}
