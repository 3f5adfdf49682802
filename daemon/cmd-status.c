/* SPDX-License-Identifier: ISC */
/*
 * drover status [POOL] [--json]: every slot's pid, state, uptime, restarts,
 * last exit, CPU, RSS, requests and why it is where it is; then one line per
 * pool. The JSON form is documented in docs/status-json.md and stable.
 */
#include <event2/buffer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "cmd.h"
#include "control.h"
#include "droverd.h"
#include "out.h"
#include "parse.h"
#include "pool.h"
#include "route.h"
#include "sys.h"
#include "usage.h"
#include "view.h"
#include "xmalloc.h"

#define STATUS_JSON_VERSION 1

static void status_text(struct evbuffer *out, const struct daemon_view *dv, long slot, size_t width,
                        bool pools_only)
{
    static const char *const slot_cols[] = {"POOL",   "SLOT",     "PID",       "STATE",
                                            "UPTIME", "RESTARTS", "LAST EXIT", "CPU",
                                            "RSS",    "REQS",     "INFO",      "CGROUP"};
    static const char *const pool_cols[] = {"POOL",  "WORKERS",    "MODE",    "LISTEN",
                                            "QUEUE", "INFLIGHT",   "RETRIES", "FAILED",
                                            "BUSY",  "LOG DROPPED"};
    /* With containment the slot table ends with each worker's cgroup. */
    size_t nslot_cols = sizeof(slot_cols) / sizeof(slot_cols[0]) - (cgroup_enabled() ? 0 : 1);
    struct table *slots = table_new(nslot_cols, slot_cols);
    struct table *pools = table_new(sizeof(pool_cols) / sizeof(pool_cols[0]), pool_cols);

    view_foreach_pool(dv, pv) {
        const char *name = pv->p->name;

        for (const struct slot_view *v = pv->slots; v < pv->slots + pv->nslots; v++) {
            char up[32] = "-", rss[32] = "-";
            if (slot >= 0 && v->index != (unsigned long)slot)
                continue;
            if (v->uptime_s >= 0)
                format_duration_short((uint64_t)(v->uptime_s * 1e6), up, sizeof(up));
            if (v->has_usage)
                format_size(v->usage.rss_bytes, rss, sizeof(rss));
            table_cell(slots, "%s", name);
            table_cell(slots, "%u", v->index);
            if (v->s->pid > 0)
                table_cell(slots, "%d", (int)v->s->pid);
            else
                table_cell(slots, "-");
            table_cell(slots, "%s%s", slot_state_name(v->state), v->s->removing ? "*" : "");
            table_cell(slots, "%s", up);
            table_cell(slots, "%u", v->s->fsm.restarts);
            table_cell(slots, "%s", v->last_exit);
            /* The recent figure, as top shows; the lifetime one until a window exists. */
            if (v->has_usage)
                table_cell(slots, "%.1f%%", v->cpu_recent >= 0 ? v->cpu_recent : v->cpu_percent);
            else
                table_cell(slots, "-");
            table_cell(slots, "%s", rss);
            table_cell(slots, "%llu", (unsigned long long)v->s->requests);
            table_cell(slots, "%s", v->info);
            if (cgroup_enabled())
                table_cell(slots, "%s", v->cgroup != NULL ? v->cgroup : "-");
        }
        table_cell(pools, "%s", name);
        table_cell(pools, "%u/%u", pv->running, pv->p->target);
        if (pv->has_route) {
            const struct route_stats *rs = &pv->route;
            table_cell(pools, "%s", rs->mode);
            table_cell(pools, "%s", rs->listen);
            table_cell(pools, "%llu", (unsigned long long)rs->queued);
            table_cell(pools, "%llu", (unsigned long long)rs->inflight);
            table_cell(pools, "%llu", (unsigned long long)rs->retries);
            table_cell(pools, "%llu", (unsigned long long)rs->failed);
            table_cell(pools, "%llu", (unsigned long long)rs->busy);
        } else {
            for (int k = 0; k < 7; k++)
                table_cell(pools, "-");
        }
        if (pv->has_log)
            table_cell(pools, "%llu", (unsigned long long)pv->log_dropped);
        else
            table_cell(pools, "-");
    }
    /* The summary first: with many workers it must not scroll away. */
    if (table_rows(pools) > 0) {
        table_render_width(pools, out, width);
        view_foreach_pool(dv, pv) {
            if (pv->p->halt_reason != NULL) {
                char *line;
                xasprintf(&line, "pool %s: rollout halted: %s", pv->p->name, pv->p->halt_reason);
                text_line_width(out, line, width);
                free(line);
            }
        }
    } else {
        evbuffer_add_printf(out, "no pools configured\n");
    }
    if (table_rows(slots) > 0 && !pools_only) {
        evbuffer_add(out, "\n", 1);
        table_render_width(slots, out, width);
    }
    if (dv->adopted > 0)
        evbuffer_add_printf(out, "\nadopted: %u process%s (orphans reparented to droverd)\n",
                            dv->adopted, dv->adopted == 1 ? "" : "es");

    table_free(slots);
    table_free(pools);
}

