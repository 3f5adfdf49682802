/* SPDX-License-Identifier: ISC */
/*
 * The control server (see control.h). Each client is a bufferevent; a
 * client gets CONTROL_READ_TIMEOUT_SEC to send its command and
 * CONTROL_WRITE_TIMEOUT_SEC for each reply to drain, so idle and slow
 * clients are dropped without affecting anything else. A malformed or
 * oversized frame closes that one connection. What every client's output
 * holds is counted against CONTROL_OUTPUT_LIMIT (budget.c's fair share, as
 * message mode's buffer_limit), on every change of the output buffer.
 */
#include "control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "budget.h"
#include "config.h"
#include "droverd.h"
#include "listen.h"
#include "log.h"
#include "parse.h"
#include "proto.h"
#include "sys.h"
#include "xmalloc.h"

struct control_client {
    TAILQ_ENTRY(control_client) entry;
    struct bufferevent *bev;
    uid_t uid;
    gid_t gid;
    pid_t pid;
    bool have_command;
    bool finished;
    char **argv; /* the command, kept while the client lives */
    control_check_fn check;
    void *check_arg;
    void (*free_arg)(void *);
    void (*on_close)(void *);
    void *on_close_arg;
    void (*writable)(void *); /* control_on_writable */
    void *writable_arg;
    struct evbuffer_cb_entry *output_cb;
    size_t held;    /* kept for it outside its output (control_hold) */
    size_t counted; /* its output and held, as output_budget has them */
};

/* Payload bytes per DATA frame of a long output (PROTO_MAX_FRAME allows more). */
#define CONTROL_FRAME_DATA 65536
/* After a peak of this much unread output, the heap is trimmed once it is down to TRIM_LOW. */
#define TRIM_HIGH (16 << 20)
#define TRIM_LOW  (1 << 20)

static TAILQ_HEAD(, control_client) clients = TAILQ_HEAD_INITIALIZER(clients);
static unsigned nclients;
static int listen_fd = -1;
static struct acceptor acceptor; /* at most CONTROL_ACCEPT_BATCH per pass */
static char *socket_path;
static gid_t control_gid;
static bool have_control_gid;
static uint64_t rejected_clients;
static control_dispatch_fn dispatch;
static struct budget output_budget = {.limit = CONTROL_OUTPUT_LIMIT};

/* Tell the budget what the client holds now. */
static void client_account(struct control_client *c)
{
    size_t now = evbuffer_get_length(bufferevent_get_output(c->bev)) + c->held;

    budget_change(&output_budget, c->counted, now);
    c->counted = now;
}

/* Every change of a client's output: queued by a command, or taken by the client. */
static void client_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    if (info->n_added != info->n_deleted)
        client_account(arg);
}

/* Give the heap back once after a peak of unread output (glibc keeps freed memory otherwise). */
static void output_trim(void)
{
    if (budget_trim_due(&output_budget, TRIM_HIGH, TRIM_LOW))
        malloc_trim(0);
}

static void client_free(struct control_client *c)
{
    TAILQ_REMOVE(&clients, c, entry);
    nclients--;
    c->writable = NULL;
    if (c->on_close != NULL)
        c->on_close(c->on_close_arg);
    if (c->free_arg != NULL)
        c->free_arg(c->check_arg);
    free_strv(c->argv);
    evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->output_cb);
    budget_change(&output_budget, c->counted, 0);
    bufferevent_free(c->bev);
    free(c);
    output_trim();
}

static void frame_header_add(struct evbuffer *out, enum proto_type type, size_t len)
{
    unsigned char hdr[PROTO_HEADER_SIZE];
    struct proto_header h;

    proto_header_make(&h, type, len);
    proto_header_encode(hdr, &h);
    evbuffer_add(out, hdr, sizeof(hdr));
}

static void client_send(struct control_client *c, enum proto_type type, const void *data,
                        size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    const char *p = data;

    if (c->finished)
        return;
    /* Large outputs go as several frames, each within PROTO_MAX_FRAME. */
    do {
        size_t n = len > CONTROL_FRAME_DATA ? CONTROL_FRAME_DATA : len;
        frame_header_add(out, type, n);
        evbuffer_add(out, p, n);
        p += n;
        len -= n;
    } while (len > 0);
}

