/* SPDX-License-Identifier: ISC */
/*
 * workclient: the load client for drover's work sockets, used by the
 * integration tests, the soak test and every script in bench/ (and for the
 * references drover is compared with: echo workers on their own sockets,
 * nginx, haproxy, pm2).
 *
 * It opens C connections (spread over --threads threads, each with its own
 * epoll set; one by default), keeps up to P requests in flight on each, and
 * sends N requests in all (or keeps sending for --duration, after --warmup).
 * With several -s targets, connection i talks to target i % targets.
 * Every request body is unique and says what it is:
 *
 *     GID.CONN.SEQ.RAND.padding        (lowercase, never a newline)
 *
 * Every reply is checked: a '+' reply must be exactly what the pool's
 * workers make of its request (--expect; echo by default) and replies
 * must come back in the order of the requests on their connection. It
 * counts ok, busy, failed, timeout, other errors, mismatched, duplicated
 * (a reply to a request already answered), malformed frames and lost
 * requests (the connection closed with requests outstanding), prints one
 * JSON line, and exits 1 when anything not declared acceptable happened.
 *
 * SIGUSR1 ends the sending early, as if --duration had run out: what is in
 * flight is drained and the summary printed. Tests run a background load
 * for exactly as long as the phase it accompanies this way.
 *
 * --raw talks to connection-serving workers (handoff, shared, or an
 * echo-worker on its own socket): plain length frames both ways, no
 * status byte.
 *
 * The summary line (stable; the tests and bench/ parse it):
 *   label         --label, verbatim
 *   proto, conn_per_request, targets, clients, threads, pipeline, size
 *                 what was run ("drover" or "plain" = --raw; -k 1)
 *   result        "pass" or "fail" (the exit status says the same)
 *   sent, answered, ok, busy, failed, timeout, other_error
 *                 requests sent; replies by kind ('+', "-BUSY", "-FAILED",
 *                 "-TIMEOUT", any other '-')
 *   mismatched    '+' replies that were not the answer to their request
 *   duplicated    replies to a request already answered
 *   unexpected    replies with no request outstanding on the connection
 *   malformed     reply frames that do not parse (the connection is dropped)
 *   lost          requests outstanding when the peer closed the connection
 *   unanswered    requests outstanding at the deadline
 *   unsent        requests never sent before the deadline (without --duration)
 *   connect_failed, connections   failed and successful connects
 *   elapsed_s     wall time from the first request (after --hold) to the end
 *   window_s, requests, rps
 *                 the measured window (from the end of --warmup to the end,
 *                 the drain of what was in flight when sending stopped
 *                 included), the '+' replies read in it and their rate
 *   ok_p50_us ok_p99_us ok_p999_us ok_max_us err_p50_us err_max_us
 *                 latency from writing a request to reading its reply (with
 *                 -k 1, from starting to connect), replies in the window only
 *                 (quantiles within 1%, maxima exact)
 *   lat_us        {p50, p90, p99, p999, max, mean} of the '+' replies, to 0.01 us
 *   errors        {total, error_replies, busy, failed, timeout, other_reply,
 *                 mismatch, duplicate, lost, io, connect}: the same counts
 *                 again, grouped as bench/ reads them (lost includes
 *                 unanswered; io counts connections that broke)
 *   connect_retries, reconnects   always 0 and connections - clients (bench/)
 *   cpu_s         this process's CPU time (user + system)
 *   target_ok     '+' replies by target, in the order of the -s options
 *
 * Exit status: 0 all good; 1 something unacceptable (see the JSON);
 * 2 bad usage (a line on stderr says what).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
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

#include "frame.h"

#define MAX_REPLY          (256u << 20)
#define RECONNECT_DELAY_NS (10 * 1000000ULL) /* after a failed connect */
#define READ_CHUNK         65536
#define MAX_TARGETS        64
#define MAX_THREADS        64
#define MAX_CONNS          100000
#define MAX_PIPELINE       65536
#define MAX_SIZE           (64u << 20) /* a request body; well under the frame's 32 bits */
#define MAX_SECS           (30 * 86400.0)

enum expect { EXPECT_ECHO, EXPECT_UPPER, EXPECT_PREFIX, EXPECT_ANY };

struct target {
    const char *spec;
    struct sockaddr_storage addr;
    socklen_t len;
    int family;
};

/* What the options say. */
struct options {
    struct target targets[MAX_TARGETS];
    unsigned ntargets;
    unsigned threads;
    double warmup_s, hold_s;
    const char *label;
    bool deadline_set;
    int framing; /* 0 length, 1 line */
    bool raw;
    unsigned conns;
    unsigned pipeline;
    uint64_t requests;
    size_t size;
    double deadline_s;
    double duration_s;
    uint64_t per_conn; /* requests per connection before reconnecting; 0 = no limit */
    enum expect expect;
    const char *prefix;
    size_t prefix_len;
    bool accept_busy, accept_failed, accept_timeout, accept_lost, accept_connect;
    bool verbose;
    bool requests_set;
    unsigned seed;
};

/* One request in flight on a connection. */
struct outreq {
    uint64_t gid;
    uint64_t sent_ns;
    unsigned char *body;
    size_t len;
};

enum conn_state { CONN_IDLE, CONN_CONNECTING, CONN_OPEN };

struct conn {
    unsigned index;
    const struct target *target;
    uint64_t opened_ns; /* when the current connect started */
    int fd;
    enum conn_state state;
    uint64_t retry_at_ns;
    uint32_t events;     /* registered with epoll */
    struct outreq *ring; /* capacity = pipeline */
    size_t head, count;
    uint64_t seq; /* requests sent on the current connection */
    unsigned char *out;
    size_t out_len, out_off, out_cap;
    unsigned char *in;
    size_t in_len, in_cap;
};

