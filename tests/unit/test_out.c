/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/out.c: the streaming JSON writer (nesting, commas,
 * escaping, invalid UTF-8, numbers, key-value helpers) and the aligned text table. Output is
 * compared byte for byte, since `--json` output is documented as stable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "out.h"

/* A fresh buffer and writer for each test. */
struct fixture {
    struct evbuffer *buf;
    struct json j;
    char *text;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->buf = evbuffer_new();
    if (f->buf == NULL) {
        free(f);
        return -1;
    }
    json_init(&f->j, f->buf);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    evbuffer_free(f->buf);
    free(f->text);
    free(f);
    return 0;
}

/* Everything written so far, as a C string (owned by the fixture). */
static const char *text(struct fixture *f)
{
    size_t len = evbuffer_get_length(f->buf);

    free(f->text);
    f->text = malloc(len + 1);
    assert_non_null(f->text);
    evbuffer_copyout(f->buf, f->text, len);
    f->text[len] = '\0';
    /* The writer never emits a NUL byte; a shorter strlen would mean it did. */
    assert_int_equal(strlen(f->text), len);
    return f->text;
}

/* --- JSON --------------------------------------------------------------- */

static void test_json_flat_object(void **state)
{
    struct fixture *f = *state;

    json_object_begin(&f->j);
    json_key(&f->j, "a");
    json_int(&f->j, 1);
    json_key(&f->j, "b");
    json_string(&f->j, "x");
    json_key(&f->j, "c");
    json_bool(&f->j, true);
    json_key(&f->j, "d");
    json_bool(&f->j, false);
    json_key(&f->j, "e");
    json_null(&f->j);
    json_object_end(&f->j);
    assert_string_equal(text(f), "{\"a\":1,\"b\":\"x\",\"c\":true,\"d\":false,\"e\":null}\n");
}

static void test_json_empty(void **state)
{
    struct fixture *f = *state;

    json_object_begin(&f->j);
    json_key(&f->j, "o");
    json_object_begin(&f->j);
    json_object_end(&f->j);
    json_key(&f->j, "a");
    json_array_begin(&f->j);
    json_array_end(&f->j);
    json_object_end(&f->j);
    assert_string_equal(text(f), "{\"o\":{},\"a\":[]}\n");
}

static void test_json_nesting(void **state)
{
    struct fixture *f = *state;

    json_object_begin(&f->j);
    json_key(&f->j, "pools");
    json_array_begin(&f->j);
    for (int p = 0; p < 2; p++) {
        json_object_begin(&f->j);
        json_key(&f->j, "name");
        json_string(&f->j, p == 0 ? "web" : "api");
        json_key(&f->j, "slots");
        json_array_begin(&f->j);
        for (int s = 0; s < (p == 0 ? 2 : 0); s++) {
            json_object_begin(&f->j);
            json_key(&f->j, "slot");
            json_uint(&f->j, (uint64_t)s);
            json_key(&f->j, "pid");
            json_int(&f->j, 100 + s);
            json_object_end(&f->j);
        }
        json_array_end(&f->j);
        json_object_end(&f->j);
    }
    json_array_end(&f->j);
    json_key(&f->j, "ok");
    json_bool(&f->j, true);
    json_object_end(&f->j);
    assert_string_equal(text(f),
                        "{\"pools\":[{\"name\":\"web\",\"slots\":[{\"slot\":0,\"pid\":100},"
                        "{\"slot\":1,\"pid\":101}]},{\"name\":\"api\",\"slots\":[]}],"
                        "\"ok\":true}\n");
}

static void test_json_array_of_arrays(void **state)
{
    struct fixture *f = *state;

    json_array_begin(&f->j);
    json_array_begin(&f->j);
    json_int(&f->j, 1);
    json_int(&f->j, 2);
    json_array_end(&f->j);
    json_array_begin(&f->j);
    json_array_end(&f->j);
    json_string(&f->j, "s");
    json_array_end(&f->j);
    assert_string_equal(text(f), "[[1,2],[],\"s\"]\n");
}

