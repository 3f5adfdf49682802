/* SPDX-License-Identifier: ISC */
/*
 * sd_notify in both directions (see notify.h). Towards systemd: datagrams
 * to $NOTIFY_SOCKET, and WATCHDOG=1 at half of $WATCHDOG_USEC (a timer that
 * exists only when systemd asks for it); a message the full queue of a busy
 * systemd refuses waits, in order, for a retry timer. From workers: one
 * datagram socket with SO_PASSCRED; the kernel-supplied sender pid must be
 * a worker's own pid (notify_access = main), or a process in a worker's
 * process group (notify_access = all: the worker is its group's leader, so
 * the group id names it), so a worker can only speak for itself. Dropped
 * messages are logged, at most one line a second whatever the flood.
 */
#include "notify.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "droverd.h"
#include "log.h"
#include "out.h"
#include "parse.h"
#include "pool.h"
#include "sys.h"
#include "xmalloc.h"

#define NOTIFY_MAX_MESSAGE 4096
#define NOTIFY_DROP_LOG_US 1000000 /* at most one "dropped" line per second */

/* Towards systemd. */
static struct sockaddr_un sd_addr;
static socklen_t sd_addrlen;
static int sd_fd = -1;
static uint64_t sd_watchdog_usec;
static struct event *sd_watchdog_ev;
static void sd_retry_cb(evutil_socket_t fd, short what, void *arg);

/* From workers. */
static int workers_fd = -1;
static struct event *workers_ev;
static uint64_t drop_logged_at;
static unsigned drops_unlogged;
static char drop_last[256];      /* the last message held back by the rate limit */
static struct event *drop_flush; /* logs what was held back once the second is over */

void sd_notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    const char *wd = getenv("WATCHDOG_USEC");
    const char *wd_pid = getenv("WATCHDOG_PID");

    if (path != NULL && (path[0] == '/' || path[0] == '@') &&
        strlen(path) < sizeof(sd_addr.sun_path)) {
        sd_addr.sun_family = AF_UNIX;
        memcpy(sd_addr.sun_path, path, strlen(path));
        if (path[0] == '@')
            sd_addr.sun_path[0] = '\0'; /* abstract namespace */
        sd_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
        sd_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    }
    if (wd != NULL && (wd_pid == NULL || atoi(wd_pid) == (int)getpid())) {
        uint64_t v;
        if (parse_uint(wd, 1, UINT64_MAX, &v, NULL, 0) == 0)
            sd_watchdog_usec = v;
    }
    /* Ours alone: workers get their own values, or none. */
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

/*
 * Towards systemd, a full receive queue (EAGAIN: systemd busy, or a small
 * net.unix.max_dgram_qlen) must not lose READY=1 or STOPPING=1: what cannot go
 * now waits here, in order, and a timer sends it as soon as the queue has room.
 */
#define SD_WATCHDOG_MIN_US 1000u /* the shortest interval between pings */
#define SD_PENDING_MAX     16
#define SD_RETRY_FIRST_US  10000    /* 10 ms, doubling */
#define SD_RETRY_MAX_US    1000000  /* to once a second */
#define SD_FAIL_LOG_US     60000000 /* the same failure again: once a minute */
static char *sd_pending[SD_PENDING_MAX];
static unsigned sd_npending;
static uint64_t sd_retry_us;
static struct event *sd_retry_ev;
static int sd_fail_errno; /* the last failure logged, 0 after a success */
static uint64_t sd_fail_logged_at;

/* The message is lost: say so (a lost READY=1 fails the start), once a minute per errno. */
static void sd_send_failed(const char *msg, int err)
{
    uint64_t now = mono_now();
    size_t first = strcspn(msg, "\n");

    if (err == sd_fail_errno && now - sd_fail_logged_at < SD_FAIL_LOG_US)
        return;
    sd_fail_errno = err;
    sd_fail_logged_at = now;
    log_warnx("cannot tell systemd %.*s (NOTIFY_SOCKET): %s", (int)first, msg, strerror(err));
}

/* 1: sent or given up on; 0: the queue is full, try again later. */
static int sd_send_now(const char *msg)
{
    if (sendto(sd_fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sd_addr, sd_addrlen) >=
        0) {
        sd_fail_errno = 0;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR)
        return 0;
    sd_send_failed(msg, errno);
    return 1;
}

static void sd_retry_arm(void)
{
    struct timeval tv;

    if (sd_retry_ev == NULL) {
        if (droverd.base == NULL)
            return;
        sd_retry_ev = evtimer_new(droverd.base, sd_retry_cb, NULL);
    }
    sd_retry_us = sd_retry_us == 0                    ? SD_RETRY_FIRST_US
                  : sd_retry_us * 2 > SD_RETRY_MAX_US ? SD_RETRY_MAX_US
                                                      : sd_retry_us * 2;
    tv.tv_sec = (time_t)(sd_retry_us / 1000000);
    tv.tv_usec = (suseconds_t)(sd_retry_us % 1000000);
    evtimer_add(sd_retry_ev, &tv);
}

