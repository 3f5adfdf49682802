/* SPDX-License-Identifier: ISC */
/*
 * Loading configuration files. The file is read into memory and handed to
 * inih one line at a time by our own reader, which counts lines, checks the
 * ini syntax, and tracks [sections]; inih splits "key = value" and strips
 * comments. Every problem is collected as FILE:LINE: message so that all of
 * them are reported at once, and nothing is half-applied.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "keys.h"
#include "parse.h"
#include "tls.h"
#include "xmalloc.h"

#define CONFIG_MAX_FILE (1024 * 1024)
#define CONFIG_MAX_LINE 4096
#define POOL_NAME_MAX   64

enum section_kind { SEC_NONE, SEC_DAEMON, SEC_POOL, SEC_BAD };

struct loader {
    struct config *cfg;
    const struct config_env *env;
    struct config_errors *errs;

    /* The file being read. */
    const char *file; /* owned by cfg->files */
    char *base_dir;
    bool is_main;
    const char *text;
    size_t len, pos;
    unsigned line;
    bool line_bad; /* the reader replaced this line; skip what inih reports */

    /* The section the current line belongs to. */
    enum section_kind kind;
    struct pool_config *pool;
    struct key_origin daemon_section;
};

void config_errors_add(struct config_errors *errs, const char *file, unsigned line, const char *fmt,
                       ...)
{
    va_list ap;
    struct config_error *e;

    if (errs->n == errs->cap) {
        errs->cap = errs->cap ? errs->cap * 2 : 8;
        errs->v = xreallocarray(errs->v, errs->cap, sizeof(*errs->v));
    }
    e = &errs->v[errs->n++];
    e->file = file != NULL ? xstrdup(file) : NULL;
    e->line = line;
    va_start(ap, fmt);
    xvasprintf(&e->message, fmt, ap);
    va_end(ap);
}

void config_errors_clear(struct config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++) {
        free(errs->v[i].file);
        free(errs->v[i].message);
    }
    free(errs->v);
    *errs = (struct config_errors){0};
}

char *config_errors_format(const struct config_errors *errs)
{
    char *out = xstrdup(""), *next;

    for (size_t i = 0; i < errs->n; i++) {
        const struct config_error *e = &errs->v[i];
        if (e->file != NULL && e->line > 0)
            xasprintf(&next, "%s%s:%u: %s\n", out, e->file, e->line, e->message);
        else if (e->file != NULL)
            xasprintf(&next, "%s%s: %s\n", out, e->file, e->message);
        else
            xasprintf(&next, "%s%s\n", out, e->message);
        free(out);
        out = next;
    }
    return out;
}

void config_env_default(struct config_env *env)
{
    cpu_set_t set;
    long n;

    memset(env, 0, sizeof(*env));
    /*
     * Usable CPUs: the affinity mask, then the cgroup's cpuset and CPU quota,
     * which a container or a systemd CPUQuota= sets without touching the mask.
     */
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        env->ncpu = (unsigned)CPU_COUNT(&set);
    if (env->ncpu == 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        env->ncpu = n > 0 ? (unsigned)n : 1;
    }
    cpu_limit_read("", env->ncpu, &env->cpu);
    env->ncpu = env->cpu.ncpu;
    env->euid = geteuid();
    env->follow_include = true;
    env->check_paths = true;
}

void config_default_control_socket(char *buf, size_t bufsz)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");

    if (geteuid() == 0)
        snprintf(buf, bufsz, "/run/drover/drover.sock");
    else if (xdg != NULL && xdg[0] == '/')
        snprintf(buf, bufsz, "%s/drover.sock", xdg);
    else
        snprintf(buf, bufsz, "/tmp/drover-%u/drover.sock", (unsigned)geteuid());
}

void config_default_log_dir(char *buf, size_t bufsz)
{
    const char *state = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");

    if (geteuid() == 0)
        snprintf(buf, bufsz, "/var/log/drover");
    else if (state != NULL && state[0] == '/')
        snprintf(buf, bufsz, "%s/drover", state);
    else if (home != NULL && home[0] == '/')
        snprintf(buf, bufsz, "%s/.local/state/drover", home);
    else
        snprintf(buf, bufsz, "/tmp/drover-%u/log", (unsigned)geteuid());
}

static const char *config_add_file(struct config *cfg, const char *path)
{
    cfg->files = xreallocarray(cfg->files, cfg->nfiles + 1, sizeof(*cfg->files));
    cfg->files[cfg->nfiles] = xstrdup(path);
    return cfg->files[cfg->nfiles++];
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

static bool pool_name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > POOL_NAME_MAX || strcmp(name, "all") == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && strchr("_.-", name[i]) == NULL)
            return false;
    return name[0] != '.' && name[0] != '-';
}

static struct pool_config *pool_config_new(struct loader *ld, const char *name)
{
    struct pool_config *pc = xcalloc(1, sizeof(*pc));
    char err[PARSE_ERR_MAX];

    pc->name = xstrdup(name);
    pc->section.file = ld->file;
    pc->section.line = ld->line;
    if (keys_apply_defaults(KEY_POOL, pc, ld->env, err, sizeof(err)) != 0)
        config_errors_add(ld->errs, NULL, 0, "internal error: bad pool default: %s", err);
    return pc;
}

