/* SPDX-License-Identifier: ISC */
/*
 * The event ring and its followers (see events.h). transition.c records a
 * slot's change of state where worker.c applies the state machine's
 * decision; reload.c and rollout.c's halt record pool-wide events. cmd-events.c serves
 * `drover events`.
 */
#include "events.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "control.h"
#include "droverd.h"
#include "out.h"
#include "xmalloc.h"

struct event_rec {
    uint64_t seq;
    struct timespec wall;
    long slot; /* -1: pool-wide */
    pid_t pid;
    enum event_cause cause;
    char pool[65]; /* POOL_NAME_MAX + 1 */
    char old_state[12], new_state[12];
    char detail[112];
};

struct follower {
    TAILQ_ENTRY(follower) entry;
    struct control_client *client;
    char *pool; /* NULL: every pool */
    bool json;
    uint64_t missed; /* events not sent since the last marker */
};

static struct event_rec ring[EVENTS_RING];
static uint64_t next_seq = 1; /* ring[(seq - 1) % EVENTS_RING] holds seq */
static uint64_t dropped_total;
static TAILQ_HEAD(, follower) followers = TAILQ_HEAD_INITIALIZER(followers);

static const char *const cause_names[EVC__COUNT] = {
    [EVC_START] = "start",
    [EVC_STOP] = "stop",
    [EVC_RESTART] = "restart",
    [EVC_SHUTDOWN] = "shutdown",
    [EVC_SPAWNED] = "spawned",
    [EVC_READY] = "ready",
    [EVC_EXITED] = "exited",
    [EVC_BACKOFF] = "backoff",
    [EVC_FATAL] = "fatal",
    [EVC_FAILED] = "failed",
    [EVC_SPAWN_FAIL] = "spawn-failed",
    [EVC_RECYCLED] = "recycled",
    [EVC_RELOAD] = "reload",
    [EVC_HALTED] = "rollout-halted",
    [EVC_OOM] = "oom",
};

const char *events_cause_name(enum event_cause c)
{
    return (unsigned)c < EVC__COUNT ? cause_names[c] : "unknown";
}

uint64_t events_recorded(void)
{
    return next_seq - 1;
}

uint64_t events_dropped(void)
{
    return dropped_total;
}

static void copy(char *dst, size_t sz, const char *src)
{
    snprintf(dst, sz, "%s", src != NULL ? src : "");
}

