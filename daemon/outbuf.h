/* SPDX-License-Identifier: ISC */
/*
 * Output that is usually small and goes out whole in one write (a worker's
 * batch of requests, a client's replies): a fixed byte array of its
 * owner's in front of an evbuffer, as nginx's fixed buffers. Bytes go to
 * the array while the evbuffer is empty and they fit, so the common case
 * allocates and frees no evbuffer chain per batch (bench/RESULTS.md, issue
 * 16); anything bigger, or written in part, goes through the evbuffer.
 * The array's bytes come before the evbuffer's. Used by link.c (a worker's
 * l->out) and the router (a client's c->out).
 */
#ifndef DROVER_OUTBUF_H
#define DROVER_OUTBUF_H

#include <errno.h>
#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

struct outbuf {
    struct evbuffer *ev; /* what did not fit, or was left by a partial write */
    unsigned char *b;    /* the array of cap bytes; its first n are output */
    size_t n, cap;
    bool own; /* b is the outbuf's own, malloc'd at its first use (outbuf_init_own) */
};

static inline void outbuf_init(struct outbuf *o, unsigned char *b, size_t cap)
{
    o->ev = evbuffer_new();
    o->b = b;
    o->n = 0;
    o->cap = cap;
    o->own = false;
}

/*
 * An array of cap bytes of its own, malloc'd when the first bytes come (a
 * worker link: 256 routed workers that get no work cost nothing, and small
 * requests make only the first page resident). Free with outbuf_free_own.
 */
static inline void outbuf_init_own(struct outbuf *o, size_t cap)
{
    outbuf_init(o, NULL, cap);
    o->own = true;
}

static inline void outbuf_free_own(struct outbuf *o)
{
    if (o->own)
        free(o->b);
    o->b = NULL;
}

static inline size_t outbuf_len(const struct outbuf *o)
{
    return o->n + evbuffer_get_length(o->ev);
}

static inline int outbuf_add(struct outbuf *o, const void *p, size_t len)
{
    if (o->b == NULL && o->own && len <= o->cap)
        o->b = malloc(o->cap); /* NULL: the evbuffer takes everything */
    if (o->b != NULL && o->n + len <= o->cap && evbuffer_get_length(o->ev) == 0) {
        memcpy(o->b + o->n, p, len);
        o->n += len;
        return 0;
    }
    return evbuffer_add(o->ev, p, len);
}

/* Everything into the evbuffer (for an owner that hands it on: linger_add). */
static inline void outbuf_spill(struct outbuf *o)
{
    if (o->n > 0) {
        evbuffer_prepend(o->ev, o->b, o->n);
        o->n = 0;
    }
}

static inline void outbuf_clear(struct outbuf *o)
{
    o->n = 0;
    evbuffer_drain(o->ev, evbuffer_get_length(o->ev));
}

/* Write what fd takes: bytes written, or -1 (errno) when nothing could be. */
static inline ssize_t outbuf_write(struct outbuf *o, int fd)
{
    ssize_t w, more;

    if (o->n == 0)
        return evbuffer_write(o->ev, fd);
    do
        w = write(fd, o->b, o->n);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return -1;
    if ((size_t)w < o->n) {
        /* The rest waits in the evbuffer, ahead of what is there. */
        evbuffer_prepend(o->ev, o->b + w, o->n - (size_t)w);
        o->n = 0;
        return w;
    }
    o->n = 0;
    if (evbuffer_get_length(o->ev) == 0)
        return w;
    more = evbuffer_write(o->ev, fd);
    return more > 0 ? w + more : w;
}

#endif
