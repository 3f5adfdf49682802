/* SPDX-License-Identifier: ISC */
#include "xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void *xmalloc(size_t size)
{
    void *p = malloc(size == 0 ? 1 : size);
    if (p == NULL)
        fatal("xmalloc: allocating %zu bytes", size);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);
    if (p == NULL)
        fatal("xcalloc: allocating %zu * %zu bytes", nmemb, size);
    return p;
}

void *xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        fatalx("xreallocarray: %zu * %zu overflows", nmemb, size);
    void *p = realloc(ptr, nmemb * size == 0 ? 1 : nmemb * size);
    if (p == NULL)
        fatal("xreallocarray: allocating %zu * %zu bytes", nmemb, size);
    return p;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        fatal("xstrdup");
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        fatal("xstrndup");
    return p;
}

int xvasprintf(char **ret, const char *fmt, va_list ap)
{
    int n = vasprintf(ret, fmt, ap);
    if (n < 0)
        fatal("xvasprintf");
    return n;
}

int xasprintf(char **ret, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = xvasprintf(ret, fmt, ap);
    va_end(ap);
    return n;
}

void free_strv(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p != NULL; p++)
        free(*p);
    free(v);
}

size_t strv_len(char *const *v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

char **xstrvdup(char *const *v)
{
    if (v == NULL)
        return NULL;
    size_t n = strv_len(v);
    char **copy = xcalloc(n + 1, sizeof(*copy));
    for (size_t i = 0; i < n; i++)
        copy[i] = xstrdup(v[i]);
    return copy;
}
