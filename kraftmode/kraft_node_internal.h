/* kraft_node_internal: the node's state, shared by kraft_node.c (queue, writes, lifecycle), kraft_register.c,
 * kraft_start.c (start-up and leader activation) and kraft_admin.c (admin entry points). */
#ifndef FERRY_KRAFT_NODE_INTERNAL_H
#define FERRY_KRAFT_NODE_INTERNAL_H

#include "broker/log/log.h"
#include "kraftmode/ctrl.h"
#include "kraftmode/kraft_node.h"
#include "kraftmode/metalog.h"
#include "kraftmode/metalog_loader.h"
#include "kraftmode/metalog_tail.h"
#include "kraftmode/quorum_state.h"
#include "kraftmode/raft/raft.h"
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
    KRAFT_OP_ACTIVATE,            /* a new leader's first write: bootstrap records / abort of an open txn */
    KRAFT_OP_REGISTER_CONTROLLER, /* the leader's RegisterControllerRecord */
    KRAFT_OP_RPC, /* a broker-facing controller RPC: decided by rpc_decide (kraft_ctrl_rpc.c) */
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
    bool force;                     /* KRAFT_OP_REGISTER: register even when the image matches (start-up) */
    struct proto_writer boot_bytes; /* KRAFT_OP_ACTIVATE: the bootstrap.checkpoint bytes the records use */
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
    /* KRAFT_OP_RPC: the decision, the filler of a refused operation's response, their context */
    int (*rpc_decide)(struct kraft_node *n, struct kraft_op *op);
    void (*rpc_fail)(struct kraft_op *op, int16_t code, proto_str msg);
    void *rpc_ctx;
    struct proto_arena arena;  /* records the decision produced */
    struct ctrl_records recs;
    int64_t end_offset;        /* decided: answered once the applied (committed) offset reaches it */
};

/* The active controller's latest image (kraft_node_latest.c): the committed image plus every batch decided
 * since, committed or not. epoch: the active epoch it was built in; -1 none (decisions then use the
 * committed image: before activation, or after it was dropped until it is rebuilt). */
