/* SPDX-License-Identifier: ISC */
/*
 * A pool's new config (reload) and its rolling restart: each replaced slot
 * on probation until its new worker counts as started, one at a time; a
 * failed start halts the rollout and rolls the replaced slots back. Owns
 * the pool's rollout fields (rolling, rollback_cfg, halt_reason,
 * rollout_gen, ...) and the slots' rolling/replaced/probation marks.
 * Changes slots only through worker.h's slot_event(); pool.c calls
 * pool_rolling_advance() after every slot event of a rolling pool (the
 * hook worker.c calls), so the rollout never calls up into pool.c.
 */
#ifndef DROVER_ROLLOUT_H
#define DROVER_ROLLOUT_H

#include <stdbool.h>

#include "droverd.h"

/*
 * Switch to a new config for the same pool (reload); restart_workers starts a
 * rolling restart. A pool whose rollout halted keeps the settings it was rolled
 * back to and takes only pc's live keys, unless restart_workers.
 */
void pool_set_config(struct pool *p, struct pool_config *pc, bool restart_workers);
/* A slot of the rolling pool p changed: restart the next one, or halt. */
void pool_rolling_advance(struct pool *p);

#endif
