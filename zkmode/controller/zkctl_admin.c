/* zkctl_admin.c: leader elections an operator asks for, as Kafka 3.7's ZooKeeper-mode controller does them
 * (KafkaController.processReplicaLeaderElection, onReplicaElection):
 *  - ElectLeaders v0-2 from a client: PREFERRED elects the head of the replica list when it is live and in
 *    the ISR; UNCLEAN elects for a partition without a live leader, from the ISR if it can, else the first
 *    live replica (allowed because an admin asked, whatever unclean.leader.election.enable says). The
 *    elections themselves are zkctl_elect.c's, asked for with the partition flags ZC_F_PREFERRED /
 *    ZC_F_UNCLEAN; the answer goes once every elected partition's write has settled.
 *  - /admin/preferred_replica_election: the same preferred elections, no answer, then the znode is deleted.
 * Also the shared parts of the admin work: its progress and its end at resign. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkctl_internal.h"

#define PREFERRED_PATH "/admin/preferred_replica_election"
#define ELECTION_PREFERRED 0
#define ELECTION_UNCLEAN 1

struct zc_el_entry {
    char *topic;
    int32_t partition;
    bool waiting;   /* its election is asked for; the result is not known yet */
    int16_t err;
    const char *msg;
};

struct zc_elreq {
    struct zc_elreq *next;
    uint64_t token;
    int16_t version;
    int8_t type;
    bool all;          /* null TopicPartitions: ELECTION_NOT_NEEDED results are left out */
    int64_t deadline;  /* REQUEST_TIMED_OUT for elections still waiting after it */
    size_t n;
    struct zc_el_entry *e;
};

zkctl_action *zc_respond_action(uint64_t token, int16_t key, int16_t version, size_t size)
{
    zkctl_action *a = zc_action_new(ZKCTL_ACT_RESPOND, key, version, size);
    if (a)
        a->token = token;
    return a;
}

void zc_admin_znode_write(zkctl *c, const char *path, const char *data, size_t len)
{
    struct zc_pending *pd = zc_pending_add(c, ZC_P_ADMIN, NULL, -1);
    if (!pd)
        return;
    pd->id = zc_zk_op(c, pd, data ? ZKCTL_OP_SET : ZKCTL_OP_DELETE, path, data, len, -1);
    if (!pd->id)
        zc_pending_drop(c, pd);
}

static void elreq_free(struct zc_elreq *q)
{
    for (size_t i = 0; i < q->n; i++)
        ferry_free(q->e[i].topic);
    ferry_free(q->e);
    ferry_free(q);
}

/* ---- the answer ---- */

static void elreq_respond(zkctl *c, const struct zc_elreq *q)
{
    zkctl_action *a = zc_respond_action(q->token, ZKCTL_API_ELECT_LEADERS, q->version,
                                        sizeof(struct ElectLeadersResponse));
    int err = a ? 0 : FERRY_ENOMEM;
    struct ElectLeadersResponse *r = a ? a->body : NULL;
    if (r)
        r->ReplicaElectionResults = proto_arena_alloc(&a->arena, (q->n + 1) * sizeof(*r->ReplicaElectionResults));
    if (r && !r->ReplicaElectionResults)
        err = FERRY_ENOMEM;
    /* grouped by topic in request order (Kafka groups its result map by topic) */
    for (size_t i = 0; !err && i < q->n; i++) {
        const struct zc_el_entry *e = &q->e[i];
        if (q->all && e->err == KERR_ELECTION_NOT_NEEDED)
            continue;
        struct ElectLeadersResponse_ReplicaElectionResult *tr = NULL;
        for (int32_t k = 0; k < r->ReplicaElectionResults_n && !tr; k++) {
            struct ElectLeadersResponse_ReplicaElectionResult *x = &r->ReplicaElectionResults[k];
            if ((size_t)x->Topic.len == strlen(e->topic) && memcmp(x->Topic.p, e->topic, (size_t)x->Topic.len) == 0)
                tr = x;
        }
        if (!tr) {
            tr = &r->ReplicaElectionResults[r->ReplicaElectionResults_n++];
            tr->Topic = zc_astr(&a->arena, e->topic, &err);
            tr->PartitionResult = proto_arena_alloc(&a->arena, (q->n + 1) * sizeof(*tr->PartitionResult));
            if (!tr->PartitionResult)
                err = FERRY_ENOMEM;
            if (err)
                break;
        }
        struct ElectLeadersResponse_PartitionResult *pr = &tr->PartitionResult[tr->PartitionResult_n++];
        pr->PartitionId = e->partition;
        pr->ErrorCode = e->err;
        pr->ErrorMessage = zc_astr(&a->arena, e->msg, &err);
    }
    if (err) {
        /* out of memory: the top level at least (v0 has none: an empty answer) */
        zkctl_action_free(a);
        a = zc_respond_action(q->token, ZKCTL_API_ELECT_LEADERS, q->version, sizeof(struct ElectLeadersResponse));
        if (!a) {
            zc_set_error(c, FERRY_ENOMEM);
            return;
        }
        ((struct ElectLeadersResponse *)a->body)->ErrorCode = KERR_UNKNOWN_SERVER_ERROR;
    }
    zc_enqueue(c, a);
}