struct counters {
    uint64_t sent, answered, ok, busy, failed, timeout, other_error;
    uint64_t mismatched, duplicated, malformed, lost, unanswered, unsent;
    uint64_t connect_failed, connections, unexpected;
    uint64_t io, in_window;
    uint64_t target_ok[MAX_TARGETS]; /* '+' replies by target, the whole run */
};

/*
 * Latencies in nanoseconds, in a log-linear histogram so memory stays fixed
 * however long a soak runs: exact below 256 ns, then 128 buckets per power of
 * two (within 1%). The maximum is kept exactly.
 */
#define HIST_SUB_BITS 7
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_DIRECT   (2 * HIST_SUB)
#define HIST_BUCKETS  (HIST_DIRECT + (64 - HIST_SUB_BITS - 1) * HIST_SUB)
struct histogram {
    uint64_t count[HIST_BUCKETS];
    uint64_t n, max;
    double sum;
};

static struct options opt;
static atomic_uint_fast64_t next_gid; /* requests handed out, all threads */
static atomic_int stop_signalled;     /* SIGUSR1 (lock-free, so safe in a handler) */
static uint64_t start_ns, measure_start_ns, send_until_ns, deadline_ns;
static pthread_mutex_t totals_lock = PTHREAD_MUTEX_INITIALIZER;
static struct counters totals;
static struct histogram *ok_total, *err_total;
static _Atomic uint64_t end_ns; /* the last thread's end */

/* Each thread's own: its connections, epoll set, counts and latencies. */
static _Thread_local struct counters cnt;
static _Thread_local struct conn *conns;
static _Thread_local unsigned nconns;
static _Thread_local int epfd;
static _Thread_local bool stop_sending;
static _Thread_local unsigned char *answered; /* bitmap by gid */
static _Thread_local uint64_t answered_cap;   /* bits */
static _Thread_local struct histogram *ok_lat, *err_lat;
static _Thread_local uint64_t rng_state;
static _Thread_local unsigned idle_conns;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(void)
{
    /* xorshift64*: fast, good enough for payload bytes. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        fprintf(stderr, "workclient: out of memory\n");
        exit(1);
    }
    return q;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: workclient -s ADDR [-s ADDR...] [options]\n"
            "  -s, --socket ADDR      Unix socket path, or tcp:HOST:PORT; repeat for several\n"
            "                         targets (connection i talks to target i %% targets)\n"
            "  -f, --framing F        length (default) or line\n"
            "  -r, --raw              plain length frames both ways, no status byte\n"
            "                         (handoff, shared, or a worker's own socket)\n"
            "  -c, --conns C          connections (default 1)\n"
            "  -p, --pipeline P       requests in flight per connection (default 1)\n"
            "  -n, --requests N       requests in all (default 1000; a cap with --duration)\n"
            "  -t, --duration SECS    keep sending for this long (or until SIGUSR1), then drain\n"
            "  -w, --warmup SECS      with --duration: send this long first; replies in it\n"
            "                         count for nothing but sent/answered/ok (default 0)\n"
            "  -T, --threads T        spread the connections over T threads (default 1,\n"
            "                         at most 64, never more than the connections)\n"
            "  -H, --hold SECS        connect, then stay idle this long before sending\n"
            "  -l, --label TEXT       copied into the JSON line\n"
            "  -z, --size BYTES       body size, up to 64 MiB; at least the self-describing\n"
            "                         header (default 32)\n"
            "  -k, --per-conn K       close and reopen a connection after K requests (1 =\n"
            "                         one connection per request; default 0 = never)\n"
            "  -d, --deadline SECS    give up after this long (default 30, or\n"
            "                         warmup + duration + 5 when longer)\n"
            "  -e, --expect E         echo (default), upper, prefix:STR, or any\n"
            "  -a, --accept LIST      acceptable outcomes: busy,failed,timeout,lost,connect\n"
            "                         (or none)\n"
            "  -S, --seed N           payload randomness (default: from the clock)\n"
            "  -v, --verbose          describe every problem on stderr\n"
            "  -h, --help             this text\n"
            "Prints one JSON line (its fields: the comment at the top of workclient.c);\n"
            "exit 0 when nothing unacceptable happened, 1 otherwise, 2 on bad usage.\n");
}

/* Bad usage: say what is wrong, then exit 2. */
static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("workclient: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see workclient --help)\n", stderr);
    exit(2);
}

/* Seconds for option NAME: a finite number from 0 to MAX_SECS. */
static double parse_secs(const char *name, const char *s)
{
    char *end;
    double v = strtod(s, &end);

    /* !(v <= MAX_SECS) also refuses nan and inf. */
    if (end == s || *end != '\0' || v < 0 || !(v <= MAX_SECS))
        usage_error("%s: '%s' is not a number of seconds from 0 to %.0f", name, s, MAX_SECS);
    return v;
}

/* A count for option NAME, from min to max (decimal digits only: no sign, no blanks). */
static uint64_t parse_count(const char *name, const char *s, uint64_t min, uint64_t max)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (!isdigit((unsigned char)s[0]) || *end != '\0' || errno != 0 || v < min || v > max)
        usage_error("%s: '%s' is not a whole number from %" PRIu64 " to %" PRIu64, name, s, min,
                    max);
    return (uint64_t)v;
}

static void parse_accept(char *list)
{
    char *save = NULL;

    for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "busy") == 0)
            opt.accept_busy = true;
        else if (strcmp(t, "failed") == 0)
            opt.accept_failed = true;
        else if (strcmp(t, "timeout") == 0)
            opt.accept_timeout = true;
        else if (strcmp(t, "lost") == 0)
            opt.accept_lost = true;
        else if (strcmp(t, "connect") == 0)
            opt.accept_connect = true;
        else if (strcmp(t, "none") != 0)
            usage_error("--accept: unknown outcome '%s' (busy, failed, timeout, lost, connect, "
                        "none)",
                        t);
    }
}

