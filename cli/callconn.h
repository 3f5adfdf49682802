/* SPDX-License-Identifier: ISC */
/*
 * The connection of `drover call` to a pool's work socket: a Unix socket,
 * or tcp:HOST:PORT, with TLS over it when the pool speaks TLS (droverd says
 * so) or --tls* asks for it. One connection per process; the fd is
 * non-blocking and every wait is the caller's (its --timeout deadline).
 */
#ifndef DROVER_CALLCONN_H
#define DROVER_CALLCONN_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct callconn_tls {
    const char *ca;   /* verifies the server; NULL: the system's CA store */
    const char *cert; /* presented to a pool with tls_client_ca (with key) */
    const char *key;
    const char *name; /* the name the server's certificate must carry; NULL: the listen address */
};

/*
 * Connect to listen (a path or tcp:HOST:PORT); with tls, shake hands, waiting
 * through wait(fd, events) (0, or -1 with errno). The fd, or -1 with a reason.
 */
int callconn_open(const char *listen, const struct callconn_tls *tls,
                  int (*wait)(int fd, short events), char *err, size_t errsz);
/* read/write(2) on the connection, TLS or not: -1 with EAGAIN means wait (callconn_events). */
ssize_t callconn_read(int fd, void *buf, size_t len);
ssize_t callconn_write(int fd, const void *buf, size_t len);
/* What to poll for before the next read (POLLIN) or write (POLLOUT); 0: do not wait. */
short callconn_events(short events);
void callconn_close(int fd);

#endif
