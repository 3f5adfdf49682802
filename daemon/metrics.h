/* SPDX-License-Identifier: ISC */
/*
 * Prometheus text exposition of droverd's state (drover metrics), and the
 * routes of the optional HTTP endpoint (metrics_listen, served by http.c).
 */
#ifndef DROVER_METRICS_H
#define DROVER_METRICS_H

#include <stddef.h>

struct evbuffer;

void metrics_render(struct evbuffer *out);
/* Serve GET /metrics, /healthz and /readyz on "tcp:HOST:PORT" (http.c). */
int metrics_http_open(const char *listen, char *err, size_t errsz);
void metrics_http_close(void);

#endif
