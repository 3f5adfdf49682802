/* SPDX-License-Identifier: ISC */
/*
 * The Linux-specific calls droverd makes, in one place: clocks, the child
 * subreaper, file-descriptor limits, usable CPUs, /proc readings, and the
 * C library's allocator settings.
 */
#ifndef DROVER_SYS_H
#define DROVER_SYS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

/* Monotonic time in microseconds. */
uint64_t mono_now(void);
/* Wall-clock seconds (with fraction) for a monotonic timestamp in the past. */
double wall_of_mono(uint64_t mono_us);

/* Become a child subreaper so orphaned grandchildren are reparented to us. */
int sys_set_subreaper(void);

/*
 * How late the kernel may end this process's sleeps and timeouts, so it can
 * gather wake-ups (50 us by default; pace.h's pauses are shorter than that).
 * Sets it to ns and returns the value it had, or 0 if it could not be set.
 */
unsigned long sys_set_timer_slack(unsigned long ns);

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit (1024 workers need a few
 * thousand fds); *orig receives the old value for workers to get back.
 */
void sys_raise_nofile(struct rlimit *orig);

/* The CPUs this process may run on, in ascending order. Returns the count (>= 1). */
unsigned sys_usable_cpus(int **cpus_out);

/* CPU time used (user + system) and resident set size of a process. */
struct proc_usage {
    uint64_t cpu_us;
    uint64_t rss_bytes;
};
/*
 * From an fd open on /proc/PID/stat (sys_proc_stat_open, O_CLOEXEC; -1 if it
 * cannot be opened): read again at offset 0 on each call, without the path
 * walk, open and close, which cost twice the read itself. The fd stays the
 * process's: once it has ended, the read fails, whoever has its pid now.
 */
int sys_proc_stat_open(pid_t pid);
int sys_proc_usage_fd(int fd, struct proc_usage *out);

/* Close every fd from `from` upward except `keep` (-1 for none). Async-signal-safe. */
void sys_close_from(int from, int keep);

/* mkdir -p: create dir and its missing parents (mode 0755). */
int sys_mkdir_p(const char *dir);
/* Create the directory a file path is in, with its parents. */
int sys_mkdir_parent_of(const char *path);
/*
 * Does a live process listen on this Unix socket path? (type: SOCK_STREAM or
 * SOCK_DGRAM.) A stale socket file nobody serves answers false.
 */
bool sys_unix_socket_live(const char *path, int type);
/* Remove the socket at path (0 if there is none); -1 with EEXIST if something else is there. */
int sys_unlink_socket(const char *path);

/*
 * Listening sockets, in redis anet's manner: the fd, or -1 with the reason
 * in err (errno kept); never logs. Both are non-blocking and close-on-exec.
 *
 * sys_listen_unix: create the parent directory, refuse a path a live
 * process serves (errno EADDRINUSE) or where something other than a socket
 * is (errno EEXIST: never deleted), replace a stale socket file, bind with
 * no access for anyone, then chown to gid (unless (gid_t)-1) and chmod to
 * mode, and listen with this backlog (SOCK_STREAM; a SOCK_DGRAM socket is
 * only bound).
 * sys_listen_tcp: spec is "tcp:HOST:PORT" or "tcp:[V6]:PORT", as checked by
 * the config parser; SO_REUSEADDR, backlog SOMAXCONN.
 */
int sys_listen_unix(const char *path, int type, mode_t mode, gid_t gid, int backlog, char *err,
                    size_t errsz);
int sys_listen_tcp(const char *spec, char *err, size_t errsz);

/*
 * Take an exclusive POSIX write lock (fcntl F_SETLK) on path (created with its directory if
 * missing, never truncated before the lock is held), then write our pid into it. Returns
 * the fd, to keep open for as long as the lock is wanted (close-on-exec: no worker holds
 * it; never open the file again, or closing that fd drops the lock); or -1 with the reason
 * in err, and errno EWOULDBLOCK and *holder set (the kernel's F_GETLK answer; 0 when the
 * holder is in another pid namespace and wrote no pid) when another process holds it. The file is
 * never removed: a stale one is simply locked again, and no process can lock a file another
 * unlinked and re-created.
 */
int sys_lock_file(const char *path, pid_t *holder, char *err, size_t errsz);

/*
 * Take an exclusive flock(2) on a directory (a cgroup: no file can be made in one). Returns the
 * fd, to keep open for as long as the lock is wanted (close-on-exec); or -1 with the reason in
 * err, and errno EWOULDBLOCK and *holder set (from /proc/locks; 0 when unknown) when another
 * process holds it.
 */
int sys_lock_dir(const char *dir, pid_t *holder, char *err, size_t errsz);

/*
 * The children of process pid (every thread's), in *out (free it); returns how many,
 * or -1. From /proc/PID/task/TID/children, or a scan of /proc when the kernel lacks it.
 */
int sys_children(pid_t pid, pid_t **out);

/* Make an fd non-blocking and close-on-exec. */
int sys_set_nonblock_cloexec(int fd);

/* Let the allocator keep freed memory at the top of the heap for reuse (sys_linux.c says why). */
void sys_tune_malloc(void);

#endif
