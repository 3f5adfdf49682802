/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for daemon/logtail.c, the last lines of log files read a block
 * at a time: the last N lines as tail -n gives them (a last line without a
 * newline, empty lines, a lone newline), into the older file when the
 * current one is short, the same bytes whatever the size of the pieces
 * asked for, only the lines that count, lines longer than a block, several
 * files merged in time order (ties in the order added, empty lines left
 * out, a line without a time kept with its file's lines), the
 * LOGTAIL_MAX_READ cut, a file that shrinks while it is read,
 * and a FIFO or a missing file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "logtail.h"

static char dir[] = "/tmp/test_logtail.XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *name)
{
    static char p[2][256];
    static int i;

    i = !i;
    snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
    return p[i];
}

static void write_file(const char *name, const char *data, size_t len)
{
    FILE *f = fopen(path_of(name), "w");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *name, const char *text)
{
    write_file(name, text, strlen(text));
}

/* Everything from the seek on, asked for target bytes at a time; a NUL-terminated copy. */
static char *read_all(struct logtail *t, size_t target, size_t *len)
{
    struct evbuffer *out = evbuffer_new();
    char *s;
    int calls = 0;

    while (logtail_next(t, out, target))
        assert_true(++calls < 1000000);
    *len = evbuffer_get_length(out);
    s = malloc(*len + 1);
    evbuffer_remove(out, s, *len);
    s[*len] = '\0';
    evbuffer_free(out);
    return s;
}

/* The last want lines of text as tail -n prints them. */
static const char *tail_n(const char *text, size_t len, unsigned want)
{
    size_t start = len;
    unsigned lines = 0;

    if (want == 0)
        return text + len;
    if (start > 0 && text[start - 1] == '\n')
        start--;
    while (start > 0) {
        if (text[start - 1] == '\n' && ++lines == want)
            break;
        start--;
    }
    return text + start;
}

/* One log (its files oldest first), the bytes as they are. */
static char *tail_raw(const char *const *names, size_t n, unsigned want, size_t target,
                      unsigned *found, size_t *len)
{
    struct logtail *t = logtail_new(NULL, NULL, NULL);
    char *s;

    for (size_t i = 0; i < n; i++)
        logtail_add(t, path_of(names[i]), "p");
    *found = logtail_seek(t, want);
    s = read_all(t, target, len);
    logtail_free(t);
    return s;
}

static void check_tail(const char *text, unsigned want, unsigned expect_found)
{
    static const char *const names[] = {"f"};
    size_t targets[] = {1, 7, 100, 65536};

    write_text("f", text);
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        unsigned found;
        size_t len;
        char *got = tail_raw(names, 1, want, targets[i], &found, &len);
        assert_string_equal(got, tail_n(text, strlen(text), want));
        assert_int_equal(found, expect_found);
        free(got);
    }
}

static void test_tail_like_tail_n(void **state)
{
    (void)state;
    check_tail("a\nb\nc\n", 2, 2);
    check_tail("a\nb\nc\n", 3, 3);
    check_tail("a\nb\nc\n", 10, 3);
    check_tail("a\nb\nc\n", 0, 0);
    check_tail("a\nb\nc", 1, 1); /* a last line without its newline */
    check_tail("a\nb\nc", 2, 2);
    check_tail("a\n\nb\n", 2, 2); /* an empty line counts */
    check_tail("\n", 1, 1);
    check_tail("", 5, 0);
}

static void test_into_older_file(void **state)
{
    static const char *const names[] = {"p.log.1", "p.log"};
    unsigned found;
    size_t len;
    char *got;

    (void)state;
    write_text("p.log.1", "o1\no2\no3\n");
    write_text("p.log", "n1\nn2\n");
    got = tail_raw(names, 2, 2, 65536, &found, &len);
    assert_string_equal(got, "n1\nn2\n");
    free(got);
    got = tail_raw(names, 2, 4, 3, &found, &len);
    assert_string_equal(got, "o2\no3\nn1\nn2\n");
    assert_int_equal(found, 4);
    free(got);
    got = tail_raw(names, 2, 100, 5, &found, &len);
    assert_string_equal(got, "o1\no2\no3\nn1\nn2\n");
    assert_int_equal(found, 5);
    free(got);
    /* No current file: the older one's lines. */
    unlink(path_of("p.log"));
    got = tail_raw(names, 2, 2, 65536, &found, &len);
    assert_string_equal(got, "o2\no3\n");
    free(got);
}

