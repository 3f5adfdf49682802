/* SPDX-License-Identifier: ISC */
#ifndef DROVER_REAP_H
#define DROVER_REAP_H

#include <sys/types.h>

/* SIGCHLD: collect exited children from the next loop pass on, a bounded batch per pass. */
void reap_soon(void);
/* Collect a batch of exited children now (and schedule the rest). */
void reap_children(void);
void reap_cleanup(void);

/*
 * Processes droverd adopted: its children that are not workers (orphans reparented to it
 * as a subreaper or PID 1). reap_adopted lists them now (*out to free; -1 if /proc cannot
 * be read); reap_adopted_count is for status and metrics and reads /proc at most every 5
 * second (a scan of /proc where the kernel lacks /proc/PID/task/TID/children).
 */
int reap_adopted(pid_t **out);
unsigned reap_adopted_count(void);
/* Signal every adopted process not signalled with sig yet; returns how many are left. */
int reap_signal_adopted(int sig);

#endif
