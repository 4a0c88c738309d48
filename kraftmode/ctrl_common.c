/* ctrl_common: the controller's environment, record lists, topic ids and record versions. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/config/config.h"
#include "kraftmode/ctrl.h"

void ctrl_env_default(struct ctrl_env *env, uint64_t (*rand)(void *), void *rand_arg)
{
    memset(env, 0, sizeof *env);
    env->node_id = 1;
    env->num_partitions = 1;
    env->default_replication_factor = 1;
    env->delete_topic_enable = true;
    env->offsets_topic_num_partitions = 50;
    env->offsets_topic_replication_factor = 3;
    env->offsets_topic_segment_bytes = 104857600;
    env->txn_topic_num_partitions = 50;
    env->txn_topic_replication_factor = 3;
    env->txn_topic_min_isr = 2;
    env->txn_topic_segment_bytes = 104857600;
    env->unclean_leader_election_enable = false;
    env->zk_migration_enabled = false;
    env->broker_session_timeout_ms = 9000;
    env->auto_leader_rebalance_enable = true;
    env->leader_imbalance_check_interval_ms = 300000;
    env->rand = rand;
    env->rand_arg = rand_arg;
}

void ctrl_env_from_config(struct ctrl_env *env, const struct ferry_config *cfg, uint64_t (*rand)(void *),
                          void *rand_arg)
{
    ctrl_env_default(env, rand, rand_arg);
    env->node_id = cfg->node_id;
    env->num_partitions = cfg->num_partitions;
    env->default_replication_factor = cfg->default_replication_factor;
    env->delete_topic_enable = cfg->delete_topic_enable;
    env->offsets_topic_num_partitions = cfg->offsets_topic_num_partitions;
    env->offsets_topic_replication_factor = cfg->offsets_topic_replication_factor;
    env->offsets_topic_segment_bytes = cfg->offsets_topic_segment_bytes;
    env->txn_topic_num_partitions = cfg->transaction_state_log_num_partitions;
    env->txn_topic_replication_factor = cfg->transaction_state_log_replication_factor;
    env->txn_topic_min_isr = cfg->transaction_state_log_min_isr;
    env->txn_topic_segment_bytes = cfg->transaction_state_log_segment_bytes;
    env->unclean_leader_election_enable = cfg->unclean_leader_election_enable;
    env->zk_migration_enabled = cfg->zookeeper_metadata_migration_enable;
    env->broker_session_timeout_ms = cfg->broker_session_timeout_ms;
    env->auto_leader_rebalance_enable = cfg->auto_leader_rebalance_enable;
    env->leader_imbalance_check_interval_ms = cfg->leader_imbalance_check_interval_seconds * 1000;
    env->broker_cfg = cfg;
}

void ctrl_records_init(struct ctrl_records *r, struct proto_arena *a)
{
    memset(r, 0, sizeof *r);
    r->a = a;
}

void ctrl_records_free(struct ctrl_records *r)
{
    ferry_free(r->recs);
    r->recs = NULL;
    r->n = r->cap = 0;
}

void *ctrl_records_add(struct ctrl_records *r, const struct proto_message *m, int16_t version)
{
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        struct metalog_rec *p = ferry_realloc(r->recs, ncap * sizeof *p);
        if (!p)
            return NULL;
        r->recs = p;
        r->cap = ncap;
    }
    void *obj = proto_arena_alloc(r->a, m->body->size ? m->body->size : 1);
    if (!obj)
        return NULL;
    proto_struct_init(m->body, obj);
    r->recs[r->n++] = (struct metalog_rec){m, version, obj};
    return obj;
}

void ctrl_records_truncate(struct ctrl_records *r, size_t n)
{
    if (n < r->n)
        r->n = n;
}

proto_uuid ctrl_random_topic_id(const struct md_image *img, const struct ctrl_env *env)
{
    for (;;) {
        proto_uuid u;
        uint64_t hi = env->rand(env->rand_arg), lo = env->rand(env->rand_arg);
        hi = (hi & ~0xf000ULL) | 0x4000ULL;                           /* version 4 */
        lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  /* IETF variant */
        for (int i = 0; i < 8; i++) {
            u.b[i] = (uint8_t)(hi >> (56 - 8 * i));
            u.b[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
        }
        proto_uuid meta = {{0}};
        meta.b[15] = 1;
        char s[23];
        proto_uuid_to_base64(u, s);
        if (proto_uuid_is_zero(u) || proto_uuid_eq(u, meta) || s[0] == '-' || (img && md_image_topic_by_id(img, u)))
            continue;
        return u;
    }
}

/* metadata.version levels (MetadataVersion.java). */
#define MV_3_3_IV3 7
#define MV_3_4_IV0 8
#define MV_3_6_IV1 13
#define MV_3_7_IV2 17
#define MV_3_8_IV0 20

int16_t ctrl_partition_record_version(int16_t mv) { return mv >= MV_3_8_IV0 ? 2 : mv >= MV_3_7_IV2 ? 1 : 0; }

int16_t ctrl_register_broker_record_version(int16_t mv)
{
    return mv >= MV_3_7_IV2 ? 3 : mv >= MV_3_4_IV0 ? 2 : mv >= MV_3_3_IV3 ? 1 : 0;
}

int16_t ctrl_broker_registration_change_version(int16_t mv)
{
    return mv >= MV_3_7_IV2 ? 2 : mv >= MV_3_3_IV3 ? 1 : 0;
}

bool ctrl_mv_supports_transactions(int16_t mv) { return mv >= MV_3_6_IV1; }
