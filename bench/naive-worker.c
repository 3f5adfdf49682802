/* SPDX-License-Identifier: ISC */
/*
 * naive-worker: the message-mode worker most users write first, for
 * bench/route.sh. It blocks in read() for one request (length framing on
 * fd 3: a 4-byte big-endian length, then the bytes), does its work, and
 * answers with one write() of header and body; then reads the next. No
 * poll, no buffering of a second request: whatever drover pipelines to it
 * waits in the socket until it asks.
 *
 *   --work-us N                  N microseconds of CPU per request
 *   --slow-every N --slow-us U   every Nth request costs U microseconds instead
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long work_us, slow_every, slow_us, served;

static void burn(long us)
{
    struct timespec start, now;
    volatile uint64_t x = 88172645463325252ULL;

    if (us <= 0)
        return;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    do {
        for (int i = 0; i < 256; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000 < us);
}

/* read() until len bytes are in: 1, 0 at the end, -1 on an error. */
static int read_full(int fd, unsigned char *p, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 && got == 0 ? 0 : -1;
        got += (size_t)n;
    }
    return 1;
}

int main(int argc, char **argv)
{
    const char *fds = getenv("DROVER_FD");
    int fd = fds != NULL ? atoi(fds) : 3;
    static unsigned char buf[4 + (1u << 20)];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--work-us") == 0 && i + 1 < argc)
            work_us = atol(argv[++i]);
        else if (strcmp(argv[i], "--slow-every") == 0 && i + 1 < argc)
            slow_every = atol(argv[++i]);
        else if (strcmp(argv[i], "--slow-us") == 0 && i + 1 < argc)
            slow_us = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: naive-worker [--work-us N] [--slow-every N --slow-us U]\n");
            return 2;
        }
    }
    for (;;) {
        size_t len;
        int rc = read_full(fd, buf, 4);

        if (rc <= 0)
            return rc < 0;
        len = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
        if (len > sizeof(buf) - 4 || read_full(fd, buf + 4, len) != 1)
            return 1;
        burn(slow_every > 0 && ++served % slow_every == 0 ? slow_us : work_us);
        if (write(fd, buf, 4 + len) != (ssize_t)(4 + len))
            return 1;
    }
}
