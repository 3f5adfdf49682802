/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the pure parts of containment (common/cgroupfs.c): where
 * droverd's cgroup v2 directory is, found from fixture trees under
 * tests/data/cgroup/ (proc/self/mountinfo and proc/self/cgroup); the
 * delegation decision, cell by cell; cgroup.events parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cgroupfs.h"

#define FIXTURE(name) DROVER_TEST_DATA "/cgroup/" name

/* --- finding droverd's v2 cgroup ------------------------------------------ */

/* The directory found under a fixture root, without the root; "" when none. */
static const char *v2_dir(const char *root, bool *at_root)
{
    static struct cg_hierarchy h;

    cg_find_self(root, NULL, &h);
    if (!h.found)
        return "";
    *at_root = h.dir[h.mount_len] == '\0';
    return h.dir + strlen(root);
}

static void test_find_systemd(void **state)
{
    bool at_root = true;

    (void)state;
    /* A service under systemd: its unit's cgroup below the v2 mount. */
    assert_string_equal(v2_dir(FIXTURE("v2-systemd"), &at_root),
                        "/sys/fs/cgroup/system.slice/drover.service");
    assert_false(at_root);
}

static void test_find_namespace_root(void **state)
{
    bool at_root = false;

    (void)state;
    /* A container with its own cgroup namespace: 0::/ at the mount point. */
    assert_string_equal(v2_dir(FIXTURE("v2-nsroot"), &at_root), "/sys/fs/cgroup");
    assert_true(at_root);
    /* A container without one: the host's path, which the bind mount shows as its root. */
    at_root = false;
    assert_string_equal(v2_dir(FIXTURE("v2-bind"), &at_root), "/sys/fs/cgroup");
    assert_true(at_root);
}

static void test_find_hybrid(void **state)
{
    bool at_root = true;

    (void)state;
    /* Hybrid: v2 at /sys/fs/cgroup/unified, found from mountinfo, never assumed. */
    assert_string_equal(v2_dir(FIXTURE("hybrid"), &at_root), "/sys/fs/cgroup/unified/t");
    assert_false(at_root);
}

static void test_find_none(void **state)
{
    bool at_root = false;

    (void)state;
    /* Only v1 hierarchies mounted; and a root with no /proc at all. */
    assert_string_equal(v2_dir(FIXTURE("v1-quota"), &at_root), "");
    assert_string_equal(v2_dir(FIXTURE("no-such-fixture"), &at_root), "");
    /* A path that climbs out of its mount is read at the mount. */
    assert_string_equal(v2_dir(FIXTURE("dotdot"), &at_root), "/sys/fs/cgroup");
}

/* --- cgroup.events ---------------------------------------------------------- */

static int events_file(const char *name)
{
    char buf[256];
    FILE *f = fopen(name, "r");
    size_t n;

    if (f == NULL)
        return -2;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return cg_events_populated(buf);
}

static void test_events(void **state)
{
    (void)state;
    assert_int_equal(events_file(FIXTURE("events/populated")), 1);
    assert_int_equal(events_file(FIXTURE("events/empty")), 0);
    assert_int_equal(events_file(FIXTURE("events/frozen-first")), 0);
    assert_int_equal(events_file(FIXTURE("events/garbage")), -1);
    assert_int_equal(cg_events_populated("populated 1"), 1);
    assert_int_equal(cg_events_populated(""), -1);
    assert_int_equal(cg_events_populated("frozen 0\n"), -1);
    assert_int_equal(cg_events_populated("populated 10\n"), -1);
    assert_int_equal(cg_events_populated("unpopulated 0\n"), -1);
}

/* --- the delegation decision ---------------------------------------------------- */

static enum cg_decision decide(struct cg_facts f, const char *why_has)
{
    char why[512];
    enum cg_decision d = cg_decide(&f, why, sizeof(why));

    if (strstr(why, why_has) == NULL)
        fail_msg("reason '%s' does not say '%s'", why, why_has);
    return d;
}

static void test_decide_auto(void **state)
{
    struct cg_facts base = {.mode = CG_MODE_AUTO, .v2_found = true, .writable = true};
    struct cg_facts f;

    (void)state;
    /* systemd Delegate=yes: the xattr. */
    f = base;
    f.delegated = true;
    assert_int_equal(decide(f, "delegated"), CG_ON);
    f.writable = false;
    assert_int_equal(decide(f, "not writable"), CG_OFF);
    /* A container's root holding only droverd (and its init). */
    f = base;
    f.at_root = true;
    f.only_ours = true;
    assert_int_equal(decide(f, "cgroup namespace"), CG_ON);
    f.writable = false;
    assert_int_equal(decide(f, "not writable"), CG_OFF);
    /* The root of a host (or a container shared with others): never taken. */
    f = base;
    f.at_root = true;
    assert_int_equal(decide(f, "holds other processes"), CG_OFF);
    /* A cgroup nobody delegated, even a writable one (root under systemd without Delegate=). */
    f = base;
    assert_int_equal(decide(f, "not delegated"), CG_OFF);
    /* No cgroup v2 at all. */
    f = base;
    f.v2_found = false;
    f.delegated = true;
    assert_int_equal(decide(f, "no cgroup v2"), CG_OFF);
}

static void test_decide_off_and_path(void **state)
{
    struct cg_facts f = {
        .mode = CG_MODE_OFF, .v2_found = true, .delegated = true, .writable = true};

    (void)state;
    assert_int_equal(decide(f, "cgroup = off"), CG_OFF);
    f = (struct cg_facts){.mode = CG_MODE_PATH, .path_is_cg2 = true, .writable = true};
    assert_int_equal(decide(f, "cgroup = PATH"), CG_ON_GIVEN);
    f.path_is_self = true;
    assert_int_equal(decide(f, "cgroup = PATH"), CG_ON);
    f.writable = false;
    assert_int_equal(decide(f, "not writable"), CG_ERROR);
    f = (struct cg_facts){.mode = CG_MODE_PATH, .writable = true};
    assert_int_equal(decide(f, "not a directory of a cgroup v2"), CG_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_systemd),
        cmocka_unit_test(test_find_namespace_root),
        cmocka_unit_test(test_find_hybrid),
        cmocka_unit_test(test_find_none),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_decide_auto),
        cmocka_unit_test(test_decide_off_and_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
