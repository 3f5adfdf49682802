/* SPDX-License-Identifier: ISC */
/*
 * Listening sockets of routed pools (see listen.h). The daemon owns each
 * one for its pool's whole life, so clients wait in the backlog while
 * workers restart; a pool re-created with the same address gets the same
 * socket back. Owns the table of held sockets (systemd's and parked ones)
 * and the list of listeners; may not touch pools or routes.
 */
#include "listen.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "droverd.h"
#include "log.h"
#include "parse.h"
#include "sys.h"
#include "xmalloc.h"

#define ACCEPT_BATCH 64

struct listener {
    TAILQ_ENTRY(listener) entry;
    int fd;
    char *spec;           /* the listen value */
    char *name;           /* the pool's, for logs */
    char *unix_path;      /* to unlink when closed (NULL for tcp/activation) */
    bool from_activation; /* the fd belongs to the socket-activation table */
    struct event *accept_ev, *retry_ev;
    int accept_flags;
    bool armed; /* accept_ev is pending */
    bool (*want)(void *arg);
    void (*accepted)(void *arg, int fd);
    void *arg;
};

static TAILQ_HEAD(, listener) listeners = TAILQ_HEAD_INITIALIZER(listeners);

/* A socket systemd passed, or a listener parked across its pool's re-creation. */
struct held_socket {
    char *name; /* LISTEN_FDNAMES entry, or the listen value of a parked listener */
    int fd;
    bool activation;
    bool claimed;
    char *unix_path;
};

static struct held_socket *held;
static size_t nheld;

void listen_activation_init(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    uint64_t n;

    if (pid == NULL || fds == NULL || atoi(pid) != (int)getpid() ||
        parse_uint(fds, 1, 1024, &n, NULL, 0) != 0)
        goto out;
    char *copy = names != NULL ? xstrdup(names) : xstrdup(""), *save = NULL, *tok;
    tok = strtok_r(copy, ":", &save);
    for (uint64_t i = 0; i < n; i++) {
        int fd = 3 + (int)i;
        held = xreallocarray(held, nheld + 1, sizeof(*held));
        held[nheld] = (struct held_socket){
            .name = xstrdup(tok != NULL ? tok : "unknown"), .fd = fd, .activation = true};
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        nheld++;
        tok = tok != NULL ? strtok_r(NULL, ":", &save) : NULL;
    }
    free(copy);
out:
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
}

/* A listening stream socket, which is what a pool accepts on: not a connection (Accept=yes). */
static bool is_listening_stream(int fd)
{
    struct stat st;
    int type = 0, listening = 0;
    socklen_t len = sizeof(int);

    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return false;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
        return false;
    len = sizeof(int);
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
}

void listen_activation_check(const struct config *cfg)
{
    for (size_t i = 0; i < nheld; i++) {
        const struct pool_config *pc;
        if (!held[i].activation)
            continue;
        if (!is_listening_stream(held[i].fd))
            fatalx("socket activation: fd %d, named '%s' (LISTEN_FDNAMES), is not a listening "
                   "stream socket; pass a ListenStream= socket with Accept=no",
                   held[i].fd, held[i].name);
        pc = config_find_pool(cfg, held[i].name);
        if (pc == NULL)
            fatalx("socket activation: the socket named '%s' (LISTEN_FDNAMES) matches no pool; "
                   "name each socket after its pool with FileDescriptorName=",
                   held[i].name);
        if (pc->listen == NULL)
            fatalx("socket activation: pool '%s' got a socket but has no listen; set listen "
                   "(and mode) for it",
                   held[i].name);
        /* A pool serves one socket: a second of the same name would take clients nobody answers. */
        for (size_t j = 0; j < i; j++)
            if (held[j].activation && strcmp(held[j].name, held[i].name) == 0)
                fatalx("socket activation: two sockets are named '%s' (LISTEN_FDNAMES, fds %d "
                       "and %d), and a pool serves one; give its socket unit one Listen line, "
                       "or each socket a pool of its own with FileDescriptorName=",
                       held[i].name, held[j].fd, held[i].fd);
    }
}

int listen_activation_accept(const struct config *cfg, const char *path, struct config_errors *errs)
{
    int rc = 0;

    for (size_t i = 0; i < nheld; i++) {
        const struct pool_config *pc;
        if (!held[i].activation)
            continue;
        pc = config_find_pool(cfg, held[i].name);
        if (pc == NULL) {
            config_errors_add(errs, path, 0,
                              "pool '%s' serves the socket systemd passed "
                              "(FileDescriptorName=%s): a reload cannot remove it; take the "
                              "socket out of the .socket unit and restart droverd",
                              held[i].name, held[i].name);
            rc = -1;
        } else if (pc->listen == NULL) {
            config_errors_add(errs, pc->section.file, pc->section.line,
                              "pool '%s' serves the socket systemd passed "
                              "(FileDescriptorName=%s): a reload cannot take its listen away",
                              held[i].name, held[i].name);
            rc = -1;
        }
    }
    return rc;
}

