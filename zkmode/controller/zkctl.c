/* zkctl.c: lifecycle, shared lookups, becoming controller, ticks, resigning and the inspection call (see
 * zkctl.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkctl_internal.h"

void zkctl_config_default(zkctl_config *cfg, int32_t controller_id)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->controller_id = controller_id;
    cfg->inter_broker_listener = "PLAINTEXT";
    cfg->auto_leader_rebalance_enable = true;
    cfg->leader_imbalance_per_broker_percentage = 10;
    cfg->leader_imbalance_check_interval_ms = 300000;
    cfg->delete_topic_enable = true;
    cfg->unclean_leader_election_enable = false;
}

void zc_set_error(zkctl *c, int err)
{
    if (!c->err)
        c->err = err;
}

/* ---- small helpers ---- */
bool zc_contains(const int32_t *v, size_t n, int32_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

struct zc_broker *zc_broker_find(const zkctl *c, int32_t id)
{
    for (size_t i = 0; i < c->n_brokers; i++)
        if (c->brokers[i].id == id)
            return &c->brokers[i];
    return NULL;
}

bool zc_up(const zkctl *c, int32_t id) { return zc_broker_find(c, id) != NULL; }

bool zc_live(const zkctl *c, int32_t id)
{
    const struct zc_broker *b = zc_broker_find(c, id);
    return b && !b->shutting_down;
}

bool zc_replica_live(const zkctl *c, const struct zc_part *p, int32_t id)
{
    return zc_live(c, id) && !zc_contains(p->offline, p->n_offline, id);
}

bool zc_replica_up(const zkctl *c, const struct zc_part *p, int32_t id)
{
    return zc_up(c, id) && !zc_contains(p->offline, p->n_offline, id);
}

void zc_offline_clear(zkctl *c, int32_t broker)
{
    for (size_t i = 0; i < c->n_topics; i++) {
        for (size_t j = 0; j < c->topics[i]->n_parts; j++) {
            struct zc_part *p = &c->topics[i]->parts[j];
            size_t k = 0;
            for (size_t m = 0; m < p->n_offline; m++)
                if (p->offline[m] != broker)
                    p->offline[k++] = p->offline[m];
            p->n_offline = k;
        }
    }
}

struct zc_topic *zc_topic_find(const zkctl *c, const char *name)
{
    for (size_t i = 0; i < c->n_topics; i++)
        if (strcmp(c->topics[i]->name, name) == 0)
            return c->topics[i];
    return NULL;
}

struct zc_topic *zc_topic_find_id(const zkctl *c, proto_uuid id)
{
    for (size_t i = 0; i < c->n_topics; i++)
        if (proto_uuid_eq(c->topics[i]->id, id))
            return c->topics[i];
    return NULL;
}

struct zc_part *zc_part_find(const struct zc_topic *t, int32_t id)
{
    if (id >= 0 && (size_t)id < t->n_parts && t->parts[id].id == id)
        return &t->parts[id]; /* partitions are usually kept in order 0..n-1 */
    for (size_t i = 0; i < t->n_parts; i++)
        if (t->parts[i].id == id)
            return &t->parts[i];
    return NULL;
}

void zc_lisr_free(struct zc_lisr *l)
{
    ferry_free(l->isr);
    l->isr = NULL;
    l->n_isr = 0;
}

int zc_lisr_copy(struct zc_lisr *dst, const struct zc_lisr *src)
{
    int32_t *isr = ferry_malloc((src->n_isr ? src->n_isr : 1) * sizeof(int32_t));
    if (!isr)
        return FERRY_ENOMEM;
    if (src->n_isr)
        memcpy(isr, src->isr, src->n_isr * sizeof(int32_t));
    zc_lisr_free(dst);
    *dst = *src;
    dst->isr = isr;
    return 0;
}

void zc_state_path(char *buf, size_t cap, const char *topic, int32_t partition)
{
    snprintf(buf, cap, "/brokers/topics/%s/partitions/%" PRId32 "/state", topic, partition);
}

/* ---- lifecycle ---- */
int zkctl_new(const zkctl_config *cfg, zkctl **out)
{
    if (!cfg || !out || cfg->leader_imbalance_per_broker_percentage < 0 ||
        cfg->leader_imbalance_check_interval_ms <= 0)
        return FERRY_EINVAL;
    zkctl *c = ferry_calloc(1, sizeof(*c));
    if (!c)
        return FERRY_ENOMEM;
    c->cfg = *cfg;
    c->ibl = ferry_strdup(cfg->inter_broker_listener ? cfg->inter_broker_listener : "PLAINTEXT");
    if (!c->ibl) {
        ferry_free(c);
        return FERRY_ENOMEM;
    }
    c->cfg.inter_broker_listener = c->ibl;
    *out = c;
    return 0;
}

void zkctl_free(zkctl *c)
{
    if (!c)
        return;
    zc_group_drop(c);
    zc_model_clear(c);
    zc_requests_free(c);
    zkctl_action *a;
    while ((a = zkctl_next_action(c)))
        zkctl_action_free(a);
    ferry_free(c->ibl);
    ferry_free(c);
}

bool zkctl_is_active(const zkctl *c) { return c->active; }

size_t zkctl_partitions_decided(const zkctl *c) { return c->n_decided; }

size_t zkctl_state_writes_in_flight(const zkctl *c) { return c->n_state_writes; }

static size_t batch_entries(const zkctl *c)
{
    size_t n = c->batch.um_parts.n + c->batch.n_um_brokers;
    for (size_t i = 0; i < c->batch.n_brq; i++)
        n += c->batch.brq[i].lair.n + c->batch.brq[i].sr.n;
    return n;
}

static int finish_tail(zkctl *c)
{
    zc_group_close(c);
    /* As Kafka's controller writes the state znodes of a whole change (a topic creation, a broker failure)
     * before it sends one request per broker, the batch keeps growing while state writes are in flight and
     * goes out with the result of the last one; a very large batch, and every tick, send what is there. */
    if (c->n_state_writes == 0 || batch_entries(c) >= ZC_BATCH_MAX_ENTRIES)
        zc_batch_flush(c);
    int rc = c->err;
    c->err = 0;
    return rc;
}

int zc_finish(zkctl *c)
{
    zc_reconcile(c);
    return finish_tail(c);
}

int zc_finish_parts(zkctl *c, struct zc_topic *const *ts, struct zc_part *const *ps, size_t n)
{
    zc_reconcile_parts(c, ts, ps, n);
    return finish_tail(c);
}

static int snapshot_check(const zkctl_snapshot *s)
{
    if (!s || (s->n_brokers && !s->brokers) || (s->n_topics && !s->topics) || (s->n_deletions && !s->deletions))
        return FERRY_EINVAL;
    for (size_t i = 0; i < s->n_brokers; i++) {
        if (zc_broker_check(&s->brokers[i]))
            return FERRY_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (s->brokers[j].id == s->brokers[i].id)
                return FERRY_EINVAL;
    }
    for (size_t i = 0; i < s->n_topics; i++) {
        const zkctl_topic_in *t = &s->topics[i];
        if (!t->name || !zk_topic_name_valid(t->name) || zc_assignment_check(t->assignment) ||
            (t->n_states && !t->states))
            return FERRY_EINVAL;
        for (size_t j = 0; j < t->n_states; j++)
            if (!t->states[j].state || (t->states[j].state->n_isr && !t->states[j].state->isr))
                return FERRY_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->topics[j].name, t->name) == 0)
                return FERRY_EINVAL;
    }
    for (size_t i = 0; i < s->n_deletions; i++)
        if (!s->deletions[i])
            return FERRY_EINVAL;
    return 0;
}

