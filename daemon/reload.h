/* SPDX-License-Identifier: ISC */
/*
 * Reloading the configuration (drover reload and SIGHUP): load the file
 * again and apply only the difference. A config with errors changes
 * nothing. Pools are added, removed, scaled, re-created, or rolled one
 * worker at a time (confdiff.c decides which); everything else is applied in
 * place. The result is a report that the caller formats: cmd-reload.c as
 * text or JSON for the client; SIGHUP drops it (the journal has the log
 * lines written here).
 *
 * Owns droverd.config's replacement and the retired configs that stopping
 * pools still point into; changes pools only through pool.h.
 */
#ifndef DROVER_RELOAD_H
#define DROVER_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confdiff.h"
#include "config.h"

/* A pool of the new config that could not be started. */
struct reload_problem {
    char *pool;
    char *error;
    bool kept; /* the pool keeps running as it was (its change refused), not failed to start */
};

/* A pool whose workers this reload restarts one at a time. */
struct reload_rollout {
    char *pool;
    uint64_t gen;      /* the pool's rollout_gen when it began */
    char *halt_reason; /* set by the waiting command once it halted, or NULL */
};

struct reload_report {
    bool loaded;                     /* false: the file has errors and nothing changed */
    struct config_errors errors;     /* when !loaded: every FILE:LINE error */
    struct config_diff diff;         /* when loaded: pools added, removed, re-created, restarted,
                                        scaled, applied; daemon keys applied or needing a restart */
    struct reload_problem *problems; /* pools that could not start, or kept as they were */
    size_t nproblems;
    struct reload_rollout *rollouts; /* rolling restarts begun */
    size_t nrollouts;
    char **names; /* reload_report_keep: the diff's pool names, owned */
};

/*
 * Load droverd.config_path again and apply it. 0 when everything was
 * applied; -1 when the file has errors or a pool could not start (the
 * report says which). Free the report with reload_report_free.
 */
int reload_config(struct reload_report *out);
/* Apply a loaded config (reload_config's second half); takes ownership of new. */
int reload_apply(struct config *new, struct reload_report *out);
void reload_report_free(struct reload_report *r);
/* Copy what the report borrows from the old config, so it outlives this loop pass. */
void reload_report_keep(struct reload_report *r);

/* Free the retired configs no pool uses any more (an end-of-pass hook). */
void reload_free_unused(void);
/* Free every retired config (at exit). */
void reload_free_all(void);

#endif
