/* SPDX-License-Identifier: ISC */
#include "pace.h"

void pace_init(struct pace *p)
{
    p->pause_us = PACE_MIN_US;
    p->paused = false;
    p->calm = 0;
}

unsigned pace_after_pass(struct pace *p, bool stocked, bool ran_dry)
{
    if (p->paused) {
        /* The pass just run read what came during the pause: was it too long? */
        if (!ran_dry)
            p->pause_us =
                p->pause_us + PACE_STEP_US < PACE_MAX_US ? p->pause_us + PACE_STEP_US : PACE_MAX_US;
        else if (p->pause_us > PACE_MIN_US)
            p->pause_us = p->pause_us / 2 > PACE_MIN_US ? p->pause_us / 2 : PACE_MIN_US;
        else
            p->pause_us = 0;
    } else if (p->pause_us == 0) {
        /* Off: on again, at the shortest, once the workers stay stocked a while. */
        if (!stocked || ran_dry)
            p->calm = 0;
        else if (++p->calm >= PACE_CALM_PASSES) {
            p->calm = 0;
            p->pause_us = PACE_MIN_US;
        }
    }
    p->paused = stocked && p->pause_us > 0;
    return p->paused ? p->pause_us : 0;
}
