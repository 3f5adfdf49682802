/* SPDX-License-Identifier: ISC */
/*
 * ctl-worker: a supervised-only test worker for the control-plane tests
 * (t_ctl_*.sh). It writes what it is told to its stdout and stderr, then
 * waits for signals:
 *
 *   --out TEXT        write "TEXT" as one line to stdout at start
 *   --err TEXT        write "TEXT" as one line to stderr at start
 *   --lines N         write N numbered lines "line NNNNNN xxx..." to stdout at start,
 *                     all in one write(2)
 *   --width W         make each numbered line W bytes long (default 64)
 *   --burst N         after each tick (below), also write N numbered lines at once
 *   --term-delay MS   on SIGTERM, linger MS milliseconds, then exit 0
 *   --tag WORD        ignored: lets a test change the command line
 *
 * SIGUSR2 writes "tick N out" to stdout and "tick N err" to stderr (N counts
 * from 1), so a test decides when output happens (`drover signal POOL USR2`).
 * DROVER_WORKER, when set, is appended to --out/--err/tick lines as " wSLOT".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_term;
static volatile sig_atomic_t got_tick;

static void on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

static void on_tick(int sig)
{
    (void)sig;
    got_tick++;
}

static void usage(void)
{
    fprintf(stderr, "usage: ctl-worker [--out TEXT] [--err TEXT] [--lines N] [--width W] "
                    "[--burst N] [--term-delay MS] [--tag WORD]\n");
    exit(2);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Write all of buf to fd (a pipe may take it in pieces). */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        len -= (size_t)w;
    }
}

/* Write "TEXTSUFFIX\n" to fd in one piece. */
static void put_line(int fd, const char *text, const char *suffix)
{
    char buf[8192];
    int n = snprintf(buf, sizeof(buf), "%s%s\n", text, suffix);

    write_all(fd, buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* N numbered lines of W bytes each, all in one write: droverd finds far more than one read's worth.
 */
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
    write_all(1, all, len);
    free(all);
}

int main(int argc, char **argv)
{
    const char *out = NULL, *err = NULL, *slot = getenv("DROVER_WORKER");
    long lines = 0, width = 64, term_delay = -1, ticks_done = 0, burst = 0;
    char suffix[32] = "";
    struct sigaction sa;
    sigset_t block, old;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--out") == 0)
            out = argv[++i];
        else if (strcmp(argv[i], "--err") == 0)
            err = argv[++i];
        else if (strcmp(argv[i], "--lines") == 0)
            lines = atol(argv[++i]);
        else if (strcmp(argv[i], "--burst") == 0)
            burst = atol(argv[++i]);
        else if (strcmp(argv[i], "--width") == 0)
            width = atol(argv[++i]);
        else if (strcmp(argv[i], "--term-delay") == 0)
            term_delay = atol(argv[++i]);
        else if (strcmp(argv[i], "--tag") == 0)
            i++;
        else
            usage();
    }
    if (width < 20 || width > 4000)
        usage();
    if (slot != NULL)
        snprintf(suffix, sizeof(suffix), " w%s", slot);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_tick;
    sigaction(SIGUSR2, &sa, NULL);
    if (term_delay >= 0) {
        sa.sa_handler = on_term;
        sigaction(SIGTERM, &sa, NULL);
    }
    /* Signals are only taken inside sigsuspend, so none is lost between checks. */
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);

    if (out != NULL)
        put_line(1, out, suffix);
    if (err != NULL)
        put_line(2, err, suffix);
    write_lines(lines, width);

    for (;;) {
        while (!got_term && ticks_done == got_tick)
            sigsuspend(&old);
        while (ticks_done < got_tick) {
            char text[64];
            ticks_done++;
            snprintf(text, sizeof(text), "tick %ld out", ticks_done);
            put_line(1, text, suffix);
            snprintf(text, sizeof(text), "tick %ld err", ticks_done);
            put_line(2, text, suffix);
            write_lines(burst, width);
        }
        if (got_term) {
            sleep_ms(term_delay);
            return 0;
        }
    }
}