static bool keep_a(const char *text, size_t avail, void *arg)
{
    (void)arg;
    return avail > 0 && text[0] == 'A';
}

static void emit_plain(const char *pool, const char *line, size_t len, struct evbuffer *out,
                       void *arg)
{
    (void)arg;
    evbuffer_add_printf(out, "%s ", pool);
    evbuffer_add(out, line, len);
    evbuffer_add(out, "\n", 1);
}

static void test_keep(void **state)
{
    struct logtail *t;
    size_t len;
    char *got;

    (void)state;
    write_text("k.log.1", "A1\nb\nA2\n");
    write_text("k.log", "b\nA3\nb\nb\nA4\nb\n");
    t = logtail_new(keep_a, emit_plain, NULL);
    logtail_add(t, path_of("k.log.1"), "k");
    logtail_add(t, path_of("k.log"), "k");
    assert_int_equal(logtail_seek(t, 3), 3);
    got = read_all(t, 1, &len);
    assert_string_equal(got, "k A2\nk A3\nk A4\n");
    free(got);
    logtail_free(t);
}

/* Lines longer than a block: found whole reading back; sent in pieces of a block. */
static void test_long_lines(void **state)
{
    static const char *const names[] = {"l"};
    size_t long_len = LOGTAIL_BLOCK * 2 + 100, total = long_len * 2 + 20;
    char *text = malloc(total + 1), *p = text;
    unsigned found;
    size_t len;
    char *got;

    (void)state;
    p += sprintf(p, "x\n");
    memset(p, 'A', long_len - 1);
    p += long_len - 1;
    *p++ = '\n';
    memset(p, 'B', long_len - 1);
    p += long_len - 1;
    *p++ = '\n';
    p += sprintf(p, "y\n");
    write_file("l", text, (size_t)(p - text));
    *p = '\0';
    got = tail_raw(names, 1, 3, 1000, &found, &len);
    assert_int_equal(found, 3);
    assert_string_equal(got, text + 2);
    free(got);

    struct logtail *t = logtail_new(NULL, emit_plain, NULL);
    logtail_add(t, path_of("l"), "q");
    assert_int_equal(logtail_seek(t, 2), 2);
    got = read_all(t, 10, &len);
    /* The B line in pieces of a block, each a line of its own, then y. */
    assert_int_equal(len, (long_len - 1) + 3 * 3 + 4);
    assert_memory_equal(got, "q BBB", 5);
    assert_string_equal(got + len - 4, "q y\n");
    free(got);
    logtail_free(t);
    free(text);
}

static void test_merged(void **state)
{
    struct logtail *t;
    size_t len;
    char *got;

    (void)state;
    write_text("m1", "01 a1\n03 a3\n\n05 a5\n07 a7\n");
    write_text("m2", "02 b2\n03 b3\n06 b6\n08 b8");
    t = logtail_new(NULL, emit_plain, NULL);
    logtail_add(t, path_of("m1"), "a");
    logtail_add(t, path_of("m2"), "b");
    logtail_add(t, path_of("missing"), "c");
    assert_int_equal(logtail_seek_merged(t, 5), 5);
    got = read_all(t, 1, &len);
    /* Equal times: the file added first goes first. */
    assert_string_equal(got, "b 03 b3\na 05 a5\nb 06 b6\na 07 a7\nb 08 b8\n");
    free(got);
    logtail_free(t);

    t = logtail_new(NULL, emit_plain, NULL);
    logtail_add(t, path_of("m1"), "a");
    logtail_add(t, path_of("m2"), "b");
    assert_int_equal(logtail_seek_merged(t, 6), 6);
    got = read_all(t, 1000, &len);
    assert_string_equal(got, "a 03 a3\nb 03 b3\na 05 a5\nb 06 b6\na 07 a7\nb 08 b8\n");
    free(got);
    logtail_free(t);

    t = logtail_new(NULL, emit_plain, NULL);
    logtail_add(t, path_of("m1"), "a");
    logtail_add(t, path_of("m2"), "b");
    assert_int_equal(logtail_seek_merged(t, 100), 8);
    got = read_all(t, 7, &len);
    assert_string_equal(got, "a 01 a1\nb 02 b2\na 03 a3\nb 03 b3\na 05 a5\nb 06 b6\na 07 a7\n"
                             "b 08 b8\n");
    free(got);
    logtail_free(t);
}

