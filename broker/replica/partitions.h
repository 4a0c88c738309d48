/* partitions: the broker's hosted partitions (the replica manager): one partition log per hosted
 * topic-partition, its high watermark, flushes run off the loop, and watchers that are woken when data
 * is appended (Fetch long polls).
 *
 * Partitions are created and removed only by the metadata publisher reacting to metadata deltas
 * (design principle 1); request handlers look them up and append or read. Each hosted partition is the
 * leader or a follower, as the image says (rp_partition_make_leader / rp_partition_make_follower, called
 * by the publisher only). As leader its high watermark moves by the ISR's progress (leader_state.h: with
 * the leader alone in the ISR it is the log end offset); as follower it follows the leader's, capped at
 * the local log end. Watchers are woken after every append and every high-watermark move.
 * The high watermarks survive a restart in each log directory's replication-offset-checkpoint (Kafka's
 * file), written every replica.high.watermark.checkpoint.interval.ms and at clean close; a partition
 * opens with its checkpointed high watermark, or at its log end when the file has none for it (missing or
 * damaged file: logged, never fatal).
 * Idle partitions cost nothing per tick: the manager lists per leader the partitions that fetch from it (the
 * replica fetchers walk those), and its once-a-second housekeeping visits only the partitions with periodic
 * work (rp_busy_count), every hosted partition only when retention is checked.
 *
 * Ownership: the manager owns its partitions and their logs; all of it belongs to the loop thread. */
#ifndef FERRY_PARTITIONS_H
#define FERRY_PARTITIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/common/tp_table.h"
#include "broker/config/config.h"
#include "broker/config/topic_config.h"
#include "broker/log/log.h"
#include "broker/producer/producer_state.h"
#include "broker/proto/proto_types.h"
#include "broker/replica/leader_state.h"

struct rp_manager;

struct logdir;

struct rp_partition {
    char *topic;
    int32_t index;
    proto_uuid topic_id;
    struct plog *log;
    struct topic_config config;
    int32_t leader_epoch;
    int64_t high_watermark;
    /* idempotent producers (producer_state.h): rebuilt on open, updated by rp_append, snapshotted beside
     * the segments when one rolls and at clean shutdown, expired by the housekeeping timer */
    struct prod_state producers;
    /* replication, from the image: the leader's id (-1: none), whether it is this broker, and the leader's
     * view of its followers (leader_state.h; meaningful while is_leader) */
    int32_t leader_id;
    bool is_leader;
    struct rp_leader repl;
    bool truncate_check; /* follower: the leader or its epoch changed, compare epochs before fetching */
    bool fetch_stopped;  /* follower: fetching turned off (legacy StopReplica without deletion) until a
                          * LeaderAndIsr turns it on again (rp_set_fetching) */
    /* private */
    struct logdir *dir; /* the log directory that owns the log */
    bool flush_running;
    bool flush_again;
    struct rp_flush_waiter *flush_waiters;
    bool removed;
    struct tp_link link; /* in the manager's table of hosted partitions */
    int32_t following;   /* the leader whose list of followed partitions holds p (-1: none) */
    struct rp_partition *follow_prev, *follow_next;
    bool busy; /* in the manager's list of partitions the housekeeping pass visits every second */
    struct rp_partition *busy_prev, *busy_next;
};

/* Someone waiting for appends (a parked Fetch). notify is called after every append to any partition;
 * the watcher decides whether it cares. It may unwatch itself from notify. */
struct rp_watcher {
    void (*notify)(struct rp_watcher *w, struct rp_partition *p);
    void (*cancel)(struct rp_watcher *w); /* the manager is closing; the watcher is already unwatched */
    struct rp_watcher *prev, *next;
};

/* Opens every log directory of log.dirs (taking its lock, reading its checkpoints) and loads the partition
 * logs found there, recovering them as needed. Blocking: call at start-up. Returns 0, or FERRY_EEXIST
 * when another process holds a directory (message in err). */
