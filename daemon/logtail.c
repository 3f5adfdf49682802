/* SPDX-License-Identifier: ISC */
/*
 * The last lines of log files, a block at a time (see logtail.h). Offsets
 * are kept, bytes are read again when needed: a file's block exists only
 * while a call runs, so a reader between calls is a few numbers per file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr */
#endif
#include "logtail.h"

#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "xmalloc.h"

struct tail_file {
    int fd; /* -1 once it has nothing more to give */
    char *pool;
    off_t lo;  /* reading back stops here (LOGTAIL_MAX_READ before the end) */
    off_t pos; /* the next byte to send */
    off_t end; /* the size when added */
    /* While a call runs: [bs, bs + blen) of the file, in block (block_cap bytes). */
    char *block;
    size_t block_cap;
    off_t bs;
    size_t blen;
    /* The line at hand (merging): its start, where the next begins, its text in block. */
    bool have;
    off_t line_start, line_next;
    const char *text;
    size_t len;
};

struct logtail {
    struct tail_file *files;
    size_t nfiles;
    size_t cur; /* one log: the file being sent */
    bool merged;
    logtail_keep_fn keep;
    logtail_emit_fn emit;
    void *arg;
};

struct logtail *logtail_new(logtail_keep_fn keep, logtail_emit_fn emit, void *arg)
{
    struct logtail *t = xcalloc(1, sizeof(*t));

    t->keep = keep;
    t->emit = emit;
    t->arg = arg;
    return t;
}

enum logtail_added logtail_add(struct logtail *t, const char *path, const char *pool)
{
    /*
     * Never waits: a FIFO put in the log's place would block the whole loop in open().
     * Never follows a symlink: whoever can write to log_dir could make droverd read any file.
     */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
    struct stat st;
    struct tail_file *f;

    if (fd < 0)
        return errno == ELOOP ? LOGTAIL_NOT_REGULAR : LOGTAIL_MISSING;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return LOGTAIL_NOT_REGULAR;
    }
    t->files = xreallocarray(t->files, t->nfiles + 1, sizeof(*t->files));
    f = &t->files[t->nfiles++];
    *f = (struct tail_file){.fd = fd,
                            .pool = xstrdup(pool),
                            .end = st.st_size,
                            .pos = st.st_size,
                            .block_cap = LOGTAIL_BLOCK};
    f->lo = f->end > LOGTAIL_MAX_READ ? f->end - LOGTAIL_MAX_READ : 0;
    return LOGTAIL_ADDED;
}

/* Blocks live for one call; a file read to its end is closed at once. */
static void release_blocks(struct logtail *t)
{
    for (size_t i = 0; i < t->nfiles; i++) {
        struct tail_file *f = &t->files[i];
        free(f->block);
        f->block = NULL;
        f->blen = 0;
        f->have = false;
        if (f->pos >= f->end && f->fd >= 0) {
            close(f->fd);
            f->fd = -1;
        }
    }
}

static bool block_read(struct tail_file *f, off_t from, size_t len)
{
    ssize_t n;

    if (f->block == NULL)
        f->block = xmalloc(f->block_cap);
    n = pread(f->fd, f->block, len, from);
    f->bs = from;
    f->blen = n > 0 ? (size_t)n : 0;
    return n > 0;
}

/* The block that ends at end_at (reading back). False when the file shrank or failed. */
static bool load_back(struct tail_file *f, off_t end_at)
{
    off_t from = end_at - f->lo > (off_t)f->block_cap ? end_at - (off_t)f->block_cap : f->lo;

    return block_read(f, from, (size_t)(end_at - from)) && f->blen == (size_t)(end_at - from);
}

/* The block that starts at from (reading on); a file that shrank ends where it now ends. */
static bool load_forward(struct tail_file *f, off_t from)
{
    size_t len = f->end - from > (off_t)f->block_cap ? f->block_cap : (size_t)(f->end - from);

    if (!block_read(f, from, len)) {
        f->end = from;
        return false;
    }
    if (f->blen < len)
        f->end = from + (off_t)f->blen;
    return true;
}

static bool block_has(const struct tail_file *f, off_t off)
{
    return f->blen > 0 && off >= f->bs && off < f->bs + (off_t)f->blen;
}

/*
 * The line that ends at pos (the file's end, or just after a newline):
 * its first byte *start, its length *len (without the newline) and its
 * first *avail bytes at *text (all of it, or at least LOGTAIL_PREFIX).
 * False when there is none: pos at the start, a failed read, or a line
 * that begins before lo (cut by LOGTAIL_MAX_READ, so not a whole line).
 */
