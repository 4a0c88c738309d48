/* producer_state: the idempotent-producer state of one partition (Kafka 3.7's ProducerStateManager,
 * ProducerStateEntry and ProducerAppendInfo for non-transactional data batches), as a pure state machine:
 * no I/O, no clock (the caller passes the time).
 *
 * Per producer id: its epoch and the metadata of its last PROD_BATCHES_RETAINED (5) batches (first and last
 * sequence, last offset, offset delta, max timestamp). The produce path asks prod_state_check before an
 * append and calls prod_state_update after it; log recovery calls prod_state_update for every batch it
 * replays (no checks: the batches are already in the log).
 *
 * The rules (UnifiedLog.analyzeAndValidateProducerState + ProducerAppendInfo, origin CLIENT):
 *  - a batch equal (same epoch, first and last sequence) to one of the retained batches is a duplicate:
 *    PROD_DUPLICATE with that batch's first/last offset and timestamp; nothing is appended and the
 *    client gets success with the original offsets (checked before the epoch rule, as Kafka does);
 *  - epoch older than the producer's -> INVALID_PRODUCER_EPOCH (47);
 *  - a newer epoch must start at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER (45);
 *  - the same epoch must continue at last sequence + 1 (0 after INT32_MAX), else 45;
 *  - an unknown producer id (no state: new, expired, or its batches were deleted) is accepted at ANY
 *    sequence: Kafka 3.7 never answers UNKNOWN_PRODUCER_ID (59) to a produce (that rule was Kafka
 *    0.11-2.4's; KIP-360 removed it), because the producer's history may have been removed by retention.
 * A producer whose last batch timestamp is producer.id.expiration.ms or more before `now` is removed by
 * prod_state_expire.
 *
 * Ownership: the state owns its entries; one state per partition, owned by the partition (loop thread). */
#ifndef FERRY_PRODUCER_STATE_H
#define FERRY_PRODUCER_STATE_H

#include <stddef.h>
#include <stdint.h>

#define PROD_BATCHES_RETAINED 5
#define PROD_NO_EPOCH (-1)

struct prod_batch {
    int32_t first_seq;
    int32_t last_seq;
    int64_t last_offset;
    int32_t offset_delta; /* last_offset - first offset */
    int64_t timestamp;    /* the batch's max timestamp */
};

struct prod_entry {
    int64_t producer_id;
    int16_t epoch;
    int nbatches; /* oldest first */
    struct prod_batch batches[PROD_BATCHES_RETAINED];
    int64_t last_timestamp;
};

struct prod_state {
    struct prod_entry *entries; /* sorted by producer id */
    size_t n, cap;
};

/* What prod_state_check decided. */
struct prod_verdict {
    int16_t error;         /* 0, or KERR_INVALID_PRODUCER_EPOCH / KERR_OUT_OF_ORDER_SEQUENCE_NUMBER */
    int duplicate;         /* 1: answer success with the fields below, append nothing */
    int64_t dup_first_offset;
    int64_t dup_last_offset;
    int64_t dup_timestamp;
};

void prod_state_init(struct prod_state *s);
void prod_state_free(struct prod_state *s);
void prod_state_clear(struct prod_state *s);

/* The last sequence of a batch of `count` records starting at first_seq (wrapping past INT32_MAX to 0). */
int32_t prod_last_seq(int32_t first_seq, int32_t last_offset_delta);

/* Its inverse (Kafka's decrementSequence): the first sequence of a batch ending at last_seq. */
int32_t prod_first_seq(int32_t last_seq, int32_t last_offset_delta);

/* The entry of producer_id, or NULL. */
const struct prod_entry *prod_state_get(const struct prod_state *s, int64_t producer_id);

/* Checks a client's data batch (producer_id >= 0) before it is appended. */
struct prod_verdict prod_state_check(const struct prod_state *s, int64_t producer_id, int16_t epoch,
                                     int32_t first_seq, int32_t last_seq);

/* Checks every batch of a validated blob of v2 batches (a Produce partition's records) with producer
 * id >= 0, each against the state as the earlier batches of the blob would leave it. The first
 * duplicate or error decides (Kafka answers a request holding a duplicate batch as that duplicate). */
struct prod_verdict prod_state_check_records(const struct prod_state *s, const uint8_t *batches, size_t len);

/* Records an appended batch (first..last offset). A newer epoch forgets the older epoch's batches; the
 * oldest batch goes past PROD_BATCHES_RETAINED. Returns 0 or FERRY_ENOMEM. */
int prod_state_update(struct prod_state *s, int64_t producer_id, int16_t epoch, int32_t first_seq, int32_t last_seq,
                      int64_t first_offset, int64_t last_offset, int64_t max_timestamp);

/* Puts an entry as read from a snapshot (one batch: Kafka's snapshots keep only the last). */
int prod_state_put(struct prod_state *s, const struct prod_entry *e);

/* Removes producers idle for expiration_ms or more (now - last batch timestamp). Returns how many. */
size_t prod_state_expire(struct prod_state *s, int64_t now_ms, int64_t expiration_ms);

/* Forgets batches at or above `offset` (log truncation): entries whose batches all lie above go away. */
void prod_state_truncate_above(struct prod_state *s, int64_t offset);

#endif
