/* SPDX-License-Identifier: ISC */
/*
 * Worker output capture and pool log files (see output.h). Owns the log
 * files and the slots' output pipes; knows nothing about slots beyond their
 * index.
 */
#include "output.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sys.h"
#include "xmalloc.h"

#define LINE_MAX_BYTES 8192 /* a longer line is written in pieces */

struct pool_log {
    char *dir;
    char *name;
    char *path;
    int fd;
    uint64_t size;
    uint64_t max_size;
    unsigned keep;
    uint64_t written;
    uint64_t dropped;
    int last_errno;      /* logged once per kind of failure, not per line */
    time_t last_attempt; /* when opening last failed; retried once a second */
    int rotate_errno;    /* why the last rotation failed, 0 if it did not */
    time_t rotate_failed_at;
    TAILQ_HEAD(, log_follower) followers;
};

/* Every-pool followers (drover logs all -f): pools come and go under them. */
static TAILQ_HEAD(, log_follower) all_followers = TAILQ_HEAD_INITIALIZER(all_followers);

/* One stream of a slot: stdout (which has stderr too when merged), or stderr. */
struct output_stream {
    struct output_pipe *op;
    bool err;
    int rfd, wfd; /* -1 while not made */
    struct event *ev;
    char *partial; /* the start of a line not yet ended, if any */
    size_t partial_len;
};

struct output_pipe {
    struct event_base *base;
    struct pool_log *log;
    unsigned slot;
    struct output_stream out, err;
    bool err_failed; /* making the stderr pipe failed (logged once per slot) */
};

static void pool_log_open(struct pool_log *log)
{
    struct stat st;

    if (log->fd >= 0)
        close(log->fd);
    log->fd = -1;
    if (sys_mkdir_p(log->dir) != 0) {
        if (log->last_errno != errno)
            log_warn("pool %s: log directory %s", log->name, log->dir);
        log->last_errno = errno;
        return;
    }
    /* A symlink is not followed: whoever can write to log_dir could aim root's writes anywhere. */
    log->fd =
        open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW, 0640);
    if (log->fd < 0) {
        if (log->last_errno != errno && errno == ELOOP)
            log_warnx("pool %s: %s is a symlink: not followed, output dropped", log->name,
                      log->path);
        else if (log->last_errno != errno)
            log_warn("pool %s: open %s", log->name, log->path);
        log->last_errno = errno;
        return;
    }
    log->size = fstat(log->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void pool_log_set_path(struct pool_log *log)
{
    free(log->path);
    xasprintf(&log->path, "%s/%s.log", log->dir, log->name);
}

struct pool_log *pool_log_new(const char *dir, const char *pool, uint64_t max_size, unsigned keep)
{
    struct pool_log *log = xcalloc(1, sizeof(*log));

    log->dir = xstrdup(dir);
    log->name = xstrdup(pool);
    log->fd = -1;
    log->max_size = max_size;
    log->keep = keep;
    TAILQ_INIT(&log->followers);
    pool_log_set_path(log);
    pool_log_open(log);
    return log;
}

void pool_log_free(struct pool_log *log)
{
    struct log_follower *f;

    if (log == NULL)
        return;
    while ((f = TAILQ_FIRST(&log->followers)) != NULL) {
        TAILQ_REMOVE(&log->followers, f, entry);
        f->closed_cb(f->arg);
    }
    if (log->fd >= 0)
        close(log->fd);
    free(log->dir);
    free(log->name);
    free(log->path);
    free(log);
}

void pool_log_configure(struct pool_log *log, uint64_t max_size, unsigned keep)
{
    log->max_size = max_size;
    log->keep = keep;
}

void pool_log_set_dir(struct pool_log *log, const char *dir)
{
    if (strcmp(log->dir, dir) == 0)
        return;
    free(log->dir);
    log->dir = xstrdup(dir);
    pool_log_set_path(log);
    pool_log_open(log);
}

void pool_log_reopen(struct pool_log *log)
{
    pool_log_open(log);
}

static const char *pool_log_name(const struct pool_log *log)
{
    return log->name;
}

const char *pool_log_path(const struct pool_log *log)
{
    return log->path;
}

uint64_t pool_log_dropped(const struct pool_log *log)
{
    return log->dropped;
}

uint64_t pool_log_written(const struct pool_log *log)
{
    return log->written;
}

/* A rotation that failed: logged once per kind, retried once a second, not at every line. */
static void pool_log_rotate_failed(struct pool_log *log, const char *what)
{
    if (log->rotate_errno != errno)
        log_warn("pool %s: rotate: %s %s (writing on to it; retried once a second)", log->name,
                 what, log->path);
    log->rotate_errno = errno;
    log->rotate_failed_at = time(NULL);
}

/* POOL.log -> POOL.log.1 -> ... -> POOL.log.KEEP (the oldest is removed). */
static void pool_log_rotate(struct pool_log *log)
{
    char from[4200], to[4200];

    /* Files past log_keep, left when a reload lowered it, go too. */
    for (unsigned i = log->keep + 1;; i++) {
        snprintf(to, sizeof(to), "%s.%u", log->path, i);
        if (unlink(to) != 0)
            break;
    }
    if (log->keep == 0) {
        if (unlink(log->path) != 0 && errno != ENOENT) {
            pool_log_rotate_failed(log, "remove");
            return;
        }
    } else {
        snprintf(to, sizeof(to), "%s.%u", log->path, log->keep);
        unlink(to);
        for (unsigned i = log->keep; i > 1; i--) {
            snprintf(from, sizeof(from), "%s.%u", log->path, i - 1);
            snprintf(to, sizeof(to), "%s.%u", log->path, i);
            rename(from, to);
        }
        snprintf(to, sizeof(to), "%s.1", log->path);
        if (rename(log->path, to) != 0 && errno != ENOENT) {
            pool_log_rotate_failed(log, "rename");
            return;
        }
    }
    if (log->rotate_errno != 0)
        log_info("pool %s: rotating %s works again", log->name, log->path);
    log->rotate_errno = 0;
    pool_log_open(log);
}

/* Whether a line of len bytes should go to a new file (see pool_log_rotate). */
static bool pool_log_full(struct pool_log *log, size_t len)
{
    struct stat st;

    if (log->max_size == 0 || log->size == 0 || log->size + len <= log->max_size)
        return false;
    /* A failed rotation is tried again once a second: no fstat per line meanwhile. */
    if (log->rotate_errno != 0 && time(NULL) == log->rotate_failed_at)
        return false;
    /* Ask the file: logrotate's copytruncate (or `: > POOL.log`) empties it under us. */
    if (log->fd >= 0 && fstat(log->fd, &st) == 0)
        log->size = (uint64_t)st.st_size;
    return log->size > 0 && log->size + len > log->max_size;
}

/* "2026-11-23T10:04:05.123" for now, formatted once per second. */
static const char *log_stamp(void)
{
    static char stamp[40];
    static time_t last;
    static size_t prefix_len;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != last) {
        struct tm tm;
        localtime_r(&ts.tv_sec, &tm);
        prefix_len = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        last = ts.tv_sec;
    }
    snprintf(stamp + prefix_len, sizeof(stamp) - prefix_len, ".%03ld", ts.tv_nsec / 1000000);
    return stamp;
}

