/* SPDX-License-Identifier: ISC */
/*
 * drover health [POOL] [--json]: exit 0 when droverd is healthy by the rule
 * of health.h, else 1 with one line per reason (pool and slot named). The
 * JSON form is documented in docs/health-json.md and is what /readyz sends.
 */
#include <event2/buffer.h>

#include "cmd.h"
#include "control.h"
#include "health.h"

static enum cmd_retval cmd_health_exec(struct cmd_ctx *ctx)
{
    struct health_report r;
    struct evbuffer *out = evbuffer_new();
    unsigned running = 0;
    bool healthy;

    health_check(&r, ctx->pool);
    healthy = r.healthy;
    if (ctx->args.json) {
        health_json(out, &r);
    } else if (healthy) {
        for (size_t i = 0; i < r.npools; i++)
            running += r.pools[i].running;
        evbuffer_add_printf(out, "healthy: %zu pool%s, %u worker%s running\n", r.npools,
                            r.npools == 1 ? "" : "s", running, running == 1 ? "" : "s");
    } else {
        for (size_t i = 0; i < r.nreasons; i++)
            evbuffer_add_printf(out, "%s\n", r.reasons[i].text);
    }
    health_report_free(&r);
    control_out_buffer(ctx->client, out);
    evbuffer_free(out);
    return healthy ? CMD_DONE : CMD_FAILED;
}

const struct cmd_entry cmd_health_entry = {
    .verb = VERB_HEALTH,
    .target = CMD_TARGET_POOL_OPT,
    .exec = cmd_health_exec,
};