static void parse_options(int argc, char **argv)
{
    static const struct option longopts[] = {{"socket", required_argument, NULL, 's'},
                                             {"framing", required_argument, NULL, 'f'},
                                             {"raw", no_argument, NULL, 'r'},
                                             {"conns", required_argument, NULL, 'c'},
                                             {"pipeline", required_argument, NULL, 'p'},
                                             {"requests", required_argument, NULL, 'n'},
                                             {"duration", required_argument, NULL, 't'},
                                             {"size", required_argument, NULL, 'z'},
                                             {"per-conn", required_argument, NULL, 'k'},
                                             {"deadline", required_argument, NULL, 'd'},
                                             {"expect", required_argument, NULL, 'e'},
                                             {"accept", required_argument, NULL, 'a'},
                                             {"seed", required_argument, NULL, 'S'},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {"warmup", required_argument, NULL, 'w'},
                                             {"threads", required_argument, NULL, 'T'},
                                             {"hold", required_argument, NULL, 'H'},
                                             {"label", required_argument, NULL, 'l'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;

    opt.conns = 1;
    opt.pipeline = 1;
    opt.requests = 1000;
    opt.size = 32;
    opt.deadline_s = 30;
    opt.threads = 1;
    opt.label = "";
    opt.seed = (unsigned)now_ns() ^ (unsigned)getpid();
    while ((ch = getopt_long(argc, argv, "s:f:rc:p:n:t:z:k:d:e:a:S:vw:T:H:l:h", longopts, NULL)) !=
           -1) {
        switch (ch) {
        case 's':
            if (opt.ntargets == MAX_TARGETS)
                usage_error("--socket: at most %d targets", MAX_TARGETS);
            opt.targets[opt.ntargets++].spec = optarg;
            break;
        case 'w':
            opt.warmup_s = parse_secs("--warmup", optarg);
            break;
        case 'T':
            opt.threads = (unsigned)parse_count("--threads", optarg, 1, MAX_THREADS);
            break;
        case 'H':
            opt.hold_s = parse_secs("--hold", optarg);
            break;
        case 'l':
            opt.label = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "length") == 0)
                opt.framing = 0;
            else if (strcmp(optarg, "line") == 0)
                opt.framing = 1;
            else
                usage_error("--framing is length or line, not '%s'", optarg);
            break;
        case 'r':
            opt.raw = true;
            break;
        case 'c':
            opt.conns = (unsigned)parse_count("--conns", optarg, 1, MAX_CONNS);
            break;
        case 'p':
            opt.pipeline = (unsigned)parse_count("--pipeline", optarg, 1, MAX_PIPELINE);
            break;
        case 'n':
            opt.requests = parse_count("--requests", optarg, 1, UINT64_MAX / 2);
            opt.requests_set = true;
            break;
        case 't':
            opt.duration_s = parse_secs("--duration", optarg);
            break;
        case 'z':
            opt.size = (size_t)parse_count("--size", optarg, 1, MAX_SIZE);
            break;
        case 'k':
            opt.per_conn = parse_count("--per-conn", optarg, 0, UINT64_MAX);
            break;
        case 'd':
            opt.deadline_s = parse_secs("--deadline", optarg);
            opt.deadline_set = true;
            break;
        case 'e':
            if (strcmp(optarg, "echo") == 0)
                opt.expect = EXPECT_ECHO;
            else if (strcmp(optarg, "upper") == 0)
                opt.expect = EXPECT_UPPER;
            else if (strcmp(optarg, "any") == 0)
                opt.expect = EXPECT_ANY;
            else if (strncmp(optarg, "prefix:", 7) == 0) {
                opt.expect = EXPECT_PREFIX;
                opt.prefix = optarg + 7;
                opt.prefix_len = strlen(opt.prefix);
            } else
                usage_error("--expect is echo, upper, prefix:STR or any, not '%s'", optarg);
            break;
        case 'a':
            parse_accept(optarg);
            break;
        case 'S':
            opt.seed = (unsigned)parse_count("--seed", optarg, 0, UINT_MAX);
            break;
        case 'v':
            opt.verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default: /* getopt said what */
            fprintf(stderr, "workclient: see workclient --help\n");
            exit(2);
        }
    }
    if (optind != argc)
        usage_error("unexpected argument '%s' (targets are given with -s)", argv[optind]);
    if (opt.ntargets == 0)
        usage_error("no target: give one or more -s ADDR");
    if (opt.raw && opt.framing != 0)
        usage_error("--raw speaks length frames: it does not go with --framing line");
    if (opt.warmup_s > 0 && opt.duration_s <= 0)
        usage_error("--warmup needs --duration (a count of requests is measured whole)");
    if (opt.deadline_set && opt.deadline_s <= 0)
        usage_error("--deadline must be more than 0");
    if (opt.duration_s > 0 && !opt.requests_set)
        opt.requests = UINT64_MAX / 2; /* --duration without -n: no cap worth naming */
    if (!opt.deadline_set && opt.warmup_s + opt.duration_s + 5 > opt.deadline_s)
        opt.deadline_s = opt.warmup_s + opt.duration_s + 5;
    if (opt.threads > opt.conns)
        opt.threads = opt.conns; /* a thread without a connection would have nothing to do */
}