/* Is the part of name before ':' a near miss of "pool" ([pol:x], [Pool:x])? */
static bool near_pool_prefix(const char *name)
{
    const char *const candidates[] = {"pool", NULL};
    char prefix[16];
    size_t len = (size_t)(strchr(name, ':') - name);

    if (len == 0 || len >= sizeof(prefix))
        return false;
    memcpy(prefix, name, len);
    prefix[len] = '\0';
    return suggest_nearest(prefix, candidates) != NULL;
}

/* Open a [section]: decide what the following keys belong to. */
static void loader_open_section(struct loader *ld, const char *name)
{
    ld->pool = NULL;
    if (strcmp(name, "daemon") == 0) {
        if (!ld->is_main) {
            config_errors_add(ld->errs, ld->file, ld->line,
                              "[daemon] is only allowed in the main file, not in an include");
            ld->kind = SEC_BAD;
        } else if (ld->daemon_section.line != 0) {
            config_errors_add(ld->errs, ld->file, ld->line,
                              "duplicate [daemon] section (first at line %u)",
                              ld->daemon_section.line);
            ld->kind = SEC_DAEMON;
        } else {
            ld->daemon_section = (struct key_origin){.file = ld->file, .line = ld->line};
            ld->kind = SEC_DAEMON;
        }
        return;
    }
    if (strncmp(name, "pool:", 5) == 0) {
        const char *pname = name + 5;
        struct pool_config *other;

        if (!pool_name_valid(pname)) {
            config_errors_add(ld->errs, ld->file, ld->line,
                              "invalid pool name '%s' (1 to %d letters, digits, '_', '.', '-'; "
                              "not 'all')",
                              pname, POOL_NAME_MAX);
            ld->kind = SEC_BAD;
            return;
        }
        other = config_find_pool(ld->cfg, pname);
        if (other != NULL) {
            config_errors_add(ld->errs, ld->file, ld->line,
                              "duplicate pool '%s' (first defined at %s:%u)", pname,
                              other->section.file, other->section.line);
            ld->kind = SEC_BAD;
            return;
        }
        ld->pool = pool_config_new(ld, pname);
        TAILQ_INSERT_TAIL(&ld->cfg->pools, ld->pool, entry);
        ld->cfg->npools++;
        ld->kind = SEC_POOL;
        return;
    }
    ld->kind = SEC_BAD;
    if (strncmp(name, "program:", 8) == 0 || strncmp(name, "fcgi-program:", 13) == 0 ||
        strncmp(name, "watcher:", 8) == 0) {
        config_errors_add(ld->errs, ld->file, ld->line,
                          "unknown section [%s] (did you mean [pool:%s]?)", name,
                          strchr(name, ':') + 1);
    } else if (strcmp(name, "pool") == 0) {
        config_errors_add(ld->errs, ld->file, ld->line, "section [pool] needs a name: [pool:NAME]");
    } else if (strchr(name, ':') != NULL && near_pool_prefix(name)) {
        config_errors_add(ld->errs, ld->file, ld->line,
                          "unknown section [%s] (did you mean [pool:%s]?)", name,
                          strchr(name, ':') + 1);
    } else {
        const char *const known[] = {"daemon", NULL};
        const char *s = suggest_nearest(name, known);
        if (s != NULL)
            config_errors_add(ld->errs, ld->file, ld->line,
                              "unknown section [%s] (did you mean [%s]?)", name, s);
        else
            config_errors_add(ld->errs, ld->file, ld->line,
                              "unknown section [%s] (expected [daemon] or [pool:NAME])", name);
    }
}

/*
 * Check one whole line the way inih will read it. Returns 0 if inih may see
 * it; -1 if it is wrong (reported here, and hidden from inih).
 */
static int loader_scan_line(struct loader *ld, const char *start, size_t len)
{
    const char *p = start, *end = start + len;

    if (ld->line == 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if ((size_t)(end - p) > CONFIG_MAX_LINE) {
        config_errors_add(ld->errs, ld->file, ld->line, "line is longer than %d bytes",
                          CONFIG_MAX_LINE);
        return -1;
    }
    if (memchr(p, '\0', (size_t)(end - p)) != NULL) {
        config_errors_add(ld->errs, ld->file, ld->line, "line contains a NUL byte");
        return -1;
    }
    /* Lines end in LF or CRLF; a file saved with CR alone would read as one line. */
    if (memchr(p, '\r', (size_t)(end - p)) != NULL) {
        config_errors_add(ld->errs, ld->file, ld->line,
                          "carriage return (CR) inside a line: lines must end in LF or CRLF");
        return -1;
    }
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    if (p == end || *p == ';' || *p == '#')
        return 0;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        char name[CONFIG_MAX_LINE + 1];
        const char *a, *b;

        if (close == NULL) {
            config_errors_add(ld->errs, ld->file, ld->line,
                              "section header is missing its closing ']'");
            ld->kind = SEC_BAD;
            ld->pool = NULL;
            return -1;
        }
        /* After the ']' only a comment: "[pool:a] workers = 2" would lose the key. */
        for (a = close + 1; a < end && isspace((unsigned char)*a); a++)
            ;
        if (a < end && *a != ';' && *a != '#') {
            config_errors_add(
                ld->errs, ld->file, ld->line,
                "text after the section header's ']': '%.*s' (a key goes on a line of "
                "its own)",
                (int)(end - a), a);
            ld->kind = SEC_BAD;
            ld->pool = NULL;
            return -1;
        }
        a = p + 1;
        b = close;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        memcpy(name, a, (size_t)(b - a));
        name[b - a] = '\0';
        loader_open_section(ld, name);
        return 0;
    }
    if (memchr(p, '=', (size_t)(end - p)) == NULL && memchr(p, ':', (size_t)(end - p)) == NULL) {
        config_errors_add(ld->errs, ld->file, ld->line,
                          "expected 'key = value', a [section] or a comment");
        return -1;
    }
    if (*p == '=' || *p == ':') {
        config_errors_add(ld->errs, ld->file, ld->line, "missing key name before '%c'", *p);
        return -1;
    }
    return 0;
}

