/* SPDX-License-Identifier: ISC */
/*
 * drover logs POOL|all [-n N] [-f]: the last N lines of the pool's log file
 * (of every pool's, merged), then (with -f) every new line as it is written,
 * until the client leaves. A follower that falls more than
 * CONTROL_MAX_OUTPUT behind is dropped.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "control.h"
#include "droverd.h"
#include "log.h"
#include "out.h"
#include "output.h"
#include "pool.h"
#include "proto.h"
#include "xmalloc.h"

#define LOGS_MAX_READ (32 << 20) /* -n never reads more than this much of the files */

struct follower {
    struct log_follower lf;
    bool all;  /* logs all -f: every pool's lines, each after its pool's name */
    bool json; /* --json: one object per line (docs/json.md) */
    long slot; /* logs POOL:SLOT: that worker's lines only; else -1 */
    struct control_client *client;
    struct pool_log *log;
    bool attached;
    struct evbuffer *pending; /* lines gathered during this loop pass */
    struct event *flush_ev;
};

/*
 * Append to out the last `want` lines of path (all of it when it has fewer),
 * reading at most `budget` bytes from its end. Returns the lines found.
 */
static unsigned tail_file(const char *path, unsigned want, size_t budget, struct evbuffer *out,
                          bool *not_regular)
{
    /* Never waits: a FIFO put in the log's place would block the whole loop in open(). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    char *buf;
    size_t len, start;
    unsigned lines = 0;

    if (fd < 0)
        return 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        if (not_regular != NULL && !S_ISREG(st.st_mode))
            *not_regular = true;
        close(fd);
        return 0;
    }
    len = (size_t)st.st_size < budget ? (size_t)st.st_size : budget;
    buf = xmalloc(len);
    if (pread(fd, buf, len, st.st_size - (off_t)len) != (ssize_t)len) {
        free(buf);
        close(fd);
        return 0;
    }
    close(fd);
    start = len;
    /* Walk back over `want` newlines (the file's final one ends the last line). */
    if (start > 0 && buf[start - 1] == '\n')
        start--;
    while (start > 0 && lines < want) {
        if (buf[start - 1] == '\n')
            lines++;
        if (lines == want)
            break;
        start--;
    }
    if (start == 0 && lines < want)
        lines++; /* the first line of the file, which has no newline before it */
    if (want > 0)
        evbuffer_add(out, buf + start, len - start);
    free(buf);
    return want == 0 ? 0 : lines;
}

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

/* The last `want` of slot's lines in buf, moved to out (the rest is dropped). */
static void keep_slot_lines(struct evbuffer *buf, long slot, unsigned want, struct evbuffer *out)
{
    size_t len = evbuffer_get_length(buf), start;
    char *text = xmalloc(len + 1);
    unsigned kept = 0;

    evbuffer_remove(buf, text, len);
    /* Walk back line by line, marking the lines kept with their start; then emit in order. */
    size_t *starts = xcalloc(want + 1, sizeof(*starts)), *ends = xcalloc(want + 1, sizeof(*ends));
    size_t end = len;
    while (end > 0 && kept < want) {
        size_t e = end;
        if (text[e - 1] == '\n')
            e--;
        start = e;
        while (start > 0 && text[start - 1] != '\n')
            start--;
        if (line_of_slot(text + start, e - start, slot)) {
            starts[kept] = start;
            ends[kept] = e;
            kept++;
        }
        end = start;
    }
    for (unsigned i = kept; i > 0; i--) {
        evbuffer_add(out, text + starts[i - 1], ends[i - 1] - starts[i - 1]);
        evbuffer_add(out, "\n", 1);
    }
    free(starts);
    free(ends);
    free(text);
}

/*
 * --json: each line of in as one JSON object on a line of its own (JSON
 * Lines), moved to out. A line of another shape keeps its text.
 */
static void logs_json_lines(const char *pool, struct evbuffer *in, struct evbuffer *out)
{
    size_t len = evbuffer_get_length(in);
    char *text = xmalloc(len + 1), *p = text, *end = text + len;

    evbuffer_remove(in, text, len);
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *lineend = nl != NULL ? nl : end;
        log_line_json(pool, p, (size_t)(lineend - p), out);
        p = nl != NULL ? nl + 1 : end;
    }
    free(text);
}

