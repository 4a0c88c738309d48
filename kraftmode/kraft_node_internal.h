/* kraft_node_internal: the node's state, shared by kraft_node.c (queue, writes, lifecycle), kraft_register.c,
 * kraft_start.c (start-up and leader activation) and kraft_admin.c (admin entry points). */
#ifndef FERRY_KRAFT_NODE_INTERNAL_H
#define FERRY_KRAFT_NODE_INTERNAL_H

#include "broker/log/log.h"
#include "kraftmode/ctrl.h"
#include "kraftmode/kraft_node.h"
#include "kraftmode/metalog.h"
#include "kraftmode/metalog_loader.h"
#include "kraftmode/snapshot.h"

enum kraft_op_kind {
    KRAFT_OP_WRITE,
    KRAFT_OP_CREATE_TOPICS,
    KRAFT_OP_DELETE_TOPICS,
    KRAFT_OP_CREATE_PARTITIONS,
    KRAFT_OP_ALTER_CONFIGS,
    KRAFT_OP_INCREMENTAL_ALTER_CONFIGS,
    KRAFT_OP_AUTO_CREATE,
    KRAFT_OP_REGISTER, /* the broker again, with its bound listener ports */
    KRAFT_OP_ALLOCATE_PRODUCER_IDS,
};

/* Listener name -> bound port (owned copies). */
struct kraft_bound_ports {
    char **names;
    uint16_t *ports;
    size_t n;
};

/* One queued operation. */
struct kraft_op {
    struct kraft_op *next;
    enum kraft_op_kind kind;
    const void *req; /* the caller's decoded request */
    int16_t version;
    struct proto_arena *resp_arena;
    void *resp;
    char **names; /* auto-create: owned copies */
    size_t nnames;
    struct kraft_bound_ports bound; /* KRAFT_OP_REGISTER */
    const struct metalog_rec *raw; /* KRAFT_OP_WRITE: the caller's records */
    size_t nraw;
    void (*done)(void *arg);
    void (*done_rc)(void *arg, int rc);
    void *arg;
    /* KRAFT_OP_ALLOCATE_PRODUCER_IDS: request and response live in the op (req/resp point here) */
    struct AllocateProducerIdsRequest pid_req;
    struct AllocateProducerIdsResponse pid_resp;
    void (*pid_done)(void *arg, int64_t first, int32_t len, int16_t error);
    void *pid_arg;
    struct proto_arena arena;  /* records the decision produced */
    struct ctrl_records recs;
    struct metalog_rec *all;   /* what was appended, transaction markers included */
    size_t nall;
    int64_t base_offset;       /* offset of all[0] */
};

/* Snapshots of the image (snapshot_node.c). */
struct kraft_snap {
    struct snapshot_id latest; /* the newest valid snapshot on disk; end_offset -1 when none */
    int64_t bytes_since;       /* record-batch bytes appended since the last snapshot was taken */
    int64_t last_ms;           /* when the last snapshot was taken (the node's start before any) */
    int64_t last_append_ms;    /* timestamp of the newest appended batch (LastContainedLogTimestamp) */
    bool busy;                 /* a snapshot is being written off the loop */
    bool clean_pending;        /* log cleaning waits for the metadata-log fsync in flight */
    struct snapshot_id writing;
    int64_t bytes_at_start;    /* bytes_since when the write began (restored if it fails) */
    struct proto_writer buf;   /* the snapshot being written */
    char *dir;                 /* the partition directory, for the worker */
    uv_work_t work;
    int rc;
};

