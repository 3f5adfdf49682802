/* SPDX-License-Identifier: ISC */
/*
 * drover start | stop | restart TARGET...: send the event to every named
 * slot, then (unless --no-wait) keep the client until each slot has
 * settled: for start/restart, its worker counts as started (start_grace or
 * READY=1) or failed to start; for stop, no process is left.
 */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "control.h"
#include "droverd.h"
#include "out.h"
#include "pool.h"
#include "proto.h"
#include "xmalloc.h"

struct waited_slot {
    char *pool;
    unsigned index;
    uint64_t started_before;  /* fsm.started_at when asked: a restart needs a newer one */
    unsigned failures_before; /* fsm.start_failures when asked: a new one is a failed start */
    int outcome;              /* enum outcome, kept once settled */
    bool already;             /* start of a running worker, stop of a stopped one: a no-op */
    char *why;                /* when it failed */
};

struct wait_set {
    enum verb_id verb;
    bool json;
    struct waited_slot *v;
    size_t n;
};

static void wait_set_free(void *arg)
{
    struct wait_set *w = arg;

    for (size_t i = 0; i < w->n; i++) {
        free(w->v[i].pool);
        free(w->v[i].why);
    }
    free(w->v);
    free(w);
}

/* Already where start or stop would take it: said so rather than counted as done. */
static bool slot_already(enum verb_id verb, const struct slot *s)
{
    if (verb == VERB_STOP)
        return s->fsm.state == SLOT_STOPPED;
    if (verb == VERB_START)
        return s->fsm.state == SLOT_RUNNING && s->fsm.up;
    return false;
}

static void wait_set_add(struct wait_set *w, struct slot *s)
{
    w->v = xreallocarray(w->v, w->n + 1, sizeof(*w->v));
    w->v[w->n].pool = xstrdup(s->pool->name);
    w->v[w->n].index = s->index;
    w->v[w->n].started_before = s->fsm.started_at;
    w->v[w->n].failures_before = s->fsm.start_failures;
    w->v[w->n].outcome = 0;
    w->v[w->n].already = slot_already(w->verb, s);
    w->v[w->n].why = NULL;
    w->n++;
}

enum outcome { OUTCOME_WAIT, OUTCOME_OK, OUTCOME_FAILED };

/* "exited with status 7 within start_grace (1s); retrying with backoff" */
static void describe_failed_start(const struct slot *s, char *why, size_t whysz)
{
    char how[512];

    slot_describe_start_failure(s, how, sizeof(how));
    snprintf(why, whysz, "%s%s", how,
             s->fsm.state == SLOT_FATAL     ? "; fatal (crashed more than crash_limit allows)"
             : s->fsm.state == SLOT_BACKOFF ? "; retrying with backoff"
             : slot_state_has_process(s->fsm.state) ? "; restarted"
                                                    : "");
}

