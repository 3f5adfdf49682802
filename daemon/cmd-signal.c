/* SPDX-License-Identifier: ISC */
/* drover signal TARGET SIGNAL: send a signal to workers' process groups. */
#include <errno.h>
#include <string.h>

#include "cmd.h"
#include "control.h"
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

static enum cmd_retval cmd_signal_exec(struct cmd_ctx *ctx)
{
    const struct target_list *targets = &ctx->targets;
    unsigned sent = 0;

    for (size_t t = 0; t < targets->n; t++) {
        struct pool *p = targets->v[t].pool;
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = pool_slot(p, i);
            if (s == NULL || (targets->v[t].slot >= 0 && (unsigned)targets->v[t].slot != i))
                continue;
            if (s->pid > 0 && slot_signal(s, ctx->signo) == 0)
                sent++;
        }
    }
    if (sent == 0) {
        cmd_error(ctx, "no running worker to signal");
        return CMD_FAILED;
    }
    control_out(ctx->client, "sent %s to %u worker%s\n", signal_name(ctx->signo), sent,
                sent == 1 ? "" : "s");
    return CMD_DONE;
}

const struct cmd_entry cmd_signal_entry = {
    .verb = VERB_SIGNAL,
    .target = CMD_TARGET_SLOT,
    .check = cmd_signal_check,
    .exec = cmd_signal_exec,
};
