/* zkctl_actions.c: the action queue, fenced znode multis and reads, and the table of znode operations in
 * flight (matched to their results by id). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkctl_internal.h"

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

/* ---- pending znode operations: an open-addressing table from id to entry (ids are sequential) ---- */
static size_t pend_slot(uint64_t id, size_t cap)
{
    uint64_t x = id * 0x9E3779B97F4A7C15ull;
    return (size_t)(x ^ (x >> 32)) & (cap - 1);
}

/* Room for one more entry (the table stays at most half full); false after FERRY_ENOMEM. */
static bool pend_reserve(zkctl *c)
{
    if ((c->n_pend + 1) * 2 <= c->pend_cap)
        return true;
    size_t cap = c->pend_cap ? c->pend_cap * 2 : 64;
    struct zc_pending **slots = ferry_calloc(cap, sizeof(*slots));
    if (!slots) {
        zc_set_error(c, FERRY_ENOMEM);
        return false;
    }
    for (size_t i = 0; i < c->pend_cap; i++) {
        struct zc_pending *p = c->pend[i];
        if (!p)
            continue;
        size_t at = pend_slot(p->id, cap);
        while (slots[at])
            at = (at + 1) & (cap - 1);
        slots[at] = p;
    }
    ferry_free(c->pend);
    c->pend = slots;
    c->pend_cap = cap;
    return true;
}

static void pend_insert(zkctl *c, struct zc_pending *p)
{
    size_t at = pend_slot(p->id, c->pend_cap);
    while (c->pend[at])
        at = (at + 1) & (c->pend_cap - 1);
    c->pend[at] = p;
    c->n_pend++;
}

/* Removes p's slot, moving later entries of its probe run back (no tombstones). */
static void pend_remove(zkctl *c, const struct zc_pending *p)
{
    size_t mask = c->pend_cap - 1, at = pend_slot(p->id, c->pend_cap);
    while (c->pend[at] != p)
        at = (at + 1) & mask;
    c->pend[at] = NULL;
    c->n_pend--;
    for (size_t j = (at + 1) & mask; c->pend[j]; j = (j + 1) & mask) {
        size_t home = pend_slot(c->pend[j]->id, c->pend_cap);
        /* the entry at j may move to the hole unless its home lies cyclically in (at, j] */
        if (((j - home) & mask) >= ((j - at) & mask)) {
            c->pend[at] = c->pend[j];
            c->pend[j] = NULL;
            at = j;
        }
    }
}

/* Gives a new action its id and makes pd (if any) findable by it; 0 after FERRY_ENOMEM (a frees). */
static uint64_t issue(zkctl *c, zkctl_action *a, struct zc_pending *pd)
{
    if (pd && !pend_reserve(c)) {
        zkctl_action_free(a);
        return 0;
    }
    a->id = ++c->next_id;
    if (pd) {
        pd->id = a->id;
        pend_insert(c, pd);
    }
    zc_enqueue(c, a);
    return a->id;
}

/* A multi holding only the epoch check, with room for cap ops; NULL on FERRY_ENOMEM. */
static zkctl_action *fenced_multi(const zkctl *c, size_t cap)
{
    zkctl_action *a = ferry_calloc(1, sizeof(*a));
    if (!a || !(a->ops = ferry_calloc(cap, sizeof(zkctl_zk_op)))) {
        ferry_free(a);
        return NULL;
    }
    a->kind = ZKCTL_ACT_ZK_MULTI;
    a->n_ops = 1;
    a->ops[0].kind = ZKCTL_OP_CHECK;
    a->ops[0].version = c->epoch_zkv;
    if (!(a->ops[0].path = ferry_strdup("/controller_epoch"))) {
        zkctl_action_free(a);
        return NULL;
    }
    return a;
}

/* Appends op to a (which has room); false on FERRY_ENOMEM (a unchanged). */
static bool op_append(zkctl_action *a, enum zkctl_op_kind kind, const char *path, const char *data, size_t len,
                      int32_t version)
{
    zkctl_zk_op *op = &a->ops[a->n_ops];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->version = version;
    if (!(op->path = ferry_strdup(path)))
        return false;
    if (data) {
        if (!(op->data = ferry_malloc(len + 1))) {
            ferry_free(op->path);
            op->path = NULL;
            return false;
        }
        memcpy(op->data, data, len);
        op->data[len] = 0;
        op->len = len;
    }
    a->n_ops++;
    return true;
}

