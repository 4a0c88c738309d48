/* ctrl_partition_change: Kafka 3.7's PartitionChangeBuilder (leader election, ISR change, reassignment
 * completion, leader-epoch bumps, directories) and ReplicationControlManager.generateLeaderAndIsrUpdates,
 * which every lifecycle decision (fence, unfence, controlled shutdown, unregister) uses to move
 * leadership and ISR membership. Eligible leader replicas (KIP-966) are off, as in Kafka 3.7 by default:
 * a record of version 2 only clears ELR fields left by a later version. */
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/metadata/md_image.h"
#include "kraftmode/ctrl_internal.h"

/* metadata.version levels (MetadataVersion.java). */
#define MV_3_2_IV0 3  /* leader recovery state */
#define MV_3_6_IV0 12 /* no leader-epoch bump on ISR shrink */
#define MV_3_7_IV2 17 /* directory assignment */

#define LRS_RECOVERING 1

static proto_uuid dir_const(uint8_t low)
{
    proto_uuid u = {{0}};
    u.b[15] = low;
    return u;
}

proto_uuid ctrl_default_dir(const struct md_image *img, int32_t broker)
{
    const struct md_broker *b = md_image_broker(img, broker);
    if (!b)
        return dir_const(1); /* UNASSIGNED */
    if (b->nlog_dirs == 0)
        return dir_const(0); /* MIGRATING */
    return b->nlog_dirs == 1 ? b->log_dirs[0] : dir_const(1);
}

/* The directory of a replica in the partition (MIGRATING when the partition carries none). */
static proto_uuid replica_dir(const struct md_partition *p, int32_t broker)
{
    for (int32_t i = 0; i < p->replicas.n; i++)
        if (p->replicas.v[i] == broker)
            return i < p->ndirs ? p->dirs[i] : dir_const(0);
    return dir_const(0);
}

/* DirectoryId.isOnline against the broker's registered directories. */
static bool has_online_dir(const struct md_broker *b, proto_uuid dir)
{
    if (proto_uuid_eq(dir, dir_const(0)) || proto_uuid_eq(dir, dir_const(1)))
        return true;
    if (proto_uuid_eq(dir, dir_const(2)))
        return false;
    if (b->nlog_dirs == 0)
        return true;
    for (int32_t i = 0; i < b->nlog_dirs; i++)
        if (proto_uuid_eq(b->log_dirs[i], dir))
            return true;
    return false;
}

void ctrl_pcb_init(struct ctrl_pcb *b, const struct md_image *img, const struct ctrl_env *env,
                   const struct md_topic *t, const struct md_partition *p)
{
    memset(b, 0, sizeof *b);
    b->img = img;
    b->topic = t;
    b->part = p;
    b->election = CTRL_ELECT_ONLINE;
    b->remove_broker = -1;
    b->add_broker = -1;
    b->target_lrs = -1;
    b->zk_migration = env->zk_migration_enabled;
}

bool ctrl_unclean_enabled(const struct md_image *img, const struct ctrl_env *env, const struct md_topic *t)
{
    const char *v = md_configs_get(md_image_configs(img, MD_RESOURCE_TOPIC, t->name), "unclean.leader.election.enable");
    if (v)
        return strcmp(v, "true") == 0;
    return env->unclean_leader_election_enable;
}

/* Kafka's LeaderAcceptor: an active broker (or add_broker), never remove_broker, whose replica directory
 * is online. */
static bool acceptable(const struct ctrl_pcb *b, int32_t r)
{
    if (r < 0 || r == b->remove_broker)
        return false;
    const struct md_broker *br = md_image_broker(b->img, r);
    if (!br || (r != b->add_broker && !md_broker_is_active(br)))
        return false;
    return has_online_dir(br, replica_dir(b->part, r));
}

/* Working lists of one build. */
struct lists {
    struct md_ints isr, replicas, removing, adding;
};

static bool ints_has(const int32_t *v, int32_t n, int32_t x)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

static bool ints_eq(const int32_t *a, int32_t na, const struct md_ints *b)
{
    return na == b->n && (na == 0 || memcmp(a, b->v, (size_t)na * sizeof *a) == 0);
}

