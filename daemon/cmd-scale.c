/* SPDX-License-Identifier: ISC */
/* drover scale POOL N: change a pool's worker count live. */
#include "cmd.h"
#include "control.h"
#include "parse.h"
#include "pool.h"

void cmd_scale(struct cmd_ctx *ctx)
{
    struct pool *p = pool_find(ctx->args.pos[0]);
    char err[PARSE_ERR_MAX];
    uint64_t n;
    unsigned before;

    if (p == NULL) {
        control_err(ctx->client, "no pool named '%s'\n", ctx->args.pos[0]);
        control_finish(ctx->client, 1);
        return;
    }
    if (parse_uint(ctx->args.pos[1], 0, WORKERS_MAX, &n, err, sizeof(err)) != 0) {
        control_err(ctx->client, "worker count: %s\n", err);
        control_finish(ctx->client, 2);
        return;
    }
    before = p->target;
    pool_scale(p, (unsigned)n);
    control_out(ctx->client, "pool %s: workers %u -> %u\n", p->name, before, (unsigned)n);
    control_finish(ctx->client, 0);
}
