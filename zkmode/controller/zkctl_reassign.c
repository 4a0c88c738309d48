/* zkctl_reassign.c: partition reassignment as Kafka 3.7's ZooKeeper-mode controller runs it
 * (KafkaController.onPartitionReassignment, processApiPartitionReassignment, processZkPartitionReassignment,
 * processListPartitionReassignments, ReplicaAssignment.reassignTo), as a pure decision core:
 *  - start: replicas = the union (target, then the origin's others), written to the topic znode with
 *    adding_replicas / removing_replicas; replicas dropped from an earlier reassignment are stopped (deleted);
 *  - ZC_RA_BUMP: the state znode gets leader epoch + 1 with the ISR kept within the union, so that every
 *    replica gets LeaderAndIsr with the new replica set (the new ones start fetching);
 *  - ZC_RA_WAIT: until every target replica is in the ISR (the leader's AlterPartition);
 *  - ZC_RA_FINISH: replicas = target; one state write keeps the leader if it is a live target replica, else
 *    elects the first target replica that is live and in the ISR, and drops the removed replicas from the ISR
 *    (Kafka's B3 and B4, which it writes as two epochs); LeaderAndIsr to the target replicas;
 *  - then StopReplica(delete) to the removed replicas, the final topic znode (no adding/removing), the entry
 *    removed from /admin/reassign_partitions, UpdateMetadata to every broker.
 * A partition with a znode write in flight waits (p->busy); any state write of the partition (an election
 * by zkctl_elect.c too) carries the union to its replicas. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkctl_internal.h"

#define REASSIGN_PATH "/admin/reassign_partitions"

static int32_t *ints_dup(const int32_t *v, size_t n)
{
    int32_t *d = ferry_malloc((n ? n : 1) * sizeof(int32_t));
    if (d && n)
        memcpy(d, v, n * sizeof(int32_t));
    return d;
}

/* out = a - b (order of a); out has room for na. */
static size_t ints_minus(const int32_t *a, size_t na, const int32_t *b, size_t nb, int32_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < na; i++)
        if (!zc_contains(b, nb, a[i]))
            out[k++] = a[i];
    return k;
}

static bool ints_subset(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        if (!zc_contains(b, nb, a[i]))
            return false;
    return true;
}

static void ra_free(struct zc_ra *ra)
{
    if (!ra)
        return;
    ferry_free(ra->topic);
    ferry_free(ra->origin);
    ferry_free(ra->target);
    ferry_free(ra->stop);
    ferry_free(ra->adding);
    ferry_free(ra->removing);
    ferry_free(ra);
}

static void ra_unlink(zkctl *c, struct zc_ra *ra)
{
    for (struct zc_ra **pp = &c->ras; *pp; pp = &(*pp)->next)
        if (*pp == ra) {
            *pp = ra->next;
            break;
        }
    ra_free(ra);
}

void zc_reassign_clear(zkctl *c)
{
    for (struct zc_ra *ra = c->ras, *n; ra; ra = n) {
        n = ra->next;
        ra_free(ra);
    }
    c->ras = NULL;
    zk_admin_partitions_free(&c->zk_reassign);
}

/* adding = replicas - origin, removing = replicas - target (none once finishing). */
static int ra_lists(struct zc_ra *ra, const struct zc_part *p)
{
    int32_t *add = ferry_malloc((p->n_replicas + 1) * sizeof(int32_t));
    int32_t *rem = ferry_malloc((p->n_replicas + 1) * sizeof(int32_t));
    if (!add || !rem) {
        ferry_free(add);
        ferry_free(rem);
        return FERRY_ENOMEM;
    }
    bool running = ra->phase < ZC_RA_FINISH;
    ferry_free(ra->adding);
    ferry_free(ra->removing);
    ra->adding = add;
    ra->removing = rem;
    ra->n_adding = running ? ints_minus(p->replicas, p->n_replicas, ra->origin, ra->n_origin, add) : 0;
    ra->n_removing = running ? ints_minus(p->replicas, p->n_replicas, ra->target, ra->n_target, rem) : 0;
    return 0;
}

