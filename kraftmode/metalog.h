/* metalog: the KRaft metadata log on disk, `<metadata log dir>/__cluster_metadata-0/`, shaped as the Raft
 * log Kafka keeps there: a partition log (broker/log plog: segments, indexes, leader-epoch-checkpoint,
 * partition.metadata with topic id AAAAAAAAAAAAAAAAAAAAAQ) whose batches carry the Raft epoch as their
 * partitionLeaderEpoch, next to the `quorum-state` file (quorum_state.h). Kafka's own retention is off for
 * this log (retention.ms = retention.bytes = -1).
 *
 * Also: snapshot-format files (header control batch, data batches, footer control batch, offsets from 0;
 * the format is snapshot.h's), used for bootstrap.checkpoint written by `ferry storage format`.
 *
 * Ownership: a struct metalog belongs to the loop thread, like its plog. Opening recovers the whole log
 * (a torn tail is cut off by plog recovery and kept aside in `.corrupt`). Reads and appends do not fsync;
 * durability goes through plog's flush (begin/run/end) which the caller runs off the loop. */
#ifndef FERRY_METALOG_H
#define FERRY_METALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/log/log.h"
#include "kraftmode/metalog_record.h"

#define METALOG_TOPIC "__cluster_metadata"
#define METALOG_PARTITION_DIR "__cluster_metadata-0"
#define METALOG_BOOTSTRAP_FILE "bootstrap.checkpoint"
#define METALOG_MAX_BATCH_BYTES (8 * 1024 * 1024)

struct metalog {
    struct plog *log;
    char *meta_dir; /* the metadata log dir */
    char *dir;      /* <meta_dir>/__cluster_metadata-0 */
};

/* The topic id of __cluster_metadata: Uuid(0, 1). */
proto_uuid metalog_topic_id(void);

/* Opens (creating if needed) and recovers the log. Blocking. 0 or FERRY_E*. */
int metalog_open(const char *meta_dir, int64_t now_ms, struct metalog **out);
/* Flushes and closes. */
int metalog_close(struct metalog *ml);
/* Closes without flushing (tests: a crash). */
void metalog_close_abandon(struct metalog *ml);

int64_t metalog_start_offset(const struct metalog *ml);
int64_t metalog_end_offset(const struct metalog *ml);
/* Epoch of the last batch (from the leader-epoch cache), -1 if the log is empty. */
int32_t metalog_last_epoch(const struct metalog *ml);

/* Reads the log from its start to its end, handing every whole batch (raw bytes, valid until the callback
 * returns) to cb; a non-zero return from cb stops the walk and is returned. */
int metalog_scan(struct metalog *ml, int (*cb)(void *arg, const uint8_t *batch, size_t len), void *arg);
/* Same, from the batch holding offset `from` on (batches ending below it are skipped; `from` below the
 * log start means the log start). */
int metalog_scan_from(struct metalog *ml, int64_t from, int (*cb)(void *arg, const uint8_t *batch, size_t len),
                      void *arg);

/* Appends whole batches on the leader path (offsets from the log end, epoch stamped). No fsync. */
int metalog_append(struct metalog *ml, uint8_t *batches, size_t len, int32_t epoch, int64_t now_ms,
                   struct plog_append_info *info);

/* ---- snapshot-format files ---- */

/* Writes records as a snapshot-format file at epoch 0: SnapshotHeader (offset 0), the records in batches
 * of at most METALOG_MAX_RECORDS_PER_BATCH, SnapshotFooter. Through `<path>.tmp`, fsync, rename, directory
 * fsync. 0 or FERRY_E*. */
int metalog_write_snapshot_file(const char *path, const struct metalog_rec *recs, size_t n, int64_t now_ms);

/* Reads a snapshot-format file: checks it starts with a SnapshotHeader and ends with a SnapshotFooter, and
 * hands every batch to cb. FERRY_ENOTFOUND if absent, FERRY_ECORRUPT / FERRY_EPARSE if damaged. */
int metalog_read_snapshot_file(const char *path, int (*cb)(void *arg, const uint8_t *batch, size_t len), void *arg);

#endif
