/* SPDX-License-Identifier: ISC */
/* TLS handshakes and the relay behind them (see tls_relay.h). */
#include "tls_relay.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "droverd.h"
#include "linger.h"
#include "listen.h"
#include "log.h"
#include "parse.h"
#include "tls.h"
#include "xmalloc.h"

#define RELAY_LINGER_SEC 10 /* to take the last replies once the router closed, between writes */

struct tls_handshake {
    LIST_ENTRY(tls_handshake) entry;
    struct tls_server *ts;
    struct bufferevent *bev; /* owns the fd and the SSL */
    struct event *deadline;
};

struct tls_server {
    SSL_CTX *ctx;
    char *name; /* the pool's, for logs */
    uint64_t timeout_us;
    tls_ready_fn ready;
    void *arg;
    LIST_HEAD(, tls_handshake) handshakes;
    struct tls_stats stats;
};

/* An established connection: TLS on one side, the router's socketpair on the other. */
struct relay {
    LIST_ENTRY(relay) entry;
    struct bufferevent *tls, *plain;
    bool tls_eof;   /* the client finished sending: the router sees a half-close */
    bool plain_eof; /* the router closed: the replies left are written, then the end */
};

static LIST_HEAD(, relay) relays = LIST_HEAD_INITIALIZER(relays);
static unsigned nrelays;

unsigned tls_relays_active(void)
{
    return nrelays;
}

/* ---------------------------------------------------------------------------------------- */
/* The relay                                                                                */

static void relay_free(struct relay *rl)
{
    LIST_REMOVE(rl, entry);
    nrelays--;
    bufferevent_free(rl->tls);   /* closes the TCP socket, frees the SSL */
    bufferevent_free(rl->plain); /* closes droverd's end: the router sees the client go */
    free(rl);
}

static size_t out_len(struct bufferevent *bev)
{
    return evbuffer_get_length(bufferevent_get_output(bev));
}

/*
 * The router closed and the last replies are out. A client that has not
 * finished sending (a frame droverd refused, say) gets TLS's close_notify
 * and a lingering close of the TCP connection (linger_close): closed with
 * its bytes unread, the socket would be reset, and a reset drops the
 * replies still in the kernel's send queue.
 */
static void relay_end(struct relay *rl)
{
    if (!rl->tls_eof) {
        SSL *ssl = bufferevent_openssl_get_ssl(rl->tls);
        int fd;

        if (ssl != NULL) {
            SSL_shutdown(ssl); /* best effort: a full send buffer just goes without it */
            ERR_clear_error(); /* what it may have queued is no later call's error */
        }
        fd = fcntl(bufferevent_getfd(rl->tls), F_DUPFD_CLOEXEC, 0);
        if (fd >= 0)
            linger_close(fd);
    }
    relay_free(rl);
}

/* Decrypted request bytes toward the router; past TLS_RELAY_HIGH the client waits. */
static void relay_tls_read_cb(struct bufferevent *bev, void *arg)
{
    struct relay *rl = arg;

    bufferevent_write_buffer(rl->plain, bufferevent_get_input(bev));
    if (out_len(rl->plain) >= TLS_RELAY_HIGH)
        bufferevent_disable(bev, EV_READ);
}

/* The router took what the relay held. */
static void relay_plain_write_cb(struct bufferevent *bev, void *arg)
{
    struct relay *rl = arg;

    if (rl->tls_eof)
        shutdown(bufferevent_getfd(bev), SHUT_WR);
    else
        bufferevent_enable(rl->tls, EV_READ);
}

/* Replies toward the client, encrypted by the TLS bufferevent. */
static void relay_plain_read_cb(struct bufferevent *bev, void *arg)
{
    struct relay *rl = arg;

    bufferevent_write_buffer(rl->tls, bufferevent_get_input(bev));
    if (out_len(rl->tls) >= TLS_RELAY_HIGH)
        bufferevent_disable(bev, EV_READ);
}

static void relay_tls_write_cb(struct bufferevent *bev, void *arg)
{
    struct relay *rl = arg;

    (void)bev;
    if (rl->plain_eof)
        relay_end(rl); /* the last replies are out */
    else
        bufferevent_enable(rl->plain, EV_READ);
}

static void relay_tls_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct relay *rl = arg;

    if ((what & BEV_EVENT_EOF) && !rl->tls_eof && !rl->plain_eof) {
        /* Over TCP a half-close and a close look alike: answer what it asked, like a plain client.
         */
        rl->tls_eof = true;
        bufferevent_disable(bev, EV_READ);
        if (out_len(rl->plain) == 0)
            shutdown(bufferevent_getfd(rl->plain), SHUT_WR);
        return;
    }
    relay_free(rl);
}

/* The router closed its end: the rest of the replies go out, then the connection closes. */
static void relay_plain_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct relay *rl = arg;

    if ((what & BEV_EVENT_EOF) && out_len(rl->tls) > 0) {
        /* Like linger.c: a client that takes none of it for a while is let go. */
        struct timeval tv = {RELAY_LINGER_SEC, 0};
        rl->plain_eof = true;
        bufferevent_disable(bev, EV_READ | EV_WRITE);
        bufferevent_set_timeouts(rl->tls, NULL, &tv);
        return;
    }
    if (what & BEV_EVENT_EOF)
        relay_end(rl);
    else
        relay_free(rl);
}

/* ---------------------------------------------------------------------------------------- */
/* Handshakes                                                                               */

static void handshake_free(struct tls_handshake *h)
{
    LIST_REMOVE(h, entry);
    h->ts->stats.handshaking--;
    event_free(h->deadline);
    if (h->bev != NULL)
        bufferevent_free(h->bev);
    free(h);
    /* A pool that had no room for another handshake may accept again. */
    listener_update_all();
}

