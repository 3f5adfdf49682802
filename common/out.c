/* SPDX-License-Identifier: ISC */
#include "out.h"

#include <event2/buffer.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

struct table {
    size_t ncols;
    char **cells; /* row-major, headers first */
    size_t ncells, cap;
};

struct table *table_new(size_t ncols, const char *const headers[])
{
    struct table *t = xcalloc(1, sizeof(*t));

    t->ncols = ncols;
    for (size_t i = 0; i < ncols; i++)
        table_cell(t, "%s", headers[i]);
    return t;
}

void text_mask_controls(char *s)
{
    char *w = s;

    if (s == NULL)
        return;
    for (const char *c = s; *c != '\0'; c++) {
        unsigned char b = (unsigned char)*c;

        if (b < 0x20 || b == 0x7f) {
            *w++ = '?';
        } else if (b == 0xc2 && (unsigned char)c[1] >= 0x80 && (unsigned char)c[1] <= 0x9f) {
            /* U+0080..U+009F, the C1 controls in UTF-8: U+009B is CSI to xterm and others. */
            *w++ = '?';
            c++;
        } else {
            *w++ = *c;
        }
    }
    *w = '\0';
}

void table_cell(struct table *t, const char *fmt, ...)
{
    va_list ap;

    if (t->ncells == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = xreallocarray(t->cells, t->cap, sizeof(*t->cells));
    }
    va_start(ap, fmt);
    xvasprintf(&t->cells[t->ncells], fmt, ap);
    va_end(ap);
    /* Cells can hold a worker's words (STATUS=): its terminal escapes stay off the operator's. */
    text_mask_controls(t->cells[t->ncells++]);
}

size_t table_rows(const struct table *t)
{
    return t->ncells / t->ncols - 1;
}

void table_render(const struct table *t, struct evbuffer *out)
{
    table_render_width(t, out, 0);
}

void text_line_width(struct evbuffer *out, const char *text, size_t width)
{
    size_t len = strlen(text);

    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\n'))
        len--;
    /* Cut at a character, not inside a UTF-8 sequence; columns are counted as bytes. */
    if (width > 3 && len > width) {
        len = width - 3;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--;
        evbuffer_add(out, text, len);
        evbuffer_add(out, "...\n", 4);
    } else {
        evbuffer_add(out, text, len);
        evbuffer_add(out, "\n", 1);
    }
}

void table_render_width(const struct table *t, struct evbuffer *out, size_t width)
{
    size_t *colw = xcalloc(t->ncols, sizeof(*colw));
    size_t nrows = t->ncells / t->ncols;
    struct evbuffer *line = evbuffer_new();

    for (size_t i = 0; i < nrows * t->ncols; i++) {
        size_t len = strlen(t->cells[i]);
        if (len > colw[i % t->ncols])
            colw[i % t->ncols] = len;
    }
    for (size_t r = 0; r < nrows; r++) {
        size_t len;
        char *text;

        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            if (c + 1 == t->ncols)
                evbuffer_add_printf(line, "%s", cell);
            else
                evbuffer_add_printf(line, "%-*s  ", (int)colw[c], cell);
        }
        len = evbuffer_get_length(line);
        text = xmalloc(len + 1);
        evbuffer_remove(line, text, len);
        text[len] = '\0';
        text_line_width(out, text, width);
        free(text);
    }
    evbuffer_free(line);
    free(colw);
}