int zc_reassign_lair_lists(const struct zc_part *p, struct proto_arena *a, int32_t **adding, int32_t *n_adding,
                           int32_t **removing, int32_t *n_removing)
{
    size_t na = p->ra ? p->ra->n_adding : 0, nr = p->ra ? p->ra->n_removing : 0;
    int err = 0;
    *adding = zc_aints(a, na ? p->ra->adding : NULL, na, &err);
    *removing = zc_aints(a, nr ? p->ra->removing : NULL, nr, &err);
    if (err)
        return FERRY_ENOMEM;
    *n_adding = (int32_t)na;
    *n_removing = (int32_t)nr;
    return 0;
}

/* The topic znode from the controller's model: replicas of every partition, adding/removing of those being
 * reassigned (Kafka's updateReplicaAssignmentForPartition writes the whole topic). */
static void topic_write(zkctl *c, const struct zc_topic *t)
{
    size_t n = t->n_parts ? t->n_parts : 1;
    zk_partition_replicas *pr = ferry_calloc(n, sizeof(*pr));
    zk_partition_replicas *add = ferry_calloc(n, sizeof(*add));
    zk_partition_replicas *rem = ferry_calloc(n, sizeof(*rem));
    if (!pr || !add || !rem) {
        zc_set_error(c, FERRY_ENOMEM);
        goto out;
    }
    zk_topic_assignment a = {.version = 3, .partitions = pr, .adding = add, .removing = rem,
                             .has_topic_id = !proto_uuid_is_zero(t->id), .topic_id = t->id};
    for (size_t i = 0; i < t->n_parts; i++) {
        const struct zc_part *p = &t->parts[i];
        pr[a.n_partitions++] = (zk_partition_replicas){p->id, p->n_replicas, p->replicas};
        if (p->ra && p->ra->n_adding)
            add[a.n_adding++] = (zk_partition_replicas){p->id, p->ra->n_adding, p->ra->adding};
        if (p->ra && p->ra->n_removing)
            rem[a.n_removing++] = (zk_partition_replicas){p->id, p->ra->n_removing, p->ra->removing};
    }
    zc_topic_znode_write(c, t->name, &a);
out:
    ferry_free(pr);
    ferry_free(add);
    ferry_free(rem);
}

/* ---- /admin/reassign_partitions as the controller keeps it ---- */

/* Drops the znode's entries for (topic, partition) (any target when target is NULL); rewrites or deletes
 * the znode when something was dropped. */
static void zk_list_drop(zkctl *c, const char *topic, int32_t partition, const int32_t *target, size_t n_target)
{
    zk_admin_partitions *z = &c->zk_reassign;
    size_t k = 0;
    bool dropped = false;
    for (size_t i = 0; i < z->n; i++) {
        zk_admin_partition *e = &z->partitions[i];
        bool match = strcmp(e->topic, topic) == 0 && e->partition == partition &&
                     (!target || (e->n_replicas == n_target &&
                                  memcmp(e->replicas, target, n_target * sizeof(int32_t)) == 0));
        if (match) {
            ferry_free(e->topic);
            ferry_free(e->replicas);
            dropped = true;
        } else {
            z->partitions[k++] = *e;
        }
    }
    z->n = k;
    if (!dropped)
        return;
    if (z->n == 0) {
        LOG_INFO(ZC_MOD, "%s: every listed reassignment is done: deleting it", REASSIGN_PATH);
        zc_admin_znode_write(c, REASSIGN_PATH, NULL, 0);
        return;
    }
    char *data = NULL;
    size_t len = 0;
    int rc = zk_reassignment_encode(z, &data, &len);
    if (rc) {
        zc_set_error(c, rc);
        return;
    }
    zc_admin_znode_write(c, REASSIGN_PATH, data, len);
    ferry_free(data);
}

/* ---- starting ---- */

/* Kafka's reassignTo(target) from the partition's current assignment: replicas = (target ++ origin) without
 * duplicates; replicas of the current union left out are stopped. 0 or FERRY_ENOMEM. */
