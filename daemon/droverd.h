/* SPDX-License-Identifier: ISC */
/*
 * The daemon's state: one struct droverd, its pools, and their slots. Every
 * daemon module includes this; what each may change is said at its file's
 * top. The pure pieces (slot.h, backoff.h, the router's choice) know
 * nothing of these structs.
 *
 * droverd.c owns the global: it begins the shutdown and runs, once per pass
 * of the event loop, the end-of-pass hooks that modules registered at
 * start-up. It calls no other daemon module, so every module may call it.
 */
#ifndef DROVER_DROVERD_H
#define DROVER_DROVERD_H

#include <stdbool.h>
#include <stdint.h>
#include "list.h"
#include <sys/resource.h>
#include <sys/types.h>

#include "config.h"
#include "keys.h" /* the names of config.h's enums */
#include "slot.h"

struct event;
struct event_base;
struct pool_log;
struct output_pipe;
struct route;
struct slot_check;
struct slot_recycle;
struct worker_link;

/*
 * Exit statuses of the droverd process. Not those of drover commands, which
 * the control protocol carries (enum drover_exit in common/proto.h).
 */
#define DROVERD_EXIT_OK         0
#define DROVERD_EXIT_STARTUP    1 /* bad config, cannot bind, ... */
#define DROVERD_EXIT_USAGE      2
#define DROVERD_EXIT_FATAL_POOL 3 /* a pool with on_fatal = exit went fatal */

/*
 * droverd exits at most this long after shutdown_timeout: the time SIGKILL has to end the
 * workers left and clients have to take their last replies.
 */
#define SHUTDOWN_MARGIN_MS 1000

/*
 * Event priorities (event_base_priority_init): every event is at the default, in the
 * middle, except work that should yield to I/O: it runs only in a loop pass that had
 * nothing else to do (libevent skips lower priorities in a pass that ran a higher one).
 */
#define DROVERD_PRIORITIES   3
#define DROVERD_PRIORITY_LOW 2

struct slot {
    struct pool *pool;
    unsigned index;
    struct slot_fsm fsm;
    pid_t pid; /* 0 when no process */
    struct event *timer;
    uint64_t timer_at; /* deadline the timer is armed for; 0 = disarmed */
    int exec_fd;       /* status pipe while the exec is pending; -1 otherwise */
    struct event *exec_ev;
    struct output_pipe *output;  /* NULL unless stdout = log */
    struct worker_link *link;    /* routing state, NULL for a supervised-only pool */
    char *exec_error;            /* why the last start failed before exec */
    char *notify_status;         /* STATUS= sent by the worker */
    uint64_t requests;           /* requests or connections served */
    bool removing;               /* scaled away: freed once stopped */
    bool rolling;                /* restarting as part of a rolling restart */
    bool replaced;               /* given the new settings by the rollout under way */
    bool probation;              /* the rollout waits for its new worker to count as started */
    unsigned probation_failures; /* fsm.start_failures when the probation began */
    uint64_t probation_started;  /* fsm.started_at when the probation began */
    struct slot_check *check;    /* liveness checks (check.c), NULL until the pool has one */
    struct cgroup_slot *cg;      /* the slot's cgroup; NULL without containment */
    bool cg_waiting;             /* main process reaped; waiting for its cgroup to be empty */
    pid_t cg_exit_pid;           /* while cg_waiting: the reaped pid and how it ended */
    int cg_wstatus;
    char *oom_exit; /* "killed by the OOM killer (memory_max 512M)": how the last one ended */
    uint64_t cg_cpu_base_us; /* the cgroup's CPU time when this worker started (usage.c) */
    int stat_fd; /* the worker's /proc/PID/stat, open from its first usage read until it ends; -1 */
    struct slot_recycle *recycle; /* memory_recycle (recycle.c), NULL until first checked */
    bool spawn_queued;            /* starting, waiting for its turn to fork (spawn_queue.c) */
    unsigned char event_cause; /* events.h: 1 + the cause of the stop/restart under way; 0 none */
    SLIST_ENTRY(slot) pid_link;
    TAILQ_ENTRY(slot) spawn_entry;
    /* CPU % over a recent window: the sample the last status took (view.c); no timer. */
    pid_t cpu_sample_pid;
    uint64_t cpu_sample_us, cpu_sample_at;
    double cpu_recent_percent, cpu_recent_window_s; /* < 0 window: none yet */
};

