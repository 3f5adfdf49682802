/* SPDX-License-Identifier: ISC */
/*
 * Output for people and for scripts: an aligned text table, and a small
 * streaming JSON writer. Both append to a libevent evbuffer.
 */
#ifndef DROVER_OUT_H
#define DROVER_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/*
 * A table is filled cell by cell, row by row, and rendered once. Control characters in a
 * cell (ESC, CR, newline, tab, DEL) are printed as '?'.
 */
struct table;
struct table *table_new(size_t ncols, const char *const headers[]);
void table_cell(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void table_render(const struct table *t, struct evbuffer *out);
/* Rows without trailing blanks, each cut to width columns ("..." at the cut); 0 = no limit. */
void table_render_width(const struct table *t, struct evbuffer *out, size_t width);
/* One line of text (no newline needed) the same way: trailing blanks gone, cut to width. */
void text_line_width(struct evbuffer *out, const char *text, size_t width);
size_t table_rows(const struct table *t);
void table_free(struct table *t);
/* Control characters in s (C0, DEL, and C1 as UTF-8: terminal escapes, CR) become '?', in
 * place: text a worker wrote, shown on an operator's terminal. */
void text_mask_controls(char *s);

/*
 * JSON: keys and values in order; commas and escaping are handled here. The
 * output is always valid JSON (RFC 8259) in UTF-8, whatever bytes a string
 * holds: control characters and DEL are escaped as \uXXXX, and each byte that
 * is not part of a well-formed UTF-8 sequence (a stray continuation byte, a
 * truncated sequence, an overlong form, a surrogate, past U+10FFFF) is
 * replaced by the escape \ufffd (U+FFFD REPLACEMENT CHARACTER), one per byte.
 * Valid UTF-8 passes through unchanged.
 */
#define JSON_MAX_DEPTH 16
struct json {
    struct evbuffer *out;
    int depth;
    bool first[JSON_MAX_DEPTH];
    bool after_key;
};
void json_init(struct json *j, struct evbuffer *out);
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s); /* NULL writes null */
void json_string_len(struct json *j, const char *s, size_t len);
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_double(struct json *j, double v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* One member of an object, key and value in one call. */
void json_kv_str(struct json *j, const char *key, const char *v); /* NULL writes null */
void json_kv_int(struct json *j, const char *key, int64_t v);
void json_kv_uint(struct json *j, const char *key, uint64_t v);
void json_kv_double(struct json *j, const char *key, double v);
void json_kv_bool(struct json *j, const char *key, bool v);
void json_kv_null(struct json *j, const char *key);
/* A member whose value is an object or an array: close it with json_*_end. */
void json_kv_object(struct json *j, const char *key);
void json_kv_array(struct json *j, const char *key);

#endif
