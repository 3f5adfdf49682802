/* SPDX-License-Identifier: ISC */
#ifndef DROVER_REAP_H
#define DROVER_REAP_H

/* SIGCHLD: collect exited children from the next loop pass on, a bounded batch per pass. */
void reap_soon(void);
/* Collect a batch of exited children now (and schedule the rest). */
void reap_children(void);
void reap_cleanup(void);

#endif
