/* logdir: one entry of log.dirs (Kafka 3.7 layout) and the files at its root:
 *   meta.properties                     Java properties: "#\n#<date>\n" then key=value lines (any order)
 *                                       version=1, node.id, cluster.id, directory.id (KRaft) or
 *                                       version=0, broker.id, cluster.id (ZooKeeper mode)
 *   recovery-point-offset-checkpoint    "0\n<n>\n<topic> <partition> <offset>\n..."
 *   log-start-offset-checkpoint         same format (only logs whose start is above their first segment)
 *   replication-offset-checkpoint       same format: each log's high watermark (plog_checkpoint_hw), written
 *                                       by the replica manager every
 *                                       replica.high.watermark.checkpoint.interval.ms and at clean close
 *   .lock                               flock + an open-file-description lock (the kind Kafka's Java
 *                                       FileLock conflicts with): one broker per directory
 *   .kafka_cleanshutdown                {"version":0,"brokerEpoch":<n>}, written by a clean close and
 *                                       removed once the logs are loaded, so a crash is always noticed
 *   <topic>-<partition>/                partition logs (log.h); `<topic>-<partition>.<32 hex>-delete` dirs are
 *                                       removed at load, `-future` and `-stray` ones skipped,
 *                                       `__cluster_metadata-0` left to the Raft log (as Kafka's LogManager)
 *
 * A struct logdir owns the lock, the checkpoint contents read at open, and the plogs it loads or creates.
 * Everything runs on the loop thread except the functions marked thread-safe. logdir_open, _load_logs,
 * _checkpoint_sync and _close block (fsync): call them at start-up, shut-down, or from a worker with the
 * collect/write split. Returns are 0 or a negative FERRY_E*. */
#ifndef FERRY_LOG_LOGDIR_H
#define FERRY_LOG_LOGDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define LOGDIR_META_FILE "meta.properties"
#define LOGDIR_RECOVERY_POINT_FILE "recovery-point-offset-checkpoint"
#define LOGDIR_LOG_START_FILE "log-start-offset-checkpoint"
#define LOGDIR_HIGH_WATERMARK_FILE "replication-offset-checkpoint"
#define LOGDIR_LOCK_FILE ".lock"
#define LOGDIR_CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"

/* ---- meta.properties ----------------------------------------------------------------------------- */

struct logdir_meta {
    int32_t version;        /* 1 (KRaft) or 0 (ZooKeeper mode) */
    int32_t node_id;        /* node.id (version 1) or broker.id (version 0); -1 if absent */
    char cluster_id[64];    /* "" if absent (allowed in version 0) */
    bool has_directory_id;
    proto_uuid directory_id;
};

/* Parses meta.properties text: comments (# or !), blank lines, "key=value" / "key: value" / "key value",
 * keys in any order, unknown keys ignored. Version 1 needs node.id and cluster.id, version 0 broker.id.
 * FERRY_EPARSE otherwise. Thread-safe. */
int logdir_meta_parse(const char *text, size_t len, struct logdir_meta *out);
/* Formats it as Kafka does ("#\n#Sat Nov 21 14:02:54 UTC 2026\n" then the keys) into a ferry_malloc'd,
 * NUL-terminated string. Thread-safe. */
int logdir_meta_format(const struct logdir_meta *m, int64_t now_ms, char **text, size_t *len);
/* `<dir>/meta.properties`: FERRY_ENOTFOUND if absent. Thread-safe. */
int logdir_meta_read(const char *dir, struct logdir_meta *out);
/* Writes `<dir>/meta.properties` through meta.properties.tmp + fsync + rename + directory fsync. */
int logdir_meta_write(const char *dir, const struct logdir_meta *m);

/* ---- offset checkpoint files ---------------------------------------------------------------------- */

struct logdir_tp_offset {
    char topic[250];
    int32_t partition;
    int64_t offset;
};

/* Reads a "0\n<n>\n<topic> <partition> <offset>\n..." file into a ferry_malloc'd array (free with
 * ferry_free). FERRY_ENOTFOUND if absent, FERRY_EPARSE if damaged. Thread-safe. */
int logdir_offsets_read(const char *path, struct logdir_tp_offset **out, size_t *n);
/* Writes one through `<path>.tmp` + fsync + rename + directory fsync. Thread-safe. */
int logdir_offsets_write(const char *path, const struct logdir_tp_offset *e, size_t n);

/* ---- the directory ----------------------------------------------------------------------------------- */

struct logdir;

/* Creates the directory if needed, takes the lock (FERRY_EEXIST with a LOG_ERROR naming the directory if
 * another process or another logdir holds it), notes the clean-shutdown marker and reads the three offset
 * checkpoints (a damaged one is reported and ignored: the logs a damaged recovery-point or log-start
 * checkpoint covers are then fully recovered; with a damaged replication-offset-checkpoint no log has a
 * checkpointed high watermark). */
int logdir_open(const char *path, struct logdir **out);
const char *logdir_path(const struct logdir *d);
bool logdir_had_clean_shutdown(const struct logdir *d);
/* The broker epoch stored in the clean-shutdown marker, -1 if none. */
int64_t logdir_clean_shutdown_broker_epoch(const struct logdir *d);

/* plog_open options for a partition of this directory: its checkpointed recovery point, log start offset
 * and high watermark, and the clean-shutdown flag. */
void logdir_open_opts(const struct logdir *d, const char *topic, int32_t partition, int64_t now_ms,
                      struct plog_open_opts *opts);

