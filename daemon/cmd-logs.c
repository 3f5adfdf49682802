/* SPDX-License-Identifier: ISC */
/*
 * drover logs POOL|all [-n N] [-f]: the last N lines of the pool's log file
 * (of every pool's, merged), then (with -f) every new line as it is written,
 * until the client leaves. The N lines are read from the files a piece at a
 * time as the client takes them (logtail.c): a client that stops reading
 * holds about CONTROL_STREAM_HIGH of them, whatever N. A follower that falls
 * more than CONTROL_MAX_OUTPUT behind is dropped, and so is one that holds
 * its fair share of CONTROL_OUTPUT_LIMIT while droverd's control output is
 * at that limit.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "control.h"
#include "droverd.h"
#include "log.h"
#include "logtail.h"
#include "out.h"
#include "output.h"
#include "pool.h"
#include "proto.h"
#include "xmalloc.h"

/* One client of drover logs: the last lines being sent, then (-f) the follower. */
struct logs_client {
    struct control_client *client;
    bool all;              /* logs all: every pool's lines, each after its pool's name */
    bool json;             /* --json: one object per line (docs/json.md) */
    long slot;             /* logs POOL:SLOT: that worker's lines only; else -1 */
    struct logtail *tail;  /* the last N lines still to send; NULL once sent */
    struct event *more_ev; /* the next piece of them, when the last found nothing to send */
    bool follow;           /* -f */
    struct log_follower lf;
    struct pool_log *log;
    bool attached;
    bool pool_removed;        /* while the tail was still being sent */
    struct evbuffer *pending; /* new lines gathered this loop pass, or while the tail is sent */
    struct event *flush_ev;
    bool flush_due; /* flush_ev is active */
    bool behind;    /* at the limit while gathering lines: dropped at the flush */
};

enum line_stream { STREAM_UNKNOWN, STREAM_STDOUT, STREAM_STDERR };

/* A log line taken apart: "TIME [SLOT] text" or "TIME [SLOT:stderr] text". */
struct log_line {
    size_t time_len; /* the time is line[0 .. time_len) */
    unsigned long slot;
    enum line_stream stream; /* STREAM_UNKNOWN: not of that shape (text is the whole line) */
    const char *text;
};

static void log_line_parse(const char *line, size_t len, struct log_line *ll)
{
    const char *end = line + len, *sp = memchr(line, ' ', len), *p;
    static const char mark[] = OUTPUT_STDERR_MARK;
    size_t mlen = sizeof(mark) - 1;

    *ll = (struct log_line){.stream = STREAM_UNKNOWN, .text = line};
    if (sp == NULL || end - sp < 4 || sp[1] != '[' || sp[2] < '0' || sp[2] > '9')
        return;
    unsigned long slot = 0;
    for (p = sp + 2; p < end && *p >= '0' && *p <= '9'; p++)
        slot = slot * 10 + (unsigned long)(*p - '0');
    enum line_stream stream = STREAM_STDOUT;
    if ((size_t)(end - p) >= mlen && memcmp(p, mark, mlen) == 0) {
        stream = STREAM_STDERR;
        p += mlen;
    }
    if (p >= end || *p != ']')
        return;
    p++;
    if (p < end && *p == ' ')
        p++;
    *ll = (struct log_line){
        .time_len = (size_t)(sp - line), .slot = slot, .stream = stream, .text = p};
}

/* Is this log line one of slot's (either stream)? */
static bool line_of_slot(const char *line, size_t len, long slot)
{
    struct log_line ll;

    log_line_parse(line, len, &ll);
    return ll.stream != STREAM_UNKNOWN && ll.slot == (unsigned long)slot;
}

/* One log line (no newline) as one JSON object on a line of its own. */
static void log_line_json(const char *pool, const char *line, size_t len, struct evbuffer *out)
{
    struct log_line ll;
    struct json j;

    log_line_parse(line, len, &ll);
    json_init(&j, out);
    json_object_begin(&j);
    json_kv_str(&j, "pool", pool);
    if (ll.stream != STREAM_UNKNOWN) {
        json_key(&j, "time");
        json_string_len(&j, line, ll.time_len);
        json_kv_uint(&j, "slot", ll.slot);
        json_kv_str(&j, "stream", ll.stream == STREAM_STDERR ? "stderr" : "stdout");
    } else {
        json_kv_null(&j, "time");
        json_kv_null(&j, "slot");
        json_kv_null(&j, "stream");
    }
    json_key(&j, "line");
    json_string_len(&j, ll.text, (size_t)(line + len - ll.text));
    json_object_end(&j);
}

/* Is this line (or its first bytes) one of the asked slot's? */
static bool keep_slot_line(const char *text, size_t avail, void *arg)
{
    const struct logs_client *lc = arg;

    return line_of_slot(text, avail, lc->slot);
}