struct kraft_latest {
    struct md_image img;
    struct metalog_loader loader;
    int32_t epoch;
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

/* The Raft I/O state (kraft_raft.c). */
#define KRAFT_LATE_INPUTS 16

struct kraft_raft_io {
    struct raft *raft;
    bool sync;          /* start-up: actions are performed blocking, in the calling thread */
    bool driving;       /* inside kraft_raft_drive */
    bool dead;          /* RAFT_ACT_FATAL or out of memory: the core takes no more input */
    uv_timer_t tick;
    /* quorum-state writes: one in flight, the newest wanted one written next */
    bool state_busy;
    struct quorum_state state_want, state_writing;
    uint64_t state_want_seq, state_writing_seq, state_done_seq;
    int state_rc;
    uv_work_t state_work;
    /* log fsyncs: one in flight (kraft_node.busy), the newest wanted sequence flushed next */
    uint64_t sync_want_seq, sync_writing_seq, sync_done_seq;
    /* batches decided in this loop turn, proposed together by kraft_raft_flush: staged_count offsets
     * starting at staged_base (the core's log end when the first was staged) */
    struct proto_writer staged;
    int32_t staged_count;
    int64_t staged_base;
    /* what the image holds: every batch below applied_end (the loader holds an open transaction's records) */
    struct metalog_loader loader;
    int64_t applied_end;
    /* the newest appended batches in memory: commits applied and Fetch answers built without reading back */
    struct metalog_tail tail;
    int64_t replay_end;   /* the log end at start-up: bytes applied below it count towards a snapshot */
    int64_t leader_start; /* this node's epoch as leader: the offset after its LeaderChange batch */
    int32_t active_epoch; /* the epoch in which this node activated as controller; -1 none */
    bool registered;      /* the local broker registered once in this process */
    /* graceful resignation (kraft_node_resign): the wait for a successor, then resign_done(resign_arg) */
    bool resign_timer_open;
    uv_timer_t resign_timer;
    int32_t resign_epoch;
    int64_t resign_until;
    void (*resign_done)(void *arg);
    void *resign_arg;
    /* inputs the transport gave while the actions were being performed (kraft_node.h), fed in after */
    struct kraft_late_input {
        int32_t lost_peer; /* >= 0: raft_peer_lost; else raft_step(msg) */
        struct raft_msg msg;
    } late[KRAFT_LATE_INPUTS];
    size_t nlate;
};

struct kraft_node {
    uv_loop_t *loop;
    const struct ferry_config *cfg;
    int32_t node_id;
    char cluster_id[23];
    struct ctrl_env env;
    uint64_t rng;
    struct metalog *log;
    struct md_image img;
    struct md_delta pending; /* applied but not yet published (no publisher yet) */
    void (*publish)(void *arg, const struct md_image *img, const struct md_delta *delta);
    void *publish_arg;
    struct kraft_op *head, *tail;
    /* decided (records staged or proposed, or none), in offset order, waiting for the commit */
    struct kraft_op *inflight_head, *inflight_tail;
    size_t ninflight;
    struct kraft_latest latest;
    bool busy;     /* a metadata-log fsync is running off the loop */
    bool stopping;
    bool finished; /* stopped: everything released, handles closing */
    bool failed;   /* the metadata log could not be written: no more writes */
    uv_timer_t kick;
    uv_work_t work;
    struct plog_flush flush;
    int flush_rc;
    struct kraft_snap snap;
    struct kraft_raft_io rio;
    struct kraft_transport transport; /* where the core's messages go (broker/api/raft_io.c) */
    int handles;           /* uv handles still open (closed by the stop) */
};

uint64_t kraft_node_rand(void *arg);
int64_t kraft_wall_ms(void);

/* ---- the Raft I/O (kraft_raft.c) ----
 * kraft_raft_open (start-up, after the snapshot is loaded): the core from quorum-state and the log.
 * kraft_raft_drive performs the core's actions (see raft.h) until there are none: quorum-state writes and
 * log fsyncs off the loop (blocking while rio.sync), appends/truncations/snapshot installs on the metalog,
 * commits applied to the image through the loader (and the ops they pass completed), messages to kraft_net.
 * kraft_raft_stage frames recs (Begin/EndTransaction around them past one batch) as batches in the current
 * epoch at kraft_node_next_offset, applies them to the latest image and keeps them for kraft_raft_flush,
 * which proposes everything staged as one append (one write, one fsync, one fetch answer for the whole
 * loop turn: group commit). *end_offset gets the offset after the op's last record. */
int kraft_raft_open(struct kraft_node *n, char *err, size_t errlen);
void kraft_raft_drive(struct kraft_node *n);
int kraft_raft_stage(struct kraft_node *n, const struct metalog_rec *recs, size_t count, struct proto_arena *a,
                     int64_t *end_offset);
int kraft_raft_flush(struct kraft_node *n);
/* The offset the next staged record gets (the core's log end plus what is staged). */
int64_t kraft_node_next_offset(const struct kraft_node *n);
int64_t kraft_raft_now(void);
/* Starts ticking the core on the loop (after start-up); kraft_raft_close frees the core and closes the
 * timer (the node's last handles free it: kraft_node_handle_closed). */
void kraft_raft_start_ticks(struct kraft_node *n);
void kraft_raft_close(struct kraft_node *n);
void kraft_node_handle_closed(uv_handle_t *h);
/* Raft input went wrong (FERRY_ENOMEM from the core): the node stops taking part in the quorum. */
void kraft_raft_failed(struct kraft_node *n, const char *why);
/* True when this node leads the quorum and has activated as its controller in the current epoch. */
bool kraft_node_active(const struct kraft_node *n);

/* Start-up (kraft_start.c): the role and storage checks, the log, the snapshot and the Raft core
 * (kraft_node_open_log). A leader's activation (kraft_start.c): kraft_node_maybe_activate queues, at the
 * head of the queue, the activation op (bootstrap records on an empty log, abort of an open transaction),
 * the controller's registration and, once per process, the local broker's; their decisions are
 * kraft_decide_activation / kraft_decide_controller_registration. */
int kraft_node_prepare(struct kraft_node *n, bool format_if_missing, char *err, size_t errlen);
void kraft_node_maybe_activate(struct kraft_node *n);
int kraft_decide_activation(struct kraft_node *n, struct kraft_op *op);
int kraft_decide_controller_registration(struct kraft_node *n, struct kraft_op *op);

/* The latest image (kraft_node_latest.c). kraft_latest_ensure (the active controller, before deciding)
 * builds it from the committed image when it is missing and nothing proposed is uncommitted; *ready
 * false: the decisions wait for the commits. kraft_latest_apply applies a staged batch (failure drops the
 * image: the node keeps leading, its next decisions wait for the rebuild). kraft_node_decision_image: what
 * decisions read (the latest image, or the committed one when there is none). */
void kraft_latest_init(struct kraft_node *n);
void kraft_latest_drop(struct kraft_node *n);
int kraft_latest_ensure(struct kraft_node *n, bool *ready);
int kraft_latest_apply(struct kraft_node *n, const uint8_t *batch, size_t len);
const struct md_image *kraft_node_decision_image(const struct kraft_node *n);

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

/* Queues an op (kraft_node.c); kraft_node_push_front puts it ahead of the queued ones. kraft_node_committed
 * (after a commit was applied) completes the ops in flight the commit passed and runs the queue;
 * kraft_node_lost_leadership completes every op in flight with NOT_CONTROLLER, drops what is staged and
 * the latest image. kraft_node_kick runs the queue soon. */
void kraft_node_enqueue(struct kraft_node *n, struct kraft_op *op);
void kraft_node_push_front(struct kraft_node *n, struct kraft_op *op);
void kraft_node_committed(struct kraft_node *n);
void kraft_node_lost_leadership(struct kraft_node *n);
void kraft_node_kick(struct kraft_node *n);
/* Publishes what was applied since the last publication, when the node has caught up (kraft_node.c). */
void kraft_node_publish_pending(struct kraft_node *n);
struct kraft_op *kraft_op_new(enum kraft_op_kind kind);
void kraft_op_free(struct kraft_op *op);

#endif
