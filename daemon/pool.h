/* SPDX-License-Identifier: ISC */
/*
 * Pools and their worker slots: creating them from config, feeding events
 * to each slot's state machine and carrying out what it decides (spawn,
 * signal, timer), scaling, rolling restarts, removal. The only module that
 * changes a slot's state.
 */
#ifndef DROVER_POOL_H
#define DROVER_POOL_H

#include <stdbool.h>
#include <sys/types.h>

#include "droverd.h"

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
/* Switch to a new config for the same pool (reload); restart_workers starts a rolling restart. */
void pool_set_config(struct pool *p, struct pool_config *pc, bool restart_workers);
/* Change the number of workers. */
void pool_scale(struct pool *p, unsigned n);

struct pool *pool_find(const char *name);
/* A pool of that name that is still stopping after being removed or re-created. */
struct pool *pool_find_removing(const char *name);
struct slot *slot_find_pid(pid_t pid);
/* Slot i of a pool, or NULL if out of range or being removed. */
struct slot *pool_slot(struct pool *p, unsigned i);

/* Feed one event to a slot and carry out the decision. */
void slot_event(struct slot *s, enum slot_event ev, const char *reason);
/* The slot's worker was reaped with this wait status. */
void slot_exited(struct slot *s, int wstatus);
/* Send a signal to the worker's process group. */
int slot_signal(struct slot *s, int sig);

/* Every pool has no process left (shutdown is complete). */
bool pools_all_down(void);
/* Every slot that should run is running (or fatal): for READY=1. */
bool pools_all_settled(void);
/* The shutdown began: no slot starts again, whatever its restart policy or pending restart. */
void pools_halt(void);
/* SIGKILL every worker left, as a stop: the shutdown's deadline. */
void pools_kill_all(void);
void pools_reopen_logs(void);

/* "exit 1", "killed by KILL", "spawn failed", for status. */
void describe_wait_status(int wstatus, char *buf, size_t bufsz);
/*
 * Why the slot's last process did not come to count as started, for start,
 * restart and a halted rollout: "exited with status 7 within start_grace (1s)".
 */
void slot_describe_start_failure(const struct slot *s, char *buf, size_t bufsz);

#endif
