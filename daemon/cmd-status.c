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

#include "cmd.h"
#include "control.h"
#include "droverd.h"
#include "out.h"
#include "output.h"
#include "parse.h"
#include "pool.h"
#include "route.h"
#include "sys.h"

#define STATUS_JSON_VERSION 1

/* What status shows of one slot, gathered once for both output forms. */
struct slot_view {
    struct slot *s;
    bool has_usage;
    struct proc_usage usage;
    double uptime_s;     /* < 0 when no process */
    double exit_ago_s;   /* < 0 when it never exited */
    double next_start_s; /* < 0 unless in backoff; 0 when the start is due */
    int cpu;             /* pinned CPU or -1 */
    char last_exit[128];
    char info[256];
};

static void slot_view_fill(struct slot_view *v, struct slot *s, uint64_t now)
{
    const struct slot_fsm *f = &s->fsm;
    const struct pool_config *pc = s->pool->cfg;
    char dur[32];

    memset(v, 0, sizeof(*v));
    v->s = s;
    v->uptime_s = s->pid > 0 ? (double)(now - f->started_at) / 1e6 : -1;
    v->exit_ago_s = f->has_exit ? (double)(now - f->exit_at) / 1e6 : -1;
    /* A due start whose timer has not run yet (status read first in the same
     * loop pass) is still a backoff: it says 0, never null. */
    v->next_start_s = f->state != SLOT_BACKOFF ? -1
                      : f->deadline > now      ? (double)(f->deadline - now) / 1e6
                                               : 0;
    v->cpu = pc->cpu_affinity == AFFINITY_CORE ? droverd.cpus[s->index % droverd.ncpu] : -1;
    if (s->pid > 0)
        v->has_usage = sys_proc_usage(s->pid, &v->usage) == 0;

    if (f->has_exit) {
        char how[64], ago[32];
        describe_wait_status(f->exit_wstatus, how, sizeof(how));
        how[sizeof(how) - 1] = '\0';
        format_duration_short(now - f->exit_at, ago, sizeof(ago));
        snprintf(v->last_exit, sizeof(v->last_exit), "%s, %s ago", how, ago);
    } else {
        snprintf(v->last_exit, sizeof(v->last_exit), "-");
    }

    switch (f->state) {
    case SLOT_BACKOFF:
        format_duration_short(f->deadline > now ? f->deadline - now : 0, dur, sizeof(dur));
        snprintf(v->info, sizeof(v->info), "restart in %s (crash %u in a row)", dur, f->streak);
        break;
    case SLOT_FATAL: {
        char window[32];
        format_duration(pc->crash_limit.window_us, window, sizeof(window));
        snprintf(v->info, sizeof(v->info),
                 "more than %u crashes in %s; `drover start %s:%u` to retry", pc->crash_limit.count,
                 window, s->pool->name, s->index);
        break;
    }
    case SLOT_STARTING:
        if (pc->ready == READY_NOTIFY)
            snprintf(v->info, sizeof(v->info), "waiting for READY=1");
        break;
    case SLOT_STOPPING:
        if (f->kill_sent)
            snprintf(v->info, sizeof(v->info), "sent KILL");
        else if (f->deadline > now) {
            format_duration_short(f->deadline - now, dur, sizeof(dur));
            snprintf(v->info, sizeof(v->info), "KILL in %s", dur);
        }
        break;
    default:
        break;
    }
    if (v->info[0] == '\0' && s->notify_status != NULL)
        snprintf(v->info, sizeof(v->info), "%s", s->notify_status);
    if (v->info[0] == '\0' && f->fail_reason != NULL && f->has_exit)
        snprintf(v->info, sizeof(v->info), "last exit: %s", f->fail_reason);
    /* Why it cannot start matters most while it is not running. */
    if (s->exec_error != NULL && f->state != SLOT_RUNNING) {
        size_t n = strlen(v->info);
        snprintf(v->info + n, sizeof(v->info) - n, "%s%s", n > 0 ? ": " : "", s->exec_error);
    }
}

static double cpu_percent(const struct slot_view *v)
{
    if (!v->has_usage || v->uptime_s <= 0)
        return 0;
    return (double)v->usage.cpu_us / 1e6 / v->uptime_s * 100.0;
}

