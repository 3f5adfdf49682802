/* SPDX-License-Identifier: ISC */
/*
 * Memory budgets for message mode: the request and reply bytes a set of
 * connections holds (one pool's, or every pool's) against a limit, and
 * which connection may still be read when the set is over it. A pure
 * module: no libevent, no system calls, no logging; router.c keeps one
 * budget per pool and one for the daemon and asks budget_may_read() before
 * reading a connection. tests/unit/test_budget.c walks every case.
 */
#ifndef DROVER_BUDGET_H
#define DROVER_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct budget {
    uint64_t limit;   /* 0 = no limit */
    uint64_t held;    /* bytes held by every member together */
    unsigned holders; /* members holding more than nothing */
    uint64_t peak;    /* the most held since the last budget_trim_due() */
};

/*
 * The router asks these several times per request (every read and write
 * of a client): inline, they cost a few instructions each instead of a call
 * (bench/RESULTS.md, issue 16).
 */

/* A member's holding went from before to after bytes. */
static inline void budget_change(struct budget *b, uint64_t before, uint64_t after)
{
    b->held = b->held - before + after;
    if (before == 0 && after > 0)
        b->holders++;
    else if (before > 0 && after == 0)
        b->holders--;
    if (b->held > b->peak)
        b->peak = b->held;
}

/* At or past the limit. */
static inline bool budget_over(const struct budget *b)
{
    return b->limit > 0 && b->held >= b->limit;
}

/* A fair share of the limit: the limit over the members that hold something. */
static inline uint64_t budget_share(const struct budget *b)
{
    return b->limit / (b->holders > 0 ? b->holders : 1);
}

/*
 * May a member holding mine bytes be read? Yes under the limit; at it,
 * only while it holds less than its fair share, so the members holding
 * the most stop first and the others go on.
 */
static inline bool budget_may_read(const struct budget *b, uint64_t mine)
{
    return !budget_over(b) || mine < budget_share(b);
}

/*
 * How many more bytes a member holding mine may take before it would stop:
 * up to the limit, or, at it, up to its fair share (UINT64_MAX: no limit).
 */
static inline uint64_t budget_room(const struct budget *b, uint64_t mine)
{
    uint64_t share;

    if (b->limit == 0)
        return UINT64_MAX;
    if (!budget_over(b))
        return b->limit - b->held;
    share = budget_share(b);
    return share > mine ? share - mine : 0;
}

/*
 * Give memory back now? True once, when the holding fell to low or less
 * after a peak of high or more (the caller then trims the heap); the peak
 * restarts from what is held.
 */
bool budget_trim_due(struct budget *b, uint64_t high, uint64_t low);

#endif