/* Send what waits, oldest first, until the queue is full again. */
static void sd_flush(void)
{
    unsigned sent = 0;

    while (sent < sd_npending && sd_send_now(sd_pending[sent]))
        free(sd_pending[sent++]);
    memmove(sd_pending, sd_pending + sent, (sd_npending - sent) * sizeof(sd_pending[0]));
    sd_npending -= sent;
    if (sd_npending == 0)
        sd_retry_us = 0;
    else
        sd_retry_arm();
}

static void sd_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    sd_flush();
}

void sd_notify_send(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (sd_fd < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (sd_npending == 0 && sd_send_now(msg))
        return;
    /* A ping already waiting says all a second one would. */
    if (strcmp(msg, "WATCHDOG=1") == 0 && sd_npending > 0 &&
        strcmp(sd_pending[sd_npending - 1], "WATCHDOG=1") == 0)
        return;
    if (sd_npending == SD_PENDING_MAX) {
        /* systemd has read nothing for a long while: the oldest goes. */
        sd_send_failed(sd_pending[0], EAGAIN);
        free(sd_pending[0]);
        memmove(sd_pending, sd_pending + 1, (SD_PENDING_MAX - 1) * sizeof(sd_pending[0]));
        sd_npending--;
    }
    sd_pending[sd_npending++] = xstrdup(msg);
    if (sd_retry_ev == NULL || !evtimer_pending(sd_retry_ev, NULL))
        sd_retry_arm();
}

static void sd_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    sd_notify_send("WATCHDOG=1");
}

void sd_watchdog_start(void)
{
    struct timeval tv;
    uint64_t every;

    if (sd_watchdog_usec == 0 || sd_fd < 0 || sd_watchdog_ev != NULL)
        return;
    every = sd_watchdog_usec / 2;
    /* Half of a few µs would be a timer firing at every pass: a busy loop, not a watchdog. */
    if (every < SD_WATCHDOG_MIN_US) {
        log_warnx("WATCHDOG_USEC=%llu is under %u ms: pinging every %u ms, which may be late",
                  (unsigned long long)sd_watchdog_usec, 2 * SD_WATCHDOG_MIN_US / 1000,
                  SD_WATCHDOG_MIN_US / 1000);
        every = SD_WATCHDOG_MIN_US;
    }
    tv.tv_sec = (time_t)(every / 1000000);
    tv.tv_usec = (suseconds_t)(every % 1000000);
    sd_watchdog_ev = event_new(droverd.base, -1, EV_PERSIST, sd_watchdog_cb, NULL);
    event_add(sd_watchdog_ev, &tv);
    sd_notify_send("WATCHDOG=1");
}

/* Apply one "KEY=VALUE" line sent by a worker. */
static void worker_message_line(struct slot *s, const char *line, size_t len)
{
    if (len == 7 && memcmp(line, "READY=1", 7) == 0) {
        if (s->pool->cfg->ready == READY_NOTIFY)
            slot_event(s, SLOT_EV_READY, NULL);
    } else if (len == 10 && memcmp(line, "WATCHDOG=1", 10) == 0) {
        slot_event(s, SLOT_EV_WATCHDOG, NULL);
    } else if (len == 16 && memcmp(line, "WATCHDOG=trigger", 16) == 0) {
        slot_event(s, SLOT_EV_FAIL, "watchdog triggered by the worker");
    } else if (len >= 7 && memcmp(line, "STATUS=", 7) == 0) {
        free(s->notify_status);
        s->notify_status = len > 7 ? xstrndup(line + 7, len - 7 > 200 ? 200 : len - 7) : NULL;
        /* Shown on the operator's terminal: no escape sequences, no CR over the line. */
        text_mask_controls(s->notify_status);
    }
    /* Anything else (STOPPING=1, MAINPID=, ...) is accepted and ignored. */
}

static void drop_log_now(const char *msg, uint64_t now)
{
    if (drops_unlogged > 1)
        log_warnx("%s (and %u more dropped since the last such line)", msg, drops_unlogged - 1);
    else
        log_warnx("%s", msg);
    drop_logged_at = now;
    drops_unlogged = 0;
}

/* The second is over: log the last message held back, with how many were. */
static void drop_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (drops_unlogged > 0)
        drop_log_now(drop_last, mono_now());
}

/*
 * Log a dropped message, at most one line a second: within the second it is
 * held back and counted, and a one-shot timer (armed only then, so no idle
 * wake-up) logs the last one held back when the second is over.
 */
