/* SPDX-License-Identifier: ISC */
/*
 * A pool's config applied to the running pool (see pool_settings.h).
 */
#include "pool_settings.h"

#include <stdlib.h>

#include "cgroup.h"
#include "check.h"
#include "log.h"
#include "output.h"
#include "parse.h"
#include "pool_env.h"
#include "recycle.h"
#include "route.h"
#include "worker.h"
#include "xmalloc.h"

static void policy_from_config(const struct pool_config *pc, struct slot_policy *sp)
{
    sp->restart = pc->restart;
    sp->restart_delay_us = pc->restart_delay_us;
    sp->restart_delay_max_us = pc->restart_delay_max_us;
    sp->crash_limit = pc->crash_limit.count;
    sp->crash_window_us = pc->crash_limit.window_us;
    sp->ready_notify = pc->ready == READY_NOTIFY;
    sp->start_timeout_us = pc->start_timeout_us;
    sp->start_grace_us = pc->start_grace_us;
    sp->watchdog_us = pc->watchdog_us;
    sp->stop_signal = pc->stop_signal;
    sp->stop_timeout_us = pc->stop_timeout_us;
}

static void pool_load_groups(struct pool *p)
{
    free(p->groups);
    p->ngroups = pool_env_groups(p->cfg, &p->groups);
}

void pool_settings_init(struct pool *p, struct pool_config *pc)
{
    p->cfg = pc;
    policy_from_config(pc, &p->policy);
    restart_gate_set(&p->crash_gate, pc->crash_restart_rate.count,
                     pc->crash_restart_rate.window_us);
    p->env_base = pool_env_build(pc);
    pool_load_groups(p);
    if (pc->stdout_mode == STDOUT_LOG)
        p->log =
            pool_log_new(droverd.config->daemon.log_dir, p->name, pc->log_max_size, pc->log_keep);
}

/* The pool's limits, written live to the cgroup of each worker that runs (reload). */
static void pool_apply_limits(struct pool *p)
{
    char err[PARSE_ERR_MAX];

    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (s == NULL || s->cg == NULL || s->pid <= 0)
            continue;
        if (cgroup_slot_apply_limits(s->cg, &p->cfg->limits, err, sizeof(err)) != 0)
            log_warnx("pool %s slot %u: %s", p->name, s->index, err);
    }
}

void pool_apply_settings(struct pool *p, struct pool_config *pc)
{
    p->cfg = pc;
    policy_from_config(pc, &p->policy);
    bool gate_changed = restart_gate_set(&p->crash_gate, pc->crash_restart_rate.count,
                                         pc->crash_restart_rate.window_us);
    free_strv(p->env_base);
    p->env_base = pool_env_build(pc);
    pool_load_groups(p);
    for (unsigned i = 0; i < p->nslots; i++) {
        if (p->slots[i] == NULL)
            continue;
        slot_fsm_policy_changed(&p->slots[i]->fsm, &p->policy);
        /* Restarts held for the old budget's times ask the new one (none: at once). */
        if (gate_changed)
            slot_gate_changed(p->slots[i]);
    }
    if (p->log != NULL) {
        pool_log_configure(p->log, pc->log_max_size, pc->log_keep);
        pool_log_set_dir(p->log, droverd.config->daemon.log_dir);
    } else if (pc->stdout_mode == STDOUT_LOG) {
        /* stdout changed to log: workers get the pipes as they restart. */
        p->log =
            pool_log_new(droverd.config->daemon.log_dir, p->name, pc->log_max_size, pc->log_keep);
    }
    for (unsigned i = 0; i < p->nslots; i++) {
        struct slot *s = p->slots[i];
        if (s != NULL && s->output == NULL && pc->stdout_mode == STDOUT_LOG)
            s->output = output_pipe_new(droverd.base, p->log, s->index);
    }
    if (p->route != NULL)
        route_configure(p->route, pc);
    recycle_pool_changed(p);
    for (unsigned i = 0; i < p->nslots; i++)
        if (p->slots[i] != NULL)
            check_slot_changed(p->slots[i]); /* check_command may have come or gone */
    pool_apply_limits(p);
}