/* a contains every element of b (Replicas.contains). */
static bool ints_superset(const struct md_ints *a, const struct md_ints *b)
{
    for (int32_t i = 0; i < b->n; i++)
        if (!ints_has(a->v, a->n, b->v[i]))
            return false;
    return true;
}

static bool is_valid_leader(const struct ctrl_pcb *b, const struct lists *l, int32_t r)
{
    return ints_has(l->isr.v, l->isr.n, r) && acceptable(b, r);
}

/* electLeader: the new leader and whether the election was unclean. */
static int32_t elect(const struct ctrl_pcb *b, const struct lists *l, bool *unclean)
{
    *unclean = false;
    const struct md_partition *p = b->part;
    if (b->election == CTRL_ELECT_PREFERRED) {
        if (l->replicas.n > 0 && is_valid_leader(b, l, l->replicas.v[0]))
            return l->replicas.v[0];
        if (is_valid_leader(b, l, p->leader))
            return p->leader;
        for (int32_t i = 1; i < l->replicas.n; i++)
            if (is_valid_leader(b, l, l->replicas.v[i]))
                return l->replicas.v[i];
        return MD_NO_LEADER;
    }
    if (is_valid_leader(b, l, p->leader))
        return p->leader;
    for (int32_t i = 0; i < l->replicas.n; i++)
        if (is_valid_leader(b, l, l->replicas.v[i]))
            return l->replicas.v[i];
    if (b->election == CTRL_ELECT_UNCLEAN) {
        for (int32_t i = 0; i < l->replicas.n; i++)
            if (acceptable(b, l->replicas.v[i])) {
                *unclean = true;
                return l->replicas.v[i];
            }
    }
    return MD_NO_LEADER;
}

/* `from` minus the members of `drop`, into `to` (capacity from->n). */
static void ints_without(const struct md_ints *from, const struct md_ints *drop, struct md_ints *to)
{
    to->n = 0;
    for (int32_t i = 0; i < from->n; i++)
        if (!ints_has(drop->v, drop->n, from->v[i]))
            to->v[to->n++] = from->v[i];
}

/* completeReassignmentIfNeeded (PartitionReassignmentReplicas.maybeCompleteReassignment). */
static void complete_reassignment(struct lists *l, int32_t *isr_buf, int32_t *rep_buf)
{
    if (l->removing.n == 0 && l->adding.n == 0)
        return;
    struct md_ints isr = {isr_buf, 0}, reps = {rep_buf, 0};
    ints_without(&l->isr, &l->removing, &isr);
    ints_without(&l->replicas, &l->removing, &reps);
    if (l->removing.n > 0 && (isr.n == 0 || reps.n == 0))
        return;
    for (int32_t i = 0; i < l->adding.n; i++)
        if (!ints_has(isr.v, isr.n, l->adding.v[i]))
            return;
    l->isr = isr;
    l->replicas = reps;
    l->removing.n = 0;
    l->adding.n = 0;
}

static int32_t *arena_copy(struct proto_arena *a, const int32_t *v, int32_t n)
{
    int32_t *p = proto_arena_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof *p);
    if (p && n > 0)
        memcpy(p, v, (size_t)n * sizeof *p);
    return p;
}

static bool set_list(struct proto_arena *a, int32_t **field, int32_t *field_n, const int32_t *v, int32_t n)
{
    *field = arena_copy(a, v, n);
    *field_n = n;
    return *field != NULL;
}

static bool record_is_noop(const struct PartitionChangeRecord *r)
{
    return r->Isr_n < 0 && r->EligibleLeaderReplicas_n < 0 && r->LastKnownELR_n < 0 &&
           r->Leader == MD_LEADER_UNCHANGED && r->Replicas_n < 0 && r->RemovingReplicas_n < 0 &&
           r->AddingReplicas_n < 0 && r->LeaderRecoveryState == -1 && r->Directories_n < 0;
}