static void status_text(struct evbuffer *out, struct pool *only)
{
    static const char *const slot_cols[] = {"POOL",   "SLOT",     "PID",       "STATE",
                                            "UPTIME", "RESTARTS", "LAST EXIT", "CPU",
                                            "RSS",    "REQS",     "INFO"};
    static const char *const pool_cols[] = {"POOL",  "WORKERS",    "MODE",    "LISTEN",
                                            "QUEUE", "INFLIGHT",   "RETRIES", "FAILED",
                                            "BUSY",  "LOG DROPPED"};
    struct table *slots = table_new(sizeof(slot_cols) / sizeof(slot_cols[0]), slot_cols);
    struct table *pools = table_new(sizeof(pool_cols) / sizeof(pool_cols[0]), pool_cols);
    uint64_t now = mono_now();
    struct pool *p;

    TAILQ_FOREACH(p, &droverd.pools, entry)
    {
        unsigned running = 0, total = 0;
        if (p->removing || (only != NULL && p != only))
            continue;
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot_view v;
            char up[32] = "-", rss[32] = "-";
            if (p->slots[i] == NULL)
                continue;
            slot_view_fill(&v, p->slots[i], now);
            total++;
            running += v.s->fsm.state == SLOT_RUNNING;
            if (v.uptime_s >= 0)
                format_duration_short((uint64_t)(v.uptime_s * 1e6), up, sizeof(up));
            if (v.has_usage)
                format_size(v.usage.rss_bytes, rss, sizeof(rss));
            table_cell(slots, "%s", p->name);
            table_cell(slots, "%u", i);
            if (v.s->pid > 0)
                table_cell(slots, "%d", (int)v.s->pid);
            else
                table_cell(slots, "-");
            table_cell(slots, "%s%s", slot_state_name(v.s->fsm.state), v.s->removing ? "*" : "");
            table_cell(slots, "%s", up);
            table_cell(slots, "%u", v.s->fsm.restarts);
            table_cell(slots, "%s", v.last_exit);
            if (v.has_usage)
                table_cell(slots, "%.1f%%", cpu_percent(&v));
            else
                table_cell(slots, "-");
            table_cell(slots, "%s", rss);
            table_cell(slots, "%llu", (unsigned long long)v.s->requests);
            table_cell(slots, "%s", v.info);
        }
        table_cell(pools, "%s", p->name);
        table_cell(pools, "%u/%u", running, p->target);
        if (p->route != NULL) {
            struct route_stats rs;
            route_get_stats(p->route, &rs);
            table_cell(pools, "%s", rs.mode);
            table_cell(pools, "%s", rs.listen);
            table_cell(pools, "%llu", (unsigned long long)rs.queued);
            table_cell(pools, "%llu", (unsigned long long)rs.inflight);
            table_cell(pools, "%llu", (unsigned long long)rs.retries);
            table_cell(pools, "%llu", (unsigned long long)rs.failed);
            table_cell(pools, "%llu", (unsigned long long)rs.busy);
        } else {
            for (int k = 0; k < 7; k++)
                table_cell(pools, "-");
        }
        if (p->log != NULL)
            table_cell(pools, "%llu", (unsigned long long)pool_log_dropped(p->log));
        else
            table_cell(pools, "-");
    }
    if (table_rows(slots) > 0)
        table_render(slots, out);
    if (table_rows(pools) > 0) {
        if (table_rows(slots) > 0)
            evbuffer_add(out, "\n", 1);
        table_render(pools, out);
    } else {
        evbuffer_add_printf(out, "no pools configured\n");
    }
    table_free(slots);
    table_free(pools);
}

static void json_double_or_null(struct json *j, double v)
{
    if (v < 0)
        json_null(j);
    else
        json_double(j, round(v * 1000) / 1000);
}

static void status_json_slot(struct json *j, const struct slot_view *v)
{
    const struct slot *s = v->s;
    const struct slot_fsm *f = &s->fsm;
    char how[64];

    json_object_begin(j);
    json_key(j, "slot");
    json_uint(j, s->index);
    json_key(j, "pid");
    if (s->pid > 0)
        json_int(j, s->pid);
    else
        json_null(j);
    json_key(j, "state");
    json_string(j, slot_state_name(f->state));
    json_key(j, "removing");
    json_bool(j, s->removing);
    json_key(j, "uptime_seconds");
    json_double_or_null(j, v->uptime_s);
    json_key(j, "restarts");
    json_uint(j, f->restarts);
    json_key(j, "crashes");
    json_uint(j, f->crashes);
    json_key(j, "crash_streak");
    json_uint(j, f->streak);
    json_key(j, "next_start_in_seconds");
    json_double_or_null(j, v->next_start_s);
    json_key(j, "last_exit");
    if (f->has_exit) {
        json_object_begin(j);
        json_key(j, "code");
        if (WIFEXITED(f->exit_wstatus))
            json_int(j, WEXITSTATUS(f->exit_wstatus));
        else
            json_null(j);
        json_key(j, "signal");
        json_string(j,
                    WIFSIGNALED(f->exit_wstatus) ? signal_name(WTERMSIG(f->exit_wstatus)) : NULL);
        json_key(j, "description");
        describe_wait_status(f->exit_wstatus, how, sizeof(how));
        json_string(j, how);
        json_key(j, "seconds_ago");
        json_double_or_null(j, v->exit_ago_s);
        json_key(j, "time");
        json_double(j, round(wall_of_mono(f->exit_at) * 1000) / 1000);
        json_key(j, "crash");
        json_bool(j, f->exit_was_crash);
        json_key(j, "reason");
        json_string(j, f->fail_reason);
        json_object_end(j);
    } else {
        json_null(j);
    }
    json_key(j, "cpu");
    if (v->cpu >= 0)
        json_int(j, v->cpu);
    else
        json_null(j);
    json_key(j, "cpu_seconds");
    json_double_or_null(j, v->has_usage ? (double)v->usage.cpu_us / 1e6 : -1);
    json_key(j, "cpu_percent");
    json_double_or_null(j, v->has_usage ? cpu_percent(v) : -1);
    json_key(j, "rss_bytes");
    if (v->has_usage)
        json_uint(j, v->usage.rss_bytes);
    else
        json_null(j);
    json_key(j, "requests");
    json_uint(j, s->requests);
    json_key(j, "inflight");
    json_uint(j, s->pool->route != NULL ? route_slot_inflight(s->pool->route, s) : 0);
    json_key(j, "status_text");
    json_string(j, s->notify_status);
    json_key(j, "error");
    json_string(j, s->exec_error);
    json_key(j, "info");
    json_string(j, v->info);
    json_object_end(j);
}