/* Opens every partition directory with `cfg` (change per-topic settings later with plog_set_config).
 * A partition that fails to open is reported and skipped; unknown directories are reported. Then removes
 * the clean-shutdown marker. Returns the number of logs loaded, or FERRY_ENOMEM / FERRY_EIO. */
int logdir_load_logs(struct logdir *d, const struct plog_config *cfg, int64_t now_ms);

size_t logdir_log_count(const struct logdir *d);
struct plog *logdir_log_at(const struct logdir *d, size_t i);
/* Linear search: callers with many partitions keep their own index. */
struct plog *logdir_find(const struct logdir *d, const char *topic, int32_t partition);

/* Opens (creating if needed) a partition log in this directory and adopts it, all on the calling thread
 * (blocking: fsyncs). An already loaded log is returned as is, except that a partition.metadata a crash
 * left missing, empty or truncated is written again from `topic_id` (with a warning naming the file).
 * `topic_id` may be NULL. */
int logdir_create_log(struct logdir *d, const char *topic, int32_t partition, const struct plog_config *cfg,
                      const proto_uuid *topic_id, int64_t now_ms, struct plog **out);

/* Creating a new partition log off the event loop. On a busy disk the mkdir, the four file creations and
 * the three fsyncs of logdir_create_log take tens of milliseconds, which on a combined quorum node would
 * stall the Raft node and the controller sharing the loop. A job splits it:
 *   logdir_new_log_init    loop: takes the checkpointed offsets (logdir_open_opts) and copies the inputs;
 *   logdir_new_log_run     worker: plog_open with opts.off_loop (no fsync, no descriptor left open);
 *   logdir_new_log_finish  loop: the log's files join the descriptor budget and the directory adopts it. If
 *                          the worker could not create it (the directory already existed, out of
 *                          descriptors, an I/O error) the log is opened here with logdir_create_log instead.
 * Jobs for the same partition must not run at once. The new logs are not yet durable: logdir_sync_* makes
 * them so in one filesystem sync for any number of them (a flush of one of them does it for that one). */
struct logdir_new_log {
    struct logdir *dir;
    char *topic;
    int32_t partition;
    struct plog_config cfg;
    bool has_topic_id;
    proto_uuid topic_id;
    struct plog_open_opts opts;
    struct plog *log; /* run's result */
    int rc;
};
/* 0 or FERRY_ENOMEM (nothing to free then). */
int logdir_new_log_init(struct logdir *d, const char *topic, int32_t partition, const struct plog_config *cfg,
                        const proto_uuid *topic_id, int64_t now_ms, struct logdir_new_log *job);
void logdir_new_log_run(struct logdir_new_log *job);
/* Returns 0 with the adopted log, or the error (logged); frees the job's contents in every case. */
int logdir_new_log_finish(struct logdir_new_log *job, struct plog **out);
/* Frees a job that was never run. */
void logdir_new_log_free(struct logdir_new_log *job);

/* One filesystem sync (log_sync_filesystem) covering every log created off the loop before it began:
 * begin on the loop (false: nothing to do), run anywhere, end on the loop (those logs are then durable). */
struct logdir_sync {
    char *path;
    uint64_t upto; /* creation count covered */
};
bool logdir_sync_begin(struct logdir *d, struct logdir_sync *s);
int logdir_sync_run(const struct logdir_sync *s);
void logdir_sync_end(struct logdir *d, struct logdir_sync *s, int rc);
/* Logs created off the loop and not yet durable. */
size_t logdir_unsynced_count(const struct logdir *d);
/* Deletes a log of this directory (plog_delete: rename to `-delete`, then removal), blocking. */
int logdir_delete_log(struct logdir *d, struct plog *log);
/* Deleting it off the event loop: the directory forgets the log and plog_delete_begin renames it (loop);
 * plog_delete_run then removes it from a worker (log.h). FERRY_ENOTFOUND: not a log of d (left alone). */
int logdir_delete_log_begin(struct logdir *d, struct plog *log, struct plog_deletion *del);

/* Checkpoints: collect on the loop, write anywhere (thread-safe), free. `what` picks the files: the
 * recovery-point and log-start checkpoints (LOGDIR_CKPT_OFFSETS) and/or replication-offset-checkpoint
 * (LOGDIR_CKPT_HIGH_WATERMARK: every log whose plog_checkpoint_hw is known); a NULL path is not written. */
#define LOGDIR_CKPT_OFFSETS 1u
#define LOGDIR_CKPT_HIGH_WATERMARK 2u
#define LOGDIR_CKPT_ALL (LOGDIR_CKPT_OFFSETS | LOGDIR_CKPT_HIGH_WATERMARK)
struct logdir_checkpoint {
    char *recovery_path, *log_start_path, *hw_path;
    struct logdir_tp_offset *recovery;
    size_t nrecovery;
    struct logdir_tp_offset *log_start;
    size_t nlog_start;
    struct logdir_tp_offset *hw;
    size_t nhw;
};
int logdir_checkpoint_collect(const struct logdir *d, unsigned what, struct logdir_checkpoint *c);
int logdir_checkpoint_write(const struct logdir_checkpoint *c);
void logdir_checkpoint_free(struct logdir_checkpoint *c);
/* Collect, write and free, all files at once (blocking). */
int logdir_checkpoint_sync(struct logdir *d);

/* Clean close: closes every log (flushing it), writes the three checkpoints and, if all of that succeeded, the
 * clean-shutdown marker with `broker_epoch` (-1 if unknown); releases the lock. Frees d in every case. */
int logdir_close(struct logdir *d, int64_t broker_epoch);
/* Releases the lock and frees everything without flushing or writing (tests: a crash). */
void logdir_close_abandon(struct logdir *d);

#endif
