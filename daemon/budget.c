/* SPDX-License-Identifier: ISC */
/*
 * Memory budgets (see budget.h). Pure: counters only.
 */
#include "budget.h"

void budget_change(struct budget *b, uint64_t before, uint64_t after)
{
    b->held = b->held - before + after;
    if (before == 0 && after > 0)
        b->holders++;
    else if (before > 0 && after == 0)
        b->holders--;
    if (b->held > b->peak)
        b->peak = b->held;
}

bool budget_over(const struct budget *b)
{
    return b->limit > 0 && b->held >= b->limit;
}

uint64_t budget_share(const struct budget *b)
{
    return b->limit / (b->holders > 0 ? b->holders : 1);
}

bool budget_may_read(const struct budget *b, uint64_t mine)
{
    return !budget_over(b) || mine < budget_share(b);
}

uint64_t budget_room(const struct budget *b, uint64_t mine)
{
    uint64_t share;

    if (b->limit == 0)
        return UINT64_MAX;
    if (!budget_over(b))
        return b->limit - b->held;
    share = budget_share(b);
    return share > mine ? share - mine : 0;
}

bool budget_trim_due(struct budget *b, uint64_t high, uint64_t low)
{
    if (b->peak < high || b->held > low)
        return false;
    b->peak = b->held;
    return true;
}
