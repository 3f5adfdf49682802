/* SPDX-License-Identifier: ISC */
/*
 * The scratch buffer link.c reads worker replies into (link.h:
 * scratch_read, scratch_read_after), sized here alone so that
 * tests/fuzz/fuzz_frame.c, which decodes the same way, uses the same bounds.
 */
#ifndef DROVER_SCRATCH_H
#define DROVER_SCRATCH_H

/*
 * Room for a batch of replies, sixteen of 4 KiB (the adaptive window's
 * most) with the start of the one before them. Only the pages a read fills
 * become resident.
 */
#define SCRATCH_SIZE (128 * 1024)
/* The most bytes of a partial frame moved in front of a read (scratch_read_after). */
#define SCRATCH_HELD_MAX (16 * 1024)

#endif
