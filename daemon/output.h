/* SPDX-License-Identifier: ISC */
/*
 * Captured worker output. Each slot owns its pipes for the life of the slot
 * (one for stdout, and one for stderr unless log_stderr = merged), so
 * nothing written just before a crash is lost. Complete lines go to the
 * pool's log file, $log_dir/POOL.log, prefixed with a timestamp and the
 * slot: "TIME [SLOT] text" from stdout (or both streams merged), "TIME
 * [SLOT:stderr] text" from stderr. Each stream keeps its own unfinished
 * line, so the two never cut into each other's lines. The file is rotated
 * by size and reopened on SIGUSR1. Writing never blocks the loop: when the
 * disk refuses, the bytes are dropped and counted.
 */
#ifndef DROVER_OUTPUT_H
#define DROVER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "list.h"

struct event_base;

/* The marker of a stderr line: "TIME [SLOT" OUTPUT_STDERR_MARK "] text". */
#define OUTPUT_STDERR_MARK ":stderr"

/*
 * Something that wants every line written to a pool's log (drover logs -f),
 * or to every pool's log (drover logs all -f). line is "TIME [SLOT] text\n".
 */
struct log_follower {
    TAILQ_ENTRY(log_follower) entry;
    void (*line_cb)(void *arg, const char *pool, const char *line, size_t len);
    void (*closed_cb)(void *arg); /* the log is going away (not called for every-pool ones) */
    void *arg;
};

struct pool_log;

/* Open (creating the directory if needed). Failure to open is logged, not fatal. */
struct pool_log *pool_log_new(const char *dir, const char *pool, uint64_t max_size, unsigned keep);
void pool_log_free(struct pool_log *log);
void pool_log_configure(struct pool_log *log, uint64_t max_size, unsigned keep);
/* Move to another directory (log_dir changed on reload). */
void pool_log_set_dir(struct pool_log *log, const char *dir);
/* Close and open the file again: an external tool has rotated it. */
void pool_log_reopen(struct pool_log *log);
const char *pool_log_path(const struct pool_log *log);
uint64_t pool_log_dropped(const struct pool_log *log);
uint64_t pool_log_written(const struct pool_log *log);
/* Append one line (without its newline) from a slot's stdout, or its stderr when err. */
void pool_log_line(struct pool_log *log, unsigned slot, bool err, const char *line, size_t len);
void pool_log_follow(struct pool_log *log, struct log_follower *f);
void pool_log_unfollow(struct pool_log *log, struct log_follower *f);
/* Follow every pool's log, those created later included. */
void pool_log_follow_all(struct log_follower *f);
void pool_log_unfollow_all(struct log_follower *f);

/* The pipes of one slot. */
struct output_pipe;

/* Create the stdout pipe; NULL (and errno) on failure. */
struct output_pipe *output_pipe_new(struct event_base *base, struct pool_log *log, unsigned slot);
/* The end given to workers as stdout. */
int output_pipe_write_fd(const struct output_pipe *op);
/*
 * The end given to workers as stderr: with marked, the stderr pipe (made at
 * the first call); the stdout pipe when merged, or when the stderr pipe
 * cannot be made (out of fds: logged once, the lines are then unmarked;
 * tried again at the next call).
 */
int output_pipe_err_fd(struct output_pipe *op, bool marked);
/* Read whatever is waiting now (a worker just exited). */
void output_pipe_drain(struct output_pipe *op);
void output_pipe_set_log(struct output_pipe *op, struct pool_log *log);
void output_pipe_free(struct output_pipe *op);

#endif