static int ra_start(zkctl *c, struct zc_topic *t, struct zc_part *p, const int32_t *target, size_t n_target)
{
    struct zc_ra *ra = p->ra;
    const int32_t *origin = ra ? ra->origin : p->replicas;
    size_t n_origin = ra ? ra->n_origin : p->n_replicas;
    size_t cap = n_target + n_origin + p->n_replicas + 1;
    int32_t *full = ferry_malloc(cap * sizeof(int32_t));
    int32_t *stop = ferry_malloc(cap * sizeof(int32_t));
    int32_t *tgt = ints_dup(target, n_target);
    int32_t *org = ints_dup(origin, n_origin);
    struct zc_ra *nra = ra ? NULL : ferry_calloc(1, sizeof(*nra));
    char *name = ra ? NULL : ferry_strdup(t->name);
    if (!full || !stop || !tgt || !org || (!ra && (!nra || !name))) {
        ferry_free(full);
        ferry_free(stop);
        ferry_free(tgt);
        ferry_free(org);
        ferry_free(nra);
        ferry_free(name);
        return FERRY_ENOMEM;
    }
    size_t n_full = 0;
    for (size_t i = 0; i < n_target; i++)
        if (!zc_contains(full, n_full, target[i]))
            full[n_full++] = target[i];
    for (size_t i = 0; i < n_origin; i++)
        if (!zc_contains(full, n_full, origin[i]))
            full[n_full++] = origin[i];
    size_t n_stop = 0;
    if (ra) { /* still owed a stop from the previous step */
        for (size_t i = 0; i < ra->n_stop; i++)
            if (!zc_contains(full, n_full, ra->stop[i]))
                stop[n_stop++] = ra->stop[i];
    }
    for (size_t i = 0; i < p->n_replicas; i++)
        if (!zc_contains(full, n_full, p->replicas[i]) && !zc_contains(stop, n_stop, p->replicas[i]))
            stop[n_stop++] = p->replicas[i];
    if (!ra) {
        ra = nra;
        ra->topic = name;
        ra->partition = p->id;
        ra->next = c->ras;
        c->ras = ra;
        p->ra = ra;
    }
    ferry_free(ra->origin);
    ferry_free(ra->target);
    ferry_free(ra->stop);
    ra->origin = org;
    ra->n_origin = n_origin;
    ra->target = tgt;
    ra->n_target = n_target;
    ra->stop = stop;
    ra->n_stop = n_stop;
    ra->phase = ZC_RA_BUMP;
    ferry_free(p->replicas);
    p->replicas = full;
    p->n_replicas = n_full;
    if (ra_lists(ra, p))
        return FERRY_ENOMEM;
    LOG_INFO(ZC_MOD, "%s-%" PRId32 ": reassignment to %zu replicas (target first %" PRId32 "): %zu adding, %zu removing",
             t->name, p->id, n_target, ra->target[0], ra->n_adding, ra->n_removing);
    topic_write(c, t);
    return 0;
}

void zc_reassign_adopt(zkctl *c, struct zc_topic *t, const zk_topic_assignment *a)
{
    for (size_t i = 0; i < t->n_parts; i++) {
        struct zc_part *p = &t->parts[i];
        const zk_partition_replicas *add = NULL, *rem = NULL;
        for (size_t j = 0; j < a->n_adding; j++)
            if (a->adding[j].partition == p->id)
                add = &a->adding[j];
        for (size_t j = 0; j < a->n_removing; j++)
            if (a->removing[j].partition == p->id)
                rem = &a->removing[j];
        if ((!add || !add->n_replicas) && (!rem || !rem->n_replicas))
            continue;
        /* origin = replicas - adding, target = replicas - removing; the union stays as written */
        int32_t *org = ferry_malloc((p->n_replicas + 1) * sizeof(int32_t));
        int32_t *tgt = ferry_malloc((p->n_replicas + 1) * sizeof(int32_t));
        struct zc_ra *ra = ferry_calloc(1, sizeof(*ra));
        char *name = ferry_strdup(t->name);
        if (!org || !tgt || !ra || !name) {
            ferry_free(org);
            ferry_free(tgt);
            ferry_free(ra);
            ferry_free(name);
            zc_set_error(c, FERRY_ENOMEM);
            return;
        }
        ra->n_origin = ints_minus(p->replicas, p->n_replicas, add ? add->replicas : NULL, add ? add->n_replicas : 0,
                                  org);
        ra->n_target = ints_minus(p->replicas, p->n_replicas, rem ? rem->replicas : NULL, rem ? rem->n_replicas : 0,
                                  tgt);
        ra->origin = org;
        ra->target = tgt;
        ra->topic = name;
        ra->partition = p->id;
        ra->phase = ZC_RA_BUMP;
        if (ra->n_target == 0 || ra->n_origin == 0 || ra_lists(ra, p)) {
            LOG_ERROR(ZC_MOD, "/brokers/topics/%s: partition %" PRId32 " has adding/removing replicas that leave "
                      "no origin or no target: reassignment not resumed", t->name, p->id);
            ra_free(ra);
            continue;
        }
        ra->next = c->ras;
        c->ras = ra;
        p->ra = ra;
        LOG_INFO(ZC_MOD, "%s-%" PRId32 ": reassignment in progress: resumed", t->name, p->id);
    }
}