/* fgets-like reader for inih that hands out our buffer one line at a time. */
static char *loader_reader(char *buf, int num, void *stream)
{
    struct loader *ld = stream;
    const char *start, *nl;
    size_t linelen, n;

    if (ld->pos >= ld->len || num <= 1)
        return NULL;
    start = ld->text + ld->pos;
    nl = memchr(start, '\n', ld->len - ld->pos);
    linelen = nl != NULL ? (size_t)(nl - start) + 1 : ld->len - ld->pos;

    /* inih asks again for the rest of a long line; only a new line counts. */
    if (ld->pos == 0 || ld->text[ld->pos - 1] == '\n') {
        ld->line++;
        ld->line_bad = loader_scan_line(ld, start, linelen) != 0;
        if (ld->line_bad) {
            ld->pos += linelen;
            buf[0] = '\n';
            buf[1] = '\0';
            return buf;
        }
    }
    n = linelen < (size_t)num - 1 ? linelen : (size_t)num - 1;
    memcpy(buf, start, n);
    buf[n] = '\0';
    ld->pos += n;
    return buf;
}

static int loader_handler(void *user, const char *section, const char *name, const char *value)
{
    struct loader *ld = user;
    enum key_section ks;
    const struct key *k;
    struct key_origin *origin;
    void *base;
    char err[PARSE_ERR_MAX];
    struct key_ctx ctx = {.file = ld->file,
                          .base_dir = ld->base_dir,
                          .env = ld->env,
                          .err = err,
                          .errsz = sizeof(err)};

    (void)section;
    if (ld->line_bad)
        return 1;
    switch (ld->kind) {
    case SEC_BAD:
        return 1; /* the section was already reported */
    case SEC_NONE:
        config_errors_add(ld->errs, ld->file, ld->line,
                          "key '%s' is outside any section (put it under [daemon] or "
                          "[pool:NAME])",
                          name);
        return 1;
    case SEC_DAEMON:
        ks = KEY_DAEMON;
        base = &ld->cfg->daemon;
        origin = ld->cfg->daemon.origin;
        break;
    case SEC_POOL:
    default:
        ks = KEY_POOL;
        base = ld->pool;
        origin = ld->pool->origin;
        break;
    }

    k = key_find(ks, name);
    if (k == NULL) {
        const char *suggestion = key_suggest(ks, name);
        if (key_find(ks == KEY_POOL ? KEY_DAEMON : KEY_POOL, name) != NULL)
            config_errors_add(ld->errs, ld->file, ld->line, "key '%s' belongs in %s", name,
                              ks == KEY_POOL ? "[daemon]" : "a [pool:NAME] section");
        else if (suggestion != NULL)
            config_errors_add(ld->errs, ld->file, ld->line,
                              "unknown key '%s' in %s%s%s (did you mean '%s'?)", name,
                              ks == KEY_POOL ? "[pool:" : "[daemon",
                              ks == KEY_POOL ? ld->pool->name : "", "]", suggestion);
        else
            config_errors_add(ld->errs, ld->file, ld->line, "unknown key '%s' in %s%s%s", name,
                              ks == KEY_POOL ? "[pool:" : "[daemon",
                              ks == KEY_POOL ? ld->pool->name : "", "]");
        return 1;
    }
    origin = &origin[key_section_index(k)];
    if (origin->line != 0) {
        config_errors_add(ld->errs, ld->file, ld->line, "duplicate key '%s' (first set at line %u)",
                          name, origin->line);
        return 1;
    }
    /* Set even when the value is bad: the key was given (no "missing" error on top). */
    origin->file = ld->file;
    origin->line = ld->line;
    if (key_value_parse(k, &ctx, value, base) != 0) {
        origin->bad = true;
        config_errors_add(ld->errs, ld->file, ld->line, "%s: %s", name, err);
    }
    return 1;
}

static void ini_settings(void)
{
    /* Debian's inih exposes its compile-time switches as variables. */
    ini_allow_multiline = false;
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = CONFIG_MAX_LINE + 3;
    ini_stop_on_first_error = false;
}

static void loader_parse_text(struct loader *ld, const char *file, const char *text, size_t len,
                              bool is_main)
{
    int rc;

    ld->file = config_add_file(ld->cfg, file);
    free(ld->base_dir);
    ld->base_dir = dir_of(ld->file);
    ld->is_main = is_main;
    ld->text = text;
    ld->len = len;
    ld->pos = 0;
    ld->line = 0;
    ld->kind = SEC_NONE;
    ld->pool = NULL;
    size_t before = ld->errs->n;
    ini_settings();
    rc = ini_parse_stream(loader_reader, ld, loader_handler, ld);
    if (rc == -2)
        config_errors_add(ld->errs, ld->file, 0, "out of memory while parsing");
    else if (rc > 0 && ld->errs->n == before)
        config_errors_add(ld->errs, ld->file, (unsigned)rc, "syntax error");
}