bool listen_activated(const char *name)
{
    for (size_t i = 0; i < nheld; i++)
        if (held[i].activation && strcmp(held[i].name, name) == 0)
            return true;
    return false;
}

static struct held_socket *held_find(const char *name, bool activation)
{
    for (size_t i = 0; i < nheld; i++)
        if (!held[i].claimed && held[i].activation == activation && strcmp(held[i].name, name) == 0)
            return &held[i];
    return NULL;
}

static void held_remove(struct held_socket *h)
{
    size_t i = (size_t)(h - held);

    free(h->name);
    free(h->unix_path);
    memmove(&held[i], &held[i + 1], (nheld - i - 1) * sizeof(*held));
    nheld--;
}

void listen_release_parked(void)
{
    for (size_t i = 0; i < nheld; i++) {
        if (!held[i].activation) {
            close(held[i].fd);
            if (held[i].unix_path != NULL)
                sys_unlink_socket(held[i].unix_path);
        }
        free(held[i].name);
        free(held[i].unix_path);
    }
    free(held);
    held = NULL;
    nheld = 0;
}

void listen_release_unwanted(bool (*wanted)(const char *listen))
{
    size_t i = 0;

    while (i < nheld) {
        if (held[i].activation || wanted(held[i].name)) {
            i++;
            continue;
        }
        close(held[i].fd);
        if (held[i].unix_path != NULL)
            sys_unlink_socket(held[i].unix_path);
        held_remove(&held[i]);
    }
}

/* The socket for ls: systemd's, a parked one, or a new one. -1 with err. */
static int listener_socket(struct listener *ls, const struct pool_config *pc, char *err,
                           size_t errsz)
{
    gid_t gid = pc->socket_group != NULL ? pc->socket_gid : (gid_t)-1;
    struct held_socket *h;
    int fd;

    if ((h = held_find(ls->name, true)) != NULL) {
        h->claimed = true;
        ls->from_activation = true;
        log_info("pool %s: using the socket passed by systemd (%s)", ls->name, h->name);
        return h->fd;
    }
    if ((h = held_find(pc->listen, false)) != NULL) {
        /* The same socket, kept while the pool was re-created; socket_mode may have changed. */
        fd = h->fd;
        ls->unix_path = h->unix_path;
        h->unix_path = NULL;
        held_remove(h);
        if (ls->unix_path != NULL &&
            ((gid != (gid_t)-1 && chown(ls->unix_path, (uid_t)-1, gid) != 0) ||
             chmod(ls->unix_path, pc->socket_mode) != 0))
            log_warn("pool %s: chmod/chown %s", ls->name, ls->unix_path);
        return fd;
    }
    if (strncmp(pc->listen, "tcp:", 4) == 0)
        return sys_listen_tcp(pc->listen, err, errsz);
    fd = sys_listen_unix(pc->listen, SOCK_STREAM, pc->socket_mode, gid, SOMAXCONN, err, errsz);
    if (fd >= 0)
        ls->unix_path = xstrdup(pc->listen);
    return fd;
}

int listener_reserve(const struct pool_config *pc, const char *name, char *err, size_t errsz)
{
    struct listener tmp = {.name = (char *)name};
    int fd;

    if (held_find(name, true) != NULL || held_find(pc->listen, false) != NULL)
        return 0;
    fd = listener_socket(&tmp, pc, err, errsz);
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    held = xreallocarray(held, nheld + 1, sizeof(*held));
    held[nheld++] =
        (struct held_socket){.name = xstrdup(pc->listen), .fd = fd, .unix_path = tmp.unix_path};
    return 0;
}

