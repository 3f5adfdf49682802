/* SPDX-License-Identifier: ISC */
/*
 * Where a process's cgroups are, as the kernel states it: /proc/self/cgroup
 * gives the path inside each hierarchy, /proc/self/mountinfo where that
 * hierarchy is mounted and which part of it the mount shows. Shared by
 * cpulimit.c (workers = auto) and daemon/cgroup.c (containment). Also the
 * pure decisions containment takes from those facts (is droverd's cgroup
 * delegated to it? is a cgroup populated?), so they are tested on fixtures.
 * Reads files only; never logs.
 */
#ifndef DROVER_CGROUPFS_H
#define DROVER_CGROUPFS_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>

#include "cglimits.h"

#define CG_PATH_MAX 4096

/* One cgroup hierarchy this process is in: where its own directory is. */
struct cg_hierarchy {
    bool found;
    char dir[CG_PATH_MAX]; /* root + mount point + path below the mount's root */
    size_t mount_len;      /* length of root + mount point in dir: walk up to here */
};

/*
 * Find the calling process's directory in a hierarchy: cgroup v2 when
 * controller is NULL, else the v1 hierarchy of that controller. mi and cg
 * are /proc/self/mountinfo and /proc/self/cgroup (either may be NULL: not
 * found). root is prepended to the directory ("" for the real system).
 */
void cg_find_hierarchy(const char *root, FILE *mi, FILE *cg, const char *controller,
                       struct cg_hierarchy *h);
/* The same, opening root/proc/self/{mountinfo,cgroup} itself. */
void cg_find_self(const char *root, const char *controller, struct cg_hierarchy *h);
/* Open root + path for reading (O_NONBLOCK, CLOEXEC), NULL if it cannot. */
FILE *cg_open_under(const char *root, const char *path);
/* A small file's text, NUL-terminated (one read); -1 if unreadable or empty. */
int cg_read_text(const char *path, char *buf, size_t bufsz);
/* The first line of a small file, without its newline; -1 if unreadable or empty. */
int cg_read_line(const char *path, char *buf, size_t bufsz);

/* cgroup.events text ("populated 1\nfrozen 0\n"): 1 populated, 0 empty, -1 unreadable. */
int cg_events_populated(const char *text);

/* How `cgroup =` was set. */
enum cg_mode {
    CG_MODE_AUTO,
    CG_MODE_OFF,
    CG_MODE_PATH,
};

/* What droverd found about its own v2 cgroup, for cg_decide(). */
struct cg_facts {
    enum cg_mode mode;
    bool v2_found;  /* a cgroup2 mount shows droverd's cgroup */
    bool at_root;   /* droverd's cgroup is the root of what the mount shows (cgroup namespace) */
    bool only_ours; /* at_root: every process in it is droverd or one of its ancestors */
    bool delegated; /* the trusted.delegate or user.delegate xattr is "1" (systemd Delegate=yes) */
    bool writable;  /* droverd may create cgroups and move processes there */
    bool path_is_cg2;  /* CG_MODE_PATH: the directory is on a cgroup2 file system */
    bool path_is_self; /* CG_MODE_PATH: the directory is droverd's own cgroup */
};

/* Containment on or off, and the cgroup droverd manages. */
enum cg_decision {
    CG_OFF,      /* no containment; why says why */
    CG_ON,       /* the base is droverd's own cgroup: droverd moves itself to BASE/droverd */
    CG_ON_GIVEN, /* the base is a directory the operator gave, not droverd's own cgroup */
    CG_ERROR,    /* cgroup = PATH that cannot be used: a start error */
};

/*
 * The decision, from the facts alone: auto takes droverd's cgroup only when
 * it was delegated (systemd's xattr) or is the root of a cgroup namespace
 * holding nothing but droverd (a container), and is writable; it never
 * writes to a cgroup nobody gave it. why gets a sentence for status and the
 * log (what was decided and why).
 */
enum cg_decision cg_decide(const struct cg_facts *f, char *why, size_t whysz);

/*
 * Gather the facts for cg_decide() about the calling process and `cgroup =`
 * setting (given gets the resolved PATH; self droverd's own v2 cgroup).
 */
void cg_gather_facts(const char *setting, struct cg_facts *f, struct cg_hierarchy *self,
                     char given[PATH_MAX]);
/*
 * Where droverd started here with this `cgroup =` would put its workers, and
 * which controllers it could give them: the same facts and decision droverd
 * takes (for `drover check`). Writes nothing.
 */
void cg_probe_setting(const char *setting, struct cg_probe *p);
/* Fill p->controllers from p->base/cgroup.controllers ("" when unreadable). */
void cg_probe_controllers(struct cg_probe *p);

#endif
