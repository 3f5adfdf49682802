/* SPDX-License-Identifier: ISC */
/* Message mode: replies into clients' output, in order (see router_reply.h). */
#include "router_reply.h"

#include <event2/buffer.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "frame.h"
#include "xmalloc.h"
#include "sys.h"

#define REPLY_COPY_MAX 32768 /* smaller replies held for a client are copied, not moved */

static struct budget daemon_budget;

struct budget *router_daemon_budget(void)
{
    return &daemon_budget;
}

/*
 * Freed requests kept for the next ones: malloc and free of the struct and
 * its bytes were a fifth of the router's instructions per request
 * (bench/RESULTS.md, issue 16). Bounded, so a burst leaves at most
 * FREE_REQUESTS_MAX * sizeof(struct request) (62 KiB) behind.
 */
#if defined(__SANITIZE_ADDRESS__)
#define FREE_REQUESTS_MAX 0 /* AddressSanitizer sees every request's use after free */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FREE_REQUESTS_MAX 0
#endif
#endif
#ifndef FREE_REQUESTS_MAX
#define FREE_REQUESTS_MAX 256
#endif
static struct request *free_requests; /* linked through entry.tqe_next */
static unsigned nfree_requests;

struct request *request_new(struct client *c, size_t len, uint64_t now)
{
    struct request *q = free_requests;

    if (q != NULL) {
        free_requests = q->entry.tqe_next;
        nfree_requests--;
    } else {
        q = xmalloc(sizeof(*q));
    }
    memset(q, 0, offsetof(struct request, inline_data));
    q->client = c;
    q->received_at = now;
    q->len = len;
    q->data = len <= sizeof(q->inline_data) ? q->inline_data : xmalloc(len);
    return q;
}

void request_drop_data(struct request *q)
{
    if (q->data != q->inline_data)
        free(q->data);
    q->data = NULL;
}

void request_free(struct request *q)
{
    if (q->reply != NULL)
        evbuffer_free(q->reply);
    request_drop_data(q);
    if (nfree_requests + 1 > FREE_REQUESTS_MAX) { /* (not >=: with 0, gcc's -Wtype-limits) */
        free(q);
        return;
    }
    q->entry.tqe_next = free_requests;
    free_requests = q;
    nfree_requests++;
}

static void client_mark_dirty(struct client *c)
{
    if (!c->dirty) {
        c->dirty = true;
        TAILQ_INSERT_TAIL(&c->route->dirty_clients, c, dirty_entry);
    }
}

