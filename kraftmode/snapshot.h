/* snapshot: KIP-630 metadata snapshots of the quorum-mode metadata log (`__cluster_metadata-0`), in
 * Kafka 3.7's format and file layout, so that the multi-node Raft I/O (FetchSnapshot) can reuse them.
 *
 *  - A snapshot is the metadata image dumped as metadata records (snapshot_image_records, Kafka's
 *    MetadataImage.write order: FeatureLevelRecords with metadata.version first, ZkMigrationStateRecord,
 *    RegisterBrokerRecords, RegisterControllerRecords, TopicRecord + its PartitionRecords per topic,
 *    ConfigRecords, ProducerIdsRecord), framed as Kafka's RecordsSnapshotWriter frames them
 *    (snapshot_build): a control batch holding SnapshotHeaderRecord at offset 0, data batches whose
 *    offsets run on from 1, a control batch holding SnapshotFooterRecord; every batch a CRC-checked
 *    record batch v2, uncompressed, stamped with the snapshot's epoch.
 *  - Its id is (end offset, exclusive; epoch of the last record it contains). The file is
 *    `<20-digit end offset>-<10-digit epoch>.checkpoint` in the partition directory, written as
 *    `.checkpoint.part`, fsynced, renamed, the directory fsynced (snapshot_write_file). A snapshot that
 *    fails validation at start-up is set aside as `.checkpoint.corrupt` (renamed, never deleted).
 *
 * Pure functions and blocking file helpers: nothing here touches the event loop. snapshot_write_file and
 * snapshot_read_chunk only use their arguments (safe from a libuv worker thread); the image functions
 * borrow the caller's image (loop thread). Errors: 0 or a negative FERRY_E*; validation failures are
 * FERRY_ECORRUPT with a one-line reason (naming the byte position) in `err`. */
#ifndef FERRY_KRAFT_SNAPSHOT_H
#define FERRY_KRAFT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/metadata/md_delta.h"
#include "broker/metadata/md_image.h"
#include "kraftmode/metalog_record.h"

#define SNAPSHOT_SUFFIX ".checkpoint"
#define SNAPSHOT_PART_SUFFIX ".checkpoint.part"
#define SNAPSHOT_CORRUPT_SUFFIX ".checkpoint.corrupt"
#define SNAPSHOT_NAME_LEN 42 /* 20 + 1 + 10 + strlen(".checkpoint") */
#define SNAPSHOT_NAME_MAX 64 /* buffer size for any name built here, suffixes included */
#define SNAPSHOT_MAX_FILE_BYTES (1024LL * 1024 * 1024)

struct snapshot_id {
    int64_t end_offset; /* exclusive: the first offset the snapshot does not contain */
    int32_t epoch;
};

/* "<20-digit end offset>-<10-digit epoch>.checkpoint" (plus `suffix` instead of ".checkpoint" when not
 * NULL). out must hold SNAPSHOT_NAME_MAX bytes. */
void snapshot_file_name(struct snapshot_id id, const char *suffix, char out[SNAPSHOT_NAME_MAX]);
/* Parses an exact snapshot file name (".checkpoint" only). true on success. */
bool snapshot_parse_name(const char *name, struct snapshot_id *id);

/* ---- image <-> records ---- */

/* The image as records, in Kafka's order (above). The record structs live in `a` and point into the
 * image: valid until the image changes or `a` is freed. *recs is ferry_malloc'd (free with ferry_free;
 * NULL when n is 0). 0 or FERRY_ENOMEM. */
int snapshot_image_records(const struct md_image *img, struct proto_arena *a, struct metalog_rec **recs, size_t *n);

/* Appends a whole snapshot to w: header control batch (offset 0, LastContainedLogTimestamp =
 * last_contained_ms), data batches of at most METALOG_MAX_RECORDS_PER_BATCH records and
 * METALOG_MAX_BATCH_BYTES bytes (a single larger record gets a batch of its own), footer. All batches carry
 * `epoch` and the timestamp now_ms. 0, FERRY_ENOMEM, FERRY_EUNSUPPORTED (a record the codec refuses). */
int snapshot_build(struct proto_writer *w, const struct metalog_rec *recs, size_t n, int32_t epoch,
                   int64_t last_contained_ms, int64_t now_ms);

/* Both in one: the image's snapshot bytes. */
int snapshot_build_image(struct proto_writer *w, const struct md_image *img, int32_t epoch, int64_t last_contained_ms,
                         int64_t now_ms);

