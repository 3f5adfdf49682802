/* SPDX-License-Identifier: ISC */
/* TLS contexts from PEM files (see tls.h). */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse.h"

bool tls_listen_is_loopback(const char *listen)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon;
    size_t n;
    struct in_addr a4;
    struct in6_addr a6;

    if (listen == NULL || strncmp(listen, "tcp:", 4) != 0)
        return false;
    listen += 4;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL)
            return false;
        n = (size_t)(close - listen - 1);
        if (n >= sizeof(host))
            return false;
        memcpy(host, listen + 1, n);
        host[n] = '\0';
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return false;
        if (IN6_IS_ADDR_LOOPBACK(&a6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    colon = strrchr(listen, ':');
    if (colon == NULL)
        return false;
    n = (size_t)(colon - listen);
    if (n >= sizeof(host))
        return false;
    memcpy(host, listen, n);
    host[n] = '\0';
    return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

const char *tls_error_string(char *buf, size_t bufsz)
{
    unsigned long e = ERR_get_error();

    if (e == 0)
        snprintf(buf, bufsz, "unknown TLS error");
    else
        ERR_error_string_n(e, buf, bufsz);
    ERR_clear_error();
    return buf;
}

/*
 * A readable regular file, opened without blocking (a FIFO named here must
 * not hang droverd or `drover check`), so OpenSSL is only given files it
 * can read at once.
 */
static int check_file(const char *path, char *err, size_t errsz)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return parse_error(err, errsz, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return parse_error(err, errsz, "%s: not a regular file", path);
    }
    close(fd);
    return 0;
}

static SSL_CTX *ctx_fail(SSL_CTX *ctx, enum tls_file *bad, enum tls_file which, char *err,
                         size_t errsz, const char *path, const char *what)
{
    char ssl_err[256];

    *bad = which;
    if (path != NULL)
        parse_error(err, errsz, "%s: %s (%s)", path, what,
                    tls_error_string(ssl_err, sizeof(ssl_err)));
    SSL_CTX_free(ctx);
    return NULL;
}

/* The certificate chain and its key into ctx (NULL cert: none). */
static SSL_CTX *ctx_load_pair(SSL_CTX *ctx, const char *cert, const char *key, enum tls_file *bad,
                              char *err, size_t errsz)
{
    if (cert == NULL)
        return ctx;
    if (check_file(cert, err, errsz) != 0)
        return ctx_fail(ctx, bad, TLS_FILE_CERT, err, errsz, NULL, NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return ctx_fail(ctx, bad, TLS_FILE_CERT, err, errsz, cert, "not a PEM certificate");
    if (check_file(key, err, errsz) != 0)
        return ctx_fail(ctx, bad, TLS_FILE_KEY, err, errsz, NULL, NULL);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return ctx_fail(ctx, bad, TLS_FILE_KEY, err, errsz, key,
                        ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
                            ? "does not match the certificate"
                            : "not a PEM private key");
    if (SSL_CTX_check_private_key(ctx) != 1)
        return ctx_fail(ctx, bad, TLS_FILE_KEY, err, errsz, key, "does not match the certificate");
    return ctx;
}

static SSL_CTX *ctx_load_ca(SSL_CTX *ctx, const char *ca, enum tls_file *bad, char *err,
                            size_t errsz)
{
    if (check_file(ca, err, errsz) != 0)
        return ctx_fail(ctx, bad, TLS_FILE_CA, err, errsz, NULL, NULL);
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        return ctx_fail(ctx, bad, TLS_FILE_CA, err, errsz, ca, "no PEM CA certificate in it");
    return ctx;
}

static SSL_CTX *ctx_new(const SSL_METHOD *method, enum tls_file *bad, char *err, size_t errsz)
{
    SSL_CTX *ctx = SSL_CTX_new(method);

    *bad = TLS_FILE_NONE;
    if (ctx == NULL) {
        char ssl_err[256];
        parse_error(err, errsz, "cannot set up TLS: %s",
                    tls_error_string(ssl_err, sizeof(ssl_err)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Idle connections give their read and write buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

SSL_CTX *tls_server_ctx_new(const char *cert, const char *key, const char *client_ca,
                            enum tls_file *bad, char *err, size_t errsz)
{
    SSL_CTX *ctx = ctx_new(TLS_server_method(), bad, err, errsz);

    if (ctx == NULL)
        return NULL;
    /* No session cache: nothing to bound, and a pool's clients reconnect rarely. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    if ((ctx = ctx_load_pair(ctx, cert, key, bad, err, errsz)) == NULL)
        return NULL;
    if (client_ca != NULL) {
        STACK_OF(X509_NAME) * names;
        if ((ctx = ctx_load_ca(ctx, client_ca, bad, err, errsz)) == NULL)
            return NULL;
        names = SSL_load_client_CA_file(client_ca);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    ERR_clear_error();
    return ctx;
}

SSL_CTX *tls_client_ctx_new(const char *ca, const char *cert, const char *key, enum tls_file *bad,
                            char *err, size_t errsz)
{
    SSL_CTX *ctx = ctx_new(TLS_client_method(), bad, err, errsz);

    if (ctx == NULL)
        return NULL;
    if (ca != NULL) {
        if ((ctx = ctx_load_ca(ctx, ca, bad, err, errsz)) == NULL)
            return NULL;
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        return ctx_fail(ctx, bad, TLS_FILE_CA, err, errsz, "the system CA store", "unusable");
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if ((ctx = ctx_load_pair(ctx, cert, key, bad, err, errsz)) == NULL)
        return NULL;
    ERR_clear_error();
    return ctx;
}