static void test_json_max_depth(void **state)
{
    struct fixture *f = *state;
    const int levels = JSON_MAX_DEPTH - 1; /* the deepest nesting the writer supports */
    char want[256];
    size_t off = 0;

    for (int i = 0; i < levels; i++) {
        json_array_begin(&f->j);
        json_int(&f->j, i);
        off += (size_t)snprintf(want + off, sizeof(want) - off, "[%d,", i);
    }
    json_string(&f->j, "deep");
    off += (size_t)snprintf(want + off, sizeof(want) - off, "\"deep\"");
    for (int i = 0; i < levels; i++) {
        json_array_end(&f->j);
        off += (size_t)snprintf(want + off, sizeof(want) - off, "]");
    }
    snprintf(want + off, sizeof(want) - off, "\n");
    assert_string_equal(text(f), want);
}

static void test_json_escaping(void **state)
{
    struct fixture *f = *state;

    json_array_begin(&f->j);
    json_string(&f->j, "quote\" backslash\\ slash/");
    json_string(&f->j, "nl\n cr\r tab\t");
    json_string(&f->j, "\x01\x08\x0c\x1f\x7f");
    json_string(&f->j, "caf\xc3\xa9"); /* UTF-8 passes through */
    json_string(&f->j, "");
    json_array_end(&f->j);
    assert_string_equal(text(f), "[\"quote\\\" backslash\\\\ slash/\","
                                 "\"nl\\n cr\\r tab\\t\","
                                 "\"\\u0001\\u0008\\u000c\\u001f\\u007f\","
                                 "\"caf\xc3\xa9\","
                                 "\"\"]\n");
}

/* Every control character is escaped; only the five short forms are used. */
static void test_json_every_control_character(void **state)
{
    struct fixture *f = *state;
    char in[32], want[32 * 6 + 8];
    size_t off = 0;

    for (int c = 0; c < 32; c++)
        in[c] = (char)c;
    json_string_len(&f->j, in, sizeof(in));
    off += (size_t)snprintf(want + off, sizeof(want) - off, "\"");
    for (int c = 0; c < 32; c++) {
        if (c == '\n')
            off += (size_t)snprintf(want + off, sizeof(want) - off, "\\n");
        else if (c == '\r')
            off += (size_t)snprintf(want + off, sizeof(want) - off, "\\r");
        else if (c == '\t')
            off += (size_t)snprintf(want + off, sizeof(want) - off, "\\t");
        else
            off += (size_t)snprintf(want + off, sizeof(want) - off, "\\u%04x", c);
    }
    snprintf(want + off, sizeof(want) - off, "\"");
    assert_string_equal(text(f), want);
}

/* Well-formed UTF-8 of every length, at the edges of the ranges, passes through. */
static void test_json_valid_utf8(void **state)
{
    struct fixture *f = *state;
    static const char *const ok[] = {
        "\xc2\x80",         /* U+0080, the first 2-byte */
        "caf\xc3\xa9",      /* é */
        "\xdf\xbf",         /* U+07FF */
        "\xe0\xa0\x80",     /* U+0800, the first 3-byte */
        "\xe2\x82\xac",     /* € */
        "\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",     /* U+E000, just above them */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xf0\x90\x80\x80", /* U+10000, the first 4-byte */
        "\xf0\x9f\x98\x80", /* 😀 */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF, the last code point */
    };

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char want[32];
        evbuffer_drain(f->buf, evbuffer_get_length(f->buf));
        json_init(&f->j, f->buf);
        json_string(&f->j, ok[i]);
        snprintf(want, sizeof(want), "\"%s\"", ok[i]);
        assert_string_equal(text(f), want);
    }
}

