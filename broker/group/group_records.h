/* group_records: the __consumer_offsets record formats (Kafka 3.7's group-coordinator OffsetCommitKey /
 * OffsetCommitValue / GroupMetadataKey / GroupMetadataValue): a key or value is an int16 version followed
 * by the struct (messages.def). Keys of version 0/1 are offset commits, version 2 group metadata. Ferry
 * writes what Kafka 3.7 writes: OffsetCommitKey v1, OffsetCommitValue v3 (v1 when an expire timestamp is
 * set), GroupMetadataKey v2, GroupMetadataValue v3. A tombstone is a record with a null value. */
#ifndef FERRY_GROUP_RECORDS_H
#define FERRY_GROUP_RECORDS_H

#include <stdint.h>

#include "broker/proto/proto_buf.h"
#include "group_coord.h"

int group_rec_offset_key(struct proto_writer *w, const char *group, const char *topic, int32_t partition);
int group_rec_offset_value(struct proto_writer *w, const struct group_offset_value *v);
int group_rec_group_key(struct proto_writer *w, const char *group);
int group_rec_group_value(struct proto_writer *w, const struct group_meta *m);

enum group_rec_kind { GROUP_REC_OFFSET, GROUP_REC_GROUP };

/* One decoded record; strings point into the record or the arena. value_null: a tombstone. */
struct group_rec {
    enum group_rec_kind kind;
    proto_str group;
    proto_str topic;
    int32_t partition;
    bool value_null;
    /* offset commit */
    struct group_offset_value offset; /* metadata: NUL-terminated copy in the arena */
    /* group metadata */
    proto_str protocol_type;
    int32_t generation;
    proto_str protocol;
    int64_t state_timestamp;
    int32_t members_n;
};

/* Decodes a record's key and value (value.len -1: tombstone). Returns 0, or FERRY_EPARSE for a record that
 * is not a valid __consumer_offsets record (unknown key version, truncated, trailing bytes). */
int group_rec_decode(proto_bytes key, proto_bytes value, struct proto_arena *a, struct group_rec *out);

#endif
