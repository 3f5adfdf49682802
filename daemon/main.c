/* SPDX-License-Identifier: ISC */
/*
 * droverd: arguments, start-up, the event loop, and teardown. Start-up
 * problems are fatal with a clear message; once the loop runs nothing a
 * worker, a client or the disk does may end the daemon. Nothing calls into
 * this file: it registers its end-of-pass and shutdown hooks with droverd.c.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cgroup.h"
#include "cgroupfs.h"
#include "cmd.h"
#include "config.h"
#include "control.h"
#include "droverd.h"
#include "events.h"
#include "keys.h"
#include "linger.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pace.h"
#include "parse.h"
#include "pool.h"
#include "reap.h"
#include "reload.h"
#include "route.h"
#include "sys.h"
#include "xmalloc.h"

/* What the command line asked for. */
struct options {
    const char *config_path;
    bool check;
    bool debug;
};

static const int signals[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1};
static int lock_fd = -1; /* SOCKET.lock, held for droverd's whole life */
static struct event *sigev[sizeof(signals) / sizeof(signals[0])];

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: droverd [-c FILE] [--check] [--debug]\n"
            "\n"
            "Supervise pools of worker processes and route work to them.\n"
            "droverd stays in the foreground; run it under systemd, as a container's\n"
            "PID 1, or from a shell. It is controlled with drover(1).\n"
            "\n"
            "  -c, --config FILE  configuration file (default %s)\n"
            "  -t, --check        validate the configuration and exit\n"
            "  -d, --debug        log at debug level, whatever log_level says\n"
            "      --keys[=man]   print the reference of every configuration key\n"
            "  -V, --version      print the version and exit\n"
            "  -h, --help         this text\n"
            "\n"
            "Signals: TERM/INT shut down gracefully (a second one kills the workers at\n"
            "once; with shutdown_delay, TERM first fails /readyz and serves that long),\n"
            "HUP reloads the configuration, USR1 reopens the log files.\n"
            "Exit status: 0 after a clean shutdown, 1 on a start-up error, 2 on a usage\n"
            "error, 3 when a pool with on_fatal = exit went fatal.\n",
            CONFIG_DEFAULT_PATH);
}

/* End of a pass: once every pool has settled at start-up, tell systemd droverd is ready. */
static void ready_check(void)
{
    struct pool *p;
    unsigned pools = 0, workers = 0;

    if (droverd.ready_sent || droverd.shutting_down || !pools_all_settled())
        return;
    TAILQ_FOREACH(p, &droverd.pools, entry) {
        pools++;
        workers += p->target;
    }
    droverd.ready_sent = true;
    log_info("ready: %u pool%s, %u worker%s", pools, pools == 1 ? "" : "s", workers,
             workers == 1 ? "" : "s");
    sd_notify_send("READY=1\nSTATUS=running: %u pool%s, %u worker%s", pools, pools == 1 ? "" : "s",
                   workers, workers == 1 ? "" : "s");
}

/*
 * End of a pass: once every worker is down after a shutdown, end the processes droverd
 * adopted (TERM, then KILL at the deadline), then the loop.
 */
static void shutdown_done_check(void)
{
    struct pool *p;

    if (!droverd.shutting_down || !pools_all_down())
        return;
    if (reap_signal_adopted(droverd.shutdown_forced ? SIGKILL : SIGTERM) > 0)
        return; /* their exits bring us back here */
    /* Clients get the replies they have not taken, then droverd exits. */
    TAILQ_FOREACH(p, &droverd.pools, entry)
        if (p->route != NULL)
            route_release_clients(p->route);
    /* Lingering clients take their replies until the deadline's margin at most. */
    if (!route_lingering())
        event_base_loopexit(droverd.base, NULL);
}

/*
 * No grace left (the deadline, or a second TERM): SIGKILL every worker, and exit at the
 * latest SHUTDOWN_MARGIN_MS later, whatever is still there.
 */
static void shutdown_force(void)
{
    struct timeval tv = {SHUTDOWN_MARGIN_MS / 1000, (SHUTDOWN_MARGIN_MS % 1000) * 1000};

    droverd.shutdown_forced = true;
    pools_kill_all();
    reap_signal_adopted(SIGKILL);
    event_add(droverd.shutdown_timer, &tv);
    droverd_state_changed();
}

static void shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (!droverd.shutdown_forced) {
        log_warnx("shutdown_timeout reached: killing every worker left");
        shutdown_force();
        return;
    }
    if (!pools_all_down())
        log_warnx("workers did not exit after SIGKILL; exiting anyway");
    else if (reap_adopted_count() > 0)
        log_warnx("adopted processes did not exit after SIGKILL; exiting anyway");
    else if (route_lingering())
        log_warnx("clients did not take their replies; exiting anyway");
    event_base_loopexit(droverd.base, NULL);
}