void table_free(struct table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void json_init(struct json *j, struct evbuffer *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
    j->first[0] = true;
}

/* Separate this value from the previous one, unless it follows its key. */
static void json_value_prefix(struct json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        evbuffer_add(j->out, ",", 1);
    j->first[j->depth] = false;
}

static void json_open(struct json *j, char c)
{
    json_value_prefix(j);
    evbuffer_add(j->out, &c, 1);
    if (j->depth + 1 < JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

static void json_close(struct json *j, char c)
{
    if (j->depth > 0)
        j->depth--;
    evbuffer_add(j->out, &c, 1);
    if (j->depth == 0)
        evbuffer_add(j->out, "\n", 1);
}

void json_object_begin(struct json *j)
{
    json_open(j, '{');
}

void json_object_end(struct json *j)
{
    json_close(j, '}');
}

void json_array_begin(struct json *j)
{
    json_open(j, '[');
}

void json_array_end(struct json *j)
{
    json_close(j, ']');
}

/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629, table 3-7 of the
 * Unicode standard), or 0 if the byte at s does not start one.
 */
static size_t utf8_sequence_len(const unsigned char *s, size_t len)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0; /* a continuation byte, an overlong lead (C0, C1), or F5..FF */
    /* The second byte's range rules out overlongs, surrogates and > U+10FFFF. */
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/* Write s as a JSON string; runs of plain bytes go out in one piece. */
static void json_escape(struct json *j, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of the plain bytes not yet written */
    size_t i = 0;

    evbuffer_add(j->out, "\"", 1);
    while (i < len) {
        const char *esc = NULL;
        char hex[8];
        size_t n = utf8_sequence_len(u + i, len - i);

        if (n == 1) {
            switch (u[i]) {
            case '"':
                esc = "\\\"";
                break;
            case '\\':
                esc = "\\\\";
                break;
            case '\n':
                esc = "\\n";
                break;
            case '\r':
                esc = "\\r";
                break;
            case '\t':
                esc = "\\t";
                break;
            default:
                if (u[i] < 0x20 || u[i] == 0x7f) {
                    snprintf(hex, sizeof(hex), "\\u%04x", u[i]);
                    esc = hex;
                }
            }
        } else if (n == 0) {
            esc = "\\ufffd";
            n = 1;
        }
        if (esc != NULL) {
            evbuffer_add(j->out, s + run, i - run);
            evbuffer_add(j->out, esc, strlen(esc));
            run = i + n;
        }
        i += n;
    }
    evbuffer_add(j->out, s + run, len - run);
    evbuffer_add(j->out, "\"", 1);
}

void json_key(struct json *j, const char *key)
{
    json_value_prefix(j);
    json_escape(j, key, strlen(key));
    evbuffer_add(j->out, ":", 1);
    j->after_key = true;
}

void json_string_len(struct json *j, const char *s, size_t len)
{
    json_value_prefix(j);
    json_escape(j, s, len);
}

void json_string(struct json *j, const char *s)
{
    if (s == NULL) {
        json_null(j);
        return;
    }
    json_string_len(j, s, strlen(s));
}

void json_int(struct json *j, int64_t v)
{
    json_value_prefix(j);
    evbuffer_add_printf(j->out, "%lld", (long long)v);
}

void json_uint(struct json *j, uint64_t v)
{
    json_value_prefix(j);
    evbuffer_add_printf(j->out, "%llu", (unsigned long long)v);
}

void json_double(struct json *j, double v)
{
    json_value_prefix(j);
    if (!isfinite(v))
        evbuffer_add(j->out, "null", 4);
    else
        /* 15 significant digits: exact for Unix times with milliseconds, and no 0.1 noise. */
        evbuffer_add_printf(j->out, "%.15g", v);
}

void json_bool(struct json *j, bool v)
{
    json_value_prefix(j);
    evbuffer_add_printf(j->out, "%s", v ? "true" : "false");
}

void json_null(struct json *j)
{
    json_value_prefix(j);
    evbuffer_add(j->out, "null", 4);
}

void json_kv_str(struct json *j, const char *key, const char *v)
{
    json_key(j, key);
    json_string(j, v);
}

void json_kv_int(struct json *j, const char *key, int64_t v)
{
    json_key(j, key);
    json_int(j, v);
}

void json_kv_uint(struct json *j, const char *key, uint64_t v)
{
    json_key(j, key);
    json_uint(j, v);
}

void json_kv_double(struct json *j, const char *key, double v)
{
    json_key(j, key);
    json_double(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
    json_key(j, key);
    json_bool(j, v);
}

void json_kv_null(struct json *j, const char *key)
{
    json_key(j, key);
    json_null(j);
}

void json_kv_object(struct json *j, const char *key)
{
    json_key(j, key);
    json_object_begin(j);
}

void json_kv_array(struct json *j, const char *key)
{
    json_key(j, key);
    json_array_begin(j);
}
