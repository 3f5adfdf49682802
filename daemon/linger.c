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
#include <unistd.h>

#include "droverd.h"
#include "list.h"
#include "xmalloc.h"

#define LINGER_TIMEOUT_SEC 10 /* to take replies after the pool went away, between writes */

struct lingering {
    TAILQ_ENTRY(lingering) entry;
    int fd;
    struct evbuffer *out;
    struct event *ev;
};

static TAILQ_HEAD(, lingering) lingering = TAILQ_HEAD_INITIALIZER(lingering);

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

void linger_free_all(void)
{
    struct lingering *lg;

    while ((lg = TAILQ_FIRST(&lingering)) != NULL)
        linger_free(lg);
}