/* Validates a whole snapshot held in memory (framing, every CRC, header first at offset 0, contiguous
 * offsets, only data batches between header and footer, each batch stamped with `epoch` unless epoch is
 * -1, footer last, nothing after it) and applies its records to `img` (which should be empty; records
 * are applied at offset end_offset - 1, so img->last_offset ends at end_offset - 1; what changed goes to
 * `delta`, which may be NULL). A record the image refuses makes the snapshot invalid. On FERRY_ECORRUPT /
 * FERRY_EPARSE / FERRY_EUNSUPPORTED the reason is in err and the image may hold part of the snapshot:
 * the caller discards it. img may be NULL: validation only. */
int snapshot_load_buf(const uint8_t *buf, size_t len, int32_t epoch, int64_t end_offset, struct md_image *img,
                      struct md_delta *delta, char *err, size_t errlen);

/* Reads a whole file (at most SNAPSHOT_MAX_FILE_BYTES) into a ferry_malloc'd buffer. FERRY_ENOTFOUND,
 * FERRY_EIO (errno set), FERRY_ENOMEM. */
int snapshot_read_whole(const char *path, uint8_t **buf, size_t *len);

/* Reads <dir>/<name of id> and loads it as above (epoch and end offset from the id). FERRY_ENOTFOUND if
 * absent, FERRY_EIO if unreadable, else as snapshot_load_buf. */
int snapshot_load_file(const char *dir, struct snapshot_id id, struct md_image *img, struct md_delta *delta, char *err,
                       size_t errlen);

/* ---- files ---- */

/* Writes buf as the snapshot `id` in dir: `<name>.part` (replacing a leftover one), fsync, rename to
 * `<name>`, fsync of dir. On failure the .part file is removed. Blocking; thread-safe. */
int snapshot_write_file(const char *dir, struct snapshot_id id, const uint8_t *buf, size_t len);

/* The durable write under both: buf into tmp (truncated first), fsync, rename to path, fsync of dir (the
 * directory holding both). On failure tmp is removed. Blocking; thread-safe. */
int snapshot_write_atomic(const char *tmp, const char *path, const char *dir, const uint8_t *buf, size_t len);

/* The snapshots in dir (exact `.checkpoint` names), newest (highest end offset, then epoch) first.
 * *ids is ferry_malloc'd (NULL when none). 0, FERRY_EIO (dir unreadable) or FERRY_ENOMEM. */
int snapshot_list(const char *dir, struct snapshot_id **ids, size_t *n);

/* Removes `*.checkpoint.part` files left by an interrupted write (logged). Returns how many, or FERRY_EIO. */
int snapshot_remove_partial(const char *dir);

/* Sets a bad snapshot aside: renames it `<name>.corrupt` (`.corrupt.1`, ... when taken). Logged. */
int snapshot_set_aside(const char *dir, struct snapshot_id id);

/* Deletes snapshot `id` (retention of older, valid snapshots). */
int snapshot_delete(const char *dir, struct snapshot_id id);

/* FetchSnapshot's follower side (the Raft I/O's SNAPSHOT_WRITE / SNAPSHOT_INSTALL actions).
 * snapshot_part_write writes len bytes at `position` of `<name>.checkpoint.part` (created if absent; no
 * fsync). position must not be past the file's current size (FERRY_ERANGE). snapshot_part_freeze
 * validates the whole `.part` as a snapshot `id` (FERRY_ECORRUPT with the reason in err: then it is set
 * aside as `.checkpoint.corrupt`, never deleted), fsyncs it, renames it to `<name>.checkpoint` and fsyncs
 * dir. FERRY_ENOTFOUND when there is no .part. Both blocking and thread-safe. */
int snapshot_part_write(const char *dir, struct snapshot_id id, int64_t position, const uint8_t *buf, size_t len);
int snapshot_part_freeze(const char *dir, struct snapshot_id id, char *err, size_t errlen);

/* FetchSnapshot's read: up to max bytes of snapshot `id` from byte `position`, into buf (max bytes).
 * *got receives the bytes read, *size the file size. FERRY_ENOTFOUND (no such snapshot), FERRY_ERANGE
 * (position < 0 or >= size: Kafka's POSITION_OUT_OF_RANGE), FERRY_EIO. Blocking; thread-safe. */
int snapshot_read_chunk(const char *dir, struct snapshot_id id, int64_t position, uint8_t *buf, size_t max, size_t *got,
                        int64_t *size);

#endif
