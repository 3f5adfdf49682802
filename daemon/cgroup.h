/* SPDX-License-Identifier: ISC */
/*
 * Containment with cgroup v2: droverd's delegated subtree (or the one given
 * by `cgroup = PATH`), one cgroup per pool and one per worker slot below it
 * (BASE/pool-NAME/slot-N; droverd itself moves to BASE/droverd when BASE is
 * its own cgroup). worker.c prepares a slot's cgroup and hands spawn.c an open
 * cgroup.procs fd the child writes itself into before exec; stopping signals
 * every process in the slot's cgroup and ends with cgroup.kill; one inotify
 * fd watches each slot's cgroup.events and tells worker.c (through the hook it
 * registered) when a cgroup is empty. Never calls the pool layer directly. When
 * containment is off every function here is a no-op returning "none".
 */
#ifndef DROVER_CGROUP_H
#define DROVER_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cglimits.h"

struct event_base;
struct cgroup_slot;
struct config;
struct config_errors;

/*
 * Decide from `cgroup =` (auto, off or a path) whether droverd contains its
 * workers, and prepare the base: lock it (one droverd per base), move droverd
 * into BASE/droverd when BASE is its own cgroup, kill what an earlier droverd
 * left in the slots' cgroups below it and remove those. Returns -1 with a reason only for a given
 * PATH that cannot be used: a start error. auto never fails; it turns containment off and says why
 * (cgroup_reason()).
 */
int cgroup_setup(const char *setting, struct event_base *base, char *err, size_t errsz);
/* Remove the pools' directories that are empty, close the inotify fd. */
void cgroup_teardown(void);

bool cgroup_enabled(void);
/* The base directory as the cgroup hierarchy names it ("/system.slice/drover.service"); NULL when
 * off. */
const char *cgroup_base(void);
/* Why containment is on or off, one sentence. */
const char *cgroup_reason(void);

/* Called (with the owner given to cgroup_slot_new) when a slot's cgroup became empty. */
void cgroup_set_empty_hook(void (*fn)(void *owner));
/* Called when the OOM killer struck in a slot's cgroup (memory.events oom_kill went up). */
void cgroup_set_oom_hook(void (*fn)(void *owner));

/* What containment can give limits here (for config_check_limits). */
void cgroup_probe(struct cg_probe *p);
/*
 * Can cfg's limits be applied? If so, enable the controllers they need in
 * the base (for its children) and return 0; if not, -1 with one
 * "FILE:LINE: KEY: cannot be applied: ..." per key in errs (start and reload
 * refuse the config).
 */
int cgroup_accept_limits(const struct config *cfg, struct config_errors *errs);

/*
 * A slot's cgroup, BASE/pool-POOL/slot-INDEX, created on first use and
 * watched from then on. NULL when containment is off.
 */
struct cgroup_slot *cgroup_slot_new(const char *pool, unsigned index, void *owner);
/* Stop watching, remove the directory if empty (and the pool's, once it has no slot left). */
void cgroup_slot_free(struct cgroup_slot *c);
/* Its path in the hierarchy, as /proc/PID/cgroup shows it ("/drover/pool-web/slot-0"). */
const char *cgroup_slot_path(const struct cgroup_slot *c);
/* Its absolute directory, for reading its accounting files; NULL until it was created. */
const char *cgroup_slot_dir(const struct cgroup_slot *c);

/*
 * Create the cgroup if needed and open its cgroup.procs for writing (CLOEXEC)
 * for the child to write "0" to before exec. -1 with a reason.
 */
int cgroup_slot_open_procs(struct cgroup_slot *c, char *err, size_t errsz);
/*
 * Send sig to every process in the cgroup except those of process group
 * skip_pgid (which the caller signalled already; 0 = skip none), so no
 * process gets a stop signal twice. SIGKILL uses cgroup.kill (on a kernel
 * without it, SIGKILL to each pid in cgroup.procs). Returns the number of
 * processes signalled (cgroup.kill: 1 when written), or -1.
 */
int cgroup_slot_signal(struct cgroup_slot *c, int sig, pid_t skip_pgid);
/*
 * Write the limits to the slot's cgroup (created by cgroup_slot_open_procs),
 * enabling the controllers they need in the base and the pool's directory
 * first; what is not set is written as the kernel's default, so a limit
 * removed on reload is lifted. With the memory controller, memory.oom.group
 * is 1 and memory.events is watched. -1 with a reason.
 */
int cgroup_slot_apply_limits(struct cgroup_slot *c, const struct cg_limits *l, char *err,
                             size_t errsz);
/* Did the OOM killer strike in the cgroup since the last call? (Reads memory.events.) */
bool cgroup_slot_take_oom(struct cgroup_slot *c);
/* 1 when processes are in the cgroup, 0 when empty, -1 when it cannot be read. */
int cgroup_slot_populated(const struct cgroup_slot *c);

#endif