/* A line of the tail in the shape asked for (the bytes as they are go without emit). */
static void emit_line(const char *pool, const char *line, size_t len, struct evbuffer *out,
                      void *arg)
{
    const struct logs_client *lc = arg;

    if (lc->json) {
        log_line_json(pool, line, len, out);
        return;
    }
    if (lc->all)
        evbuffer_add_printf(out, "%s ", pool);
    evbuffer_add(out, line, len);
    evbuffer_add(out, "\n", 1);
}

static void follower_unfollow(struct logs_client *lc)
{
    if (lc->all)
        pool_log_unfollow_all(&lc->lf);
    else
        pool_log_unfollow(lc->log, &lc->lf);
    lc->attached = false;
}

/* Stop sending the tail (done, or the client is being let go). */
static void tail_end(struct logs_client *lc)
{
    logtail_free(lc->tail);
    lc->tail = NULL;
    control_on_writable(lc->client, NULL, NULL);
    control_hold(lc->client, 0);
}

/* A follower too far behind: the client is told and let go (which frees lc). */
static void follower_drop(struct logs_client *lc, bool at_limit)
{
    log_warnx("control uid %u: logs -f client is too slow%s; dropped",
              (unsigned)control_client_uid(lc->client),
              at_limit ? " (droverd's control output is at its limit)" : "");
    follower_unfollow(lc);
    evbuffer_drain(lc->pending, evbuffer_get_length(lc->pending));
    if (lc->tail != NULL)
        tail_end(lc);
    if (at_limit)
        control_err(lc->client,
                    "too far behind the log, and droverd holds all it may (%d MiB) for control "
                    "clients; stopped following\n",
                    CONTROL_OUTPUT_LIMIT >> 20);
    else
        control_err(lc->client, "too far behind the log; stopped following\n");
    control_finish(lc->client, DROVER_EXIT_FAILED);
}

/*
 * Send what this loop pass gathered as one message, not one per line. While
 * the tail is still being sent the lines wait behind it.
 */
static void follower_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct logs_client *lc = arg;
    size_t queued = control_pending(lc->client), held = evbuffer_get_length(lc->pending);

    (void)fd;
    (void)what;
    lc->flush_due = false;
    if (!lc->attached)
        return;
    if (queued > CONTROL_MAX_OUTPUT || (lc->tail != NULL && held > CONTROL_MAX_OUTPUT)) {
        follower_drop(lc, false);
        return;
    }
    if (lc->behind) {
        follower_drop(lc, true);
        return;
    }
    if (lc->tail == NULL) {
        control_out_buffer(lc->client, lc->pending);
        control_hold(lc->client, 0);
    }
}

/*
 * A new line (with its newline): kept, in the shape the client asked for,
 * until the flush, and counted for the client as if queued. A follower
 * that may not grow takes no more, and is dropped at the flush.
 */
static void follower_line(void *arg, const char *pool, const char *line, size_t len)
{
    struct logs_client *lc = arg;

    if (lc->behind || (lc->slot >= 0 && !line_of_slot(line, len, lc->slot)))
        return;
    if (!lc->flush_due) {
        lc->flush_due = true;
        event_active(lc->flush_ev, 0, 0);
    }
    if (lc->json) {
        log_line_json(pool, line, len > 0 ? len - 1 : 0, lc->pending);
    } else {
        if (lc->all)
            evbuffer_add_printf(lc->pending, "%s ", pool);
        evbuffer_add(lc->pending, line, len);
    }
    control_hold(lc->client, evbuffer_get_length(lc->pending));
    if (!control_may_grow(lc->client)) {
        lc->behind = true;
        evbuffer_drain(lc->pending, evbuffer_get_length(lc->pending));
        control_hold(lc->client, 0);
    }
}

/* The pool's log goes away (the pool was removed): the last lines first, then the news. */
static void follower_log_closed(void *arg)
{
    struct logs_client *lc = arg;

    lc->attached = false;
    if (lc->tail != NULL) {
        lc->pool_removed = true; /* said once the tail is sent */
        return;
    }
    control_out_buffer(lc->client, lc->pending);
    control_err(lc->client, "the pool was removed\n");
    control_finish(lc->client, DROVER_EXIT_OK);
}

static void logs_client_free(void *arg)
{
    struct logs_client *lc = arg;

    if (lc->attached)
        follower_unfollow(lc);
    logtail_free(lc->tail);
    event_free(lc->more_ev);
    event_free(lc->flush_ev);
    evbuffer_free(lc->pending);
    free(lc);
}

static bool logs_never_done(struct control_client *c, void *arg)
{
    (void)c;
    (void)arg;
    return false;
}

/*
 * The next piece of the tail, up to CONTROL_STREAM_HIGH queued for the
 * client; once it is all sent, the client is done, or (-f) follows.
 */