/* Each byte outside a well-formed sequence becomes \ufffd, so the output stays JSON. */
static void test_json_invalid_utf8(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"\x80", "\"\\ufffd\""}, /* stray continuation */
        {"a\xbf"
         "b",
         "\"a\\ufffdb\""},                                        /* ... inside text */
        {"\xc3", "\"\\ufffd\""},                                  /* truncated at the end */
        {"\xc3(", "\"\\ufffd(\""},                                /* lead, then no continuation */
        {"\xe2\x82", "\"\\ufffd\\ufffd\""},                       /* 3-byte, one short */
        {"\xf0\x9f\x98", "\"\\ufffd\\ufffd\\ufffd\""},            /* 4-byte, one short */
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},                       /* overlong '/' */
        {"\xc1\xbf", "\"\\ufffd\\ufffd\""},                       /* overlong */
        {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},            /* overlong 3-byte */
        {"\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* overlong 4-byte */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},            /* surrogate U+D800 */
        {"\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\""},            /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* U+110000 */
        {"\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* lead F5 */
        {"\xfe\xff", "\"\\ufffd\\ufffd\""},
        {"ok\xff\xe2\x82\xac\x01", "\"ok\\ufffd\xe2\x82\xac\\u0001\""}, /* mixed */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        evbuffer_drain(f->buf, evbuffer_get_length(f->buf));
        json_init(&f->j, f->buf);
        json_string(&f->j, cases[i].in);
        if (strcmp(text(f), cases[i].want) != 0)
            fail_msg("case %zu: got %s, want %s", i, text(f), cases[i].want);
    }
    /* Keys are strings too. */
    evbuffer_drain(f->buf, evbuffer_get_length(f->buf));
    json_init(&f->j, f->buf);
    json_object_begin(&f->j);
    json_kv_str(&f->j, "k\xff", "v\xc3");
    json_object_end(&f->j);
    assert_string_equal(text(f), "{\"k\\ufffd\":\"v\\ufffd\"}\n");
}

static void test_json_escaping_keys(void **state)
{
    struct fixture *f = *state;

    json_object_begin(&f->j);
    json_key(&f->j, "a\"b\n");
    json_string(&f->j, "v");
    json_object_end(&f->j);
    assert_string_equal(text(f), "{\"a\\\"b\\n\":\"v\"}\n");
}

static void test_json_string_len(void **state)
{
    struct fixture *f = *state;

    json_array_begin(&f->j);
    json_string_len(&f->j, "a\0b", 3); /* an embedded NUL is escaped, not a terminator */
    json_string_len(&f->j, "abcdef", 2);
    json_string_len(&f->j, "ignored", 0);
    json_array_end(&f->j);
    assert_string_equal(text(f), "[\"a\\u0000b\",\"ab\",\"\"]\n");
}

static void test_json_null_string(void **state)
{
    struct fixture *f = *state;

    json_object_begin(&f->j);
    json_key(&f->j, "user");
    json_string(&f->j, NULL);
    json_key(&f->j, "group");
    json_string(&f->j, "g");
    json_object_end(&f->j);
    assert_string_equal(text(f), "{\"user\":null,\"group\":\"g\"}\n");
}

static void test_json_numbers(void **state)
{
    struct fixture *f = *state;

    json_array_begin(&f->j);
    json_int(&f->j, 0);
    json_int(&f->j, -1);
    json_int(&f->j, INT64_MIN);
    json_int(&f->j, INT64_MAX);
    json_uint(&f->j, UINT64_MAX);
    json_double(&f->j, 1.5);
    json_double(&f->j, 0.1);
    json_double(&f->j, -2.0);
    json_double(&f->j, 1e20);
    json_double(&f->j, NAN);
    json_double(&f->j, INFINITY);
    json_double(&f->j, -INFINITY);
    json_array_end(&f->j);
    /* JSON has no NaN or infinity: they are written as null. */
    assert_string_equal(text(f), "[0,-1,-9223372036854775808,9223372036854775807,"
                                 "18446744073709551615,1.5,0.1,-2,1e+20,null,null,null]\n");
}

static void test_json_init_resets(void **state)
{
    struct fixture *f = *state;

    json_object_begin(&f->j);
    json_key(&f->j, "half");
    /* A fresh writer on a fresh buffer starts clean. */
    evbuffer_drain(f->buf, evbuffer_get_length(f->buf));
    json_init(&f->j, f->buf);
    json_object_begin(&f->j);
    json_key(&f->j, "k");
    json_int(&f->j, 1);
    json_object_end(&f->j);
    assert_string_equal(text(f), "{\"k\":1}\n");
}