/* Seconds rounded to milliseconds; null for "none" (< 0). */
static void status_kv_seconds(struct json *j, const char *key, double v)
{
    if (v < 0)
        json_kv_null(j, key);
    else
        json_kv_double(j, key, round(v * 1000) / 1000);
}

/* An integer that may be absent. */
static void status_kv_int_or_null(struct json *j, const char *key, bool present, int64_t v)
{
    if (present)
        json_kv_int(j, key, v);
    else
        json_kv_null(j, key);
}

static void status_json_exit(struct json *j, const struct slot_view *v)
{
    const struct slot_fsm *f = &v->s->fsm;
    int ws = f->exit_wstatus;
    char how[64];

    if (!f->has_exit) {
        json_kv_null(j, "last_exit");
        return;
    }
    describe_wait_status(ws, how, sizeof(how));
    if (v->s->oom_exit != NULL)
        snprintf(how, sizeof(how), "%s", v->s->oom_exit);
    json_kv_object(j, "last_exit");
    status_kv_int_or_null(j, "code", WIFEXITED(ws), WIFEXITED(ws) ? WEXITSTATUS(ws) : 0);
    json_kv_str(j, "signal", WIFSIGNALED(ws) ? signal_name(WTERMSIG(ws)) : NULL);
    json_kv_str(j, "description", how);
    status_kv_seconds(j, "seconds_ago", v->exit_ago_s);
    json_kv_double(j, "time", round(wall_of_mono(f->exit_at) * 1000) / 1000);
    json_kv_bool(j, "crash", f->exit_was_crash);
    json_kv_str(j, "reason", v->s->oom_exit != NULL ? v->s->oom_exit : f->fail_reason);
    json_object_end(j);
}

/* Memory, pids and where each figure came from (usage.h); the last memory recycle. */
static void status_json_usage(struct json *j, const struct slot_view *v)
{
    const struct worker_usage *u = &v->wu;

    status_kv_int_or_null(j, "memory_bytes", u->memory_source != USAGE_NONE,
                          (int64_t)u->memory_bytes);
    status_kv_int_or_null(j, "memory_peak_bytes", u->has_peak, (int64_t)u->memory_peak_bytes);
    status_kv_int_or_null(j, "pids", u->pids_source != USAGE_NONE, (int64_t)u->pids);
    json_kv_object(j, "usage_source");
    json_kv_str(j, "memory", usage_source_name(u->memory_source));
    json_kv_str(j, "cpu", usage_source_name(u->cpu_source));
    json_kv_str(j, "pids", usage_source_name(u->pids_source));
    json_object_end(j);
    if (!v->has_recycle) {
        json_kv_null(j, "recycle");
        return;
    }
    json_kv_object(j, "recycle");
    json_kv_str(j, "reason", v->recycle.why);
    json_kv_bool(j, "pending", v->recycle.pending);
    status_kv_seconds(j, "seconds_ago", (double)(mono_now() - v->recycle.at) / 1e6);
    json_object_end(j);
}

static void status_json_slot(struct json *j, const struct slot_view *v)
{
    const struct slot *s = v->s;

    json_object_begin(j);
    json_kv_uint(j, "slot", v->index);
    status_kv_int_or_null(j, "pid", s->pid > 0, s->pid);
    json_kv_str(j, "state", slot_state_name(v->state));
    json_kv_bool(j, "started", v->state == SLOT_RUNNING && s->fsm.up);
    json_kv_bool(j, "removing", s->removing);
    status_kv_seconds(j, "uptime_seconds", v->uptime_s);
    json_kv_uint(j, "restarts", s->fsm.restarts);
    json_kv_uint(j, "crashes", s->fsm.crashes);
    json_kv_uint(j, "crash_streak", s->fsm.streak);
    status_kv_seconds(j, "next_start_in_seconds", v->next_start_s);
    status_json_exit(j, v);
    status_kv_int_or_null(j, "cpu", v->cpu >= 0, v->cpu);
    status_kv_seconds(j, "cpu_seconds", v->has_usage ? (double)v->usage.cpu_us / 1e6 : -1);
    status_kv_seconds(j, "cpu_percent", v->has_usage ? v->cpu_percent : -1);
    status_kv_seconds(j, "cpu_percent_recent", v->cpu_recent);
    status_kv_seconds(j, "cpu_recent_window_seconds",
                      v->cpu_recent >= 0 ? v->cpu_recent_window_s : -1);
    if (v->has_usage)
        json_kv_uint(j, "rss_bytes", v->usage.rss_bytes);
    else
        json_kv_null(j, "rss_bytes");
    status_json_usage(j, v);
    json_kv_uint(j, "requests", s->requests);
    json_kv_uint(j, "inflight", v->inflight);
    json_kv_str(j, "status_text", s->notify_status);
    json_kv_str(j, "error", s->exec_error);
    json_kv_str(j, "info", v->info);
    json_kv_str(j, "cgroup", v->cgroup);
    json_object_end(j);
}

