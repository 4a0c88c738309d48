/* zkctl_internal: the controller core's state, shared by the zkctl_*.c files of zkmode/controller only.
 * The core owns everything here; see zkctl.h for the contract. */
#ifndef FERRY_ZKCTL_INTERNAL_H
#define FERRY_ZKCTL_INTERNAL_H

#include "zkctl.h"

#define ZC_MOD "zkctl"
#define ZC_NO_LEADER (-1)
#define ZC_LEADER_DURING_DELETE (-2)
#define ZC_EPOCH_DURING_DELETE (-2)

struct zc_ep {
    char *listener;
    char *host;
    int32_t port;
    int16_t sp;
};

struct zc_broker {
    int32_t id;
    int64_t epoch;
    size_t n_ep;
    struct zc_ep *ep;
    char *rack;
    bool shutting_down;
};

/* Partition flags: edge-triggered work that the reconcile pass finishes (Kafka's one-shot transitions). */
#define ZC_F_SHRINK_DEAD 1u  /* a broker in the ISR died: remove dead brokers from the ISR */
#define ZC_F_CS 2u           /* controlled shutdown: move leadership off / drop shutting-down followers */
#define ZC_F_PREFERRED 4u    /* preferred-leader election requested */
#define ZC_F_UNCLEAN 8u      /* ElectLeaders UNCLEAN: an offline partition may elect a replica outside the ISR */

enum zc_del_state { ZC_DEL_PENDING = 0, ZC_DEL_STARTED, ZC_DEL_SUCCESS, ZC_DEL_INELIGIBLE };

/* Leader, epoch and ISR: a state znode's decision part. */
struct zc_lisr {
    int32_t leader;
    int32_t leader_epoch;
    int8_t lrs;
    size_t n_isr;
    int32_t *isr;
};

struct zc_part {
    int32_t id;
    size_t n_replicas;
    int32_t *replicas;
    bool has_state;
    bool bad_state;  /* undecodable state znode: left alone, logged */
    struct zc_lisr st;
    int32_t ctrl_epoch;
    int32_t zkv;
    uint64_t busy;   /* id of the znode op in flight for this partition, 0 if none */
    unsigned flags;
    uint8_t *del;    /* per replica (index as replicas), zc_del_state */
    size_t n_offline;
    int32_t *offline; /* brokers whose replica is on an offline log dir (KAFKA_STORAGE_ERROR) */
    struct zc_ra *ra; /* the reassignment in progress (zkctl_reassign.c), NULL if none */
    bool from_image;  /* st and zkv are the image's (image takeover), not yet seen in ZooKeeper */
};

struct zc_topic {
    char *name;
    proto_uuid id;
    bool has_unclean, unclean;
    bool deleting;
    bool parents_made;   /* /brokers/topics/<t>/partitions create issued */
    size_t n_parts;
    struct zc_part *parts;
    size_t del_step;     /* next znode to delete once every replica stopped */
    uint64_t del_busy;
};

/* ZC_P_GROUP: one multi holding several partition-state writes (members), see zc_zk_state_op. */
/* ZC_P_ADMIN: a write of an /admin request znode (rewrite or delete), whose result is only logged. */
enum zc_pend_kind { ZC_P_PARENT = 1, ZC_P_CREATE, ZC_P_SET, ZC_P_READ, ZC_P_DELETE, ZC_P_ALTER, ZC_P_GROUP,
                    ZC_P_ADMIN };
/* The result a member of a failed group gets when another member's op failed: nothing was applied. */
#define ZC_ZK_NOT_APPLIED ((enum zkctl_zk_rc)100)
/* State writes per group multi, and the bytes of paths and data in one (ZooKeeper's jute.maxbuffer is
 * 1 MiB by default). */
#define ZC_GROUP_MAX_OPS 100
#define ZC_GROUP_MAX_BYTES (256 * 1024)
/* Partition-state writes (creations, leader and ISR changes): counted in zkctl.n_state_writes. */
static inline bool zc_pend_is_state_write(enum zc_pend_kind k)
{
    return k == ZC_P_CREATE || k == ZC_P_SET || k == ZC_P_ALTER;
}

struct zc_alter;

struct zc_pending {
    uint64_t id;
    enum zc_pend_kind kind;
    char *topic;
    int32_t partition;
    struct zc_lisr prop;   /* CREATE/SET/ALTER: the state written */
    int32_t old_leader;
    size_t n_skip;         /* shutting-down followers dropped: StopReplica instead of LeaderAndIsr */
    int32_t *skip;
    struct zc_alter *alter; /* ALTER */
    size_t alter_t, alter_p;
    size_t n_members;      /* GROUP: the ids of the member writes, in op order (op i + 1 is member i) */
    uint64_t *members;
};