void zc_part_announce(zkctl *c, struct zc_topic *t, struct zc_part *p)
{
    for (size_t k = 0; k < p->n_replicas; k++)
        if (zc_up(c, p->replicas[k]))
            zc_batch_lair(c, p->replicas[k], t, p, false);
    zc_batch_um_part(c, t, p);
}

void zc_mark_dead_members(const zkctl *c, struct zc_part *p)
{
    bool dead = p->st.leader >= 0 && !zc_up(c, p->st.leader);
    for (size_t k = 0; k < p->st.n_isr && !dead; k++)
        dead = !zc_up(c, p->st.isr[k]);
    if (dead)
        p->flags |= ZC_F_SHRINK_DEAD;
}

static void queue_purge(zkctl *c);

int zkctl_become_controller(zkctl *c, const zkctl_snapshot *s)
{
    int rc = snapshot_check(s);
    if (rc)
        return rc;
    queue_purge(c);
    zc_model_clear(c);
    zc_requests_fail_all(c, KERR_NOT_CONTROLLER);
    c->active = true;
    c->epoch = s->epoch;
    c->epoch_zkv = s->epoch_zkversion;
    c->now_ms = s->now_ms;
    c->next_rebalance_ms = s->now_ms + 5000; /* Kafka: first check 5 s after failover */
    size_t n_image = 0; /* states taken from the image (image takeover) */
    for (size_t i = 0; i < s->n_brokers && !rc; i++)
        rc = zc_broker_add(c, &s->brokers[i]);
    for (size_t i = 0; i < s->n_topics && !rc; i++) {
        const zkctl_topic_in *ti = &s->topics[i];
        struct zc_topic *t = NULL;
        rc = zc_topic_add(c, ti->name, ti->assignment, &t);
        if (rc)
            break;
        t->has_unclean = ti->has_unclean;
        t->unclean = ti->unclean;
        for (size_t j = 0; j < ti->n_states && !rc; j++) {
            struct zc_part *p = zc_part_find(t, ti->states[j].partition);
            if (p)
                rc = zc_state_adopt(c, p, ti->states[j].state, ti->states[j].zkversion);
            if (p && !rc) {
                p->from_image = ti->states[j].from_image;
                n_image += p->from_image;
            }
            /* Kafka's ReplicaStateMachine.startup: replicas on brokers that are not live go OfflineReplica,
             * which takes them out of the ISR (never the last member) */
            if (p && !rc && p->has_state)
                zc_mark_dead_members(c, p);
        }
        if (t->n_parts && t->parts[0].has_state)
            t->parents_made = true;
        /* Kafka's initializePartitionReassignments: only at failover (a topic that appears later with
         * adding/removing replicas is created with its replicas as written, nothing resumes) */
        zc_reassign_adopt(c, t, ti->assignment);
    }
    if (rc) {
        zc_model_clear(c);
        c->active = false;
        return rc;
    }
    LOG_INFO(ZC_MOD, "controller %" PRId32 ": active, epoch %" PRId32 " (zkVersion %" PRId32 "), %zu brokers, %zu topics, "
             "%zu partition states from the metadata image", c->cfg.controller_id, c->epoch, c->epoch_zkv, c->n_brokers,
             c->n_topics, n_image);
    /* UpdateMetadata (live brokers) to every broker, then LeaderAndIsr for every partition to its live
     * replicas with UpdateMetadata for those partitions (Kafka's onControllerFailover) */
    zc_batch_um_all_brokers(c);
    zc_batch_flush(c);
    for (size_t i = 0; i < c->n_topics; i++)
        for (size_t j = 0; j < c->topics[i]->n_parts; j++)
            if (c->topics[i]->parts[j].has_state)
                zc_part_announce(c, c->topics[i], &c->topics[i]->parts[j]);
    zc_batch_um_all_brokers(c);
    zc_batch_flush(c);
    for (size_t i = 0; i < s->n_deletions; i++)
        zc_delete_requested(c, s->deletions[i]);
    return zc_finish(c);
}