/* Each key-value helper writes exactly what json_key and its value writer do. */
static void test_json_kv_helpers(void **state)
{
    struct fixture *f = *state;
    const char *kv;

    json_object_begin(&f->j);
    json_kv_str(&f->j, "s", "x\"y");
    json_kv_str(&f->j, "none", NULL);
    json_kv_int(&f->j, "i", -42);
    json_kv_uint(&f->j, "u", UINT64_MAX);
    json_kv_double(&f->j, "d", 0.25);
    json_kv_double(&f->j, "nan", NAN);
    json_kv_bool(&f->j, "t", true);
    json_kv_bool(&f->j, "f", false);
    json_kv_null(&f->j, "n");
    json_kv_object(&f->j, "o");
    json_kv_uint(&f->j, "inner", 1);
    json_kv_array(&f->j, "a");
    json_uint(&f->j, 2);
    json_uint(&f->j, 3);
    json_array_end(&f->j);
    json_object_end(&f->j);
    json_kv_array(&f->j, "empty");
    json_array_end(&f->j);
    json_object_end(&f->j);
    assert_string_equal(text(f), "{\"s\":\"x\\\"y\",\"none\":null,\"i\":-42,"
                                 "\"u\":18446744073709551615,\"d\":0.25,\"nan\":null,"
                                 "\"t\":true,\"f\":false,\"n\":null,"
                                 "\"o\":{\"inner\":1,\"a\":[2,3]},\"empty\":[]}\n");
    kv = strdup(text(f));
    assert_non_null(kv);

    /* The same record written the long way is byte-identical. */
    evbuffer_drain(f->buf, evbuffer_get_length(f->buf));
    json_init(&f->j, f->buf);
    json_object_begin(&f->j);
    json_key(&f->j, "s");
    json_string(&f->j, "x\"y");
    json_key(&f->j, "none");
    json_string(&f->j, NULL);
    json_key(&f->j, "i");
    json_int(&f->j, -42);
    json_key(&f->j, "u");
    json_uint(&f->j, UINT64_MAX);
    json_key(&f->j, "d");
    json_double(&f->j, 0.25);
    json_key(&f->j, "nan");
    json_double(&f->j, NAN);
    json_key(&f->j, "t");
    json_bool(&f->j, true);
    json_key(&f->j, "f");
    json_bool(&f->j, false);
    json_key(&f->j, "n");
    json_null(&f->j);
    json_key(&f->j, "o");
    json_object_begin(&f->j);
    json_key(&f->j, "inner");
    json_uint(&f->j, 1);
    json_key(&f->j, "a");
    json_array_begin(&f->j);
    json_uint(&f->j, 2);
    json_uint(&f->j, 3);
    json_array_end(&f->j);
    json_object_end(&f->j);
    json_key(&f->j, "empty");
    json_array_begin(&f->j);
    json_array_end(&f->j);
    json_object_end(&f->j);
    assert_string_equal(text(f), kv);
    free((void *)kv);
}

/* --- table -------------------------------------------------------------- */

static void test_table_alignment(void **state)
{
    struct fixture *f = *state;
    static const char *const headers[] = {"POOL", "SLOT", "STATE"};
    struct table *t = table_new(3, headers);

    table_cell(t, "%s", "web");
    table_cell(t, "%d", 0);
    table_cell(t, "%s", "running");
    table_cell(t, "%s", "api-long");
    table_cell(t, "%u", 12u);
    table_cell(t, "%s", "stopped");
    assert_int_equal(table_rows(t), 2);
    table_render(t, f->buf);
    table_free(t);
    /* Columns are as wide as their widest cell plus two spaces; the last is not padded. */
    assert_string_equal(text(f), "POOL      SLOT  STATE\n"
                                 "web       0     running\n"
                                 "api-long  12    stopped\n");
}

static void test_table_header_only(void **state)
{
    struct fixture *f = *state;
    static const char *const headers[] = {"A", "BB"};
    struct table *t = table_new(2, headers);

    assert_int_equal(table_rows(t), 0);
    table_render(t, f->buf);
    table_free(t);
    assert_string_equal(text(f), "A  BB\n");
}