bool client_hung_up(const struct client *c)
{
    struct pollfd p = {.fd = c->fd, .events = 0};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

void client_left(struct route *r, struct client *c)
{
    struct request *q, *next;

    TAILQ_FOREACH_SAFE(q, &c->pending, client_entry, next) {
        if (q->state != REQ_QUEUED)
            continue;
        /* Never delivered: nobody would take the reply. */
        TAILQ_REMOVE(&c->pending, q, client_entry);
        c->npending--;
        queue_remove(&r->queue, q);
        r->abandoned++;
        request_free(q);
    }
    c->gone = true;
    client_mark_dirty(c);
}

/* Reply header for a payload of len bytes with this status, into out. */
static void reply_header(const struct route *r, struct evbuffer *out, char status, size_t len)
{
    if (r->framing == FRAMING_LENGTH) {
        unsigned char hdr[FRAME_LENGTH_HEADER + 1];
        frame_length_encode(hdr, (uint32_t)(len + 1));
        hdr[FRAME_LENGTH_HEADER] = (unsigned char)status;
        evbuffer_add(out, hdr, sizeof(hdr));
    } else {
        evbuffer_add(out, &status, 1);
    }
}

static void reply_trailer(const struct route *r, struct evbuffer *out)
{
    if (r->framing == FRAMING_LINE)
        evbuffer_add(out, "\n", 1);
}

static void record_latency(struct route *r, const struct request *q, uint64_t now)
{
    double s = (double)((now != 0 ? now : mono_now()) - q->received_at) / 1e6;
    size_t b = 0;

    while (b < ROUTE_LATENCY_NBUCKETS && s > route_latency_bounds_s[b])
        b++;
    if (b < ROUTE_LATENCY_NBUCKETS)
        r->buckets[b]++;
    r->latency_count++;
    r->latency_sum += s;
}

void client_account(struct client *c)
{
    client_account_len(c, evbuffer_get_length(c->in), outbuf_len(&c->out));
}

void client_account_len(struct client *c, size_t in, size_t out)
{
    uint64_t now = c->held_items + in + out;

    if (now == c->held)
        return;
    budget_change(&c->route->budget, c->held, now);
    budget_change(&daemon_budget, c->held, now);
    c->held = now;
}

/* Write every answered request at the head of the client's list, in order. */
static void client_flush_done(struct client *c)
{
    struct request *q;

    while ((q = TAILQ_FIRST(&c->pending)) != NULL && q->state == REQ_DONE) {
        TAILQ_REMOVE(&c->pending, q, client_entry);
        c->npending--;
        c->held_items -= evbuffer_get_length(q->reply);
        evbuffer_add_buffer(c->out.ev, q->reply);
        request_free(q);
        client_mark_dirty(c);
    }
}

/*
 * A small reply that will be kept a while (the client has not taken the
 * ones before it) is copied, packed behind them: moved, it would keep the
 * whole read chain it arrived in (up to 64 KiB for a few bytes).
 */
static void reply_copy(struct evbuffer *src, struct evbuffer *dst, size_t len)
{
    struct evbuffer_iovec v[4];
    int n = evbuffer_peek(src, (ev_ssize_t)len, NULL, v, 4);
    size_t left = len;

    if (n < 0 || n > 4) {
        evbuffer_remove_buffer(src, dst, len);
        return;
    }
    for (int i = 0; i < n && left > 0; i++) {
        size_t take = v[i].iov_len < left ? v[i].iov_len : left;
        evbuffer_add(dst, v[i].iov_base, take);
        left -= take;
    }
    evbuffer_drain(src, len);
}

/*
 * A small reply whose bytes lie in one piece: header, body and trailer in
 * one add, to the client's output (out) or to the evbuffer dst.
 */
static void reply_add_flat(const struct route *r, struct outbuf *out, struct evbuffer *dst,
                           char status, const unsigned char *body, size_t len)
{
    unsigned char buf[FRAME_LENGTH_HEADER + 1 + REPLY_FLAT_MAX + 1];
    size_t n = 0;

    if (r->framing == FRAMING_LENGTH) {
        frame_length_encode(buf, (uint32_t)(len + 1));
        n = FRAME_LENGTH_HEADER;
    }
    buf[n++] = (unsigned char)status;
    memcpy(buf + n, body, len);
    n += len;
    if (r->framing == FRAMING_LINE)
        buf[n++] = '\n';
    if (out != NULL)
        outbuf_add(out, buf, n);
    else
        evbuffer_add(dst, buf, n);
}

/*
 * The request has its answer: body_len bytes at body (flat), or taken
 * from src (a worker's reply), or an error text. Written at once when it
 * is the client's oldest outstanding request; kept otherwise.
 */
void request_complete(struct route *r, struct request *q, uint64_t now, char status,
                      struct evbuffer *src, const unsigned char *body, size_t body_len,
                      const char *error)
{
    struct client *c = q->client;
    struct evbuffer *dst;
    size_t len = error != NULL ? strlen(error) : body_len;

    record_latency(r, q, now);
    if (c == NULL) {
        /* The client left; the reply goes nowhere. */
        if (src != NULL && body == NULL)
            evbuffer_drain(src, body_len);
        request_free(q);
        return;
    }
    q->state = REQ_DONE;
    /* Answered: its bytes are not sent again. */
    c->held_items -= q->len;
    request_drop_data(q);
    dst = TAILQ_FIRST(&c->pending) == q ? c->out.ev : (q->reply = evbuffer_new());
    if (error == NULL && body != NULL && body_len <= REPLY_FLAT_MAX) {
        reply_add_flat(r, dst == c->out.ev ? &c->out : NULL, dst, status, body, body_len);
    } else {
        reply_header(r, dst, status, len);
        if (error != NULL)
            evbuffer_add(dst, error, len);
        else if (body != NULL)
            evbuffer_add(dst, body, body_len);
        else if (body_len < REPLY_COPY_MAX && (dst != c->out.ev || outbuf_len(&c->out) > 0))
            reply_copy(src, dst, body_len);
        else
            evbuffer_remove_buffer(src, dst, body_len);
        reply_trailer(r, dst);
    }
    if (dst == c->out.ev) {
        TAILQ_REMOVE(&c->pending, q, client_entry);
        c->npending--;
        request_free(q);
        client_mark_dirty(c);
        client_flush_done(c);
        /* Accounted when the flush at the end of the callback writes it (client_write). */
    } else {
        c->held_items += evbuffer_get_length(dst);
        client_account(c);
    }
}

void request_fail(struct route *r, struct request *q, const char *code, const char *why)
{
    char text[256];

    snprintf(text, sizeof(text), "%s %s", code, why);
    request_complete(r, q, 0, FRAME_STATUS_ERROR, NULL, NULL, 0, text);
}