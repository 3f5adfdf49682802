/* SPDX-License-Identifier: ISC */
/*
 * Reload of a pool and its rolling restart (see rollout.h).
 */
#include "rollout.h"

#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "keys.h"
#include "log.h"
#include "pool_settings.h"
#include "transition.h"
#include "worker.h"
#include "xmalloc.h"

/* The rollout now waits for this slot's next worker to count as started. */
static void slot_probation_begin(struct slot *s)
{
    s->probation = true;
    s->probation_failures = s->fsm.start_failures;
    s->probation_started = s->fsm.started_at;
}

/*
 * A slot's probation: 1 its new worker counts as started, -1 it failed to
 * start, 2 the slot was stopped meanwhile, 0 not yet.
 */
static int slot_probation_result(const struct slot *s)
{
    if (s->fsm.start_failures != s->probation_failures)
        return -1;
    if (s->fsm.state == SLOT_RUNNING && s->fsm.up && s->fsm.started_at != s->probation_started)
        return 1;
    if (!s->fsm.want_up || s->removing)
        return 2; /* stopped or scaled away meanwhile: nothing left to wait for */
    return 0;
}

/*
 * Begin a rollout over the pool's slots (with only_replaced, over those the
 * halted rollout had replaced). Slots that were down (backoff, fatal) start
 * at once with a fresh crash streak; serving ones are queued for
 * pool_rolling_advance, which restarts them one at a time.
 */
static void pool_rollout_begin(struct pool *p, bool only_replaced)
{
    struct slot **down = xcalloc(p->nslots ? p->nslots : 1, sizeof(*down));
    unsigned ndown = 0;

    p->rollout_gen++;
    p->rollout_proven = false;
    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (s == NULL || s->removing || (only_replaced && !s->replaced))
            continue;
        s->replaced = false;
        s->rolling = false;
        s->probation = false;
        if (s->fsm.state == SLOT_BACKOFF || (s->fsm.state == SLOT_FATAL && s->fsm.want_up)) {
            s->replaced = !only_replaced;
            slot_probation_begin(s);
            down[ndown++] = s;
        } else if (s->fsm.state == SLOT_RUNNING || s->fsm.state == SLOT_STARTING) {
            s->rolling = true;
        }
    }
    p->rolling = true;
    /* Events may re-enter the rollout; the list was made before any was sent. */
    for (unsigned i = 0; i < ndown; i++)
        slot_event(down[i], SLOT_EV_RESET, NULL);
    free(down);
    pool_rolling_advance(p);
}

/* A new worker failed to start: stop replacing, and put the replaced slots back. */
static void pool_rollout_halt(struct pool *p, struct slot *failed)
{
    char why[600];

    slot_describe_start_failure(failed, why, sizeof(why));
    free(p->halt_reason);
    xasprintf(&p->halt_reason, "%s:%u %s", p->name, failed->index, why);
    log_warnx("pool %s: rollout halted: %s", p->name, p->halt_reason);
    events_record(p->name, -1, 0, NULL, NULL, EVC_HALTED, p->halt_reason);
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL)
            p->slots[i]->rolling = p->slots[i]->probation = false;
    p->rolling = false;
    if (p->rollback_cfg == NULL)
        return;
    log_warnx("pool %s: the workers not yet replaced keep running; rolling the replaced ones back "
              "to the previous settings",
              p->name);
    pool_apply_settings(p, p->rollback_cfg);
    p->rollback_cfg = NULL;
    p->rolling_back = true;
    pool_rollout_begin(p, true);
}

/*
 * A pool whose rollout halted runs the settings it was rolled back to; a
 * reload that leaves its worker settings alone still changes the keys applied
 * live: they are copied into those settings (p->cfg, which a retired config
 * owns), and the workers keep their previous command.
 */
static void halted_take_live_keys(struct pool *p, const struct pool_config *pc)
{
    struct pool_config *run = p->cfg;

    for (size_t i = 0; i < key_table_len; i++) {
        const struct key *k = &key_table[i];
        if (k->section != KEY_POOL || k->reload != RELOAD_LIVE || key_value_equal(k, run, pc))
            continue;
        key_value_free(k, run);
        key_value_copy(k, run, pc);
        if (strcmp(k->name, "check_command") == 0) {
            free_strv(run->check_argv);
            free(run->check_exec_path);
            run->check_argv = pc->check_argv != NULL ? xstrvdup(pc->check_argv) : NULL;
            run->check_exec_path =
                pc->check_exec_path != NULL ? xstrdup(pc->check_exec_path) : NULL;
        }
    }
}

void pool_set_config(struct pool *p, struct pool_config *pc, bool restart_workers)
{
    /*
     * A halted pool keeps running the settings it was rolled back to until a
     * reload changes its workers again; a reload that leaves them alone gives
     * those settings its live keys.
     */
    if (p->halt_reason != NULL && !restart_workers) {
        halted_take_live_keys(p, pc);
        pc = p->cfg;
    }
    if (restart_workers) {
        /* Roll back to what the unreplaced workers run: the start of an unfinished rollout. */
        if (!p->rolling || p->rolling_back || p->rollback_cfg == NULL)
            p->rollback_cfg = p->cfg;
        free(p->halt_reason);
        p->halt_reason = NULL;
        p->rolling_back = false;
    }
    pool_apply_settings(p, pc);
    if (restart_workers)
        pool_rollout_begin(p, false);
}

/*
 * Rolling restart: one slot at a time, the next once the previous one's new
 * worker counts as started (start_grace or READY=1), so a routed pool keeps
 * serving throughout. A new worker that fails to start halts the rollout.
 */
void pool_rolling_advance(struct pool *p)
{
    bool waiting = false;

    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (s == NULL || !s->probation)
            continue;
        int r = slot_probation_result(s);
        if (r == 0) {
            waiting = true;
            continue;
        }
        s->probation = false;
        if (r == 1) {
            p->rollout_proven = true;
        } else if (r < 0 && !p->rolling_back) {
            pool_rollout_halt(p, s);
            return;
        }
        /* A failure while rolling back: that slot backs off as any crash does; go on. */
    }
    if (waiting)
        return;
    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (s == NULL || !s->rolling)
            continue;
        s->rolling = false;
        s->replaced = !p->rolling_back;
        if (s->fsm.state == SLOT_RUNNING || s->fsm.state == SLOT_STARTING) {
            slot_probation_begin(s);
            slot_cause_hint(EVC_RELOAD);
            slot_event(s, SLOT_EV_RESTART, NULL);
            return;
        }
        if (s->fsm.state == SLOT_BACKOFF || (s->fsm.state == SLOT_FATAL && s->fsm.want_up)) {
            slot_probation_begin(s);
            slot_event(s, SLOT_EV_RESET, NULL);
            return;
        }
        /* Stopped meanwhile: it starts with the new settings when asked. */
    }
    p->rolling = false;
    p->rolling_back = false;
    p->rollback_cfg = NULL;
}
