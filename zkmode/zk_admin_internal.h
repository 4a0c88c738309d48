/* zk_admin_internal: the state of one admin operation, shared by zk_admin.c (load, decide, answer) and
 * zk_admin_write.c (records into znodes, waiting for the image). Not for use outside zkmode/. */
#ifndef FERRY_ZK_ADMIN_INTERNAL_H
#define FERRY_ZK_ADMIN_INTERNAL_H

#include "zk_admin.h"
#include "zk_source_internal.h"
#include "zkmode/znode/znode_codec.h"

#define ZK_DEFAULT_ENTITY "<default>"

enum zk_admin_kind { ZK_ADMIN_CREATE, ZK_ADMIN_AUTO, ZK_ADMIN_DELETE, ZK_ADMIN_PARTITIONS, ZK_ADMIN_ALTER,
                     ZK_ADMIN_INCREMENTAL };

struct zk_admin_op;

/* /brokers/topics/<name> as read (found false: absent). */
struct zk_topic_read {
    struct zk_admin_op *op;
    char *name;
    bool found;
    int zkversion;
    zk_topic_assignment asg;
};

/* /config/<topics|brokers>/<name> as read; name "" is the default broker entity. */
struct zk_cfg_read {
    struct zk_admin_op *op;
    int8_t type;
    char *name;
    bool found;
    zk_config_entity cfg;
};

struct zk_write; /* zk_admin_write.c */

struct zk_admin_op {
    struct zk_admin_op *next; /* z->admin_ops */
    struct zk_src *z;
    enum zk_admin_kind kind;
    const void *req;
    int16_t version;
    struct proto_arena *a;
    void *resp;
    md_done_fn done;
    void *arg;
    /* auto-creation */
    char **auto_names;
    size_t nauto;
    int16_t *auto_errors;
    /* load */
    int pending;
    int load_rc;
    char **names; /* children of /brokers/topics */
    int32_t nnames;
    struct zk_topic_read *topics;
    int32_t ntopics;
    struct zk_cfg_read *cfgs;
    int32_t ncfgs;
    /* decide */
    struct md_image view;
    struct proto_arena rec_arena;
    struct ctrl_records recs;
    /* write and wait */
    struct zk_write *writes;
    int32_t nwrites;
    int writes_left;
    int64_t deadline_ms; /* > 0: waiting for the image until then */
    int attempt;         /* CreatePartitions: 0, then 1.. for the retries of topics that changed meanwhile */
};

/* zk_admin.c */
const struct zk_topic_read *zk_admin_topic_read(const struct zk_admin_op *op, const char *name);
/* Frees the operation and runs its completion (not after stop). */
void zk_admin_answer(struct zk_admin_op *op);
void zk_config_path(int8_t type, const char *name, char *out, size_t outlen);

/* The topic as read is being reassigned (adding or removing replicas in its znode): Kafka's ZkAdminManager
 * refuses CreatePartitions for it (REASSIGNMENT_IN_PROGRESS) and nothing is written. */
bool zk_admin_reassigning(const struct zk_topic_read *tr);
/* CreatePartitions lost the version-checked setData of the n topics `names` (BADVERSION: the znode changed
 * after it was read; Kafka's AdminZkClient writes unchecked and would have lost the other update): a new
 * operation reads and decides those topics again, its results replace theirs in op's response, then op is
 * answered. False when no retry is left (op->attempt) or none could start: the caller answers. */
bool zk_admin_partitions_retry(struct zk_admin_op *op, const char *const *names, int32_t n);

/* zk_admin_write.c: the decided records into znodes, then the answer (possibly after waiting). */
void zk_admin_write(struct zk_admin_op *op);
void zk_admin_writes_free(struct zk_admin_op *op);

#endif