static void pool_log_drop(struct pool_log *log, size_t n, int error)
{
    log->dropped += n;
    if (error != log->last_errno) {
        errno = error;
        log_warn("pool %s: writing %s (dropping output until it works again)", log->name,
                 log->path);
        log->last_errno = error;
    }
}

void pool_log_line(struct pool_log *log, unsigned slot, bool err, const char *line, size_t len)
{
    char head[80];
    struct iovec iov[3];
    int hlen = snprintf(head, sizeof(head), "%s [%u%s] ", log_stamp(), slot,
                        err ? OUTPUT_STDERR_MARK : "");
    size_t total = (size_t)hlen + len + 1;
    struct log_follower *f, *next;

    iov[0] = (struct iovec){head, (size_t)hlen};
    iov[1] = (struct iovec){(void *)line, len};
    iov[2] = (struct iovec){"\n", 1};

    if (log->fd < 0 && time(NULL) != log->last_attempt) {
        log->last_attempt = time(NULL);
        pool_log_open(log);
    }
    if (pool_log_full(log, total))
        pool_log_rotate(log);
    if (log->fd < 0) {
        /* Why the last open failed: errno now is whatever call came last. */
        pool_log_drop(log, total, log->last_errno != 0 ? log->last_errno : EBADF);
    } else {
        ssize_t n = writev(log->fd, iov, 3);
        if (n < 0) {
            pool_log_drop(log, total, errno);
        } else {
            if ((size_t)n < total) /* a full disk mid-line: count the rest as dropped */
                log->dropped += total - (size_t)n;
            log->size += (uint64_t)n;
            log->written += (uint64_t)n;
            if (log->last_errno != 0 && (size_t)n == total) {
                log_info("pool %s: writing %s works again (%llu bytes were dropped)", log->name,
                         log->path, (unsigned long long)log->dropped);
                log->last_errno = 0;
            }
        }
    }

    if (!TAILQ_EMPTY(&log->followers) || !TAILQ_EMPTY(&all_followers)) {
        char *full = xmalloc(total);
        memcpy(full, head, (size_t)hlen);
        memcpy(full + hlen, line, len);
        full[total - 1] = '\n';
        TAILQ_FOREACH_SAFE(f, &log->followers, entry, next)
            f->line_cb(f->arg, log->name, full, total);
        TAILQ_FOREACH_SAFE(f, &all_followers, entry, next)
            f->line_cb(f->arg, log->name, full, total);
        free(full);
    }
}

void pool_log_follow(struct pool_log *log, struct log_follower *f)
{
    TAILQ_INSERT_TAIL(&log->followers, f, entry);
}

