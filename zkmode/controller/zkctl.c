/* zkctl.c: lifecycle, the action queue, the model of brokers/topics/partitions, the events and the reconcile
 * pass that turns the model into fenced znode writes (see zkctl.h). */
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

/* ---- the action queue ---- */
void zkctl_action_free(zkctl_action *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_ops; i++) {
        ferry_free(a->ops[i].path);
        ferry_free(a->ops[i].data);
    }
    ferry_free(a->ops);
    ferry_free(a->path);
    proto_arena_free(&a->arena);
    ferry_free(a);
}

zkctl_action *zc_action_new(enum zkctl_action_kind kind, int16_t api_key, int16_t api_version, size_t body_size)
{
    zkctl_action *a = ferry_calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    proto_arena_init(&a->arena);
    a->kind = kind;
    a->api_key = api_key;
    a->api_version = api_version;
    if (body_size && !(a->body = proto_arena_alloc(&a->arena, body_size))) {
        zkctl_action_free(a);
        return NULL;
    }
    return a;
}

void zc_enqueue(zkctl *c, zkctl_action *a)
{
    a->next = NULL;
    if (c->q_tail)
        c->q_tail->next = a;
    else
        c->q_head = a;
    c->q_tail = a;
}

zkctl_action *zkctl_next_action(zkctl *c)
{
    zkctl_action *a = c->q_head;
    if (a) {
        c->q_head = a->next;
        if (!c->q_head)
            c->q_tail = NULL;
        a->next = NULL;
    }
    return a;
}

uint64_t zc_zk_op(zkctl *c, enum zkctl_op_kind kind, const char *path, const char *data, size_t len,
                  int32_t version)
{
    zkctl_action *a = ferry_calloc(1, sizeof(*a));
    if (!a)
        goto fail;
    a->kind = ZKCTL_ACT_ZK_MULTI;
    a->ops = ferry_calloc(2, sizeof(zkctl_zk_op));
    if (!a->ops)
        goto fail;
    a->n_ops = 2;
    a->ops[0].kind = ZKCTL_OP_CHECK;
    a->ops[0].path = ferry_strdup("/controller_epoch");
    a->ops[0].version = c->epoch_zkv;
    a->ops[1].kind = kind;
    a->ops[1].path = ferry_strdup(path);
    a->ops[1].version = version;
    if (!a->ops[0].path || !a->ops[1].path)
        goto fail;
    if (data) {
        a->ops[1].data = ferry_malloc(len + 1);
        if (!a->ops[1].data)
            goto fail;
        memcpy(a->ops[1].data, data, len);
        a->ops[1].data[len] = 0;
        a->ops[1].len = len;
    }
    a->id = ++c->next_id;
    zc_enqueue(c, a);
    return a->id;
fail:
    zkctl_action_free(a);
    zc_set_error(c, FERRY_ENOMEM);
    return 0;
}

uint64_t zc_zk_read(zkctl *c, const char *path)
{
    zkctl_action *a = ferry_calloc(1, sizeof(*a));
    if (!a || !(a->path = ferry_strdup(path))) {
        zkctl_action_free(a);
        zc_set_error(c, FERRY_ENOMEM);
        return 0;
    }
    a->kind = ZKCTL_ACT_ZK_READ;
    a->id = ++c->next_id;
    zc_enqueue(c, a);
    return a->id;
}

/* ---- pending znode operations ---- */
struct zc_pending *zc_pending_add(zkctl *c, enum zc_pend_kind kind, const char *topic, int32_t partition)
{
    struct zc_pending *np = ferry_realloc(c->pend, (c->n_pend + 1) * sizeof(*np));
    if (!np) {
        zc_set_error(c, FERRY_ENOMEM);
        return NULL;
    }
    c->pend = np;
    struct zc_pending *p = &c->pend[c->n_pend];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->partition = partition;
    if (topic && !(p->topic = ferry_strdup(topic))) {
        zc_set_error(c, FERRY_ENOMEM);
        return NULL;
    }
    c->n_pend++;
    return p;
}

