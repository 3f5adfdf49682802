/* SPDX-License-Identifier: ISC */
/*
 * drover signal TARGET SIGNAL [--main|--group]: send a signal to workers'
 * process groups, or to the worker processes alone (the pool's
 * signal_target chooses when neither option is given).
 */
#include <errno.h>
#include <event2/buffer.h>
#include <signal.h>
#include <string.h>

#include "cmd.h"
#include "control.h"
#include "out.h"
#include "parse.h"
#include "pool.h"

/* The signal is checked before the target, so a bad one is a usage error whatever the target. */
static enum cmd_retval cmd_signal_check(struct cmd_ctx *ctx)
{
    char err[PARSE_ERR_MAX];

    if (parse_signal(ctx->args.pos[1], &ctx->signo, err, sizeof(err)) != 0) {
        cmd_error(ctx, "%s", err);
        return CMD_USAGE;
    }
    return CMD_DONE;
}

/* --main or --group, else the pool's signal_target. */
static bool signal_main_only(const struct cmd_ctx *ctx, const struct pool *p)
{
    if (ctx->args.main_only || ctx->args.group)
        return ctx->args.main_only;
    return p->cfg->signal_target == SIGNAL_TARGET_MAIN;
}

static enum cmd_retval cmd_signal_exec(struct cmd_ctx *ctx)
{
    const struct target_list *targets = &ctx->targets;
    unsigned sent = 0, sent_main = 0;

    for (size_t t = 0; t < targets->n; t++) {
        struct pool *p = targets->v[t].pool;
        bool main_only = signal_main_only(ctx, p);
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = pool_slot(p, i);
            if (s == NULL || (targets->v[t].slot >= 0 && (unsigned)targets->v[t].slot != i))
                continue;
            if (s->pid <= 0)
                continue;
            if (main_only ? kill(s->pid, ctx->signo) == 0 : slot_signal(s, ctx->signo) == 0) {
                sent++;
                sent_main += main_only;
            }
        }
    }
    if (sent == 0) {
        cmd_error(ctx, "no running worker to signal");
        return CMD_FAILED;
    }
    if (ctx->args.json) {
        struct evbuffer *out = evbuffer_new();
        struct json j;
        json_init(&j, out);
        json_object_begin(&j);
        json_kv_str(&j, "signal", signal_name(ctx->signo));
        json_kv_uint(&j, "sent", sent);
        json_kv_uint(&j, "sent_main_only", sent_main);
        json_object_end(&j);
        control_out_buffer(ctx->client, out);
        evbuffer_free(out);
        return CMD_DONE;
    }
    control_out(ctx->client, "sent %s to %u worker%s%s\n", signal_name(ctx->signo), sent,
                sent == 1 ? "" : "s",
                sent_main == sent ? " (main process only)"
                : sent_main == 0  ? ""
                                  : " (some to the main process only: signal_target = main)");
    return CMD_DONE;
}

const struct cmd_entry cmd_signal_entry = {
    .verb = VERB_SIGNAL,
    .target = CMD_TARGET_SLOT,
    .check = cmd_signal_check,
    .exec = cmd_signal_exec,
};