/* Like Kafka's controller channel shutdown: queued znode operations and requests of the previous term are
 * dropped; answers to brokers and a RESIGN action stay. */
static void queue_purge(zkctl *c)
{
    zc_group_drop(c);
    zkctl_action **pp = &c->q_head;
    c->q_tail = NULL;
    while (*pp) {
        zkctl_action *a = *pp;
        if (a->kind == ZKCTL_ACT_ZK_MULTI || a->kind == ZKCTL_ACT_ZK_READ || a->kind == ZKCTL_ACT_SEND) {
            *pp = a->next;
            zkctl_action_free(a);
        } else {
            c->q_tail = a;
            pp = &a->next;
        }
    }
}

void zc_do_resign(zkctl *c)
{
    queue_purge(c);
    zc_requests_fail_all(c, KERR_NOT_CONTROLLER);
    zc_model_clear(c);
    c->active = false;
}

int zkctl_tick(zkctl *c, int64_t now_ms)
{
    if (!c->active)
        return 0;
    c->now_ms = now_ms;
    zc_batch_flush(c);
    if (c->cfg.auto_leader_rebalance_enable && now_ms >= c->next_rebalance_ms) {
        zc_rebalance_check(c);
        c->next_rebalance_ms = now_ms + c->cfg.leader_imbalance_check_interval_ms;
    }
    return zc_finish(c);
}

int zkctl_resign(zkctl *c)
{
    if (!c->active)
        return 0;
    LOG_INFO(ZC_MOD, "controller %" PRId32 ": resigning (epoch %" PRId32 ")", c->cfg.controller_id, c->epoch);
    zc_do_resign(c);
    int rc = c->err;
    c->err = 0;
    return rc;
}

int zkctl_partition(const zkctl *c, const char *topic, int32_t partition, zkctl_partition_view *out)
{
    const struct zc_topic *t = topic ? zc_topic_find(c, topic) : NULL;
    const struct zc_part *p = t ? zc_part_find(t, partition) : NULL;
    if (!p || !out)
        return FERRY_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    out->has_state = p->has_state;
    out->leader = p->st.leader;
    out->leader_epoch = p->st.leader_epoch;
    out->controller_epoch = p->ctrl_epoch;
    out->zkversion = p->zkv;
    out->n_isr = p->st.n_isr;
    out->isr = p->st.isr;
    out->n_replicas = p->n_replicas;
    out->replicas = p->replicas;
    out->leader_recovery_state = p->st.lrs;
    out->deleting = t->deleting;
    out->reassigning = p->ra && p->ra->phase < ZC_RA_FINISH;
    out->n_adding = p->ra ? p->ra->n_adding : 0;
    out->adding = p->ra ? p->ra->adding : NULL;
    out->n_removing = p->ra ? p->ra->n_removing : 0;
    out->removing = p->ra ? p->ra->removing : NULL;
    return 0;
}