/* Where is this slot with respect to what was asked? */
static enum outcome slot_outcome(enum verb_id verb, const struct waited_slot *ws, struct slot *s,
                                 char *why, size_t whysz)
{
    char how[64];

    if (s == NULL) {
        snprintf(why, whysz, "was removed");
        return verb == VERB_STOP ? OUTCOME_OK : OUTCOME_FAILED;
    }
    if (verb == VERB_STOP) {
        if (!slot_state_has_process(s->fsm.state))
            return OUTCOME_OK;
        if (s->fsm.started_at == ws->started_before)
            return OUTCOME_WAIT; /* the process it asked to stop */
        /* Another command started it again (as systemctl cancels a stop job for a start). */
        snprintf(why, whysz, "was started again by another command before it was down");
        return OUTCOME_FAILED;
    }
    if (s->fsm.start_failures != ws->failures_before) {
        describe_failed_start(s, why, whysz);
        return OUTCOME_FAILED;
    }

    switch (s->fsm.state) {
    case SLOT_RUNNING:
        if (verb == VERB_RESTART && s->fsm.started_at == ws->started_before)
            return OUTCOME_WAIT;                      /* still the old process */
        return s->fsm.up ? OUTCOME_OK : OUTCOME_WAIT; /* up: past start_grace, or READY=1 */
    case SLOT_STARTING:
    case SLOT_STOPPING:
        return OUTCOME_WAIT;
    case SLOT_FATAL:
        snprintf(why, whysz, "is fatal (crashed more than crash_limit allows)");
        return OUTCOME_FAILED;
    case SLOT_BACKOFF:
    case SLOT_STOPPED:
        if (s->fsm.state == SLOT_STOPPED && !s->fsm.want_up && !s->fsm.exit_was_crash) {
            /* Not a failed start: a stop (of another command, or the shutdown) came first. */
            snprintf(why, whysz, "was stopped by %s before it counted as started",
                     droverd.shutting_down ? "droverd's shutdown" : "another command");
            return OUTCOME_FAILED;
        }
        if (s->fsm.has_exit)
            describe_wait_status(s->fsm.exit_wstatus, how, sizeof(how));
        else
            snprintf(how, sizeof(how), "did not start");
        snprintf(why, whysz, "exited while starting (%s%s%s)%s", how, s->exec_error ? ": " : "",
                 s->exec_error ? s->exec_error : "",
                 s->fsm.state == SLOT_BACKOFF ? "; retrying with backoff" : "");
        return OUTCOME_FAILED;
    }
    return OUTCOME_WAIT;
}

static const char *const verb_done[] = {
    [VERB_START] = "started", [VERB_STOP] = "stopped", [VERB_RESTART] = "restarted"};
static const char *const verb_asked[] = {
    [VERB_START] = "starting", [VERB_STOP] = "stopping", [VERB_RESTART] = "restarting"};

/* What happened to one worker, in words: the JSON "result" (docs/json.md). */
static const char *waited_result(const struct wait_set *w, const struct waited_slot *ws,
                                 bool waited)
{
    if (ws->already)
        return w->verb == VERB_STOP ? "already stopped" : "already running";
    if (!waited)
        return verb_asked[w->verb];
    return ws->outcome == OUTCOME_FAILED ? "failed" : verb_done[w->verb];
}

/*
 * Tell the client: failures one by one and the rest as counts ("started 2
 * workers; 1 already running"), or one JSON object. Returns the failures.
 */
