/* SPDX-License-Identifier: ISC */
/*
 * The daemon as status and metrics show it (see view.h). Reads droverd's
 * pools and slots, their route counters and log files, and /proc when asked;
 * writes nothing but the view.
 */
#include "view.h"

#include "cgroup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "parse.h"
#include "pool.h"
#include "reap.h"
#include "xmalloc.h"

/* Why a slot is where it is: the INFO column of status and its "info" field. */
static void slot_view_info(struct slot_view *v, const struct slot *s, uint64_t now)
{
    const struct slot_fsm *f = &s->fsm;
    const struct pool_config *pc = s->pool->cfg;
    char dur[32];

    switch (v->state) {
    case SLOT_BACKOFF:
        format_duration_short(f->deadline > now ? f->deadline - now : 0, dur, sizeof(dur));
        snprintf(v->info, sizeof(v->info), "restart in %s (crash %u in a row)", dur, f->streak);
        break;
    case SLOT_FATAL: {
        char window[32];
        format_duration(pc->crash_limit.window_us, window, sizeof(window));
        snprintf(v->info, sizeof(v->info),
                 "more than %u crash%s in %s; `drover start %s:%u` to retry", pc->crash_limit.count,
                 pc->crash_limit.count == 1 ? "" : "es", window, s->pool->name, s->index);
        break;
    }
    case SLOT_STARTING:
        if (pc->ready == READY_NOTIFY)
            snprintf(v->info, sizeof(v->info), "waiting for READY=1");
        break;
    case SLOT_RUNNING:
        if (!f->up) {
            uint64_t end = f->started_at + s->pool->policy.start_grace_us;
            format_duration_short(end > now ? end - now : 0, dur, sizeof(dur));
            snprintf(v->info, sizeof(v->info), "in start_grace: counts as started in %s", dur);
        }
        break;
    case SLOT_STOPPING:
        if (f->kill_sent || (f->pending_fail != NULL && f->deadline == 0))
            snprintf(v->info, sizeof(v->info), "sent KILL");
        else if (f->deadline > now) {
            format_duration_short(f->deadline - now, dur, sizeof(dur));
            snprintf(v->info, sizeof(v->info), "KILL in %s", dur);
        }
        if (f->pending_fail != NULL) {
            size_t n = strlen(v->info);
            snprintf(v->info + n, sizeof(v->info) - n, "%s%s", n > 0 ? "; " : "", f->pending_fail);
        }
        break;
    default:
        break;
    }
    if (v->info[0] == '\0' && s->notify_status != NULL)
        snprintf(v->info, sizeof(v->info), "%s", s->notify_status);
    /* Why droverd killed the last one stays visible while the next one is in start_grace. */
    if (f->fail_reason != NULL && f->has_exit &&
        (v->info[0] == '\0' || (f->state == SLOT_RUNNING && !f->up))) {
        size_t n = strlen(v->info);
        snprintf(v->info + n, sizeof(v->info) - n, "%slast exit: %s", n > 0 ? "; " : "",
                 f->fail_reason);
    }
    /* A memory recycle: under way, or what the last exit was. */
    struct recycle_info ri;
    if (recycle_slot_info(s, &ri) && (ri.pending || (ri.was_last_exit && v->info[0] == '\0'))) {
        size_t n = strlen(v->info);
        snprintf(v->info + n, sizeof(v->info) - n, "%s%s: %s", n > 0 ? "; " : "",
                 ri.pending ? "recycling" : "last exit: recycled", ri.why);
    }
    /* Why it cannot start matters most while it is not running. */
    if (s->exec_error != NULL && f->state != SLOT_RUNNING) {
        size_t n = strlen(v->info);
        snprintf(v->info + n, sizeof(v->info) - n, "%s%s", n > 0 ? ": " : "", s->exec_error);
    }
}

/*
 * CPU % since the previous status call, from the sample the slot keeps (no
 * timer: the reader drives it). A sample older than 10 s is replaced without
 * being used, a window under 200 ms keeps the last figure (two calls in a row
 * would divide noise), and a new process starts over.
 */
#define CPU_WINDOW_MIN_US 200000
#define CPU_WINDOW_MAX_US 10000000
static void slot_cpu_recent(struct slot_view *v, struct slot *s, uint64_t now)
{
    uint64_t dt = now - s->cpu_sample_at;

    v->cpu_recent = -1;
    if (!v->has_usage)
        return;
    if (s->cpu_sample_pid == s->pid && dt < CPU_WINDOW_MIN_US && s->cpu_recent_window_s > 0) {
        v->cpu_recent = s->cpu_recent_percent;
        v->cpu_recent_window_s = s->cpu_recent_window_s;
        return;
    }
    if (s->cpu_sample_pid == s->pid && dt >= CPU_WINDOW_MIN_US && dt <= CPU_WINDOW_MAX_US &&
        v->usage.cpu_us >= s->cpu_sample_us) {
        s->cpu_recent_percent = (double)(v->usage.cpu_us - s->cpu_sample_us) / (double)dt * 100.0;
        s->cpu_recent_window_s = (double)dt / 1e6;
        v->cpu_recent = s->cpu_recent_percent;
        v->cpu_recent_window_s = s->cpu_recent_window_s;
    } else if (s->cpu_sample_pid != s->pid) {
        s->cpu_recent_window_s = -1;
    }
    s->cpu_sample_pid = s->pid;
    s->cpu_sample_us = v->usage.cpu_us;
    s->cpu_sample_at = now;
}