void zc_pending_drop(zkctl *c, struct zc_pending *p)
{
    ferry_free(p->topic);
    ferry_free(p->skip);
    zc_lisr_free(&p->prop);
    size_t i = (size_t)(p - c->pend);
    memmove(&c->pend[i], &c->pend[i + 1], (c->n_pend - i - 1) * sizeof(*p));
    c->n_pend--;
}

static struct zc_pending *pending_find(zkctl *c, uint64_t id)
{
    for (size_t i = 0; i < c->n_pend; i++)
        if (c->pend[i].id == id)
            return &c->pend[i];
    return NULL;
}

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
    pd->id = zc_zk_op(c, ZKCTL_OP_CREATE, path, NULL, 0, -1);
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
    pd->id = zc_zk_op(c, create ? ZKCTL_OP_CREATE : ZKCTL_OP_SET, path, data, len, create ? -1 : p->zkv);
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
    /* remember the write (from points into c->pend, which the add below may move): if the re-read finds
     * exactly it, it went through before the connection broke */
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
    pd->id = zc_zk_read(c, path);
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
    p->zkv = version;
    p->ctrl_epoch = c->epoch;
    LOG_INFO(ZC_MOD, "%s-%" PRId32 ": leader %" PRId32 " leader_epoch %" PRId32 " isr size %zu partition_epoch %" PRId32
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
        if (zc_live(c, p->replicas[i]))
            isr[n++] = p->replicas[i];
    if (n == 0) {
        ferry_free(isr);
        return; /* stays new until a replica is live */
    }
    struct zc_lisr prop = {.leader = isr[0], .leader_epoch = 0, .lrs = 0, .n_isr = n, .isr = isr};
    zc_write_state(c, t, p, &prop, ZC_P_CREATE, NULL);
    ferry_free(isr);
}

