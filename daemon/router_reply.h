/* SPDX-License-Identifier: ISC */
/*
 * Message mode, bottom layer: a request's answer on its way to its client.
 * Owns struct client's reply side (the pending list in arrival order, the
 * output buffer, held_items, the dirty mark) and the end of a request's
 * life: request_complete puts "+" and the reply, or an error text, in the
 * client's output in the order of its requests, keeps a reply that must
 * wait for older ones, and tells the budgets (budget.c) what the client
 * holds. Also a request's start: request_new takes one from a bounded
 * free list, with a small frame's bytes inline; and a half-closed client
 * found hung up (client_left). Calls only budget.c, queue.c, frame.c and
 * libevent's evbuffer; never writes a socket (router.c flushes dirty
 * clients, and closes the ones gone) and never calls up into
 * router_dispatch.c or router.c.
 */
#ifndef DROVER_ROUTER_REPLY_H
#define DROVER_ROUTER_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "list.h"
#include "outbuf.h"
#include "queue.h"
#include "route_mode.h"

#define READ_MIN 4096 /* the least one read takes (a client's or a partial reply's rest) */
/* A callback's replies for a client up to this size go out without an evbuffer chain (outbuf.h). */
#define CLIENT_OUTBUF 256

/*
 * A client connection. router.c owns it (sockets, events, reading);
 * router_reply.c writes its replies into out in order.
 */
struct client {
    TAILQ_ENTRY(client) entry;
    TAILQ_ENTRY(client) dirty_entry;
    struct route *route;
    int fd;
    struct event *rev, *wev, *partial_ev;
    struct evbuffer *in;
    struct outbuf out; /* replies, written at the end of the callback (router_flush) */
    struct request_list pending;
    unsigned npending;
    bool reading;           /* read event armed */
    bool eof;               /* the client finished sending, or droverd stopped reading it */
    bool refused;           /* a frame too large: closed (linger_close) once answered */
    bool dirty;             /* output waiting for the end-of-callback flush */
    uint64_t partial_since; /* when bytes of an incomplete frame started waiting; 0 = none */
    /*
     * Memory: held_items is the bytes of its requests' data and of replies
     * waiting for older ones; held, what the budgets were last told (those
     * plus the unparsed input and the unwritten output).
     */
    uint64_t held_items, held;
    /* While not reading: tells when the client hangs up (NULL: the backend cannot). */
    struct event *hup_ev;
    bool hup_watch;                         /* hup_ev is added */
    bool hup_seen;                          /* it half-closed while not read: stop watching */
    bool gone;                              /* hung up after a half-close: closed at the flush */
    unsigned char out_bytes[CLIENT_OUTBUF]; /* out's array */
};

/* Bytes the clients of every pool hold, against buffer_limit. */
struct budget *router_daemon_budget(void);

/*
 * A request for len bytes of frame (q->data, to be filled), from a free
 * list of recent ones when it can; len up to REQUEST_INLINE needs no
 * allocation of its own.
 */
struct request *request_new(struct client *c, size_t len, uint64_t now);
/* Its frame is no longer needed (answered): let go of the bytes. */
void request_drop_data(struct request *q);
void request_free(struct request *q);
/* Tell the pool's and the daemon's budgets what the client holds now. */
void client_account(struct client *c);
/* The same with the lengths of c->in and c->out known. */
void client_account_len(struct client *c, size_t in, size_t out);
/*
 * Whether the client closed its socket altogether, not just its sending
 * half (shutdown(SHUT_WR), after which it still waits for replies): a Unix
 * socket says so with POLLHUP. Over TCP the two look alike until a reply
 * cannot be written.
 */
bool client_hung_up(const struct client *c);
/*
 * A half-closed client turned out to have hung up (router_dispatch.c asks
 * before a worker gets its next queued request, as its socket is no longer
 * watched): its queued requests leave the queue (abandoned), and router.c
 * closes it at the flush.
 */
void client_left(struct route *r, struct client *c);
/* Replies up to this size that lie in one piece go to a client with one evbuffer_add. */
#define REPLY_FLAT_MAX 4000

/*
 * The request has its answer: body_len bytes at body (src is then left
 * alone), or taken from src (a worker's reply), or an error text. Into the
 * client's output at once when it is the client's oldest outstanding
 * request; kept otherwise. A request whose client left is freed. now is
 * the time of its answer (0: read the clock), for the latency histogram.
 */
void request_complete(struct route *r, struct request *q, uint64_t now, char status,
                      struct evbuffer *src, const unsigned char *body, size_t body_len,
                      const char *error);
/* Answer "-CODE why". */
void request_fail(struct route *r, struct request *q, const char *code, const char *why);

#endif