static void slot_view_fill(struct slot_view *v, struct slot *s, uint64_t now, enum view_usage usage)
{
    const struct slot_fsm *f = &s->fsm;
    const struct pool_config *pc = s->pool->cfg;

    memset(v, 0, sizeof(*v));
    v->s = s;
    v->index = s->index;
    /*
     * A running worker droverd is stopping because it failed (a liveness
     * check, the watchdog: the exit will count as a crash) is stopping, as
     * after `drover stop`: it takes no work, and health says so.
     */
    v->state = f->state == SLOT_RUNNING && f->pending_fail != NULL ? SLOT_STOPPING : f->state;
    v->uptime_s = s->pid > 0 ? (double)(now - f->started_at) / 1e6 : -1;
    v->exit_ago_s = f->has_exit ? (double)(now - f->exit_at) / 1e6 : -1;
    /* A due start whose timer has not run yet (status read first in the same
     * loop pass) is still a backoff: it says 0, never null. */
    v->next_start_s = f->state != SLOT_BACKOFF ? -1
                      : f->deadline > now      ? (double)(f->deadline - now) / 1e6
                                               : 0;
    v->cpu = pc->cpu_affinity == AFFINITY_CORE ? droverd.cpus[s->index % droverd.ncpu] : -1;
    if (usage != VIEW_USAGE_NONE && s->pid > 0) {
        usage_read(s, &v->wu, usage == VIEW_USAGE_PEAK);
        v->has_usage = v->wu.has_rss && v->wu.cpu_source != USAGE_NONE;
        v->usage.cpu_us = v->wu.cpu_us;
        v->usage.rss_bytes = v->wu.rss_bytes;
    }
    v->has_recycle = recycle_slot_info(s, &v->recycle);
    if (v->has_usage && v->uptime_s > 0)
        v->cpu_percent = (double)v->usage.cpu_us / 1e6 / v->uptime_s * 100.0;
    slot_cpu_recent(v, s, now);
    v->inflight = s->pool->route != NULL ? route_slot_inflight(s->pool->route, s) : 0;

    if (f->has_exit) {
        char how[64], ago[32];
        describe_wait_status(f->exit_wstatus, how, sizeof(how));
        if (s->oom_exit != NULL)
            snprintf(how, sizeof(how), "%s", s->oom_exit);
        how[sizeof(how) - 1] = '\0';
        format_duration_short(now - f->exit_at, ago, sizeof(ago));
        snprintf(v->last_exit, sizeof(v->last_exit), "%s, %s ago", how, ago);
    } else {
        snprintf(v->last_exit, sizeof(v->last_exit), "-");
    }
    slot_view_info(v, s, now);
    v->cgroup = s->cg != NULL ? cgroup_slot_path(s->cg) : NULL;
}

/*
 * The slot views of every pool, in one array kept from one view to the next:
 * a status of 2 000 workers needs 1.2 MB of them, which malloc would map and
 * unmap on every call (page faults cost more than the figures). It only grows
 * with the number of slots. One view exists at a time: each is filled, shown
 * and freed within one command or scrape, and nothing fills another meanwhile.
 */
static struct slot_view *kept_slots;
static size_t kept_cap;

static struct slot_view *slot_views_get(size_t n)
{
    if (kept_slots == NULL || n > kept_cap) {
        free(kept_slots);
        kept_cap = n + n / 4 + 16;
        kept_slots = xcalloc(kept_cap, sizeof(*kept_slots));
    }
    return kept_slots;
}

static void pool_view_fill(struct pool_view *v, const struct pool *p, uint64_t now,
                           enum view_usage usage, struct slot_view *slots)
{
    memset(v, 0, sizeof(*v));
    v->p = p;
    v->slots = slots;
    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot_view *sv;
        if (p->slots[i] == NULL)
            continue;
        sv = &v->slots[v->nslots++];
        slot_view_fill(sv, p->slots[i], now, usage);
        v->by_state[sv->state]++;
        if (sv->state == SLOT_RUNNING && p->slots[i]->fsm.up)
            v->started++;
    }
    v->running = v->by_state[SLOT_RUNNING];
    if (p->route != NULL) {
        v->has_route = true;
        route_get_stats(p->route, &v->route);
    }
    if (p->log != NULL) {
        v->has_log = true;
        v->log_path = pool_log_path(p->log);
        v->log_dropped = pool_log_dropped(p->log);
    }
}

void daemon_view_fill(struct daemon_view *v, const struct pool *only, enum view_usage usage)
{
    const struct pool *p;
    size_t n = 0;

    memset(v, 0, sizeof(*v));
    v->now = mono_now();
    v->adopted = reap_adopted_count();
    TAILQ_FOREACH(p, &droverd.pools, entry)
        n++;
    v->pools = xcalloc(n > 0 ? n : 1, sizeof(*v->pools));
    n = 0;
    TAILQ_FOREACH(p, &droverd.pools, entry)
        if (!p->removing && (only == NULL || p == only))
            n += p->nslots;
    v->slot_array = slot_views_get(n);
    n = 0;
    TAILQ_FOREACH(p, &droverd.pools, entry) {
        if (p->removing || (only != NULL && p != only))
            continue;
        pool_view_fill(&v->pools[v->npools], p, v->now, usage, v->slot_array + n);
        n += v->pools[v->npools++].nslots;
    }
}

void daemon_view_free(struct daemon_view *v)
{
    free(v->pools);
    memset(v, 0, sizeof(*v));
}
