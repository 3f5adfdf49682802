/* SPDX-License-Identifier: ISC */
/*
 * Memory budgets (see budget.h, which has the checks the router makes per
 * request). Pure: counters only.
 */
#include "budget.h"

bool budget_trim_due(struct budget *b, uint64_t high, uint64_t low)
{
    if (b->peak < high || b->held > low)
        return false;
    b->peak = b->held;
    return true;
}
