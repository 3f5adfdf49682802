/* SPDX-License-Identifier: ISC */
/*
 * Allocation wrappers: out of memory is the one condition that aborts the
 * program (through fatal), so callers never check for NULL.
 */
#ifndef DROVER_XMALLOC_H
#define DROVER_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
int xasprintf(char **ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int xvasprintf(char **ret, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Free a NULL-terminated array of strings and the array itself. */
void free_strv(char **v);
/* Deep copy of a NULL-terminated array of strings (NULL gives NULL). */
char **xstrvdup(char *const *v);
size_t strv_len(char *const *v);

#endif