struct zc_alter_part {
    int32_t partition;
    int32_t leader_epoch;
    int32_t pepoch;
    int8_t lrs;
    size_t n_isr;
    int32_t *isr;
    int16_t err;
    bool ok;
    struct zc_lisr res;
    int32_t res_pepoch;
};
struct zc_alter_topic {
    char *name;  /* NULL: unknown topic id */
    proto_uuid id;
    size_t n;
    struct zc_alter_part *parts;
};
struct zc_alter {
    uint64_t token;
    int16_t version;
    int32_t broker;
    int64_t broker_epoch;
    size_t n_topics;
    struct zc_alter_topic *topics;
    bool started;
    size_t outstanding;
    struct zc_alter *next;
};
/* A partition reassignment (Kafka's ReplicaAssignment and onPartitionReassignment), zkctl_reassign.c. While
 * it runs, the partition's replicas are the union (target first, then the origin's others); adding and
 * removing are what the topic znode and LeaderAndIsr carry. */
enum zc_ra_phase {
    ZC_RA_BUMP,      /* write the leader epoch + 1 (ISR within the union): LeaderAndIsr to every replica */
    ZC_RA_BUMPING,   /* that write in flight */
    ZC_RA_WAIT,      /* until every target replica is in the ISR (AlterPartition from the leader) */
    ZC_RA_FINISH,    /* replicas = target: write the leader (kept, or the first live target in the ISR) and
                        the ISR within the target */
    ZC_RA_FINISHING, /* that write in flight; then StopReplica(delete) to the removed, the final topic znode */
};
struct zc_ra {
    struct zc_ra *next;
    char *topic;
    int32_t partition;
    enum zc_ra_phase phase;
    int32_t expect_epoch; /* the leader epoch our write in flight gives */
    size_t n_origin, n_target, n_stop, n_adding, n_removing;
    int32_t *origin, *target;
    int32_t *stop;        /* replicas to stop and delete once the next write lands */
    int32_t *adding, *removing; /* replicas - origin, replicas - target (empty from ZC_RA_FINISH) */
};
/* An ElectLeaders request waiting for its elections (zkctl_admin.c). */
struct zc_elreq;

struct zc_cs {
    uint64_t token;
    int16_t version;
    int32_t broker;
    struct zc_cs *next;
};

/* The requests being gathered during one event (Kafka's AbstractControllerBrokerRequestBatch). */
struct zc_tp {
    struct zc_topic *t;
    size_t part; /* index in t->parts, not a pointer: new partitions (only ever appended) may move the array
                  * while a batch waits for its writes */
    bool flag;  /* LeaderAndIsr: IsNew; StopReplica: DeletePartition */
    int32_t epoch;  /* StopReplica: leader epoch */
};
/* A list of partitions without duplicates: entries in insertion order, and an open-addressing index by
 * (topic, partition index) (slot = entry index + 1, 0 empty) so that adding stays O(1). */
struct zc_tplist {
    size_t n, cap;
    struct zc_tp *v;
    size_t n_slots; /* a power of two, at least twice cap; 0: no index yet */
    size_t *slots;
};
struct zc_brq {
    int32_t broker;
    struct zc_tplist lair, sr;
};
/* Entries (partitions and brokers) at which a growing batch is sent even with state writes in flight. */
#define ZC_BATCH_MAX_ENTRIES 20000
struct zc_batch {
    size_t n_brq;
    struct zc_brq *brq;
    size_t n_um_brokers;
    int32_t *um_brokers;
    struct zc_tplist um_parts;
};

struct zkctl {
    zkctl_config cfg;
    char *ibl;
    bool active;
    int32_t epoch, epoch_zkv;
    int64_t now_ms, next_rebalance_ms;
    uint64_t next_id;
    size_t n_brokers;
    struct zc_broker *brokers;
    size_t n_topics;
    struct zc_topic **topics;
    size_t n_pend, pend_cap; /* znode operations in flight: a table of pend_cap slots (a power of two) */
    struct zc_pending **pend;
    zkctl_action *group;       /* the group multi being filled during this event (not queued yet) */
    struct zc_pending *group_pd;
    size_t group_bytes;
    size_t n_state_writes; /* pending entries that are partition-state writes */
    size_t n_decided;      /* partitions decided (reconcile_one calls), for zkctl_partitions_decided */
    struct zc_alter *alters;
    struct zc_cs *css;
    struct zc_ra *ras;          /* reassignments in progress */
    struct zc_elreq *elreqs;    /* ElectLeaders requests waiting */
    zk_admin_partitions zk_reassign; /* /admin/reassign_partitions as the controller keeps it */
    struct zc_batch batch;
    zkctl_action *q_head, *q_tail;
    int err;  /* first FERRY_ENOMEM during an event */
};

