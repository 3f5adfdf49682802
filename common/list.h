/* SPDX-License-Identifier: ISC */
/*
 * <sys/queue.h> lists, plus the _SAFE iterators glibc's copy lacks (they
 * allow removing the current element while walking).
 */
#ifndef DROVER_LIST_H
#define DROVER_LIST_H

#include <sys/queue.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)                                                 \
    for ((var) = TAILQ_FIRST(head); (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);         \
         (var) = (tvar))
#endif

#ifndef SLIST_FOREACH_SAFE
#define SLIST_FOREACH_SAFE(var, head, field, tvar)                                                 \
    for ((var) = SLIST_FIRST(head); (var) != NULL && ((tvar) = SLIST_NEXT(var, field), 1);         \
         (var) = (tvar))
#endif

#endif
