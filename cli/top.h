/* SPDX-License-Identifier: ISC */
/* drover top (top.c): a live view of status --json, refreshed each interval. */
#ifndef DROVER_CLI_TOP_H
#define DROVER_CLI_TOP_H

/* args are what follows the verb; returns the exit status. */
int top_main(const char *socket_path, int argc, const char *const argv[]);

#endif
