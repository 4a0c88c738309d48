/* zkctl_state.c: partition-state znode writes (create, conditional set), re-reads after a failed or unknown
 * write, the reconcile pass that turns decisions into writes (elections first), the results of znode
 * operations, and the image takeover's background read (zkctl_states_read: a state newer than the image's
 * is adopted and announced). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkctl_internal.h"

/* ---- znode writes of partition states ---- */
static int encode_state(const zkctl *c, const struct zc_lisr *l, char **out, size_t *len)
{
    zk_partition_state s = {
        .controller_epoch = c->epoch,
        .leader = l->leader,
        .leader_epoch = l->leader_epoch,
        .n_isr = l->n_isr,
        .isr = l->isr,
        .leader_recovery_state = l->lrs,
    };
    return zk_partition_state_encode(&s, out, len);
}

static void parent_create(zkctl *c, const char *path)
{
    struct zc_pending *pd = zc_pending_add(c, ZC_P_PARENT, NULL, -1);
    if (!pd)
        return;
    pd->id = zc_zk_op(c, pd, ZKCTL_OP_CREATE, path, NULL, 0, -1);
    if (!pd->id)
        zc_pending_drop(c, pd);
}

int zc_write_state(zkctl *c, struct zc_topic *t, struct zc_part *p, const struct zc_lisr *prop,
                   enum zc_pend_kind kind, struct zc_pending **out)
{
    char path[400];
    char *data = NULL;
    size_t len = 0;
    int rc = encode_state(c, prop, &data, &len);
    if (rc) {
        zc_set_error(c, rc);
        return rc;
    }
    bool create = !p->has_state;
    if (create) {
        snprintf(path, sizeof(path), "/brokers/topics/%s/partitions", t->name);
        if (!t->parents_made) {
            parent_create(c, path);
            t->parents_made = true;
        }
        snprintf(path, sizeof(path), "/brokers/topics/%s/partitions/%" PRId32, t->name, p->id);
        parent_create(c, path);
    }
    struct zc_pending *pd = zc_pending_add(c, create ? ZC_P_CREATE : kind, t->name, p->id);
    if (!pd || zc_lisr_copy(&pd->prop, prop)) {
        if (pd)
            zc_pending_drop(c, pd);
        ferry_free(data);
        zc_set_error(c, FERRY_ENOMEM);
        return FERRY_ENOMEM;
    }
    pd->old_leader = p->has_state ? p->st.leader : ZC_NO_LEADER;
    zc_state_path(path, sizeof(path), t->name, p->id);
    if (kind == ZC_P_ALTER && !create) /* answered per request: its own multi */
        pd->id = zc_zk_op(c, pd, ZKCTL_OP_SET, path, data, len, p->zkv);
    else
        pd->id = zc_zk_state_op(c, pd, create ? ZKCTL_OP_CREATE : ZKCTL_OP_SET, path, data, len,
                                create ? -1 : p->zkv);
    ferry_free(data);
    if (!pd->id) {
        zc_pending_drop(c, pd);
        return FERRY_ENOMEM;
    }
    p->busy = pd->id;
    if (out)
        *out = pd;
    return 0;
}

static void reread_state(zkctl *c, struct zc_topic *t, struct zc_part *p, const struct zc_pending *from)
{
    char path[400];
    /* remember the write (from is dropped after this call): if the re-read finds exactly it, it went
     * through before the connection broke */
    struct zc_lisr prop = {0};
    int32_t mark = -4; /* nothing to compare */
    if (from && (from->kind == ZC_P_CREATE || from->kind == ZC_P_SET)) {
        if (zc_lisr_copy(&prop, &from->prop)) {
            zc_set_error(c, FERRY_ENOMEM);
            return;
        }
        mark = from->kind == ZC_P_CREATE ? -3 : from->old_leader;
    }
    struct zc_pending *pd = zc_pending_add(c, ZC_P_READ, t->name, p->id);
    if (!pd) {
        zc_lisr_free(&prop);
        return;
    }
    pd->prop = prop;
    pd->old_leader = mark;
    zc_state_path(path, sizeof(path), t->name, p->id);
    pd->id = zc_zk_read(c, pd, path);
    if (!pd->id) {
        zc_pending_drop(c, pd);
        p->busy = 0;
        return;
    }
    p->busy = pd->id;
}

