/* SPDX-License-Identifier: ISC */
/*
 * drover events [POOL] [-f] [--json]: the state changes kept in droverd's
 * event ring (events.c), oldest first; with -f, then every new one as it
 * happens, until the client leaves or droverd stops (exit 0).
 */
#include <event2/buffer.h>

#include "cmd.h"
#include "control.h"
#include "events.h"
#include "pool.h"

static enum cmd_retval cmd_events_exec(struct cmd_ctx *ctx)
{
    const char *pool = ctx->pool != NULL ? ctx->pool->name : NULL;
    struct evbuffer *out = evbuffer_new();

    events_format_recent(out, pool, ctx->args.json);
    control_out_buffer(ctx->client, out);
    evbuffer_free(out);
    if (!ctx->args.follow)
        return CMD_DONE;
    events_follow(ctx->client, pool, ctx->args.json);
    return CMD_WAIT;
}

const struct cmd_entry cmd_events_entry = {
    .verb = VERB_EVENTS,
    .target = CMD_TARGET_POOL_OPT,
    .exec = cmd_events_exec,
};