static void test_table_wide_header_and_empty_cells(void **state)
{
    struct fixture *f = *state;
    static const char *const headers[] = {"RESTARTS", "X", "LAST EXIT"};
    struct table *t = table_new(3, headers);

    table_cell(t, "%s", "");
    table_cell(t, "%d%%", 50);
    table_cell(t, "%s", "");
    table_cell(t, "%s", "1");
    table_cell(t, "%s", "-");
    table_cell(t, "%s", "killed by KILL");
    table_render(t, f->buf);
    table_free(t);
    assert_string_equal(text(f), "RESTARTS  X    LAST EXIT\n"
                                 "          50%\n"
                                 "1         -    killed by KILL\n");
}

/* A worker's STATUS= text reaches the INFO column: its escapes must not reach the terminal. */
static void test_table_control_characters(void **state)
{
    struct fixture *f = *state;
    static const char *const headers[] = {"POOL", "INFO"};
    struct table *t = table_new(2, headers);

    table_cell(t, "%s", "a\tb");
    table_cell(t, "%s", "\033[2J\033]0;title\007red\r\nnext\177 caf\xc3\xa9");
    table_render(t, f->buf);
    table_free(t);
    assert_string_equal(text(f), "POOL  INFO\n"
                                 "a?b   ?[2J?]0;title?red??next? caf\xc3\xa9\n");
}

/* C1 controls as UTF-8 (U+009B is CSI, U+009D OSC) become one '?'; U+00A0 and others stay. */
static void test_mask_c1_controls(void **state)
{
    char s[] = "a\xc2\x9b"
               "2Jb\xc2\x9d"
               "0;t\xc2\x9c"
               "c\xc2\x80\xc2\x9f\xc2\xa0\xc3\x80\xc2";
    char empty[] = "";

    (void)state;
    text_mask_controls(s);
    assert_string_equal(s, "a?2Jb?0;t?c??\xc2\xa0\xc3\x80\xc2");
    text_mask_controls(empty);
    assert_string_equal(empty, "");
    text_mask_controls(NULL);
}

static void test_table_single_column(void **state)
{
    struct fixture *f = *state;
    static const char *const headers[] = {"NAME"};
    struct table *t = table_new(1, headers);

    table_cell(t, "%s", "a");
    table_cell(t, "%s", "longer name");
    assert_int_equal(table_rows(t), 2);
    table_render(t, f->buf);
    table_free(t);
    assert_string_equal(text(f), "NAME\na\nlonger name\n");
}

static void test_table_many_rows(void **state)
{
    struct fixture *f = *state;
    static const char *const headers[] = {"N", "SQUARE"};
    struct table *t = table_new(2, headers);
    const char *out, *last;

    /* More cells than the first allocation holds. */
    for (int i = 0; i < 200; i++) {
        table_cell(t, "%d", i);
        table_cell(t, "%d", i * i);
    }
    assert_int_equal(table_rows(t), 200);
    table_render(t, f->buf);
    table_free(t);
    out = text(f);
    assert_true(strncmp(out, "N    SQUARE\n0    0\n1    1\n", 26) == 0);
    last = strstr(out, "199  39601\n");
    assert_non_null(last);
    assert_string_equal(last, "199  39601\n");
}

static void test_table_incomplete_row(void **state)
{
    struct fixture *f = *state;
    static const char *const headers[] = {"A", "B"};
    struct table *t = table_new(2, headers);

    table_cell(t, "%s", "1");
    table_cell(t, "%s", "2");
    table_cell(t, "%s", "dangling");
    /* Only complete rows count and are drawn. */
    assert_int_equal(table_rows(t), 1);
    table_render(t, f->buf);
    table_free(t);
    assert_string_equal(text(f), "A  B\n1  2\n");
    table_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_flat_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_array_of_arrays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_max_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_every_control_character, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_valid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_escaping_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_string_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_null_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_init_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_kv_helpers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_alignment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_header_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_wide_header_and_empty_cells, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_control_characters, setup, teardown),
        cmocka_unit_test(test_mask_c1_controls),
        cmocka_unit_test_setup_teardown(test_table_single_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_many_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_incomplete_row, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
