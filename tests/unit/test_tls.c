/* SPDX-License-Identifier: ISC */
/*
 * common/tls.c: which tcp: listen values count as loopback (the only ones
 * allowed without TLS or insecure_tcp = yes), and the file checks behind
 * tls_cert, tls_key and tls_client_ca naming the file at fault.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tls.h"

static void test_loopback(void **state)
{
    (void)state;
    assert_true(tls_listen_is_loopback("tcp:127.0.0.1:9000"));
    assert_true(tls_listen_is_loopback("tcp:127.1.2.3:1"));
    assert_true(tls_listen_is_loopback("tcp:[::1]:9000"));
    assert_true(tls_listen_is_loopback("tcp:[::ffff:127.0.0.1]:9000"));
    assert_false(tls_listen_is_loopback("tcp:0.0.0.0:9000"));
    assert_false(tls_listen_is_loopback("tcp:[::]:9000"));
    assert_false(tls_listen_is_loopback("tcp:10.0.0.1:9000"));
    assert_false(tls_listen_is_loopback("tcp:128.0.0.1:9000"));
    assert_false(tls_listen_is_loopback("tcp:[::ffff:10.0.0.1]:9000"));
    assert_false(tls_listen_is_loopback("tcp:[::2]:9000"));
    assert_false(tls_listen_is_loopback("tcp:localhost:9000")); /* not numeric: not trusted */
    assert_false(tls_listen_is_loopback("tcp:[::1:9000"));
    assert_false(tls_listen_is_loopback("tcp:127.0.0.1"));
    assert_false(tls_listen_is_loopback("/run/drover/127.0.0.1:9000"));
    assert_false(tls_listen_is_loopback(NULL));
}

static void test_files_named(void **state)
{
    char err[512];
    enum tls_file bad;

    (void)state;
    assert_null(tls_server_ctx_new("/nonexistent/cert.pem", "/nonexistent/key.pem", NULL, &bad, err,
                                   sizeof(err)));
    assert_int_equal(bad, TLS_FILE_CERT);
    assert_non_null(strstr(err, "/nonexistent/cert.pem: No such file or directory"));
    /* Not a regular file: refused before OpenSSL reads it (a FIFO would block). */
    assert_null(tls_server_ctx_new("/dev/null", "/dev/null", NULL, &bad, err, sizeof(err)));
    assert_int_equal(bad, TLS_FILE_CERT);
    assert_non_null(strstr(err, "/dev/null: not a regular file"));
    /* A file that is no certificate. */
    assert_null(tls_server_ctx_new(DROVER_TEST_DATA "/bad/tls.ini", "/nonexistent", NULL, &bad, err,
                                   sizeof(err)));
    assert_int_equal(bad, TLS_FILE_CERT);
    assert_non_null(strstr(err, "not a PEM certificate"));
    assert_null(tls_client_ctx_new("/nonexistent/ca.pem", NULL, NULL, &bad, err, sizeof(err)));
    assert_int_equal(bad, TLS_FILE_CA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_files_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