static void follower_unfollow(struct follower *f)
{
    if (f->all)
        pool_log_unfollow_all(&f->lf);
    else
        pool_log_unfollow(f->log, &f->lf);
    f->attached = false;
}

/* Send what this loop pass gathered as one message, not one per line. */
static void follower_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct follower *f = arg;

    (void)fd;
    (void)what;
    if (!f->attached)
        return;
    if (control_pending(f->client) > CONTROL_MAX_OUTPUT) {
        log_warnx("control uid %u: logs -f client is too slow; dropped",
                  (unsigned)control_client_uid(f->client));
        follower_unfollow(f);
        evbuffer_drain(f->pending, evbuffer_get_length(f->pending));
        control_err(f->client, "too far behind the log; stopped following\n");
        control_finish(f->client, DROVER_EXIT_FAILED);
        return;
    }
    control_out_buffer(f->client, f->pending);
}

/* A new line (with its newline): kept, in the shape the client asked for, until the flush. */
static void follower_line(void *arg, const char *pool, const char *line, size_t len)
{
    struct follower *f = arg;

    if (f->slot >= 0 && !line_of_slot(line, len, f->slot))
        return;
    if (evbuffer_get_length(f->pending) == 0)
        event_active(f->flush_ev, 0, 0);
    if (f->json) {
        log_line_json(pool, line, len > 0 ? len - 1 : 0, f->pending);
    } else {
        if (f->all)
            evbuffer_add_printf(f->pending, "%s ", pool);
        evbuffer_add(f->pending, line, len);
    }
}

static void follower_log_closed(void *arg)
{
    struct follower *f = arg;

    f->attached = false;
    control_out_buffer(f->client, f->pending); /* the last lines first */
    control_err(f->client, "the pool was removed\n");
    control_finish(f->client, DROVER_EXIT_OK);
}

static void follower_free(void *arg)
{
    struct follower *f = arg;

    if (f->attached)
        follower_unfollow(f);
    event_free(f->flush_ev);
    evbuffer_free(f->pending);
    free(f);
}

static bool follower_never_done(struct control_client *c, void *arg)
{
    (void)c;
    (void)arg;
    return false;
}

/* -f: follow pool's log, or every pool's (those a reload adds too) when pool is NULL. */
static enum cmd_retval logs_follow(struct cmd_ctx *ctx, struct pool *pool)
{
    struct follower *f = xcalloc(1, sizeof(*f));

    f->client = ctx->client;
    f->all = pool == NULL;
    f->json = ctx->args.json;
    f->slot = ctx->slot;
    f->log = pool != NULL ? pool->log : NULL;
    f->lf.line_cb = follower_line;
    f->lf.closed_cb = follower_log_closed;
    f->lf.arg = f;
    f->attached = true;
    f->pending = evbuffer_new();
    f->flush_ev = event_new(droverd.base, -1, 0, follower_flush_cb, f);
    if (f->all)
        pool_log_follow_all(&f->lf);
    else
        pool_log_follow(f->log, &f->lf);
    control_wait(ctx->client, follower_never_done, f, follower_free);
    return CMD_WAIT;
}

struct merged_line {
    const char *pool;
    char *line; /* "TIME [SLOT] text", no newline; may hold NUL bytes a worker wrote */
    size_t len;
    size_t seq; /* its place among all the lines read: a pool's file is in order already */
};

