/* SPDX-License-Identifier: ISC */
/*
 * What cli/drover.c offers the CLI's other files (top.c): the control
 * connection and the reading of droverd's framed reply.
 */
#ifndef DROVER_CLI_CLIENT_H
#define DROVER_CLI_CLIENT_H

#include <stddef.h>

/* Connect to droverd's control socket; on failure print why and exit (1 or 3). */
int connect_control(const char *path);
/* Send one command (argv[0] is the verb); exits on failure. */
void send_command(int fd, int argc, char *const argv[]);
/*
 * Read the reply: DATA to stdout (or appended to *capture), ERROR to stderr,
 * until EXIT. Returns the exit status; eof_status when droverd closes first
 * (-1: that is an error).
 */
int read_reply(int fd, char **capture, size_t *capture_len, int eof_status);

/* drover top (top.c): args are what follows the verb. */
int top_main(const char *socket_path, int argc, const char *const argv[]);

#endif
