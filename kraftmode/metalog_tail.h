/* metalog_tail: the newest batches of the metadata log, kept in memory as the log holds them on disk, so
 * that the hot path reads them without going back to the file: the committed batches the node applies to
 * its image right after they commit, and the Fetch answers that carry them to the other voters (the
 * followers ask for what the leader appended moments ago). Everything older, or whatever the tail does not
 * hold, is read from the log as before (metalog_scan_from, plog_read): the tail is only a copy.
 *
 * It holds consecutive whole batches [base, end), at most about `max_bytes` (the oldest half is dropped
 * when an append would pass it). The owner keeps it in step with the log: every append (with the offsets
 * the log gave the batches), every truncation, and a reset whenever the log restarts (snapshot install). An
 * append that does not continue at `end` restarts the tail at it. Pure memory, no I/O; one owner. */
#ifndef FERRY_METALOG_TAIL_H
#define FERRY_METALOG_TAIL_H

#include <stddef.h>
#include <stdint.h>

struct metalog_tail {
    uint8_t *buf;
    size_t len, cap, max_bytes;
    int64_t base, end; /* offsets of the first batch held and after the last one; equal when empty */
    /* one entry per batch held, in log order: where it starts in buf and its last offset */
    struct metalog_tail_batch {
        size_t pos;
        int64_t last;
    } *batches;
    size_t nbatches, batches_cap;
};

void metalog_tail_init(struct metalog_tail *t, size_t max_bytes);
void metalog_tail_free(struct metalog_tail *t);
/* Drops everything (the next append starts it again). */
void metalog_tail_reset(struct metalog_tail *t);
/* Keeps a copy of `len` bytes of whole batches, the first at offset `base`. Out of memory (or batches
 * larger than max_bytes) empties the tail: the readers fall back to the log. */
void metalog_tail_append(struct metalog_tail *t, const uint8_t *batches, size_t len, int64_t base);
/* The log was truncated to `offset` (everything at or above it removed). */
void metalog_tail_truncate(struct metalog_tail *t, int64_t offset);
/* The bytes from the batch holding `offset` to the tail's end, or NULL with *len = 0 when the tail does
 * not hold `offset` (below its base, at or past its end). Valid until the next change to the tail. */
void metalog_tail_from(const struct metalog_tail *t, int64_t offset, const uint8_t **p, size_t *len);
/* A Fetch answer's records as plog_read gives them: whole batches from the one holding `from`, only those
 * whose last offset is below `to`, at most max_bytes (the first batch whole in any case), copied into a
 * new buffer. 1 when the tail holds `from` (*buf may still be NULL with *len 0: nothing below `to`), 0
 * when it does not (read the log), FERRY_ENOMEM. */
int metalog_tail_read(const struct metalog_tail *t, int64_t from, int64_t to, size_t max_bytes, uint8_t **buf,
                      size_t *len);

#endif
