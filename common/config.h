/* SPDX-License-Identifier: ISC */
/*
 * Configuration: the structs every part of drover reads, and the loader that
 * fills them from ini files (inih). Loading never logs and never exits: every
 * problem becomes a "FILE:LINE: message" entry in a struct config_errors, so
 * the daemon can refuse to start, keep its running config on reload, or
 * `drover check` can print them all.
 */
#ifndef DROVER_CONFIG_H
#define DROVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "list.h"
#include <sys/types.h>

#include "cglimits.h"
#include "cpulimit.h"
#include "parse.h"

enum restart_policy { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };
enum cpu_affinity { AFFINITY_NONE, AFFINITY_CORE };
enum stdout_mode { STDOUT_LOG, STDOUT_INHERIT, STDOUT_NULL };
enum log_stderr { LOG_STDERR_MARKED, LOG_STDERR_MERGED };
enum ready_mode { READY_EXEC, READY_NOTIFY };
enum on_fatal { ON_FATAL_STAY, ON_FATAL_EXIT };
enum route_mode { ROUTE_MESSAGE, ROUTE_HANDOFF, ROUTE_SHARED };
enum framing { FRAMING_LENGTH, FRAMING_LINE };
enum work_fd { WORK_FD_3, WORK_FD_STDIO };
enum signal_target { SIGNAL_TARGET_GROUP, SIGNAL_TARGET_MAIN };
enum notify_access { NOTIFY_ACCESS_MAIN, NOTIFY_ACCESS_ALL };

struct crash_limit {
    unsigned count; /* 0 = no limit */
    uint64_t window_us;
};

/* Where a key's value came from; line 0 = the built-in default. */
struct key_origin {
    const char *file; /* points into struct config's file list */
    unsigned line;
    bool bad; /* given, but its value was refused (already reported) */
};

/* Number of keys of each section; checked against the key table. */
#define DAEMON_KEY_COUNT 11
#define POOL_KEY_COUNT   56

struct daemon_config {
    char *control_socket;
    mode_t control_mode;
    char *control_group;
    char *log_dir;
    int log_level; /* enum log_level */
    char **include;
    uint64_t shutdown_timeout_us;
    char *metrics_listen;
    uint64_t shutdown_delay_us;
    char *cgroup;          /* auto, off, or an absolute path */
    uint64_t buffer_limit; /* bytes buffered for clients of every pool; 0 = none */

    /* Resolved. */
    gid_t control_gid; /* valid when control_group != NULL */
    struct key_origin origin[DAEMON_KEY_COUNT];
};

struct pool_config {
    TAILQ_ENTRY(pool_config) entry;
    char *name;
    struct key_origin section; /* where [pool:NAME] is */

    char *command;
    struct workers_spec workers;
    int cpu_affinity; /* enum cpu_affinity */
    char *directory;
    char *user;
    char *group;
    char **environment;
    int restart; /* enum restart_policy */
    uint64_t restart_delay_us;
    uint64_t restart_delay_max_us;
    struct crash_limit crash_limit;
    struct crash_limit crash_restart_rate;
    int on_fatal; /* enum on_fatal */
    int ready;    /* enum ready_mode */
    uint64_t start_timeout_us;
    uint64_t start_grace_us;
    uint64_t watchdog_us;
    int notify_access; /* enum notify_access */
    int signal_target; /* enum signal_target */
    char *check_command;
    uint64_t check_interval_us;
    uint64_t check_timeout_us;
    unsigned check_failures;
    int stop_signal;
    uint64_t stop_timeout_us;
    int stdout_mode; /* enum stdout_mode */
    uint64_t log_max_size;
    unsigned log_keep;
    int log_stderr; /* enum log_stderr */
    char *listen;
    mode_t socket_mode;
    char *socket_group;
    int mode;    /* enum route_mode */
    int framing; /* enum framing */
    int work_fd; /* enum work_fd */
    unsigned max_queue;
    uint64_t request_timeout_us;
    unsigned max_attempts;
    uint64_t max_requests;
    uint64_t memory_recycle; /* bytes; 0 = never */
    unsigned worker_inflight;
    bool worker_inflight_auto; /* message mode, worker_inflight not set: the adaptive window */
    uint64_t max_frame;
    uint64_t frame_timeout_us; /* longest a client takes to finish a frame it began (while read) */
    uint64_t queue_timeout_us; /* longest a request waits for a worker; 0 = none */
    uint64_t client_buffer;    /* bytes one connection may hold before droverd stops reading it */
    uint64_t pool_buffer;      /* bytes the pool's connections may hold together; 0 = none */
    char *tls_cert;            /* tcp: listen: TLS with this certificate chain (PEM) */
    char *tls_key;             /* and this private key */
    char *tls_client_ca;       /* clients must present a certificate this CA signed */
    uint64_t tls_handshake_timeout_us;
    int insecure_tcp;        /* 1: a non-loopback tcp: listen without TLS is wanted */
    struct cg_limits limits; /* memory_max ... cpu_weight: each worker's cgroup */

