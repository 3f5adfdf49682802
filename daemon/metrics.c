/* SPDX-License-Identifier: ISC */
/*
 * Metrics (see metrics.h). Reads droverd's state and writes text; changes
 * nothing. Names follow Prometheus conventions: counters end in _total,
 * units are base units (seconds, bytes).
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "droverd.h"
#include "output.h"
#include "parse.h"
#include "pool.h"
#include "route.h"
#include "sys.h"
#include "xmalloc.h"

static struct evhttp *http;

static void family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void pool_families(struct evbuffer *out)
{
    struct pool *p;
    static const char *const states[] = {"stopped",  "starting", "running",
                                         "stopping", "backoff",  "fatal"};

    family(out, "drover_pool_workers", "gauge", "Workers the pool should have.");
    TAILQ_FOREACH(p, &droverd.pools, entry)
    if (!p->removing)
        evbuffer_add_printf(out, "drover_pool_workers{pool=\"%s\"} %u\n", p->name, p->target);

    family(out, "drover_pool_workers_by_state", "gauge", "Worker slots in each state.");
    TAILQ_FOREACH(p, &droverd.pools, entry)
    {
        unsigned count[6] = {0};
        if (p->removing)
            continue;
        for (unsigned i = 0; i < p->nslots; i++)
            if (p->slots[i] != NULL)
                count[p->slots[i]->fsm.state]++;
        for (int st = 0; st < 6; st++)
            evbuffer_add_printf(out, "drover_pool_workers_by_state{pool=\"%s\",state=\"%s\"} %u\n",
                                p->name, states[st], count[st]);
    }

    family(out, "drover_pool_starts_total", "counter", "Worker processes started.");
    TAILQ_FOREACH(p, &droverd.pools, entry)
    if (!p->removing)
        evbuffer_add_printf(out, "drover_pool_starts_total{pool=\"%s\"} %llu\n", p->name,
                            (unsigned long long)p->starts);

    family(out, "drover_pool_exits_total", "counter",
           "Worker exits by cause: clean (status 0), error (non-zero status), signal; failed "
           "counts those droverd killed as broken.");
    TAILQ_FOREACH(p, &droverd.pools, entry)
    {
        if (p->removing)
            continue;
        evbuffer_add_printf(out,
                            "drover_pool_exits_total{pool=\"%s\",cause=\"clean\"} %llu\n"
                            "drover_pool_exits_total{pool=\"%s\",cause=\"error\"} %llu\n"
                            "drover_pool_exits_total{pool=\"%s\",cause=\"signal\"} %llu\n"
                            "drover_pool_exits_total{pool=\"%s\",cause=\"failed\"} %llu\n",
                            p->name, (unsigned long long)p->exits_clean, p->name,
                            (unsigned long long)p->exits_error, p->name,
                            (unsigned long long)p->exits_signal, p->name,
                            (unsigned long long)p->exits_failed);
    }

    family(out, "drover_pool_spawn_failures_total", "counter", "Failed forks of a worker.");
    TAILQ_FOREACH(p, &droverd.pools, entry)
    if (!p->removing)
        evbuffer_add_printf(out, "drover_pool_spawn_failures_total{pool=\"%s\"} %llu\n", p->name,
                            (unsigned long long)p->spawn_failures);

    family(out, "drover_pool_log_dropped_bytes_total", "counter",
           "Captured output dropped because the log file could not be written.");
    TAILQ_FOREACH(p, &droverd.pools, entry)
    if (!p->removing && p->log != NULL)
        evbuffer_add_printf(out, "drover_pool_log_dropped_bytes_total{pool=\"%s\"} %llu\n", p->name,
                            (unsigned long long)pool_log_dropped(p->log));
}

static void worker_families(struct evbuffer *out)
{
    struct pool *p;
    uint64_t now = mono_now();
    static const char *const states[] = {"stopped",  "starting", "running",
                                         "stopping", "backoff",  "fatal"};

#define EACH_SLOT(body)                                                                            \
    TAILQ_FOREACH(p, &droverd.pools, entry)                                                        \
    {                                                                                              \
        if (p->removing)                                                                           \
            continue;                                                                              \
        for (unsigned i = 0; i < p->nslots; i++) {                                                 \
            struct slot *s = p->slots[i];                                                          \
            if (s == NULL)                                                                         \
                continue;                                                                          \
            body                                                                                   \
        }                                                                                          \
    }

    family(out, "drover_worker_state", "gauge", "1 for the state the worker slot is in.");
    EACH_SLOT(for (int st = 0; st < 6; st++) evbuffer_add_printf(
                  out, "drover_worker_state{pool=\"%s\",slot=\"%u\",state=\"%s\"} %d\n", p->name, i,
                  states[st], (int)s->fsm.state == st);)
    family(out, "drover_worker_restarts_total", "counter",
           "Times the slot's worker was started again.");
    EACH_SLOT(evbuffer_add_printf(out, "drover_worker_restarts_total{pool=\"%s\",slot=\"%u\"} %u\n",
                                  p->name, i, s->fsm.restarts);)
    family(out, "drover_worker_crashes_total", "counter", "Exits droverd did not ask for.");
    EACH_SLOT(evbuffer_add_printf(out, "drover_worker_crashes_total{pool=\"%s\",slot=\"%u\"} %u\n",
                                  p->name, i, s->fsm.crashes);)
    family(out, "drover_worker_uptime_seconds", "gauge",
           "Time since the worker was started (0 when down).");
    EACH_SLOT(evbuffer_add_printf(
                  out, "drover_worker_uptime_seconds{pool=\"%s\",slot=\"%u\"} %.3f\n", p->name, i,
                  s->pid > 0 ? (double)(now - s->fsm.started_at) / 1e6 : 0.0);)
    family(out, "drover_worker_requests_total", "counter",
           "Requests (or connections) the worker slot served.");
    EACH_SLOT(evbuffer_add_printf(out,
                                  "drover_worker_requests_total{pool=\"%s\",slot=\"%u\"} %llu\n",
                                  p->name, i, (unsigned long long)s->requests);)
#undef EACH_SLOT
}

static void route_families(struct evbuffer *out)
{
    struct pool *p;
    bool any = false;

    TAILQ_FOREACH(p, &droverd.pools, entry)
    any |= p->route != NULL && !p->removing;
    if (!any)
        return;

#define EACH_ROUTE(metric, type, help, field)                                                      \
    family(out, metric, type, help);                                                               \
    TAILQ_FOREACH(p, &droverd.pools, entry)                                                        \
    {                                                                                              \
        struct route_stats rs;                                                                     \
        if (p->route == NULL || p->removing)                                                       \
            continue;                                                                              \
        route_get_stats(p->route, &rs);                                                            \
        evbuffer_add_printf(out, "%s{pool=\"%s\"} %llu\n", metric, p->name,                        \
                            (unsigned long long)rs.field);                                         \
    }
    EACH_ROUTE("drover_pool_connections", "gauge", "Open client connections.", connections)
    EACH_ROUTE("drover_pool_queue_depth", "gauge", "Requests waiting for a worker.", queued)
    EACH_ROUTE("drover_pool_inflight", "gauge", "Requests being handled by workers.", inflight)
    EACH_ROUTE("drover_pool_requests_total", "counter", "Requests answered by a worker.", requests)
    EACH_ROUTE("drover_pool_retries_total", "counter",
               "Requests given to another worker after theirs died or timed out.", retries)
    EACH_ROUTE("drover_pool_failures_total", "counter",
               "Requests answered FAILED or TIMEOUT after max_attempts.", failed)
    EACH_ROUTE("drover_pool_timeouts_total", "counter", "Worker request timeouts.", timeouts)
    EACH_ROUTE("drover_pool_busy_total", "counter", "Requests answered BUSY (queue full).", busy)
    EACH_ROUTE("drover_pool_bad_frames_total", "counter",
               "Malformed or oversized frames (the connection was closed).", bad_frames)
#undef EACH_ROUTE

    family(out, "drover_request_duration_seconds", "histogram",
           "Time from a request read from its client to its reply being queued.");
    TAILQ_FOREACH(p, &droverd.pools, entry)
    {
        struct route_stats rs;
        uint64_t cumulative = 0;
        if (p->route == NULL || p->removing)
            continue;
        route_get_stats(p->route, &rs);
        if (rs.latency_buckets == NULL)
            continue;
        for (size_t b = 0; b < rs.nbuckets; b++) {
            cumulative += rs.latency_buckets[b];
            evbuffer_add_printf(
                out, "drover_request_duration_seconds_bucket{pool=\"%s\",le=\"%g\"} %llu\n",
                p->name, route_latency_bounds_s[b], (unsigned long long)cumulative);
        }
        evbuffer_add_printf(out,
                            "drover_request_duration_seconds_bucket{pool=\"%s\",le=\"+Inf\"} %llu\n"
                            "drover_request_duration_seconds_sum{pool=\"%s\"} %.6f\n"
                            "drover_request_duration_seconds_count{pool=\"%s\"} %llu\n",
                            p->name, (unsigned long long)rs.latency_count, p->name,
                            rs.latency_sum_s, p->name, (unsigned long long)rs.latency_count);
    }
}

void metrics_render(struct evbuffer *out)
{
    family(out, "drover_up", "gauge", "1 while droverd runs.");
    evbuffer_add_printf(out, "drover_up 1\n");
    family(out, "drover_start_time_seconds", "gauge", "When droverd started, in Unix time.");
    evbuffer_add_printf(out, "drover_start_time_seconds %.3f\n", wall_of_mono(droverd.started_at));
    family(out, "drover_reloads_total", "counter", "Configuration reloads applied.");
    evbuffer_add_printf(out, "drover_reloads_total %llu\n", (unsigned long long)droverd.reloads);
    family(out, "drover_reload_failures_total", "counter", "Reloads refused for config errors.");
    evbuffer_add_printf(out, "drover_reload_failures_total %llu\n",
                        (unsigned long long)droverd.reload_failures);
    family(out, "drover_orphans_reaped_total", "counter", "Reparented processes reaped.");
    evbuffer_add_printf(out, "drover_orphans_reaped_total %llu\n",
                        (unsigned long long)droverd.orphans_reaped);
    family(out, "drover_control_rejected_total", "counter",
           "Control connections refused (not permitted, malformed, over the cap).");
    evbuffer_add_printf(out, "drover_control_rejected_total %llu\n",
                        (unsigned long long)control_rejected());
    pool_families(out);
    worker_families(out);
    route_families(out);
}

static void http_metrics_cb(struct evhttp_request *req, void *arg)
{
    struct evbuffer *out;

    (void)arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
        evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }
    out = evbuffer_new();
    metrics_render(out);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void http_other_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    evhttp_send_error(req, 404, "Not Found (try /metrics)");
}

int metrics_http_open(const char *listen, char *err, size_t errsz)
{
    char host[64];
    const char *hp = listen + 4, *colon;
    uint64_t port;

    if (strncmp(listen, "tcp:", 4) != 0)
        return parse_error(err, errsz, "metrics_listen must be tcp:HOST:PORT");
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (close == NULL)
            return parse_error(err, errsz, "bad metrics_listen %s", listen);
        snprintf(host, sizeof(host), "%.*s", (int)(close - hp - 1), hp + 1);
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (colon == NULL)
            return parse_error(err, errsz, "bad metrics_listen %s", listen);
        snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
    }
    if (parse_uint(colon + 1, 1, 65535, &port, err, errsz) != 0)
        return -1;
    http = evhttp_new(droverd.base);
    if (http == NULL)
        return parse_error(err, errsz, "evhttp_new failed");
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(http, 10);
    evhttp_set_max_headers_size(http, 8192);
    evhttp_set_max_body_size(http, 0);
    evhttp_set_cb(http, "/metrics", http_metrics_cb, NULL);
    evhttp_set_gencb(http, http_other_cb, NULL);
    if (evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port) == NULL) {
        evhttp_free(http);
        http = NULL;
        return parse_error(err, errsz, "cannot listen on %s", listen);
    }
    return 0;
}

void metrics_http_close(void)
{
    if (http != NULL) {
        evhttp_free(http);
        http = NULL;
    }
}