/* zkctl.c */
void zc_set_error(zkctl *c, int err);
/* The end of every event: reconcile, send the batch, return (and clear) the event's first error. */
int zc_finish(zkctl *c);
/* The same for an event that changed only the partitions ps[i] of ts[i] (znode results; NULL entries:
 * none), without the pass over every partition. */
int zc_finish_parts(zkctl *c, struct zc_topic *const *ts, struct zc_part *const *ps, size_t n);
void zc_do_resign(zkctl *c);
struct zc_broker *zc_broker_find(const zkctl *c, int32_t id);
bool zc_live(const zkctl *c, int32_t id);    /* registered and not shutting down */
bool zc_up(const zkctl *c, int32_t id);      /* registered (live or shutting down) */
/* A replica: its broker live (resp. up) and its log dir not offline (Kafka's isReplicaOnline). */
bool zc_replica_live(const zkctl *c, const struct zc_part *p, int32_t id);
bool zc_replica_up(const zkctl *c, const struct zc_part *p, int32_t id);
/* Forgets broker's offline log dirs (it restarted or left). */
void zc_offline_clear(zkctl *c, int32_t broker);
struct zc_topic *zc_topic_find(const zkctl *c, const char *name);
struct zc_topic *zc_topic_find_id(const zkctl *c, proto_uuid id);
struct zc_part *zc_part_find(const struct zc_topic *t, int32_t id);
bool zc_contains(const int32_t *v, size_t n, int32_t x);
void zc_lisr_free(struct zc_lisr *l);
int zc_lisr_copy(struct zc_lisr *dst, const struct zc_lisr *src);
void zc_state_path(char *buf, size_t cap, const char *topic, int32_t partition);

/* zkctl_actions.c */
void zc_enqueue(zkctl *c, zkctl_action *a);
/* A new action with a zeroed body of body_size bytes in its arena (none when 0); NULL on FERRY_ENOMEM. */
zkctl_action *zc_action_new(enum zkctl_action_kind kind, int16_t api_key, int16_t api_version, size_t body_size);
/* Queues the fenced multi [check, op] (op path/data copied); returns its id or 0 after FERRY_ENOMEM. The id
 * is also pd's (when not NULL), which zc_pending_find then finds in O(1). */
uint64_t zc_zk_op(zkctl *c, struct zc_pending *pd, enum zkctl_op_kind kind, const char *path, const char *data,
                  size_t len, int32_t version);
uint64_t zc_zk_read(zkctl *c, struct zc_pending *pd, const char *path);
/* A partition-state write (pd CREATE or SET) as one op of the group multi being filled: one ZooKeeper
 * transaction for up to ZC_GROUP_MAX_OPS writes, fenced by its epoch check. Other znode actions close the
 * group first (queue order is kept), except parent creates, which go before it. Returns pd's id or 0
 * after FERRY_ENOMEM. */
uint64_t zc_zk_state_op(zkctl *c, struct zc_pending *pd, enum zkctl_op_kind kind, const char *path,
                        const char *data, size_t len, int32_t version);
/* Queues the group being filled, if any. */
void zc_group_close(zkctl *c);
/* Drops the group being filled (its entries stay in the table: zc_pending_clear frees them). */
void zc_group_drop(zkctl *c);
/* A new entry (its own allocation: the pointer stays valid until zc_pending_drop), found by id once an op
 * is issued for it; NULL after FERRY_ENOMEM. */
struct zc_pending *zc_pending_add(zkctl *c, enum zc_pend_kind kind, const char *topic, int32_t partition);
struct zc_pending *zc_pending_find(zkctl *c, uint64_t id);
void zc_pending_drop(zkctl *c, struct zc_pending *p); /* NULL: nothing */
void zc_pending_clear(zkctl *c);

/* zkctl_state.c */
/* Writes a state znode (create when !has_state, set otherwise) with prop; marks p busy. */
int zc_write_state(zkctl *c, struct zc_topic *t, struct zc_part *p, const struct zc_lisr *prop,
                   enum zc_pend_kind kind, struct zc_pending **out);
void zc_reconcile(zkctl *c);
/* zc_reconcile for the partitions ps[i] of ts[i] only (NULL entries: none), with the request and deletion
 * progress. */
void zc_reconcile_parts(zkctl *c, struct zc_topic *const *ts, struct zc_part *const *ps, size_t n);

