/* SPDX-License-Identifier: ISC */
/*
 * Replies still owed to clients of a pool that went away (removed,
 * re-created, shutdown): the connection lingers on its own until they are
 * written, or until LINGER_TIMEOUT_SEC pass without the client taking any.
 * And the lingering close of a client that may still be sending
 * (linger_close).
 * Owns those connections; knows nothing of pools or routes.
 */
#ifndef DROVER_LINGER_H
#define DROVER_LINGER_H

#include <stdbool.h>

struct evbuffer;

/* Write out to fd, then close fd; takes both. */
void linger_add(int fd, struct evbuffer *out);
/*
 * Close a connection whose client may still be sending (droverd refused a
 * frame of it and wrote its last reply; tls_relay, once the router closed
 * and the replies are out): its sending half is shut so the
 * client reads the end after the replies, and what it still sends is read
 * and dropped until it closes (at most 5 s idle, 30 s in all, 64 such
 * connections), so its own send does not fail before it has read them and,
 * over TCP, no reset destroys them. Takes fd.
 */
void linger_close(int fd);
/* Some reply is still being written (linger_add; not linger_close). */
bool linger_pending(void);
/* Close every lingering connection (exit). */
void linger_free_all(void);

#endif