/* A state write succeeded (or a re-read found it applied): adopt it and tell the brokers. */
static void state_written(zkctl *c, struct zc_topic *t, struct zc_part *p, const struct zc_pending *pd,
                          int32_t version, bool is_new)
{
    if (zc_lisr_copy(&p->st, &pd->prop)) {
        zc_set_error(c, FERRY_ENOMEM);
        return;
    }
    p->has_state = true;
    p->from_image = false;
    p->zkv = version;
    p->ctrl_epoch = c->epoch;
    LOG_DEBUG(ZC_MOD, "%s-%" PRId32 ": leader %" PRId32 " leader_epoch %" PRId32 " isr size %zu partition_epoch %" PRId32
             " controller_epoch %" PRId32, t->name, p->id, p->st.leader, p->st.leader_epoch, p->st.n_isr, version,
             c->epoch);
    zc_batch_partition_change(c, t, p, is_new, pd->skip, pd->n_skip);
    for (size_t i = 0; i < pd->n_skip; i++)
        zc_batch_sr(c, pd->skip[i], t, p, false, p->st.leader_epoch);
}

/* ---- the reconcile pass ---- */
static void new_partition(zkctl *c, struct zc_topic *t, struct zc_part *p)
{
    /* Kafka's NewPartition -> OnlinePartition: leader = first live replica, ISR = live replicas, epoch 0 */
    int32_t *isr = ferry_malloc(p->n_replicas * sizeof(int32_t));
    if (!isr) {
        zc_set_error(c, FERRY_ENOMEM);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < p->n_replicas; i++)
        if (zc_replica_live(c, p, p->replicas[i]))
            isr[n++] = p->replicas[i];
    if (n == 0) {
        ferry_free(isr);
        return; /* stays new until a replica is live */
    }
    struct zc_lisr prop = {.leader = isr[0], .leader_epoch = 0, .lrs = 0, .n_isr = n, .isr = isr};
    zc_write_state(c, t, p, &prop, ZC_P_CREATE, NULL);
    ferry_free(isr);
}

/* The decisions for one partition that is neither busy nor deleted. */
static void reconcile_one(zkctl *c, struct zc_topic *t, struct zc_part *p)
{
    c->n_decided++;
    if (p->busy || p->bad_state)
        return;
    if (!p->has_state) {
        new_partition(c, t, p);
        return;
    }
    if (p->ctrl_epoch > c->epoch)
        return; /* decided by a newer controller: ours is a zombie's view (Kafka skips it) */
    struct zc_lisr prop = {0};
    int32_t *skip = NULL;
    size_t n_skip = 0;
    int err = 0;
    if (!zc_decide(c, t, p, &prop, &skip, &n_skip, &err)) {
        if (err)
            zc_set_error(c, err);
        else
            p->flags = 0;
        return;
    }
    struct zc_pending *pd = NULL;
    if (zc_write_state(c, t, p, &prop, ZC_P_SET, &pd) == 0) {
        pd->skip = skip;
        pd->n_skip = n_skip;
        skip = NULL;
    }
    ferry_free(skip);
    zc_lisr_free(&prop);
}

/* A partition whose state names no leader that can lead: its election goes first. */
static bool leaderless(const zkctl *c, const struct zc_part *p)
{
    return p->has_state && (p->st.leader < 0 || !zc_replica_live(c, p, p->st.leader));
}

void zc_reconcile(zkctl *c)
{
    if (!c->active)
        return;
    zc_requests_progress(c);
    /* Kafka's onBrokerFailure: elections for the partitions that lost their leader, then the other
     * partitions (ISR shrinks): their writes, and so their LeaderAndIsr, come first */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < c->n_topics && c->active; i++) {
            struct zc_topic *t = c->topics[i];
            for (size_t j = 0; !t->deleting && j < t->n_parts; j++)
                if (leaderless(c, &t->parts[j]) == (pass == 0))
                    reconcile_one(c, t, &t->parts[j]);
        }
    zc_delete_progress(c);
    zc_requests_progress(c);
}

void zc_reconcile_parts(zkctl *c, struct zc_topic *const *ts, struct zc_part *const *ps, size_t n)
{
    if (!c->active)
        return;
    zc_requests_progress(c);
    for (size_t i = 0; i < n && c->active; i++)
        if (ts[i] && ps[i] && !ts[i]->deleting)
            reconcile_one(c, ts[i], ps[i]);
    zc_delete_progress(c);
    zc_requests_progress(c);
}

