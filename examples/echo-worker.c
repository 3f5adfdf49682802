/* SPDX-License-Identifier: ISC */
/*
 * echo-worker: answers every request with the request itself, in whichever
 * way drover gives it work:
 *
 *   message mode  (DROVER_FRAMING set): requests on fd 3 via drover_worker.h
 *   handoff mode  (DROVER_FD set, no DROVER_FRAMING): connections arrive on
 *                 fd 3 (SCM_RIGHTS); one byte goes back when one is finished
 *   shared mode   (LISTEN_FDS=1): accepts on fd 3 itself
 *   standalone    (--listen PATH): its own Unix socket, for benchmarks
 *
 * On connections (handoff, shared, standalone) the protocol is plain
 * length framing both ways: 4-byte big-endian length, then the bytes.
 *
 *   --work-us N   spend N microseconds of CPU on each request first
 *   --slow-every N --slow-us U
 *                 every Nth request this worker answers costs U microseconds
 *                 instead (uneven work: the benchmark's 1 request in 20 of 5 ms)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "drover_worker.h"

static long work_us, slow_every, slow_us, served;

/* Burn CPU for work_us microseconds (slow_us every slow_every requests), as a stand-in for real
 * work. */
static void do_work(void)
{
    struct timespec start, now;
    volatile uint64_t x = 88172645463325252ULL;
    long us = work_us;

    if (slow_every > 0 && ++served % slow_every == 0)
        us = slow_us;
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

static int message_mode(void)
{
    struct drover_worker w;
    const unsigned char *req;
    size_t len;
    int rc;

    if (drover_worker_init(&w) != 0)
        return 1;
    while ((rc = drover_worker_next(&w, &req, &len)) == 1) {
        do_work();
        if (drover_worker_reply(&w, req, len) != 0)
            break;
    }
    drover_worker_free(&w);
    return rc < 0 ? 1 : 0;
}

/* One client connection of the connection-serving modes. */
struct conn {
    int fd;
    unsigned char *buf;
    size_t len, cap;
    int handed_off; /* report to drover when done */
};

static int epfd, control_fd = -1, listen_fd = -1;

static void conn_close(struct conn *c)
{
    if (c->handed_off && control_fd >= 0) {
        char done = 'd';
        ssize_t n = write(control_fd, &done, 1);
        (void)n;
    }
    close(c->fd);
    free(c->buf);
    free(c);
}

static void conn_add(int fd, int handed_off)
{
    struct conn *c = calloc(1, sizeof(*c));
    struct epoll_event ev = {.events = EPOLLIN};

    c->fd = fd;
    c->handed_off = handed_off;
    c->cap = 65536;
    c->buf = malloc(c->cap);
    ev.data.ptr = c;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL); /* a slow reader: this example simply waits */
            continue;
        }
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read what is there and echo every complete frame. Returns -1 when the connection ends. */
static int conn_readable(struct conn *c)
{
    int ended = 0; /* the client finished sending: answer what it sent, then close */

    for (;;) {
        if (c->len == c->cap) {
            c->cap *= 2;
            c->buf = realloc(c->buf, c->cap);
        }
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            ended = 1;
            break;
        }
        c->len += (size_t)n;
    }
    size_t off = 0;
    while (c->len - off >= 4) {
        unsigned char *p = c->buf + off;
        size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (c->len - off < 4 + n)
            break;
        do_work();
        if (write_all(c->fd, p, 4 + n) != 0)
            return -1;
        off += 4 + n;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return ended ? -1 : 0;
}

static void take_handoff(void)
{
    for (;;) {
        char byte;
        struct iovec iov = {&byte, 1};
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf)};
        ssize_t n = recvmsg(control_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        struct cmsghdr *cm;

        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            exit(0); /* drover went away */
        if (n < 0)
            return;
        cm = CMSG_FIRSTHDR(&msg);
        if (cm != NULL && cm->cmsg_type == SCM_RIGHTS) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm), sizeof(int));
            conn_add(fd, 1);
        }
    }
}

static int serve(void)
{
    struct epoll_event ev = {.events = EPOLLIN}, events[64];

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (listen_fd >= 0) {
        fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
        ev.data.ptr = &listen_fd;
        epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev);
    }
    if (control_fd >= 0) {
        ev.data.ptr = &control_fd;
        epoll_ctl(epfd, EPOLL_CTL_ADD, control_fd, &ev);
    }
    for (;;) {
        int n = epoll_wait(epfd, events, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 1;
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &listen_fd) {
                int fd;
                while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
                    conn_add(fd, 0);
            } else if (events[i].data.ptr == &control_fd) {
                take_handoff();
            } else {
                struct conn *c = events[i].data.ptr;
                if (conn_readable(c) != 0) {
                    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
                    conn_close(c);
                }
            }
        }
    }
}

static int listen_on(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || listen(fd, 4096) != 0) {
        perror(path);
        exit(1);
    }
    return fd;
}

int main(int argc, char **argv)
{
    const char *standalone = NULL;

    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--work-us") == 0 && i + 1 < argc)
            work_us = atol(argv[++i]);
        else if (strcmp(argv[i], "--slow-every") == 0 && i + 1 < argc)
            slow_every = atol(argv[++i]);
        else if (strcmp(argv[i], "--slow-us") == 0 && i + 1 < argc)
            slow_us = atol(argv[++i]);
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            standalone = argv[++i];
        else {
            fprintf(
                stderr,
                "usage: echo-worker [--work-us N] [--slow-every N --slow-us U] [--listen PATH]\n");
            return 2;
        }
    }
    if (standalone != NULL) {
        listen_fd = listen_on(standalone);
        return serve();
    }
    if (getenv("DROVER_FRAMING") != NULL)
        return message_mode();
    if (getenv("LISTEN_FDS") != NULL) {
        listen_fd = 3;
        return serve();
    }
    if (getenv("DROVER_FD") != NULL) {
        control_fd = atoi(getenv("DROVER_FD"));
        return serve();
    }
    fprintf(stderr, "echo-worker: run me under droverd (or with --listen PATH)\n");
    return 2;
}