int rp_manager_new(uv_loop_t *loop, const struct ferry_config *cfg, struct rp_manager **out, char *err,
                   size_t errlen);
/* Cancels every watcher, then, once running flushes are done, closes every log directory cleanly (logs
 * flushed, checkpoints and the clean-shutdown marker written) and frees the manager. */
void rp_manager_close(struct rp_manager *m, int64_t broker_epoch);

/* Opens (recovering) the log of a partition this broker hosts. Idempotent. A log already on disk opens at
 * once (*out set). A new log is created by a worker thread (logdir_new_log_*: on a busy disk its files and
 * fsyncs take tens of milliseconds, which the loop's Raft node and controller must not wait for): *out is
 * NULL then, rp_partition_get does not find the partition until it exists, and the opened callback reports
 * it. A removal meanwhile cancels it (its log is deleted once created). Returns 0 or an error (logged). */
int rp_partition_open(struct rp_manager *m, const char *topic, int32_t index, proto_uuid topic_id,
                      const struct topic_config *config, int32_t leader_epoch, struct rp_partition **out);
/* Called on the loop with partitions whose new logs were created off the loop and that are hosted now
 * (leader_id -1: the callback makes them leaders or followers as the image says at that moment). */
typedef void (*rp_opened_fn)(void *arg, struct rp_partition *const *ready, size_t n);
void rp_manager_set_opened(struct rp_manager *m, rp_opened_fn fn, void *arg);
/* A creation of this partition's log is queued or running (not cancelled). */
bool rp_partition_opening(struct rp_manager *m, const char *topic, int32_t index);
/* Applies a changed topic config to every hosted partition of the topic. */
void rp_topic_config_changed(struct rp_manager *m, const char *topic, const struct topic_config *config);
/* Deletes a partition's log and forgets it (topic deletion). */
void rp_partition_remove(struct rp_manager *m, const char *topic, int32_t index);

/* The hosted partition, or NULL. */
struct rp_partition *rp_partition_get(struct rp_manager *m, proto_str topic, int32_t index);

/* Appends validated batches as the leader (offsets assigned, leader epoch stamped), records the batches of
 * idempotent producers in p->producers (a producer-state snapshot is written first when the append
 * rolled a segment), moves the high watermark and wakes the watchers. Returns plog_append's result. */
int rp_append(struct rp_manager *m, struct rp_partition *p, uint8_t *batches, size_t len, int64_t now_ms,
              struct plog_append_info *info);

/* Calls done(arg, rc) once every append made to p so far is durable (fsynced off the loop). */
typedef void (*rp_flush_done_fn)(void *arg, int rc);
void rp_flush(struct rp_manager *m, struct rp_partition *p, rp_flush_done_fn done, void *arg);
/* True when the partition's flush policy (flush.messages / flush.ms) asks for a flush now. */
bool rp_flush_due(struct rp_manager *m, struct rp_partition *p);

/* ---- replication (driven by the metadata publisher and by Fetch) ---- */

/* This broker leads the partition at leader_epoch (image: replicas, ISR, partition epoch). Resets the
 * follower states when the epoch is new. Returns 0 or FERRY_ENOMEM. */
int rp_partition_make_leader(struct rp_manager *m, struct rp_partition *p, int32_t self, int32_t leader_epoch,
                             int32_t partition_epoch, const int32_t *replicas, int32_t nreplicas, const int32_t *isr,
                             int32_t nisr);
/* This broker follows `leader` (-1: no leader) at leader_epoch; a new leader or epoch sets truncate_check. */
void rp_partition_make_follower(struct rp_manager *m, struct rp_partition *p, int32_t leader, int32_t leader_epoch);
/* Turns a partition's fetching off or on (Kafka's ReplicaManager: StopReplica removes the fetcher,
 * LeaderAndIsr adds it back). While off, no fetcher fetches it whatever the image says; turning it on compares
 * epochs first (truncate_check). For a hosted partition (the lists of partitions following each leader
 * follow) or one whose log is being created (it is hosted with the setting, so that a StopReplica arriving
 * meanwhile is not lost). Returns whether a hosted partition's fetching changed (a partition being created
 * joins the fetchers once hosted). */
