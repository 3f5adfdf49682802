/* SPDX-License-Identifier: ISC */
/* drover metrics: the Prometheus text that metrics_listen serves, over the control socket. */
#include <event2/buffer.h>

#include "cmd.h"
#include "control.h"
#include "metrics.h"

static enum cmd_retval cmd_metrics_exec(struct cmd_ctx *ctx)
{
    struct evbuffer *out = evbuffer_new();

    metrics_render(out);
    control_out_buffer(ctx->client, out);
    evbuffer_free(out);
    return CMD_DONE;
}

const struct cmd_entry cmd_metrics_entry = {
    .verb = VERB_METRICS,
    .target = CMD_TARGET_NONE,
    .exec = cmd_metrics_exec,
};
