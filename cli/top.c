/* SPDX-License-Identifier: ISC */
/*
 * drover top [POOL] [-n COUNT] [-d SECONDS]: a live view of droverd's pools
 * and workers. Every interval it asks droverd for `status --json` over the
 * control socket (droverd keeps no timer for it) and shows one line per
 * pool, its workers below. Rates (CPU %, requests per second) are computed
 * here from two consecutive samples. On a terminal the view is full-screen
 * (ncurses): keys sort (c CPU, m memory, r req/s, s slot), pool_filter by pool
 * (/ or p), and quit (q); elsewhere a plain table is printed each interval.
 */
#include <curses.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "json.h"
#include "top.h"
#include "parse.h"
#include "proto.h"
#include "xmalloc.h"

enum sort_key { SORT_SLOT, SORT_CPU, SORT_MEM, SORT_REQ };
static const char *const sort_names[] = {"slot", "cpu", "memory", "req/s"};

struct prow {
    char name[65];
    int want, running, starting, backoff, fatal, stopped;
    bool routed;
    double queued, inflight, reqps, retries, failed, requests;
};

struct wrow {
    size_t pool; /* index into the pool rows */
    long slot, pid;
    char state[12];
    char last_exit[48];
    double uptime, restarts, rss, cpu_pct, reqps; /* negative: unknown */
    double cpu_seconds, requests;                 /* for the next sample's rates */
};

struct view {
    struct prow *pools;
    size_t npools;
    struct wrow *workers;
    size_t nworkers;
    uint64_t at_us;
    char error[256]; /* the last sample failed: why */
};

static const char *socket_path;
static enum sort_key sort_by = SORT_SLOT;
static char pool_filter[65];
static bool curses_on;

static uint64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void view_clear(struct view *v)
{
    free(v->pools);
    free(v->workers);
    memset(v, 0, sizeof(*v));
}

/* The previous sample's counters for the same worker process (same pool, slot and pid). */
static const struct wrow *prev_worker(const struct view *prev, const char *pool, long slot,
                                      long pid)
{
    for (size_t i = 0; i < prev->nworkers; i++) {
        const struct wrow *w = &prev->workers[i];
        if (w->slot == slot && w->pid == pid && pid > 0 &&
            strcmp(prev->pools[w->pool].name, pool) == 0)
            return w;
    }
    return NULL;
}

static const struct prow *prev_pool(const struct view *prev, const char *name)
{
    for (size_t i = 0; i < prev->npools; i++)
        if (strcmp(prev->pools[i].name, name) == 0)
            return &prev->pools[i];
    return NULL;
}

static void fill_worker(struct wrow *w, const struct jv *sj, const struct view *prev,
                        const char *pool, double dt)
{
    const struct jv *le = jv_get(sj, "last_exit");
    const struct wrow *pw;

    w->slot = (long)jv_num(sj, "slot", -1);
    w->pid = (long)jv_num(sj, "pid", 0);
    snprintf(w->state, sizeof(w->state), "%s", jv_str(sj, "state", "?"));
    w->uptime = jv_num(sj, "uptime_seconds", -1);
    w->restarts = jv_num(sj, "restarts", 0);
    w->rss = jv_num(sj, "rss_bytes", -1);
    w->cpu_seconds = jv_num(sj, "cpu_seconds", -1);
    w->requests = jv_num(sj, "requests", -1);
    snprintf(w->last_exit, sizeof(w->last_exit), "%s", jv_str(le, "description", "-"));
    w->cpu_pct = w->reqps = -1;
    pw = prev_worker(prev, pool, w->slot, w->pid);
    if (pw != NULL && dt > 0) {
        if (w->cpu_seconds >= 0 && pw->cpu_seconds >= 0 && w->cpu_seconds >= pw->cpu_seconds)
            w->cpu_pct = (w->cpu_seconds - pw->cpu_seconds) / dt * 100;
        if (w->requests >= 0 && pw->requests >= 0 && w->requests >= pw->requests)
            w->reqps = (w->requests - pw->requests) / dt;
    }
}