/* setAssignmentChanges: directories (from 3.7-IV2) and replica lists that differ. */
static bool set_assignment(const struct ctrl_pcb *b, const struct lists *l, int16_t mv, struct proto_arena *a,
                           struct PartitionChangeRecord *r)
{
    const struct md_partition *p = b->part;
    if (l->replicas.n > 0) {
        if (mv >= MV_3_7_IV2) {
            proto_uuid *dirs = proto_arena_alloc(a, (size_t)l->replicas.n * sizeof *dirs);
            if (!dirs)
                return false;
            bool same = l->replicas.n == p->replicas.n;
            for (int32_t i = 0; i < l->replicas.n; i++) {
                int32_t rep = l->replicas.v[i];
                dirs[i] = ints_has(p->replicas.v, p->replicas.n, rep) ? replica_dir(p, rep)
                                                                      : ctrl_default_dir(b->img, rep);
                proto_uuid old = i < p->ndirs ? p->dirs[i] : dir_const(0);
                if (same && !proto_uuid_eq(dirs[i], old))
                    same = false;
            }
            if (!same) {
                r->Directories = dirs;
                r->Directories_n = l->replicas.n;
            }
        }
        if (!ints_eq(l->replicas.v, l->replicas.n, &p->replicas) &&
            !set_list(a, &r->Replicas, &r->Replicas_n, l->replicas.v, l->replicas.n))
            return false;
    }
    if (!ints_eq(l->removing.v, l->removing.n, &p->removing) &&
        !set_list(a, &r->RemovingReplicas, &r->RemovingReplicas_n, l->removing.v, l->removing.n))
        return false;
    if (!ints_eq(l->adding.v, l->adding.n, &p->adding) &&
        !set_list(a, &r->AddingReplicas, &r->AddingReplicas_n, l->adding.v, l->adding.n))
        return false;
    return true;
}

int ctrl_pcb_build(const struct ctrl_pcb *b, struct ctrl_records *out, struct PartitionChangeRecord **rec)
{
    const struct md_partition *p = b->part;
    int16_t mv = b->img->metadata_version;
    int16_t version = ctrl_partition_record_version(mv);
    *rec = NULL;
    int32_t nisr = b->target_isr ? b->ntarget_isr : p->isr.n;
    struct lists l = {.replicas = b->target_replicas ? *b->target_replicas : p->replicas,
                      .removing = b->target_removing ? *b->target_removing : p->removing,
                      .adding = b->target_adding ? *b->target_adding : p->adding};
    int32_t cap = nisr + l.replicas.n + 1;
    int32_t *buf = ferry_malloc((size_t)cap * 2 * sizeof *buf);
    if (!buf)
        return FERRY_ENOMEM;
    l.isr = (struct md_ints){buf, nisr};
    if (nisr > 0)
        memcpy(buf, b->target_isr ? b->target_isr : p->isr.v, (size_t)nisr * sizeof *buf);
    complete_reassignment(&l, buf + cap, buf + cap + nisr);

    size_t mark = out->n;
    struct PartitionChangeRecord *r = ctrl_records_add(out, &proto_msg_PartitionChangeRecord, version);
    int rc = r ? 0 : FERRY_ENOMEM;
    if (rc)
        goto free_buf;
    r->TopicId = b->topic->id;
    r->PartitionId = p->id;

    /* tryElection */
    bool unclean;
    int32_t leader = elect(b, &l, &unclean);
    if (leader != p->leader) {
        r->Leader = leader;
        if (unclean) {
            LOG_INFO("ctrl", "partition %s-%d: new leader %d by an unclean election", b->topic->name, p->id, leader);
            if (!set_list(out->a, &r->Isr, &r->Isr_n, &leader, 1))
                rc = FERRY_ENOMEM;
            if (p->leader_recovery_state != LRS_RECOVERING && mv >= MV_3_2_IV0)
                r->LeaderRecoveryState = LRS_RECOVERING;
        }
    }
    /* triggerLeaderEpochBumpIfNeeded */
    if (r->Leader == MD_LEADER_UNCHANGED) {
        bool bump_on_shrink = mv < MV_3_6_IV0 || b->zk_migration;
        if (!ints_superset(&l.replicas, &p->replicas))
            r->Leader = p->leader;
        else if (bump_on_shrink && !ints_superset(&l.isr, &p->isr))
            r->Leader = p->leader;
    }
    /* maybeUpdateRecordElr with ELR disabled: clear what a later version left. */
    if (version >= 2) {
        if (p->elr.n > 0 && !set_list(out->a, &r->EligibleLeaderReplicas, &r->EligibleLeaderReplicas_n, NULL, 0))
            rc = FERRY_ENOMEM;
        bool keep_last = p->last_known_elr.n == 1 &&
                         (r->Leader == MD_NO_LEADER || (r->Leader == MD_LEADER_UNCHANGED && p->leader == MD_NO_LEADER));
        if (!keep_last && p->last_known_elr.n > 0 && !set_list(out->a, &r->LastKnownELR, &r->LastKnownELR_n, NULL, 0))
            rc = FERRY_ENOMEM;
    }
    /* The new ISR, unless the election set it; never empty. */
    if (r->Isr_n < 0 && l.isr.n > 0 && !ints_eq(l.isr.v, l.isr.n, &p->isr) &&
        !set_list(out->a, &r->Isr, &r->Isr_n, l.isr.v, l.isr.n))
        rc = FERRY_ENOMEM;
    if (!set_assignment(b, &l, mv, out->a, r))
        rc = FERRY_ENOMEM;
    if (b->target_lrs >= 0 && b->target_lrs != p->leader_recovery_state)
        r->LeaderRecoveryState = b->target_lrs;
    if (rc || record_is_noop(r))
        ctrl_records_truncate(out, mark);
    else
        *rec = r;
free_buf:
    ferry_free(buf);
    return rc;
}

