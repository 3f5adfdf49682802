/* SPDX-License-Identifier: ISC */
/*
 * The HTTP server behind metrics_listen (see http.h). Each connection is a
 * bufferevent that reads at most HTTP_MAX_REQUEST bytes of request line and
 * headers, gets one answer, and is closed once the answer is written (after
 * a half-close, so a client still sending a body reads the answer rather
 * than a reset). It owns its listening socket and its clients; it knows
 * nothing of metrics or health.
 */
#include "http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "droverd.h"
#include "list.h"
#include "listen.h"
#include "log.h"
#include "sys.h"
#include "xmalloc.h"

struct http_client {
    TAILQ_ENTRY(http_client) entry;
    struct bufferevent *bev;
    struct event *deadline; /* the request in time, then the answer taken in time */
    bool answered;          /* the answer is queued: write it, half-close, wait for EOF */
    bool done;              /* the answer is all written: only the client's close is awaited */
    bool head;              /* HEAD: the answer has no body */
};

static TAILQ_HEAD(, http_client) clients = TAILQ_HEAD_INITIALIZER(clients);
static unsigned nclients;
static int listen_fd = -1;
static struct acceptor acceptor; /* at most HTTP_ACCEPT_BATCH per pass: a flood shares the loop */
static uint64_t rejected;
static const struct http_route *routes;
static size_t nroutes;

static void client_free(struct http_client *c)
{
    TAILQ_REMOVE(&clients, c, entry);
    nclients--;
    event_free(c->deadline);
    bufferevent_free(c->bev);
    free(c);
}

static const char *status_text(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/* Queue the whole answer; the write callback half-closes once it is out. */
static void client_answer(struct http_client *c, int code, const char *ctype, struct evbuffer *body)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t len = body != NULL ? evbuffer_get_length(body) : 0;

    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                        "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
                        code, status_text(code), ctype, len,
                        code == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (body != NULL && !c->head)
        evbuffer_add_buffer(out, body);
    struct timeval tv = {HTTP_WRITE_TIMEOUT_SEC, 0};

    c->answered = true;
    event_add(c->deadline, &tv);
    bufferevent_enable(c->bev, EV_WRITE);
}

static void client_error(struct http_client *c, int code, const char *msg)
{
    struct evbuffer *body = evbuffer_new();

    evbuffer_add_printf(body, "%s\n", msg);
    client_answer(c, code, "text/plain; charset=utf-8", body);
    evbuffer_free(body);
}

/* The request line is in: answer it. The headers say nothing droverd needs. */
static void client_request(struct http_client *c, char *line)
{
    char *method = line, *target, *version;

    target = strchr(method, ' ');
    if (target == NULL) {
        client_error(c, 400, "malformed request line");
        return;
    }
    *target++ = '\0';
    version = strchr(target, ' ');
    if (version == NULL || strncmp(version + 1, "HTTP/1.", 7) != 0) {
        client_error(c, 400, "malformed request line");
        return;
    }
    *version = '\0';
    target[strcspn(target, "?#")] = '\0';
    c->head = strcmp(method, "HEAD") == 0;
    if (!c->head && strcmp(method, "GET") != 0) {
        client_error(c, 405, "only GET and HEAD");
        return;
    }
    for (size_t i = 0; i < nroutes; i++) {
        if (strcmp(routes[i].path, target) == 0) {
            struct evbuffer *body = evbuffer_new();
            const char *ctype = "application/json";
            int code = routes[i].handler(body, &ctype);
            client_answer(c, code, ctype, body);
            evbuffer_free(body);
            return;
        }
    }
    client_error(c, 404, "not found (try /metrics, /healthz or /readyz)");
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
    struct http_client *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end;
    char *line;

    if (c->answered) {
        /* Whatever follows the request (a body) is not read: drop it. */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        end = evbuffer_search(in, "\n\n", 2, NULL);
    if (end.pos < 0) {
        if (evbuffer_get_length(in) >= HTTP_MAX_REQUEST) {
            rejected++;
            client_error(c, 431, "request headers too large");
        }
        return;
    }
    line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
    if (line == NULL || strlen(line) > 1024) {
        rejected++;
        client_error(c, 400, "malformed request line");
    } else {
        client_request(c, line);
    }
    free(line);
    evbuffer_drain(in, evbuffer_get_length(in));
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
    struct http_client *c = arg;

    if (!c->answered || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    /* All written: half-close and let the client close (or the read timeout end it). */
    shutdown(bufferevent_getfd(bev), SHUT_WR);
    bufferevent_disable(bev, EV_WRITE);
    c->done = true;
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    client_free(arg);
}

/*
 * One deadline for the whole request, not per read: a client that sends a
 * byte now and then must not hold its connection for ever.
 */
static void client_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_client *c = arg;

    (void)fd;
    (void)what;
    if (!c->answered)
        rejected++;
    client_free(c);
}

/*
 * At the cap, the oldest connection whose answer is all written (only its
 * close is awaited: closing it loses nothing), else the oldest still
 * waiting for its request, makes room: a prober sends its request as soon
 * as it connects and is answered long before it is the oldest, so neither
 * idle connections nor answered ones left open can lock probes out. False
 * when every connection is being answered.
 */
static bool client_evict(void)
{
    struct http_client *c;

    TAILQ_FOREACH(c, &clients, entry) {
        if (c->done) {
            client_free(c);
            return true;
        }
    }
    TAILQ_FOREACH(c, &clients, entry) {
        if (!c->answered) {
            rejected++;
            client_free(c);
            return true;
        }
    }
    return false;
}

static void client_accept(int fd)
{
    struct http_client *c;
    struct timeval tv = {HTTP_READ_TIMEOUT_SEC, 0};

    if (nclients >= HTTP_MAX_CLIENTS && !client_evict()) {
        /* Over the cap: refuse at once; a flood must not cost droverd its fds. */
        rejected++;
        close(fd);
        return;
    }
    c = xcalloc(1, sizeof(*c));
    c->bev = acceptor_bufferevent(fd, client_read_cb, client_write_cb, client_event_cb, c);
    if (c->bev == NULL) {
        free(c);
        return;
    }
    bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_MAX_REQUEST);
    c->deadline = evtimer_new(droverd.base, client_deadline_cb, c);
    event_add(c->deadline, &tv);
    bufferevent_enable(c->bev, EV_READ);
    TAILQ_INSERT_TAIL(&clients, c, entry);
    nclients++;
}

int http_open(const char *listen, const struct http_route *r, size_t n, char *err, size_t errsz)
{
    int fd = sys_listen_tcp(listen, err, errsz);

    if (fd < 0)
        return -1;
    routes = r;
    nroutes = n;
    listen_fd = fd;
    acceptor_start(&acceptor, fd, HTTP_ACCEPT_BATCH, "metrics_listen", client_accept);
    return 0;
}

void http_close(void)
{
    struct http_client *c;

    while ((c = TAILQ_FIRST(&clients)) != NULL)
        client_free(c);
    acceptor_stop(&acceptor);
    if (listen_fd >= 0)
        close(listen_fd);
    listen_fd = -1;
}

uint64_t http_rejected(void)
{
    return rejected;
}

unsigned http_clients(void)
{
    return nclients;
}