static size_t startstop_report(struct control_client *c, const struct wait_set *w, bool waited)
{
    size_t done = 0, already = 0, failed = 0;

    for (size_t i = 0; i < w->n; i++) {
        if (w->v[i].already)
            already++;
        else if (waited && w->v[i].outcome == OUTCOME_FAILED)
            failed++;
        else
            done++;
    }
    if (w->json) {
        struct evbuffer *out = evbuffer_new();
        struct json j;
        json_init(&j, out);
        json_object_begin(&j);
        json_kv_str(&j, "verb", verb_table[w->verb].name);
        json_kv_bool(&j, "waited", waited);
        json_kv_uint(&j, "done", done);
        json_kv_uint(&j, "already", already);
        json_kv_uint(&j, "failed", failed);
        json_kv_array(&j, "workers");
        for (size_t i = 0; i < w->n; i++) {
            json_object_begin(&j);
            json_kv_str(&j, "pool", w->v[i].pool);
            json_kv_uint(&j, "slot", w->v[i].index);
            json_kv_str(&j, "result", waited_result(w, &w->v[i], waited));
            json_kv_str(&j, "error", w->v[i].why);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        control_out_buffer(c, out);
        evbuffer_free(out);
        return failed;
    }
    for (size_t i = 0; i < w->n; i++)
        if (waited && !w->v[i].already && w->v[i].outcome == OUTCOME_FAILED)
            control_err(c, "%s:%u %s\n", w->v[i].pool, w->v[i].index, w->v[i].why);
    if (w->n == 0) {
        /* A pool scaled to 0 (workers = 0, drover scale POOL 0): nothing to do, and why. */
        control_out(c,
                    "%s 0 workers: there are none (workers = 0; drover scale POOL N adds some)\n",
                    waited ? verb_done[w->verb] : verb_asked[w->verb]);
        return 0;
    }
    if (already == 0 || done > 0 || failed > 0)
        control_out(c, "%s %zu worker%s%s", waited ? verb_done[w->verb] : verb_asked[w->verb], done,
                    done == 1 ? "" : "s", already > 0 ? "; " : "\n");
    if (already > 0)
        control_out(c, "%zu%s already %s\n", already,
                    done > 0 || failed > 0 ? ""
                    : already == 1         ? " worker"
                                           : " workers",
                    w->verb == VERB_STOP ? "stopped" : "running");
    return failed;
}

static bool wait_check(struct control_client *c, void *arg)
{
    struct wait_set *w = arg;
    bool waiting = false;
    char why[1024];

    /* A slot's outcome is kept once settled: a failed start stays failed if it comes up later. */
    for (size_t i = 0; i < w->n; i++) {
        struct waited_slot *ws = &w->v[i];
        if (ws->outcome != OUTCOME_WAIT)
            continue;
        struct pool *p = pool_find(ws->pool);
        struct slot *s = p != NULL ? pool_slot(p, ws->index) : NULL;
        ws->outcome = slot_outcome(w->verb, ws, s, why, sizeof(why));
        if (ws->outcome == OUTCOME_FAILED)
            ws->why = xstrdup(why);
        else if (ws->outcome == OUTCOME_WAIT)
            waiting = true;
    }
    if (waiting)
        return false;
    control_finish(c, startstop_report(c, w, true) ? DROVER_EXIT_FAILED : DROVER_EXIT_OK);
    return true;
}

static enum cmd_retval startstop(struct cmd_ctx *ctx, enum verb_id verb, enum slot_event ev)
{
    const struct target_list *targets = &ctx->targets;
    struct wait_set *w = xcalloc(1, sizeof(*w));

    w->verb = verb;
    w->json = ctx->args.json;
    /* Record first, then act, so a restart can tell the new process from the old. */
    for (size_t t = 0; t < targets->n; t++) {
        struct pool *p = targets->v[t].pool;
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = pool_slot(p, i);
            if (s != NULL && (targets->v[t].slot < 0 || (unsigned)targets->v[t].slot == i))
                wait_set_add(w, s);
        }
    }
    for (size_t i = 0; i < w->n; i++) {
        struct pool *p = pool_find(w->v[i].pool);
        struct slot *s = p != NULL ? pool_slot(p, w->v[i].index) : NULL;
        if (s != NULL)
            slot_event(s, ev, NULL);
    }
    if (ctx->args.no_wait) {
        startstop_report(ctx->client, w, false);
        wait_set_free(w);
        return CMD_DONE;
    }
    control_wait(ctx->client, wait_check, w, wait_set_free);
    return CMD_WAIT;
}

static enum cmd_retval cmd_start_exec(struct cmd_ctx *ctx)
{
    return startstop(ctx, VERB_START, SLOT_EV_START);
}

static enum cmd_retval cmd_stop_exec(struct cmd_ctx *ctx)
{
    return startstop(ctx, VERB_STOP, SLOT_EV_STOP);
}

static enum cmd_retval cmd_restart_exec(struct cmd_ctx *ctx)
{
    return startstop(ctx, VERB_RESTART, SLOT_EV_RESTART);
}

const struct cmd_entry cmd_start_entry = {
    .verb = VERB_START,
    .target = CMD_TARGET_SLOTS,
    .exec = cmd_start_exec,
};

const struct cmd_entry cmd_stop_entry = {
    .verb = VERB_STOP,
    .target = CMD_TARGET_SLOTS,
    .exec = cmd_stop_exec,
};

const struct cmd_entry cmd_restart_entry = {
    .verb = VERB_RESTART,
    .target = CMD_TARGET_SLOTS,
    .exec = cmd_restart_exec,
};
