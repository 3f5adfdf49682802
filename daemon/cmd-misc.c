/* SPDX-License-Identifier: ISC */
/*
 * The small verbs: drover metrics, drover shutdown, and the daemon's half
 * of drover call (telling the CLI where the pool's work socket is).
 */
#include <event2/buffer.h>
#include <stdlib.h>

#include "cmd.h"
#include "control.h"
#include "droverd.h"
#include "metrics.h"
#include "pool.h"
#include "proto.h"
#include "route.h"

void cmd_metrics(struct cmd_ctx *ctx)
{
    struct evbuffer *out = evbuffer_new();

    metrics_render(out);
    control_out_buffer(ctx->client, out);
    evbuffer_free(out);
    control_finish(ctx->client, 0);
}

static bool until_exit(struct control_client *c, void *arg)
{
    (void)c;
    (void)arg;
    return false; /* control_farewell() answers when droverd exits */
}

void cmd_shutdown(struct cmd_ctx *ctx)
{
    droverd_shutdown(0);
    if (ctx->args.no_wait) {
        control_out(ctx->client, "shutting down\n");
        control_finish(ctx->client, 0);
        return;
    }
    control_wait(ctx->client, until_exit, NULL, NULL);
}

/*
 * drover call POOL: the CLI sends the request itself, straight to the
 * work socket; the daemon only says where that is and how it frames
 * (struct proto_call_info, documented in docs/protocol.md).
 */
void cmd_call(struct cmd_ctx *ctx)
{
    struct pool *p = pool_find(ctx->args.pos[0]);

    if (p == NULL) {
        control_err(ctx->client, "no pool named '%s'\n", ctx->args.pos[0]);
        control_finish(ctx->client, 1);
        return;
    }
    if (p->cfg->listen == NULL) {
        control_err(ctx->client, "pool %s has no work socket (set listen to route work to it)\n",
                    p->name);
        control_finish(ctx->client, 1);
        return;
    }
    if (p->cfg->mode != ROUTE_MESSAGE) {
        control_err(ctx->client,
                    "drover call needs mode = message; pool %s uses mode = %s and its workers "
                    "speak their own protocol\n",
                    p->name, route_mode_name(p->cfg->mode));
        control_finish(ctx->client, 1);
        return;
    }
    struct proto_call_info ci = {.listen = p->cfg->listen,
                                 .framing = (enum framing)p->cfg->framing,
                                 .max_frame = p->cfg->max_frame};
    size_t len;
    char *answer = proto_call_info_pack(&ci, &len);
    control_out_bytes(ctx->client, answer, len);
    free(answer);
    control_finish(ctx->client, 0);
}