static void status_json_route(struct json *j, const struct pool_view *pv)
{
    const struct route_stats *rs = &pv->route;

    if (!pv->has_route) {
        json_kv_null(j, "route");
        return;
    }
    json_kv_object(j, "route");
    json_kv_str(j, "mode", rs->mode);
    json_kv_str(j, "listen", rs->listen);
    json_kv_uint(j, "connections", rs->connections);
    json_kv_uint(j, "queued", rs->queued);
    json_kv_uint(j, "inflight", rs->inflight);
    json_kv_uint(j, "requests", rs->requests);
    json_kv_uint(j, "retries", rs->retries);
    json_kv_uint(j, "failed", rs->failed);
    json_kv_uint(j, "timeouts", rs->timeouts);
    json_kv_uint(j, "busy", rs->busy);
    json_kv_uint(j, "queue_timeouts", rs->queue_timeouts);
    json_kv_uint(j, "abandoned", rs->abandoned);
    json_kv_uint(j, "buffered", rs->buffered);
    if (rs->tls) {
        json_kv_object(j, "tls");
        json_kv_uint(j, "handshakes", rs->tls_handshakes);
        json_kv_uint(j, "handshake_failures", rs->tls_handshake_failures);
        json_kv_uint(j, "handshake_timeouts", rs->tls_handshake_timeouts);
        json_kv_uint(j, "handshaking", rs->tls_handshaking);
        json_object_end(j);
    } else {
        json_kv_null(j, "tls");
    }
    json_object_end(j);
}

/* What workers = auto counted, and why (cpulimit.h). */
static void status_json_cpus(struct json *j, const struct config *cfg)
{
    char detail[768];

    cpu_limit_describe(&cfg->cpu, detail, sizeof(detail));
    json_kv_object(j, "cpus");
    json_kv_uint(j, "count", cfg->ncpu);
    json_kv_str(j, "source", cpu_limit_source_name(cfg->cpu.source));
    json_kv_str(j, "detail", detail);
    json_kv_uint(j, "affinity", cfg->cpu.affinity);
    if (cfg->cpu.cpuset != 0)
        json_kv_uint(j, "cpuset", cfg->cpu.cpuset);
    else
        json_kv_null(j, "cpuset");
    if (cfg->cpu.quota_us != 0)
        json_kv_double(j, "quota", (double)cfg->cpu.quota_us / (double)cfg->cpu.period_us);
    else
        json_kv_null(j, "quota");
    json_object_end(j);
}

/* The format is documented in docs/status-json.md: change both together. */
/* Whether workers are contained, and why (not): the last line of the whole status. */
static void status_text_containment(struct evbuffer *out, size_t width)
{
    char *line;

    if (cgroup_enabled())
        xasprintf(&line, "containment: on, a cgroup per worker below %s (%s)", cgroup_base(),
                  cgroup_reason());
    else
        xasprintf(&line, "containment: off, no cgroups (%s)", cgroup_reason());
    evbuffer_add(out, "\n", 1);
    text_line_width(out, line, width);
    free(line);
}

/*
 * Pools a reload removed (or is re-creating) whose workers are still
 * stopping: not in the table, but their processes still run. Calls
 * each(pool, pids, n, arg) for every such pool.
 */
static void foreach_stopping_pool(void (*each)(const struct pool *p, const pid_t *pids, size_t n,
                                               void *arg),
                                  void *arg)
{
    const struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry) {
        pid_t *pids;
        size_t n = 0;
        if (!p->removing)
            continue;
        pids = xcalloc(p->nslots + 1, sizeof(*pids));
        for (unsigned i = 0; i < p->nslots; i++)
            if (p->slots[i] != NULL && slot_state_has_process(p->slots[i]->fsm.state))
                pids[n++] = p->slots[i]->pid;
        if (n > 0)
            each(p, pids, n, arg);
        free(pids);
    }
}

