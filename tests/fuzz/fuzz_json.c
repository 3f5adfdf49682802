/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for the JSON writer of common/out.c. Input: a selector byte,
 * then bytes written as a key and as a string value (the key is the first
 * (selector % 16) bytes). Checks, with a decoder written independently of
 * out.c's: the output is valid JSON as a strict parser sees it (only
 * well-formed UTF-8 without surrogates or overlongs, no raw control
 * character, only JSON's escapes); and a value that was valid UTF-8 decodes
 * back to exactly its bytes, so escaping loses nothing it need not.
 */
#include <event2/buffer.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "out.h"

/* Code point of the UTF-8 sequence at s, its length in *len; -1 if not well-formed. */
static long utf8_decode(const uint8_t *s, size_t n, size_t *len)
{
    long cp;
    size_t need;

    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if ((s[0] & 0xe0) == 0xc0) {
        need = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        need = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        need = 4;
        cp = s[0] & 0x07;
    } else {
        return -1;
    }
    if (n < need)
        return -1;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000))
        return -1; /* overlong */
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = need;
    return cp;
}

static bool all_utf8(const uint8_t *s, size_t n)
{
    size_t len;

    for (size_t i = 0; i < n; i += len)
        if (utf8_decode(s + i, n - i, &len) < 0)
            return false;
    return true;
}

static int hex(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Read the JSON string at out[*pos] (which must be '"'), checking every byte;
 * the decoded text goes to dec (UTF-8 for \u escapes). Returns its length.
 */
static size_t read_string(const uint8_t *out, size_t n, size_t *pos, uint8_t *dec)
{
    size_t i = *pos, d = 0, len;

    FUZZ_CHECK(i < n && out[i] == '"');
    i++;
    for (;;) {
        FUZZ_CHECK(i < n);
        if (out[i] == '"')
            break;
        FUZZ_CHECK(out[i] >= 0x20); /* JSON forbids raw control characters */
        if (out[i] == '\\') {
            FUZZ_CHECK(i + 1 < n);
            switch (out[i + 1]) {
            case '"':
            case '\\':
            case '/':
                dec[d++] = out[i + 1];
                i += 2;
                continue;
            case 'n':
                dec[d++] = '\n';
                i += 2;
                continue;
            case 'r':
                dec[d++] = '\r';
                i += 2;
                continue;
            case 't':
                dec[d++] = '\t';
                i += 2;
                continue;
            case 'b':
                dec[d++] = '\b';
                i += 2;
                continue;
            case 'f':
                dec[d++] = '\f';
                i += 2;
                continue;
            case 'u': {
                long cp = 0;
                FUZZ_CHECK(i + 5 < n);
                for (int k = 2; k < 6; k++) {
                    FUZZ_CHECK(hex(out[i + k]) >= 0);
                    cp = cp << 4 | hex(out[i + k]);
                }
                FUZZ_CHECK(cp < 0xd800 || cp > 0xdfff); /* we never write surrogate escapes */
                if (cp < 0x80) {
                    dec[d++] = (uint8_t)cp;
                } else if (cp < 0x800) {
                    dec[d++] = (uint8_t)(0xc0 | cp >> 6);
                    dec[d++] = (uint8_t)(0x80 | (cp & 0x3f));
                } else {
                    dec[d++] = (uint8_t)(0xe0 | cp >> 12);
                    dec[d++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
                    dec[d++] = (uint8_t)(0x80 | (cp & 0x3f));
                }
                i += 6;
                continue;
            }
            default:
                FUZZ_CHECK(!"an escape JSON does not have");
            }
        }
        FUZZ_CHECK(utf8_decode(out + i, n - i, &len) >= 0);
        memcpy(dec + d, out + i, len);
        d += len;
        i += len;
    }
    *pos = i + 1;
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evbuffer *buf;
    struct json j;
    size_t klen, vlen, n, pos = 0, d;
    const uint8_t *out;
    uint8_t *dec;

    if (size == 0)
        return 0;
    klen = data[0] % 16;
    data++;
    size--;
    if (klen > size)
        klen = size;
    vlen = size - klen;

    buf = evbuffer_new();
    json_init(&j, buf);
    json_object_begin(&j);
    /* json_kv_str takes a C string: the key stops at its first NUL, as a caller's would. */
    {
        char *key = strndup((const char *)data, klen);
        json_key(&j, key);
        free(key);
    }
    json_string_len(&j, (const char *)data + klen, vlen);
    json_object_end(&j);

    n = evbuffer_get_length(buf);
    out = evbuffer_pullup(buf, -1);
    /* Each input byte becomes at most 6 output bytes (\u00XX, \ufffd). */
    dec = malloc(6 * size + 16);
    FUZZ_CHECK(dec != NULL);
    FUZZ_CHECK(n >= 5 && out[0] == '{' && out[n - 2] == '}' && out[n - 1] == '\n');
    pos = 1;
    (void)read_string(out, n, &pos, dec);
    FUZZ_CHECK(out[pos] == ':');
    pos++;
    d = read_string(out, n, &pos, dec);
    FUZZ_CHECK(pos == n - 2);
    if (all_utf8(data + klen, vlen))
        FUZZ_CHECK(d == vlen && memcmp(dec, data + klen, vlen) == 0);
    free(dec);
    evbuffer_free(buf);
    return 0;
}
