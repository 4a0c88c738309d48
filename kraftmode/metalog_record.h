/* metalog_record: the framing of the KRaft metadata log (`__cluster_metadata`), as Kafka 3.7 writes it.
 *
 *  - A data batch is a record batch v2, uncompressed, partitionLeaderEpoch = the Raft epoch, producer
 *    fields -1. Each record has a null key, no headers, and a value
 *        uvarint frameVersion (1) | uvarint apiKey | uvarint version | message (flexible encoding).
 *    Frame version 0 (the 2.8 preview) and trailing bytes after the message are rejected.
 *  - A control batch (attributes bit 5) holds one record: key = i16 version 0 + i16 type
 *    (2 LEADER_CHANGE, 3 SNAPSHOT_HEADER, 4 SNAPSHOT_FOOTER), value = the v0 message with no frame.
 *
 * Pure functions: bytes in, structs out (and back). Decoded structs live in the caller's arena and point
 * into the batch bytes, which must outlive them. */
#ifndef FERRY_METALOG_RECORD_H
#define FERRY_METALOG_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_buf.h"
#include "proto_codec.h"
#include "record_batch.h"

#define METALOG_FRAME_VERSION 1
#define METALOG_MAX_RECORDS_PER_BATCH 10000 /* Kafka's MAX_RECORDS_PER_BATCH / per user operation */

enum metalog_control_type {
    METALOG_CTRL_ABORT = 0,
    METALOG_CTRL_COMMIT = 1,
    METALOG_CTRL_LEADER_CHANGE = 2,
    METALOG_CTRL_SNAPSHOT_HEADER = 3,
    METALOG_CTRL_SNAPSHOT_FOOTER = 4,
    METALOG_CTRL_KRAFT_VERSION = 5, /* 3.9+ */
    METALOG_CTRL_KRAFT_VOTERS = 6,  /* 3.9+ */
};

/* One metadata record to write: its message descriptor, the version to encode and the struct. */
struct metalog_rec {
    const struct proto_message *m;
    int16_t version;
    const void *data;
};

/* Appends one framed record value. 0, FERRY_EUNSUPPORTED (version outside m's range, m not a metadata
 * record) or FERRY_ENOMEM. */
int metalog_encode_value(struct proto_writer *w, const struct metalog_rec *rec);

/* Decodes one framed record value of exactly len bytes into a struct allocated in the arena.
 * Returns 0; FERRY_EUNSUPPORTED (frame version other than 1, unknown record type or version) or
 * FERRY_EPARSE (malformed, or trailing bytes); FERRY_ENOMEM. */
int metalog_decode_value(const uint8_t *p, size_t len, struct proto_arena *a, const struct proto_message **m,
                         int16_t *version, void **out);

/* Appends one data batch of n records (1 <= n <= METALOG_MAX_RECORDS_PER_BATCH) at base_offset with the
 * Raft epoch, every record stamped now_ms. 0, FERRY_EINVAL, FERRY_EUNSUPPORTED or FERRY_ENOMEM. */
int metalog_build_batch(struct proto_writer *w, int64_t base_offset, int32_t epoch, int64_t now_ms,
                        const struct metalog_rec *recs, size_t n);

/* Appends one control batch: type and message (LeaderChangeMessage, SnapshotHeaderRecord,
 * SnapshotFooterRecord), encoded at version 0 with no frame. */
int metalog_build_control_batch(struct proto_writer *w, int64_t base_offset, int32_t epoch, int64_t now_ms,
                                int16_t type, const struct proto_message *m, const void *msg);

/* One record decoded from a data batch. */
struct metalog_entry {
    int64_t offset;
    const struct proto_message *m;
    int16_t version;
    void *data;
};

/* One decoded batch. For a control batch `entries` is empty and control_* describe its record; unknown
 * control types (e.g. 3.9's KRaft version/voters) leave control_msg NULL. */
struct metalog_batch {
    struct rb_header h;
    bool control;
    int16_t control_type;
    const struct proto_message *control_msg;
    void *control_data;
    struct metalog_entry *entries;
    size_t n;
};

/* Validates (CRC, framing) and decodes one whole batch of exactly len bytes. Returns 0; FERRY_ECORRUPT
 * (CRC); FERRY_EUNSUPPORTED (compressed batch, magic < 2, frame version); FERRY_EPARSE; FERRY_ENOMEM. */
int metalog_decode_batch(const uint8_t *batch, size_t len, struct proto_arena *a, struct metalog_batch *out);

/* The message descriptor of a control type, or NULL. */
const struct proto_message *metalog_control_message(int16_t type);

#endif
