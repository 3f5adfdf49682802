/* SPDX-License-Identifier: ISC */
/*
 * Command handlers, one per verb (cmd-*.c). Each receives a parsed command
 * and answers through control.h; a handler that must wait (start, stop,
 * logs -f, shutdown) registers with control_wait() or a log follower and
 * finishes later.
 */
#ifndef DROVER_CMD_H
#define DROVER_CMD_H

#include <stdbool.h>

#include "verbs.h"

struct control_client;
struct pool;

struct cmd_ctx {
    struct control_client *client;
    struct verb_args args;
    char **argv;
    int argc;
};

typedef void (*cmd_fn)(struct cmd_ctx *ctx);

/* Run a command (argv[0] is the verb); the ctx is owned by the control client. */
void cmd_dispatch(struct cmd_ctx *ctx);
void cmd_ctx_free(struct cmd_ctx *ctx);
/* Every verb the daemon runs has a handler (checked at start-up). */
int cmd_table_check(void);

void cmd_status(struct cmd_ctx *ctx);
void cmd_start(struct cmd_ctx *ctx);
void cmd_stop(struct cmd_ctx *ctx);
void cmd_restart(struct cmd_ctx *ctx);
void cmd_reload(struct cmd_ctx *ctx);
void cmd_scale(struct cmd_ctx *ctx);
void cmd_signal(struct cmd_ctx *ctx);
void cmd_logs(struct cmd_ctx *ctx);
void cmd_call(struct cmd_ctx *ctx);
void cmd_metrics(struct cmd_ctx *ctx);
void cmd_shutdown(struct cmd_ctx *ctx);

/* A list of (pool, slot) named by targets like "web", "web:3", "all". */
struct target {
    struct pool *pool;
    long slot; /* -1 = every slot */
};
struct target_list {
    struct target *v;
    size_t n;
};
/* Resolve targets; on error tells the client (exit 1) and returns -1. */
int cmd_resolve_targets(struct cmd_ctx *ctx, const char *const *names, int n,
                        struct target_list *out);
void target_list_free(struct target_list *t);

/* Apply a config reload; the text of what changed or of the errors goes to out. */
struct evbuffer;
int reload_config(struct evbuffer *out, bool json);
/* Free configs no pool uses any more (all: every one, at exit). */
void reload_free_retired(bool all);

#endif