static void fill_pool(struct prow *p, const struct jv *pj, const struct view *prev, double dt)
{
    const struct jv *route = jv_get(pj, "route");
    const struct prow *pp;

    snprintf(p->name, sizeof(p->name), "%s", jv_str(pj, "name", "?"));
    p->want = (int)jv_num(pj, "workers", 0);
    p->running = (int)jv_num(pj, "running", 0);
    p->routed = route != NULL && route->t == J_OBJ;
    p->queued = jv_num(route, "queued", 0);
    p->inflight = jv_num(route, "inflight", 0);
    p->retries = jv_num(route, "retries", 0);
    p->failed = jv_num(route, "failed", 0);
    p->requests = jv_num(route, "requests", -1);
    p->reqps = -1;
    pp = prev_pool(prev, p->name);
    if (pp != NULL && dt > 0 && p->requests >= 0 && pp->requests >= 0 &&
        p->requests >= pp->requests)
        p->reqps = (p->requests - pp->requests) / dt;
}

/* Ask droverd for status --json and turn it into rows; prev gives the rates. */
static int sample(struct view *out, const struct view *prev)
{
    char *argv[] = {"status", "--json"};
    char *text = NULL;
    size_t len = 0;
    int fd = connect_control(socket_path), status;
    struct jv *root;
    const struct jv *pools;
    double dt;

    memset(out, 0, sizeof(*out));
    send_command(fd, 2, argv);
    status = read_reply(fd, &text, &len, -1);
    close(fd);
    out->at_us = mono_us();
    dt = prev->at_us != 0 ? (double)(out->at_us - prev->at_us) / 1e6 : 0;
    if (status != DROVER_EXIT_OK || (root = jv_parse(text, len)) == NULL) {
        snprintf(out->error, sizeof(out->error), "droverd did not answer status --json (%d)",
                 status);
        free(text);
        return -1;
    }
    free(text);
    pools = jv_get(root, "pools");
    for (size_t i = 0; pools != NULL && pools->t == J_ARR && i < pools->len; i++) {
        const struct jv *pj = &pools->kids[i], *slots = jv_get(pj, "slots");
        struct prow *p;

        out->pools = xreallocarray(out->pools, out->npools + 1, sizeof(*out->pools));
        p = &out->pools[out->npools];
        memset(p, 0, sizeof(*p));
        fill_pool(p, pj, prev, dt);
        for (size_t k = 0; slots != NULL && slots->t == J_ARR && k < slots->len; k++) {
            struct wrow *w;
            out->workers = xreallocarray(out->workers, out->nworkers + 1, sizeof(*out->workers));
            w = &out->workers[out->nworkers++];
            memset(w, 0, sizeof(*w));
            w->pool = out->npools;
            fill_worker(w, &slots->kids[k], prev, p->name, dt);
            if (strcmp(w->state, "running") == 0)
                ;
            else if (strcmp(w->state, "starting") == 0)
                p->starting++;
            else if (strcmp(w->state, "backoff") == 0)
                p->backoff++;
            else if (strcmp(w->state, "fatal") == 0)
                p->fatal++;
            else
                p->stopped++; /* stopped, stopping */
        }
        out->npools++;
    }
    jv_free(root);
    return 0;
}

static double sort_value(const struct wrow *w)
{
    switch (sort_by) {
    case SORT_CPU:
        return w->cpu_pct;
    case SORT_MEM:
        return w->rss;
    case SORT_REQ:
        return w->reqps;
    case SORT_SLOT:
        break;
    }
    return -(double)w->slot;
}