static void logs_send_more(struct logs_client *lc)
{
    size_t queued = control_pending(lc->client);
    struct evbuffer *piece;
    bool more;

    if (queued >= CONTROL_STREAM_HIGH)
        return; /* the write callback comes back when the client took some */
    piece = evbuffer_new();
    more = logtail_next(lc->tail, piece, CONTROL_STREAM_HIGH - queued);
    if (more && evbuffer_get_length(piece) == 0)
        event_active(lc->more_ev, 0, 0); /* nothing to write, so no write callback: go on */
    control_out_buffer(lc->client, piece);
    evbuffer_free(piece);
    if (more)
        return;
    tail_end(lc);
    if (lc->pool_removed) {
        follower_log_closed(lc);
        return;
    }
    if (!lc->follow) {
        control_finish(lc->client, DROVER_EXIT_OK);
        return;
    }
    /* The lines written since the request, held behind the tail, go now. */
    control_out_buffer(lc->client, lc->pending);
}

static void logs_writable(void *arg)
{
    logs_send_more(arg);
}

static void logs_more_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    logs_send_more(arg);
}

/* Send the tail (pool NULL: every pool's), then follow with -f. The client waits until then. */
static enum cmd_retval logs_answer(struct cmd_ctx *ctx, struct logs_client *lc, struct pool *pool)
{
    lc->more_ev = event_new(droverd.base, -1, 0, logs_more_cb, lc);
    lc->flush_ev = event_new(droverd.base, -1, 0, follower_flush_cb, lc);
    lc->pending = evbuffer_new();
    control_wait(ctx->client, logs_never_done, lc, logs_client_free);
    if (lc->follow) {
        /* From now on: the tail ends with the file as it is now, the follower has the rest. */
        lc->log = pool != NULL ? pool->log : NULL;
        lc->lf.line_cb = follower_line;
        lc->lf.closed_cb = follower_log_closed;
        lc->lf.arg = lc;
        lc->attached = true;
        if (lc->all)
            pool_log_follow_all(&lc->lf);
        else
            pool_log_follow(lc->log, &lc->lf);
    }
    control_on_writable(ctx->client, logs_writable, lc);
    logs_send_more(lc); /* a short answer is all sent (and finished) here */
    return CMD_WAIT;
}

static struct logs_client *logs_client_new(struct cmd_ctx *ctx, bool all)
{
    struct logs_client *lc = xcalloc(1, sizeof(*lc));

    lc->client = ctx->client;
    lc->all = all;
    lc->json = ctx->args.json;
    lc->slot = all ? -1 : ctx->slot;
    lc->follow = ctx->args.follow;
    return lc;
}

/*
 * drover logs all: the last N lines of every pool that captures output, in
 * time order, each after its pool's name (--json: the pool in each object).
 */
static enum cmd_retval logs_all(struct cmd_ctx *ctx)
{
    struct logs_client *lc = logs_client_new(ctx, true);
    struct pool *p;

    lc->tail = logtail_new(NULL, emit_line, lc);
    TAILQ_FOREACH(p, &droverd.pools, entry) {
        if (p->log != NULL && p->cfg->stdout_mode == STDOUT_LOG)
            logtail_add(lc->tail, pool_log_path(p->log), p->name);
    }
    logtail_seek_merged(lc->tail, ctx->args.lines);
    return logs_answer(ctx, lc, NULL);
}

static enum cmd_retval cmd_logs_exec(struct cmd_ctx *ctx)
{
    struct pool *p = ctx->pool;
    struct logs_client *lc;
    char *older;

    if (p == NULL)
        return logs_all(ctx);
    if (p->log == NULL || p->cfg->stdout_mode != STDOUT_LOG) {
        cmd_error(ctx, "pool %s does not capture its output (stdout = %s)", p->name,
                  p->cfg->stdout_mode == STDOUT_NULL ? "null" : "inherit");
        return CMD_FAILED;
    }
    lc = logs_client_new(ctx, false);
    /* The bytes as they are, unless they are filtered or reshaped. */
    lc->tail = logtail_new(lc->slot >= 0 ? keep_slot_line : NULL,
                           lc->slot >= 0 || lc->json ? emit_line : NULL, lc);
    /* When the current file is short, the lines before it are in POOL.log.1. */
    xasprintf(&older, "%s.1", pool_log_path(p->log));
    logtail_add(lc->tail, older, p->name);
    free(older);
    if (logtail_add(lc->tail, pool_log_path(p->log), p->name) == LOGTAIL_NOT_REGULAR) {
        cmd_error(ctx, "%s is not a regular file: not read", pool_log_path(p->log));
        logtail_free(lc->tail);
        free(lc);
        return CMD_FAILED;
    }
    logtail_seek(lc->tail, ctx->args.lines);
    return logs_answer(ctx, lc, p);
}

const struct cmd_entry cmd_logs_entry = {
    .verb = VERB_LOGS,
    .target = CMD_TARGET_POOL,
    .slot_ok = true,
    .exec = cmd_logs_exec,
};
