/* SPDX-License-Identifier: ISC */
/*
 * The CLI's control connection and its messages (client.c), for drover.c
 * and top.c: connect to droverd, send a command, read the framed reply;
 * report to the user on stderr, or under --json into the one JSON document
 * printed at the end (docs/json.md).
 */
#ifndef DROVER_CLI_CLIENT_H
#define DROVER_CLI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct evbuffer;

/* --json: messages are kept for {"error": ..., "exit": N} instead of printed. */
void cli_set_json(bool on);
bool cli_json_on(void);
/* A message for the user: "drover: ..." on stderr, or kept for the JSON error. */
void __attribute__((format(printf, 1, 2))) cli_error(const char *fmt, ...);
/* Drop the messages kept so far (they were part of an answer, not an error). */
void cli_errors_forget(void);
/* Print a JSON document built with out.h, and a newline. */
void cli_print_json(struct evbuffer *buf);
/* The exit status, after the JSON error object when --json failed without JSON of its own. */
int cli_finish(int status);
_Noreturn void cli_exit(int status);

/*
 * All of buf through put (write(2)'s shape), retrying EINTR; with ready, a
 * non-blocking fd: ready(fd) waits (0) or gives up (-1) before each put,
 * and EAGAIN is retried. 0, or -1 with errno.
 */
int write_all_with(int fd, const void *buf, size_t len,
                   ssize_t (*put)(int fd, const void *buf, size_t len), int (*ready)(int fd));
/* write(2) all of buf on a blocking fd. */
int write_all(int fd, const void *buf, size_t len);
/* A connected AF_UNIX stream socket, or -1 with errno. */
int connect_unix(const char *path);
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

#endif
