/* SPDX-License-Identifier: ISC */
/*
 * Liveness checks (check_command): droverd runs a command for each running
 * worker every check_interval, kills it (its process group) at
 * check_timeout, and after check_failures failures in a row has the worker
 * restarted as failed. At most one check per worker at a time; a pool
 * without a check has no timer. Check processes are droverd's children:
 * reap.c hands their exits here.
 *
 * worker.c tells this module when a slot's state changed, pool_settings.c
 * when its pool's config did; the verdict goes back through the hook given to check_init(),
 * so this module never includes pool.h.
 */
#ifndef DROVER_CHECK_H
#define DROVER_CHECK_H

#include <stdbool.h>
#include <sys/types.h>

struct slot;

/* fail(s, reason): the worker of s failed its checks; reason lives as long as s. */
void check_init(void (*fail)(struct slot *s, const char *reason));
/* The slot's state, pid or pool config changed: start or stop its checks to match. */
void check_slot_changed(struct slot *s);
/* The slot is being freed: stop its checks; a check still running is killed and reaped later. */
void check_slot_free(struct slot *s);
/* A child was reaped: true if it was a check (then it is dealt with). */
bool check_reaped(pid_t pid, int wstatus);
/* A liveness check droverd runs has this pid (not an orphan it adopted). */
bool check_owns_pid(pid_t pid);
/* Check processes alive now (for tests and shutdown logs). */
unsigned check_running(void);
/* Teardown: kill what is left and free everything. */
void check_cleanup(void);

#endif