void control_out_bytes(struct control_client *c, const void *data, size_t len)
{
    if (len > 0)
        client_send(c, PROTO_DATA, data, len);
}

/* Format and send one message of the given type. */
static void client_sendv(struct control_client *c, enum proto_type type, const char *fmt,
                         va_list ap)
{
    char *s;
    int n = xvasprintf(&s, fmt, ap);

    if (n > 0)
        client_send(c, type, s, (size_t)n);
    free(s);
}

void control_out(struct control_client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    client_sendv(c, PROTO_DATA, fmt, ap);
    va_end(ap);
}

void control_out_buffer(struct control_client *c, struct evbuffer *buf)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t len;

    /* buf's chains move into the output a frame at a time: the bytes are not copied again. */
    while (!c->finished && (len = evbuffer_get_length(buf)) > 0) {
        size_t n = len > CONTROL_FRAME_DATA ? CONTROL_FRAME_DATA : len;
        frame_header_add(out, PROTO_DATA, n);
        evbuffer_remove_buffer(buf, out, n);
    }
    evbuffer_drain(buf, evbuffer_get_length(buf));
}

void control_err(struct control_client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    client_sendv(c, PROTO_ERROR, fmt, ap);
    va_end(ap);
}

void control_verr(struct control_client *c, const char *fmt, va_list ap)
{
    client_sendv(c, PROTO_ERROR, fmt, ap);
}

void control_finish(struct control_client *c, int status)
{
    unsigned char code = (unsigned char)status;

    if (c->finished)
        return;
    client_send(c, PROTO_EXIT, &code, 1);
    c->finished = true;
    c->writable = NULL;
    c->held = 0;
    client_account(c);
    if (c->free_arg != NULL) {
        void (*fn)(void *) = c->free_arg;
        c->free_arg = NULL;
        fn(c->check_arg);
    }
    c->check = NULL;
    c->check_arg = NULL;
    /* The write callback closes the connection once the reply has drained. */
    bufferevent_disable(c->bev, EV_READ);
    bufferevent_enable(c->bev, EV_WRITE);
}

