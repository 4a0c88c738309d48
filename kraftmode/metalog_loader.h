/* metalog_loader: turns committed metadata-log batches into image changes, as Kafka's MetadataLoader /
 * MetadataBatchLoader do: control batches are skipped (LeaderChange updates the known leader and epoch),
 * data records are applied to the image in offset order, and records between a BeginTransactionRecord and
 * its EndTransactionRecord are held back and applied together at the end (an AbortTransactionRecord drops
 * them). The caller owns the image and the delta; the loader only borrows them.
 *
 * A record the image refuses (md_image_apply's FERRY_ECORRUPT) is logged and counted, and loading goes on
 * (a broker keeps serving); a batch that cannot be decoded is an error. */
#ifndef FERRY_METALOG_LOADER_H
#define FERRY_METALOG_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/metadata/md_delta.h"
#include "broker/metadata/md_image.h"

struct metalog_loader {
    struct md_image *img;
    struct md_delta *delta; /* may be NULL */
    bool in_txn;
    int64_t txn_start;     /* offset of the open BeginTransactionRecord */
    uint8_t *txn_buf;      /* held records: [i64 offset][u32 len][value] ... */
    size_t txn_len, txn_cap;
    int64_t next_offset;   /* after the last batch seen */
    int32_t last_epoch;    /* partitionLeaderEpoch of the last batch, -1 before any */
    int32_t leader_id;     /* from the last LeaderChangeMessage, -1 if none */
    int64_t refused;       /* records the image refused */
    int64_t applied;       /* records applied */
};

void metalog_loader_init(struct metalog_loader *l, struct md_image *img, struct md_delta *delta);
void metalog_loader_free(struct metalog_loader *l);
/* Points the loader at another delta (e.g. one per published change). */
static inline void metalog_loader_set_delta(struct metalog_loader *l, struct md_delta *d) { l->delta = d; }

/* Validates, decodes and applies one whole batch. 0, FERRY_ENOMEM, or the decode error (FERRY_ECORRUPT,
 * FERRY_EPARSE, FERRY_EUNSUPPORTED) with a log line naming the offset. */
int metalog_loader_batch(struct metalog_loader *l, const uint8_t *batch, size_t len);
/* Same, as a metalog_scan / metalog_read_snapshot_file callback (arg = the loader). */
int metalog_loader_batch_cb(void *arg, const uint8_t *batch, size_t len);

/* Drops the records of an open transaction (the new leader aborts it). */
void metalog_loader_abort_txn(struct metalog_loader *l);

#endif