/* Workers stay under their pool; within it, the largest first (slot order by default). */
static int worker_cmp(const void *a, const void *b)
{
    const struct wrow *x = a, *y = b;
    double vx, vy;

    if (x->pool != y->pool)
        return x->pool < y->pool ? -1 : 1;
    vx = sort_value(x);
    vy = sort_value(y);
    if (vx != vy)
        return vx > vy ? -1 : 1;
    return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static bool pool_shown(const struct prow *p)
{
    return pool_filter[0] == '\0' || strstr(p->name, pool_filter) != NULL;
}

static void fmt_num(char *buf, size_t sz, double v, const char *fmt)
{
    if (v < 0 || isnan(v))
        snprintf(buf, sz, "-");
    else
        snprintf(buf, sz, fmt, v);
}

/* Both formats fit in 80 columns (the last exit is cut to the width). */
#define POOL_FMT_S "%-12.12s %5s %4s %4s %4s %4s %4s %6s %5s %7s %7s %6s"
#define POOL_FMT   "%-12.12s %5d %4d %4d %4d %4d %4d %6s %5s %7s %7s %6s"
#define POOL_HEADER_ARGS                                                                           \
    "POOL", "WANT", "RUN", "STRT", "BOFF", "FATL", "STOP", "QUEUE", "INFL", "REQ/S", "RETRIES",    \
        "FAILED"
#define WORKER_HEADER "  SLOT     PID STATE      UPTIME  RESTARTS  CPU%    MEM   REQ/S  LAST EXIT"

static void format_pool(char *line, size_t sz, const struct prow *p)
{
    char q[16], inf[16], r[16], re[16], f[16];

    fmt_num(q, sizeof(q), p->routed ? p->queued : -1, "%.0f");
    fmt_num(inf, sizeof(inf), p->routed ? p->inflight : -1, "%.0f");
    fmt_num(r, sizeof(r), p->routed ? p->reqps : -1, "%.1f");
    fmt_num(re, sizeof(re), p->routed ? p->retries : -1, "%.0f");
    fmt_num(f, sizeof(f), p->routed ? p->failed : -1, "%.0f");
    snprintf(line, sz, POOL_FMT, p->name, p->want, p->running, p->starting, p->backoff, p->fatal,
             p->stopped, q, inf, r, re, f);
}

static void format_worker(char *line, size_t sz, const struct wrow *w)
{
    char pid[16], up[16], cpu[16], mem[16], r[16];

    fmt_num(pid, sizeof(pid), w->pid > 0 ? (double)w->pid : -1, "%.0f");
    if (w->uptime >= 0 && w->pid > 0)
        format_duration_short((uint64_t)(w->uptime * 1e6), up, sizeof(up));
    else
        snprintf(up, sizeof(up), "-");
    fmt_num(cpu, sizeof(cpu), w->cpu_pct, "%.1f");
    if (w->rss >= 0)
        format_size((uint64_t)w->rss, mem, sizeof(mem));
    else
        snprintf(mem, sizeof(mem), "-");
    fmt_num(r, sizeof(r), w->reqps, "%.1f");
    snprintf(line, sz, "  %4ld %7s %-8.8s %8s %9.0f %5s %6s %7s  %s", w->slot, pid, w->state, up,
             w->restarts, cpu, mem, r, w->last_exit);
}

/* What one screen shows, as lines (each cut to width by the caller). */
typedef void (*line_fn)(void *arg, int attr, const char *line);

static void render(const struct view *v, line_fn emit, void *arg)
{
    char line[512];
    size_t shown = 0, workers = 0;
    bool pool_header_shown = false;

    for (size_t i = 0; i < v->npools; i++)
        if (pool_shown(&v->pools[i]))
            shown++;
    for (size_t i = 0; i < v->nworkers; i++)
        if (pool_shown(&v->pools[v->workers[i].pool]))
            workers++;
    snprintf(line, sizeof(line), "drover top: %zu pool%s, %zu worker%s; sort: %s%s%s", shown,
             shown == 1 ? "" : "s", workers, workers == 1 ? "" : "s", sort_names[sort_by],
             pool_filter[0] ? "; pool filter: " : "", pool_filter);
    emit(arg, 1, line);
    if (v->error[0]) {
        emit(arg, 1, v->error);
        return;
    }
    for (size_t i = 0; i < v->npools; i++) {
        const struct prow *p = &v->pools[i];
        if (!pool_shown(p))
            continue;
        if (!pool_header_shown) {
            snprintf(line, sizeof(line), POOL_FMT_S, POOL_HEADER_ARGS);
            emit(arg, 2, line);
            pool_header_shown = true;
        }
        format_pool(line, sizeof(line), p);
        emit(arg, 1, line);
        emit(arg, 3, WORKER_HEADER);
        for (size_t k = 0; k < v->nworkers; k++)
            if (v->workers[k].pool == i) {
                format_worker(line, sizeof(line), &v->workers[k]);
                emit(arg, 0, line);
            }
    }
}

/* Piped: lines cut to $COLUMNS, or 80. */
static int plain_width = 80;

static void emit_plain(void *arg, int attr, const char *line)
{
    (void)attr;
    fprintf(arg, "%.*s\n", plain_width, line);
}

struct screen {
    int row;
};

static void emit_curses(void *arg, int attr, const char *line)
{
    struct screen *sc = arg;

    if (sc->row >= LINES - 1)
        return; /* the last line is the key help */
    if (attr == 1)
        attron(A_BOLD);
    else if (attr == 3)
        attron(A_DIM);
    else if (attr == 2)
        attron(A_REVERSE);
    mvaddnstr(sc->row++, 0, line, COLS);
    if (attr == 2) {
        for (int x = (int)strlen(line); x < COLS; x++)
            addch(' ');
    }
    attrset(A_NORMAL);
}

static void draw(const struct view *v)
{
    struct screen sc = {0};

    erase();
    render(v, emit_curses, &sc);
    attron(A_REVERSE);
    mvaddnstr(LINES - 1, 0,
              "q quit  c cpu  m memory  r req/s  s slot  / pool pool_filter (empty: all)", COLS);
    attrset(A_NORMAL);
    refresh();
}

static void curses_end(void)
{
    if (curses_on) {
        endwin();
        curses_on = false;
    }
}

static void sort_view(struct view *v)
{
    if (v->nworkers > 0)
        qsort(v->workers, v->nworkers, sizeof(*v->workers), worker_cmp);
}

static void ask_filter(void)
{
    char buf[sizeof(pool_filter)] = "";

    timeout(-1);
    echo();
    curs_set(1);
    move(LINES - 1, 0);
    clrtoeol();
    addstr("pool filter: ");
    getnstr(buf, (int)sizeof(buf) - 1);
    noecho();
    curs_set(0);
    snprintf(pool_filter, sizeof(pool_filter), "%s", buf);
}

/* Full-screen, on the terminal newterm() set up, until q or COUNT refreshes. */
static int run_curses(uint64_t delay_us, long count)
{
    struct view cur = {0}, prev = {0};
    uint64_t next;

    curses_on = true;
    atexit(curses_end); /* connect_control exits when droverd goes away */
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    for (long n = 0; count < 0 || n < count; n++) {
        view_clear(&prev);
        prev = cur;
        if (sample(&cur, &prev) != 0 && prev.at_us != 0)
            cur.at_us = 0; /* no rates across a failed sample */
        sort_view(&cur);
        draw(&cur);
        next = mono_us() + delay_us;
        for (;;) {
            uint64_t now = mono_us();
            int ch;
            if (now >= next)
                break;
            timeout((int)((next - now + 999) / 1000));
            ch = getch();
            if (ch == ERR)
                continue;
            if (ch == 'q' || ch == 'Q') {
                n = count; /* leave both loops */
                count = 0;
                break;
            }
            switch (ch) {
            case 'c':
                sort_by = SORT_CPU;
                break;
            case 'm':
                sort_by = SORT_MEM;
                break;
            case 'r':
                sort_by = SORT_REQ;
                break;
            case 's':
                sort_by = SORT_SLOT;
                break;
            case '/':
            case 'p':
                ask_filter();
                break;
            case KEY_RESIZE:
            default:
                break;
            }
            sort_view(&cur);
            draw(&cur);
        }
        if (count == 0)
            break;
    }
    curses_end();
    view_clear(&prev);
    view_clear(&cur);
    return DROVER_EXIT_OK;
}

/* Not a terminal: the same view as text, each interval (COUNT times, or until killed). */
static int run_plain(uint64_t delay_us, long count)
{
    struct view cur = {0}, prev = {0};
    int status = DROVER_EXIT_OK;
    const char *cols = getenv("COLUMNS");

    if (cols != NULL && atoi(cols) >= 40)
        plain_width = atoi(cols);

    for (long n = 0; count < 0 || n < count; n++) {
        if (n > 0) {
            struct timespec ts = {(time_t)(delay_us / 1000000), (long)(delay_us % 1000000) * 1000};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
        view_clear(&prev);
        prev = cur;
        if (sample(&cur, &prev) != 0) {
            fprintf(stderr, "drover: %s\n", cur.error);
            status = DROVER_EXIT_FAILED;
            break;
        }
        sort_view(&cur);
        render(&cur, emit_plain, stdout);
        printf("\n");
        if (fflush(stdout) != 0)
            break; /* the reader went away */
    }
    view_clear(&prev);
    view_clear(&cur);
    return status;
}

static int top_usage(const char *why)
{
    cli_error("top: %s; usage: drover top [POOL] [-n COUNT] [-d SECONDS]", why);
    return DROVER_EXIT_USAGE;
}

int top_main(const char *path, int argc, const char *const argv[])
{
    uint64_t delay_us = 1000000;
    long count = -1;

    socket_path = path;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val;
        char *end;

        if (strcmp(a, "-n") == 0 || strcmp(a, "-d") == 0 || strcmp(a, "--count") == 0 ||
            strcmp(a, "--delay") == 0) {
            if (i + 1 >= argc)
                return top_usage("an option needs a value");
            val = argv[++i];
        } else if ((a[0] == '-' && (a[1] == 'n' || a[1] == 'd') && a[2] != '\0')) {
            val = a + 2;
        } else if (a[0] == '-') {
            char why[160];
            snprintf(why, sizeof(why), "unknown option '%.60s'%s", a,
                     strcmp(a, "--json") == 0
                         ? " (top is a live view: status --json gives the same figures)"
                         : "");
            return top_usage(why);
        } else {
            if (pool_filter[0] != '\0')
                return top_usage("one POOL at most");
            snprintf(pool_filter, sizeof(pool_filter), "%s", a);
            continue;
        }
        if (a[1] == 'n' || strcmp(a, "--count") == 0) {
            long n = strtol(val, &end, 10);
            if (*val == '\0' || *end != '\0' || n < 1 || n > 1000000000)
                return top_usage("-n needs a count of 1 or more");
            count = n;
        } else {
            double d = strtod(val, &end);
            if (*val == '\0' || *end != '\0' || !(d >= 0.1 && d <= 86400))
                return top_usage("-d needs seconds, 0.1 to 86400");
            delay_us = (uint64_t)(d * 1e6);
        }
    }
    if (isatty(1) && isatty(0) && getenv("TERM") != NULL) {
        /*
         * initscr() would exit on a TERM terminfo does not know (a new terminal, an old host);
         * asked first with setupterm(), as a newterm() that fails leaks its screen.
         */
        int found = 0;
        if (setupterm(NULL, 1, &found) == OK) {
            del_curterm(cur_term);
            if (newterm(NULL, stdout, stdin) != NULL)
                return run_curses(delay_us, count);
        }
        fprintf(stderr, "drover: top: terminal '%s' unknown to terminfo: plain tables\n",
                getenv("TERM"));
    }
    return run_plain(delay_us, count);
}
