/* SPDX-License-Identifier: ISC */
/*
 * drover shutdown [--no-wait]: stop every worker and exit droverd. The
 * client waits until droverd exits (control_farewell answers it then).
 */
#include "cmd.h"
#include "control.h"
#include "droverd.h"

static bool until_exit(struct control_client *c, void *arg)
{
    (void)c;
    (void)arg;
    return false; /* control_farewell() answers when droverd exits */
}

static enum cmd_retval cmd_shutdown_exec(struct cmd_ctx *ctx)
{
    droverd_shutdown(DROVERD_EXIT_OK);
    if (ctx->args.no_wait) {
        control_out(ctx->client, ctx->args.json ? "{\"stopped\": false}\n" : "shutting down\n");
        return CMD_DONE;
    }
    control_wait(ctx->client, until_exit, NULL, NULL);
    return CMD_WAIT;
}

const struct cmd_entry cmd_shutdown_entry = {
    .verb = VERB_SHUTDOWN,
    .target = CMD_TARGET_NONE,
    .exec = cmd_shutdown_exec,
};
