/* SPDX-License-Identifier: ISC */
/*
 * drover version [--json]: the running droverd's version and control
 * protocol; the CLI prints them beside its own (docs/json.md).
 */
#include <event2/buffer.h>

#include "cmd.h"
#include "control.h"
#include "out.h"
#include "proto.h"

static enum cmd_retval cmd_version_exec(struct cmd_ctx *ctx)
{
    if (ctx->args.json) {
        struct evbuffer *out = evbuffer_new();
        struct json j;
        json_init(&j, out);
        json_object_begin(&j);
        json_kv_str(&j, "daemon_version", DROVER_VERSION);
        json_kv_int(&j, "protocol", PROTO_VERSION);
        json_object_end(&j);
        control_out_buffer(ctx->client, out);
        evbuffer_free(out);
    } else {
        control_out(ctx->client, "droverd %s (control protocol %d)\n", DROVER_VERSION,
                    PROTO_VERSION);
    }
    return CMD_DONE;
}

const struct cmd_entry cmd_version_entry = {
    .verb = VERB_VERSION,
    .target = CMD_TARGET_NONE,
    .exec = cmd_version_exec,
};
