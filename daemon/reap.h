/* SPDX-License-Identifier: ISC */
#ifndef DROVER_REAP_H
#define DROVER_REAP_H

/* Collect exited children (called on SIGCHLD), a bounded batch per loop pass. */
void reap_children(void);
void reap_cleanup(void);

#endif