/* By time (lines start with it), then as read: equal times keep their pool's order. */
static int merged_line_cmp(const void *a, const void *b)
{
    const struct merged_line *x = a, *y = b;
    const char *xs = memchr(x->line, ' ', x->len), *ys = memchr(y->line, ' ', y->len);
    size_t xt = xs != NULL ? (size_t)(xs - x->line) : x->len;
    size_t yt = ys != NULL ? (size_t)(ys - y->line) : y->len;
    int c = memcmp(x->line, y->line, xt < yt ? xt : yt);

    if (c == 0 && xt != yt)
        c = xt < yt ? -1 : 1;
    return c != 0 ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/*
 * drover logs all: the last N lines of every pool that captures output, in
 * time order, each after its pool's name (--json: the pool in each object).
 */
static enum cmd_retval logs_all(struct cmd_ctx *ctx)
{
    struct merged_line *v = NULL;
    size_t n = 0;
    struct pool *p;
    struct evbuffer *out = evbuffer_new();

    TAILQ_FOREACH(p, &droverd.pools, entry) {
        if (p->log == NULL || p->cfg->stdout_mode != STDOUT_LOG || ctx->args.lines == 0)
            continue;
        struct evbuffer *buf = evbuffer_new();
        tail_file(pool_log_path(p->log), ctx->args.lines, LOGS_MAX_READ, buf, NULL);
        size_t len = evbuffer_get_length(buf);
        char *text = xmalloc(len + 1), *line = text, *end = text + len;
        evbuffer_remove(buf, text, len);
        evbuffer_free(buf);
        /* By length, not as C strings: a line keeps the NUL bytes its worker wrote. */
        while (line < end) {
            char *nl = memchr(line, '\n', (size_t)(end - line)), *stop = nl != NULL ? nl : end;
            if (stop > line) {
                v = xreallocarray(v, n + 1, sizeof(*v));
                v[n].pool = p->name;
                v[n].len = (size_t)(stop - line);
                v[n].line = xmalloc(v[n].len + 1);
                memcpy(v[n].line, line, v[n].len);
                v[n].seq = n;
                n++;
            }
            line = stop + 1;
        }
        free(text);
    }
    if (n > 0)
        qsort(v, n, sizeof(*v), merged_line_cmp);
    for (size_t i = n > ctx->args.lines ? n - ctx->args.lines : 0; i < n; i++) {
        if (ctx->args.json) {
            log_line_json(v[i].pool, v[i].line, v[i].len, out);
        } else {
            evbuffer_add_printf(out, "%s ", v[i].pool);
            evbuffer_add(out, v[i].line, v[i].len);
            evbuffer_add(out, "\n", 1);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].line);
    free(v);
    control_out_buffer(ctx->client, out);
    evbuffer_free(out);
    return ctx->args.follow ? logs_follow(ctx, NULL) : CMD_DONE;
}

static enum cmd_retval cmd_logs_exec(struct cmd_ctx *ctx)
{
    struct pool *p = ctx->pool;
    struct evbuffer *out;
    unsigned want = ctx->args.lines;

    if (p == NULL)
        return logs_all(ctx);
    if (p->log == NULL || p->cfg->stdout_mode != STDOUT_LOG) {
        cmd_error(ctx, "pool %s does not capture its output (stdout = %s)", p->name,
                  p->cfg->stdout_mode == STDOUT_NULL ? "null" : "inherit");
        return CMD_FAILED;
    }
    out = evbuffer_new();
    if (want > 0) {
        /* When the current file is short, the lines before it are in POOL.log.1. */
        struct evbuffer *cur = evbuffer_new();
        /* One slot's lines: read as much as allowed, keep the last `want` of them. */
        unsigned read_lines = ctx->slot >= 0 ? 1000000 : want;
        bool not_regular = false;
        unsigned got =
            tail_file(pool_log_path(p->log), read_lines, LOGS_MAX_READ, cur, &not_regular);
        if (not_regular) {
            cmd_error(ctx, "%s is not a regular file: not read", pool_log_path(p->log));
            evbuffer_free(cur);
            evbuffer_free(out);
            return CMD_FAILED;
        }
        if (got < read_lines) {
            char *older;
            xasprintf(&older, "%s.1", pool_log_path(p->log));
            tail_file(older, read_lines - got, LOGS_MAX_READ, out, NULL);
            free(older);
        }
        evbuffer_add_buffer(out, cur);
        evbuffer_free(cur);
        if (ctx->slot >= 0) {
            struct evbuffer *all = out;
            out = evbuffer_new();
            keep_slot_lines(all, ctx->slot, want, out);
            evbuffer_free(all);
        }
    }
    if (ctx->args.json) {
        struct evbuffer *lines = out;
        out = evbuffer_new();
        logs_json_lines(p->name, lines, out);
        evbuffer_free(lines);
    }
    control_out_buffer(ctx->client, out);
    evbuffer_free(out);
    return ctx->args.follow ? logs_follow(ctx, p) : CMD_DONE;
}

const struct cmd_entry cmd_logs_entry = {
    .verb = VERB_LOGS,
    .target = CMD_TARGET_POOL,
    .slot_ok = true,
    .exec = cmd_logs_exec,
};
