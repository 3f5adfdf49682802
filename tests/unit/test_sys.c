/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the socket-path helpers of daemon/sys_linux.c, in a private
 * temporary directory: sys_listen_unix replaces a stale socket, never one a
 * live process serves and never anything that is not a socket (a file, a
 * directory, a symlink, even one to a socket), creates the parent directory,
 * binds with exactly the mode asked; sys_unlink_socket removes sockets only;
 * sys_unix_socket_live tells a served socket from a stale one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "parse.h"
#include "sys.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/drover-test-sys.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/s.sock", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static mode_t mode_of(const char *p)
{
    struct stat st;

    assert_int_equal(lstat(p, &st), 0);
    return st.st_mode;
}

/* A file that is not a socket, with known contents. */
static void write_file(const char *p, const char *text)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void assert_file_is(const char *p, const char *text)
{
    char buf[64] = "";
    int fd = open(p, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_true(read(fd, buf, sizeof(buf) - 1) >= 0);
    close(fd);
    assert_string_equal(buf, text);
}

static void test_listen_new_and_mode(void **state)
{
    char err[PARSE_ERR_MAX] = "";
    char deep[160];
    int fd;

    (void)state;
    fd = sys_listen_unix(path, SOCK_STREAM, 0660, (gid_t)-1, 16, err, sizeof(err));
    assert_true(fd >= 0);
    assert_true(S_ISSOCK(mode_of(path)));
    assert_int_equal(mode_of(path) & 07777, 0660);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(sys_unix_socket_live(path, SOCK_STREAM));
    /* A second bind while it is served: in use, and the socket is left alone. */
    assert_int_equal(sys_listen_unix(path, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err)), -1);
    assert_int_equal(errno, EADDRINUSE);
    assert_non_null(strstr(err, "is in use by another process"));
    assert_int_equal(mode_of(path) & 07777, 0660);
    close(fd);

    /* Missing parent directories are made. */
    snprintf(deep, sizeof(deep), "%s/a/b/c.sock", dir);
    fd = sys_listen_unix(deep, SOCK_DGRAM, 0600, (gid_t)-1, 0, err, sizeof(err));
    assert_true(fd >= 0);
    assert_true(S_ISSOCK(mode_of(deep)));
    close(fd);
}

static void test_listen_replaces_stale_socket(void **state)
{
    char err[PARSE_ERR_MAX] = "";
    int fd = sys_listen_unix(path, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err));

    (void)state;
    assert_true(fd >= 0);
    close(fd); /* the file stays: a stale socket */
    assert_true(S_ISSOCK(mode_of(path)));
    assert_false(sys_unix_socket_live(path, SOCK_STREAM));
    fd = sys_listen_unix(path, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err));
    assert_true(fd >= 0);
    assert_true(sys_unix_socket_live(path, SOCK_STREAM));
    close(fd);
}

/* A regular file, a directory, a symlink (to a file, to a stale socket, dangling): kept. */
static void test_listen_refuses_non_sockets(void **state)
{
    char err[PARSE_ERR_MAX], target[160], sock2[160];
    int fd;

    (void)state;
    write_file(path, "data");
    err[0] = '\0';
    assert_int_equal(sys_listen_unix(path, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err)), -1);
    assert_int_equal(errno, EEXIST);
    assert_non_null(strstr(err, "exists and is not a socket"));
    assert_file_is(path, "data");
    assert_int_equal(unlink(path), 0);

    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(sys_listen_unix(path, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err)), -1);
    assert_int_equal(errno, EEXIST);
    assert_true(S_ISDIR(mode_of(path)));
    assert_int_equal(rmdir(path), 0);

    snprintf(target, sizeof(target), "%s/target", dir);
    write_file(target, "precious");
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(sys_listen_unix(path, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err)), -1);
    assert_int_equal(errno, EEXIST);
    assert_true(S_ISLNK(mode_of(path)));
    assert_file_is(target, "precious");
    assert_int_equal(unlink(path), 0);

    /* A symlink to a stale socket is not a socket either: neither is removed. */
    snprintf(sock2, sizeof(sock2), "%s/real.sock", dir);
    fd = sys_listen_unix(sock2, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err));
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlink(sock2, path), 0);
    assert_int_equal(sys_listen_unix(path, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err)), -1);
    assert_int_equal(errno, EEXIST);
    assert_true(S_ISLNK(mode_of(path)));
    assert_true(S_ISSOCK(mode_of(sock2)));
    assert_int_equal(unlink(path), 0);

    /* A dangling symlink: kept, not followed to create a socket elsewhere. */
    snprintf(target, sizeof(target), "%s/nowhere.sock", dir);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(sys_listen_unix(path, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err)), -1);
    assert_int_equal(errno, EEXIST);
    assert_true(S_ISLNK(mode_of(path)));
    assert_int_equal(access(target, F_OK), -1);
}

static void test_listen_path_errors(void **state)
{
    char err[PARSE_ERR_MAX] = "", longp[200], under_file[160];

    (void)state;
    memset(longp, 'x', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(sys_listen_unix(longp, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err)),
                     -1);
    assert_int_equal(errno, ENAMETOOLONG);
    assert_non_null(strstr(err, "is too long (107 bytes at most)"));

    /* The parent is a file: no directory can be made there. */
    write_file(path, "x");
    snprintf(under_file, sizeof(under_file), "%s/inner.sock", path);
    assert_int_equal(
        sys_listen_unix(under_file, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err)), -1);
    if (strstr(err, "Not a directory") == NULL)
        fail_msg("under a file: %s", err);
}

static void test_unlink_socket(void **state)
{
    char err[PARSE_ERR_MAX] = "";
    int fd;

    (void)state;
    /* Nothing there: success, nothing to do. */
    assert_int_equal(sys_unlink_socket(path), 0);
    fd = sys_listen_unix(path, SOCK_STREAM, 0600, (gid_t)-1, 16, err, sizeof(err));
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sys_unlink_socket(path), 0);
    assert_int_equal(access(path, F_OK), -1);

    write_file(path, "keep");
    assert_int_equal(sys_unlink_socket(path), -1);
    assert_int_equal(errno, EEXIST);
    assert_file_is(path, "keep");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listen_new_and_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_replaces_stale_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_refuses_non_sockets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_path_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlink_socket, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