bool ctrl_any_partition(const struct md_image *img, bool (*pred)(const struct md_partition *p, void *arg),
                        void *arg)
{
    size_t pos = 0, klen;
    const void *key;
    void *val;
    while (md_map_next(&img->topics_by_name, &pos, &key, &klen, &val)) {
        const struct md_topic *t = val;
        for (int32_t p = 0; p < t->parts_len; p++) {
            const struct md_partition *mp = md_topic_partition(t, p);
            if (mp && pred(mp, arg))
                return true;
        }
    }
    return false;
}

static bool led_by(const struct md_partition *p, void *arg) { return p->leader == *(const int32_t *)arg; }

bool ctrl_broker_leads(const struct md_image *img, int32_t broker)
{
    return ctrl_any_partition(img, led_by, &broker);
}

int ctrl_leader_isr_updates(const struct md_image *img, const struct ctrl_env *env, int32_t remove_broker,
                            int32_t add_broker, bool (*only)(const struct md_partition *p, void *arg), void *arg,
                            struct ctrl_records *out)
{
    size_t nt;
    struct md_topic *const *topics = md_image_topics_sorted(img, &nt);
    if (!topics && md_image_topic_count(img) > 0)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < nt; i++) {
        const struct md_topic *t = topics[i];
        bool unclean = ctrl_unclean_enabled(img, env, t);
        for (int32_t pid = 0; pid < t->parts_len; pid++) {
            const struct md_partition *p = md_topic_partition(t, pid);
            if (!p)
                continue;
            if (only ? !only(p, arg)
                     : remove_broker >= 0 ? !md_ints_contains(&p->isr, remove_broker) : p->leader != MD_NO_LEADER)
                continue;
            int32_t *isr = ferry_malloc((size_t)(p->isr.n > 0 ? p->isr.n : 1) * sizeof *isr);
            if (!isr)
                return FERRY_ENOMEM;
            int32_t n = 0;
            for (int32_t k = 0; k < p->isr.n; k++)
                if (p->isr.v[k] != remove_broker)
                    isr[n++] = p->isr.v[k];
            struct ctrl_pcb b;
            ctrl_pcb_init(&b, img, env, t, p);
            b.remove_broker = remove_broker;
            b.add_broker = add_broker;
            b.target_isr = isr;
            b.ntarget_isr = n;
            if (unclean)
                b.election = CTRL_ELECT_UNCLEAN;
            struct PartitionChangeRecord *rec;
            int rc = ctrl_pcb_build(&b, out, &rec);
            ferry_free(isr);
            if (rc)
                return rc;
        }
    }
    return 0;
}
