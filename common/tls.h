/* SPDX-License-Identifier: ISC */
/*
 * TLS setup shared by droverd (a tcp: pool's server side), `drover check`
 * (the files are checked at load) and `drover call` (the client side):
 * OpenSSL contexts built from PEM files, with the file at fault named.
 * No crypto here: OpenSSL does all of it.
 */
#ifndef DROVER_TLS_H
#define DROVER_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

/* The file a TLS setup failed on, so a config error can point at its key's line. */
enum tls_file { TLS_FILE_NONE, TLS_FILE_CERT, TLS_FILE_KEY, TLS_FILE_CA };

/*
 * listen = tcp:ADDR:PORT with ADDR a loopback address (127.0.0.0/8, ::1,
 * ::ffff:127.x.x.x): only this host can connect. False for anything else,
 * Unix paths included.
 */
bool tls_listen_is_loopback(const char *listen);

/*
 * A server context from PEM files: cert (the chain), key (must match it),
 * client_ca (NULL: no client certificate asked; else one signed by it is
 * required). NULL with the file at fault in *bad and a reason in err.
 */
SSL_CTX *tls_server_ctx_new(const char *cert, const char *key, const char *client_ca,
                            enum tls_file *bad, char *err, size_t errsz);
/*
 * A client context: ca verifies the server (NULL: the system's default CA
 * store); cert and key (both or neither) are presented to a pool with
 * tls_client_ca.
 */
SSL_CTX *tls_client_ctx_new(const char *ca, const char *cert, const char *key, enum tls_file *bad,
                            char *err, size_t errsz);
/* OpenSSL's last error as text (the error queue is emptied). */
const char *tls_error_string(char *buf, size_t bufsz);

#endif
