/* SPDX-License-Identifier: ISC */
/*
 * Worker links (see link.h): socketpair I/O, the per-pass write batch, the
 * request timer and the lost-worker grace. Owns struct worker_link and the
 * events on it; reaches a slot only through the route hooks.
 */
#include "link.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "droverd.h"
#include "log.h"
#include "parse.h"
#include "sys.h"
#include "xmalloc.h"

#define LINK_LOST_GRACE_SEC 2 /* a worker that closed fd 3 has this long to exit */

static void link_flush_cb(evutil_socket_t fd, short what, void *arg);

void link_group_init(struct link_group *g, const char *name, const struct route_hooks *hooks,
                     const struct link_ops *ops, void *owner, struct choice *choice)
{
    g->name = name;
    g->hooks = hooks;
    g->ops = ops;
    g->owner = owner;
    g->choice = choice;
    TAILQ_INIT(&g->links);
    TAILQ_INIT(&g->dirty);
    g->flush_ev = event_new(droverd.base, -1, 0, link_flush_cb, g);
}

void link_group_free(struct link_group *g)
{
    event_free(g->flush_ev);
}

/* The end of a loop pass: each worker's batch goes out (see link_mark_dirty). */
static void link_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct link_group *g = arg;
    struct worker_link *l;

    (void)fd;
    (void)what;
    while ((l = TAILQ_FIRST(&g->dirty)) != NULL) {
        TAILQ_REMOVE(&g->dirty, l, dirty_entry);
        l->dirty = false;
        link_write(l);
    }
    if (g->ops->flushed != NULL)
        g->ops->flushed(g->owner);
}

void link_arm_timeout(struct worker_link *l, uint64_t after_us)
{
    struct timeval tv = {(time_t)(after_us / 1000000), (suseconds_t)(after_us % 1000000)};

    event_add(l->timeout_ev, &tv);
    l->timeout_armed = true;
}

void link_disarm_timeout(struct worker_link *l)
{
    if (l->timeout_armed) {
        event_del(l->timeout_ev);
        l->timeout_armed = false;
    }
}

void link_count_delivery(struct worker_link *l, uint64_t max_requests)
{
    l->served++;
    if (max_requests > 0 && l->served >= max_requests && !l->retiring) {
        l->group->max_requests_reached++;
        l->retiring = true;
        choice_unlist(l->group->choice, &l->node);
    }
}

void link_retire(struct worker_link *l)
{
    if (!l->retiring) {
        l->retiring = true;
        choice_unlist(l->group->choice, &l->node);
    }
    if (l->node.load == 0)
        link_idle(l);
}

static void link_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker_link *l = arg;
    const struct route_hooks *h = l->group->hooks;

    (void)fd;
    (void)what;
    if (!l->deferred)
        return;
    l->deferred = false;
    if (l->deferred_event == SLOT_EV_RESTART)
        h->restart(l->slot);
    else
        h->stop(l->slot);
}

void link_idle(struct worker_link *l)
{
    if (l->deferred) {
        /* From its own event: the slot must not change inside our read callback's loop. */
        event_active(l->deferred_ev, 0, 0);
    } else if (l->retiring && l->slot->pid > 0 && l->running) {
        l->retiring = false;
        l->deferred = true;
        l->deferred_event = SLOT_EV_RESTART;
        event_active(l->deferred_ev, 0, 0);
    }
}

void link_fail(struct worker_link *l, const char *why)
{
    if (l->slot->pid > 0) {
        log_warnx("pool %s slot %u: worker %s; killing it", l->group->name, l->slot->index, why);
        l->group->hooks->fail(l->slot, why);
    }
    /* Read nothing more from it; its requests are given back when it is reaped. */
    link_close_socket(l);
}

/*
 * Into an empty buffer, the bytes are read into one static buffer and
 * added: the buffer's chain is then sized to what arrived (a few hundred
 * bytes for small requests, from malloc's fast bins), where reserving max
 * bytes took a 64 KiB chain for every read and gave it back to the heap as
 * soon as the frames were cut out (a large malloc and free, with
 * consolidation, per request: bench/RESULTS.md, issue 16). A buffer that
 * holds part of a frame takes the rest in place, sized as before.
 */
static unsigned char scratch[SCRATCH_SIZE];

