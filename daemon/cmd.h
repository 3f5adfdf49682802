/* SPDX-License-Identifier: ISC */
/*
 * The command layer, after tmux's cmd_entry: one struct cmd_entry per verb
 * (in cmd-VERB.c, or cmd-startstop.c for the three that share a waiter),
 * and one dispatcher (cmd.c) that re-checks what the client sent, resolves
 * the entry's target once, runs it, and turns its enum cmd_retval into the
 * exit status once. Handlers answer through control.h; one that must wait
 * (start, stop, restart, logs -f, shutdown) registers with control_wait()
 * and returns CMD_WAIT, and its waiter calls control_finish later.
 *
 * A new verb: its row in common/verbs.c, an entry in a cmd-VERB.c, and that
 * entry in cmd_entries[] (cmd.c); the build fails until all three agree.
 */
#ifndef DROVER_CMD_H
#define DROVER_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "verbs.h"

struct control_client;
struct pool;

/* What an exec function returns; the dispatcher maps it to the exit status. */
enum cmd_retval {
    CMD_DONE,   /* answered: exit 0 */
    CMD_FAILED, /* refused or failed, cmd_error said why: exit 1 */
    CMD_USAGE,  /* bad arguments, cmd_error said why: exit 2 */
    CMD_WAIT,   /* the client waits (control_wait); the waiter finishes it */
};

/* What the first argument(s) name; the dispatcher resolves it before exec. */
enum cmd_target {
    CMD_TARGET_NONE,
    CMD_TARGET_POOL,     /* first argument: a pool (ctx->pool) */
    CMD_TARGET_POOL_OPT, /* first argument, if given: a pool (ctx->pool, else NULL) */
    CMD_TARGET_SLOT,     /* first argument: POOL, POOL:SLOT or all (ctx->targets) */
    CMD_TARGET_SLOTS,    /* every argument: POOL, POOL:SLOT or all (ctx->targets) */
};

/* A list of (pool, slot) named by targets like "web", "web:3", "all". */
struct target {
    struct pool *pool;
    long slot; /* -1 = every slot */
};
struct target_list {
    struct target *v;
    size_t n;
};

/* One command while it runs; lives for the dispatch only (waiters keep what they need). */
struct cmd_ctx {
    struct control_client *client;
    struct verb_args args;      /* points into the client's argv */
    struct pool *pool;          /* CMD_TARGET_POOL, CMD_TARGET_POOL_OPT */
    struct target_list targets; /* CMD_TARGET_SLOT, CMD_TARGET_SLOTS */
    int signo;                  /* signal: parsed by its check */
    long slot;                  /* POOL:SLOT given to an entry with slot_ok; else -1 */
};

struct cmd_entry {
    enum verb_id verb;
    enum cmd_target target;
    bool slot_ok; /* CMD_TARGET_POOL(_OPT) may name one slot: POOL:SLOT (ctx->slot) */
    /* Optional: check the arguments before the target is resolved (as tmux parses them first). */
    enum cmd_retval (*check)(struct cmd_ctx *ctx);
    enum cmd_retval (*exec)(struct cmd_ctx *ctx);
};

extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_start_entry;
extern const struct cmd_entry cmd_stop_entry;
extern const struct cmd_entry cmd_restart_entry;
extern const struct cmd_entry cmd_reload_entry;
extern const struct cmd_entry cmd_scale_entry;
extern const struct cmd_entry cmd_signal_entry;
extern const struct cmd_entry cmd_logs_entry;
extern const struct cmd_entry cmd_call_entry;
extern const struct cmd_entry cmd_check_entry;
extern const struct cmd_entry cmd_metrics_entry;
extern const struct cmd_entry cmd_shutdown_entry;
extern const struct cmd_entry cmd_health_entry;
extern const struct cmd_entry cmd_events_entry;
extern const struct cmd_entry cmd_top_entry;
extern const struct cmd_entry cmd_version_entry;

/* Run what a client sent (argv[0] is the verb): control.h's dispatch function. */
void cmd_dispatch(struct control_client *c, int argc, char **argv);
/* Every entry sits at its verb's index (the count is checked when compiling). */
int cmd_table_check(void);

/* Tell the client why (its stderr; a newline is added). Return CMD_FAILED or CMD_USAGE after. */
void cmd_error(struct cmd_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