/* The shutdown has begun (droverd_shutdown): stop every pool, kill what is left after the timeout.
 */
static void stop_workers(void)
{
    struct pool *p;
    uint64_t t = droverd.config->daemon.shutdown_timeout_us;
    struct timeval tv = {(time_t)(t / 1000000), (suseconds_t)(t % 1000000)};

    sd_notify_send("STOPPING=1\nSTATUS=shutting down");
    pools_halt();
    TAILQ_FOREACH(p, &droverd.pools, entry)
        pool_stop(p, false);
    droverd.shutdown_timer = evtimer_new(droverd.base, shutdown_timeout_cb, NULL);
    event_add(droverd.shutdown_timer, &tv);
}

static void shutdown_delay_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    droverd_shutdown(0);
}

/*
 * SIGTERM or SIGINT before the shutdown began: from now on droverd is not
 * ready (/readyz). A first SIGTERM with shutdown_delay set keeps everything
 * serving for that long, then begins the shutdown; a signal during the delay
 * begins it at once. True when the signal was taken here.
 */
static bool shutdown_delay_begin(int sig)
{
    uint64_t d = droverd.config->daemon.shutdown_delay_us;
    struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
    char dur[32];

    if (droverd.shutting_down)
        return false;
    if (droverd.shutdown_requested) {
        log_info("SIG%s during shutdown_delay: shutting down now", signal_name(sig));
        droverd_shutdown(0);
        return true;
    }
    droverd.shutdown_requested = true;
    if (sig != SIGTERM || d == 0)
        return false;
    format_duration(d, dur, sizeof(dur));
    log_info("SIGTERM: not ready; the shutdown begins in %s (shutdown_delay)", dur);
    sd_notify_send("STATUS=not ready; shutting down in %s", dur);
    droverd.shutdown_delay_timer = evtimer_new(droverd.base, shutdown_delay_cb, NULL);
    event_add(droverd.shutdown_delay_timer, &tv);
    return true;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct reload_report report;

    (void)what;
    (void)arg;
    switch (sig) {
    case SIGCHLD:
        reap_soon();
        break;
    case SIGTERM:
    case SIGINT:
        if (shutdown_delay_begin((int)sig))
            break;
        if (droverd.shutting_down) {
            log_warnx("second %s: killing every worker now", signal_name((int)sig));
            if (!droverd.shutdown_forced)
                shutdown_force();
        } else {
            droverd_shutdown(0);
        }
        break;
    case SIGHUP:
        if (droverd.shutting_down)
            break;
        /* The log has what changed; nobody waits for the report. */
        reload_config(&report);
        reload_report_free(&report);
        break;
    case SIGUSR1:
        log_info("reopening log files");
        pools_reopen_logs();
        break;
    }
}

static void load_or_die(const char *path, struct config **out)
{
    struct config_env env;
    struct config_errors errs = {0};

    config_env_default(&env);
    *out = config_load(path, &env, &errs);
    if (*out == NULL) {
        char *text = config_errors_format(&errs);
        fprintf(stderr, "%s", text);
        fprintf(stderr, "droverd: %s: %zu error%s; not starting\n", path, errs.n,
                errs.n == 1 ? "" : "s");
        free(text);
        config_errors_clear(&errs);
        exit(DROVERD_EXIT_STARTUP);
    }
}

/* Returns -1 to go on, or the exit status when the command line is all done. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"check", no_argument, NULL, 't'},
                                            {"debug", no_argument, NULL, 'd'},
                                            {"keys", optional_argument, NULL, 'K'},
                                            {"version", no_argument, NULL, 'V'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int c;

    o->config_path = CONFIG_DEFAULT_PATH;
    while ((c = getopt_long(argc, argv, "c:tdVh", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config_path = optarg;
            break;
        case 't':
            o->check = true;
            break;
        case 'd':
            o->debug = true;
            break;
        case 'K':
            if (optarg != NULL && strcmp(optarg, "man") == 0)
                keys_print_man(stdout);
            else
                keys_print_markdown(stdout);
            return DROVERD_EXIT_OK;
        case 'V':
            printf("droverd %s\n", DROVER_VERSION);
            return DROVERD_EXIT_OK;
        case 'h':
            usage(stdout);
            return DROVERD_EXIT_OK;
        default:
            usage(stderr);
            return DROVERD_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return DROVERD_EXIT_USAGE;
    }
    return -1;
}

/* droverd --check: the configuration loaded (load_or_die said why not); say what it holds. */
static int check_config(void)
{
    struct pool_config *pc;
    unsigned workers = 0;
    struct config_errors errs = {0};
    struct cg_probe probe;

    struct rlimit rl;

    cg_probe_setting(droverd.config->daemon.cgroup, &probe);
    /* The fd limit start-up would raise itself to: the hard one. */
    droverd.nofile_raised = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_max : 1024;
    if (config_check_limits(droverd.config, &probe, &errs) != 0 ||
        pools_accept_fds(droverd.config, &errs) != 0) {
        char *text = config_errors_format(&errs);
        fputs(text, stderr);
        fprintf(stderr, "droverd: %s: %zu error%s\n", droverd.config->path, errs.n,
                errs.n == 1 ? "" : "s");
        free(text);
        config_errors_clear(&errs);
        config_free(droverd.config);
        return DROVERD_EXIT_STARTUP;
    }

    TAILQ_FOREACH(pc, &droverd.config->pools, entry)
        workers += pc->nworkers;
    printf("%s: ok (%u pool%s, %u worker%s)\n", droverd.config->path, droverd.config->npools,
           droverd.config->npools == 1 ? "" : "s", workers, workers == 1 ? "" : "s");
    config_free(droverd.config);
    return DROVERD_EXIT_OK;
}

