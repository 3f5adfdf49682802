/* SPDX-License-Identifier: ISC */
/*
 * The listening sockets of routed pools: opening one (Unix or TCP, or the
 * one systemd passed with LISTEN_FDS/LISTEN_FDNAMES), keeping it parked
 * while its pool is re-created with the same address, and accepting on it
 * (armed only while the owner wants connections; paused with a timer when
 * out of fds). Knows sockets, not pools: what to do with an accepted
 * connection, and whether there is room for one, the owner says through
 * callbacks. Also the accept-pause recipe the control server shares.
 */
#ifndef DROVER_LISTEN_H
#define DROVER_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/bufferevent.h>

#include "config.h"

struct event;
struct listener;

/* Take the sockets systemd passed, before anything else opens an fd. */
void listen_activation_init(void);
/*
 * A socket passed by systemd (LISTEN_FDS) that names no pool of cfg, a second one with the
 * same name, or an fd that is not a listening stream socket, is a start-up error.
 */
void listen_activation_check(const struct config *cfg);
/*
 * A reload's config must keep every pool that serves a socket systemd passed, with a listen:
 * otherwise its clients would wait in a backlog nobody accepts from. 0, or -1 with errors.
 */
int listen_activation_accept(const struct config *cfg, const char *path,
                             struct config_errors *errs);
/* systemd passed a socket for the pool `name` (LISTEN_FDNAMES): it serves that one, always. */
bool listen_activated(const char *name);
/* Close sockets kept for a re-created pool that never came back (exit). */
void listen_release_parked(void);
/* Close the parked sockets (not systemd's) no pool will take: wanted(listen) says which stay. */
void listen_release_unwanted(bool (*wanted)(const char *listen));

/*
 * The listening socket for pool `name` with pc's listen, socket_mode and
 * socket_group: systemd's, a parked one, or a new one. blocking is for
 * sockets the workers accept on themselves (shared mode). NULL with err.
 */
struct listener *listener_open(const struct pool_config *pc, const char *name, bool blocking,
                               char *err, size_t errsz);
/*
 * Open pc's socket for pool `name` now and park it, for the pool to take
 * when it is created again with that listen value: a reload binds a new
 * address before it stops the pool serving today, so one it cannot have
 * leaves that pool as it is. 0, or -1 with err.
 */
int listener_reserve(const struct pool_config *pc, const char *name, char *err, size_t errsz);
/*
 * Close it; with park, keep it (and its backlog) for the pool re-created
 * with the same listen value. A socket systemd passed is always kept.
 */
void listener_close(struct listener *ls, bool park);
int listener_fd(const struct listener *ls);

/*
 * Accept on it from now on: want(arg) says whether the owner takes a
 * connection now; accepted(arg, fd) gets each one (accept4 flags).
 */
void listener_accept(struct listener *ls, int flags, bool (*want)(void *arg),
                     void (*accepted)(void *arg, int fd), void *arg);
/* Arm or disarm accepting, as want() now says. */
void listener_update(struct listener *ls);
/* A connection closed somewhere: listeners paused for want of fds may accept again. */
void listener_update_all(void);

/*
 * After accept() failed: when the cause is running out of fds or memory,
 * stop accept_ev and let retry_ev (a timer) resume in ACCEPT_RETRY_MS, and
 * return true (errno kept for the caller's log). The connection stays in
 * the backlog; a readable socket we cannot accept would otherwise spin.
 */
#define ACCEPT_RETRY_MS 100
bool accept_pause(struct event *accept_ev, struct event *retry_ev);

/*
 * The accept loop of droverd's own servers (control socket, metrics_listen):
 * at most `batch` connections per loop pass, each handed to accepted(fd);
 * paused with accept_pause when out of fds, logged once per pause as
 * "WHAT: accept (pausing ...)". The owner caps its clients in accepted().
 */
struct acceptor {
    struct event *accept_ev;
    struct event *resume_ev;
    bool paused_logged;
    int batch;
    const char *what;
    void (*accepted)(int fd);
};
void acceptor_start(struct acceptor *a, int fd, int batch, const char *what,
                    void (*accepted)(int fd));
/* Stop accepting and free the events (the owner closes the socket). */
void acceptor_stop(struct acceptor *a);
/*
 * An accepted connection as a bufferevent that closes it when freed, with
 * these callbacks; NULL, with fd closed, when libevent cannot make one.
 */
struct bufferevent *acceptor_bufferevent(int fd, bufferevent_data_cb readcb,
                                         bufferevent_data_cb writecb, bufferevent_event_cb eventcb,
                                         void *arg);

#endif
