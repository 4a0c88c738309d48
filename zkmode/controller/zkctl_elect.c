/* zkctl_elect.c: Kafka 3.7's leader elections and ISR shrinks for one partition (Election.scala,
 * PartitionStateMachine, ReplicaStateMachine's OfflineReplica), and the preferred-leader imbalance check
 * (KafkaController.checkAndTriggerAutoLeaderRebalance). Pure decisions: the caller writes the result. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkctl_internal.h"

static bool is_sd(const zkctl *c, int32_t id)
{
    const struct zc_broker *b = zc_broker_find(c, id);
    return b && b->shutting_down;
}

/* Removes from isr[0..*n) the members for which drop() holds, keeping the last one if all would go
 * (the ISR never becomes empty). */
static void isr_filter(const zkctl *c, const struct zc_part *p, int32_t *isr, size_t *n,
                       bool (*keep)(const zkctl *, const struct zc_part *, int32_t), int32_t also_keep)
{
    if (*n == 0)
        return;
    int32_t last = isr[*n - 1];
    size_t k = 0;
    for (size_t i = 0; i < *n; i++)
        if (isr[i] == also_keep || keep(c, p, isr[i]))
            isr[k++] = isr[i];
    if (k == 0)
        isr[k++] = last;
    *n = k;
}

static bool not_sd(const zkctl *c, const struct zc_part *p, int32_t id)
{
    (void)p;
    return !is_sd(c, id);
}

bool zc_decide(const zkctl *c, const struct zc_topic *t, const struct zc_part *p, struct zc_lisr *out,
               int32_t **skip_out, size_t *n_skip_out, int *err)
{
    const struct zc_lisr *cur = &p->st;
    /* the common case, without allocating: a leader that is up and nothing asked for */
    if (!(p->flags & (ZC_F_SHRINK_DEAD | ZC_F_CS | ZC_F_PREFERRED)) && cur->leader >= 0 &&
        zc_replica_up(c, p, cur->leader))
        return false;
    size_t cap = cur->n_isr + p->n_replicas + 1;
    int32_t *isr = ferry_malloc(cap * sizeof(int32_t));
    int32_t *skip = ferry_malloc(cap * sizeof(int32_t));
    if (!isr || !skip) {
        ferry_free(isr);
        ferry_free(skip);
        *err = FERRY_ENOMEM;
        return false;
    }
    size_t n = cur->n_isr, n_skip = 0;
    if (n)
        memcpy(isr, cur->isr, n * sizeof(int32_t));
    int32_t leader = cur->leader;
    int8_t lrs = cur->lrs;
    bool unclean = (p->flags & ZC_F_UNCLEAN) || (t->has_unclean ? t->unclean : c->cfg.unclean_leader_election_enable);

    if (leader < 0 || !zc_replica_up(c, p, leader)) {
        /* offline partition: clean election = first replica (assignment order) live and in the ISR */
        int32_t nl = -1;
        for (size_t i = 0; i < p->n_replicas && nl < 0; i++)
            if (zc_replica_live(c, p, p->replicas[i]) && zc_contains(isr, n, p->replicas[i]))
                nl = p->replicas[i];
        if (nl >= 0) {
            isr_filter(c, p, isr, &n, zc_replica_live, nl);
            leader = nl;
        } else if (unclean) {
            for (size_t i = 0; i < p->n_replicas && nl < 0; i++)
                if (zc_replica_live(c, p, p->replicas[i]))
                    nl = p->replicas[i];
            if (nl >= 0) {
                LOG_WARN(ZC_MOD, "%s-%d: unclean leader election of %d", t->name, (int)p->id, (int)nl);
                leader = nl;
                isr[0] = nl;
                n = 1;
                lrs = 1; /* RECOVERING (IBP >= 3.2) */
            }
        }
        if (nl < 0 && (p->flags & ZC_F_SHRINK_DEAD)) {
            /* OfflineReplica: dead brokers leave the ISR, but never the last member; no leader */
            leader = ZC_NO_LEADER;
            isr_filter(c, p, isr, &n, zc_replica_up, -1);
        }
    } else {
        int32_t old = leader;
        if (is_sd(c, leader) && (p->flags & ZC_F_CS) && p->n_replicas > 1) {
            /* ControlledShutdownPartitionLeaderElection: first replica in the ISR, live, not shutting down;
             * the new ISR drops the shutting-down brokers */
            int32_t nl = -1;
            for (size_t i = 0; i < p->n_replicas && nl < 0; i++)
                if (zc_replica_live(c, p, p->replicas[i]) && zc_contains(isr, n, p->replicas[i]))
                    nl = p->replicas[i];
            if (nl >= 0) {
                leader = nl;
                isr_filter(c, p, isr, &n, not_sd, nl);
            }
        } else if ((p->flags & ZC_F_PREFERRED) && p->replicas[0] != leader && zc_replica_live(c, p, p->replicas[0]) &&
                   zc_contains(isr, n, p->replicas[0])) {
            leader = p->replicas[0];
        }
        if (p->flags & ZC_F_SHRINK_DEAD)
            isr_filter(c, p, isr, &n, zc_replica_up, leader);
        if ((p->flags & ZC_F_CS) && p->n_replicas > 1 && !is_sd(c, leader)) {
            /* OfflineReplica for shutting-down followers: out of the ISR, StopReplica(delete=false) */
            for (size_t i = 0; i < n;) {
                if (isr[i] != leader && isr[i] != old && is_sd(c, isr[i]) && n > 1) {
                    skip[n_skip++] = isr[i];
                    memmove(&isr[i], &isr[i + 1], (n - i - 1) * sizeof(int32_t));
                    n--;
                } else {
                    i++;
                }
            }
        }
    }
    bool same = leader == cur->leader && lrs == cur->lrs && n == cur->n_isr &&
                (n == 0 || memcmp(isr, cur->isr, n * sizeof(int32_t)) == 0);
    if (same) {
        ferry_free(isr);
        ferry_free(skip);
        return false;
    }
    out->leader = leader;
    out->leader_epoch = cur->leader_epoch + 1;
    out->lrs = lrs;
    out->n_isr = n;
    out->isr = isr;
    if (n_skip) {
        *skip_out = skip;
        *n_skip_out = n_skip;
    } else {
        ferry_free(skip);
    }
    return true;
}