/* ---- the phases ---- */

enum ra_write_rc { RA_WRITTEN, RA_NO_LEADER, RA_FAILED };

/* Writes the leader and ISR within p->replicas (see the file comment). RA_NO_LEADER: none can be had, the
 * partition is offline and the usual election goes first; RA_FAILED: out of memory (tried again later). */
static enum ra_write_rc ra_write(zkctl *c, struct zc_topic *t, struct zc_part *p, struct zc_ra *ra)
{
    const struct zc_lisr *cur = &p->st;
    int32_t leader = ZC_NO_LEADER;
    if (cur->leader >= 0 && zc_contains(p->replicas, p->n_replicas, cur->leader) &&
        zc_replica_live(c, p, cur->leader))
        leader = cur->leader;
    for (size_t i = 0; i < ra->n_target && leader < 0; i++)
        if (zc_replica_live(c, p, ra->target[i]) && zc_contains(cur->isr, cur->n_isr, ra->target[i]))
            leader = ra->target[i];
    if (leader < 0)
        return RA_NO_LEADER;
    int32_t *isr = ferry_malloc((cur->n_isr + 1) * sizeof(int32_t));
    if (!isr) {
        zc_set_error(c, FERRY_ENOMEM);
        return RA_FAILED;
    }
    size_t n = 0;
    for (size_t i = 0; i < cur->n_isr; i++)
        if (zc_contains(p->replicas, p->n_replicas, cur->isr[i]))
            isr[n++] = cur->isr[i];
    if (!zc_contains(isr, n, leader))
        isr[n++] = leader;
    struct zc_lisr prop = {.leader = leader, .leader_epoch = cur->leader_epoch + 1, .lrs = cur->lrs, .n_isr = n,
                           .isr = isr};
    if (leader != cur->leader)
        LOG_INFO(ZC_MOD, "%s-%" PRId32 ": reassignment moves leadership %" PRId32 " -> %" PRId32, t->name, p->id,
                 cur->leader, leader);
    int rc = zc_write_state(c, t, p, &prop, ZC_P_SET, NULL);
    ferry_free(isr);
    if (rc)
        return RA_FAILED;
    ra->expect_epoch = prop.leader_epoch;
    return RA_WRITTEN;
}

/* StopReplica with deletion to ra's stop list (the brokers that are up; the others delete it when they come
 * back: Kafka's ReplicaDeletionSuccessful is not waited for either). */
static void ra_stop(zkctl *c, struct zc_topic *t, struct zc_part *p, struct zc_ra *ra)
{
    for (size_t i = 0; i < ra->n_stop; i++)
        if (zc_up(c, ra->stop[i]))
            zc_batch_sr(c, ra->stop[i], t, p, true, p->st.leader_epoch);
    ra->n_stop = 0;
}