/* zkctl_model.c: copies of the inputs (0, FERRY_EINVAL for zc_*_check, FERRY_ENOMEM) */
int zc_broker_check(const zkctl_broker *in);
void zc_broker_clear(struct zc_broker *b);
int zc_broker_fill(struct zc_broker *b, const zkctl_broker *in);
int zc_broker_add(zkctl *c, const zkctl_broker *in);
int zc_assignment_check(const zk_topic_assignment *a);
int zc_part_add(struct zc_topic *t, const zk_partition_replicas *pr);
int zc_topic_add(zkctl *c, const char *name, const zk_topic_assignment *a, struct zc_topic **out);
int zc_state_adopt(zkctl *c, struct zc_part *p, const zk_partition_state *s, int32_t zkv);
/* Kafka's ReplicaStateMachine.startup: replicas on brokers that are not up leave the ISR (ZC_F_SHRINK_DEAD). */
void zc_mark_dead_members(const zkctl *c, struct zc_part *p);
/* LeaderAndIsr for p to its up replicas and UpdateMetadata for it (what a failover sends for every partition). */
void zc_part_announce(zkctl *c, struct zc_topic *t, struct zc_part *p);
void zc_model_clear(zkctl *c);
void zc_delete_requested(zkctl *c, const char *name);

/* zkctl_elect.c: the decisions of one reconcile pass for one partition. Returns true and fills out when
 * the state should change (leader epoch already bumped); skip receives shutting-down followers dropped. */
bool zc_decide(const zkctl *c, const struct zc_topic *t, const struct zc_part *p, struct zc_lisr *out,
               int32_t **skip, size_t *n_skip, int *err);
void zc_rebalance_check(zkctl *c);

/* zkctl_batch.c */
/* Copies into arena a for a wire struct (a null string for NULL); *err = FERRY_ENOMEM on failure. */
proto_str zc_astr(struct proto_arena *a, const char *s, int *err);
int32_t *zc_aints(struct proto_arena *a, const int32_t *v, size_t n, int *err);
void zc_batch_lair(zkctl *c, int32_t broker, struct zc_topic *t, struct zc_part *p, bool is_new);
void zc_batch_um_brokers(zkctl *c, int32_t broker);
void zc_batch_um_all_brokers(zkctl *c);
void zc_batch_um_part(zkctl *c, struct zc_topic *t, struct zc_part *p);
void zc_batch_sr(zkctl *c, int32_t broker, struct zc_topic *t, struct zc_part *p, bool del, int32_t epoch);
/* LeaderAndIsr for p to its replicas that are up (except skip), and UpdateMetadata to all. */
void zc_batch_partition_change(zkctl *c, struct zc_topic *t, struct zc_part *p, bool is_new,
                               const int32_t *skip, size_t n_skip);
/* Sends the batch: per broker (ascending id) LeaderAndIsr, UpdateMetadata, StopReplica. */
void zc_batch_flush(zkctl *c);
void zc_batch_forget_topic(zkctl *c, const struct zc_topic *t);
void zc_batch_free(struct zc_batch *b);

/* zkctl_requests.c */
void zc_requests_progress(zkctl *c);
void zc_alter_result(zkctl *c, struct zc_pending *pd, enum zkctl_zk_rc rc, int32_t version);
void zc_requests_fail_all(zkctl *c, int16_t err);
void zc_requests_free(zkctl *c);

/* zkctl_admin.c: ElectLeaders and /admin/preferred_replica_election; with zkctl_reassign.c, the progress of
 * both kinds of admin work, called by zc_requests_progress, and their end at resign / free. */
void zc_admin_progress(zkctl *c);
/* Resign (respond: waiting ElectLeaders get NOT_CONTROLLER) or free: the admin work is dropped. */
void zc_admin_end(zkctl *c, bool respond);
/* A fenced write (set with data, or delete when data is NULL) of an /admin znode, any version. */
void zc_admin_znode_write(zkctl *c, const char *path, const char *data, size_t len);
zkctl_action *zc_respond_action(uint64_t token, int16_t key, int16_t version, size_t size);

/* zkctl_reassign.c */
void zc_reassign_progress(zkctl *c);
void zc_reassign_clear(zkctl *c);
/* A topic znode read at takeover with adding/removing replicas: those reassignments resume. */
void zc_reassign_adopt(zkctl *c, struct zc_topic *t, const zk_topic_assignment *a);
/* LeaderAndIsr's AddingReplicas and RemovingReplicas for p, in arena a; 0 or FERRY_ENOMEM. */
int zc_reassign_lair_lists(const struct zc_part *p, struct proto_arena *a, int32_t **adding, int32_t *n_adding,
                           int32_t **removing, int32_t *n_removing);

/* zkctl_model.c: a fenced setData of /brokers/topics/<name> (any version) with a, written as version 3. */
void zc_topic_znode_write(zkctl *c, const char *name, const zk_topic_assignment *a);

/* zkctl_delete.c */
void zc_delete_progress(zkctl *c);
void zc_delete_result(zkctl *c, struct zc_pending *pd, enum zkctl_zk_rc rc);
void zc_delete_broker_up(zkctl *c, int32_t broker);
void zc_delete_broker_down(zkctl *c, int32_t broker);
int zc_delete_start(zkctl *c, struct zc_topic *t);
void zc_topic_free(struct zc_topic *t);
void zc_topic_remove(zkctl *c, struct zc_topic *t);

#endif