void zc_rebalance_check(zkctl *c)
{
    /* per preferred broker (the head of each assignment), the share of its partitions it does not lead */
    for (size_t bi = 0; bi < c->n_brokers; bi++) {
        int32_t b = c->brokers[bi].id;
        size_t total = 0, off = 0;
        for (size_t i = 0; i < c->n_topics; i++) {
            const struct zc_topic *t = c->topics[i];
            if (t->deleting)
                continue;
            for (size_t j = 0; j < t->n_parts; j++) {
                const struct zc_part *p = &t->parts[j];
                if (p->replicas[0] != b)
                    continue;
                total++;
                if (p->has_state && p->st.leader != b)
                    off++;
            }
        }
        if (!total || off * 100 <= total * (size_t)c->cfg.leader_imbalance_per_broker_percentage)
            continue;
        size_t moving = 0;
        for (size_t i = 0; i < c->n_topics; i++) {
            struct zc_topic *t = c->topics[i];
            if (t->deleting)
                continue;
            for (size_t j = 0; j < t->n_parts; j++) {
                struct zc_part *p = &t->parts[j];
                if (p->replicas[0] == b && p->has_state && p->st.leader != b && zc_replica_live(c, p, b) &&
                    zc_contains(p->st.isr, p->st.n_isr, b)) {
                    p->flags |= ZC_F_PREFERRED;
                    moving++;
                }
            }
        }
        if (moving) /* as Kafka, only when there is something to elect (the ratio alone is a debug line there) */
            LOG_INFO(ZC_MOD, "broker %d does not lead %zu of its %zu preferred partitions: preferred election for %zu",
                     (int)b, off, total, moving);
    }
}