/* One event as one line: text for people, or one JSON object (docs/events-json.md). */
static void format_event(struct evbuffer *out, const struct event_rec *e, bool json)
{
    struct tm tm;
    char when[32];

    /* JSON in UTC (docs/events-json.md); text on the clock of POOL.log and droverd's log. */
    if (json)
        gmtime_r(&e->wall.tv_sec, &tm);
    else
        localtime_r(&e->wall.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    if (json) {
        struct json j;
        char t[64];
        snprintf(t, sizeof(t), "%s.%03ldZ", when, e->wall.tv_nsec / 1000000);
        json_init(&j, out);
        json_object_begin(&j);
        json_kv_uint(&j, "seq", e->seq);
        json_kv_str(&j, "time", t);
        json_kv_str(&j, "pool", e->pool[0] ? e->pool : NULL);
        if (e->slot >= 0)
            json_kv_int(&j, "slot", e->slot);
        else
            json_kv_null(&j, "slot");
        if (e->pid > 0)
            json_kv_int(&j, "pid", e->pid);
        else
            json_kv_null(&j, "pid");
        json_kv_str(&j, "from", e->old_state[0] ? e->old_state : NULL);
        json_kv_str(&j, "to", e->new_state[0] ? e->new_state : NULL);
        json_kv_str(&j, "cause", events_cause_name(e->cause));
        json_kv_str(&j, "detail", e->detail[0] ? e->detail : NULL);
        json_object_end(&j); /* and the newline after it */
        return;
    }
    evbuffer_add_printf(out, "%s.%03ld ", when, e->wall.tv_nsec / 1000000);
    if (e->slot >= 0)
        evbuffer_add_printf(out, "%s:%ld", e->pool, e->slot);
    else
        evbuffer_add_printf(out, "%s", e->pool[0] ? e->pool : "droverd");
    if (e->pid > 0)
        evbuffer_add_printf(out, " pid %d", (int)e->pid);
    if (e->old_state[0])
        evbuffer_add_printf(out, " %s -> %s", e->old_state, e->new_state);
    evbuffer_add_printf(out, " %s%s%s\n", events_cause_name(e->cause), e->detail[0] ? ": " : "",
                        e->detail);
}

static bool wanted(const char *filter, const struct event_rec *e)
{
    return filter == NULL || e->pool[0] == '\0' || strcmp(filter, e->pool) == 0;
}

/* Events missed by a slow follower: one marker line (JSON: {"dropped":N}). */
static void send_marker(struct follower *f)
{
    if (f->json)
        control_out(f->client, "{\"dropped\":%llu}\n", (unsigned long long)f->missed);
    else
        control_out(f->client, "... %llu event%s dropped (this reader was too slow)\n",
                    (unsigned long long)f->missed, f->missed == 1 ? "" : "s");
    f->missed = 0;
}

static void send_event(struct follower *f, const struct event_rec *e)
{
    struct evbuffer *line;

    if (!wanted(f->pool, e))
        return;
    /* Behind: this reader's own bound, or droverd's control output at its limit. */
    if (control_pending(f->client) > EVENTS_MAX_BEHIND || !control_may_grow(f->client)) {
        f->missed++;
        dropped_total++;
        return;
    }
    if (f->missed > 0)
        send_marker(f);
    line = evbuffer_new();
    format_event(line, e, f->json);
    control_out_buffer(f->client, line);
    evbuffer_free(line);
}

void events_record(const char *pool, long slot, pid_t pid, const char *old_state,
                   const char *new_state, enum event_cause cause, const char *detail)
{
    struct event_rec *e = &ring[(next_seq - 1) % EVENTS_RING];
    struct follower *f;

    e->seq = next_seq++;
    clock_gettime(CLOCK_REALTIME, &e->wall);
    e->slot = slot;
    e->pid = pid;
    e->cause = cause;
    copy(e->pool, sizeof(e->pool), pool);
    copy(e->old_state, sizeof(e->old_state), old_state);
    copy(e->new_state, sizeof(e->new_state), new_state);
    copy(e->detail, sizeof(e->detail), detail);
    TAILQ_FOREACH(f, &followers, entry)
        send_event(f, e);
}

void events_format_recent(struct evbuffer *out, const char *pool, bool json)
{
    uint64_t first = next_seq > EVENTS_RING ? next_seq - EVENTS_RING : 1;

    for (uint64_t seq = first; seq < next_seq; seq++) {
        const struct event_rec *e = &ring[(seq - 1) % EVENTS_RING];
        if (wanted(pool, e))
            format_event(out, e, json);
    }
}

/* Once per loop pass: a follower that caught up hears what it missed. */
static bool follower_check(struct control_client *c, void *arg)
{
    struct follower *f = arg;

    if (f->missed > 0 && control_pending(c) <= EVENTS_MAX_BEHIND / 2 && control_may_grow(c))
        send_marker(f);
    return false;
}

static void follower_free(void *arg)
{
    struct follower *f = arg;

    TAILQ_REMOVE(&followers, f, entry);
    free(f->pool);
    free(f);
}

void events_follow(struct control_client *c, const char *pool, bool json)
{
    struct follower *f = xcalloc(1, sizeof(*f));

    f->client = c;
    f->pool = pool != NULL ? xstrdup(pool) : NULL;
    f->json = json;
    TAILQ_INSERT_TAIL(&followers, f, entry);
    control_wait(c, follower_check, f, follower_free);
}

void events_close(void)
{
    struct follower *f;

    /* control_finish frees the follower (its free_arg), which takes it off the list. */
    while ((f = TAILQ_FIRST(&followers)) != NULL)
        control_finish(f->client, 0);
}