static void relay_start(struct tls_server *ts, struct bufferevent *tls)
{
    struct relay *rl;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        log_warn("pool %s: TLS client dropped: socketpair", ts->name);
        bufferevent_free(tls);
        return;
    }
    rl = xcalloc(1, sizeof(*rl));
    rl->tls = tls;
    rl->plain = bufferevent_socket_new(droverd.base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    if (rl->plain == NULL) {
        log_warnx("pool %s: TLS client dropped: out of memory", ts->name);
        close(sv[0]);
        close(sv[1]);
        bufferevent_free(tls);
        free(rl);
        return;
    }
    LIST_INSERT_HEAD(&relays, rl, entry);
    nrelays++;
    bufferevent_setwatermark(rl->tls, EV_READ, 0, TLS_RELAY_HIGH);
    bufferevent_setwatermark(rl->plain, EV_READ, 0, TLS_RELAY_HIGH);
    bufferevent_setcb(rl->tls, relay_tls_read_cb, relay_tls_write_cb, relay_tls_event_cb, rl);
    bufferevent_setcb(rl->plain, relay_plain_read_cb, relay_plain_write_cb, relay_plain_event_cb,
                      rl);
    bufferevent_enable(rl->tls, EV_READ);
    bufferevent_enable(rl->plain, EV_READ);
    ts->ready(ts->arg, sv[1]);
    /* Bytes that came with the end of the handshake. */
    if (evbuffer_get_length(bufferevent_get_input(rl->tls)) > 0)
        relay_tls_read_cb(rl->tls, rl);
}

static void handshake_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct tls_handshake *h = arg;
    struct tls_server *ts = h->ts;

    if (what & BEV_EVENT_CONNECTED) {
        ts->stats.handshakes++;
        h->bev = NULL;
        handshake_free(h);
        relay_start(ts, bev);
        return;
    }
    ts->stats.failures++;
    if (log_get_level() >= LOG_LEVEL_DEBUG) {
        unsigned long e = bufferevent_get_openssl_error(bev);
        char buf[256] = "connection closed";
        if (e != 0)
            ERR_error_string_n(e, buf, sizeof(buf));
        log_debug("pool %s: TLS handshake failed: %s", ts->name, buf);
    }
    ERR_clear_error();
    handshake_free(h);
}

static void handshake_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tls_handshake *h = arg;

    (void)fd;
    (void)what;
    h->ts->stats.timeouts++;
    log_debug("pool %s: TLS handshake not finished within tls_handshake_timeout; closed",
              h->ts->name);
    handshake_free(h);
}

void tls_server_accept(struct tls_server *ts, int fd)
{
    struct tls_handshake *h;
    struct timeval tv = {(time_t)(ts->timeout_us / USEC_PER_SEC),
                         (suseconds_t)(ts->timeout_us % USEC_PER_SEC)};
    SSL *ssl = SSL_new(ts->ctx);

    if (ssl == NULL) {
        ts->stats.failures++;
        ERR_clear_error();
        close(fd);
        return;
    }
    h = xcalloc(1, sizeof(*h));
    h->ts = ts;
    h->bev = bufferevent_openssl_socket_new(droverd.base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (h->bev == NULL) {
        ts->stats.failures++;
        SSL_free(ssl);
        close(fd);
        free(h);
        return;
    }
    /* A client that closes without close_notify has still sent all it meant to. */
    bufferevent_openssl_set_allow_dirty_shutdown(h->bev, 1);
    bufferevent_setcb(h->bev, NULL, NULL, handshake_event_cb, h);
    bufferevent_setwatermark(h->bev, EV_READ, 0, TLS_RELAY_HIGH);
    bufferevent_enable(h->bev, EV_READ);
    h->deadline = evtimer_new(droverd.base, handshake_deadline_cb, h);
    evtimer_add(h->deadline, &tv);
    LIST_INSERT_HEAD(&ts->handshakes, h, entry);
    ts->stats.handshaking++;
}

/* ---------------------------------------------------------------------------------------- */
/* The server                                                                               */

int tls_server_configure(struct tls_server *ts, const struct pool_config *pc, char *err,
                         size_t errsz)
{
    enum tls_file bad;
    SSL_CTX *ctx =
        tls_server_ctx_new(pc->tls_cert, pc->tls_key, pc->tls_client_ca, &bad, err, errsz);

    ts->timeout_us = pc->tls_handshake_timeout_us;
    if (ctx == NULL)
        return -1;
    /* Connections already begun hold their own reference to the old one. */
    SSL_CTX_free(ts->ctx);
    ts->ctx = ctx;
    return 0;
}

struct tls_server *tls_server_new(const struct pool_config *pc, const char *name,
                                  tls_ready_fn ready, void *arg, char *err, size_t errsz)
{
    struct tls_server *ts = xcalloc(1, sizeof(*ts));

    ts->name = xstrdup(name);
    ts->ready = ready;
    ts->arg = arg;
    LIST_INIT(&ts->handshakes);
    if (tls_server_configure(ts, pc, err, errsz) != 0) {
        free(ts->name);
        free(ts);
        return NULL;
    }
    return ts;
}

void tls_server_free(struct tls_server *ts)
{
    struct tls_handshake *h;

    if (ts == NULL)
        return;
    while ((h = LIST_FIRST(&ts->handshakes)) != NULL)
        handshake_free(h);
    SSL_CTX_free(ts->ctx);
    free(ts->name);
    free(ts);
}

bool tls_server_has_room(const struct tls_server *ts)
{
    return ts->stats.handshaking < TLS_MAX_HANDSHAKING;
}

void tls_server_stats(const struct tls_server *ts, struct tls_stats *out)
{
    *out = ts->stats;
}