/* Resolve a target once: a Unix path, or tcp:HOST:PORT. */
static void resolve_target(struct target *t)
{
    struct sockaddr_storage *peer = &t->addr;

    memset(peer, 0, sizeof(*peer));
    if (strncmp(t->spec, "tcp:", 4) == 0) {
        char host[256];
        const char *hp = t->spec + 4, *port;
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
        int rc;

        if (hp[0] == '[') {
            const char *close = strchr(hp, ']');
            if (close == NULL || close[1] != ':')
                goto bad;
            snprintf(host, sizeof(host), "%.*s", (int)(close - hp - 1), hp + 1);
            port = close + 2;
        } else {
            const char *colon = strrchr(hp, ':');
            if (colon == NULL)
                goto bad;
            snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
            port = colon + 1;
        }
        if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
            fprintf(stderr, "workclient: %s: %s\n", t->spec, gai_strerror(rc));
            exit(2);
        }
        memcpy(peer, ai->ai_addr, ai->ai_addrlen);
        t->len = ai->ai_addrlen;
        t->family = ai->ai_family;
        freeaddrinfo(ai);
        return;
    }
    struct sockaddr_un *sun = (struct sockaddr_un *)peer;
    if (strlen(t->spec) >= sizeof(sun->sun_path))
        goto bad;
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, t->spec, strlen(t->spec) + 1);
    t->len = sizeof(*sun);
    t->family = AF_UNIX;
    return;
bad:
    fprintf(stderr, "workclient: bad address '%s'\n", t->spec);
    exit(2);
}

static void complain(const struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void complain(const struct conn *c, const char *fmt, ...)
{
    va_list ap;

    if (!opt.verbose)
        return;
    fprintf(stderr, "workclient: conn %u: ", c->index);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void epoll_set(struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};

    if (events == c->events)
        return;
    if (epoll_ctl(epfd, c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        perror("workclient: epoll_ctl");
        exit(1);
    }
    c->events = events;
}

/* Work is left for a connection to take. */
static bool work_left(void)
{
    return !stop_sending && atomic_load_explicit(&next_gid, memory_order_relaxed) < opt.requests;
}

static void conn_open(struct conn *c, uint64_t now)
{
    const struct target *t = c->target;
    int fd = socket(t->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        perror("workclient: socket");
        exit(1);
    }
    if (t->family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    c->fd = fd;
    c->events = 0;
    c->seq = 0;
    c->in_len = 0;
    c->out_len = c->out_off = 0;
    c->opened_ns = now;
    idle_conns--;
    if (connect(fd, (const struct sockaddr *)&t->addr, t->len) == 0) {
        cnt.connections++;
        c->state = CONN_OPEN;
        epoll_set(c, EPOLLIN);
        return;
    }
    if (errno == EINPROGRESS) {
        c->state = CONN_CONNECTING;
        epoll_set(c, EPOLLOUT);
        return;
    }
    /* Refused, or a full backlog (EAGAIN on a Unix socket): try again shortly. */
    complain(c, "connect: %s", strerror(errno));
    cnt.connect_failed++;
    close(fd);
    c->fd = -1;
    c->state = CONN_IDLE;
    c->retry_at_ns = now + RECONNECT_DELAY_NS;
    idle_conns++;
}

static void conn_close(struct conn *c, uint64_t retry_at)
{
    if (c->count > 0) {
        cnt.lost += c->count;
        complain(c, "closed with %zu request%s outstanding", c->count, c->count == 1 ? "" : "s");
    }
    while (c->count > 0) {
        free(c->ring[c->head].body);
        c->head = (c->head + 1) % opt.pipeline;
        c->count--;
    }
    c->head = 0;
    if (c->fd >= 0)
        close(c->fd); /* also removes it from epoll */
    c->fd = -1;
    c->events = 0;
    c->state = CONN_IDLE;
    c->retry_at_ns = retry_at;
    idle_conns++;
}

static void out_reserve(struct conn *c, size_t more)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + more <= c->out_cap)
        return;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    while (c->out_len + more > c->out_cap)
        c->out_cap = c->out_cap ? c->out_cap * 2 : 65536;
    c->out = xrealloc(c->out, c->out_cap);
}

/* Make the next request and queue it on c; false when the last was handed out. */
static bool conn_add_request(struct conn *c, uint64_t now)
{
    uint64_t gid = atomic_fetch_add_explicit(&next_gid, 1, memory_order_relaxed);
    char head[96];
    int hl;
    size_t len;
    struct outreq *q = &c->ring[(c->head + c->count) % opt.pipeline];
    unsigned char *b;

    if (gid >= opt.requests) {
        stop_sending = true;
        return false;
    }
    hl = snprintf(head, sizeof(head), "%" PRIu64 ".%u.%" PRIu64 ".%08x.", gid, c->index, c->seq,
                  (unsigned)rng_next());
    len = opt.size > (size_t)hl ? opt.size : (size_t)hl;
    b = xrealloc(NULL, len);

    memcpy(b, head, (size_t)hl);
    for (size_t i = (size_t)hl; i < len; i += 8) {
        uint64_t r = rng_next();
        for (size_t k = i; k < len && k < i + 8; k++, r >>= 8)
            b[k] = (unsigned char)('a' + (r & 0xff) % 26);
    }
    q->gid = gid;
    /* One request per connection: its latency includes the connect, as a client's would. */
    q->sent_ns = opt.per_conn == 1 ? c->opened_ns : now;
    q->body = b;
    q->len = len;
    c->count++;
    c->seq++;
    cnt.sent++;

    out_reserve(c, len + FRAME_LENGTH_HEADER + 1);
    if (opt.framing == 0) {
        frame_length_encode(c->out + c->out_len, (uint32_t)len);
        c->out_len += FRAME_LENGTH_HEADER;
        memcpy(c->out + c->out_len, b, len);
        c->out_len += len;
    } else {
        memcpy(c->out + c->out_len, b, len);
        c->out_len += len;
        c->out[c->out_len++] = '\n';
    }
    return true;
}

/* Write what is buffered. Returns -1 when the connection broke (and was closed). */
static int conn_flush(struct conn *c, uint64_t now)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            complain(c, "send: %s", strerror(errno));
            cnt.io++;
            conn_close(c, now);
            return -1;
        }
        c->out_off += (size_t)n;
    }
    epoll_set(c, EPOLLIN | (c->out_off < c->out_len ? EPOLLOUT : 0));
    return 0;
}

