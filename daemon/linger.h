/* SPDX-License-Identifier: ISC */
/*
 * Replies still owed to clients of a pool that went away (removed,
 * re-created, shutdown): the connection lingers on its own until they are
 * written, or until LINGER_TIMEOUT_SEC pass without the client taking any.
 * Owns those connections; knows nothing of pools or routes.
 */
#ifndef DROVER_LINGER_H
#define DROVER_LINGER_H

#include <stdbool.h>

struct evbuffer;

/* Write out to fd, then close fd; takes both. */
void linger_add(int fd, struct evbuffer *out);
/* Some reply is still being written. */
bool linger_pending(void);
/* Close every lingering connection (exit). */
void linger_free_all(void);

#endif
