/* SPDX-License-Identifier: ISC */
/* drover signal TARGET SIGNAL: send a signal to workers' process groups. */
#include <errno.h>
#include <string.h>

#include "cmd.h"
#include "control.h"
#include "parse.h"
#include "pool.h"

void cmd_signal(struct cmd_ctx *ctx)
{
    struct target_list targets;
    char err[PARSE_ERR_MAX];
    int sig;
    unsigned sent = 0;

    if (parse_signal(ctx->args.pos[1], &sig, err, sizeof(err)) != 0) {
        control_err(ctx->client, "%s\n", err);
        control_finish(ctx->client, 2);
        return;
    }
    if (cmd_resolve_targets(ctx, ctx->args.pos, 1, &targets) != 0)
        return;
    for (size_t t = 0; t < targets.n; t++) {
        struct pool *p = targets.v[t].pool;
        for (unsigned i = 0; i < p->nslots; i++) {
            struct slot *s = pool_slot(p, i);
            if (s == NULL || (targets.v[t].slot >= 0 && (unsigned)targets.v[t].slot != i))
                continue;
            if (s->pid > 0 && slot_signal(s, sig) == 0)
                sent++;
        }
    }
    target_list_free(&targets);
    if (sent == 0) {
        control_err(ctx->client, "no running worker to signal\n");
        control_finish(ctx->client, 1);
        return;
    }
    control_out(ctx->client, "sent %s to %u worker%s\n", signal_name(sig), sent,
                sent == 1 ? "" : "s");
    control_finish(ctx->client, 0);
}