static void __attribute__((format(printf, 1, 2))) log_dropped(const char *fmt, ...)
{
    uint64_t now = mono_now();
    char msg[sizeof(drop_last)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (drop_logged_at != 0 && now - drop_logged_at < NOTIFY_DROP_LOG_US) {
        uint64_t wait = drop_logged_at + NOTIFY_DROP_LOG_US - now;
        struct timeval tv = {(time_t)(wait / 1000000), (suseconds_t)(wait % 1000000)};

        memcpy(drop_last, msg, sizeof(drop_last));
        drops_unlogged++;
        if (drop_flush == NULL)
            drop_flush = evtimer_new(droverd.base, drop_flush_cb, NULL);
        if (!evtimer_pending(drop_flush, NULL))
            evtimer_add(drop_flush, &tv);
        return;
    }
    drops_unlogged++;
    drop_log_now(msg, now);
}

/*
 * The slot a message from pid speaks for: the worker itself, or with
 * notify_access = all any process of its process group. NULL (logged) if none.
 */
static struct slot *notify_sender_slot(pid_t pid)
{
    struct slot *s = slot_find_pid(pid);
    pid_t pgid;

    if (s != NULL)
        return s;
    /* Every worker leads its own process group; the sender may already be gone. */
    pgid = getpgid(pid);
    s = pgid > 0 ? slot_find_pid(pgid) : NULL;
    if (s == NULL) {
        log_dropped("notify: message from pid %d, which is no worker's process%s; dropped",
                    (int)pid, pgid < 0 ? " (or has exited already)" : "");
        return NULL;
    }
    if (s->pool->cfg->notify_access == NOTIFY_ACCESS_ALL)
        return s;
    log_dropped("pool %s slot %u: notify: message from pid %d, not the worker (pid %d), dropped: "
                "notify_access = main (set notify_access = all to accept it)",
                s->pool->name, s->index, (int)pid, (int)s->pid);
    return NULL;
}

static void workers_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    /* Bounded per wake-up; what remains is read on the next one. */
    for (int round = 0; round < 64; round++) {
        char buf[NOTIFY_MAX_MESSAGE + 1];
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(struct ucred))];
        } control;
        struct iovec iov = {buf, NOTIFY_MAX_MESSAGE};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = &control,
                             .msg_controllen = sizeof(control)};
        struct ucred *cred = NULL;
        struct cmsghdr *c;
        ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        struct slot *s;
        pid_t worker;

        if (n < 0)
            return;
        for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                cred = (struct ucred *)CMSG_DATA(c);
            else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                /* Nobody passes fds here; close any so they do not leak. */
                int *fds = (int *)CMSG_DATA(c);
                size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < nfds; i++)
                    close(fds[i]);
            }
        }
        if (cred == NULL)
            continue;
        s = notify_sender_slot(cred->pid);
        if (s == NULL)
            continue;
        if (msg.msg_flags & MSG_TRUNC) {
            log_dropped("pool %s slot %u: notify: message from pid %d longer than %d bytes, "
                        "dropped",
                        s->pool->name, s->index, (int)cred->pid, NOTIFY_MAX_MESSAGE);
            continue;
        }
        worker = s->pid;
        buf[n] = '\0';
        for (char *line = buf; line < buf + n;) {
            char *end = memchr(line, '\n', (size_t)(buf + n - line));
            size_t len = end != NULL ? (size_t)(end - line) : (size_t)(buf + n - line);
            worker_message_line(s, line, len);
            /* The slot may have been freed by the event; stop if it no longer is this worker. */
            if (slot_find_pid(worker) != s)
                break;
            line += len + 1;
        }
    }
}

int notify_workers_open(const char *control_socket, char *err, size_t errsz)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int one = 1;

    /*
     * Named after droverd's control socket (drover.sock -> drover.sock.notify),
     * which only one live droverd can hold, so two daemons sharing a directory
     * never take each other's.
     */
    if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s.notify", control_socket) >=
        sizeof(sun.sun_path))
        return parse_error(err, errsz,
                           "control socket path %s is too long to add the workers' notify "
                           "socket next to it (%zu bytes at most)",
                           control_socket, sizeof(sun.sun_path) - 8);
    /* Workers may run as other users; the pid check, not the file mode, guards it. */
    workers_fd = sys_listen_unix(sun.sun_path, SOCK_DGRAM, 0777, (gid_t)-1, 0, err, errsz);
    if (workers_fd < 0)
        return -1;
    if (setsockopt(workers_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) {
        int e = errno;
        close(workers_fd);
        workers_fd = -1;
        sys_unlink_socket(sun.sun_path);
        return parse_error(err, errsz, "notify socket %s: %s", sun.sun_path, strerror(e));
    }
    droverd.notify_socket = xstrdup(sun.sun_path);
    workers_ev = event_new(droverd.base, workers_fd, EV_READ | EV_PERSIST, workers_read_cb, NULL);
    event_add(workers_ev, NULL);
    return 0;
}

void notify_workers_close(void)
{
    if (workers_ev != NULL)
        event_free(workers_ev);
    workers_ev = NULL;
    if (workers_fd >= 0)
        close(workers_fd);
    workers_fd = -1;
    if (droverd.notify_socket != NULL) {
        sys_unlink_socket(droverd.notify_socket);
        free(droverd.notify_socket);
        droverd.notify_socket = NULL;
    }
    if (sd_watchdog_ev != NULL) {
        event_free(sd_watchdog_ev);
        sd_watchdog_ev = NULL;
    }
    if (drop_flush != NULL) {
        event_free(drop_flush);
        drop_flush = NULL;
    }
}
