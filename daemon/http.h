/* SPDX-License-Identifier: ISC */
/*
 * The small HTTP server behind metrics_listen: GET and HEAD of a few exact
 * paths, one request per connection (Connection: close), at most
 * HTTP_MAX_CLIENTS connections at once. At the cap a new connection takes
 * the place of the oldest one still silent (or is closed at once when every
 * one is being answered); one that has not sent its whole request within
 * HTTP_READ_TIMEOUT_SEC is dropped, and one that has not taken its answer
 * HTTP_WRITE_TIMEOUT_SEC later too. All of these are counted. libevent's evhttp has no connection
 * cap in 2.1, hence this instead of it. Knows nothing of what it serves: the caller gives it the
 * routes.
 */
#ifndef DROVER_HTTP_H
#define DROVER_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define HTTP_MAX_CLIENTS       64   /* connections open at once (see above) */
#define HTTP_ACCEPT_BATCH      16   /* connections taken per pass of the event loop */
#define HTTP_READ_TIMEOUT_SEC  5    /* to send the request line and headers, in all */
#define HTTP_WRITE_TIMEOUT_SEC 10   /* for the answer to be taken, in all */
#define HTTP_MAX_REQUEST       8192 /* request line and headers */

/*
 * One path and what answers it: the handler writes the body into body, may
 * set *content_type (default "application/json"), and returns the status
 * code (200, 503, ...).
 */
struct http_route {
    const char *path;
    int (*handler)(struct evbuffer *body, const char **content_type);
};

/* Serve routes (an array of n, kept by pointer) on "tcp:HOST:PORT". -1 with err. */
int http_open(const char *listen, const struct http_route *routes, size_t n, char *err,
              size_t errsz);
void http_close(void);
/* Connections closed unanswered: over the cap, malformed, or too slow. */
uint64_t http_rejected(void);
/* Connections open now. */
unsigned http_clients(void);

#endif