/* ---- deciding ---- */

static void entry_set(struct zc_el_entry *e, int16_t err, const char *msg)
{
    e->waiting = false;
    e->err = err;
    e->msg = msg;
}

/* Kafka's partition split: unknown, being deleted, no election needed, or electable (flag set). */
static void entry_start(zkctl *c, struct zc_el_entry *e, int8_t type)
{
    struct zc_topic *t = zc_topic_find(c, e->topic);
    struct zc_part *p = t ? zc_part_find(t, e->partition) : NULL;
    if (!p) {
        entry_set(e, KERR_UNKNOWN_TOPIC_OR_PARTITION, "The partition does not exist.");
        return;
    }
    if (t->deleting) {
        entry_set(e, KERR_INVALID_TOPIC_EXCEPTION, "The topic is being deleted");
        return;
    }
    int32_t leader = p->has_state ? p->st.leader : ZC_NO_LEADER;
    if (type == ELECTION_PREFERRED) {
        if (leader == p->replicas[0]) {
            entry_set(e, KERR_ELECTION_NOT_NEEDED, NULL);
            return;
        }
        if (!p->has_state || !zc_replica_live(c, p, p->replicas[0]) ||
            !zc_contains(p->st.isr, p->st.n_isr, p->replicas[0])) {
            entry_set(e, KERR_PREFERRED_LEADER_NOT_AVAILABLE,
                      "Failed to elect leader: the preferred replica is not live or not in the ISR");
            return;
        }
        p->flags |= ZC_F_PREFERRED;
    } else {
        if (leader >= 0 && zc_replica_up(c, p, leader)) {
            entry_set(e, KERR_ELECTION_NOT_NEEDED, NULL);
            return;
        }
        p->flags |= ZC_F_UNCLEAN;
    }
    e->waiting = true;
    LOG_INFO(ZC_MOD, "%s-%" PRId32 ": %s leader election asked for", e->topic, e->partition,
             type == ELECTION_PREFERRED ? "preferred" : "unclean");
}

/* An election asked for has settled when its partition has no write in flight and its flag is cleared (the
 * reconcile pass found nothing more to change). */
static void entry_check(zkctl *c, struct zc_el_entry *e, int8_t type, bool timed_out)
{
    struct zc_topic *t = zc_topic_find(c, e->topic);
    struct zc_part *p = t ? zc_part_find(t, e->partition) : NULL;
    unsigned flag = type == ELECTION_PREFERRED ? ZC_F_PREFERRED : ZC_F_UNCLEAN;
    if (!p || t->deleting) {
        entry_set(e, KERR_UNKNOWN_TOPIC_OR_PARTITION, "The partition does not exist.");
        return;
    }
    if (p->busy || (p->flags & flag)) {
        if (timed_out)
            entry_set(e, KERR_REQUEST_TIMED_OUT, NULL);
        return;
    }
    bool ok = type == ELECTION_PREFERRED ? p->st.leader == p->replicas[0]
                                         : p->st.leader >= 0 && zc_replica_up(c, p, p->st.leader);
    if (ok)
        entry_set(e, 0, NULL);
    else if (type == ELECTION_PREFERRED)
        entry_set(e, KERR_PREFERRED_LEADER_NOT_AVAILABLE,
                  "Failed to elect leader: the preferred replica is not live or not in the ISR");
    else
        entry_set(e, KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE, "Failed to elect leader: no live replica");
}

static void elreqs_progress(zkctl *c)
{
    for (struct zc_elreq **pp = &c->elreqs; *pp;) {
        struct zc_elreq *q = *pp;
        bool timed_out = c->now_ms >= q->deadline, waiting = false;
        for (size_t i = 0; i < q->n; i++) {
            if (q->e[i].waiting)
                entry_check(c, &q->e[i], q->type, timed_out);
            waiting |= q->e[i].waiting;
        }
        if (waiting) {
            pp = &q->next;
            continue;
        }
        *pp = q->next;
        elreq_respond(c, q);
        elreq_free(q);
    }
}

static int entry_add(struct zc_elreq *q, size_t *cap, const char *topic, size_t topic_len, int32_t partition)
{
    if (q->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct zc_el_entry *v = ferry_realloc(q->e, nc * sizeof(*v));
        if (!v)
            return FERRY_ENOMEM;
        q->e = v;
        *cap = nc;
    }
    struct zc_el_entry *e = &q->e[q->n];
    memset(e, 0, sizeof(*e));
    e->topic = ferry_strndup(topic, topic_len);
    if (!e->topic)
        return FERRY_ENOMEM;
    e->partition = partition;
    q->n++;
    return 0;
}