static bool prev_line(struct tail_file *f, off_t pos, off_t *start, const char **text, size_t *len,
                      size_t *avail)
{
    off_t line_end = pos, hi, s;

    if (pos <= f->lo)
        return false;
    if (!block_has(f, pos - 1) && !load_back(f, pos))
        return false;
    if (f->block[pos - 1 - f->bs] == '\n')
        line_end = pos - 1;
    /* Search [bs, hi) for the newline before the line, a block further back each time. */
    hi = line_end;
    for (;;) {
        const char *nl = hi > f->bs ? memrchr(f->block, '\n', (size_t)(hi - f->bs)) : NULL;
        if (nl != NULL) {
            s = f->bs + (nl - f->block) + 1;
            break;
        }
        if (f->bs <= f->lo) {
            if (f->lo > 0)
                return false;
            s = 0;
            break;
        }
        hi = f->bs;
        if (!load_back(f, hi))
            return false;
    }
    *start = s;
    *len = (size_t)(line_end - s);
    *avail = (size_t)((line_end < f->bs + (off_t)f->blen ? line_end : f->bs + (off_t)f->blen) - s);
    if (*avail < *len && *avail < LOGTAIL_PREFIX) {
        /* A line longer than what is left of the block after its start: read its beginning. */
        if (!load_forward(f, s))
            return false;
        *avail = *len < f->blen ? *len : f->blen;
    }
    *text = f->block + (s - f->bs);
    return true;
}

/*
 * The line at f->pos: its text in the block, its length (without the
 * newline) and where the next one begins. A line that does not fit in a
 * block comes in pieces of a block. False at the end.
 */
static bool next_line(struct tail_file *f, const char **text, size_t *len, off_t *next)
{
    for (int tries = 0; f->pos < f->end && tries < 2; tries++) {
        if (!block_has(f, f->pos) && !load_forward(f, f->pos))
            return false;
        const char *p = f->block + (f->pos - f->bs);
        size_t left = (size_t)(f->bs + (off_t)f->blen - f->pos);
        const char *nl = memchr(p, '\n', left);
        if (nl != NULL) {
            *text = p;
            *len = (size_t)(nl - p);
            *next = f->pos + (off_t)*len + 1;
            return true;
        }
        if (f->bs + (off_t)f->blen >= f->end || f->pos == f->bs) {
            /* The file's last line, without a newline; or a piece of a line longer than a block. */
            *text = p;
            *len = left;
            *next = f->pos + (off_t)left;
            return true;
        }
        /* The line goes on past the block: read a block that starts with it. */
        if (!load_forward(f, f->pos))
            return false;
    }
    return false;
}

/*
 * Does the line start with a time (droverd writes "2026-11-23T10:04:05.123 [SLOT] ...")? A
 * line that does not (something else wrote to the file) stays with its file's lines around
 * it: the merge takes it next from its file, whatever the other files hold.
 */
static bool has_time(const char *text, size_t len)
{
    return len > 0 && text[0] >= '0' && text[0] <= '9';
}

/* Compare two lines by their time: the bytes before the first space. */
static int time_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    const char *as = memchr(a, ' ', alen), *bsp = memchr(b, ' ', blen);
    size_t at = as != NULL ? (size_t)(as - a) : alen, bt = bsp != NULL ? (size_t)(bsp - b) : blen;
    int c = memcmp(a, b, at < bt ? at : bt);

    if (c == 0 && at != bt)
        c = at < bt ? -1 : 1;
    return c;
}

unsigned logtail_seek(struct logtail *t, unsigned want)
{
    unsigned found = 0;

    for (size_t i = t->nfiles; i-- > 0 && found < want;) {
        struct tail_file *f = &t->files[i];
        off_t pos = f->end, s;
        const char *text;
        size_t len, avail;

        while (found < want && prev_line(f, pos, &s, &text, &len, &avail)) {
            if (t->keep == NULL || t->keep(text, avail, t->arg))
                found++;
            pos = s;
        }
        f->pos = pos;
        /* Cut short (LOGTAIL_MAX_READ, a failed read): an older file would not join on. */
        if (pos > 0)
            break;
    }
    release_blocks(t);
    return found;
}

/*
 * The file whose line at hand goes next: the latest (walking back; a tie
 * goes to the file added last) or the earliest (walking forward; a tie to
 * the file added first). A line without a time goes at once, beside its
 * own file's neighbours. NULL when no file has a line at hand.
 */
static struct tail_file *pick_line(struct logtail *t, bool latest)
{
    struct tail_file *best = NULL;