uint64_t zc_zk_op(zkctl *c, struct zc_pending *pd, enum zkctl_op_kind kind, const char *path, const char *data,
                  size_t len, int32_t version)
{
    if (!pd || pd->kind != ZC_P_PARENT)
        zc_group_close(c); /* keeps queue order; parent creates may go before the group (they precede it) */
    zkctl_action *a = fenced_multi(c, 2);
    if (!a || !op_append(a, kind, path, data, len, version)) {
        zkctl_action_free(a);
        zc_set_error(c, FERRY_ENOMEM);
        return 0;
    }
    return issue(c, a, pd);
}

void zc_group_close(zkctl *c)
{
    if (!c->group)
        return;
    zc_enqueue(c, c->group);
    c->group = NULL;
    c->group_pd = NULL;
    c->group_bytes = 0;
}

void zc_group_drop(zkctl *c)
{
    zkctl_action_free(c->group);
    c->group = NULL;
    c->group_pd = NULL;
    c->group_bytes = 0;
}

static bool group_open(zkctl *c)
{
    struct zc_pending *g = zc_pending_add(c, ZC_P_GROUP, NULL, -1);
    zkctl_action *a = fenced_multi(c, ZC_GROUP_MAX_OPS + 1);
    if (g)
        g->members = ferry_calloc(ZC_GROUP_MAX_OPS, sizeof(uint64_t));
    if (!g || !a || !g->members || !pend_reserve(c)) {
        zc_pending_drop(c, g);
        zkctl_action_free(a);
        zc_set_error(c, FERRY_ENOMEM);
        return false;
    }
    a->id = g->id = ++c->next_id;
    pend_insert(c, g);
    c->group = a;
    c->group_pd = g;
    c->group_bytes = 0;
    return true;
}

uint64_t zc_zk_state_op(zkctl *c, struct zc_pending *pd, enum zkctl_op_kind kind, const char *path,
                        const char *data, size_t len, int32_t version)
{
    if (!c->group && !group_open(c))
        return 0;
    if (!pend_reserve(c) || !op_append(c->group, kind, path, data, len, version)) {
        zc_set_error(c, FERRY_ENOMEM);
        return 0;
    }
    pd->id = ++c->next_id;
    pend_insert(c, pd);
    c->group_pd->members[c->group_pd->n_members++] = pd->id;
    c->group_bytes += strlen(path) + len + 64;
    if (c->group_pd->n_members == ZC_GROUP_MAX_OPS || c->group_bytes >= ZC_GROUP_MAX_BYTES)
        zc_group_close(c);
    return pd->id;
}

uint64_t zc_zk_read(zkctl *c, struct zc_pending *pd, const char *path)
{
    zc_group_close(c);
    zkctl_action *a = ferry_calloc(1, sizeof(*a));
    if (!a || !(a->path = ferry_strdup(path))) {
        zkctl_action_free(a);
        zc_set_error(c, FERRY_ENOMEM);
        return 0;
    }
    a->kind = ZKCTL_ACT_ZK_READ;
    return issue(c, a, pd);
}

struct zc_pending *zc_pending_add(zkctl *c, enum zc_pend_kind kind, const char *topic, int32_t partition)
{
    struct zc_pending *p = ferry_calloc(1, sizeof(*p));
    if (!p || (topic && !(p->topic = ferry_strdup(topic)))) {
        ferry_free(p);
        zc_set_error(c, FERRY_ENOMEM);
        return NULL;
    }
    p->kind = kind;
    p->partition = partition;
    if (zc_pend_is_state_write(kind))
        c->n_state_writes++;
    return p;
}

void zc_pending_drop(zkctl *c, struct zc_pending *p)
{
    if (!p)
        return;
    if (p->id)
        pend_remove(c, p);
    ferry_free(p->topic);
    ferry_free(p->skip);
    ferry_free(p->members);
    zc_lisr_free(&p->prop);
    if (zc_pend_is_state_write(p->kind))
        c->n_state_writes--;
    ferry_free(p);
}

struct zc_pending *zc_pending_find(zkctl *c, uint64_t id)
{
    if (!c->n_pend || !id)
        return NULL;
    for (size_t at = pend_slot(id, c->pend_cap); c->pend[at]; at = (at + 1) & (c->pend_cap - 1))
        if (c->pend[at]->id == id)
            return c->pend[at];
    return NULL;
}

void zc_pending_clear(zkctl *c)
{
    for (size_t i = 0; i < c->pend_cap; i++)
        if (c->pend[i]) {
            struct zc_pending *p = c->pend[i];
            p->id = 0; /* not removed one by one: the table goes */
            zc_pending_drop(c, p);
        }
    ferry_free(c->pend);
    c->pend = NULL;
    c->pend_cap = 0;
    c->n_pend = 0;
}
