/* SPDX-License-Identifier: ISC */
/*
 * TLS on a message-mode pool's tcp: listener (tls_cert, tls_key,
 * tls_client_ca). route.c gives each accepted connection to
 * tls_server_accept(); the handshake runs here (libevent's OpenSSL
 * bufferevent, non-blocking, with a deadline); once it succeeds the
 * decrypted stream is relayed over a socketpair whose other end goes to the
 * router as if it were a plain client. So router.c does not know TLS
 * exists: its read/write path, budgets and backpressure are the plain ones
 * (a full socketpair stops the relay reading the TLS socket, which stops
 * the client). Each TLS connection costs two more fds and at most
 * TLS_RELAY_HIGH bytes buffered per direction here.
 */
#ifndef DROVER_TLS_RELAY_H
#define DROVER_TLS_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define TLS_MAX_HANDSHAKING 256         /* per pool; more wait in the listen backlog */
#define TLS_RELAY_HIGH      (64u << 10) /* bytes held per direction before the relay stops reading */

struct tls_server;

struct tls_stats {
    uint64_t handshakes;  /* completed */
    uint64_t failures;    /* failed: bad or missing client certificate, plaintext, garbage */
    uint64_t timeouts;    /* not finished within tls_handshake_timeout */
    unsigned handshaking; /* in progress now */
};

/* A connection that finished its handshake: fd is its plain end (non-blocking, CLOEXEC). */
typedef void (*tls_ready_fn)(void *arg, int fd);

/* From pc's tls_* keys (tls_cert set). NULL with a reason. */
struct tls_server *tls_server_new(const struct pool_config *pc, const char *name,
                                  tls_ready_fn ready, void *arg, char *err, size_t errsz);
/* Re-read the files and the deadline (reload). On failure the old context stays: -1, a reason. */
int tls_server_configure(struct tls_server *ts, const struct pool_config *pc, char *err,
                         size_t errsz);
/* Handshakes in progress are closed; relays already established live on. */
void tls_server_free(struct tls_server *ts);
/* Room for another handshake (TLS_MAX_HANDSHAKING). */
bool tls_server_has_room(const struct tls_server *ts);
/* Start the handshake on an accepted, non-blocking fd (owned from here on). */
void tls_server_accept(struct tls_server *ts, int fd);
void tls_server_stats(const struct tls_server *ts, struct tls_stats *out);
/* Established TLS connections relayed now, every pool. */
unsigned tls_relays_active(void);

#endif
