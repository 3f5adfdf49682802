/* SPDX-License-Identifier: ISC */
/*
 * What a pool's config becomes in the running pool: the slots' policy, the
 * workers' environment and groups, the log; on reload, everything that
 * takes a new config live (each slot's crash window, the route, memory
 * recycling, liveness checks, the running workers' cgroup limits). Changes
 * the pool's settings, never a slot's state: pool.c at creation, rollout.c
 * on reload and at a rollback call it.
 */
#ifndef DROVER_POOL_SETTINGS_H
#define DROVER_POOL_SETTINGS_H

#include "droverd.h"

/* A new pool takes pc: its config, policy, environment, groups and log. */
void pool_settings_init(struct pool *p, struct pool_config *pc);
/* Take pc's settings for the workers started from now on, and what applies live. */
void pool_apply_settings(struct pool *p, struct pool_config *pc);

#endif