/* What a path that is not a regular file is, for the error. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISLNK(mode))
        return "a symbolic link";
    return "a special file";
}

/* "drover.ini:3: include 'conf.d/x.ini' is a FIFO, not a regular file" */
static void not_regular(struct config_errors *errs, const char *path, const char *from_file,
                        unsigned from_line, mode_t mode)
{
    if (from_file != NULL)
        config_errors_add(errs, from_file, from_line, "include '%s' is %s, not a regular file",
                          path, file_kind(mode));
    else
        config_errors_add(errs, path, 0, "%s, not a regular file", file_kind(mode));
}

/*
 * Read a whole file (bounded); NULL with a reason in errs, reported at
 * from_file:from_line when the file was named there (an include), else at
 * the file itself. Only regular files are read: the open never blocks (a
 * FIFO would wait for a writer, a terminal or device for input), and what it
 * finds is checked before a byte is read.
 */
static char *read_file(const char *path, const char *from_file, unsigned from_line,
                       struct config_errors *errs, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    char *buf;
    size_t len = 0;

    if (fd < 0 && errno == ENXIO) {
        /* A FIFO or socket with no one at the other end: say what it is. */
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            not_regular(errs, path, from_file, from_line, st.st_mode);
            return NULL;
        }
    }
    if (fd < 0) {
        if (from_file != NULL)
            config_errors_add(errs, from_file, from_line, "include '%s': cannot open: %s", path,
                              strerror(errno));
        else
            config_errors_add(errs, path, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        not_regular(errs, path, from_file, from_line, st.st_mode);
        close(fd);
        return NULL;
    }
    if (st.st_size > CONFIG_MAX_FILE) {
        config_errors_add(errs, path, 0, "file is larger than %d bytes", CONFIG_MAX_FILE);
        close(fd);
        return NULL;
    }
    buf = xmalloc((size_t)st.st_size + 1);
    for (;;) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            config_errors_add(errs, path, 0, "cannot read: %s", strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (n == 0 || len + (size_t)n == (size_t)st.st_size) {
            len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

static void loader_parse_file(struct loader *ld, const char *path, const char *from_file,
                              unsigned from_line, bool is_main)
{
    size_t len;
    char *text = read_file(path, from_file, from_line, ld->errs, &len);

    if (text == NULL)
        return;
    loader_parse_text(ld, path, text, len, is_main);
    free(text);
}

/* The first directory glob() could not read (glob's error callback takes no context). */
static char include_unread_dir[PATH_MAX];
static int include_unread_errno;

static int include_glob_error(const char *path, int error)
{
    /* A directory that does not exist simply matches nothing, like an empty one. */
    if (error == ENOENT || error == ENOTDIR || include_unread_errno != 0)
        return 0;
    snprintf(include_unread_dir, sizeof(include_unread_dir), "%s", path);
    include_unread_errno = error;
    return 0;
}

static void loader_includes(struct loader *ld)
{
    char **patterns = ld->cfg->daemon.include;
    const struct key_origin *origin =
        &ld->cfg->daemon.origin[key_section_index(key_find(KEY_DAEMON, "include"))];

    for (size_t i = 0; patterns != NULL && patterns[i] != NULL; i++) {
        glob_t g;
        int rc;

        include_unread_errno = 0;
        rc = glob(patterns[i], 0, include_glob_error, &g);
        if (include_unread_errno != 0) {
            /* Unreadable is not empty: its pools would silently leave the config. */
            config_errors_add(ld->errs, origin->file, origin->line,
                              "include '%s': cannot read %s: %s", patterns[i], include_unread_dir,
                              strerror(include_unread_errno));
            if (rc == 0)
                globfree(&g);
            continue;
        }
        if (rc == GLOB_NOMATCH) {
            /* A name without a wildcard is one file, and a typo in it must not pass. */
            if (strpbrk(patterns[i], "*?[") == NULL)
                config_errors_add(ld->errs, origin->file, origin->line,
                                  "include '%s': no such file", patterns[i]);
            continue;
        }
        if (rc != 0) {
            config_errors_add(ld->errs, origin->file, origin->line, "include: cannot read '%s'",
                              patterns[i]);
            continue;
        }
        for (size_t j = 0; j < g.gl_pathc; j++) {
            if (strcmp(g.gl_pathv[j], ld->cfg->path) == 0)
                continue; /* a glob that also matches the main file */
            loader_parse_file(ld, g.gl_pathv[j], origin->file, origin->line, false);
        }
        globfree(&g);
    }
}

static const struct key_origin *pool_origin(const struct pool_config *pc, const char *key)
{
    const struct key_origin *o = &pc->origin[key_section_index(key_find(KEY_POOL, key))];
    return o->line != 0 ? o : &pc->section;
}

/* Was the key given with a good value? (A bad one was reported already; no follow-up errors.) */
static bool pool_key_set(const struct pool_config *pc, const char *key)
{
    const struct key_origin *o = &pc->origin[key_section_index(key_find(KEY_POOL, key))];
    return o->line != 0 && !o->bad;
}

/* Was the key given at all, good value or not? */
static bool pool_key_given(const struct pool_config *pc, const char *key)
{
    return pc->origin[key_section_index(key_find(KEY_POOL, key))].line != 0;
}

/* Find an executable the way execvp would, at load time so a typo is reported now. */
static char *find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    char *copy, *dir, *save = NULL, *candidate = NULL;

    if (path == NULL || *path == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    copy = xstrdup(path);
    for (dir = strtok_r(copy, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
        struct stat st;
        xasprintf(&candidate, "%s/%s", *dir ? dir : ".", name);
        if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0)
            break;
        free(candidate);
        candidate = NULL;
    }
    free(copy);
    return candidate;
}

/*
 * Split a command key's value and find its program: an absolute or relative
 * path must be executable now, a bare name must be found in PATH.
 */
static void resolve_command(struct loader *ld, const char *key, const char *command, char ***argv,
                            char **exec_path, const struct key_origin *o)
{
    char err[PARSE_ERR_MAX];

    if (argv_split(command, argv, err, sizeof(err)) != 0)
        return; /* already reported at the key's line */
    if (strchr((*argv)[0], '/') != NULL) {
        char *dir = dir_of(o->file);
        *exec_path = path_resolve(dir, (*argv)[0]);
        free(dir);
        struct stat st;
        /* A directory passes access(X_OK) (and root passes it for any directory): exec fails. */
        if (ld->env->check_paths && access(*exec_path, X_OK) != 0)
            config_errors_add(ld->errs, o->file, o->line, "%s: %s: %s", key, *exec_path,
                              strerror(errno));
        else if (ld->env->check_paths && stat(*exec_path, &st) == 0 && !S_ISREG(st.st_mode))
            config_errors_add(ld->errs, o->file, o->line, "%s: %s: not a regular file", key,
                              *exec_path);
    } else if (ld->env->check_paths) {
        *exec_path = find_in_path((*argv)[0]);
        if (*exec_path == NULL)
            config_errors_add(ld->errs, o->file, o->line, "%s: '%s' not found in PATH", key,
                              (*argv)[0]);
    } else {
        *exec_path = xstrdup((*argv)[0]);
    }
}

static void validate_command(struct loader *ld, struct pool_config *pc)
{
    if (pc->command == NULL) {
        if (!pool_key_given(pc, "command")) /* else its bad value was reported at its line */
            config_errors_add(ld->errs, pc->section.file, pc->section.line,
                              "pool '%s' has no command", pc->name);
    } else {
        resolve_command(ld, "command", pc->command, &pc->argv, &pc->exec_path,
                        pool_origin(pc, "command"));
    }
    if (pc->check_command != NULL)
        resolve_command(ld, "check_command", pc->check_command, &pc->check_argv,
                        &pc->check_exec_path, pool_origin(pc, "check_command"));
}

static void validate_credentials(struct loader *ld, struct pool_config *pc)
{
    const struct key_origin *uo = pool_origin(pc, "user"), *go = pool_origin(pc, "group");

    pc->uid = ld->env->euid;
    pc->gid = getegid();
    if (pc->user != NULL) {
        struct passwd *pw = getpwnam(pc->user);
        if (pw == NULL) {
            config_errors_add(ld->errs, uo->file, uo->line, "user: no such user '%s'", pc->user);
            return;
        }
        pc->uid = pw->pw_uid;
        pc->gid = pw->pw_gid;
        free(pc->home);
        pc->home = xstrdup(pw->pw_dir);
        pc->has_user = true;
        if (ld->env->euid != 0 && pw->pw_uid != ld->env->euid)
            config_errors_add(ld->errs, uo->file, uo->line,
                              "user = %s needs droverd to run as root (it runs as uid %u)",
                              pc->user, (unsigned)ld->env->euid);
    }
    if (pc->group != NULL) {
        struct group *gr = getgrnam(pc->group);
        if (gr == NULL) {
            config_errors_add(ld->errs, go->file, go->line, "group: no such group '%s'", pc->group);
            return;
        }
        pc->gid = gr->gr_gid;
        pc->has_user = true;
        if (ld->env->euid != 0 && gr->gr_gid != getegid())
            config_errors_add(ld->errs, go->file, go->line,
                              "group = %s needs droverd to run as root", pc->group);
    }
}

/* Keys that only mean something for a routed pool, and the modes they apply to. */
static const struct {
    const char *key;
    unsigned modes; /* bit per enum route_mode */
} routing_keys[] = {
    {"socket_mode", 7},
    {"socket_group", 7},
    {"mode", 7},
    {"framing", 1},
    {"work_fd", 1},
    {"max_queue", 1},
    {"request_timeout", 1},
    {"max_attempts", 1},
    {"max_requests", 3},
    {"worker_inflight", 3},
    {"max_frame", 1},
    {"frame_timeout", 1},
    {"tls_cert", 1},
    {"tls_key", 1},
    {"tls_client_ca", 1},
    {"tls_handshake_timeout", 1},
    {"insecure_tcp", 7},
};

/*
 * Access control of a tcp: listen (issue 15 item 9): TLS keys only on tcp:,
 * cert and key together, the files readable and matching (checked now, so
 * `drover check`, start and reload all refuse a broken set), and a
 * non-loopback address either speaks TLS or says insecure_tcp = yes.
 */
static void validate_tls(struct loader *ld, struct pool_config *pc)
{
    const char *const tls_keys[] = {"tls_cert", "tls_key", "tls_client_ca", "tls_handshake_timeout",
                                    "insecure_tcp"};
    bool tcp = pc->listen != NULL && strncmp(pc->listen, "tcp:", 4) == 0;
    const struct key_origin *o;

    if (pc->listen == NULL || (pc->mode != ROUTE_MESSAGE && pc->tls_cert != NULL)) {
        return; /* reported with routing_keys: TLS is for message mode */
    } else if (!tcp) {
        for (size_t i = 0; i < sizeof(tls_keys) / sizeof(tls_keys[0]); i++) {
            o = pool_origin(pc, tls_keys[i]);
            if (pool_key_set(pc, tls_keys[i]))
                config_errors_add(ld->errs, o->file, o->line,
                                  "%s applies only to a tcp: listen (a Unix socket is guarded by "
                                  "socket_mode and socket_group)",
                                  tls_keys[i]);
        }
        return;
    }
    if (pool_key_set(pc, "tls_cert") != pool_key_set(pc, "tls_key")) {
        const char *set = pool_key_set(pc, "tls_cert") ? "tls_cert" : "tls_key";
        o = pool_origin(pc, set);
        config_errors_add(ld->errs, o->file, o->line, "%s needs %s too", set,
                          set[4] == 'c' ? "tls_key" : "tls_cert");
        return;
    }
    if (pool_key_set(pc, "tls_client_ca") && !pool_key_set(pc, "tls_cert")) {
        o = pool_origin(pc, "tls_client_ca");
        config_errors_add(
            ld->errs, o->file, o->line,
            "tls_client_ca needs tls_cert and tls_key (the server's own certificate)");
        return;
    }
    if (pc->tls_cert != NULL && pc->insecure_tcp) {
        o = pool_origin(pc, "insecure_tcp");
        config_errors_add(ld->errs, o->file, o->line,
                          "insecure_tcp = yes contradicts tls_cert: the pool speaks TLS");
        return;
    }
    if (tcp && pc->tls_cert == NULL && !pc->insecure_tcp && !tls_listen_is_loopback(pc->listen)) {
        o = pool_origin(pc, "listen");
        config_errors_add(ld->errs, o->file, o->line,
                          "listen = %s is reachable from other hosts and anyone who connects may "
                          "send work: set tls_cert and tls_key (and tls_client_ca to admit only "
                          "certificate holders), or insecure_tcp = yes to accept that",
                          pc->listen);
        return;
    }
    if (pc->tls_cert != NULL && ld->env->check_paths) {
        char err[PARSE_ERR_MAX + 256];
        enum tls_file bad;
        SSL_CTX *ctx = tls_server_ctx_new(pc->tls_cert, pc->tls_key, pc->tls_client_ca, &bad, err,
                                          sizeof(err));
        if (ctx == NULL) {
            const char *key = bad == TLS_FILE_KEY  ? "tls_key"
                              : bad == TLS_FILE_CA ? "tls_client_ca"
                                                   : "tls_cert";
            o = pool_origin(pc, key);
            config_errors_add(ld->errs, o->file, o->line, "%s: %s", key, err);
        }
        SSL_CTX_free(ctx);
    }
}

static void validate_pool(struct loader *ld, struct pool_config *pc)
{
    validate_command(ld, pc);
    validate_credentials(ld, pc);
    pc->nworkers = workers_resolve(&pc->workers, ld->env->ncpu);
    /* Like every relative path in the file, relative arguments mean "next to this file". */
    if (pc->directory == NULL)
        pc->directory = dir_of(pc->section.file);

    if (pc->directory != NULL && ld->env->check_paths) {
        struct stat st;
        const struct key_origin *o = pool_origin(pc, "directory");
        if (stat(pc->directory, &st) != 0)
            config_errors_add(ld->errs, o->file, o->line, "directory: %s: %s", pc->directory,
                              strerror(errno));
        else if (!S_ISDIR(st.st_mode))
            config_errors_add(ld->errs, o->file, o->line, "directory: %s is not a directory",
                              pc->directory);
    }
    if (pc->restart_delay_max_us < pc->restart_delay_us) {
        /* Point at whichever of the two the file set. */
        const struct key_origin *o = pool_origin(
            pc, pool_key_set(pc, "restart_delay_max") ? "restart_delay_max" : "restart_delay");
        config_errors_add(ld->errs, o->file, o->line,
                          "restart_delay_max must not be shorter than restart_delay");
    }
    if (pc->watchdog_us != 0 && pc->ready != READY_NOTIFY) {
        const struct key_origin *o = pool_origin(pc, "watchdog");
        config_errors_add(ld->errs, o->file, o->line, "watchdog needs ready = notify");
    }
    if (pc->check_command == NULL) {
        const char *const check_keys[] = {"check_interval", "check_timeout", "check_failures"};
        for (size_t i = 0; i < sizeof(check_keys) / sizeof(check_keys[0]); i++) {
            const struct key_origin *o = pool_origin(pc, check_keys[i]);
            if (pool_key_set(pc, check_keys[i]))
                config_errors_add(ld->errs, o->file, o->line,
                                  "%s has no effect without check_command", check_keys[i]);
        }
    }
    pc->worker_inflight_auto = pc->mode == ROUTE_MESSAGE && !pool_key_set(pc, "worker_inflight");
    for (size_t i = 0; i < sizeof(routing_keys) / sizeof(routing_keys[0]); i++) {
        const char *key = routing_keys[i].key;
        const struct key_origin *o = pool_origin(pc, key);
        if (!pool_key_set(pc, key))
            continue;
        if (pc->listen == NULL)
            config_errors_add(ld->errs, o->file, o->line,
                              "%s has no effect without listen (the pool is not routed)", key);
        else if (!(routing_keys[i].modes & (1u << pc->mode)))
            config_errors_add(ld->errs, o->file, o->line, "%s does not apply to mode = %s", key,
                              route_mode_name(pc->mode));
    }
    if (pc->listen != NULL && strncmp(pc->listen, "tcp:", 4) == 0) {
        const char *const unix_only[] = {"socket_mode", "socket_group"};
        for (size_t i = 0; i < 2; i++) {
            const struct key_origin *o = pool_origin(pc, unix_only[i]);
            if (pool_key_set(pc, unix_only[i]))
                config_errors_add(ld->errs, o->file, o->line, "%s applies only to a Unix socket",
                                  unix_only[i]);
        }
    }
    validate_tls(ld, pc);
    if (pc->socket_group != NULL && pool_key_set(pc, "socket_group")) {
        struct group *gr = getgrnam(pc->socket_group);
        const struct key_origin *o = pool_origin(pc, "socket_group");
        if (gr == NULL)
            config_errors_add(ld->errs, o->file, o->line, "socket_group: no such group '%s'",
                              pc->socket_group);
        else
            pc->socket_gid = gr->gr_gid;
    }
    if (pc->listen != NULL && pc->mode == ROUTE_MESSAGE && pc->work_fd == WORK_FD_STDIO &&
        pc->framing != FRAMING_LINE) {
        const struct key_origin *o = pool_origin(pc, "work_fd");
        config_errors_add(ld->errs, o->file, o->line, "work_fd = stdio needs framing = line");
    }
}

/*
 * droverd replaces a stale socket where it binds, and nothing else: a listen
 * or control_socket naming a file, a directory or a link (a typo for a data
 * file, say) is refused at the key's line, not deleted at start.
 */
static void validate_socket_path(struct loader *ld, const struct key_origin *o, const char *key,
                                 const char *path)
{
    struct stat st;

    if (!ld->env->check_paths || strncmp(path, "tcp:", 4) == 0 || lstat(path, &st) != 0 ||
        S_ISSOCK(st.st_mode))
        return;
    config_errors_add(ld->errs, o->file, o->line,
                      "%s = %s is %s, not a socket (droverd replaces only a stale socket)", key,
                      path, file_kind(st.st_mode));
}

static void loader_finish(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    struct daemon_config *dc = &cfg->daemon;
    char buf[PATH_MAX];

    if (dc->control_socket == NULL) {
        config_default_control_socket(buf, sizeof(buf));
        dc->control_socket = xstrdup(buf);
    }
    if (dc->log_dir == NULL) {
        config_default_log_dir(buf, sizeof(buf));
        dc->log_dir = xstrdup(buf);
    }
    if (dc->control_group != NULL) {
        struct group *gr = getgrnam(dc->control_group);
        const struct key_origin *o =
            &dc->origin[key_section_index(key_find(KEY_DAEMON, "control_group"))];
        if (gr == NULL)
            config_errors_add(ld->errs, o->file, o->line, "control_group: no such group '%s'",
                              dc->control_group);
        else
            dc->control_gid = gr->gr_gid;
    }

    if (dc->cgroup != NULL && strcmp(dc->cgroup, "auto") != 0 && strcmp(dc->cgroup, "off") != 0 &&
        dc->cgroup[0] != '/') {
        const struct key_origin *o = &dc->origin[key_section_index(key_find(KEY_DAEMON, "cgroup"))];
        config_errors_add(ld->errs, o->file, o->line,
                          "cgroup: '%s' is not auto, off or an absolute path", dc->cgroup);
    } else if (dc->cgroup != NULL && dc->cgroup[0] == '/' && ld->env->check_paths) {
        /* What start-up would refuse, refused here, at the key's line. */
        const struct key_origin *o = &dc->origin[key_section_index(key_find(KEY_DAEMON, "cgroup"))];
        struct cg_facts f;
        struct cg_hierarchy self;
        char given[PATH_MAX], why[128];
        cg_gather_facts(dc->cgroup, &f, &self, given);
        if (cg_decide(&f, why, sizeof(why)) == CG_ERROR)
            config_errors_add(ld->errs, o->file, o->line, "cgroup = %s: %s", dc->cgroup, why);
    }

    validate_socket_path(ld, &dc->origin[key_section_index(key_find(KEY_DAEMON, "control_socket"))],
                         "control_socket", dc->control_socket);

    struct pool_config *pc, *other;
    TAILQ_FOREACH(pc, &cfg->pools, entry) {
        validate_pool(ld, pc);
        if (pc->listen == NULL)
            continue;
        const struct key_origin *o = pool_origin(pc, "listen");
        if (strcmp(pc->listen, dc->control_socket) == 0)
            config_errors_add(ld->errs, o->file, o->line, "listen is the control socket's path");
        validate_socket_path(ld, o, "listen", pc->listen);
        TAILQ_FOREACH(other, &cfg->pools, entry) {
            if (other == pc)
                break;
            if (other->listen != NULL && strcmp(other->listen, pc->listen) == 0)
                config_errors_add(ld->errs, o->file, o->line,
                                  "listen '%s' is already used by pool '%s'", pc->listen,
                                  other->name);
        }
    }
}

static struct config *config_new(const char *path, const struct config_env *env,
                                 struct config_errors *errs)
{
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    char err[PARSE_ERR_MAX];

    cfg->path = xstrdup(path);
    TAILQ_INIT(&cfg->pools);
    cfg->ncpu = env->ncpu;
    cfg->cpu = env->cpu;
    if (keys_apply_defaults(KEY_DAEMON, &cfg->daemon, env, err, sizeof(err)) != 0)
        config_errors_add(errs, NULL, 0, "internal error: bad daemon default: %s", err);
    return cfg;
}

/* Which of the files named so far a file is: its order of first appearance (NULL last). */
static size_t error_file_rank(const struct config_errors *errs, const char *file)
{
    size_t rank = 0;

    if (file == NULL)
        return SIZE_MAX;
    for (size_t i = 0; i < errs->n; i++) {
        const char *f = errs->v[i].file;
        if (f == NULL)
            continue;
        if (strcmp(f, file) == 0)
            return rank;
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = errs->v[k].file != NULL && strcmp(errs->v[k].file, f) == 0;
        rank += !seen;
    }
    return rank;
}

/*
 * Errors in the order a reader meets them: by file (the main file first,
 * then each include as it was found) and line. Checks that run after the
 * parse (a pool's keys together) found theirs out of order. Stable.
 */
static void config_errors_sort(struct config_errors *errs)
{
    size_t *rank = xcalloc(errs->n + 1, sizeof(*rank));

    for (size_t i = 0; i < errs->n; i++)
        rank[i] = error_file_rank(errs, errs->v[i].file);
    for (size_t i = 1; i < errs->n; i++) {
        struct config_error e = errs->v[i];
        size_t r = rank[i], k = i;
        while (k > 0 && (rank[k - 1] > r || (rank[k - 1] == r && errs->v[k - 1].line > e.line))) {
            errs->v[k] = errs->v[k - 1];
            rank[k] = rank[k - 1];
            k--;
        }
        errs->v[k] = e;
        rank[k] = r;
    }
    free(rank);
}

static struct config *config_load_common(struct loader *ld)
{
    loader_finish(ld);
    free(ld->base_dir);
    config_errors_sort(ld->errs);
    if (ld->errs->n > 0) {
        config_free(ld->cfg);
        return NULL;
    }
    return ld->cfg;
}

struct config *config_load(const char *path, const struct config_env *env,
                           struct config_errors *errs)
{
    char abs[PATH_MAX];
    struct loader ld = {.env = env, .errs = errs};

    /* Relative paths inside resolve against the file, so pin the file down first. */
    if (realpath(path, abs) == NULL) {
        config_errors_add(errs, path, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    ld.cfg = config_new(abs, env, errs);
    loader_parse_file(&ld, abs, NULL, 0, true);
    if (env->follow_include)
        loader_includes(&ld);
    return config_load_common(&ld);
}

struct config *config_load_string(const char *name, const char *text, const struct config_env *env,
                                  struct config_errors *errs)
{
    struct loader ld = {.env = env, .errs = errs};

    ld.cfg = config_new(name, env, errs);
    loader_parse_text(&ld, name, text, strlen(text), true);
    if (env->follow_include)
        loader_includes(&ld);
    return config_load_common(&ld);
}

struct pool_config *config_find_pool(const struct config *cfg, const char *name)
{
    struct pool_config *pc;

    TAILQ_FOREACH(pc, &cfg->pools, entry)
        if (strcmp(pc->name, name) == 0)
            return pc;
    return NULL;
}

void pool_config_free(struct pool_config *pc)
{
    if (pc == NULL)
        return;
    for (size_t i = 0; i < key_table_len; i++)
        if (key_table[i].section == KEY_POOL)
            key_value_free(&key_table[i], pc);
    free(pc->name);
    free_strv(pc->argv);
    free(pc->exec_path);
    free_strv(pc->check_argv);
    free(pc->check_exec_path);
    free(pc->home);
    free(pc);
}

void config_free(struct config *cfg)
{
    struct pool_config *pc;

    if (cfg == NULL)
        return;
    while ((pc = TAILQ_FIRST(&cfg->pools)) != NULL) {
        TAILQ_REMOVE(&cfg->pools, pc, entry);
        pool_config_free(pc);
    }
    for (size_t i = 0; i < key_table_len; i++)
        if (key_table[i].section == KEY_DAEMON)
            key_value_free(&key_table[i], &cfg->daemon);
    for (size_t i = 0; i < cfg->nfiles; i++)
        free(cfg->files[i]);
    free(cfg->files);
    free(cfg->path);
    free(cfg);
}

int config_check_limits(const struct config *cfg, const struct cg_probe *probe,
                        struct config_errors *errs)
{
    const struct pool_config *pc;
    char why[PARSE_ERR_MAX + 512];
    size_t before = errs->n;

    TAILQ_FOREACH(pc, &cfg->pools, entry) {
        for (int k = 0; k < CG_KEY__COUNT; k++) {
            const char *name = cg_limit_key_name((enum cg_limit_key)k);
            const struct key_origin *o = &pc->origin[key_section_index(key_find(KEY_POOL, name))];
            if (cg_limit_check(probe, &pc->limits, (enum cg_limit_key)k, why, sizeof(why)) != 0)
                config_errors_add(errs, o->file, o->line, "%s: %s", name, why);
        }
    }
    config_errors_sort(errs); /* the keys were visited in limit order, not line order */
    return errs->n > before ? -1 : 0;
}