/* Top the connection up to P requests in flight, then write. */
static int conn_fill(struct conn *c, uint64_t now)
{
    if (now < start_ns)
        return 0; /* --hold: connected, idle */
    while (c->count < opt.pipeline && work_left() && (opt.per_conn == 0 || c->seq < opt.per_conn))
        if (!conn_add_request(c, now))
            break;
    if (c->count == 0 && (!work_left() || (opt.per_conn > 0 && c->seq >= opt.per_conn))) {
        /* Nothing outstanding and nothing more for this connection. */
        conn_close(c, now);
        return -1;
    }
    return conn_flush(c, now);
}

static bool bit_test_set(uint64_t gid)
{
    bool was;

    if (gid >= answered_cap) {
        uint64_t cap = answered_cap ? answered_cap : 1 << 16;
        while (cap <= gid)
            cap *= 2;
        answered = xrealloc(answered, cap / 8);
        memset(answered + answered_cap / 8, 0, (cap - answered_cap) / 8);
        answered_cap = cap;
    }
    was = answered[gid / 8] & (1u << (gid % 8));
    answered[gid / 8] |= (unsigned char)(1u << (gid % 8));
    return was;
}

static bool bit_test(uint64_t gid)
{
    return gid < answered_cap && (answered[gid / 8] & (1u << (gid % 8)));
}

static size_t hist_index(uint64_t v)
{
    unsigned e;

    if (v < HIST_DIRECT)
        return (size_t)v;
    e = 63u - (unsigned)__builtin_clzll(v); /* >= 8 */
    return HIST_DIRECT + (size_t)(e - HIST_SUB_BITS - 1) * HIST_SUB +
           (size_t)((v >> (e - HIST_SUB_BITS)) - HIST_SUB);
}

/* The middle of the values bucket i holds, in nanoseconds. */
static double hist_value(size_t i)
{
    unsigned e, shift;
    uint64_t m;

    if (i < HIST_DIRECT)
        return (double)i;
    e = (unsigned)((i - HIST_DIRECT) / HIST_SUB) + HIST_SUB_BITS + 1;
    m = (i - HIST_DIRECT) % HIST_SUB + HIST_SUB;
    shift = e - HIST_SUB_BITS;
    return ((double)m + 0.5) * (double)(1ULL << shift);
}

static void hist_add(struct histogram *h, uint64_t ns)
{
    h->count[hist_index(ns)]++;
    h->n++;
    h->sum += (double)ns;
    if (ns > h->max)
        h->max = ns;
}

static void hist_merge(struct histogram *into, const struct histogram *from)
{
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        into->count[i] += from->count[i];
    into->n += from->n;
    into->sum += from->sum;
    if (from->max > into->max)
        into->max = from->max;
}

/* The p-quantile (0 < p <= 1) in microseconds, never above the exact maximum. */
static double hist_quantile(const struct histogram *h, double p)
{
    uint64_t rank, seen = 0;

    if (h->n == 0)
        return 0;
    rank = (uint64_t)(p * (double)h->n + 0.999999);
    if (rank == 0)
        rank = 1;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            double v = hist_value(i);
            return (v < (double)h->max ? v : (double)h->max) / 1e3;
        }
    }
    return (double)h->max / 1e3;
}

/* Does the payload answer this request, as --expect says? */
static bool reply_matches(const struct outreq *q, const unsigned char *p, size_t len)
{
    switch (opt.expect) {
    case EXPECT_ANY:
        return true;
    case EXPECT_ECHO:
        return len == q->len && memcmp(p, q->body, len) == 0;
    case EXPECT_UPPER:
        if (len != q->len)
            return false;
        for (size_t i = 0; i < len; i++)
            if (p[i] != (unsigned char)toupper(q->body[i]))
                return false;
        return true;
    case EXPECT_PREFIX:
        return len == q->len + opt.prefix_len && memcmp(p, opt.prefix, opt.prefix_len) == 0 &&
               memcmp(p + opt.prefix_len, q->body, q->len) == 0;
    }
    return false;
}

/* The request a reply names (its GID), or UINT64_MAX when it names none. */
static uint64_t reply_gid(const unsigned char *p, size_t len)
{
    uint64_t gid = 0;
    size_t i = 0;

    if (opt.expect == EXPECT_PREFIX) {
        if (len < opt.prefix_len || memcmp(p, opt.prefix, opt.prefix_len) != 0)
            return UINT64_MAX;
        i = opt.prefix_len;
    }
    if (i >= len || !isdigit(p[i]))
        return UINT64_MAX;
    for (; i < len && isdigit(p[i]); i++)
        gid = gid * 10 + (uint64_t)(p[i] - '0');
    return i < len && p[i] == '.' ? gid : UINT64_MAX;
}

/* Does a reply read at NOW count in the measured window (after --warmup)? */
static bool measured(uint64_t now)
{
    return now >= measure_start_ns;
}

static void pop_head(struct conn *c)
{
    free(c->ring[c->head].body);
    c->head = (c->head + 1) % opt.pipeline;
    c->count--;
}

