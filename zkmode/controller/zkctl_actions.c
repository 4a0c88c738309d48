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
    if (zc_pend_is_state_write(kind))
        c->n_state_writes++;
    return p;
}

void zc_pending_drop(zkctl *c, struct zc_pending *p)
{
    ferry_free(p->topic);
    ferry_free(p->skip);
    zc_lisr_free(&p->prop);
    if (zc_pend_is_state_write(p->kind))
        c->n_state_writes--;
    size_t i = (size_t)(p - c->pend);
    memmove(&c->pend[i], &c->pend[i + 1], (c->n_pend - i - 1) * sizeof(*p));
    c->n_pend--;
}

struct zc_pending *zc_pending_find(zkctl *c, uint64_t id)
{
    for (size_t i = 0; i < c->n_pend; i++)
        if (c->pend[i].id == id)
            return &c->pend[i];
    return NULL;
}