/* ---- results ---- */
/* The failed state writes of one result, logged once (a failover's group of 100, or thousands of groups
 * after a lost connection, would otherwise log a line per partition). */
struct reread_log {
    size_t n;
    int rc;
    char first[300];
};

static void reread_log_flush(const struct reread_log *rl)
{
    if (rl->n == 1)
        LOG_INFO(ZC_MOD, "%s: state write failed (%d): re-reading", rl->first, rl->rc);
    else if (rl->n > 1)
        LOG_INFO(ZC_MOD, "%zu state writes failed, %s first (%d): re-reading them", rl->n, rl->first, rl->rc);
}

/* The result of one write (a multi of its own, or a member of a group): adopts or retries it and drops pd.
 * *t_out / *p_out: the partition to decide again (NULL: none). */
static void write_result(zkctl *c, struct zc_pending *pd, enum zkctl_zk_rc rc, int32_t version,
                         struct zc_topic **t_out, struct zc_part **p_out, struct reread_log *rl)
{
    uint64_t id = pd->id;
    struct zc_topic *t = pd->topic ? zc_topic_find(c, pd->topic) : NULL;
    struct zc_part *p = t ? zc_part_find(t, pd->partition) : NULL;
    switch (pd->kind) {
    case ZC_P_PARENT:
        if (rc != ZKCTL_ZK_OK && rc != ZKCTL_ZK_NODEEXISTS)
            LOG_WARN(ZC_MOD, "parent znode create failed (%d); the state create will tell", (int)rc);
        zc_pending_drop(c, pd);
        break;
    case ZC_P_ADMIN:
        if (rc != ZKCTL_ZK_OK && rc != ZKCTL_ZK_NONODE)
            LOG_WARN(ZC_MOD, "an /admin znode write failed (%d)", (int)rc);
        zc_pending_drop(c, pd);
        break;
    case ZC_P_CREATE:
    case ZC_P_SET:
        if (!p || p->busy != id) {
            zc_pending_drop(c, pd);
            break;
        }
        p->busy = 0;
        if (rc == ZKCTL_ZK_OK) {
            state_written(c, t, p, pd, version, pd->kind == ZC_P_CREATE);
        } else if (rc == ZC_ZK_NOT_APPLIED) {
            /* another write of its group failed: nothing changed, decided again below */
        } else if (rc == ZKCTL_ZK_NONODE) {
            /* create: a parent is missing; set: the znode is gone. Either way: (re)create it */
            if (pd->kind == ZC_P_CREATE)
                t->parents_made = false;
            p->has_state = false;
            zc_lisr_free(&p->st);
            p->st.leader = ZC_NO_LEADER;
        } else {
            LOG_DEBUG(ZC_MOD, "%s-%" PRId32 ": state write failed (%d): re-reading", t->name, p->id, (int)rc);
            if (rl->n++ == 0) {
                rl->rc = (int)rc;
                snprintf(rl->first, sizeof rl->first, "%s-%" PRId32, t->name, p->id);
            }
            reread_state(c, t, p, pd);
        }
        zc_pending_drop(c, zc_pending_find(c, id));
        break;
    case ZC_P_DELETE:
        zc_delete_result(c, pd, rc);
        zc_pending_drop(c, zc_pending_find(c, id));
        t = NULL; /* the topic may be gone */
        p = NULL;
        break;
    case ZC_P_ALTER:
        if (p && p->busy == id)
            p->busy = 0;
        zc_alter_result(c, pd, rc, version);
        if (p && rc != ZKCTL_ZK_OK && rc != ZKCTL_ZK_NONODE)
            reread_state(c, t, p, NULL);
        zc_pending_drop(c, zc_pending_find(c, id));
        break;
    case ZC_P_READ:
    case ZC_P_GROUP:
        break; /* not written one by one */
    }
    *t_out = t;
    *p_out = p;
}

/* A group's result, member by member: each gets its op's outcome, or NOT_APPLIED when another op failed
 * (a multi is all or nothing); a lost connection or an unplaced failure goes to every member (re-read). */
