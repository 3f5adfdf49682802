/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for the drover CLI's reader of droverd's answers: the input is
 * what comes back on the control socket (DATA, ERROR, EXIT messages, or
 * anything else), served from a memfd to read_reply() in cli/client.c; what
 * it captured is then decoded as `drover call` decodes droverd's answer
 * (proto_call_info_unpack() in common/proto.c).
 *
 * This file compiles cli/client.c itself, with its stderr sent to /dev/null
 * (ASan still reports on fd 2).
 */
#include <stdio.h>
#include <sys/mman.h>

#include "fuzz.h"

static FILE *fuzz_quiet_stderr;

#undef stderr
#define stderr fuzz_quiet_stderr
#include "client.c"
#undef stderr

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *capture = NULL;
    size_t capture_len = 0;
    int fd, status;

    if (fuzz_quiet_stderr == NULL)
        fuzz_quiet_stderr = fopen("/dev/null", "w");
    FUZZ_CHECK(fuzz_quiet_stderr != NULL);
    fd = memfd_create("drover-reply", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write_all(fd, data, size) == 0);
    FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);

    /* As `drover call` reads the daemon's answer: DATA is captured, not printed. */
    status = read_reply(fd, &capture, &capture_len, -1);
    FUZZ_CHECK(status >= 0 && status <= 255);
    FUZZ_CHECK(capture_len <= size);
    FUZZ_CHECK(capture == NULL || capture[capture_len] == '\0');
    if (status == DROVER_EXIT_OK) {
        struct proto_call_info ci;
        char err[PARSE_ERR_MAX];
        if (proto_call_info_unpack(capture, capture_len, &ci, err, sizeof(err)) == 0) {
            FUZZ_CHECK(ci.listen != NULL && ci.listen[0] != '\0');
            FUZZ_CHECK(strlen(ci.listen) <= capture_len);
            FUZZ_CHECK(ci.framing == FRAMING_LENGTH || ci.framing == FRAMING_LINE);
            proto_call_info_clear(&ci);
        }
    }
    free(capture);
    close(fd);
    return 0;
}