    /* Resolved while loading. */
    char **argv;     /* command split into words */
    char *exec_path; /* absolute path of argv[0] */
    unsigned nworkers;
    bool has_user;
    uid_t uid;
    gid_t gid;
    char *home;       /* the user's home, for HOME= */
    gid_t socket_gid; /* when socket_group is set */

    char **check_argv;     /* check_command split into words, or NULL */
    char *check_exec_path; /* absolute path of check_argv[0] */
    struct key_origin origin[POOL_KEY_COUNT];
};

TAILQ_HEAD(pool_config_list, pool_config);

struct config {
    char *path;   /* absolute path of the main file */
    char **files; /* every file read, for origins */
    size_t nfiles;
    struct daemon_config daemon;
    struct pool_config_list pools;
    unsigned npools;
    unsigned ncpu;        /* the count workers = auto resolved against */
    struct cpu_limit cpu; /* and where it came from */
};

struct config_error {
    char *file; /* may be NULL for errors not tied to a file */
    unsigned line;
    char *message;
};

struct config_errors {
    struct config_error *v;
    size_t n, cap;
};

/* What the loader needs to know about the machine it runs on. */
struct config_env {
    unsigned ncpu;        /* usable CPUs, for workers = auto: cpu.ncpu */
    struct cpu_limit cpu; /* where that count came from (affinity, cpuset, quota) */
    uid_t euid;           /* who will run the workers' parent */
    bool follow_include;  /* false for fuzzing: include is parsed, not read */
    bool check_paths;     /* check that commands and directories exist */
};

/* Fill env with this process's view of the machine. */
void config_env_default(struct config_env *env);

/*
 * Load the main file and its includes. Returns the config, or NULL with at
 * least one entry in errs.
 */
struct config *config_load(const char *path, const struct config_env *env,
                           struct config_errors *errs);
/* Same, from a string (name is used for messages and relative paths). */
struct config *config_load_string(const char *name, const char *text, const struct config_env *env,
                                  struct config_errors *errs);
void config_free(struct config *cfg);

struct pool_config *config_find_pool(const struct config *cfg, const char *name);
void pool_config_free(struct pool_config *pc);

void config_errors_add(struct config_errors *errs, const char *file, unsigned line, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
void config_errors_clear(struct config_errors *errs);
/* Each error as "FILE:LINE: message\n" into buf (grown as needed). */
char *config_errors_format(const struct config_errors *errs);

/*
 * Refuse limits (memory_max ...) that cannot be applied where probe says
 * droverd puts its workers: one "FILE:LINE: KEY: cannot be applied: why"
 * per key. -1 when any was added.
 */
int config_check_limits(const struct config *cfg, const struct cg_probe *probe,
                        struct config_errors *errs);

/* Default control socket for a process of this uid: root uses /run/drover. */
void config_default_control_socket(char *buf, size_t bufsz);
/* Default log directory for a process of this uid. */
void config_default_log_dir(char *buf, size_t bufsz);
/* Default main config file: $sysconfdir/drover/drover.ini of the build (/etc for /usr). */
#ifdef DROVER_CONFIG_DEFAULT
#define CONFIG_DEFAULT_PATH DROVER_CONFIG_DEFAULT
#else
#define CONFIG_DEFAULT_PATH "/etc/drover/drover.ini"
#endif

#endif