static int group_result(zkctl *c, struct zc_pending *g, enum zkctl_zk_rc rc, size_t failed_op,
                        const int32_t *versions, size_t n_versions)
{
    size_t n = g->n_members;
    uint64_t *members = g->members;
    g->members = NULL;
    zc_pending_drop(c, g);
    struct zc_topic **ts = ferry_calloc(n + 1, sizeof(*ts));
    struct zc_part **ps = ferry_calloc(n + 1, sizeof(*ps));
    struct reread_log rl = {0};
    for (size_t i = 0; i < n; i++) {
        struct zc_pending *pd = zc_pending_find(c, members[i]);
        if (!pd)
            continue;
        size_t op = i + 1;
        enum zkctl_zk_rc mrc = rc;
        if (rc != ZKCTL_ZK_OK && rc != ZKCTL_ZK_CONNLOSS && failed_op >= 1 && failed_op <= n && failed_op != op)
            mrc = ZC_ZK_NOT_APPLIED;
        struct zc_topic *t = NULL;
        struct zc_part *p = NULL;
        write_result(c, pd, mrc, op < n_versions ? versions[op] : 0, &t, &p, &rl);
        if (ts && ps) {
            ts[i] = t;
            ps[i] = p;
        }
    }
    reread_log_flush(&rl);
    ferry_free(members);
    if (!ts || !ps) {
        ferry_free(ts);
        ferry_free(ps);
        zc_set_error(c, FERRY_ENOMEM);
        return zc_finish(c); /* decides every partition instead */
    }
    int ret = zc_finish_parts(c, ts, ps, n);
    ferry_free(ts);
    ferry_free(ps);
    return ret;
}

int zkctl_zk_multi_result(zkctl *c, uint64_t id, enum zkctl_zk_rc rc, size_t failed_op, const int32_t *versions,
                          size_t n_versions)
{
    if (!c->active)
        return 0;
    if (n_versions && !versions)
        return FERRY_EINVAL;
    struct zc_pending *pd = zc_pending_find(c, id);
    if (!pd)
        return FERRY_ENOTFOUND;
    if (pd->kind == ZC_P_READ)
        return FERRY_EINVAL; /* a read answered as a multi */
    if (rc == ZKCTL_ZK_BADVERSION && failed_op == 0) {
        LOG_WARN(ZC_MOD, "controller %" PRId32 ": /controller_epoch moved past zkVersion %" PRId32 ": resigning",
                 c->cfg.controller_id, c->epoch_zkv);
        zkctl_action *a = ferry_calloc(1, sizeof(*a));
        if (!a)
            zc_set_error(c, FERRY_ENOMEM);
        else {
            a->kind = ZKCTL_ACT_RESIGN;
            zc_enqueue(c, a);
        }
        zc_do_resign(c);
        return zc_finish(c);
    }
    if (pd->kind == ZC_P_GROUP)
        return group_result(c, pd, rc, failed_op, versions, n_versions);
    struct zc_topic *t = NULL;
    struct zc_part *p = NULL;
    struct reread_log rl = {0};
    write_result(c, pd, rc, n_versions ? versions[n_versions - 1] : 0, &t, &p, &rl);
    reread_log_flush(&rl);
    /* only p changed (a partition without a write in flight was decided at the end of an earlier event) */
    return zc_finish_parts(c, &t, &p, 1);
}

int zkctl_zk_result(zkctl *c, uint64_t id, enum zkctl_zk_rc rc, size_t failed_op, int32_t version)
{
    int32_t versions[2] = {0, version};
    return zkctl_zk_multi_result(c, id, rc, failed_op, versions, 2);
}

static bool lisr_eq(const struct zc_lisr *a, const zk_partition_state *s)
{
    return a->leader == s->leader && a->leader_epoch == s->leader_epoch && a->lrs == s->leader_recovery_state &&
           a->n_isr == s->n_isr && (!a->n_isr || memcmp(a->isr, s->isr, a->n_isr * sizeof(int32_t)) == 0);
}

/* A state read from ZooKeeper replaces the controller's. When the controller's came from the image (image
 * takeover), the brokers got the image's at failover: they get the read one, as a failover that had read
 * it would have sent it. */
static void image_adopt(zkctl *c, struct zc_topic *t, struct zc_part *p, const zk_partition_state *s,
                        int32_t version)
{
    bool announce = p->from_image && (version != p->zkv || !lisr_eq(&p->st, s));
    int rc = zc_state_adopt(c, p, s, version);
    if (rc) {
        zc_set_error(c, rc);
        return;
    }
    p->from_image = false;
    if (announce) {
        zc_mark_dead_members(c, p);
        zc_part_announce(c, t, p);
        zc_batch_um_all_brokers(c);
    }
}

