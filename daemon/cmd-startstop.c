/* SPDX-License-Identifier: ISC */
/*
 * drover start | stop | restart TARGET...: send the event to every named
 * slot, then (unless --no-wait) keep the client until each slot has
 * settled: for start/restart, its worker counts as started (start_grace or
 * READY=1) or failed to start; for stop, no process is left.
 */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "control.h"
#include "droverd.h"
#include "pool.h"
#include "proto.h"
#include "xmalloc.h"

struct waited_slot {
    char *pool;
    unsigned index;
    uint64_t started_before;  /* fsm.started_at when asked: a restart needs a newer one */
    unsigned failures_before; /* fsm.start_failures when asked: a new one is a failed start */
    int outcome;              /* enum outcome, kept once settled */
    char *why;                /* when it failed */
};

struct wait_set {
    enum verb_id verb;
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

static void wait_set_add(struct wait_set *w, struct slot *s)
{
    w->v = xreallocarray(w->v, w->n + 1, sizeof(*w->v));
    w->v[w->n].pool = xstrdup(s->pool->name);
    w->v[w->n].index = s->index;
    w->v[w->n].started_before = s->fsm.started_at;
    w->v[w->n].failures_before = s->fsm.start_failures;
    w->v[w->n].outcome = 0;
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
    if (verb == VERB_STOP)
        return slot_state_has_process(s->fsm.state) ? OUTCOME_WAIT : OUTCOME_OK;
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

static bool wait_check(struct control_client *c, void *arg)
{
    struct wait_set *w = arg;
    size_t ok = 0, failed = 0;
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
    /* Everything settled: report failures one by one, successes as a count. */
    for (size_t i = 0; i < w->n; i++) {
        if (w->v[i].outcome == OUTCOME_FAILED) {
            control_err(c, "%s:%u %s\n", w->v[i].pool, w->v[i].index, w->v[i].why);
            failed++;
        } else {
            ok++;
        }
    }
    control_out(c, "%s %zu worker%s\n",
                w->verb == VERB_STOP    ? "stopped"
                : w->verb == VERB_START ? "started"
                                        : "restarted",
                ok, ok == 1 ? "" : "s");
    control_finish(c, failed ? DROVER_EXIT_FAILED : DROVER_EXIT_OK);
    return true;
}

static enum cmd_retval startstop(struct cmd_ctx *ctx, enum verb_id verb, enum slot_event ev)
{
    const struct target_list *targets = &ctx->targets;
    struct wait_set *w = xcalloc(1, sizeof(*w));

    w->verb = verb;
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
        control_out(ctx->client, "%s %zu worker%s\n",
                    verb == VERB_STOP    ? "stopping"
                    : verb == VERB_START ? "starting"
                                         : "restarting",
                    w->n, w->n == 1 ? "" : "s");
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