struct pool {
    TAILQ_ENTRY(pool) entry;
    char *name;
    struct pool_config *cfg; /* points into droverd.config */
    struct slot_policy policy;
    struct restart_gate crash_gate; /* crash_restart_rate, which every slot's fsm asks */
    struct slot **slots;
    unsigned nslots; /* slots allocated, including those being removed */
    unsigned target; /* workers wanted */
    char **env_base; /* environment shared by every worker of the pool */
    gid_t *groups;   /* supplementary groups when user is set */
    int ngroups;
    struct pool_log *log;
    struct route *route;
    bool removing; /* removed by reload or being re-created: freed once every slot stopped */
    struct pool_config *recreate_cfg; /* when re-creating: the config to start again with */
    bool listen_kept;  /* a reload could not move its listen: it runs that file's predecessor */
    bool draining;     /* stopping: waits for its route to finish the work taken */
    bool rolling;      /* a rolling restart is under way */
    char *halt_reason; /* rollout halted: why, or NULL */
    struct pool_config *rollback_cfg; /* during a rollout: the settings it replaces, or NULL */
    bool rolling_back;                /* the rollout halted: the replaced slots go back */
    uint64_t rollout_gen;             /* rollouts begun, so a waiting reload knows its own */
    bool rollout_proven;              /* a new worker of the current rollout counts as started */

    /* Counters since the pool was created. */
    uint64_t starts;
    uint64_t exits_clean;
    uint64_t exits_error;
    uint64_t exits_signal;
    uint64_t exits_failed; /* killed by droverd as broken */
    uint64_t spawn_failures;
    uint64_t oom_kills;          /* workers the OOM killer ended (memory.events oom_kill) */
    uint64_t recycles_memory;    /* workers recycled for memory_recycle */
    struct event *recycle_timer; /* memory_recycle's check (recycle.c); NULL when not set */
};

TAILQ_HEAD(pool_list, pool);

struct droverd {
    struct event_base *base;
    struct config *config;
    char *config_path;
    pid_t pid;
    uid_t uid;
    bool is_pid1;
    uint64_t started_at;
    unsigned ncpu;
    int *cpus;
    struct rlimit nofile;                 /* what droverd was started with, given back to workers */
    rlim_t nofile_raised;                 /* droverd's own soft limit after raising it */
    unsigned long timer_slack_ns;         /* what droverd was started with, given back to workers */
    uint64_t loop_pauses, loop_paused_us; /* pauses between loop passes (pace.h), their sum */
    int devnull;
    char *notify_socket; /* NOTIFY_SOCKET for workers with ready = notify (notify.c), or NULL */
    struct pool_list pools;
    bool shutting_down;
    bool shutdown_requested;            /* SIGTERM seen: not ready; shutdown_delay, then shutdown */
    struct event *shutdown_delay_timer; /* runs out the shutdown_delay */
    int exit_status;
    struct event *shutdown_timer;
    bool shutdown_forced; /* the deadline passed (or a second TERM): SIGKILL, no grace */
    bool ready_sent;

    uint64_t orphans_reaped;
    uint64_t reloads;
    uint64_t reload_failures;
};

extern struct droverd droverd;

/* Once droverd.base exists: make the end-of-pass event. */
void droverd_init(void);
void droverd_free(void);
/*
 * Run fn at the end of every loop pass in which droverd_state_changed() was
 * called, after the hooks registered before it. Register at start-up.
 */
void droverd_on_settle(void (*fn)(void));
/* Run fn once when the shutdown begins (stop the workers), in registration order. */
void droverd_on_shutdown(void (*fn)(void));

/* Begin a graceful shutdown that ends droverd with this exit status (DROVERD_EXIT_*). */
void droverd_shutdown(int status);
/* Something changed that may complete start-up, a shutdown or a waiting command. */
void droverd_state_changed(void);

#endif