void zc_reconcile(zkctl *c)
{
    if (!c->active)
        return;
    zc_requests_progress(c);
    for (size_t i = 0; i < c->n_topics && c->active; i++) {
        struct zc_topic *t = c->topics[i];
        if (t->deleting)
            continue;
        for (size_t j = 0; j < t->n_parts; j++) {
            struct zc_part *p = &t->parts[j];
            if (p->busy || p->bad_state)
                continue;
            if (!p->has_state) {
                new_partition(c, t, p);
                continue;
            }
            if (p->ctrl_epoch > c->epoch)
                continue; /* decided by a newer controller: ours is a zombie's view (Kafka skips it) */
            struct zc_lisr prop = {0};
            int32_t *skip = NULL;
            size_t n_skip = 0;
            int err = 0;
            if (!zc_decide(c, t, p, &prop, &skip, &n_skip, &err)) {
                if (err)
                    zc_set_error(c, err);
                else
                    p->flags = 0;
                continue;
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
    }
    zc_delete_progress(c);
    zc_requests_progress(c);
}

/* ---- model building ---- */
static void broker_clear(struct zc_broker *b)
{
    for (size_t i = 0; i < b->n_ep; i++) {
        ferry_free(b->ep[i].listener);
        ferry_free(b->ep[i].host);
    }
    ferry_free(b->ep);
    ferry_free(b->rack);
    memset(b, 0, sizeof(*b));
}

static int broker_check(const zkctl_broker *in)
{
    if (in->id < 0 || (in->n_endpoints && !in->endpoints))
        return FERRY_EINVAL;
    for (size_t i = 0; i < in->n_endpoints; i++)
        if (!in->endpoints[i].listener || !in->endpoints[i].host)
            return FERRY_EINVAL;
    return 0;
}

/* Copies in into b (b zeroed or cleared). */
static int broker_fill(struct zc_broker *b, const zkctl_broker *in)
{
    memset(b, 0, sizeof(*b));
    b->id = in->id;
    b->epoch = in->epoch;
    if (in->rack && !(b->rack = ferry_strdup(in->rack)))
        goto oom;
    if (in->n_endpoints) {
        b->ep = ferry_calloc(in->n_endpoints, sizeof(*b->ep));
        if (!b->ep)
            goto oom;
        b->n_ep = in->n_endpoints;
        for (size_t i = 0; i < in->n_endpoints; i++) {
            b->ep[i].listener = ferry_strdup(in->endpoints[i].listener);
            b->ep[i].host = ferry_strdup(in->endpoints[i].host);
            b->ep[i].port = in->endpoints[i].port;
            b->ep[i].sp = in->endpoints[i].security_protocol;
            if (!b->ep[i].listener || !b->ep[i].host)
                goto oom;
        }
    }
    return 0;
oom:
    broker_clear(b);
    return FERRY_ENOMEM;
}

static int broker_add(zkctl *c, const zkctl_broker *in)
{
    struct zc_broker nb;
    int rc = broker_fill(&nb, in);
    if (rc)
        return rc;
    struct zc_broker *arr = ferry_realloc(c->brokers, (c->n_brokers + 1) * sizeof(*arr));
    if (!arr) {
        broker_clear(&nb);
        return FERRY_ENOMEM;
    }
    c->brokers = arr;
    size_t at = 0; /* keep ascending ids: requests go out in broker order */
    while (at < c->n_brokers && c->brokers[at].id < in->id)
        at++;
    memmove(&c->brokers[at + 1], &c->brokers[at], (c->n_brokers - at) * sizeof(*arr));
    c->brokers[at] = nb;
    c->n_brokers++;
    return 0;
}

static int assignment_check(const zk_topic_assignment *a)
{
    if (!a || (a->n_partitions && !a->partitions))
        return FERRY_EINVAL;
    for (size_t i = 0; i < a->n_partitions; i++) {
        const zk_partition_replicas *pr = &a->partitions[i];
        if (pr->partition < 0 || pr->n_replicas == 0 || !pr->replicas)
            return FERRY_EINVAL;
        for (size_t j = 0; j < pr->n_replicas; j++)
            if (pr->replicas[j] < 0 || zc_contains(pr->replicas, j, pr->replicas[j]))
                return FERRY_EINVAL;
        for (size_t k = 0; k < i; k++)
            if (a->partitions[k].partition == pr->partition)
                return FERRY_EINVAL;
    }
    return 0;
}

static int part_add(struct zc_topic *t, const zk_partition_replicas *pr)
{
    struct zc_part *arr = ferry_realloc(t->parts, (t->n_parts + 1) * sizeof(*arr));
    if (!arr)
        return FERRY_ENOMEM;
    t->parts = arr;
    struct zc_part *p = &t->parts[t->n_parts];
    memset(p, 0, sizeof(*p));
    p->id = pr->partition;
    p->replicas = ferry_malloc(pr->n_replicas * sizeof(int32_t));
    if (!p->replicas)
        return FERRY_ENOMEM;
    memcpy(p->replicas, pr->replicas, pr->n_replicas * sizeof(int32_t));
    p->n_replicas = pr->n_replicas;
    p->st.leader = ZC_NO_LEADER;
    t->n_parts++;
    return 0;
}

static int topic_add(zkctl *c, const char *name, const zk_topic_assignment *a, struct zc_topic **out)
{
    struct zc_topic *t = ferry_calloc(1, sizeof(*t));
    struct zc_topic **arr = ferry_realloc(c->topics, (c->n_topics + 1) * sizeof(*arr));
    if (arr)
        c->topics = arr;
    if (!t || !arr || !(t->name = ferry_strdup(name))) {
        ferry_free(t);
        return FERRY_ENOMEM;
    }
    if (a->has_topic_id)
        t->id = a->topic_id;
    for (size_t i = 0; i < a->n_partitions; i++) {
        if (part_add(t, &a->partitions[i])) {
            zc_topic_free(t);
            return FERRY_ENOMEM;
        }
    }
    c->topics[c->n_topics++] = t;
    *out = t;
    return 0;
}

static int state_adopt(zkctl *c, struct zc_part *p, const zk_partition_state *s, int32_t zkv)
{
    struct zc_lisr l = {.leader = s->leader, .leader_epoch = s->leader_epoch, .lrs = s->leader_recovery_state,
                        .n_isr = s->n_isr, .isr = s->isr};
    if (zc_lisr_copy(&p->st, &l))
        return FERRY_ENOMEM;
    p->has_state = true;
    p->bad_state = false;
    p->zkv = zkv;
    p->ctrl_epoch = s->controller_epoch;
    if (s->controller_epoch > c->epoch)
        LOG_WARN(ZC_MOD, "partition %" PRId32 ": state written by controller epoch %" PRId32 " > ours %" PRId32
                 ": left alone", p->id, s->controller_epoch, c->epoch);
    return 0;
}

static void model_clear(zkctl *c)
{
    for (size_t i = 0; i < c->n_brokers; i++)
        broker_clear(&c->brokers[i]);
    ferry_free(c->brokers);
    c->brokers = NULL;
    c->n_brokers = 0;
    for (size_t i = 0; i < c->n_topics; i++)
        zc_topic_free(c->topics[i]);
    ferry_free(c->topics);
    c->topics = NULL;
    c->n_topics = 0;
    while (c->n_pend)
        zc_pending_drop(c, &c->pend[c->n_pend - 1]);
    ferry_free(c->pend);
    c->pend = NULL;
    zc_batch_free(&c->batch);
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
    model_clear(c);
    zc_requests_free(c);
    zkctl_action *a;
    while ((a = zkctl_next_action(c)))
        zkctl_action_free(a);
    ferry_free(c->ibl);
    ferry_free(c);
}

bool zkctl_is_active(const zkctl *c) { return c->active; }

int zc_finish(zkctl *c)
{
    zc_reconcile(c);
    zc_batch_flush(c);
    int rc = c->err;
    c->err = 0;
    return rc;
}

static int snapshot_check(const zkctl_snapshot *s)
{
    if (!s || (s->n_brokers && !s->brokers) || (s->n_topics && !s->topics) || (s->n_deletions && !s->deletions))
        return FERRY_EINVAL;
    for (size_t i = 0; i < s->n_brokers; i++) {
        if (broker_check(&s->brokers[i]))
            return FERRY_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (s->brokers[j].id == s->brokers[i].id)
                return FERRY_EINVAL;
    }
    for (size_t i = 0; i < s->n_topics; i++) {
        const zkctl_topic_in *t = &s->topics[i];
        if (!t->name || !zk_topic_name_valid(t->name) || assignment_check(t->assignment) ||
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

static void part_lair_to_replicas(zkctl *c, struct zc_topic *t, struct zc_part *p, int32_t only)
{
    for (size_t k = 0; k < p->n_replicas; k++)
        if (zc_up(c, p->replicas[k]) && (only < 0 || p->replicas[k] == only))
            zc_batch_lair(c, p->replicas[k], t, p, false);
    zc_batch_um_part(c, t, p);
}

static void delete_requested(zkctl *c, const char *name);

int zkctl_become_controller(zkctl *c, const zkctl_snapshot *s)
{
    int rc = snapshot_check(s);
    if (rc)
        return rc;
    model_clear(c);
    zc_requests_fail_all(c, KERR_NOT_CONTROLLER);
    c->active = true;
    c->epoch = s->epoch;
    c->epoch_zkv = s->epoch_zkversion;
    c->now_ms = s->now_ms;
    c->next_rebalance_ms = s->now_ms + 5000; /* Kafka: first check 5 s after failover */
    for (size_t i = 0; i < s->n_brokers && !rc; i++)
        rc = broker_add(c, &s->brokers[i]);
    for (size_t i = 0; i < s->n_topics && !rc; i++) {
        const zkctl_topic_in *ti = &s->topics[i];
        struct zc_topic *t = NULL;
        rc = topic_add(c, ti->name, ti->assignment, &t);
        if (rc)
            break;
        t->has_unclean = ti->has_unclean;
        t->unclean = ti->unclean;
        for (size_t j = 0; j < ti->n_states && !rc; j++) {
            struct zc_part *p = zc_part_find(t, ti->states[j].partition);
            if (p)
                rc = state_adopt(c, p, ti->states[j].state, ti->states[j].zkversion);
        }
        if (t->n_parts && t->parts[0].has_state)
            t->parents_made = true;
    }
    if (rc) {
        model_clear(c);
        c->active = false;
        return rc;
    }
    LOG_INFO(ZC_MOD, "controller %" PRId32 ": active, epoch %" PRId32 " (zkVersion %" PRId32 "), %zu brokers, %zu topics",
             c->cfg.controller_id, c->epoch, c->epoch_zkv, c->n_brokers, c->n_topics);
    /* UpdateMetadata (live brokers) to every broker, then LeaderAndIsr for every partition to its live
     * replicas with UpdateMetadata for those partitions (Kafka's onControllerFailover) */
    zc_batch_um_all_brokers(c);
    zc_batch_flush(c);
    for (size_t i = 0; i < c->n_topics; i++)
        for (size_t j = 0; j < c->topics[i]->n_parts; j++)
            if (c->topics[i]->parts[j].has_state)
                part_lair_to_replicas(c, c->topics[i], &c->topics[i]->parts[j], -1);
    zc_batch_um_all_brokers(c);
    zc_batch_flush(c);
    for (size_t i = 0; i < s->n_deletions; i++)
        delete_requested(c, s->deletions[i]);
    return zc_finish(c);
}

/* ---- broker changes ---- */
static void broker_down(zkctl *c, int32_t id)
{
    struct zc_broker *b = zc_broker_find(c, id);
    broker_clear(b);
    size_t i = (size_t)(b - c->brokers);
    memmove(&c->brokers[i], &c->brokers[i + 1], (c->n_brokers - i - 1) * sizeof(*b));
    c->n_brokers--;
    LOG_INFO(ZC_MOD, "broker %" PRId32 " gone", id);
    for (size_t k = 0; k < c->n_topics; k++) {
        struct zc_topic *t = c->topics[k];
        for (size_t j = 0; j < t->n_parts; j++) {
            struct zc_part *p = &t->parts[j];
            if (p->has_state && (zc_contains(p->st.isr, p->st.n_isr, id) || p->st.leader == id))
                p->flags |= ZC_F_SHRINK_DEAD;
        }
    }
    zc_delete_broker_down(c, id);
    zc_batch_um_all_brokers(c);
}

static void broker_up(zkctl *c, const zkctl_broker *in)
{
    int rc = broker_add(c, in);
    if (rc) {
        zc_set_error(c, rc);
        return;
    }
    LOG_INFO(ZC_MOD, "broker %" PRId32 " up, epoch %" PRId64, in->id, in->epoch);
    /* UpdateMetadata (brokers only) to the others, a full one to the new broker, LeaderAndIsr for its
     * replicas (Kafka's onBrokerStartup) */
    for (size_t i = 0; i < c->n_brokers; i++)
        if (c->brokers[i].id != in->id)
            zc_batch_um_brokers(c, c->brokers[i].id);
    zc_batch_flush(c);
    for (size_t k = 0; k < c->n_topics; k++)
        for (size_t j = 0; j < c->topics[k]->n_parts; j++)
            if (c->topics[k]->parts[j].has_state)
                zc_batch_um_part(c, c->topics[k], &c->topics[k]->parts[j]);
    zc_batch_um_brokers(c, in->id);
    zc_batch_flush(c);
    /* OnlineReplica: LeaderAndIsr for its replicas, with UpdateMetadata for those partitions to all */
    for (size_t k = 0; k < c->n_topics; k++) {
        struct zc_topic *t = c->topics[k];
        for (size_t j = 0; j < t->n_parts; j++) {
            struct zc_part *p = &t->parts[j];
            if (p->has_state && zc_contains(p->replicas, p->n_replicas, in->id)) {
                zc_batch_lair(c, in->id, t, p, false);
                zc_batch_um_part(c, t, p);
                zc_batch_um_all_brokers(c);
            }
        }
    }
    zc_batch_flush(c);
    zc_delete_broker_up(c, in->id);
}

int zkctl_broker_registered(zkctl *c, const zkctl_broker *in)
{
    if (!in || broker_check(in))
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    struct zc_broker *b = zc_broker_find(c, in->id);
    if (b && in->epoch < b->epoch) {
        LOG_WARN(ZC_MOD, "broker %" PRId32 ": registration with epoch %" PRId64 " older than %" PRId64 " ignored",
                 in->id, in->epoch, b->epoch);
        return FERRY_EINVAL;
    }
    if (b && in->epoch == b->epoch) {
        /* endpoints or rack changed: UpdateMetadata to every broker */
        struct zc_broker nb;
        int rc = broker_fill(&nb, in);
        if (rc)
            return rc;
        nb.shutting_down = b->shutting_down;
        broker_clear(b);
        *b = nb;
        zc_batch_um_all_brokers(c);
        return zc_finish(c);
    }
    if (b) {
        LOG_INFO(ZC_MOD, "broker %" PRId32 " bounced: epoch %" PRId64 " -> %" PRId64, in->id, b->epoch, in->epoch);
        broker_down(c, in->id);
        zc_reconcile(c);
        zc_batch_flush(c);
    }
    broker_up(c, in);
    return zc_finish(c);
}

int zkctl_broker_gone(zkctl *c, int32_t broker_id)
{
    if (!c->active)
        return 0;
    if (!zc_broker_find(c, broker_id))
        return FERRY_ENOTFOUND;
    broker_down(c, broker_id);
    return zc_finish(c);
}

/* ---- topics ---- */
int zkctl_topic_changed(zkctl *c, const char *name, const zk_topic_assignment *a)
{
    if (!name || !zk_topic_name_valid(name) || assignment_check(a))
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    struct zc_topic *t = zc_topic_find(c, name);
    if (!t) {
        int rc = topic_add(c, name, a, &t);
        if (rc)
            return rc;
        LOG_INFO(ZC_MOD, "topic %s: new, %zu partitions", name, a->n_partitions);
        return zc_finish(c);
    }
    if (t->deleting) {
        LOG_WARN(ZC_MOD, "topic %s: assignment changed while being deleted: ignored", name);
        return zc_finish(c);
    }
    if (!t->n_parts && a->has_topic_id)
        t->id = a->topic_id;
    for (size_t i = 0; i < a->n_partitions; i++) {
        const zk_partition_replicas *pr = &a->partitions[i];
        struct zc_part *p = zc_part_find(t, pr->partition);
        if (!p) {
            int rc = part_add(t, pr);
            if (rc) {
                zc_set_error(c, rc);
                break;
            }
            LOG_INFO(ZC_MOD, "topic %s: new partition %" PRId32, name, pr->partition);
        } else if (p->n_replicas != pr->n_replicas ||
                   memcmp(p->replicas, pr->replicas, pr->n_replicas * sizeof(int32_t)) != 0) {
            LOG_WARN(ZC_MOD, "%s-%" PRId32 ": replica assignment changed (reassignment is not supported): kept",
                     name, pr->partition);
        }
    }
    return zc_finish(c);
}

int zkctl_topic_config(zkctl *c, const char *name, bool has_unclean, bool unclean)
{
    if (!name)
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    struct zc_topic *t = zc_topic_find(c, name);
    if (!t)
        return FERRY_ENOTFOUND;
    t->has_unclean = has_unclean;
    t->unclean = unclean;
    return zc_finish(c);
}

static void delete_requested(zkctl *c, const char *name)
{
    struct zc_topic *t = zc_topic_find(c, name);
    if (t && t->deleting)
        return;
    if (!t || !c->cfg.delete_topic_enable) {
        /* Kafka removes the marker of an unknown topic, or every marker when delete.topic.enable=false */
        char path[400];
        snprintf(path, sizeof(path), "/admin/delete_topics/%s", name);
        LOG_INFO(ZC_MOD, "topic %s: deletion marker removed (%s)", name,
                 t ? "delete.topic.enable=false" : "no such topic");
        struct zc_pending *pd = zc_pending_add(c, ZC_P_DELETE, NULL, -1);
        if (!pd)
            return;
        pd->id = zc_zk_op(c, ZKCTL_OP_DELETE, path, NULL, 0, -1);
        if (!pd->id)
            zc_pending_drop(c, pd);
        return;
    }
    zc_set_error(c, zc_delete_start(c, t));
}

int zkctl_delete_requested(zkctl *c, const char *name)
{
    if (!name || !zk_topic_name_valid(name))
        return FERRY_EINVAL;
    if (!c->active)
        return 0;
    delete_requested(c, name);
    return zc_finish(c);
}

/* ---- results ---- */
static void do_resign(zkctl *c)
{
    /* like Kafka's controller channel shutdown: queued znode operations and requests are dropped; answers to
     * brokers and the RESIGN action stay */
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
    zc_requests_fail_all(c, KERR_NOT_CONTROLLER);
    model_clear(c);
    c->active = false;
}

int zkctl_zk_result(zkctl *c, uint64_t id, enum zkctl_zk_rc rc, size_t failed_op, int32_t version)
{
    if (!c->active)
        return 0;
    struct zc_pending *pd = pending_find(c, id);
    if (!pd)
        return FERRY_ENOTFOUND;
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
        do_resign(c);
        return zc_finish(c);
    }
    struct zc_topic *t = pd->topic ? zc_topic_find(c, pd->topic) : NULL;
    struct zc_part *p = t ? zc_part_find(t, pd->partition) : NULL;
    switch (pd->kind) {
    case ZC_P_PARENT:
        if (rc != ZKCTL_ZK_OK && rc != ZKCTL_ZK_NODEEXISTS)
            LOG_WARN(ZC_MOD, "parent znode create failed (%d); the state create will tell", (int)rc);
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
        } else if (rc == ZKCTL_ZK_NONODE) {
            /* create: a parent is missing; set: the znode is gone. Either way: (re)create it */
            if (pd->kind == ZC_P_CREATE)
                t->parents_made = false;
            p->has_state = false;
            zc_lisr_free(&p->st);
            p->st.leader = ZC_NO_LEADER;
        } else {
            LOG_INFO(ZC_MOD, "%s-%" PRId32 ": state write failed (%d): re-reading", t->name, p->id, (int)rc);
            reread_state(c, t, p, pd);
        }
        zc_pending_drop(c, pending_find(c, id));
        break;
    case ZC_P_DELETE:
        zc_delete_result(c, pd, rc);
        zc_pending_drop(c, pending_find(c, id));
        break;
    case ZC_P_ALTER:
        if (p && p->busy == id)
            p->busy = 0;
        zc_alter_result(c, pd, rc, version);
        if (p && rc != ZKCTL_ZK_OK && rc != ZKCTL_ZK_NONODE)
            reread_state(c, t, p, NULL);
        zc_pending_drop(c, pending_find(c, id));
        break;
    case ZC_P_READ:
        return FERRY_EINVAL; /* a read answered as a multi */
    }
    return zc_finish(c);
}

static bool lisr_eq(const struct zc_lisr *a, const zk_partition_state *s)
{
    return a->leader == s->leader && a->leader_epoch == s->leader_epoch && a->lrs == s->leader_recovery_state &&
           a->n_isr == s->n_isr && (!a->n_isr || memcmp(a->isr, s->isr, a->n_isr * sizeof(int32_t)) == 0);
}

int zkctl_zk_read_result(zkctl *c, uint64_t id, enum zkctl_zk_rc rc, const char *data, size_t len,
                         int32_t version)
{
    if (!c->active)
        return 0;
    struct zc_pending *pd = pending_find(c, id);
    if (!pd)
        return FERRY_ENOTFOUND;
    if (pd->kind != ZC_P_READ)
        return FERRY_EINVAL;
    struct zc_topic *t = zc_topic_find(c, pd->topic);
    struct zc_part *p = t ? zc_part_find(t, pd->partition) : NULL;
    if (!p || p->busy != id) {
        zc_pending_drop(c, pd);
        return zc_finish(c);
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
                zc_set_error(c, state_adopt(c, p, &s, version));
            zk_partition_state_free(&s);
        }
    } else if (rc == ZKCTL_ZK_NONODE) {
        p->has_state = false;
        zc_lisr_free(&p->st);
        p->st.leader = ZC_NO_LEADER;
    } else {
        reread_state(c, t, p, NULL);
    }
    zc_pending_drop(c, pending_find(c, id));
    return zc_finish(c);
}

int zkctl_tick(zkctl *c, int64_t now_ms)
{
    if (!c->active)
        return 0;
    c->now_ms = now_ms;
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
    do_resign(c);
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
    return 0;
}