size_t control_pending(const struct control_client *c)
{
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

bool control_may_grow(const struct control_client *c)
{
    return budget_may_read(&output_budget, c->counted);
}

void control_hold(struct control_client *c, size_t bytes)
{
    c->held = bytes;
    client_account(c);
}

void control_on_writable(struct control_client *c, void (*fn)(void *arg), void *arg)
{
    c->writable = fn;
    c->writable_arg = arg;
    /* The write callback then runs whenever a write leaves CONTROL_STREAM_LOW or less. */
    bufferevent_setwatermark(c->bev, EV_WRITE, fn != NULL ? CONTROL_STREAM_LOW : 0, 0);
}

uid_t control_client_uid(const struct control_client *c)
{
    return c->uid;
}

void control_wait(struct control_client *c, control_check_fn check, void *arg,
                  void (*free_arg)(void *arg))
{
    c->check = check;
    c->check_arg = arg;
    c->free_arg = free_arg;
    if (check(c, arg))
        return;
}

void control_on_close(struct control_client *c, void (*fn)(void *arg), void *arg)
{
    c->on_close = fn;
    c->on_close_arg = arg;
}

/* An end-of-pass hook: waiters are re-checked once per pass, however many slots changed. */
void control_check_waiters(void)
{
    struct control_client *c, *next;

    TAILQ_FOREACH_SAFE(c, &clients, entry, next)
        if (c->check != NULL && !c->finished)
            c->check(c, c->check_arg);
}

static bool client_allowed(const struct control_client *c)
{
    gid_t groups[256];
    socklen_t len = sizeof(groups);
    int fd = bufferevent_getfd(c->bev);

    if (c->uid == 0 || c->uid == droverd.uid)
        return true;
    if (!have_control_gid)
        return false;
    if (c->gid == control_gid)
        return true;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
        for (size_t i = 0; i < len / sizeof(gid_t); i++)
            if (groups[i] == control_gid)
                return true;
    return false;
}

static void client_reject(struct control_client *c, const char *why)
{
    rejected_clients++;
    log_warnx("control uid %u pid %d: %s", (unsigned)c->uid, (int)c->pid, why);
    bufferevent_disable(c->bev, EV_READ);
    client_free(c);
}

/* A whole command has arrived: check who asks, then run it. */
static void client_command(struct control_client *c, const unsigned char *payload, size_t len)
{
    char err[PARSE_ERR_MAX];
    int argc;
    char **argv = proto_argv_unpack(payload, len, &argc, err, sizeof(err));

    c->have_command = true;
    /* No more read deadline: a command may legitimately wait (start, logs -f). */
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    if (argv == NULL) {
        client_reject(c, err);
        return;
    }
    if (!client_allowed(c)) {
        char allowed[128];
        snprintf(allowed, sizeof(allowed), "root, uid %u (droverd's user)%s%s%s",
                 (unsigned)droverd.uid, have_control_gid ? " and members of group '" : "",
                 have_control_gid ? droverd.config->daemon.control_group : "",
                 have_control_gid ? "'" : "");
        log_warnx("control uid %u pid %d: refused '%s': not permitted", (unsigned)c->uid,
                  (int)c->pid, argv[0]);
        rejected_clients++;
        control_err(c, "permission denied: uid %u may not control droverd (allowed: %s)\n",
                    (unsigned)c->uid, allowed);
        control_finish(c, DROVER_EXIT_FAILED);
        free_strv(argv);
        return;
    }
    c->argv = argv;
    log_debug("control uid %u pid %d: %s", (unsigned)c->uid, (int)c->pid, argv[0]);
    dispatch(c, argc, argv);
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
    struct control_client *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    unsigned char hdr[PROTO_HEADER_SIZE];
    struct proto_header h;
    char err[PARSE_ERR_MAX];

    if (c->have_command) {
        /* Anything after the one command is a protocol error. */
        client_reject(c, "unexpected data after the command");
        return;
    }
    if (evbuffer_get_length(in) < PROTO_HEADER_SIZE)
        return;
    evbuffer_copyout(in, hdr, sizeof(hdr));
    proto_header_decode(hdr, &h);
    switch (proto_header_check(&h, PROTO_TYPE_BIT(PROTO_COMMAND), PROTO_MAX_REQUEST, err,
                               sizeof(err))) {
    case PROTO_CHECK_OK:
        break;
    case PROTO_CHECK_VERSION:
        /* Say why in a frame the other side can still read, then close. */
        rejected_clients++;
        c->have_command = true;
        control_err(c,
                    "drover speaks control protocol version %u, droverd speaks %u: use the "
                    "drover that came with this droverd\n",
                    h.version, PROTO_VERSION);
        control_finish(c, DROVER_EXIT_FAILED);
        return;
    default:
        client_reject(c, err);
        return;
    }
    if (evbuffer_get_length(in) < PROTO_HEADER_SIZE + h.length)
        return;
    evbuffer_drain(in, PROTO_HEADER_SIZE);
    unsigned char *payload = xmalloc(h.length + 1);
    evbuffer_remove(in, payload, h.length);
    client_command(c, payload, h.length);
    free(payload);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
    struct control_client *c = arg;

    if (c->writable != NULL && !c->finished) {
        c->writable(c->writable_arg);
        return;
    }
    if (c->finished && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        client_free(c);
    else
        output_trim();
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct control_client *c = arg;

    if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) && c->have_command) {
        /*
         * The client shut down its sending side after the command (socat
         * does): it may still be reading, so the answer is still owed. A
         * client that is really gone shows up as a write error later.
         */
        bufferevent_disable(bev, EV_READ);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        log_warnx("control uid %u pid %d: %s timed out; dropped", (unsigned)c->uid, (int)c->pid,
                  what & BEV_EVENT_READING ? "reading the command" : "writing the reply");
    client_free(c);
}

/* Take one accepted connection as a client, or refuse it when over the cap. */
static void client_accept(int fd)
{
    struct control_client *c;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    struct timeval rtv = {CONTROL_READ_TIMEOUT_SEC, 0}, wtv = {CONTROL_WRITE_TIMEOUT_SEC, 0};

    if (nclients >= CONTROL_MAX_CLIENTS) {
        /* Over the cap: refuse at once rather than let a flood starve real clients. */
        rejected_clients++;
        close(fd);
        return;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        log_warn("control: SO_PEERCRED");
        close(fd);
        return;
    }
    c = xcalloc(1, sizeof(*c));
    c->uid = cred.uid;
    c->gid = cred.gid;
    c->pid = cred.pid;
    c->bev = acceptor_bufferevent(fd, client_read_cb, client_write_cb, client_event_cb, c);
    if (c->bev == NULL) {
        free(c);
        return;
    }
    c->output_cb = evbuffer_add_cb(bufferevent_get_output(c->bev), client_output_cb, c);
    if (c->output_cb == NULL)
        fatalx("control: evbuffer_add_cb: out of memory");
    /* Never buffer more than one maximal command from a client. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, PROTO_HEADER_SIZE + PROTO_MAX_REQUEST);
    /* Big writes, so a `logs -f` client that reads fast keeps up with a chatty pool. */
    bufferevent_set_max_single_write(c->bev, 1 << 20);
    bufferevent_set_timeouts(c->bev, &rtv, &wtv);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    TAILQ_INSERT_TAIL(&clients, c, entry);
    nclients++;
}

int control_open(const struct daemon_config *dc, char *err, size_t errsz)
{
    gid_t gid = dc->control_group != NULL ? dc->control_gid : (gid_t)-1;
    int fd =
        sys_listen_unix(dc->control_socket, SOCK_STREAM, dc->control_mode, gid, 128, err, errsz);

    if (fd < 0) {
        if (errno == EADDRINUSE)
            parse_error(err, errsz, "%s is in use: is another droverd running?",
                        dc->control_socket);
        return -1;
    }
    if (dc->control_group != NULL) {
        control_gid = dc->control_gid;
        have_control_gid = true;
    }
    listen_fd = fd;
    /*
     * A batch per pass: clients that connect and close at once are let go (their
     * EOF is handled in the same pass) before more are counted against the cap.
     */
    acceptor_start(&acceptor, fd, CONTROL_ACCEPT_BATCH, "control", client_accept);
    socket_path = xstrdup(dc->control_socket);
    return 0;
}

void control_set_dispatch(control_dispatch_fn fn)
{
    dispatch = fn;
}

uint64_t control_rejected(void)
{
    return rejected_clients;
}

void control_close(void)
{
    struct control_client *c;

    while ((c = TAILQ_FIRST(&clients)) != NULL)
        client_free(c);
    acceptor_stop(&acceptor);
    if (listen_fd >= 0) {
        close(listen_fd);
        listen_fd = -1;
    }
    if (socket_path != NULL) {
        sys_unlink_socket(socket_path);
        free(socket_path);
        socket_path = NULL;
    }
}

void control_farewell(void)
{
    struct control_client *c;

    TAILQ_FOREACH(c, &clients, entry) {
        if (!c->finished && c->have_command && c->writable != NULL) {
            /* A long answer (logs -n) still being sent: it is cut short, and says so. */
            control_err(c, "droverd stopped before the whole answer was sent\n");
            control_finish(c, DROVER_EXIT_FAILED);
        } else if (!c->finished && c->have_command) {
            /* logs -f just ends; the shutdown CLI says it in its own words (text or --json). */
            if (c->argv == NULL ||
                (strcmp(c->argv[0], "logs") != 0 && strcmp(c->argv[0], "shutdown") != 0))
                control_out(c, "droverd stopped\n");
            control_finish(c, droverd.exit_status == 0 ? DROVER_EXIT_OK : DROVER_EXIT_FAILED);
        }
        /*
         * Last chance to deliver: non-blocking writes, whatever fits. The bufferevent keeps
         * its output frozen at the front (only it drains it), so thaw it first; one
         * evbuffer_write takes a bounded number of chains, and a follower holds many.
         */
        struct evbuffer *out = bufferevent_get_output(c->bev);
        evbuffer_unfreeze(out, 1);
        while (evbuffer_get_length(out) > 0 && evbuffer_write(out, bufferevent_getfd(c->bev)) > 0)
            ;
    }
}