/* One reply on c: status '+' (or raw) with payload, or '-' with an error text. */
static void handle_reply(struct conn *c, char status, const unsigned char *p, size_t len,
                         uint64_t now)
{
    struct outreq *q = c->count > 0 ? &c->ring[c->head] : NULL;

    if (status == FRAME_STATUS_ERROR) {
        if (q == NULL) {
            cnt.unexpected++;
            complain(c, "error reply with no request outstanding: %.*s", (int)len, p);
            return;
        }
        if (len >= 5 && memcmp(p, "BUSY ", 5) == 0)
            cnt.busy++;
        else if (len >= 7 && memcmp(p, "FAILED ", 7) == 0)
            cnt.failed++;
        else if (len >= 8 && memcmp(p, "TIMEOUT ", 8) == 0)
            cnt.timeout++;
        else {
            cnt.other_error++;
            complain(c, "unknown error reply: %.*s", (int)len, p);
        }
        if (opt.verbose && !(len >= 5 && memcmp(p, "BUSY ", 5) == 0))
            complain(c, "request %" PRIu64 ": -%.*s", q->gid, (int)len, p);
        if (measured(now))
            hist_add(err_lat, now - q->sent_ns);
        bit_test_set(q->gid);
        cnt.answered++;
        pop_head(c);
        return;
    }
    if (q != NULL && reply_matches(q, p, len)) {
        if (bit_test_set(q->gid)) {
            cnt.duplicated++; /* cannot happen: each request is sent once */
            complain(c, "request %" PRIu64 " answered twice", q->gid);
        }
        cnt.ok++;
        cnt.answered++;
        cnt.target_ok[c->target - opt.targets]++;
        if (measured(now)) {
            cnt.in_window++;
            hist_add(ok_lat, now - q->sent_ns);
        }
        pop_head(c);
        return;
    }
    uint64_t gid = reply_gid(p, len);
    if (gid != UINT64_MAX && bit_test(gid)) {
        /* A second answer to a request already answered: the head stays. */
        cnt.duplicated++;
        complain(c, "duplicate reply for request %" PRIu64 " (%zu bytes)", gid, len);
        return;
    }
    if (q == NULL) {
        cnt.unexpected++;
        complain(c, "reply with no request outstanding (%zu bytes: %.*s)", len,
                 (int)(len < 60 ? len : 60), p);
        return;
    }
    cnt.mismatched++;
    complain(c, "request %" PRIu64 " (%zu bytes: %.*s) got %zu bytes: %.*s", q->gid, q->len,
             (int)(q->len < 60 ? q->len : 60), q->body, len, (int)(len < 60 ? len : 60), p);
    bit_test_set(q->gid);
    cnt.answered++;
    pop_head(c);
}

/* Decode every complete reply in c->in. Returns -1 when c was closed. */
static int conn_parse(struct conn *c, uint64_t now)
{
    size_t off = 0;

    for (;;) {
        const unsigned char *buf = c->in + off;
        size_t avail = c->in_len - off;
        enum frame_result fr;

        if (opt.raw) {
            struct frame f;
            fr = frame_length_decode(buf, avail, MAX_REPLY, &f);
            if (fr == FRAME_OK) {
                handle_reply(c, FRAME_STATUS_OK, buf + f.body_off, f.body_len, now);
                off += f.frame_len;
                continue;
            }
        } else {
            struct frame_reply r;
            size_t used;
            fr = frame_reply_decode(opt.framing, buf, avail, MAX_REPLY, &r, &used);
            if (fr == FRAME_OK) {
                handle_reply(c, r.status, r.payload, r.payload_len, now);
                off += used;
                continue;
            }
        }
        if (fr == FRAME_INCOMPLETE)
            break;
        cnt.malformed++;
        complain(c, "malformed reply frame (%s)", fr == FRAME_TOO_BIG ? "too big" : "bad status");
        conn_close(c, now);
        return -1;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    return 0;
}

/* Read what arrived. Returns -1 when c was closed. */
static int conn_read(struct conn *c, uint64_t now)
{
    for (;;) {
        if (c->in_cap - c->in_len < READ_CHUNK) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK * 2;
            c->in = xrealloc(c->in, c->in_cap);
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            if (conn_parse(c, now) != 0)
                return -1;
            if (n < 0 || c->count > 0 || work_left())
                cnt.io++;
            if (n < 0)
                complain(c, "recv: %s", strerror(errno));
            else if (c->count > 0)
                complain(c, "peer closed the connection");
            conn_close(c, now);
            return -1;
        }
        c->in_len += (size_t)n;
        if ((size_t)n < READ_CHUNK)
            break; /* most likely drained; epoll says if not */
    }
    return conn_parse(c, now);
}

static void on_event(struct conn *c, uint32_t events, uint64_t now)
{
    if (c->state == CONN_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0) {
            complain(c, "connect: %s", strerror(err));
            cnt.connect_failed++;
            conn_close(c, now + RECONNECT_DELAY_NS);
            return;
        }
        cnt.connections++;
        c->state = CONN_OPEN;
        conn_fill(c, now);
        return;
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && conn_read(c, now) != 0)
        return;
    if ((events & EPOLLOUT) && conn_flush(c, now) != 0)
        return;
    conn_fill(c, now);
}

static void on_sigusr1(int sig)
{
    (void)sig;
    stop_signalled = 1;
}

static void add_counters(struct counters *into, const struct counters *c)
{
    into->sent += c->sent;
    into->answered += c->answered;
    into->ok += c->ok;
    into->busy += c->busy;
    into->failed += c->failed;
    into->timeout += c->timeout;
    into->other_error += c->other_error;
    into->mismatched += c->mismatched;
    into->duplicated += c->duplicated;
    into->malformed += c->malformed;
    into->lost += c->lost;
    into->unanswered += c->unanswered;
    into->connect_failed += c->connect_failed;
    into->connections += c->connections;
    into->unexpected += c->unexpected;
    into->io += c->io;
    into->in_window += c->in_window;
    for (unsigned i = 0; i < MAX_TARGETS; i++)
        into->target_ok[i] += c->target_ok[i];
}