void pool_log_unfollow(struct pool_log *log, struct log_follower *f)
{
    TAILQ_REMOVE(&log->followers, f, entry);
}

void pool_log_follow_all(struct log_follower *f)
{
    TAILQ_INSERT_TAIL(&all_followers, f, entry);
}

void pool_log_unfollow_all(struct log_follower *f)
{
    TAILQ_REMOVE(&all_followers, f, entry);
}

/*
 * Log every complete line of buf (after what was kept from the last read);
 * keep an unfinished line for next time, or write it as a line of its own
 * when it reaches LINE_MAX_BYTES or when flush_all is set.
 */
static void output_stream_lines(struct output_stream *st, const char *buf, size_t len,
                                int flush_all)
{
    const char *p = buf, *end = buf + len;
    struct output_pipe *op = st->op;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break;
        if (st->partial_len > 0) {
            size_t n = (size_t)(nl - p);
            st->partial = xreallocarray(st->partial, st->partial_len + n + 1, 1);
            memcpy(st->partial + st->partial_len, p, n);
            pool_log_line(op->log, op->slot, st->err, st->partial, st->partial_len + n);
            st->partial_len = 0;
        } else {
            pool_log_line(op->log, op->slot, st->err, p, (size_t)(nl - p));
        }
        p = nl + 1;
    }
    if (p < end) {
        size_t n = (size_t)(end - p);
        st->partial = xreallocarray(st->partial, st->partial_len + n + 1, 1);
        memcpy(st->partial + st->partial_len, p, n);
        st->partial_len += n;
    }
    if (st->partial_len > 0 && (flush_all || st->partial_len >= LINE_MAX_BYTES)) {
        pool_log_line(op->log, op->slot, st->err, st->partial, st->partial_len);
        st->partial_len = 0;
    }
    if (st->partial_len == 0 && st->partial != NULL) {
        free(st->partial);
        st->partial = NULL;
    }
}

static void output_stream_read(struct output_stream *st)
{
    /* One buffer for every pipe: droverd is single-threaded, and idle slots then cost nothing. */
    static char buf[65536];

    if (st->rfd < 0)
        return;
    /* Bounded per wake-up, so a chatty worker cannot starve the loop. */
    for (int rounds = 0; rounds < 4; rounds++) {
        ssize_t n = read(st->rfd, buf, sizeof(buf));
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        output_stream_lines(st, buf, (size_t)n, 0);
        if ((size_t)n < sizeof(buf))
            break;
    }
}

static void output_stream_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    output_stream_read(arg);
}

static int output_stream_open(struct output_stream *st)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    /* Only our end is non-blocking: a worker writing to a full pipe simply waits. */
    sys_set_nonblock_cloexec(fds[0]);
    st->rfd = fds[0];
    st->wfd = fds[1];
    st->ev = event_new(st->op->base, st->rfd, EV_READ | EV_PERSIST, output_stream_read_cb, st);
    event_add(st->ev, NULL);
    return 0;
}

static void output_stream_drain(struct output_stream *st)
{
    output_stream_read(st);
    output_stream_lines(st, "", 0, 1);
}

static void output_stream_close(struct output_stream *st)
{
    if (st->rfd >= 0) {
        output_stream_drain(st);
        event_free(st->ev);
        close(st->rfd);
        close(st->wfd);
    }
    free(st->partial);
}

struct output_pipe *output_pipe_new(struct event_base *base, struct pool_log *log, unsigned slot)
{
    struct output_pipe *op = xcalloc(1, sizeof(*op));

    op->base = base;
    op->log = log;
    op->slot = slot;
    op->out = (struct output_stream){.op = op, .err = false, .rfd = -1, .wfd = -1};
    op->err = (struct output_stream){.op = op, .err = true, .rfd = -1, .wfd = -1};
    if (output_stream_open(&op->out) != 0) {
        int e = errno;
        free(op);
        errno = e;
        return NULL;
    }
    return op;
}

int output_pipe_write_fd(const struct output_pipe *op)
{
    return op->out.wfd;
}

int output_pipe_err_fd(struct output_pipe *op, bool marked)
{
    if (!marked)
        return op->out.wfd;
    /* Tried again at each start: fds may be back. */
    if (op->err.rfd < 0 && output_stream_open(&op->err) != 0) {
        if (!op->err_failed)
            log_warn("pool %s slot %u: stderr pipe (its lines go to the stdout pipe, unmarked)",
                     pool_log_name(op->log), op->slot);
        op->err_failed = true;
    }
    return op->err.rfd >= 0 ? op->err.wfd : op->out.wfd;
}

void output_pipe_drain(struct output_pipe *op)
{
    output_stream_drain(&op->out);
    output_stream_drain(&op->err);
}

void output_pipe_set_log(struct output_pipe *op, struct pool_log *log)
{
    op->log = log;
}

void output_pipe_free(struct output_pipe *op)
{
    if (op == NULL)
        return;
    output_stream_close(&op->out);
    output_stream_close(&op->err);
    free(op);
}