/*
 * One droverd per control socket: the lock beside it is taken before the socket (or any
 * work socket) is touched, so of two droverds started at once exactly one gets past here.
 */
static void lock_or_die(const char *control_socket)
{
    char *path, err[PARSE_ERR_MAX];
    pid_t holder;

    xasprintf(&path, "%s.lock", control_socket);
    lock_fd = sys_lock_file(path, &holder, err, sizeof(err));
    if (lock_fd < 0 && errno == EWOULDBLOCK) {
        if (holder > 0)
            fprintf(stderr, "droverd: another droverd (pid %d) holds %s; not starting\n",
                    (int)holder, path);
        else
            fprintf(stderr, "droverd: another droverd holds %s; not starting\n", path);
        exit(DROVERD_EXIT_STARTUP);
    }
    if (lock_fd < 0)
        fatalx("control socket lock: %s", err);
    free(path);
}

/* Everything up to the loop: the machine, the event loop, the sockets, the pools. */
/* A worker failed its liveness checks: stopped like a stop, its exit counted as a crash. */
static void check_failed(struct slot *s, const char *reason)
{
    slot_event(s, SLOT_EV_FAIL_STOP, reason);
}

/* The config cannot run here (errs say where): nothing was started yet. */
static _Noreturn void refuse_config(struct config_errors *errs, const char *why)
{
    char *text = config_errors_format(errs);

    fputs(text, stderr);
    free(text);
    config_errors_clear(errs);
    control_close();
    notify_workers_close();
    fatalx("%s: %s; not starting", droverd.config_path, why);
}

