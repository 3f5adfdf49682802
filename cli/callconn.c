/* SPDX-License-Identifier: ISC */
/* `drover call`'s connection, plain or TLS (see callconn.h). OpenSSL does the TLS. */
#include "callconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "parse.h"
#include "tls.h"

static SSL *conn_ssl;   /* NULL: plain */
static short conn_want; /* what the last TLS call waits for; 0: as asked */

/* tcp:HOST:PORT or tcp:[V6]:PORT into an address. */
static int tcp_address(const char *listen, struct sockaddr_storage *ss, socklen_t *len, char *host,
                       size_t hostsz)
{
    const char *s = listen + 4, *colon;
    size_t n;
    long port;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        n = (size_t)(close - s - 1);
        colon = close + 1;
        s++;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        n = (size_t)(colon - s);
    }
    if (n >= hostsz)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *len = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*sin6);
        return 0;
    }
    return -1;
}

static int connect_to(const char *listen, char *host, size_t hostsz, char *err, size_t errsz)
{
    struct sockaddr_storage ss;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    socklen_t len;
    int fd, one = 1;

    if (strncmp(listen, "tcp:", 4) == 0) {
        if (tcp_address(listen, &ss, &len, host, hostsz) != 0)
            return parse_error(err, errsz, "cannot parse the address %s", listen);
    } else {
        if (strlen(listen) >= sizeof(sun.sun_path))
            return parse_error(err, errsz, "cannot connect to %s: %s", listen,
                               strerror(ENAMETOOLONG));
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", listen);
        memcpy(&ss, &sun, sizeof(sun));
        len = sizeof(sun);
        host[0] = '\0';
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return parse_error(err, errsz, "cannot connect to %s: %s", listen, strerror(e));
    }
    if (ss.ss_family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* -1 with errno EAGAIN (and conn_want set) when OpenSSL waits for the socket. */
static int ssl_result(int n)
{
    switch (SSL_get_error(conn_ssl, n)) {
    case SSL_ERROR_WANT_READ:
        conn_want = POLLIN;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        conn_want = POLLOUT;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && errno == 0)
            return 0; /* the peer closed without close_notify */
        if (errno == 0)
            errno = EPROTO;
        return -1;
    default:
        errno = EPROTO;
        return -1;
    }
}

static int tls_start(int fd, const char *host, const struct callconn_tls *tls,
                     int (*wait)(int fd, short events), char *err, size_t errsz)
{
    enum tls_file bad;
    char ssl_err[256];
    SSL_CTX *ctx = tls_client_ctx_new(tls->ca, tls->cert, tls->key, &bad, err, errsz);

    if (ctx == NULL)
        return -1;
    conn_ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    if (conn_ssl == NULL)
        return parse_error(err, errsz, "TLS: %s", tls_error_string(ssl_err, sizeof(ssl_err)));
    if (tls->name != NULL) {
        SSL_set_tlsext_host_name(conn_ssl, tls->name);
        SSL_set1_host(conn_ssl, tls->name);
    } else if (host[0] != '\0') {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(conn_ssl), host);
    }
    SSL_set_fd(conn_ssl, fd);
    for (;;) {
        int n = SSL_connect(conn_ssl);
        if (n == 1)
            break;
        errno = 0;
        if (ssl_result(n) == 0 || errno != EAGAIN) {
            long v = SSL_get_verify_result(conn_ssl);
            if (v != X509_V_OK)
                return parse_error(err, errsz, "TLS: the server's certificate: %s",
                                   X509_verify_cert_error_string(v));
            return parse_error(err, errsz, "TLS handshake failed: %s",
                               ERR_peek_error() != 0
                                   ? tls_error_string(ssl_err, sizeof(ssl_err))
                                   : "the server closed the connection "
                                     "(a client certificate it does not accept?)");
        }
        if (wait(fd, callconn_events(POLLIN)) != 0)
            return parse_error(err, errsz, "TLS handshake: %s", strerror(errno));
    }
    return 0;
}

int callconn_open(const char *listen, const struct callconn_tls *tls,
                  int (*wait)(int fd, short events), char *err, size_t errsz)
{
    char host[INET6_ADDRSTRLEN + 1];
    int fd = connect_to(listen, host, sizeof(host), err, errsz);

    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (tls != NULL && strncmp(listen, "tcp:", 4) != 0) {
        close(fd);
        return parse_error(err, errsz, "TLS is for tcp: work sockets; %s is a Unix socket", listen);
    }
    if (tls != NULL && tls_start(fd, host, tls, wait, err, errsz) != 0) {
        callconn_close(fd);
        return -1;
    }
    return fd;
}

short callconn_events(short events)
{
    short want = conn_want;

    if (conn_ssl == NULL)
        return events;
    if (events == POLLIN && SSL_pending(conn_ssl) > 0)
        return 0;
    conn_want = 0;
    return want != 0 ? want : events;
}

ssize_t callconn_read(int fd, void *buf, size_t len)
{
    if (conn_ssl == NULL)
        return read(fd, buf, len);
    errno = 0;
    int n = SSL_read(conn_ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    return n > 0 ? n : ssl_result(n);
}

ssize_t callconn_write(int fd, const void *buf, size_t len)
{
    if (conn_ssl == NULL)
        return write(fd, buf, len);
    errno = 0;
    int n = SSL_write(conn_ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    return n > 0 ? n : ssl_result(n);
}

void callconn_close(int fd)
{
    if (conn_ssl != NULL) {
        SSL_free(conn_ssl);
        conn_ssl = NULL;
    }
    close(fd);
}