/* Read up to max bytes into the scratch buffer at off (bounded by its end). */
static ssize_t scratch_fill(int fd, size_t off, size_t max)
{
    ssize_t n;

    if (max > sizeof(scratch) - off)
        max = sizeof(scratch) - off;
    do
        n = read(fd, scratch + off, max);
    while (n < 0 && errno == EINTR);
    return n;
}

ssize_t scratch_read(int fd, size_t max, const unsigned char **data)
{
    *data = scratch;
    return scratch_fill(fd, 0, max);
}

ssize_t scratch_read_after(struct evbuffer *held, int fd, size_t max, const unsigned char **data)
{
    size_t len = evbuffer_get_length(held);
    ssize_t n;

    if (len > SCRATCH_HELD_MAX || evbuffer_copyout(held, scratch, len) != (ev_ssize_t)len) {
        errno = EINVAL; /* the caller's mistake: more held than the scratch buffer takes */
        return -1;
    }
    n = scratch_fill(fd, len, max);
    if (n <= 0)
        return n; /* the held bytes stay where they were */
    evbuffer_drain(held, len);
    *data = scratch;
    return (ssize_t)len + n;
}

static ssize_t buffer_read_empty(struct evbuffer *buf, int fd, size_t max)
{
    const unsigned char *data;
    ssize_t n = scratch_read(fd, max, &data);

    if (n > 0 && evbuffer_add(buf, data, (size_t)n) != 0)
        return -1;
    return n;
}

ssize_t buffer_read(struct evbuffer *buf, int fd, size_t max)
{
    struct evbuffer_iovec v[2];
    struct iovec iov[2];
    ssize_t n;
    int nv;

    if (evbuffer_get_length(buf) == 0)
        return buffer_read_empty(buf, fd, max);
    nv = evbuffer_reserve_space(buf, (ev_ssize_t)max, v, 2);
    if (nv <= 0)
        return -1;
    for (int i = 0; i < nv; i++) {
        iov[i].iov_base = v[i].iov_base;
        iov[i].iov_len = v[i].iov_len;
    }
    do
        n = readv(fd, iov, nv);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        evbuffer_commit_space(buf, v, 0);
        return n;
    }
    if ((size_t)n <= v[0].iov_len) {
        v[0].iov_len = (size_t)n;
        nv = 1;
    } else {
        v[1].iov_len = (size_t)n - v[0].iov_len;
    }
    evbuffer_commit_space(buf, v, nv);
    return n;
}

/*
 * The worker's end of the socketpair closed. Usually it is exiting and is
 * about to be reaped; one that lives on without its work socket is broken,
 * and is killed after a grace period.
 */
static void link_lost(struct worker_link *l)
{
    struct timeval grace = {LINK_LOST_GRACE_SEC, 0};

    l->lost_pid = l->slot->pid;
    link_close_socket(l);
    event_add(l->timeout_ev, &grace);
    l->timeout_armed = true;
}

static void link_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker_link *l = arg;
    size_t held = evbuffer_get_length(l->in);
    const unsigned char *data = NULL;
    ssize_t n;

    /*
     * Replies are read into the scratch buffer, a batch of them at once,
     * behind the start of a reply an earlier read left (moved there first):
     * one read per batch, not one for the rest of a reply and another for
     * the replies after it. Only a reply too large for that grows l->in
     * (by the rest of that reply alone: read_hint).
     */
    if (held == 0)
        n = scratch_read((int)fd, SCRATCH_SIZE, &data);
    else if (held <= SCRATCH_HELD_MAX)
        n = scratch_read_after(l->in, (int)fd, SCRATCH_SIZE, &data);
    else
        n = buffer_read(l->in, (int)fd, l->read_hint > 0 ? l->read_hint : READ_CHUNK);

    (void)what;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (n <= 0) {
        link_lost(l);
        return;
    }
    l->group->ops->readable(l->group->owner, l, data, (size_t)n);
}

void link_write(struct worker_link *l)
{
    if (l->fd < 0) {
        outbuf_clear(&l->out);
        return;
    }
    if (outbuf_len(&l->out) > 0 && outbuf_write(&l->out, l->fd) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK) {
        /* EPIPE or ECONNRESET: the worker closed its end, most likely by dying. */
        if (errno == EPIPE || errno == ECONNRESET)
            link_lost(l);
        else
            link_fail(l, "work socket write failed");
        return;
    }
    if (outbuf_len(&l->out) > 0)
        event_add(l->wev, NULL);
}