int zkctl_zk_read_result(zkctl *c, uint64_t id, enum zkctl_zk_rc rc, const char *data, size_t len,
                         int32_t version)
{
    if (!c->active)
        return 0;
    struct zc_pending *pd = zc_pending_find(c, id);
    if (!pd)
        return FERRY_ENOTFOUND;
    if (pd->kind != ZC_P_READ)
        return FERRY_EINVAL;
    struct zc_topic *t = zc_topic_find(c, pd->topic);
    struct zc_part *p = t ? zc_part_find(t, pd->partition) : NULL;
    if (!p || p->busy != id) {
        zc_pending_drop(c, pd);
        return zc_finish_parts(c, NULL, NULL, 0);
    }
    p->busy = 0;
    if (rc == ZKCTL_ZK_OK) {
        zk_partition_state s;
        zk_err e = {{0}};
        int drc = zk_partition_state_decode(data, data ? len : 0, &s, &e);
        if (drc) {
            LOG_ERROR(ZC_MOD, "/brokers/topics/%s/partitions/%" PRId32 "/state: %s: partition left alone", t->name,
                      p->id, e.msg);
            p->bad_state = true;
            if (drc == FERRY_ENOMEM)
                zc_set_error(c, drc);
        } else {
            bool ours = pd->old_leader != -4 && s.controller_epoch == c->epoch && lisr_eq(&pd->prop, &s);
            if (ours) /* our write went through before the connection broke */
                state_written(c, t, p, pd, version, pd->old_leader == -3);
            else
                image_adopt(c, t, p, &s, version);
            zk_partition_state_free(&s);
        }
    } else if (rc == ZKCTL_ZK_NONODE) {
        p->from_image = false;
        p->has_state = false;
        zc_lisr_free(&p->st);
        p->st.leader = ZC_NO_LEADER;
    } else {
        reread_state(c, t, p, NULL);
    }
    zc_pending_drop(c, zc_pending_find(c, id));
    return zc_finish_parts(c, &t, &p, 1);
}


int zkctl_states_read(zkctl *c, const zkctl_topic_in *topics, size_t n_topics)
{
    if (n_topics && !topics)
        return FERRY_EINVAL;
    size_t n = 0;
    for (size_t i = 0; i < n_topics; i++) {
        if (!topics[i].name || (topics[i].n_states && !topics[i].states))
            return FERRY_EINVAL;
        for (size_t j = 0; j < topics[i].n_states; j++)
            if (!topics[i].states[j].state ||
                (topics[i].states[j].state->n_isr && !topics[i].states[j].state->isr))
                return FERRY_EINVAL;
        n += topics[i].n_states;
    }
    if (!c->active)
        return 0;
    struct zc_topic **ts = ferry_calloc(n + 1, sizeof(*ts));
    struct zc_part **ps = ferry_calloc(n + 1, sizeof(*ps));
    if (!ts || !ps) {
        ferry_free(ts);
        ferry_free(ps);
        return FERRY_ENOMEM;
    }
    size_t k = 0, n_newer = 0;
    for (size_t i = 0; i < n_topics; i++) {
        struct zc_topic *t = zc_topic_find(c, topics[i].name);
        for (size_t j = 0; t && !t->deleting && j < topics[i].n_states; j++) {
            const zkctl_state_in *in = &topics[i].states[j];
            struct zc_part *p = zc_part_find(t, in->partition);
            /* a write or re-read in flight settles the partition itself (a newer state fails its write) */
            if (!p || p->busy || !p->has_state || in->zkversion < p->zkv)
                continue;
            bool newer = in->zkversion > p->zkv || (p->from_image && !lisr_eq(&p->st, in->state));
            if (!newer) {
                p->from_image = false; /* confirmed */
                continue;
            }
            /* per partition at DEBUG: the count is in the line below (a stale image may miss thousands) */
            LOG_DEBUG(ZC_MOD, "%s-%" PRId32 ": ZooKeeper holds a newer state than the image (zkVersion %" PRId32
                      ", the image's %" PRId32 "): adopted", t->name, p->id, in->zkversion, p->zkv);
            image_adopt(c, t, p, in->state, in->zkversion);
            p->from_image = false;
            ts[k] = t;
            ps[k++] = p;
            n_newer++;
        }
    }
    LOG_INFO(ZC_MOD, "controller %" PRId32 ": %zu partition states read behind the image takeover, %zu newer than the "
             "image", c->cfg.controller_id, n, n_newer);
    int rc = zc_finish_parts(c, ts, ps, k);
    ferry_free(ts);
    ferry_free(ps);
    return rc;
}
