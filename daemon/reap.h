/* SPDX-License-Identifier: ISC */
#ifndef DROVER_REAP_H
#define DROVER_REAP_H

/* Collect every exited child (called on SIGCHLD). */
void reap_children(void);

#endif
