/* SPDX-License-Identifier: ISC */
/*
 * drover_worker.h: a header-only helper for C workers of a message-mode
 * pool (docs/protocol.md). Copy it into your project; it has no
 * dependencies beyond libc.
 *
 *     struct drover_worker w;
 *     if (drover_worker_init(&w) != 0) exit(1);
 *     const unsigned char *req; size_t len;
 *     while (drover_worker_next(&w, &req, &len) == 1)
 *         drover_worker_reply(&w, req, len);     // echo
 *     drover_worker_free(&w);
 *
 * Requests arrive on fd 3 (DROVER_FD), framed as the pool says
 * (DROVER_FRAMING = length | line). Replies go back in the same order. The
 * helper reads as many requests as arrived at once and sends the replies to
 * all of them in one write, which is what makes worker_inflight > 1 cheap.
 */
#ifndef DROVER_WORKER_H
#define DROVER_WORKER_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct drover_worker {
    int fd;
    int line;          /* framing = line */
    unsigned char *in; /* received, not yet handed out */
    size_t in_len, in_cap, in_off;
    unsigned char *out; /* replies not yet written */
    size_t out_len, out_cap;
    size_t max_frame;
};

static inline int drover_worker__grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 65536;
    while (c < need)
        c *= 2;
    unsigned char *p = (unsigned char *)realloc(*buf, c);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = c;
    return 0;
}

/* Set up from the environment drover gives workers. */
static inline int drover_worker_init(struct drover_worker *w)
{
    const char *fd = getenv("DROVER_FD"), *framing = getenv("DROVER_FRAMING");

    memset(w, 0, sizeof(*w));
    w->fd = fd != NULL ? atoi(fd) : 3;
    w->line = framing != NULL && strcmp(framing, "line") == 0;
    w->max_frame = 256u << 20;
    return drover_worker__grow(&w->in, &w->in_cap, 65536);
}

static inline int drover_worker_flush(struct drover_worker *w)
{
    size_t off = 0;

    while (off < w->out_len) {
        ssize_t n = write(w->fd, w->out + off, w->out_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    w->out_len = 0;
    return 0;
}

/*
 * The next request: 1 with *req and *len set (valid until the next call), 0 when
 * drover closed the socket, -1 on an error.
 */
static inline int drover_worker_next(struct drover_worker *w, const unsigned char **req,
                                     size_t *len)
{
    for (;;) {
        unsigned char *p = w->in + w->in_off;
        size_t avail = w->in_len - w->in_off;

        if (w->line) {
            unsigned char *nl = (unsigned char *)memchr(p, '\n', avail);
            if (nl != NULL) {
                *req = p;
                *len = (size_t)(nl - p);
                w->in_off += *len + 1;
                return 1;
            }
        } else if (avail >= 4) {
            size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
            if (n > w->max_frame)
                return -1;
            if (avail >= 4 + n) {
                *req = p + 4;
                *len = n;
                w->in_off += 4 + n;
                return 1;
            }
        }
        /* No whole request buffered: answer what we have, then wait for more. */
        if (drover_worker_flush(w) != 0)
            return -1;
        memmove(w->in, w->in + w->in_off, avail);
        w->in_len = avail;
        w->in_off = 0;
        if (drover_worker__grow(&w->in, &w->in_cap, w->in_len + 65536) != 0)
            return -1;
        /*
         * Wait in poll(), not in read(): a reader blocked on a Unix stream
         * socket is woken each time the peer takes data this end wrote
         * (the kernel's write-space wake-up), so a worker waiting in
         * read() would be woken for nothing whenever droverd reads its
         * replies. poll() is woken only for what it asked: a request.
         */
        struct pollfd pfd = {w->fd, POLLIN, 0};
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        ssize_t n = read(w->fd, w->in + w->in_len, w->in_cap - w->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? 0 : -1;
        w->in_len += (size_t)n;
    }
}

/* Queue the reply to the oldest unanswered request. */
static inline int drover_worker_reply(struct drover_worker *w, const void *data, size_t len)
{
    if (drover_worker__grow(&w->out, &w->out_cap, w->out_len + len + 5) != 0)
        return -1;
    if (w->line) {
        memcpy(w->out + w->out_len, data, len);
        w->out[w->out_len + len] = '\n';
        w->out_len += len + 1;
    } else {
        unsigned char *h = w->out + w->out_len;
        h[0] = (unsigned char)(len >> 24);
        h[1] = (unsigned char)(len >> 16);
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        memcpy(h + 4, data, len);
        w->out_len += 4 + len;
    }
    /* Keep the buffer bounded when a caller replies without reading. */
    if (w->out_len > (1u << 20))
        return drover_worker_flush(w);
    return 0;
}

static inline void drover_worker_free(struct drover_worker *w)
{
    drover_worker_flush(w);
    free(w->in);
    free(w->out);
}

#endif