void link_write_now(struct worker_link *l)
{
    if (l->dirty) {
        TAILQ_REMOVE(&l->group->dirty, l, dirty_entry);
        l->dirty = false;
    }
    link_write(l);
}

static void link_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker_link *l = arg;

    (void)fd;
    (void)what;
    l->group->ops->writable(l);
}

static void link_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker_link *l = arg;

    (void)fd;
    (void)what;
    l->timeout_armed = false;
    if (l->lost_pid != 0) {
        if (l->slot->pid == l->lost_pid) {
            l->lost_pid = 0;
            link_fail(l, "closed its work socket but kept running");
        }
        return;
    }
    if (l->group->ops->timeout != NULL)
        l->group->ops->timeout(l->group->owner, l);
}

static struct worker_link *link_new(struct link_group *g, struct slot *s)
{
    struct worker_link *l = xcalloc(1, sizeof(*l));

    l->group = g;
    l->slot = s;
    l->fd = -1;
    l->in = evbuffer_new();
    /* Its own array, made at the first request: 32 KiB in the link was 8 MB for 256 workers. */
    outbuf_init_own(&l->out, LINK_OUTBUF);
    TAILQ_INIT(&l->inflight);
    l->timeout_ev = evtimer_new(droverd.base, link_timeout_cb, l);
    l->deferred_ev = event_new(droverd.base, -1, 0, link_deferred_cb, l);
    TAILQ_INSERT_TAIL(&g->links, l, entry);
    return l;
}

void link_free(struct worker_link *l)
{
    TAILQ_REMOVE(&l->group->links, l, entry);
    event_free(l->timeout_ev);
    event_free(l->deferred_ev);
    evbuffer_free(l->in);
    evbuffer_free(l->out.ev);
    outbuf_free_own(&l->out);
    free(l->fdq);
    free(l);
}

void link_close_socket(struct worker_link *l)
{
    choice_unlist(l->group->choice, &l->node);
    if (l->rev != NULL) {
        event_free(l->rev);
        event_free(l->wev);
        l->rev = l->wev = NULL;
    }
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
    if (l->dirty) {
        TAILQ_REMOVE(&l->group->dirty, l, dirty_entry);
        l->dirty = false;
    }
    evbuffer_drain(l->in, evbuffer_get_length(l->in));
    outbuf_clear(&l->out);
}

void link_worker_gone(struct worker_link *l)
{
    link_close_socket(l);
    link_disarm_timeout(l);
    l->node.load = 0;
    l->served = 0;
    l->retiring = false;
    l->lost_pid = 0;
}

void link_worker_reaped(struct worker_link *l)
{
    if (!l->deferred)
        return;
    if (l->deferred_event == SLOT_EV_RESTART)
        l->deferred = false;
    else
        event_active(l->deferred_ev, 0, 0);
}

int link_prepare_spawn(struct link_group *g, struct slot *s, bool stdio, struct route_spawn *rs,
                       char *err, size_t errsz)
{
    int sv[2];

    if (s->link == NULL)
        s->link = link_new(g, s);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return parse_error(err, errsz, "socketpair: %s", strerror(errno));
    sys_set_nonblock_cloexec(sv[0]);
    rs->keep_fd = sv[0];
    if (stdio) {
        rs->fd_stdin = sv[1];
        rs->fd_stdout = sv[1];
    } else {
        rs->fd3 = sv[1];
        xasprintf(&rs->env[rs->nenv++], "DROVER_FD=3");
    }
    return 0;
}

void link_after_spawn(struct worker_link *l, struct route_spawn *rs, bool ok)
{
    int child_end = rs->fd3 >= 0 ? rs->fd3 : rs->fd_stdin;

    if (child_end >= 0)
        close(child_end);
    if (!ok) {
        close(rs->keep_fd);
        return;
    }
    link_close_socket(l);
    l->fd = rs->keep_fd;
    l->rev = event_new(droverd.base, l->fd, EV_READ | EV_PERSIST, link_read_cb, l);
    l->wev = event_new(droverd.base, l->fd, EV_WRITE, link_write_cb, l);
    event_add(l->rev, NULL);
    l->served = 0;
    l->retiring = false;
}
