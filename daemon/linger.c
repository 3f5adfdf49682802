/* SPDX-License-Identifier: ISC */
/*
 * Lingering client connections (see linger.h). When the last one ends it
 * tells the daemon (droverd_state_changed), whose shutdown may wait for it.
 */
#include "linger.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "droverd.h"
#include "list.h"
#include "parse.h"
#include "sys.h"
#include "xmalloc.h"

#define LINGER_TIMEOUT_SEC 10 /* to take replies after the pool went away, between writes */
/* linger_close (as nginx's lingering_timeout, lingering_time): */
#define CLOSING_IDLE_SEC  5  /* its rest read and dropped until it sends nothing this long */
#define CLOSING_TOTAL_SEC 30 /* or this long in all */
#define CLOSING_MAX       64 /* at most this many at once; past it, closed at once */

struct lingering {
    TAILQ_ENTRY(lingering) entry;
    int fd;
    struct evbuffer *out;
    struct event *ev;
};

static TAILQ_HEAD(, lingering) lingering = TAILQ_HEAD_INITIALIZER(lingering);

struct closing {
    TAILQ_ENTRY(closing) entry;
    int fd;
    uint64_t until; /* CLOSING_TOTAL_SEC after it began */
    struct event *ev;
};

static TAILQ_HEAD(, closing) closing = TAILQ_HEAD_INITIALIZER(closing);
static unsigned nclosing;

static void linger_free(struct lingering *lg)
{
    TAILQ_REMOVE(&lingering, lg, entry);
    event_free(lg->ev);
    evbuffer_free(lg->out);
    close(lg->fd);
    free(lg);
    droverd_state_changed();
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lingering *lg = arg;
    struct timeval tv = {LINGER_TIMEOUT_SEC, 0};

    if (what & EV_TIMEOUT) {
        linger_free(lg);
        return;
    }
    if (evbuffer_write(lg->out, (int)fd) < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        linger_free(lg);
        return;
    }
    if (evbuffer_get_length(lg->out) == 0) {
        linger_free(lg);
        return;
    }
    event_add(lg->ev, &tv);
}

void linger_add(int fd, struct evbuffer *out)
{
    struct lingering *lg = xcalloc(1, sizeof(*lg));
    struct timeval tv = {LINGER_TIMEOUT_SEC, 0};

    lg->fd = fd;
    lg->out = out;
    lg->ev = event_new(droverd.base, lg->fd, EV_WRITE, linger_cb, lg);
    event_add(lg->ev, &tv);
    TAILQ_INSERT_TAIL(&lingering, lg, entry);
}

bool linger_pending(void)
{
    return !TAILQ_EMPTY(&lingering);
}

static void closing_free(struct closing *cl)
{
    TAILQ_REMOVE(&closing, cl, entry);
    nclosing--;
    event_free(cl->ev);
    close(cl->fd);
    free(cl);
}

static void closing_cb(evutil_socket_t fd, short what, void *arg)
{
    static unsigned char sink[16384];
    struct closing *cl = arg;
    ssize_t n = 0;
    int i;

    if (what & EV_TIMEOUT || mono_now() >= cl->until) {
        closing_free(cl);
        return;
    }
    /* A bounded share of the loop per wake-up: what is left wakes it again. */
    for (i = 0; i < 4; i++) {
        n = read((int)fd, sink, sizeof(sink));
        if (n <= 0)
            break;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        closing_free(cl);
}

void linger_close(int fd)
{
    struct closing *cl;
    struct timeval tv = {CLOSING_IDLE_SEC, 0};

    if (nclosing >= CLOSING_MAX || shutdown(fd, SHUT_WR) != 0) {
        close(fd);
        return;
    }
    cl = xcalloc(1, sizeof(*cl));
    cl->fd = fd;
    cl->until = mono_now() + (uint64_t)CLOSING_TOTAL_SEC * USEC_PER_SEC;
    cl->ev = event_new(droverd.base, fd, EV_READ | EV_PERSIST, closing_cb, cl);
    event_add(cl->ev, &tv);
    TAILQ_INSERT_TAIL(&closing, cl, entry);
    nclosing++;
}

void linger_free_all(void)
{
    struct lingering *lg;
    struct closing *cl;

    while ((lg = TAILQ_FIRST(&lingering)) != NULL)
        linger_free(lg);
    while ((cl = TAILQ_FIRST(&closing)) != NULL)
        closing_free(cl);
}
