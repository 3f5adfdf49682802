/* SPDX-License-Identifier: ISC */
/*
 * What every worker of a pool starts with, from the pool's config: the
 * shared environment, the supplementary groups for `user`, and who and
 * where its processes run. Used by pool_settings.c when a pool is created or
 * reconfigured and by worker.c and check.c for each spawn; changes no pool
 * or slot.
 */
#ifndef DROVER_POOL_ENV_H
#define DROVER_POOL_ENV_H

#include <sys/types.h>

#include "config.h"

/*
 * The environment every worker of the pool shares: the pool's own
 * variables, then USER/LOGNAME/HOME for `user`, DROVER_POOL, then
 * droverd's environment without what its own supervisor meant for it.
 * NULL-terminated; free with free_strv().
 */
char **pool_env_build(const struct pool_config *pc);
/* The supplementary groups for the pool's user (*groups NULL and 0 without one); free *groups. */
int pool_env_groups(const struct pool_config *pc, gid_t **groups);

struct pool;
struct spawn_plan;
/*
 * Who and where every process of the pool runs (a worker or its liveness
 * check): directory, user, group, supplementary groups, droverd's pid for the
 * parent-death check, the fd limit to restore.
 */
void pool_env_identity(const struct pool *p, struct spawn_plan *plan);

#endif