struct kraft_node {
    uv_loop_t *loop;
    const struct ferry_config *cfg;
    int32_t node_id;
    int32_t epoch;
    char cluster_id[23];
    struct ctrl_env env;
    uint64_t rng;
    struct metalog *log;
    struct md_image img;
    struct md_delta pending; /* applied but not yet published (no publisher yet) */
    void (*publish)(void *arg, const struct md_image *img, const struct md_delta *delta);
    void *publish_arg;
    struct kraft_op *head, *tail;
    struct kraft_op *inflight;
    bool busy;     /* an append is being fsynced */
    bool stopping;
    bool failed;   /* the metadata log could not be written: no more writes */
    uv_timer_t kick;
    uv_work_t work;
    struct plog_flush flush;
    int flush_rc;
    struct kraft_snap snap;
};

uint64_t kraft_node_rand(void *arg);
int64_t kraft_wall_ms(void);

/* Frames recs (Begin/EndTransaction around them when they need several batches) and appends them at the
 * log end with the node's epoch. On success *all / *nall (ferry_malloc'd, free with ferry_free) list what
 * was appended from *base_offset on; the wrapper structs live in `a`. No fsync. */
int kraft_append_records(struct kraft_node *n, const struct metalog_rec *recs, size_t count, struct proto_arena *a,
                         struct metalog_rec **all, size_t *nall, int64_t *base_offset);
/* Applies appended records to the image with the delta the publisher will see. */
int kraft_apply_records(struct kraft_node *n, const struct metalog_rec *all, size_t nall, int64_t base_offset,
                        struct md_delta *delta);
/* Append + fsync (blocking) + apply: start-up writes. */
int kraft_write_sync(struct kraft_node *n, const struct metalog_rec *recs, size_t count);

/* Start-up (kraft_start.c): the role and storage checks, then kraft_node_activate: replay and leader
 * activation. */
int kraft_node_prepare(struct kraft_node *n, bool format_if_missing, char *err, size_t errlen);
int kraft_node_activate(struct kraft_node *n, char *err, size_t errlen);

/* Admin (kraft_admin.c): runs the decision of an admin op into op->recs; fills failure responses. */
int kraft_op_decide(struct kraft_node *n, struct kraft_op *op);
void kraft_op_fail_response(struct kraft_op *op, int16_t code, const char *msg);

/* The local broker's registration (kraft_register.c): RegisterBrokerRecord with BrokerEpoch = epoch
 * (advertised ports of 0 taken from `bound`, which may be NULL), and the unfencing records. */
int kraft_registration_records(struct kraft_node *n, const struct kraft_bound_ports *bound, int64_t epoch,
                               struct ctrl_records *out);
int kraft_unfence_records(struct kraft_node *n, int64_t epoch, struct ctrl_records *out);
int kraft_decide_registration(struct kraft_node *n, struct kraft_op *op);

/* Snapshots (snapshot_node.c). kraft_snapshot_recover (start-up, after the log is opened, before the
 * replay): removes interrupted `.checkpoint.part` files, loads the newest valid snapshot into the (empty)
 * image, setting aside the ones that fail validation, fully truncates the log when the snapshot lies
 * beyond it, and gives the offset the replay starts from. Fails when the log has been cleaned and no
 * snapshot covers what was cleaned. kraft_snapshot_maybe (after a commit, on the loop) starts a snapshot
 * when metadata.log.max.record.bytes.between.snapshots or metadata.log.max.snapshot.interval.ms says so;
 * kraft_snapshot_idle (the metadata-log fsync has returned) runs log cleaning that had to wait for it. */
int kraft_snapshot_recover(struct kraft_node *n, int64_t *replay_from, char *err, size_t errlen);
void kraft_snapshot_maybe(struct kraft_node *n);
void kraft_snapshot_idle(struct kraft_node *n);
void kraft_snapshot_free(struct kraft_node *n);
/* The node stops once both the metadata-log fsync and the snapshot write in flight have returned. */
void kraft_node_finish_stop(struct kraft_node *n);

/* Queues an op (kraft_node.c). */
void kraft_node_enqueue(struct kraft_node *n, struct kraft_op *op);
struct kraft_op *kraft_op_new(enum kraft_op_kind kind);
void kraft_op_free(struct kraft_op *op);

#endif