bool rp_set_fetching(struct rp_manager *m, proto_str topic, int32_t index, bool on);
/* p is a follower with a leader to fetch from now (not the leader, fetching not stopped). */
bool rp_partition_fetches_from(const struct rp_partition *p, int32_t leader);
/* The leader saw a Fetch from follower replica_id at fetch_offset: records it and moves the high
 * watermark (waking watchers). False if replica_id is not a replica or this broker is not the leader. */
bool rp_partition_follower_fetched(struct rp_manager *m, struct rp_partition *p, int32_t replica_id,
                                   int64_t fetch_offset);
/* Periodic high-watermark check (a caught-up replica outside the ISR stops holding it back once the lag
 * window passes); true when the high watermark moved (watchers woken). */
bool rp_partition_update_hw(struct rp_manager *m, struct rp_partition *p);
/* Appends batches fetched from the leader as they are (offsets and leader epochs kept; CRCs were checked
 * by the caller), replays producer state, and wakes watchers. Returns plog_append's result. */
int rp_append_follower(struct rp_manager *m, struct rp_partition *p, uint8_t *batches, size_t len,
                       struct plog_append_info *info);
/* A follower behind the leader's log start offset starts its log over there (plog_truncate_fully), the high
 * watermark with it. Returns plog_truncate_fully's result. */
int rp_partition_restart_log(struct rp_manager *m, struct rp_partition *p, int64_t offset);
/* A follower's log start offset follows the leader's (plog_advance_log_start_offset). */
void rp_partition_advance_log_start(struct rp_manager *m, struct rp_partition *p, int64_t offset);
/* A follower's high watermark: min(leader's, local log end); only forward. */
void rp_partition_follower_hw(struct rp_manager *m, struct rp_partition *p, int64_t leader_hw);
/* Truncates a follower's log to `offset` (divergence from the leader), rebuilding its producer state.
 * FERRY_EEXIST while a flush or compaction holds the log (retry later). */
int rp_partition_truncate(struct rp_manager *m, struct rp_partition *p, int64_t offset);

/* The partitions that fetch from `leader` (rp_partition_fetches_from), kept up to date by every change of
 * role, leader or fetching, so that a replica fetcher's round visits only its own partitions: the first (NULL
 * when none), then rp_following_next until NULL. Nothing may be opened or removed during a walk. */
struct rp_partition *rp_following_first(struct rp_manager *m, int32_t leader);
struct rp_partition *rp_following_next(const struct rp_partition *p);
size_t rp_following_count(struct rp_manager *m, int32_t leader);
/* The leaders that at least one hosted partition fetches from, at most cap of them in out; returns how many
 * there are. */
size_t rp_following_leaders(struct rp_manager *m, int32_t *out, size_t cap);

/* How many hosted partitions the housekeeping pass visits every second: those with unflushed data, segment
 * files awaiting deletion, producer state, a compacted log, or a flush running (every hosted partition is
 * visited when retention is checked, log.retention.check.interval.ms). For tests and diagnostics. */
size_t rp_busy_count(struct rp_manager *m);

/* Calls fn for every hosted partition (fn must not open or remove partitions). */
void rp_foreach(struct rp_manager *m, void (*fn)(void *arg, struct rp_partition *p), void *arg);

void rp_watch(struct rp_manager *m, struct rp_watcher *w);
void rp_unwatch(struct rp_manager *m, struct rp_watcher *w);

/* Wall-clock milliseconds (record timestamps, retention). */
int64_t rp_now_ms(void);

#endif