int zkctl_elect_leaders(zkctl *c, uint64_t token, int16_t version, const struct ElectLeadersRequest *req)
{
    if (!req || version < 0 || version > 2)
        return FERRY_EINVAL;
    int8_t type = version == 0 ? ELECTION_PREFERRED : req->ElectionType;
    if (type != ELECTION_PREFERRED && type != ELECTION_UNCLEAN)
        return FERRY_EINVAL;
    struct zc_elreq *q = ferry_calloc(1, sizeof(*q));
    if (!q)
        return FERRY_ENOMEM;
    *q = (struct zc_elreq){.token = token, .version = version, .type = type,
                           .all = req->TopicPartitions_n < 0 || !req->TopicPartitions,
                           .deadline = c->now_ms + (req->TimeoutMs > 0 ? req->TimeoutMs : 0)};
    size_t cap = 0;
    int rc = 0;
    if (q->all && c->active) {
        for (size_t i = 0; rc == 0 && i < c->n_topics; i++)
            for (size_t j = 0; rc == 0 && j < c->topics[i]->n_parts; j++)
                rc = entry_add(q, &cap, c->topics[i]->name, strlen(c->topics[i]->name), c->topics[i]->parts[j].id);
    } else if (!q->all) {
        for (int32_t i = 0; rc == 0 && i < req->TopicPartitions_n; i++) {
            const struct ElectLeadersRequest_TopicPartitions *tp = &req->TopicPartitions[i];
            size_t len = tp->Topic.len > 0 ? (size_t)tp->Topic.len : 0;
            for (int32_t j = 0; rc == 0 && j < tp->Partitions_n; j++)
                rc = entry_add(q, &cap, tp->Topic.p ? tp->Topic.p : "", len, tp->Partitions[j]);
        }
    }
    if (rc) {
        elreq_free(q);
        return rc;
    }
    if (!c->active) {
        /* per listed partition, as Kafka; a request for every partition gets the top-level code (v1+) */
        zkctl_action *a = NULL;
        if (q->all) {
            a = zc_respond_action(token, ZKCTL_API_ELECT_LEADERS, version, sizeof(struct ElectLeadersResponse));
            if (a) {
                ((struct ElectLeadersResponse *)a->body)->ErrorCode = KERR_NOT_CONTROLLER;
                zc_enqueue(c, a);
            }
        } else {
            for (size_t i = 0; i < q->n; i++)
                entry_set(&q->e[i], KERR_NOT_CONTROLLER, NULL);
            elreq_respond(c, q);
        }
        bool oom = q->all && !a;
        elreq_free(q);
        return oom ? FERRY_ENOMEM : zc_finish(c);
    } else {
        for (size_t i = 0; i < q->n; i++)
            entry_start(c, &q->e[i], type);
    }
    struct zc_elreq **tail = &c->elreqs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = q;
    return zc_finish(c);
}

/* ---- /admin/preferred_replica_election ---- */

int zkctl_preferred_znode(zkctl *c, const zk_admin_partitions *e)
{
    if (!e)
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    size_t asked = 0;
    for (size_t i = 0; i < e->n; i++) {
        struct zc_topic *t = zc_topic_find(c, e->partitions[i].topic);
        struct zc_part *p = t ? zc_part_find(t, e->partitions[i].partition) : NULL;
        if (!p || t->deleting) {
            LOG_INFO(ZC_MOD, "%s: %s-%" PRId32 " skipped: it does not exist or is being deleted", PREFERRED_PATH,
                     e->partitions[i].topic, e->partitions[i].partition);
            continue;
        }
        if (!p->has_state || p->st.leader != p->replicas[0]) {
            p->flags |= ZC_F_PREFERRED;
            asked++;
        }
    }
    LOG_INFO(ZC_MOD, "%s: preferred leader election for %zu of %zu partition(s); deleting it", PREFERRED_PATH,
             asked, e->n);
    zc_admin_znode_write(c, PREFERRED_PATH, NULL, 0);
    return zc_finish(c);
}

/* ---- shared ---- */

void zc_admin_progress(zkctl *c)
{
    if (!c->active)
        return;
    zc_reassign_progress(c);
    elreqs_progress(c);
}

void zc_admin_end(zkctl *c, bool respond)
{
    for (struct zc_elreq *q = c->elreqs, *n; q; q = n) {
        n = q->next;
        for (size_t i = 0; i < q->n; i++)
            if (q->e[i].waiting)
                entry_set(&q->e[i], KERR_NOT_CONTROLLER, NULL);
        if (respond)
            elreq_respond(c, q);
        elreq_free(q);
    }
    c->elreqs = NULL;
    zc_reassign_clear(c);
}
