/* SPDX-License-Identifier: ISC */
/*
 * A small JSON reader for what droverd writes (status --json): the whole
 * text into a tree, then look-ups by key. Numbers are doubles; strings are
 * unescaped to UTF-8 (\uXXXX included). Depth is bounded.
 */
#ifndef DROVER_CLI_JSON_H
#define DROVER_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
    enum jtype t;
    bool b;
    double n;
    char *s;         /* J_STR */
    size_t len;      /* J_ARR, J_OBJ: members */
    struct jv *kids; /* J_ARR, J_OBJ */
    char **keys;     /* J_OBJ */
};

/* Parse text; NULL if it is not one JSON value (trailing blanks allowed). */
struct jv *jv_parse(const char *text, size_t len);
void jv_free(struct jv *v);

/* A member of an object, or NULL (also when v is NULL or no object). */
const struct jv *jv_get(const struct jv *v, const char *key);
/* Its number, or def when absent or not a number. */
double jv_num(const struct jv *v, const char *key, double def);
/* Its string, or def when absent or not a string. */
const char *jv_str(const struct jv *v, const char *key, const char *def);

#endif
