/* SPDX-License-Identifier: ISC */
/*
 * What every worker of a pool starts with, worked out from the pool's
 * config once (see pool_env.h). Reads droverd's environment; keeps no state.
 */
#include "pool_env.h"

#include <grp.h>
#include <stdlib.h>
#include <string.h>

#include "droverd.h"
#include "spawn.h"
#include "xmalloc.h"

extern char **environ;

/* Variables droverd got from its own supervisor that must not leak into workers. */
static bool env_is_private(const char *kv)
{
    static const char *const names[] = {
        "NOTIFY_SOCKET=", "LISTEN_FDS=",   "LISTEN_PID=", "LISTEN_FDNAMES=",
        "WATCHDOG_USEC=", "WATCHDOG_PID=", "DROVER_",     NULL};
    for (size_t i = 0; names[i] != NULL; i++)
        if (strncmp(kv, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

/* Is NAME= of kv set in v? */
static bool env_has(char **v, size_t n, const char *kv)
{
    size_t len = strcspn(kv, "=") + 1;

    for (size_t i = 0; i < n; i++)
        if (strncmp(v[i], kv, len) == 0)
            return true;
    return false;
}

/*
 * The environment every worker of the pool shares: the pool's own
 * variables, then USER/LOGNAME/HOME for `user`, then droverd's environment.
 */
char **pool_env_build(const struct pool_config *pc)
{
    size_t n = 0, cap = strv_len(environ) + strv_len(pc->environment) + 8;
    char **env = xcalloc(cap, sizeof(*env));

    for (size_t i = 0; pc->environment != NULL && pc->environment[i] != NULL; i++)
        env[n++] = xstrdup(pc->environment[i]);
    if (pc->user != NULL) {
        char *kv;
        xasprintf(&kv, "USER=%s", pc->user);
        if (!env_has(env, n, kv))
            env[n++] = kv;
        else
            free(kv);
        xasprintf(&kv, "LOGNAME=%s", pc->user);
        if (!env_has(env, n, kv))
            env[n++] = kv;
        else
            free(kv);
        if (pc->home != NULL) {
            xasprintf(&kv, "HOME=%s", pc->home);
            if (!env_has(env, n, kv))
                env[n++] = kv;
            else
                free(kv);
        }
    }
    xasprintf(&env[n++], "DROVER_POOL=%s", pc->name);
    for (size_t i = 0; environ[i] != NULL && n + 1 < cap; i++)
        if (!env_is_private(environ[i]) && !env_has(env, n, environ[i]))
            env[n++] = xstrdup(environ[i]);
    env[n] = NULL;
    return env;
}

int pool_env_groups(const struct pool_config *pc, gid_t **groups)
{
    gid_t *g;
    int n = 64;

    *groups = NULL;
    if (!pc->has_user)
        return 0;
    /* Resolved here, once, because initgroups() is not safe between fork and exec. */
    if (pc->user != NULL) {
        g = xcalloc((size_t)n, sizeof(gid_t));
        if (getgrouplist(pc->user, pc->gid, g, &n) < 0) {
            g = xreallocarray(g, (size_t)n, sizeof(gid_t));
            if (getgrouplist(pc->user, pc->gid, g, &n) < 0)
                n = 0;
        }
    } else {
        g = xcalloc(1, sizeof(gid_t));
        g[0] = pc->gid;
        n = 1;
    }
    *groups = g;
    return n;
}

void pool_env_identity(const struct pool *p, struct spawn_plan *plan)
{
    const struct pool_config *pc = p->cfg;

    plan->directory = pc->directory;
    plan->set_credentials = pc->has_user && droverd.uid == 0;
    plan->uid = pc->uid;
    plan->gid = pc->gid;
    plan->groups = p->groups;
    plan->ngroups = p->ngroups;
    plan->daemon_pid = droverd.pid;
    plan->nofile = &droverd.nofile;
    plan->timer_slack_ns = droverd.timer_slack_ns;
}
