/* SPDX-License-Identifier: ISC */
/*
 * Handoff mode (see handoff.h and docs/protocol.md).
 */
#include "handoff.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "droverd.h"
#include "listen.h"
#include "log.h"
#include "xmalloc.h"

/* Pass queued fds while the socketpair takes them. */
static void send_fds(struct worker_link *l)
{
    while (l->nfdq > 0 && l->fd >= 0) {
        int cfd = l->fdq[0];
        char byte = 'c';
        struct iovec iov = {&byte, 1};
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf)};
        struct cmsghdr *cm;

        memset(&u, 0, sizeof(u)); /* the padding after the fd goes to the kernel too */
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &cfd, sizeof(int));
        if (sendmsg(l->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                event_add(l->wev, NULL);
                return;
            }
            link_fail(l, "stopped taking connections");
            return;
        }
        close(cfd);
        memmove(l->fdq, l->fdq + 1, (l->nfdq - 1) * sizeof(int));
        l->nfdq--;
    }
}

/* To the least busy worker with room (accept is armed only when one has some). */
static void handoff_accepted(struct route *r, int cfd)
{
    struct choice_node *n = choice_take(&r->choice);
    struct worker_link *l;

    if (n == NULL) {
        close(cfd); /* cannot happen: accept is armed only with room */
        return;
    }
    l = link_of(n);
    l->fdq = xreallocarray(l->fdq, l->nfdq + 1, sizeof(int));
    l->fdq[l->nfdq++] = cfd;
    link_count_delivery(l, r->max_requests);
    send_fds(l);
}

/* One byte back per finished connection. */
static void handoff_link_readable(void *owner, struct worker_link *l, const unsigned char *data,
                                  size_t n)
{
    struct route *r = owner;

    if (data == NULL) {
        n = evbuffer_get_length(l->in);
        evbuffer_drain(l->in, n);
    }
    while (n-- > 0) {
        if (l->node.load == 0) {
            log_debug("pool %s slot %u: more 'done' bytes than connections", r->name,
                      l->slot->index);
            break;
        }
        choice_release(&r->choice, &l->node);
        r->requests++;
        l->slot->requests++;
    }
    if (r->recycle_memory && l->slot->pid > 0)
        r->hooks.request_done(l->slot);
    if (l->node.load == 0 && l->retiring && l->slot->pid > 0)
        link_idle(l);
    listener_update(r->listener);
    route_check_drained(r);
}

/*
 * Connections accepted but not yet passed go to another worker with room,
 * or are closed (their clients may retry) when none has any.
 */
static void handoff_worker_gone(struct route *r, struct worker_link *l)
{
    int *fds = l->fdq;
    size_t nfds = l->nfdq;

    l->fdq = NULL;
    l->nfdq = 0;
    for (size_t i = 0; i < nfds; i++) {
        if (choice_has_room(&r->choice))
            handoff_accepted(r, fds[i]);
        else
            close(fds[i]);
    }
    free(fds);
}

static int handoff_prepare_spawn(struct route *r, struct slot *s, struct route_spawn *rs, char *err,
                                 size_t errsz)
{
    return link_prepare_spawn(&r->links, s, false, rs, err, errsz);
}

/* Some ready worker can hold one more connection. */
static bool handoff_has_room(const struct route *r)
{
    return choice_has_room(&r->choice);
}

/* Connections held by workers count as in flight. */
static void handoff_stats(const struct route *r, struct route_stats *out)
{
    const struct worker_link *l;

    TAILQ_FOREACH(l, &r->links.links, entry)
        out->inflight += l->node.load;
}

static const struct link_ops handoff_link_ops = {
    .readable = handoff_link_readable,
    .writable = send_fds,
};

const struct route_mode_ops handoff_ops = {
    /* The worker gets a blocking socket, as a prefork server expects. */
    .accept_flags = SOCK_CLOEXEC,
    .link_ops = &handoff_link_ops,
    .prepare_spawn = handoff_prepare_spawn,
    .has_room = handoff_has_room,
    .accepted = handoff_accepted,
    .worker_gone = handoff_worker_gone,
    .stats = handoff_stats,
};