/* One thread: connections index, index + T, index + 2T... until the work is done. */
static void *run_thread(void *arg)
{
    unsigned index = (unsigned)(uintptr_t)arg;
    struct epoll_event events[256];
    uint64_t now;
    bool held = opt.hold_s > 0;

    rng_state = ((uint64_t)opt.seed << 32 | opt.seed) ^ 0x9e3779b97f4a7c15ULL ^
                ((uint64_t)index * 0xbf58476d1ce4e5b9ULL);
    if (rng_state == 0)
        rng_state = 1;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        perror("workclient: epoll_create1");
        exit(1);
    }
    ok_lat = xrealloc(NULL, sizeof(*ok_lat));
    err_lat = xrealloc(NULL, sizeof(*err_lat));
    memset(ok_lat, 0, sizeof(*ok_lat));
    memset(err_lat, 0, sizeof(*err_lat));
    nconns = opt.conns / opt.threads + (index < opt.conns % opt.threads ? 1 : 0);
    conns = xrealloc(NULL, nconns * sizeof(*conns));
    memset(conns, 0, nconns * sizeof(*conns));
    for (unsigned i = 0; i < nconns; i++) {
        conns[i].index = index + i * opt.threads;
        conns[i].target = &opt.targets[conns[i].index % opt.ntargets];
        conns[i].fd = -1;
        conns[i].ring = xrealloc(NULL, opt.pipeline * sizeof(struct outreq));
    }
    idle_conns = nconns;

    for (;;) {
        uint64_t next_retry = UINT64_MAX;
        bool busy = false;
        int timeout_ms, n;

        now = now_ns();
        if (!stop_sending && (now >= send_until_ns || atomic_load(&stop_signalled)))
            stop_sending = true;
        if (now >= deadline_ns)
            break;
        if (held && now >= start_ns) {
            /* --hold is over: the idle connections start sending. */
            held = false;
            for (unsigned i = 0; i < nconns; i++)
                if (conns[i].state == CONN_OPEN)
                    conn_fill(&conns[i], now);
        }
        if (idle_conns > 0) {
            for (unsigned i = 0; i < nconns; i++) {
                struct conn *c = &conns[i];
                if (c->state != CONN_IDLE || !work_left())
                    continue;
                if (c->retry_at_ns > now) {
                    if (c->retry_at_ns < next_retry)
                        next_retry = c->retry_at_ns;
                    continue;
                }
                conn_open(c, now);
                if (c->state == CONN_OPEN)
                    conn_fill(c, now);
            }
        }
        /* When sending stops, connections with nothing outstanding are done. */
        for (unsigned i = 0; i < nconns; i++) {
            struct conn *c = &conns[i];
            if (c->state == CONN_OPEN && c->count == 0 && !work_left())
                conn_close(c, now);
            if (c->state != CONN_IDLE)
                busy = true;
        }
        if (!busy && !work_left())
            break;
        now = now_ns();
        uint64_t wake = deadline_ns;
        if (next_retry < wake)
            wake = next_retry;
        if (send_until_ns < wake && !stop_sending)
            wake = send_until_ns;
        if (held && start_ns < wake)
            wake = start_ns;
        timeout_ms = wake <= now ? 0 : (int)((wake - now + 999999) / 1000000);
        if (timeout_ms > 100)
            timeout_ms = 100;
        n = epoll_wait(epfd, events, (int)(sizeof(events) / sizeof(events[0])), timeout_ms);
        if (n < 0 && errno != EINTR) {
            perror("workclient: epoll_wait");
            exit(1);
        }
        now = now_ns();
        for (int i = 0; i < n; i++)
            on_event(events[i].data.ptr, events[i].events, now);
    }

    now = now_ns();
    for (unsigned i = 0; i < nconns; i++) {
        cnt.unanswered += conns[i].count;
        if (conns[i].count > 0)
            complain(&conns[i], "%zu request%s unanswered at the deadline", conns[i].count,
                     conns[i].count == 1 ? "" : "s");
        while (conns[i].count > 0)
            pop_head(&conns[i]);
        if (conns[i].fd >= 0)
            close(conns[i].fd);
        free(conns[i].ring);
        free(conns[i].in);
        free(conns[i].out);
    }
    free(conns);
    free(answered);
    close(epfd);
    pthread_mutex_lock(&totals_lock);
    add_counters(&totals, &cnt);
    hist_merge(ok_total, ok_lat);
    hist_merge(err_total, err_lat);
    if (now > end_ns)
        end_ns = now;
    pthread_mutex_unlock(&totals_lock);
    free(ok_lat);
    free(err_lat);
    return NULL;
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
    pthread_t tids[MAX_THREADS];
    struct counters *t = &totals;
    struct rusage ru;
    uint64_t launched, lost, errs, error_replies;
    double elapsed, window, cpu_s;
    bool good;

    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, on_sigusr1);
    parse_options(argc, argv);
    for (unsigned i = 0; i < opt.ntargets; i++)
        resolve_target(&opt.targets[i]);
    ok_total = xrealloc(NULL, sizeof(*ok_total));
    err_total = xrealloc(NULL, sizeof(*err_total));
    memset(ok_total, 0, sizeof(*ok_total));
    memset(err_total, 0, sizeof(*err_total));
    launched = now_ns();
    /* --hold: the connections open at once, the requests start after it. */
    start_ns = launched + (uint64_t)(opt.hold_s * 1e9);
    measure_start_ns = start_ns + (uint64_t)(opt.warmup_s * 1e9);
    send_until_ns =
        opt.duration_s > 0 ? measure_start_ns + (uint64_t)(opt.duration_s * 1e9) : UINT64_MAX;
    deadline_ns = start_ns + (uint64_t)(opt.deadline_s * 1e9);
    for (unsigned i = 1; i < opt.threads; i++)
        if (pthread_create(&tids[i], NULL, run_thread, (void *)(uintptr_t)i) != 0) {
            fprintf(stderr, "workclient: cannot start a thread\n");
            return 1;
        }
    run_thread((void *)(uintptr_t)0);
    for (unsigned i = 1; i < opt.threads; i++)
        pthread_join(tids[i], NULL);

    uint64_t handed = atomic_load(&next_gid);
    if (opt.duration_s <= 0 && !atomic_load(&stop_signalled) && handed < opt.requests)
        t->unsent = opt.requests - handed;
    getrusage(RUSAGE_SELF, &ru);
    cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    elapsed = end_ns > start_ns ? (double)(end_ns - start_ns) / 1e9 : 0;
    window = end_ns > measure_start_ns ? (double)(end_ns - measure_start_ns) / 1e9 : 0;
    good = t->mismatched == 0 && t->duplicated == 0 && t->malformed == 0 && t->unexpected == 0 &&
           t->other_error == 0 && t->unanswered == 0 && t->unsent == 0 &&
           (opt.accept_busy || t->busy == 0) && (opt.accept_failed || t->failed == 0) &&
           (opt.accept_timeout || t->timeout == 0) && (opt.accept_lost || t->lost == 0) &&
           (opt.accept_connect || t->connect_failed == 0);
    error_replies = t->busy + t->failed + t->timeout + t->other_error;
    lost = t->lost + t->unanswered;
    errs = error_replies + t->mismatched + t->duplicated + t->malformed + t->unexpected + lost +
           t->io + t->connect_failed;
    printf("{\"label\":");
    json_string(opt.label);
    printf(",\"proto\":\"%s\",\"conn_per_request\":%s,\"targets\":%u,\"clients\":%u"
           ",\"threads\":%u,\"pipeline\":%u,\"size\":%zu",
           opt.raw ? "plain" : "drover", opt.per_conn == 1 ? "true" : "false", opt.ntargets,
           opt.conns, opt.threads, opt.pipeline, opt.size);
    printf(",\"result\":\"%s\",\"sent\":%" PRIu64 ",\"answered\":%" PRIu64 ",\"ok\":%" PRIu64
           ",\"busy\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"timeout\":%" PRIu64
           ",\"other_error\":%" PRIu64 ",\"mismatched\":%" PRIu64 ",\"duplicated\":%" PRIu64
           ",\"unexpected\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"lost\":%" PRIu64
           ",\"unanswered\":%" PRIu64 ",\"unsent\":%" PRIu64 ",\"connect_failed\":%" PRIu64
           ",\"connections\":%" PRIu64 ",\"elapsed_s\":%.3f,\"window_s\":%.3f"
           ",\"requests\":%" PRIu64 ",\"rps\":%.0f"
           ",\"ok_p50_us\":%.0f,\"ok_p99_us\":%.0f,\"ok_p999_us\":%.0f"
           ",\"ok_max_us\":%.0f,\"err_p50_us\":%.0f,\"err_max_us\":%.0f",
           good ? "pass" : "fail", t->sent, t->answered, t->ok, t->busy, t->failed, t->timeout,
           t->other_error, t->mismatched, t->duplicated, t->unexpected, t->malformed, t->lost,
           t->unanswered, t->unsent, t->connect_failed, t->connections, elapsed, window,
           t->in_window, window > 0 ? (double)t->in_window / window : 0.0,
           hist_quantile(ok_total, 0.5), hist_quantile(ok_total, 0.99),
           hist_quantile(ok_total, 0.999), (double)ok_total->max / 1e3,
           hist_quantile(err_total, 0.5), (double)err_total->max / 1e3);
    printf(",\"lat_us\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f"
           ",\"mean\":%.2f}",
           hist_quantile(ok_total, 0.5), hist_quantile(ok_total, 0.9),
           hist_quantile(ok_total, 0.99), hist_quantile(ok_total, 0.999),
           (double)ok_total->max / 1e3,
           ok_total->n ? ok_total->sum / (double)ok_total->n / 1e3 : 0);
    printf(",\"errors\":{\"total\":%" PRIu64 ",\"error_replies\":%" PRIu64 ",\"busy\":%" PRIu64
           ",\"failed\":%" PRIu64 ",\"timeout\":%" PRIu64 ",\"other_reply\":%" PRIu64
           ",\"mismatch\":%" PRIu64 ",\"duplicate\":%" PRIu64 ",\"lost\":%" PRIu64
           ",\"io\":%" PRIu64 ",\"connect\":%" PRIu64 "}"
           ",\"connect_retries\":0,\"reconnects\":%" PRIu64 ",\"cpu_s\":%.3f",
           errs, error_replies, t->busy, t->failed, t->timeout, t->other_error, t->mismatched,
           t->duplicated, lost, t->io, t->connect_failed,
           t->connections > opt.conns ? t->connections - opt.conns : 0, cpu_s);
    printf(",\"target_ok\":[");
    for (unsigned i = 0; i < opt.ntargets; i++)
        printf("%s%" PRIu64, i ? "," : "", t->target_ok[i]);
    printf("]}\n");
    fflush(stdout);
    free(ok_total);
    free(err_total);
    return good ? 0 : 1;
}
