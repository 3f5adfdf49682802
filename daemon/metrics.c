/* SPDX-License-Identifier: ISC */
/*
 * Metrics (see metrics.h). Reads droverd's state through the same view as
 * `drover status` (view.h) and writes text; changes nothing. Also the routes
 * of the metrics_listen endpoint (served by http.c): /metrics, /healthz and
 * /readyz (the health rule of health.h). Names follow Prometheus conventions:
 * counters end in _total, units are base units (seconds, bytes).
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "droverd.h"
#include "events.h"
#include "health.h"
#include "http.h"
#include "parse.h"
#include "route.h"
#include "sys.h"
#include "usage.h"
#include "view.h"
#include "xmalloc.h"

static void family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One series per pool: NAME{pool="P"} VALUE. */
static void pool_series(struct evbuffer *out, const char *name, const struct pool_view *pv,
                        uint64_t value)
{
    evbuffer_add_printf(out, "%s{pool=\"%s\"} %llu\n", name, pv->p->name,
                        (unsigned long long)value);
}

static void pool_families(struct evbuffer *out, const struct daemon_view *dv)
{
    family(out, "drover_pool_workers", "gauge", "Workers the pool should have.");
    view_foreach_pool(dv, pv) {
        evbuffer_add_printf(out, "drover_pool_workers{pool=\"%s\"} %u\n", pv->p->name,
                            pv->p->target);
    }

    family(out, "drover_pool_workers_by_state", "gauge", "Worker slots in each state.");
    view_foreach_pool(dv, pv) {
        for (int st = 0; st < SLOT_STATE__COUNT; st++)
            evbuffer_add_printf(out, "drover_pool_workers_by_state{pool=\"%s\",state=\"%s\"} %u\n",
                                pv->p->name, slot_state_name(st), pv->by_state[st]);
    }

    family(out, "drover_pool_rollout_halted", "gauge",
           "1 while the pool's last rolling restart is halted (a new worker failed to start).");
    view_foreach_pool(dv, pv) {
        pool_series(out, "drover_pool_rollout_halted", pv, pv->p->halt_reason != NULL);
    }

    family(out, "drover_pool_starts_total", "counter", "Worker processes started.");
    view_foreach_pool(dv, pv) {
        pool_series(out, "drover_pool_starts_total", pv, pv->p->starts);
    }

    family(out, "drover_pool_exits_total", "counter",
           "Worker exits by cause: clean (status 0), error (non-zero status), signal; failed "
           "counts those droverd killed as broken.");
    view_foreach_pool(dv, pv) {
        const struct pool *p = pv->p;
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

    family(out, "drover_pool_recycles_total", "counter",
           "Workers recycled gracefully, by reason: memory (memory_recycle), max_requests.");
    view_foreach_pool(dv, pv) {
        evbuffer_add_printf(out, "drover_pool_recycles_total{pool=\"%s\",reason=\"memory\"} %llu\n",
                            pv->p->name, (unsigned long long)pv->p->recycles_memory);
        if (pv->has_route)
            evbuffer_add_printf(out,
                                "drover_pool_recycles_total{pool=\"%s\",reason=\"max_requests\"} "
                                "%llu\n",
                                pv->p->name, (unsigned long long)pv->route.max_requests_reached);
    }

    family(out, "drover_pool_spawn_failures_total", "counter", "Failed forks of a worker.");
    view_foreach_pool(dv, pv) {
        pool_series(out, "drover_pool_spawn_failures_total", pv, pv->p->spawn_failures);
    }

    family(out, "drover_worker_oom_kills_total", "counter",
           "Workers the kernel's OOM killer ended inside their cgroup (memory_max).");
    view_foreach_pool(dv, pv) {
        pool_series(out, "drover_worker_oom_kills_total", pv, pv->p->oom_kills);
    }

    family(out, "drover_pool_log_dropped_bytes_total", "counter",
           "Captured output dropped because the log file could not be written.");
    view_foreach_pool(dv, pv) {
        if (pv->has_log)
            pool_series(out, "drover_pool_log_dropped_bytes_total", pv, pv->log_dropped);
    }
}

/* What each running worker uses (usage.h): from its cgroup when contained, else /proc. */
static void usage_families(struct evbuffer *out, const struct daemon_view *dv)
{
    family(out, "drover_worker_memory_bytes", "gauge",
           "Memory of the worker: its cgroup's memory.current with containment (and the memory "
           "controller), else its main process's RSS.");
    view_foreach_slot(dv, pv, sv) {
        if (sv->wu.memory_source != USAGE_NONE)
            evbuffer_add_printf(out, "drover_worker_memory_bytes{pool=\"%s\",slot=\"%u\"} %llu\n",
                                pv->p->name, sv->index, (unsigned long long)sv->wu.memory_bytes);
    }
    family(out, "drover_worker_memory_peak_bytes", "gauge",
           "Highest memory seen: the slot's cgroup's memory.peak (every worker it ran), else the "
           "worker's peak RSS (VmHWM).");
    view_foreach_slot(dv, pv, sv) {
        if (sv->wu.has_peak)
            evbuffer_add_printf(
                out, "drover_worker_memory_peak_bytes{pool=\"%s\",slot=\"%u\"} %llu\n", pv->p->name,
                sv->index, (unsigned long long)sv->wu.memory_peak_bytes);
    }
    family(out, "drover_worker_cpu_seconds_total", "counter",
           "CPU time of the worker since it started: its cgroup's (every process in it) with "
           "containment, else its main process's; starts again at 0 with each new worker.");
    view_foreach_slot(dv, pv, sv) {
        if (sv->wu.cpu_source != USAGE_NONE)
            evbuffer_add_printf(out,
                                "drover_worker_cpu_seconds_total{pool=\"%s\",slot=\"%u\"} %.6f\n",
                                pv->p->name, sv->index, (double)sv->wu.cpu_us / 1e6);
    }
    family(out, "drover_worker_pids", "gauge",
           "Processes in the worker's cgroup (with containment and the pids controller).");
    view_foreach_slot(dv, pv, sv) {
        if (sv->wu.pids_source != USAGE_NONE)
            evbuffer_add_printf(out, "drover_worker_pids{pool=\"%s\",slot=\"%u\"} %llu\n",
                                pv->p->name, sv->index, (unsigned long long)sv->wu.pids);
    }
}

static void worker_families(struct evbuffer *out, const struct daemon_view *dv)
{
    family(out, "drover_worker_state", "gauge", "1 for the state the worker slot is in.");
    view_foreach_slot(dv, pv, sv) {
        for (int st = 0; st < SLOT_STATE__COUNT; st++)
            evbuffer_add_printf(out,
                                "drover_worker_state{pool=\"%s\",slot=\"%u\",state=\"%s\"} %d\n",
                                pv->p->name, sv->index, slot_state_name(st), (int)sv->state == st);
    }

    family(out, "drover_worker_restarts_total", "counter",
           "Times the slot's worker was started again.");
    view_foreach_slot(dv, pv, sv) {
        evbuffer_add_printf(out, "drover_worker_restarts_total{pool=\"%s\",slot=\"%u\"} %u\n",
                            pv->p->name, sv->index, sv->s->fsm.restarts);
    }

    family(out, "drover_worker_crashes_total", "counter", "Exits droverd did not ask for.");
    view_foreach_slot(dv, pv, sv) {
        evbuffer_add_printf(out, "drover_worker_crashes_total{pool=\"%s\",slot=\"%u\"} %u\n",
                            pv->p->name, sv->index, sv->s->fsm.crashes);
    }

    family(out, "drover_worker_uptime_seconds", "gauge",
           "Time since the worker was started (0 when down).");
    view_foreach_slot(dv, pv, sv) {
        evbuffer_add_printf(out, "drover_worker_uptime_seconds{pool=\"%s\",slot=\"%u\"} %.3f\n",
                            pv->p->name, sv->index, sv->uptime_s >= 0 ? sv->uptime_s : 0.0);
    }

    usage_families(out, dv);

    family(out, "drover_worker_requests_total", "counter",
           "Requests (or connections) the worker slot served.");
    view_foreach_slot(dv, pv, sv) {
        evbuffer_add_printf(out, "drover_worker_requests_total{pool=\"%s\",slot=\"%u\"} %llu\n",
                            pv->p->name, sv->index, (unsigned long long)sv->s->requests);
    }
}

/* The route counters exported per pool, in the order they are written. */
static const struct {
    const char *name, *type, *help;
    size_t offset; /* of a uint64_t in struct route_stats */
} route_counters[] = {
    {"drover_pool_connections", "gauge", "Open client connections.",
     offsetof(struct route_stats, connections)},
    {"drover_pool_queue_depth", "gauge", "Requests waiting for a worker.",
     offsetof(struct route_stats, queued)},
    {"drover_pool_inflight", "gauge", "Requests being handled by workers.",
     offsetof(struct route_stats, inflight)},
    {"drover_pool_requests_total", "counter", "Requests answered by a worker.",
     offsetof(struct route_stats, requests)},
    {"drover_pool_retries_total", "counter",
     "Requests given to another worker after theirs died or timed out.",
     offsetof(struct route_stats, retries)},
    {"drover_pool_failures_total", "counter",
     "Requests answered FAILED or TIMEOUT after max_attempts.",
     offsetof(struct route_stats, failed)},
    {"drover_pool_timeouts_total", "counter", "Worker request timeouts.",
     offsetof(struct route_stats, timeouts)},
    {"drover_pool_busy_total", "counter", "Requests answered BUSY (queue full).",
     offsetof(struct route_stats, busy)},
    {"drover_pool_bad_frames_total", "counter",
     "Frames larger than max_frame (answered TOOBIG, then the connection closed) or unfinished "
     "within frame_timeout (the connection closed).",
     offsetof(struct route_stats, bad_frames)},
    {"drover_pool_queue_timeouts_total", "counter",
     "Requests answered TIMEOUT because no worker took them within queue_timeout.",
     offsetof(struct route_stats, queue_timeouts)},
    {"drover_pool_abandoned_total", "counter",
     "Requests dropped before delivery to a worker because their client had gone.",
     offsetof(struct route_stats, abandoned)},
    {"drover_pool_buffered_bytes", "gauge",
     "Request and reply bytes the pool's client connections hold (against pool_buffer).",
     offsetof(struct route_stats, buffered)},
    {"drover_pool_tls_handshakes_total", "counter",
     "TLS handshakes completed on the pool's tcp: listener (tls_cert).",
     offsetof(struct route_stats, tls_handshakes)},
    {"drover_pool_tls_handshake_failures_total", "counter",
     "TLS handshakes that failed (no or a wrong client certificate, plaintext, garbage); the "
     "connection was closed.",
     offsetof(struct route_stats, tls_handshake_failures)},
    {"drover_pool_tls_handshake_timeouts_total", "counter",
     "TLS handshakes not finished within tls_handshake_timeout; the connection was closed.",
     offsetof(struct route_stats, tls_handshake_timeouts)},
};

static void route_families(struct evbuffer *out, const struct daemon_view *dv)
{
    bool any = false;

    view_foreach_pool(dv, pv) {
        any |= pv->has_route;
    }
    if (!any)
        return;

    for (size_t c = 0; c < sizeof(route_counters) / sizeof(route_counters[0]); c++) {
        family(out, route_counters[c].name, route_counters[c].type, route_counters[c].help);
        view_foreach_pool(dv, pv) {
            uint64_t value;
            if (!pv->has_route)
                continue;
            memcpy(&value, (const char *)&pv->route + route_counters[c].offset, sizeof(value));
            pool_series(out, route_counters[c].name, pv, value);
        }
    }

    family(out, "drover_request_duration_seconds", "histogram",
           "Time from a request read from its client to its reply being queued.");
    view_foreach_pool(dv, pv) {
        const struct route_stats *rs = &pv->route;
        uint64_t cumulative = 0;
        if (!pv->has_route || rs->latency_buckets == NULL)
            continue;
        for (size_t b = 0; b < rs->nbuckets; b++) {
            cumulative += rs->latency_buckets[b];
            evbuffer_add_printf(
                out, "drover_request_duration_seconds_bucket{pool=\"%s\",le=\"%g\"} %llu\n",
                pv->p->name, route_latency_bounds_s[b], (unsigned long long)cumulative);
        }
        evbuffer_add_printf(out,
                            "drover_request_duration_seconds_bucket{pool=\"%s\",le=\"+Inf\"} %llu\n"
                            "drover_request_duration_seconds_sum{pool=\"%s\"} %.6f\n"
                            "drover_request_duration_seconds_count{pool=\"%s\"} %llu\n",
                            pv->p->name, (unsigned long long)rs->latency_count, pv->p->name,
                            rs->latency_sum_s, pv->p->name, (unsigned long long)rs->latency_count);
    }
}

void metrics_render(struct evbuffer *out)
{
    struct daemon_view dv;
    struct health_report hr;

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
    family(out, "drover_events_total", "counter", "Worker state changes recorded (drover events).");
    evbuffer_add_printf(out, "drover_events_total %llu\n", (unsigned long long)events_recorded());
    family(out, "drover_events_dropped_total", "counter",
           "Events not sent to an `events -f` reader that fell too far behind.");
    evbuffer_add_printf(out, "drover_events_dropped_total %llu\n",
                        (unsigned long long)events_dropped());
    family(out, "drover_http_rejected_total", "counter",
           "metrics_listen connections closed unanswered (over the cap, malformed, too slow).");
    evbuffer_add_printf(out, "drover_http_rejected_total %llu\n",
                        (unsigned long long)http_rejected());
    family(out, "drover_loop_pauses_total", "counter",
           "Pauses between event loop passes while every worker held a request behind the one it "
           "was on.");
    evbuffer_add_printf(out, "drover_loop_pauses_total %llu\n",
                        (unsigned long long)droverd.loop_pauses);
    family(out, "drover_loop_paused_seconds_total", "counter", "The time those pauses asked for.");
    evbuffer_add_printf(out, "drover_loop_paused_seconds_total %.6f\n",
                        (double)droverd.loop_paused_us / 1e6);
    family(out, "drover_http_connections", "gauge", "Open metrics_listen connections.");
    evbuffer_add_printf(out, "drover_http_connections %u\n", http_clients());
    health_check(&hr, NULL);
    family(out, "drover_healthy", "gauge",
           "1 when drover health would exit 0 (what GET /readyz answers 200 to).");
    evbuffer_add_printf(out, "drover_healthy %d\n", hr.healthy ? 1 : 0);
    health_report_free(&hr);
    daemon_view_fill(&dv, NULL, VIEW_USAGE_PEAK);
    family(out, "drover_adopted_processes", "gauge",
           "Processes droverd adopted (orphans reparented to it), ended at shutdown.");
    evbuffer_add_printf(out, "drover_adopted_processes %u\n", dv.adopted);
    pool_families(out, &dv);
    worker_families(out, &dv);
    route_families(out, &dv);
    daemon_view_free(&dv);
}

/* GET /metrics */
static int http_metrics(struct evbuffer *body, const char **content_type)
{
    metrics_render(body);
    *content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 200;
}

/* GET /healthz: answering at all says droverd's loop turns. */
static int http_healthz(struct evbuffer *body, const char **content_type)
{
    (void)content_type;
    evbuffer_add_printf(body, "{\"status\":\"ok\",\"pid\":%d,\"uptime_seconds\":%.3f}\n",
                        (int)droverd.pid, (double)(mono_now() - droverd.started_at) / 1e6);
    return 200;
}

/* GET /readyz: healthy by the rule of health.h (which counts a shutdown asked for), else 503. */
static int http_readyz(struct evbuffer *body, const char **content_type)
{
    struct health_report r;
    bool ok;

    (void)content_type;
    health_check(&r, NULL);
    ok = r.healthy;
    health_json(body, &r);
    health_report_free(&r);
    return ok ? 200 : 503;
}

static const struct http_route http_routes[] = {
    {"/metrics", http_metrics},
    {"/healthz", http_healthz},
    {"/readyz", http_readyz},
};

int metrics_http_open(const char *listen, char *err, size_t errsz)
{
    return http_open(listen, http_routes, sizeof(http_routes) / sizeof(http_routes[0]), err, errsz);
}

void metrics_http_close(void)
{
    http_close();
}
