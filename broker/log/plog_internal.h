/* plog_internal: the partition log's state, shared by the plog_*.c files (internal). A plog owns its
 * segments (oldest first, the last one active), its epoch cache and the list of `.deleted` segment files
 * waiting for file.delete.delay.ms. */
#ifndef FERRY_LOG_PLOG_INTERNAL_H
#define FERRY_LOG_PLOG_INTERNAL_H

#include "broker/common/tp_table.h"
#include "epoch_cache.h"
#include "log.h"
#include "segment.h"

struct plog_pending_delete {
    char *stem; /* files are <stem>.{log,index,timeindex,txnindex}.deleted */
    int64_t due_ms;
};

struct plog {
    char *dir;   /* <log_dir>/<topic>-<partition> */
    char *topic;
    char *name;  /* "<topic>-<partition>" for log lines */
    int32_t partition;
    struct plog_config cfg;

    struct log_segment **segs;
    size_t nsegs, segs_cap;

    int64_t log_start_offset;
    int64_t log_end_offset;
    int64_t recovery_point;
    int64_t checkpoint_hw; /* plog_checkpoint_hw; -1: none */

    struct log_epoch_cache epochs;
    bool has_topic_id;
    proto_uuid topic_id;

    /* Durability bookkeeping (see plog_flush_*). */
    bool flush_in_flight;
    uint64_t truncations;           /* bumped by every truncation: a flush begun before one moves nothing */
    uint64_t dir_gen, dir_synced;   /* directory changes (segment created/renamed) vs. last fsynced */
    bool created_durably;           /* false: created off the loop, not yet covered by a sync (log.h) */
    uint64_t create_seq;            /* the log directory's creation count when it was adopted (logdir.c) */
    uint64_t epoch_gen, epoch_saved;/* epoch cache changes vs. last written checkpoint */
    int64_t first_unflushed_ms;     /* time of the oldest append not covered by a flush, -1 if none */
    int64_t first_append_in_flight_ms; /* first append while a flush runs, -1 if none */

    struct plog_pending_delete *pending;
    size_t npending, pending_cap;

    /* Log compaction (cleaner*.c). */
    char *root;                 /* the log dir holding cleaner-offset-checkpoint */
    bool clean_in_flight;       /* a plog_clean job exists (begin .. end) */
    int64_t cleaner_offset;     /* first dirty offset (cleaner-offset-checkpoint); -1: none */
    int64_t tombstone_horizon;  /* earliest delete horizon of tombstones left by the cleaner, INT64_MAX none */

    struct tp_link logdir_link; /* in the log directory's (topic, partition) table (logdir.c) */
};

static inline struct log_segment *plog_active(const struct plog *log) { return log->segs[log->nsegs - 1]; }

/* Index of the segment holding offset (the last one whose base is <= offset; 0 if offset is below all). */
size_t plog_segment_index(const struct plog *log, int64_t offset);
/* Adds a segment at the end of the array (growing it). */
int plog_push_segment(struct plog *log, struct log_segment *s);
/* Opens and recovers the segments found in the directory (plog_load.c). `*changed` when files were cut,
 * moved aside or rebuilt. */
int plog_load_segments(struct plog *log, const struct plog_open_opts *opts, int64_t now, bool *changed);
/* Appends a new empty segment at base_offset (seals the current active one). */
int plog_add_segment(struct plog *log, int64_t base_offset, int64_t now_ms);
/* Takes the first `n` segments out of the log: renamed `.deleted`, removed now or after the delay. */
int plog_remove_segments(struct plog *log, size_t first, size_t n, int64_t now_ms, const char *reason);
/* Records a leader epoch seen at start_offset (Kafka's assign) and marks the checkpoint dirty. */
void plog_assign_epoch(struct plog *log, int32_t epoch, int64_t start_offset);
/* Completes or rolls back an interrupted compaction swap (`.cleaned`/`.swap` files) as Kafka's LogLoader
 * does, before the segments are listed (cleaner_recover.c). */
int plog_clean_recover_files(struct plog *log);
/* Reads this log's entry of `<root>/cleaner-offset-checkpoint` into cleaner_offset (cleaner_ckpt.c). */
void plog_clean_load_checkpoint(struct plog *log);
/* Writes cleaner_offset into it (loop thread, no fsync). */
int plog_clean_store_checkpoint(struct plog *log);
/* Removes this log's entry from it (the log is being deleted). */
int plog_clean_forget_checkpoint(struct plog *log);
/* Deletes all pending .deleted files at once (close). */
void plog_drop_pending(struct plog *log);

#endif