    for (size_t i = 0; i < t->nfiles; i++) {
        struct tail_file *f = &t->files[i];
        if (!f->have)
            continue;
        if (!has_time(f->text, f->len))
            return f;
        if (best == NULL) {
            best = f;
            continue;
        }
        int c = time_cmp(f->text, f->len, best->text, best->len);
        if (latest ? c >= 0 : c < 0)
            best = f;
    }
    return best;
}

/* The last non-empty line before f->pos, as the line at hand (len: its first bytes, for its time).
 */
static void prev_nonempty(struct tail_file *f)
{
    off_t pos = f->pos, s;
    size_t avail;

    f->have = false;
    while (prev_line(f, pos, &s, &f->text, &f->len, &avail)) {
        if (f->len > 0) {
            f->len = avail;
            f->line_start = s;
            f->have = true;
            return;
        }
        pos = s;
    }
}

unsigned logtail_seek_merged(struct logtail *t, unsigned want)
{
    unsigned found = 0;

    t->merged = true;
    for (size_t i = 0; i < t->nfiles; i++) {
        t->files[i].block_cap = LOGTAIL_MERGE_BLOCK;
        if (want > 0)
            prev_nonempty(&t->files[i]);
    }
    /* Take the latest line of all the files, want times; a tie goes to the file added last. */
    while (found < want) {
        struct tail_file *best = pick_line(t, true);
        if (best == NULL)
            break;
        best->pos = best->line_start;
        found++;
        prev_nonempty(best);
    }
    release_blocks(t);
    return found;
}

/* The next non-empty line from f->pos, as the line at hand. */
static void next_nonempty(struct tail_file *f)
{
    f->have = false;
    while (next_line(f, &f->text, &f->len, &f->line_next)) {
        if (f->len > 0) {
            f->have = true;
            return;
        }
        f->pos = f->line_next;
    }
    f->pos = f->end;
}

static bool next_merged(struct logtail *t, struct evbuffer *out, size_t before, size_t target)
{
    size_t scanned = 0;

    for (size_t i = 0; i < t->nfiles; i++)
        if (t->files[i].pos < t->files[i].end)
            next_nonempty(&t->files[i]);
    for (;;) {
        struct tail_file *best = pick_line(t, false);
        if (best == NULL)
            return false;
        if (evbuffer_get_length(out) - before >= target || scanned >= LOGTAIL_SCAN_MAX)
            return true;
        t->emit(best->pool, best->text, best->len, out, t->arg);
        scanned += (size_t)(best->line_next - best->pos);
        best->pos = best->line_next;
        next_nonempty(best);
    }
}

/* n bytes of f as they are, read straight into out's own memory. */
static void read_raw(struct tail_file *f, struct evbuffer *out, size_t n)
{
    struct evbuffer_iovec v;
    ssize_t got;

    if (evbuffer_reserve_space(out, (ev_ssize_t)n, &v, 1) < 1) {
        f->end = f->pos;
        return;
    }
    got = pread(f->fd, v.iov_base, n, f->pos);
    if (got <= 0) {
        f->end = f->pos; /* it shrank, or cannot be read: it ends here */
        return;
    }
    v.iov_len = (size_t)got;
    evbuffer_commit_space(out, &v, 1);
    f->pos += got;
}

static bool next_one_log(struct logtail *t, struct evbuffer *out, size_t before, size_t target)
{
    size_t scanned = 0;

    while (t->cur < t->nfiles) {
        struct tail_file *f = &t->files[t->cur];
        size_t made = evbuffer_get_length(out) - before;
        const char *text;
        size_t len;
        off_t next;

        if (f->pos >= f->end) {
            t->cur++;
            continue;
        }
        if (made >= target || scanned >= LOGTAIL_SCAN_MAX)
            return true;
        if (t->emit == NULL) {
            size_t left = (size_t)(f->end - f->pos), n = target - made;
            read_raw(f, out, n < left ? n : left);
            continue;
        }
        if (!next_line(f, &text, &len, &next)) {
            f->pos = f->end;
            continue;
        }
        if (t->keep == NULL || t->keep(text, len, t->arg))
            t->emit(f->pool, text, len, out, t->arg);
        scanned += (size_t)(next - f->pos);
        f->pos = next;
    }
    return false;
}

bool logtail_next(struct logtail *t, struct evbuffer *out, size_t target)
{
    size_t before = evbuffer_get_length(out);
    bool more =
        t->merged ? next_merged(t, out, before, target) : next_one_log(t, out, before, target);

    release_blocks(t);
    return more;
}

void logtail_free(struct logtail *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nfiles; i++) {
        if (t->files[i].fd >= 0)
            close(t->files[i].fd);
        free(t->files[i].block);
        free(t->files[i].pool);
    }
    free(t->files);
    free(t);
}