static void stopping_text(const struct pool *p, const pid_t *pids, size_t n, void *arg)
{
    struct evbuffer *out = arg;

    evbuffer_add_printf(out, "pool %s: %s, %zu worker%s still stopping (pid", p->name,
                        p->recreate_cfg != NULL ? "being re-created" : "removed", n,
                        n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++)
        evbuffer_add_printf(out, " %ld", (long)pids[i]);
    evbuffer_add(out, ")\n", 2);
}

static void stopping_json(const struct pool *p, const pid_t *pids, size_t n, void *arg)
{
    struct json *j = arg;

    json_object_begin(j);
    json_kv_str(j, "pool", p->name);
    json_kv_bool(j, "recreating", p->recreate_cfg != NULL);
    json_kv_array(j, "pids");
    for (size_t i = 0; i < n; i++)
        json_int(j, pids[i]);
    json_array_end(j);
    json_object_end(j);
}

static void status_json(struct evbuffer *out, const struct daemon_view *dv, long slot)
{
    struct json j;

    json_init(&j, out);
    json_object_begin(&j);
    json_kv_uint(&j, "version", STATUS_JSON_VERSION);
    json_kv_object(&j, "daemon");
    json_kv_int(&j, "pid", droverd.pid);
    json_kv_double(&j, "uptime_seconds", round((double)(dv->now - droverd.started_at) / 1e3) / 1e3);
    json_kv_str(&j, "config", droverd.config_path);
    json_kv_bool(&j, "shutting_down", droverd.shutting_down);
    json_kv_uint(&j, "adopted", dv->adopted);
    json_object_end(&j);
    status_json_cpus(&j, droverd.config);
    json_kv_object(&j, "containment");
    json_kv_bool(&j, "cgroups", cgroup_enabled());
    json_kv_str(&j, "cgroup", cgroup_base());
    json_kv_str(&j, "reason", cgroup_reason());
    json_object_end(&j);
    json_kv_array(&j, "pools");
    view_foreach_pool(dv, pv) {
        json_object_begin(&j);
        json_kv_str(&j, "name", pv->p->name);
        json_kv_uint(&j, "workers", pv->p->target);
        json_kv_uint(&j, "running", pv->running);
        json_kv_uint(&j, "started", pv->started);
        json_kv_bool(&j, "rolling", pv->p->rolling);
        json_kv_str(&j, "rollout_halted", pv->p->halt_reason);
        json_kv_str(&j, "command", pv->p->cfg->command);
        json_kv_str(&j, "log_file", pv->has_log ? pv->log_path : NULL);
        json_kv_uint(&j, "log_dropped_bytes", pv->has_log ? pv->log_dropped : 0);
        status_json_route(&j, pv);
        json_kv_array(&j, "slots");
        for (const struct slot_view *v = pv->slots; v < pv->slots + pv->nslots; v++)
            if (slot < 0 || v->index == (unsigned long)slot)
                status_json_slot(&j, v);
        json_array_end(&j);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_kv_array(&j, "stopping");
    foreach_stopping_pool(stopping_json, &j);
    json_array_end(&j);
    json_object_end(&j);
}

static enum cmd_retval cmd_status_exec(struct cmd_ctx *ctx)
{
    struct daemon_view dv;
    struct evbuffer *out = evbuffer_new();

    /* The text has no memory peak column: one /proc file fewer per worker. */
    daemon_view_fill(&dv, ctx->pool, ctx->args.json ? VIEW_USAGE_PEAK : VIEW_USAGE);
    if (ctx->args.json)
        status_json(out, &dv, ctx->slot);
    else
        status_text(out, &dv, ctx->slot, ctx->args.wide ? 0 : ctx->args.width,
                    ctx->args.pools_only);
    /* The daemon-wide lines go with the whole status, not with one pool's rows. */
    if (!ctx->args.json && ctx->pool == NULL) {
        struct evbuffer *stopping = evbuffer_new();
        foreach_stopping_pool(stopping_text, stopping);
        if (evbuffer_get_length(stopping) > 0) {
            evbuffer_add(out, "\n", 1);
            evbuffer_add_buffer(out, stopping);
        }
        evbuffer_free(stopping);
        status_text_containment(out, ctx->args.wide ? 0 : ctx->args.width);
    }
    daemon_view_free(&dv);
    control_out_buffer(ctx->client, out);
    evbuffer_free(out);
    return CMD_DONE;
}

const struct cmd_entry cmd_status_entry = {
    .verb = VERB_STATUS,
    .target = CMD_TARGET_POOL_OPT,
    .slot_ok = true,
    .exec = cmd_status_exec,
};
