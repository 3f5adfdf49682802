/* SPDX-License-Identifier: ISC */
/*
 * Pools: creating them from config, starting, stopping, draining, scaling,
 * removal and re-creation, the shutdown's halt and SIGKILL. The top of the
 * pool layer, which is, from the top down:
 *
 *   pool.c            pools (this header)
 *   rollout.c         a reload's new config and its rolling restart (rollout.h)
 *   pool_settings.c   what a pool's config becomes in the running pool
 *   worker.c          a slot's process and its state machine carried out (worker.h)
 *   spawn_queue.c     forks paced per loop pass
 *   transition.c      a transition's log line, event and descriptions
 *
 * Each calls only the ones below it (upward through hooks). This header
 * includes worker.h, rollout.h and transition.h, so a caller of the pool
 * layer (commands, reload, reap, notify, view) includes pool.h alone.
 */
#ifndef DROVER_POOL_H
#define DROVER_POOL_H

#include <stdbool.h>
#include <sys/types.h>

#include "droverd.h"
#include "rollout.h"
#include "transition.h"
#include "worker.h"

/* Create a pool and its slots, all stopped. NULL with a reason if its socket cannot be set up. */
struct pool *pool_create(struct pool_config *pc, char *err, size_t errsz);
/* Start every slot of the pool. */
void pool_start(struct pool *p);
/*
 * Stop every slot; with remove, free the pool once all have stopped. A
 * routed pool first stops taking work and drains what it took.
 */
void pool_stop(struct pool *p, bool remove);
/* Stop the workers of draining pools whose work is done. */
void pools_drain_check(void);
/* Free a pool at once (its processes must be gone). */
void pool_destroy(struct pool *p);
/* Stop the pool, then create it again from pc (its socket settings changed). */
void pool_recreate(struct pool *p, struct pool_config *pc);
/*
 * Whether this many worker slots in all can have their file descriptors
 * under droverd's limit, with its reserve kept (0, or -1 with why): more
 * would take every fd once started, so their restarts fail and the control
 * socket cannot accept.
 */
int pools_fds_fit(unsigned long slots, char *err, size_t errsz);
/* The same for a config's pools; the error names the largest pool's workers line. */
int pools_accept_fds(const struct config *cfg, struct config_errors *errs);
/* Some pool waits to be created again with this listen value (its socket is kept for it). */
bool pool_listen_wanted(const char *listen);
/* Change the number of workers. */
void pool_scale(struct pool *p, unsigned n);

struct pool *pool_find(const char *name);
/* A pool of that name that is still stopping after being removed or re-created. */
struct pool *pool_find_removing(const char *name);
/* Slot i of a pool, or NULL if out of range or being removed. */
struct slot *pool_slot(struct pool *p, unsigned i);

/* Every pool has no process left (shutdown is complete). */
bool pools_all_down(void);
/* Every slot that should run is running (or fatal): for READY=1. */
bool pools_all_settled(void);
/* The shutdown began: no slot starts again, whatever its restart policy or pending restart. */
void pools_halt(void);
/* SIGKILL every worker left, as a stop: the shutdown's deadline. */
void pools_kill_all(void);
void pools_reopen_logs(void);

#endif
