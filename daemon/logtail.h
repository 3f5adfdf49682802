/* SPDX-License-Identifier: ISC */
/*
 * The last lines of pool log files, read a block at a time (drover logs -n):
 * where the last N lines begin is found by reading the files backwards, and
 * the lines from there on are read forwards, a piece per call, as the
 * client takes them. A reader holds open files and offsets, never the
 * lines: its memory does not grow with N, and a call holds a block per
 * file for its own duration only. Knows nothing of clients or pools beyond
 * a name; what a line looks like in the output is the caller's (emit), as
 * is which lines count (keep). tests/unit/test_logtail.c walks the cases.
 */
#ifndef DROVER_LOGTAIL_H
#define DROVER_LOGTAIL_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;
struct logtail;

#define LOGTAIL_BLOCK       (64 << 10) /* read at a time from one file */
#define LOGTAIL_MERGE_BLOCK (16 << 10) /* from each of several merged files */
#define LOGTAIL_MAX_READ    (32 << 20) /* the backward search goes this far into each file */
#define LOGTAIL_SCAN_MAX    (4 << 20)  /* a call that found nothing to send stops after this */
#define LOGTAIL_PREFIX      128        /* keep sees at least a line's first bytes */

/*
 * Does this line count (and go out)? text holds the line's first avail
 * bytes: all of it, or at least LOGTAIL_PREFIX.
 */
typedef bool (*logtail_keep_fn)(const char *text, size_t avail, void *arg);
/* Write one line (len bytes, without its newline) of pool's log to out. */
typedef void (*logtail_emit_fn)(const char *pool, const char *line, size_t len,
                                struct evbuffer *out, void *arg);

/*
 * A reader. keep NULL: every line counts. emit NULL: the files' bytes as they
 * are (one log, no keep), the quickest way.
 */
struct logtail *logtail_new(logtail_keep_fn keep, logtail_emit_fn emit, void *arg);

enum logtail_added { LOGTAIL_ADDED, LOGTAIL_MISSING, LOGTAIL_NOT_REGULAR };
/*
 * Open a file (never waiting: a FIFO in its place is refused) and add it;
 * its size now is where reading it stops. One log's files go oldest first.
 */
enum logtail_added logtail_add(struct logtail *t, const char *path, const char *pool);

/*
 * One log: go back over the last want lines that count, from the newest
 * file into the older ones while a file is read back to its start. Returns
 * the lines found.
 */
unsigned logtail_seek(struct logtail *t, unsigned want);
/*
 * Several logs, a file each: go back over the last want non-empty lines of
 * all of them in time order (lines start with their time; equal times keep
 * the order the files were added in). Returns the lines found.
 */
unsigned logtail_seek_merged(struct logtail *t, unsigned want);

/*
 * Append the next lines to out, at least target bytes unless the end comes
 * first (or LOGTAIL_SCAN_MAX was read with nothing to send). A line longer
 * than a block comes in pieces. Returns false once everything was sent.
 */
bool logtail_next(struct logtail *t, struct evbuffer *out, size_t target);
void logtail_free(struct logtail *t);

#endif