struct listener *listener_open(const struct pool_config *pc, const char *name, bool blocking,
                               char *err, size_t errsz)
{
    struct listener *ls = xcalloc(1, sizeof(*ls));

    ls->name = xstrdup(name);
    ls->fd = listener_socket(ls, pc, err, errsz);
    if (ls->fd < 0) {
        free(ls->name);
        free(ls);
        return NULL;
    }
    ls->spec = xstrdup(pc->listen);
    /*
     * droverd accepts without blocking; in shared mode the workers accept,
     * and a server written for socket activation expects a blocking socket
     * (the flag belongs to the socket, which they share).
     */
    int fl = fcntl(ls->fd, F_GETFL);
    if (fl >= 0)
        fcntl(ls->fd, F_SETFL, blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
    fcntl(ls->fd, F_SETFD, FD_CLOEXEC);
    TAILQ_INSERT_TAIL(&listeners, ls, entry);
    return ls;
}

void listener_close(struct listener *ls, bool park)
{
    TAILQ_REMOVE(&listeners, ls, entry);
    if (ls->accept_ev != NULL) {
        event_free(ls->accept_ev);
        event_free(ls->retry_ev);
    }
    if (ls->from_activation) {
        for (size_t i = 0; i < nheld; i++)
            if (held[i].fd == ls->fd)
                held[i].claimed = false; /* a re-created pool takes it again */
    } else if (park) {
        /* Re-created with the same address: keep the socket (and its backlog). */
        held = xreallocarray(held, nheld + 1, sizeof(*held));
        held[nheld++] = (struct held_socket){
            .name = xstrdup(ls->spec), .fd = ls->fd, .unix_path = ls->unix_path};
        ls->unix_path = NULL;
    } else {
        close(ls->fd);
        if (ls->unix_path != NULL)
            sys_unlink_socket(ls->unix_path);
    }
    free(ls->unix_path);
    free(ls->spec);
    free(ls->name);
    free(ls);
}

int listener_fd(const struct listener *ls)
{
    return ls->fd;
}

bool accept_pause(struct event *accept_ev, struct event *retry_ev)
{
    int e = errno;
    struct timeval tv = {0, ACCEPT_RETRY_MS * 1000};

    if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
        return false;
    event_del(accept_ev);
    event_add(retry_ev, &tv);
    errno = e;
    return true;
}

static void acceptor_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct acceptor *a = arg;

    (void)fd;
    (void)what;
    a->paused_logged = false;
    event_add(a->accept_ev, NULL);
}

static void acceptor_cb(evutil_socket_t lfd, short what, void *arg)
{
    struct acceptor *a = arg;

    (void)what;
    for (int i = 0; i < a->batch; i++) {
        int fd = accept4((int)lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd >= 0) {
            a->accepted(fd);
            continue;
        }
        if (accept_pause(a->accept_ev, a->resume_ev)) {
            if (!a->paused_logged)
                log_warn("%s: accept (pausing while out of file descriptors)", a->what);
            a->paused_logged = true;
        }
        return;
    }
}

void acceptor_start(struct acceptor *a, int fd, int batch, const char *what,
                    void (*accepted)(int fd))
{
    a->batch = batch;
    a->what = what;
    a->accepted = accepted;
    a->paused_logged = false;
    a->accept_ev = event_new(droverd.base, fd, EV_READ | EV_PERSIST, acceptor_cb, a);
    a->resume_ev = evtimer_new(droverd.base, acceptor_resume_cb, a);
    event_add(a->accept_ev, NULL);
}

void acceptor_stop(struct acceptor *a)
{
    if (a->accept_ev != NULL)
        event_free(a->accept_ev);
    if (a->resume_ev != NULL)
        event_free(a->resume_ev);
    a->accept_ev = a->resume_ev = NULL;
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct listener *ls = arg;

    (void)what;
    for (int i = 0; i < ACCEPT_BATCH && ls->armed; i++) {
        int cfd = accept4((int)fd, NULL, NULL, ls->accept_flags);

        if (cfd < 0) {
            if (accept_pause(ls->accept_ev, ls->retry_ev)) {
                /* Out of fds: connections wait in the backlog; try again shortly. */
                log_warn("pool %s: accept (pausing %dms)", ls->name, ACCEPT_RETRY_MS);
                ls->armed = false;
            }
            break;
        }
        ls->accepted(ls->arg, cfd);
        listener_update(ls);
    }
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    listener_update(arg);
}

void listener_accept(struct listener *ls, int flags, bool (*want)(void *arg),
                     void (*accepted)(void *arg, int fd), void *arg)
{
    ls->accept_flags = flags;
    ls->want = want;
    ls->accepted = accepted;
    ls->arg = arg;
    ls->retry_ev = evtimer_new(droverd.base, accept_retry_cb, ls);
    ls->accept_ev = event_new(droverd.base, ls->fd, EV_READ | EV_PERSIST, accept_cb, ls);
    listener_update(ls);
}

/* Arm the accept event exactly when the owner wants and can take a connection. */
void listener_update(struct listener *ls)
{
    if (ls == NULL)
        return; /* its route let go of its address (route_release_address) */
    bool want = ls->accept_ev != NULL && ls->want(ls->arg) &&
                !event_pending(ls->retry_ev, EV_TIMEOUT, NULL);

    if (want == ls->armed)
        return;
    ls->armed = want;
    if (want)
        event_add(ls->accept_ev, NULL);
    else
        event_del(ls->accept_ev);
}

void listener_update_all(void)
{
    struct listener *ls;

    TAILQ_FOREACH(ls, &listeners, entry)
        listener_update(ls);
}

struct bufferevent *acceptor_bufferevent(int fd, bufferevent_data_cb readcb,
                                         bufferevent_data_cb writecb, bufferevent_event_cb eventcb,
                                         void *arg)
{
    struct bufferevent *bev = bufferevent_socket_new(droverd.base, fd, BEV_OPT_CLOSE_ON_FREE);

    if (bev == NULL) {
        close(fd);
        return NULL;
    }
    bufferevent_setcb(bev, readcb, writecb, eventcb, arg);
    return bev;
}