static void ra_done(zkctl *c, struct zc_topic *t, struct zc_part *p, struct zc_ra *ra)
{
    LOG_INFO(ZC_MOD, "%s-%" PRId32 ": reassignment done: %zu replicas, leader %" PRId32, t->name, p->id,
             p->n_replicas, p->st.leader);
    ra_stop(c, t, p, ra);
    p->ra = NULL;
    topic_write(c, t);
    zk_list_drop(c, t->name, p->id, ra->target, ra->n_target);
    zc_batch_um_part(c, t, p);
    ra_unlink(c, ra);
}

/* One step or more of ra; false when ra was freed. */
static bool ra_step(zkctl *c, struct zc_ra *ra)
{
    struct zc_topic *t = zc_topic_find(c, ra->topic);
    struct zc_part *p = t ? zc_part_find(t, ra->partition) : NULL;
    if (!p || t->deleting || p->ra != ra) {
        LOG_WARN(ZC_MOD, "%s-%" PRId32 ": reassignment dropped: the partition is gone or being deleted", ra->topic,
                 ra->partition);
        if (p && p->ra == ra)
            p->ra = NULL;
        ra_unlink(c, ra);
        return false;
    }
    for (int guard = 0; guard < 6 && !p->busy && p->has_state && !p->bad_state; guard++) {
        const struct zc_lisr *cur = &p->st;
        switch (ra->phase) {
        case ZC_RA_BUMP:
            switch (ra_write(c, t, p, ra)) {
            case RA_WRITTEN: ra->phase = ZC_RA_BUMPING; break;
            case RA_NO_LEADER:
                ra_stop(c, t, p, ra); /* offline: the election that comes sends the union */
                ra->phase = ZC_RA_WAIT;
                break;
            case RA_FAILED: return true;
            }
            break;
        case ZC_RA_BUMPING:
            if (cur->leader_epoch >= ra->expect_epoch && ints_subset(cur->isr, cur->n_isr, p->replicas, p->n_replicas)) {
                ra_stop(c, t, p, ra);
                ra->phase = ZC_RA_WAIT;
            } else {
                ra->phase = ZC_RA_BUMP; /* the write failed or another came first: again */
            }
            break;
        case ZC_RA_WAIT:
            if (!ints_subset(ra->target, ra->n_target, cur->isr, cur->n_isr))
                return true;
            LOG_INFO(ZC_MOD, "%s-%" PRId32 ": every target replica is in the ISR: completing the reassignment",
                     t->name, p->id);
            {
                int32_t *removed = ferry_malloc((p->n_replicas + ra->n_stop + 1) * sizeof(int32_t));
                int32_t *tgt = ints_dup(ra->target, ra->n_target);
                if (!removed || !tgt) {
                    ferry_free(removed);
                    ferry_free(tgt);
                    zc_set_error(c, FERRY_ENOMEM);
                    return true;
                }
                size_t nr = ints_minus(p->replicas, p->n_replicas, ra->target, ra->n_target, removed);
                ferry_free(ra->stop);
                ra->stop = removed;
                ra->n_stop = nr;
                ferry_free(p->replicas);
                p->replicas = tgt;
                p->n_replicas = ra->n_target;
                ra->phase = ZC_RA_FINISH;
                if (ra_lists(ra, p))
                    zc_set_error(c, FERRY_ENOMEM);
            }
            break;
        case ZC_RA_FINISH:
            if (ra_write(c, t, p, ra) != RA_WRITTEN)
                return true; /* no live target replica in the ISR (the offline election goes first), or OOM */
            ra->phase = ZC_RA_FINISHING;
            break;
        case ZC_RA_FINISHING:
            if (cur->leader_epoch >= ra->expect_epoch && cur->leader >= 0 &&
                zc_contains(p->replicas, p->n_replicas, cur->leader) &&
                ints_subset(cur->isr, cur->n_isr, p->replicas, p->n_replicas)) {
                ra_done(c, t, p, ra);
                return false;
            }
            ra->phase = ZC_RA_FINISH;
            break;
        }
    }
    return true;
}

void zc_reassign_progress(zkctl *c)
{
    if (!c->active)
        return;
    for (struct zc_ra *ra = c->ras, *n; ra; ra = n) {
        n = ra->next;
        ra_step(c, ra);
    }
}

/* ---- AlterPartitionReassignments ---- */

