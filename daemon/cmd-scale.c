/* SPDX-License-Identifier: ISC */
/* drover scale POOL N: change a pool's worker count live. */
#include <event2/buffer.h>
#include <stdlib.h>

#include "cmd.h"
#include "config.h"
#include "droverd.h"
#include "control.h"
#include "parse.h"
#include "pool.h"
#include "route.h"
#include "out.h"
#include "xmalloc.h"

/* N, +N, -N (from the current count, not below 0), auto or auto*K (one per usable CPU). */
static int scale_target(const char *s, unsigned current, unsigned ncpu, uint64_t *n, char *err,
                        size_t errsz)
{
    struct workers_spec spec;

    if (s[0] == '+' || s[0] == '-') {
        uint64_t d;
        if (parse_uint(s + 1, 0, WORKERS_MAX, &d, err, errsz) != 0)
            return -1;
        if (s[0] == '-')
            *n = d >= current ? 0 : current - d;
        else
            *n = current + d > WORKERS_MAX ? WORKERS_MAX : current + d;
        return 0;
    }
    if (parse_workers(s, &spec, err, errsz) != 0)
        return -1;
    *n = spec.is_auto ? workers_resolve(&spec, ncpu) : spec.count;
    return 0;
}

static enum cmd_retval cmd_scale_exec(struct cmd_ctx *ctx)
{
    struct pool *p = ctx->pool;
    char err[PARSE_ERR_MAX];
    uint64_t n;
    unsigned before;
    char *warning = NULL;

    if (scale_target(ctx->args.pos[1], p->target, droverd.config->ncpu, &n, err, sizeof(err)) !=
        0) {
        cmd_error(ctx, "worker count: %s", err);
        return CMD_USAGE;
    }
    if (n > p->target) {
        unsigned long slots = 0;
        struct pool *q;
        TAILQ_FOREACH(q, &droverd.pools, entry)
            slots += q->nslots;
        if (pools_fds_fit(slots + (unsigned long)(n - p->target), err, sizeof(err)) != 0) {
            cmd_error(ctx, "pool %s: not scaled to %llu: %s", p->name, (unsigned long long)n, err);
            return CMD_FAILED;
        }
    }
    before = p->target;
    pool_scale(p, (unsigned)n);
    if (n == 0 && p->cfg->listen != NULL && p->cfg->mode == ROUTE_MESSAGE) {
        char t[32];
        if (p->cfg->queue_timeout_us > 0)
            format_duration(p->cfg->queue_timeout_us, t, sizeof(t));
        xasprintf(&warning, "pool %s still takes requests on %s; with no workers they wait %s%s",
                  p->name, p->cfg->listen,
                  p->cfg->queue_timeout_us > 0 ? "and are answered TIMEOUT after " : "forever",
                  p->cfg->queue_timeout_us > 0 ? t : " (queue_timeout = 0)");
    }
    if (ctx->args.json) {
        struct evbuffer *out = evbuffer_new();
        struct json j;
        json_init(&j, out);
        json_object_begin(&j);
        json_kv_str(&j, "pool", p->name);
        json_kv_uint(&j, "workers_before", before);
        json_kv_uint(&j, "workers", (unsigned)n);
        json_kv_str(&j, "warning", warning);
        json_object_end(&j);
        control_out_buffer(ctx->client, out);
        evbuffer_free(out);
    } else {
        control_out(ctx->client, "pool %s: workers %u -> %u\n", p->name, before, (unsigned)n);
        if (warning != NULL)
            control_out(ctx->client, "warning: %s\n", warning);
    }
    free(warning);
    return CMD_DONE;
}

const struct cmd_entry cmd_scale_entry = {
    .verb = VERB_SCALE,
    .target = CMD_TARGET_POOL,
    .exec = cmd_scale_exec,
};