static void status_json(struct evbuffer *out, struct pool *only)
{
    struct json j;
    uint64_t now = mono_now();
    struct pool *p;

    json_init(&j, out);
    json_object_begin(&j);
    json_key(&j, "version");
    json_uint(&j, STATUS_JSON_VERSION);
    json_key(&j, "daemon");
    json_object_begin(&j);
    json_key(&j, "pid");
    json_int(&j, droverd.pid);
    json_key(&j, "uptime_seconds");
    json_double(&j, round((double)(now - droverd.started_at) / 1e3) / 1e3);
    json_key(&j, "config");
    json_string(&j, droverd.config_path);
    json_key(&j, "shutting_down");
    json_bool(&j, droverd.shutting_down);
    json_object_end(&j);
    json_key(&j, "pools");
    json_array_begin(&j);
    TAILQ_FOREACH(p, &droverd.pools, entry)
    {
        unsigned running = 0;
        if (p->removing || (only != NULL && p != only))
            continue;
        for (unsigned i = 0; i < p->nslots; i++)
            running += p->slots[i] != NULL && p->slots[i]->fsm.state == SLOT_RUNNING;
        json_object_begin(&j);
        json_key(&j, "name");
        json_string(&j, p->name);
        json_key(&j, "workers");
        json_uint(&j, p->target);
        json_key(&j, "running");
        json_uint(&j, running);
        json_key(&j, "command");
        json_string(&j, p->cfg->command);
        json_key(&j, "log_file");
        json_string(&j, p->log != NULL ? pool_log_path(p->log) : NULL);
        json_key(&j, "log_dropped_bytes");
        json_uint(&j, p->log != NULL ? pool_log_dropped(p->log) : 0);
        json_key(&j, "route");
        if (p->route != NULL) {
            struct route_stats rs;
            route_get_stats(p->route, &rs);
            json_object_begin(&j);
            json_key(&j, "mode");
            json_string(&j, rs.mode);
            json_key(&j, "listen");
            json_string(&j, rs.listen);
            json_key(&j, "connections");
            json_uint(&j, rs.connections);
            json_key(&j, "queued");
            json_uint(&j, rs.queued);
            json_key(&j, "inflight");
            json_uint(&j, rs.inflight);
            json_key(&j, "requests");
            json_uint(&j, rs.requests);
            json_key(&j, "retries");
            json_uint(&j, rs.retries);
            json_key(&j, "failed");
            json_uint(&j, rs.failed);
            json_key(&j, "timeouts");
            json_uint(&j, rs.timeouts);
            json_key(&j, "busy");
            json_uint(&j, rs.busy);
            json_object_end(&j);
        } else {
            json_null(&j);
        }
        json_key(&j, "slots");
        json_array_begin(&j);
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot_view v;
            if (p->slots[i] == NULL)
                continue;
            slot_view_fill(&v, p->slots[i], now);
            status_json_slot(&j, &v);
        }
        json_array_end(&j);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_object_end(&j);
}

static enum cmd_retval cmd_status_exec(struct cmd_ctx *ctx)
{
    struct evbuffer *out = evbuffer_new();

    if (ctx->args.json)
        status_json(out, ctx->pool);
    else
        status_text(out, ctx->pool);
    control_out_buffer(ctx->client, out);
    evbuffer_free(out);
    return CMD_DONE;
}

const struct cmd_entry cmd_status_entry = {
    .verb = VERB_STATUS,
    .target = CMD_TARGET_POOL_OPT,
    .exec = cmd_status_exec,
};
