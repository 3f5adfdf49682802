/* SPDX-License-Identifier: ISC */
/*
 * drover call POOL: the CLI sends the request itself, straight to the
 * work socket; the daemon only says where that is and how it frames
 * (struct proto_call_info, documented in docs/protocol.md).
 */
#include <stdlib.h>

#include "cmd.h"
#include "control.h"
#include "droverd.h"
#include "proto.h"
#include "route.h"

static enum cmd_retval cmd_call_exec(struct cmd_ctx *ctx)
{
    struct pool *p = ctx->pool;
    struct proto_call_info ci;
    size_t len;
    char *answer;

    if (p->cfg->listen == NULL) {
        cmd_error(ctx, "pool %s has no work socket (set listen to route work to it)", p->name);
        return CMD_FAILED;
    }
    if (p->cfg->mode != ROUTE_MESSAGE) {
        cmd_error(ctx,
                  "drover call needs mode = message; pool %s uses mode = %s and its workers "
                  "speak their own protocol",
                  p->name, route_mode_name(p->cfg->mode));
        return CMD_FAILED;
    }
    ci = (struct proto_call_info){.listen = p->cfg->listen,
                                  .framing = (enum framing)p->cfg->framing,
                                  .max_frame = p->cfg->max_frame,
                                  .tls = p->cfg->tls_cert != NULL};
    answer = proto_call_info_pack(&ci, &len);
    control_out_bytes(ctx->client, answer, len);
    free(answer);
    return CMD_DONE;
}

const struct cmd_entry cmd_call_entry = {
    .verb = VERB_CALL,
    .target = CMD_TARGET_POOL,
    .exec = cmd_call_exec,
};