/* A line without a time (not written by droverd) stays with the lines of its file around it. */
static void test_merged_timeless(void **state)
{
    struct logtail *t;
    size_t len;
    char *got;

    (void)state;
    write_text("x", "01 x1\njunk\n05 x5\n");
    write_text("y", "02 y2\n03 y3\n06 y6\n");
    t = logtail_new(NULL, emit_plain, NULL);
    logtail_add(t, path_of("x"), "x");
    logtail_add(t, path_of("y"), "y");
    assert_int_equal(logtail_seek_merged(t, 100), 6);
    got = read_all(t, 1, &len);
    assert_string_equal(got, "x 01 x1\nx junk\ny 02 y2\ny 03 y3\nx 05 x5\ny 06 y6\n");
    free(got);
    logtail_free(t);

    t = logtail_new(NULL, emit_plain, NULL);
    logtail_add(t, path_of("x"), "x");
    logtail_add(t, path_of("y"), "y");
    assert_int_equal(logtail_seek_merged(t, 4), 4);
    got = read_all(t, 1000, &len);
    assert_string_equal(got, "x junk\ny 03 y3\nx 05 x5\ny 06 y6\n");
    free(got);
    logtail_free(t);
}

/* A file longer than LOGTAIL_MAX_READ is read back that far, and a line cut there left out. */
static void test_max_read(void **state)
{
    static const char *const names[] = {"old", "big"};
    FILE *f;
    unsigned found;
    size_t len;
    char *got;

    (void)state;
    write_text("old", "old\n");
    f = fopen(path_of("big"), "w");
    assert_non_null(f);
    fputs("first\n", f);
    /* A hole of zeros: one line, longer than the distance read back. */
    assert_int_equal(fseek(f, LOGTAIL_MAX_READ + 100, SEEK_SET), 0);
    fputs("\nl1\nl2\n", f);
    assert_int_equal(fclose(f), 0);
    got = tail_raw(names, 2, 1, 65536, &found, &len);
    assert_string_equal(got, "l2\n");
    free(got);
    got = tail_raw(names, 2, 10, 65536, &found, &len);
    assert_int_equal(found, 2);
    assert_string_equal(got, "l1\nl2\n");
    free(got);
}

/* A file cut shorter while it is being sent ends where it now ends. */
static void test_shrinks(void **state)
{
    struct logtail *t = logtail_new(NULL, NULL, NULL);
    struct evbuffer *out = evbuffer_new();
    char text[40000];

    (void)state;
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = i % 50 == 49 ? '\n' : 'x';
    write_file("s", text, sizeof(text));
    logtail_add(t, path_of("s"), "s");
    assert_int_equal(logtail_seek(t, 1000), 800);
    assert_true(logtail_next(t, out, 100));
    assert_int_equal(truncate(path_of("s"), 1000), 0);
    while (logtail_next(t, out, 100))
        ;
    assert_int_equal(evbuffer_get_length(out), 1000);
    evbuffer_free(out);
    logtail_free(t);
}

static void test_not_regular(void **state)
{
    struct logtail *t = logtail_new(NULL, NULL, NULL);

    (void)state;
    assert_int_equal(mkfifo(path_of("fifo"), 0600), 0);
    assert_int_equal(logtail_add(t, path_of("fifo"), "x"), LOGTAIL_NOT_REGULAR);
    assert_int_equal(logtail_add(t, path_of("nothing"), "x"), LOGTAIL_MISSING);
    assert_int_equal(logtail_seek(t, 10), 0);
    logtail_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tail_like_tail_n),
        cmocka_unit_test(test_into_older_file),
        cmocka_unit_test(test_keep),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_merged),
        cmocka_unit_test(test_merged_timeless),
        cmocka_unit_test(test_max_read),
        cmocka_unit_test(test_shrinks),
        cmocka_unit_test(test_not_regular),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