/* KafkaController.validateReplicas: 0 or INVALID_REPLICA_ASSIGNMENT with *msg. */
static int16_t validate(const zkctl *c, const struct zc_part *p, const int32_t *r, size_t n, const char **msg)
{
    if (n == 0) {
        *msg = "Empty replica list specified in partition reassignment.";
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    for (size_t i = 0; i < n; i++) {
        if (zc_contains(r, i, r[i])) {
            *msg = "Duplicate replica ids in partition reassignment replica list.";
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (r[i] < 0) {
            *msg = "Invalid broker id in replica list.";
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    /* the replicas it would add (not in the origin) must be live brokers */
    const int32_t *origin = p ? (p->ra ? p->ra->origin : p->replicas) : NULL;
    size_t n_origin = p ? (p->ra ? p->ra->n_origin : p->n_replicas) : 0;
    for (size_t i = 0; i < n; i++) {
        if (!zc_contains(origin, n_origin, r[i]) && !zc_live(c, r[i])) {
            *msg = "Replica assignment has brokers that are not alive.";
            return KERR_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    return 0;
}

/* A topic name from a request as a C string in the response's arena, whatever its length (a name longer
 * than Kafka's 249 bytes finds no topic and is echoed whole); NULL when out of memory. */
static char *name_of(zkctl_action *a, proto_str s)
{
    return proto_arena_strdup(&a->arena, s);
}

int zkctl_alter_reassignments(zkctl *c, uint64_t token, int16_t version,
                              const struct AlterPartitionReassignmentsRequest *req)
{
    if (!req || version != 0 || req->Topics_n < 0)
        return FERRY_EINVAL;
    zkctl_action *a = zc_respond_action(token, ZKCTL_API_ALTER_PARTITION_REASSIGNMENTS, version,
                                        sizeof(struct AlterPartitionReassignmentsResponse));
    if (!a)
        return FERRY_ENOMEM;
    struct AlterPartitionReassignmentsResponse *r = a->body;
    r->ErrorMessage = (proto_str){NULL, -1};
    int32_t nt = c->active ? req->Topics_n : 0;
    r->Responses = proto_arena_alloc(&a->arena, ((size_t)nt + 1) * sizeof(*r->Responses));
    if (!r->Responses) {
        zkctl_action_free(a);
        return FERRY_ENOMEM;
    }
    if (!c->active)
        r->ErrorCode = KERR_NOT_CONTROLLER;
    for (int32_t i = 0; i < nt; i++) {
        const struct AlterPartitionReassignmentsRequest_ReassignableTopic *rt = &req->Topics[i];
        struct AlterPartitionReassignmentsResponse_ReassignableTopicResponse *tr = &r->Responses[r->Responses_n++];
        char *name = name_of(a, rt->Name);
        tr->Name = (proto_str){name, name ? (int32_t)strlen(name) : -1};
        tr->Partitions = proto_arena_alloc(&a->arena, ((size_t)rt->Partitions_n + 1) * sizeof(*tr->Partitions));
        if (!tr->Partitions || !name) {
            zkctl_action_free(a);
            return FERRY_ENOMEM;
        }
        struct zc_topic *t = zc_topic_find(c, name);
        for (int32_t j = 0; j < rt->Partitions_n; j++) {
            const struct AlterPartitionReassignmentsRequest_ReassignablePartition *rp = &rt->Partitions[j];
            struct AlterPartitionReassignmentsResponse_ReassignablePartitionResponse *pr =
                &tr->Partitions[tr->Partitions_n++];
            pr->PartitionIndex = rp->PartitionIndex;
            struct zc_part *p = t ? zc_part_find(t, rp->PartitionIndex) : NULL;
            bool cancel = rp->Replicas_n < 0; /* null Replicas */
            const char *msg = NULL;
            int16_t err = cancel ? 0 : validate(c, p, rp->Replicas, (size_t)rp->Replicas_n, &msg);
            if (!err && cancel && !(p && p->ra && p->ra->phase < ZC_RA_FINISH))
                err = KERR_NO_REASSIGNMENT_IN_PROGRESS;
            if (!err && (!p || t->deleting)) {
                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                msg = "The partition does not exist.";
            }
            if (!err && !cancel && p->ra && p->ra->phase >= ZC_RA_FINISH) {
                /* completing: its replicas are the target already; the new one starts from there */
                err = KERR_REASSIGNMENT_IN_PROGRESS;
                msg = "The partition's reassignment is completing: try again.";
            }
            if (!err) {
                if (cancel)
                    LOG_INFO(ZC_MOD, "%s-%" PRId32 ": reassignment cancelled", t->name, p->id);
                zk_list_drop(c, t->name, p->id, NULL, 0); /* the latest reassignment wins */
                int rc = cancel ? ra_start(c, t, p, p->ra->origin, p->ra->n_origin)
                                : ra_start(c, t, p, rp->Replicas, (size_t)rp->Replicas_n);
                if (rc) {
                    zc_set_error(c, rc);
                    err = KERR_UNKNOWN_SERVER_ERROR;
                }
            }
            pr->ErrorCode = err;
            int aerr = 0;
            pr->ErrorMessage = zc_astr(&a->arena, msg, &aerr);
            if (aerr) {
                zkctl_action_free(a);
                return FERRY_ENOMEM;
            }
        }
    }
    zc_enqueue(c, a);
    return zc_finish(c);
}

/* ---- ListPartitionReassignments ---- */

static bool listed(const struct zc_part *p) { return p && p->ra && p->ra->phase < ZC_RA_FINISH; }

static int list_add(struct proto_arena *a, struct ListPartitionReassignmentsResponse *r, size_t cap,
                    const char *topic, const struct zc_part *p)
{
    struct ListPartitionReassignmentsResponse_OngoingTopicReassignment *tr = NULL;
    if (r->Topics_n > 0) {
        tr = &r->Topics[r->Topics_n - 1];
        if ((size_t)tr->Name.len != strlen(topic) || memcmp(tr->Name.p, topic, (size_t)tr->Name.len) != 0)
            tr = NULL;
    }
    int err = 0;
    if (!tr) {
        tr = &r->Topics[r->Topics_n++];
        tr->Name = zc_astr(a, topic, &err);
        tr->Partitions = proto_arena_alloc(a, (cap + 1) * sizeof(*tr->Partitions));
        if (err || !tr->Partitions)
            return FERRY_ENOMEM;
    }
    struct ListPartitionReassignmentsResponse_OngoingPartitionReassignment *op = &tr->Partitions[tr->Partitions_n++];
    op->PartitionIndex = p->id;
    op->Replicas = zc_aints(a, p->replicas, p->n_replicas, &err);
    if (err)
        return FERRY_ENOMEM;
    op->Replicas_n = (int32_t)p->n_replicas;
    return zc_reassign_lair_lists(p, a, &op->AddingReplicas, &op->AddingReplicas_n, &op->RemovingReplicas,
                                  &op->RemovingReplicas_n);
}

int zkctl_list_reassignments(zkctl *c, uint64_t token, int16_t version,
                             const struct ListPartitionReassignmentsRequest *req)
{
    if (!req || version != 0)
        return FERRY_EINVAL;
    zkctl_action *a = zc_respond_action(token, ZKCTL_API_LIST_PARTITION_REASSIGNMENTS, version,
                                        sizeof(struct ListPartitionReassignmentsResponse));
    if (!a)
        return FERRY_ENOMEM;
    struct ListPartitionReassignmentsResponse *r = a->body;
    r->ErrorMessage = (proto_str){NULL, -1};
    size_t cap = 0;
    if (!c->active) {
        r->ErrorCode = KERR_NOT_CONTROLLER;
    } else if (req->Topics_n < 0 || !req->Topics) {
        for (struct zc_ra *ra = c->ras; ra; ra = ra->next)
            cap++;
    } else {
        for (int32_t i = 0; i < req->Topics_n; i++)
            cap += req->Topics[i].PartitionIndexes_n > 0 ? (size_t)req->Topics[i].PartitionIndexes_n : 0;
    }
    r->Topics = proto_arena_alloc(&a->arena, (cap + 1) * sizeof(*r->Topics));
    int rc = r->Topics ? 0 : FERRY_ENOMEM;
    if (c->active && (req->Topics_n < 0 || !req->Topics)) {
        /* grouped by topic: the list holds each topic's partitions next to each other only by chance */
        for (size_t i = 0; rc == 0 && i < c->n_topics; i++)
            for (size_t j = 0; rc == 0 && j < c->topics[i]->n_parts; j++)
                if (listed(&c->topics[i]->parts[j]) && !c->topics[i]->deleting)
                    rc = list_add(&a->arena, r, cap, c->topics[i]->name, &c->topics[i]->parts[j]);
    } else if (c->active) {
        for (int32_t i = 0; rc == 0 && i < req->Topics_n; i++) {
            const struct ListPartitionReassignmentsRequest_ListPartitionReassignmentsTopics *lt = &req->Topics[i];
            const char *name = name_of(a, lt->Name);
            if (!name) {
                rc = FERRY_ENOMEM;
                break;
            }
            const struct zc_topic *t = zc_topic_find(c, name);
            for (int32_t j = 0; rc == 0 && t && !t->deleting && j < lt->PartitionIndexes_n; j++) {
                const struct zc_part *p = zc_part_find(t, lt->PartitionIndexes[j]);
                if (listed(p))
                    rc = list_add(&a->arena, r, cap, name, p);
            }
        }
    }
    if (rc) {
        zkctl_action_free(a);
        return rc;
    }
    zc_enqueue(c, a);
    return zc_finish(c);
}

/* ---- /admin/reassign_partitions ---- */

int zkctl_reassign_znode(zkctl *c, const zk_admin_partitions *r)
{
    if (!r)
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    /* the znode as read is what the controller now keeps (Kafka re-reads it before each rewrite) */
    zk_admin_partitions_free(&c->zk_reassign);
    c->zk_reassign.partitions = ferry_calloc(r->n + 1, sizeof(zk_admin_partition));
    if (!c->zk_reassign.partitions)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < r->n; i++) {
        const zk_admin_partition *e = &r->partitions[i];
        zk_admin_partition *d = &c->zk_reassign.partitions[c->zk_reassign.n];
        d->topic = ferry_strdup(e->topic);
        d->replicas = ints_dup(e->replicas, e->n_replicas);
        if (!d->topic || !d->replicas) {
            ferry_free(d->topic);
            ferry_free(d->replicas);
            zc_set_error(c, FERRY_ENOMEM);
            return zc_finish(c);
        }
        d->partition = e->partition;
        d->n_replicas = e->n_replicas;
        c->zk_reassign.n++;
    }
    LOG_INFO(ZC_MOD, "%s: %zu reassignment(s)", REASSIGN_PATH, r->n);
    for (size_t i = 0; i < r->n; i++) {
        const zk_admin_partition *e = &r->partitions[i];
        struct zc_topic *t = zc_topic_find(c, e->topic);
        struct zc_part *p = t && !t->deleting ? zc_part_find(t, e->partition) : NULL;
        /* Kafka does not check the brokers of a znode reassignment, only that the list is usable */
        const char *msg = NULL;
        bool ok = p && !(p->ra && p->ra->phase >= ZC_RA_FINISH);
        if (e->n_replicas == 0)
            msg = "no replicas";
        for (size_t k = 0; k < e->n_replicas; k++)
            if (e->replicas[k] < 0 || zc_contains(e->replicas, k, e->replicas[k]))
                msg = "duplicate or negative broker ids";
        if (!ok || msg) {
            LOG_WARN(ZC_MOD, "%s: %s-%" PRId32 ": %s: failed, removed from the znode", REASSIGN_PATH, e->topic,
                     e->partition, !p ? "the partition does not exist" : msg ? msg : "a reassignment is completing");
            zk_list_drop(c, e->topic, e->partition, e->replicas, e->n_replicas);
            continue;
        }
        int rc = ra_start(c, t, p, e->replicas, e->n_replicas);
        if (rc)
            zc_set_error(c, rc);
    }
    if (r->n == 0)
        zc_admin_znode_write(c, REASSIGN_PATH, NULL, 0); /* nothing listed: gone at once */
    return zc_finish(c);
}