static void startup(const struct options *o)
{
    char err[PARSE_ERR_MAX], abs[PATH_MAX];
    struct pool_config *pc;
    struct pool *p;
    struct rlimit now;
    struct config_errors errs = {0};

    log_set_level(o->debug ? LOG_LEVEL_DEBUG : droverd.config->daemon.log_level);
    lock_or_die(droverd.config->daemon.control_socket);
    /* Before anything is opened: a passed socket no pool claims refuses the start cleanly. */
    listen_activation_check(droverd.config);
    droverd.config_path = xstrdup(realpath(o->config_path, abs) ? abs : o->config_path);

    droverd.pid = getpid();
    droverd.is_pid1 = droverd.pid == 1;
    droverd.uid = geteuid();
    droverd.started_at = mono_now();
    sys_tune_malloc();
    droverd.ncpu = sys_usable_cpus(&droverd.cpus);
    TAILQ_INIT(&droverd.pools);
    sys_raise_nofile(&droverd.nofile);
    droverd.nofile_raised = getrlimit(RLIMIT_NOFILE, &now) == 0 ? now.rlim_cur : 1024;
    droverd.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (droverd.devnull < 0)
        fatal("open /dev/null");
    /* Orphaned grandchildren come back to us to be reaped (PID 1 gets them anyway). */
    if (!droverd.is_pid1 && sys_set_subreaper() != 0)
        fatal("prctl(PR_SET_CHILD_SUBREAPER)");
    sd_notify_init();
    signal(SIGPIPE, SIG_IGN);
    droverd.timer_slack_ns = sys_set_timer_slack(PACE_TIMER_SLACK_NS);

    droverd.base = event_base_new();
    if (droverd.base == NULL || event_base_priority_init(droverd.base, DROVERD_PRIORITIES) != 0)
        fatalx("cannot create the event loop");
    droverd_init();
    /* Once per pass, in this order: what the pass changed may finish each of these. */
    droverd_on_settle(pools_drain_check);     /* a draining pool's route is empty */
    droverd_on_settle(control_check_waiters); /* start, stop, restart waiting for slots */
    droverd_on_settle(reload_free_unused);    /* configs no pool points into any more */
    droverd_on_settle(ready_check);
    droverd_on_settle(shutdown_done_check);
    droverd_on_shutdown(stop_workers);
    check_init(check_failed);
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
        sigev[i] = evsignal_new(droverd.base, signals[i], signal_cb, NULL);
        event_add(sigev[i], NULL);
    }

    control_set_dispatch(cmd_dispatch);
    if (control_open(&droverd.config->daemon, err, sizeof(err)) != 0)
        fatalx("control socket: %s", err);
    if (notify_workers_open(droverd.config->daemon.control_socket, err, sizeof(err)) != 0) {
        control_close();
        fatalx("%s", err);
    }
    if (droverd.config->daemon.metrics_listen != NULL &&
        metrics_http_open(droverd.config->daemon.metrics_listen, err, sizeof(err)) != 0) {
        /* Leave no socket behind that a later droverd would take for a live one. */
        control_close();
        notify_workers_close();
        fatalx("metrics_listen: %s", err);
    }
    /* Before the first worker: each one starts inside its cgroup. */
    if (cgroup_setup(droverd.config->daemon.cgroup, droverd.base, err, sizeof(err)) != 0) {
        control_close();
        notify_workers_close();
        fatalx("%s", err);
    }
    /* A limit that cannot be applied is refused, never dropped. */
    if (cgroup_accept_limits(droverd.config, &errs) != 0)
        refuse_config(&errs, "limits cannot be applied");
    /* More workers than file descriptors would lock the operator out once started. */
    if (pools_accept_fds(droverd.config, &errs) != 0)
        refuse_config(&errs, "too many workers for droverd's file descriptor limit");
    TAILQ_FOREACH(pc, &droverd.config->pools, entry) {
        if (pool_create(pc, err, sizeof(err)) == NULL) {
            control_close();
            notify_workers_close();
            fatalx("pool %s: %s", pc->name, err);
        }
    }

    log_info("droverd %s started (pid %d), control socket %s", DROVER_VERSION, (int)droverd.pid,
             droverd.config->daemon.control_socket);
    TAILQ_FOREACH(p, &droverd.pools, entry)
        pool_start(p);
    sd_watchdog_start();
    droverd_state_changed();
}

/* After the loop: everything is down; what is left is memory and fds. */
static void teardown(void)
{
    struct pool *p;

    events_close();
    control_farewell();
    while ((p = TAILQ_FIRST(&droverd.pools)) != NULL)
        pool_destroy(p);
    check_cleanup();
    cgroup_teardown();
    control_close();
    notify_workers_close();
    metrics_http_close();
    listen_release_parked();
    linger_free_all();
    reap_cleanup();
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        event_free(sigev[i]);
    droverd_free();
    if (droverd.shutdown_timer != NULL)
        event_free(droverd.shutdown_timer);
    if (droverd.shutdown_delay_timer != NULL)
        event_free(droverd.shutdown_delay_timer);
    reload_free_all();
    config_free(droverd.config);
    event_base_free(droverd.base);
    free(droverd.cpus);
    free(droverd.config_path);
    close(droverd.devnull);
    /* Last: the control socket is gone before another droverd may take its place. */
    close(lock_fd);
}

/*
 * The event loop, a pass at a time: after each pass, while every worker of
 * the routes with work in flight is stocked, a short pause before the next
 * look at the sockets (pace.h).
 */
static void run(void)
{
    struct pace pace;
    uint64_t ran_dry = 0;

    pace_init(&pace);
    for (;;) {
        struct route_pace v = {0};
        unsigned pause_us;

        if (event_base_loop(droverd.base, EVLOOP_ONCE) != 0 || event_base_got_exit(droverd.base) ||
            event_base_got_break(droverd.base))
            return;
        route_pace_look(&v);
        pause_us = pace_after_pass(&pace, v.stocked, v.ran_dry != ran_dry);
        ran_dry = v.ran_dry;
        if (pause_us > 0) {
            struct timespec ts = {0, (long)pause_us * 1000};
            nanosleep(&ts, NULL);
            droverd.loop_pauses++;
            droverd.loop_paused_us += pause_us;
        }
    }
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_args(argc, argv, &o);

    if (rc >= 0)
        return rc;
    log_init("droverd", LOG_LEVEL_INFO);
    if (!o.check)
        listen_activation_init();
    if (cmd_table_check() != 0)
        fatalx("internal error: cmd_entries[] is not in verb order");
    load_or_die(o.config_path, &droverd.config);
    if (o.check)
        return check_config();
    startup(&o);
    run();
    log_info("stopped");
    teardown();
    return droverd.exit_status;
}
