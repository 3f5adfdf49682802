/* SPDX-License-Identifier: ISC */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define JV_MAX_DEPTH 32

struct reader {
    const char *p, *end;
};

static void skip_ws(struct reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static void put_utf8(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static int hex4(struct reader *r, uint32_t *out)
{
    uint32_t v = 0;

    if (r->end - r->p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = *r->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* At the opening quote; a string is never longer unescaped than escaped (4 bytes per \u pair). */
static char *parse_string(struct reader *r)
{
    const char *start = ++r->p;
    char *out;
    size_t n = 0;

    while (r->p < r->end && *r->p != '"')
        r->p += *r->p == '\\' && r->p + 1 < r->end ? 2 : 1;
    if (r->p >= r->end)
        return NULL;
    out = xmalloc((size_t)(r->p - start) + 1);
    r->p = start;
    while (*r->p != '"') {
        char c = *r->p++;
        uint32_t cp;
        if (c != '\\') {
            out[n++] = c;
            continue;
        }
        switch (c = *r->p++) {
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u':
            if (hex4(r, &cp) != 0)
                goto bad;
            if (cp >= 0xd800 && cp < 0xdc00 && r->end - r->p >= 6 && r->p[0] == '\\' &&
                r->p[1] == 'u') {
                uint32_t lo;
                r->p += 2;
                if (hex4(r, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                    goto bad;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd;
            }
            put_utf8(out, &n, cp);
            break;
        default:
            out[n++] = c; /* \" \\ \/ */
            break;
        }
    }
    r->p++;
    out[n] = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

static int parse_value(struct reader *r, struct jv *v, int depth);

static int parse_members(struct reader *r, struct jv *v, int depth, bool object)
{
    size_t cap = 0;
    char close = object ? '}' : ']';

    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        if (object) {
            skip_ws(r);
            if (r->p >= r->end || *r->p != '"' || (key = parse_string(r)) == NULL)
                return -1;
            skip_ws(r);
            if (r->p >= r->end || *r->p++ != ':') {
                free(key);
                return -1;
            }
        }
        if (v->len == cap) {
            cap = cap ? cap * 2 : 8;
            v->kids = xreallocarray(v->kids, cap, sizeof(*v->kids));
            if (object)
                v->keys = xreallocarray(v->keys, cap, sizeof(*v->keys));
        }
        memset(&v->kids[v->len], 0, sizeof(v->kids[0]));
        if (object)
            v->keys[v->len] = key;
        v->len++;
        if (parse_value(r, &v->kids[v->len - 1], depth + 1) != 0)
            return -1;
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == close) {
            r->p++;
            return 0;
        }
        return -1;
    }
}

static int parse_value(struct reader *r, struct jv *v, int depth)
{
    skip_ws(r);
    if (r->p >= r->end || depth > JV_MAX_DEPTH)
        return -1;
    switch (*r->p) {
    case '{':
        v->t = J_OBJ;
        return parse_members(r, v, depth, true);
    case '[':
        v->t = J_ARR;
        return parse_members(r, v, depth, false);
    case '"':
        v->t = J_STR;
        return (v->s = parse_string(r)) == NULL ? -1 : 0;
    case 't':
    case 'f':
    case 'n': {
        static const char *const words[] = {"true", "false", "null"};
        for (size_t i = 0; i < 3; i++) {
            size_t n = strlen(words[i]);
            if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i], n) == 0) {
                r->p += n;
                v->t = i == 2 ? J_NULL : J_BOOL;
                v->b = i == 0;
                return 0;
            }
        }
        return -1;
    }
    default: {
        char buf[64], *end;
        size_t n = 0;
        while (r->p + n < r->end && n < sizeof(buf) - 1 && strchr("+-0123456789.eE", r->p[n]))
            n++;
        if (n == 0)
            return -1;
        memcpy(buf, r->p, n);
        buf[n] = '\0';
        v->t = J_NUM;
        v->n = strtod(buf, &end);
        if (end != buf + n)
            return -1;
        r->p += n;
        return 0;
    }
    }
}

static void jv_clear(struct jv *v)
{
    for (size_t i = 0; i < v->len; i++) {
        jv_clear(&v->kids[i]);
        if (v->keys != NULL)
            free(v->keys[i]);
    }
    free(v->kids);
    free(v->keys);
    free(v->s);
}

struct jv *jv_parse(const char *text, size_t len)
{
    struct reader r = {text, text + len};
    struct jv *v = xcalloc(1, sizeof(*v));

    if (parse_value(&r, v, 0) != 0) {
        jv_free(v);
        return NULL;
    }
    skip_ws(&r);
    if (r.p != r.end) {
        jv_free(v);
        return NULL;
    }
    return v;
}

void jv_free(struct jv *v)
{
    if (v == NULL)
        return;
    jv_clear(v);
    free(v);
}

const struct jv *jv_get(const struct jv *v, const char *key)
{
    if (v == NULL || v->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < v->len; i++)
        if (strcmp(v->keys[i], key) == 0)
            return &v->kids[i];
    return NULL;
}

double jv_num(const struct jv *v, const char *key, double def)
{
    const struct jv *m = jv_get(v, key);

    return m != NULL && m->t == J_NUM ? m->n : def;
}

const char *jv_str(const struct jv *v, const char *key, const char *def)
{
    const struct jv *m = jv_get(v, key);

    return m != NULL && m->t == J_STR ? m->s : def;
}
