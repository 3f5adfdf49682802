/* SPDX-License-Identifier: ISC */
/*
 * spew-worker: a supervised worker that writes output on demand, from one
 * line to floods, for the log, control-plane and fault tests. Each option
 * adds one behaviour; they combine. In FILE arguments %w becomes
 * $DROVER_WORKER and %p the pid.
 *
 *   --out TEXT           write "TEXT" as one line to stdout at start
 *   --err TEXT           write "TEXT" as one line to stderr at start
 *   --lines N            write N numbered lines "line NNNNNN xxx..." to
 *                        stdout at start, all in one write(2)
 *   --width W            each numbered line is W bytes long (default 64)
 *   --burst N            after each tick (below), also write N numbered lines
 *   --term-delay MS      on SIGTERM, linger MS milliseconds, then exit 0
 *                        (without it or --term-wait SIGTERM kills the worker)
 *   --term-wait FILE     on SIGTERM, linger until FILE exists, then exit 0
 *   --tag WORD           ignored: lets a test change the command line
 *   --echo               message mode: answer every request with itself
 *                        (examples/drover_worker.h); otherwise just wait to
 *                        be signalled
 *   --log-each           with --echo: one line on stdout per request
 *   --chatter US         a thread writes numbered lines to stdout, one every
 *                        US microseconds ("chatter W N xxxx..."), blocking
 *                        writes: if droverd stops draining the pipe, the
 *                        count stops growing
 *   --line-bytes N       length of the chatter lines (default 120)
 *   --spew-stdout        a thread writes lines of 4 KiB to stdout as fast as
 *                        the pipe takes them, forever
 *   --spew-stderr        the same on stderr (lines of 'e')
 *   --spew-fd3           a thread writes 64 KiB blocks of junk to fd 3 as
 *                        fast as the socket takes them, forever
 *   --progress FILE      every 50 ms, FILE holds one line:
 *                        "lines N stdout_bytes B fd3_bytes F requests R"
 *   --exit-after MIN MAX exit MIN..MAX ms after start (uniformly random):
 *                        exit status 1, exit 0, SIGKILL or SIGABRT to itself,
 *                        in turn by pid
 *
 * SIGUSR2 writes "tick N out" to stdout and "tick N err" to stderr (N counts
 * from 1), so a test decides when output happens (`drover signal POOL USR2`).
 * DROVER_WORKER, when set, is appended to --out/--err/tick lines as " wSLOT".
 *
 * Exits 1 on errors, 2 on usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../examples/drover_worker.h"

static atomic_ullong lines_written, stdout_bytes, fd3_bytes, requests_served;
static long chatter_us = -1;
static size_t line_bytes = 120;
static const char *progress_path;
static const char *worker_id = "x";

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* write(2) all of it; returns -1 on any error (EPIPE, EBADF, ...). */
static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Write "TEXTSUFFIX\n" to fd in one piece. */
static void put_line(int fd, const char *text, const char *suffix)
{
    char buf[8192];
    int n = snprintf(buf, sizeof(buf), "%s%s\n", text, suffix);

    (void)write_all(fd, buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* N numbered lines of W bytes each, all in one write: droverd finds far more than one read's
 * worth. */
static void write_lines(long n, long w)
{
    size_t len = (size_t)n * (size_t)(w + 1), off = 0;
    char *all;

    if (n <= 0)
        return;
    all = malloc(len + 1);
    if (all == NULL)
        exit(1);
    for (long i = 0; i < n; i++) {
        int k = snprintf(all + off, len + 1 - off, "line %06ld ", i);
        memset(all + off + k, 'x', (size_t)(w - k));
        all[off + (size_t)w] = '\n';
        off += (size_t)w + 1;
    }
    (void)write_all(1, all, len);
    free(all);
}

/* Expand %w and %p in a path. */
static char *expand(const char *tmpl)
{
    size_t cap = strlen(tmpl) * 4 + 64, n = 0;
    char *out = malloc(cap);

    if (out == NULL)
        exit(1);
    for (const char *p = tmpl; *p != '\0' && n + 24 < cap; p++) {
        if (p[0] == '%' && p[1] == 'w') {
            n += (size_t)snprintf(out + n, cap - n, "%s", worker_id);
            p++;
        } else if (p[0] == '%' && p[1] == 'p') {
            n += (size_t)snprintf(out + n, cap - n, "%d", (int)getpid());
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return out;
}

static void *chatter_thread(void *arg)
{
    char *line = malloc(line_bytes + 64);
    unsigned long long n = 0;

    (void)arg;
    if (line == NULL)
        return NULL;
    for (;;) {
        int hl = snprintf(line, line_bytes + 64, "chatter %s %llu ", worker_id, n);
        size_t len = (size_t)hl < line_bytes ? line_bytes : (size_t)hl;
        memset(line + hl, 'c', len - (size_t)hl);
        line[len] = '\n';
        if (write_all(1, line, len + 1) != 0)
            break;
        atomic_fetch_add(&lines_written, 1);
        atomic_fetch_add(&stdout_bytes, len + 1);
        n++;
        if (chatter_us > 0)
            sleep_us(chatter_us);
    }
    free(line);
    return NULL;
}

/* arg: the fd, 1 or 2: 4 KiB lines of 's' on stdout (counted), of 'e' on stderr. */
static void *spew_lines_thread(void *arg)
{
    static char blocks[2][4096];
    int fd = (int)(intptr_t)arg;
    char *block = blocks[fd == 2];

    memset(block, fd == 2 ? 'e' : 's', 4096);
    block[4095] = '\n';
    while (write_all(fd, block, 4096) == 0)
        if (fd == 1)
            atomic_fetch_add(&stdout_bytes, 4096);
    return NULL;
}

static void *spew_fd3_thread(void *arg)
{
    static char block[65536];

    (void)arg;
    memset(block, 0xA5, sizeof(block));
    while (write_all(3, block, sizeof(block)) == 0)
        atomic_fetch_add(&fd3_bytes, sizeof(block));
    return NULL;
}

static void write_progress(int fd)
{
    char text[256];
    int n = snprintf(
        text, sizeof(text), "lines %llu stdout_bytes %llu fd3_bytes %llu requests %llu\n%40s\n",
        (unsigned long long)atomic_load(&lines_written),
        (unsigned long long)atomic_load(&stdout_bytes), (unsigned long long)atomic_load(&fd3_bytes),
        (unsigned long long)atomic_load(&requests_served), "");
    /* Same length every time (padding line), so a reader never sees a stale tail. */
    if (pwrite(fd, text, (size_t)n, 0) < 0) {
        /* the test reads what it can */
    }
}

static void *progress_thread(void *arg)
{
    int fd = *(int *)arg;

    for (;;) {
        write_progress(fd);
        sleep_us(50000);
    }
    return NULL;
}

static void start_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    sigset_t all, old;

    /* Threads never take signals: the main thread handles SIGTERM. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&t, NULL, fn, arg) != 0) {
        fprintf(stderr, "spew-worker: pthread_create failed\n");
        exit(1);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_detach(t);
}

static void exit_somehow(void)
{
    switch (getpid() % 4) {
    case 0:
        _exit(1);
    case 1:
        _exit(0);
    case 2:
        kill(getpid(), SIGKILL);
        break;
    default:
        signal(SIGABRT, SIG_DFL);
        kill(getpid(), SIGABRT);
        break;
    }
    _exit(1);
}

static int echo_loop(int log_each)
{
    struct drover_worker w;
    const unsigned char *req;
    size_t len;
    int rc;

    if (drover_worker_init(&w) != 0)
        return 1;
    while ((rc = drover_worker_next(&w, &req, &len)) == 1) {
        if (log_each) {
            char line[128];
            int n = snprintf(line, sizeof(line), "request %llu: %.*s\n",
                             (unsigned long long)atomic_load(&requests_served),
                             (int)(len < 40 ? len : 40), (const char *)req);
            /* Blocking write to the log pipe: a stuck droverd would stall us here. */
            if (write_all(1, line, (size_t)n) != 0)
                break;
        }
        if (drover_worker_reply(&w, req, len) != 0)
            break;
        atomic_fetch_add(&requests_served, 1);
    }
    drover_worker_free(&w);
    return rc < 0 ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: spew-worker [--out TEXT] [--err TEXT] [--lines N] [--width W] "
            "[--burst N] [--term-delay MS] [--term-wait FILE] [--tag WORD] [--echo] [--log-each] "
            "[--chatter US] [--line-bytes N] [--spew-stdout] [--spew-stderr] [--spew-fd3] "
            "[--progress FILE] [--exit-after MIN MAX]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int echo = 0, log_each = 0, spew_stdout = 0, spew_stderr = 0, spew_fd3 = 0;
    long exit_min = -1, exit_max = -1;
    const char *out = NULL, *err = NULL, *term_wait = NULL;
    long lines = 0, width = 64, term_delay = -1, ticks = 0, burst = 0;
    char suffix[32] = "";
    static int progress_fd = -1;
    sigset_t wait_set;
    int sig;

    signal(SIGPIPE, SIG_IGN);
    if (getenv("DROVER_WORKER") != NULL)
        worker_id = getenv("DROVER_WORKER");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = argc - i - 1;
        if (strcmp(a, "--out") == 0 && more >= 1)
            out = argv[++i];
        else if (strcmp(a, "--err") == 0 && more >= 1)
            err = argv[++i];
        else if (strcmp(a, "--lines") == 0 && more >= 1)
            lines = atol(argv[++i]);
        else if (strcmp(a, "--burst") == 0 && more >= 1)
            burst = atol(argv[++i]);
        else if (strcmp(a, "--width") == 0 && more >= 1)
            width = atol(argv[++i]);
        else if (strcmp(a, "--term-delay") == 0 && more >= 1)
            term_delay = atol(argv[++i]);
        else if (strcmp(a, "--term-wait") == 0 && more >= 1)
            term_wait = argv[++i];
        else if (strcmp(a, "--tag") == 0 && more >= 1)
            i++;
        else if (strcmp(a, "--echo") == 0)
            echo = 1;
        else if (strcmp(a, "--log-each") == 0)
            log_each = 1;
        else if (strcmp(a, "--chatter") == 0 && more >= 1)
            chatter_us = atol(argv[++i]);
        else if (strcmp(a, "--line-bytes") == 0 && more >= 1)
            line_bytes = (size_t)atol(argv[++i]);
        else if (strcmp(a, "--spew-stdout") == 0)
            spew_stdout = 1;
        else if (strcmp(a, "--spew-stderr") == 0)
            spew_stderr = 1;
        else if (strcmp(a, "--spew-fd3") == 0)
            spew_fd3 = 1;
        else if (strcmp(a, "--progress") == 0 && more >= 1)
            progress_path = argv[++i];
        else if (strcmp(a, "--exit-after") == 0 && more >= 2) {
            exit_min = atol(argv[++i]);
            exit_max = atol(argv[++i]);
        } else
            usage();
    }
    if (line_bytes < 32 || line_bytes > 1 << 20 || width < 20 || width > 4000)
        usage();
    if (getenv("DROVER_WORKER") != NULL)
        snprintf(suffix, sizeof(suffix), " w%s", getenv("DROVER_WORKER"));

    if (exit_min >= 0) {
        long span = exit_max > exit_min ? exit_max - exit_min : 0;
        srand((unsigned)getpid() ^ (unsigned)time(NULL));
        sleep_us((exit_min + (span > 0 ? rand() % (span + 1) : 0)) * 1000L);
        exit_somehow();
    }

    /* Block the signals the main thread waits for before any thread exists, so none is lost
     * between checks. Without --term-delay SIGTERM keeps its default action (it kills). */
    sigemptyset(&wait_set);
    sigaddset(&wait_set, SIGUSR2);
    if (term_delay >= 0 || term_wait != NULL)
        sigaddset(&wait_set, SIGTERM);
    if (!echo)
        pthread_sigmask(SIG_BLOCK, &wait_set, NULL);
    if (out != NULL)
        put_line(1, out, suffix);
    if (err != NULL)
        put_line(2, err, suffix);
    write_lines(lines, width);

    if (progress_path != NULL) {
        char *path = expand(progress_path);
        progress_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (progress_fd < 0) {
            perror(path);
            return 1;
        }
        free(path);
        write_progress(progress_fd);
        start_thread(progress_thread, &progress_fd);
    }
    if (chatter_us >= 0)
        start_thread(chatter_thread, NULL);
    if (spew_stdout)
        start_thread(spew_lines_thread, (void *)(intptr_t)1);
    if (spew_stderr)
        start_thread(spew_lines_thread, (void *)(intptr_t)2);
    if (spew_fd3)
        start_thread(spew_fd3_thread, NULL);

    if (echo)
        return echo_loop(log_each);
    for (;;) {
        char text[64];

        if (sigwait(&wait_set, &sig) != 0)
            continue;
        if (sig == SIGTERM) {
            char *path = term_wait != NULL ? expand(term_wait) : NULL;

            while (path != NULL && access(path, F_OK) != 0)
                sleep_us(10000);
            free(path);
            if (term_delay > 0)
                sleep_us(term_delay * 1000L);
            return 0;
        }
        ticks++;
        snprintf(text, sizeof(text), "tick %ld out", ticks);
        put_line(1, text, suffix);
        snprintf(text, sizeof(text), "tick %ld err", ticks);
        put_line(2, text, suffix);
        write_lines(burst, width);
    }
}
