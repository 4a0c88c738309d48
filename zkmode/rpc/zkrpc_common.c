/* zkrpc_common: results, the topic view and the hosted partitions shared by the three translations. */
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zkrpc_internal.h"

/* ---- broker state ---- */

void zkrpc_broker_init(struct zkrpc_broker *b, int32_t broker_id, int64_t broker_epoch)
{
    memset(b, 0, sizeof *b);
    b->broker_id = broker_id;
    b->broker_epoch = broker_epoch;
    b->controller_id = -1;
}

void zkrpc_broker_free(struct zkrpc_broker *b)
{
    for (size_t i = 0; i < b->nhosted; i++)
        ferry_free(b->hosted[i].topic);
    ferry_free(b->hosted);
    b->hosted = NULL;
    b->nhosted = b->hosted_cap = 0;
}

static int hosted_cmp(const char *topic, int32_t partition, proto_str t, int32_t p)
{
    size_t tl = strlen(topic), n = tl < (size_t)t.len ? tl : (size_t)t.len;
    int c = n ? memcmp(topic, t.p, n) : 0;
    if (c)
        return c;
    if (tl != (size_t)t.len)
        return tl < (size_t)t.len ? -1 : 1;
    return partition < p ? -1 : partition > p;
}

/* First index whose entry is >= (t, p). */
static size_t hosted_lower(const struct zkrpc_broker *b, proto_str t, int32_t p)
{
    size_t lo = 0, hi = b->nhosted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hosted_cmp(b->hosted[mid].topic, b->hosted[mid].partition, t, p) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

long zr_hosted_find(const struct zkrpc_broker *b, proto_str topic, int32_t partition)
{
    if (topic.len < 0)
        return -1;
    size_t at = hosted_lower(b, topic, partition);
    if (at < b->nhosted && hosted_cmp(b->hosted[at].topic, b->hosted[at].partition, topic, partition) == 0)
        return (long)at;
    return -1;
}

int32_t zkrpc_hosted_leader_epoch(const struct zkrpc_broker *b, const char *topic, int32_t partition)
{
    long i = zr_hosted_find(b, proto_str_from(topic), partition);
    return i < 0 ? -1 : b->hosted[i].leader_epoch;
}

int zr_stage(struct zkrpc_result *out, struct zr_staged *s, struct zr_hosted_change c)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        struct zr_hosted_change *nv = proto_arena_alloc(&out->arena, ncap * sizeof *nv);
        if (!nv)
            return FERRY_ENOMEM;
        if (s->n)
            memcpy(nv, s->v, s->n * sizeof *nv);
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = c;
    return 0;
}

/* Pointers to staged changes by (topic, partition), each key's changes in staging order (the pointers
 * point into one array: their order is the staging order). */
static int cmp_staged(const void *a, const void *b)
{
    const struct zr_hosted_change *cx = *(const struct zr_hosted_change *const *)a;
    const struct zr_hosted_change *cy = *(const struct zr_hosted_change *const *)b;
    int32_t n = cx->topic.len < cy->topic.len ? cx->topic.len : cy->topic.len;
    int c = n > 0 ? memcmp(cx->topic.p, cy->topic.p, (size_t)n) : 0;
    if (c == 0 && cx->topic.len != cy->topic.len)
        c = cx->topic.len < cy->topic.len ? -1 : 1;
    if (c == 0 && cx->partition != cy->partition)
        c = cx->partition < cy->partition ? -1 : 1;
    return c ? c : (cx < cy ? -1 : cx > cy);
}

static bool same_key(const struct zr_hosted_change *a, const struct zr_hosted_change *b)
{
    return a->partition == b->partition && a->topic.len == b->topic.len &&
           (a->topic.len <= 0 || memcmp(a->topic.p, b->topic.p, (size_t)a->topic.len) == 0);
}

/* Every change updates a hosted entry in place (binary searches, no allocation): true when it did. */
static bool commit_in_place(struct zkrpc_broker *b, const struct zr_staged *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].remove || zr_hosted_find(b, s->v[i].topic, s->v[i].partition) < 0)
            return false;
    for (size_t i = 0; i < s->n; i++) {
        struct zkrpc_hosted *h = &b->hosted[zr_hosted_find(b, s->v[i].topic, s->v[i].partition)];
        h->leader_epoch = s->v[i].leader_epoch;
        h->topic_id = s->v[i].topic_id;
    }
    return true;
}

int zr_commit(struct zkrpc_broker *b, const struct zr_staged *s)
{
    if (s->n == 0 || commit_in_place(b, s))
        return 0;
    /* Allocate first: the sorted order of the changes, the merged array, a name for every addition (names[i]
     * for staged change i). */
    size_t add = 0;
    for (size_t i = 0; i < s->n; i++)
        add += !s->v[i].remove;
    size_t cap = b->nhosted + add;
    const struct zr_hosted_change **order = ferry_malloc(s->n * sizeof *order);
    struct zkrpc_hosted *merged = ferry_malloc((cap + 1) * sizeof *merged);
    char **names = ferry_calloc(s->n, sizeof *names);
    bool oom = !order || !merged || !names;
    for (size_t i = 0; i < s->n && !oom; i++)
        if (!s->v[i].remove && !(names[i] = ferry_strndup(s->v[i].topic.p, (size_t)s->v[i].topic.len)))
            oom = true;
    if (oom) {
        for (size_t i = 0; names && i < s->n; i++)
            ferry_free(names[i]);
        ferry_free(names);
        ferry_free(merged);
        ferry_free(order);
        return FERRY_ENOMEM;
    }
    /* Nothing fails from here on: one merge of the hosted entries with the sorted changes. */
    for (size_t i = 0; i < s->n; i++)
        order[i] = &s->v[i];
    qsort(order, s->n, sizeof *order, cmp_staged);
    size_t nm = 0, h = 0, j = 0;
    while (h < b->nhosted || j < s->n) {
        const struct zr_hosted_change *first = j < s->n ? order[j] : NULL;
        int c = !first ? -1
                : h == b->nhosted
                    ? 1
                    : hosted_cmp(b->hosted[h].topic, b->hosted[h].partition, first->topic, first->partition);
        if (c < 0) {
            merged[nm++] = b->hosted[h++];
            continue;
        }
        /* one key: its hosted entry (c == 0) and every change of it, in staging order */
        bool present = c == 0;
        struct zkrpc_hosted cur = present ? b->hosted[h++] : (struct zkrpc_hosted){NULL, 0, 0, {{0}}};
        for (; j < s->n && same_key(order[j], first); j++) {
            const struct zr_hosted_change *ch = order[j];
            char *name = names[ch - s->v];
            if (ch->remove) {
                if (present)
                    ferry_free(cur.topic);
                present = false;
            } else if (present) {
                ferry_free(name);
                cur.leader_epoch = ch->leader_epoch;
                cur.topic_id = ch->topic_id;
            } else {
                cur = (struct zkrpc_hosted){name, ch->partition, ch->leader_epoch, ch->topic_id};
                present = true;
            }
        }
        if (present)
            merged[nm++] = cur;
    }
    ferry_free(b->hosted);
    b->hosted = merged;
    b->nhosted = nm;
    b->hosted_cap = cap;
    ferry_free(names);
    ferry_free(order);
    return 0;
}

/* ---- results ---- */

void zkrpc_result_init(struct zkrpc_result *r)
{
    memset(r, 0, sizeof *r);
    proto_arena_init(&r->arena);
}

void zkrpc_result_free(struct zkrpc_result *r)
{
    ferry_free(r->records);
    proto_arena_free(&r->arena);
    zkrpc_result_init(r);
}

void *zr_emit(struct zkrpc_result *out, const struct proto_message *m, int16_t version)
{
    if (out->nrecords == out->records_cap) {
        size_t ncap = out->records_cap ? out->records_cap * 2 : 16;
        struct zkrpc_record *nr = ferry_realloc(out->records, ncap * sizeof *nr);
        if (!nr)
            return NULL;
        out->records = nr;
        out->records_cap = ncap;
    }
    void *data = proto_arena_alloc(&out->arena, m->body->size);
    if (!data)
        return NULL;
    proto_struct_init(m->body, data);
    out->records[out->nrecords++] = (struct zkrpc_record){m, version, data};
    return data;
}

void *zr_response(struct zkrpc_result *out, const struct proto_message *m)
{
    void *data = proto_arena_alloc(&out->arena, m->body->size);
    if (!data)
        return NULL;
    proto_struct_init(m->body, data);
    out->response_m = m;
    out->response = data;
    return data;
}

void *zr_array(struct zkrpc_result *out, size_t n, size_t size)
{
    return proto_arena_alloc(&out->arena, n ? n * size : 1);
}

int32_t *zr_ints(struct zkrpc_result *out, const int32_t *v, int32_t n, bool *oom)
{
    if (n <= 0)
        return NULL;
    int32_t *c = zr_array(out, (size_t)n, sizeof *c);
    if (!c) {
        *oom = true;
        return NULL;
    }
    memcpy(c, v, (size_t)n * sizeof *c);
    return c;
}

bool zr_ints_eq(const int32_t *a, int32_t na, const int32_t *b, int32_t nb)
{
    if (na < 0)
        na = 0;
    if (nb < 0)
        nb = 0;
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

bool zr_ints_has(const int32_t *v, int32_t n, int32_t x)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i] == x)
            return true;
    return false;
}

struct zr_part *zr_flatten(struct zkrpc_result *out, const struct zr_layout *l, bool grouped, const void *arr,
                           int32_t n, size_t *total)
{
    const char *base = arr;
    size_t count = 0;
    for (int32_t i = 0; grouped && i < n; i++) {
        int32_t k = *(const int32_t *)(base + (size_t)i * l->topic_size + l->topic_nstates);
        count += k > 0 ? (size_t)k : 0;
    }
    if (!grouped)
        count = n > 0 ? (size_t)n : 0;
    struct zr_part *parts = zr_array(out, count, sizeof *parts);
    if (!parts)
        return NULL;
    size_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!grouped) {
            const char *ps = base + (size_t)i * l->state_size;
            parts[k++] = (struct zr_part){*(const proto_str *)(ps + l->state_topic), {{0}}, ps};
            continue;
        }
        const char *t = base + (size_t)i * l->topic_size;
        const char *states = *(const char *const *)(t + l->topic_states);
        int32_t ns = *(const int32_t *)(t + l->topic_nstates);
        for (int32_t j = 0; j < ns; j++)
            parts[k++] = (struct zr_part){*(const proto_str *)(t + l->topic_name),
                                          *(const proto_uuid *)(t + l->topic_id), states + (size_t)j * l->state_size};
    }
    *total = count;
    return parts;
}

/* ---- the topic view ---- */

static bool str_eq(proto_str a, proto_str b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

/* The view's indexes: open addressing over the touched topics, in the result's arena (a growth leaves the
 * old table there: at most twice the final size). A put replaces the entry of the same key: the newest
 * touched topic of a name / an id is its current state. */
static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static uint64_t key_hash(bool by_id, proto_str name, proto_uuid id)
{
    return by_id ? hash_bytes(id.b, sizeof id.b) : hash_bytes(name.p, name.len > 0 ? (size_t)name.len : 0);
}

static bool key_eq(const struct zr_topic *t, bool by_id, proto_str name, proto_uuid id)
{
    return by_id ? proto_uuid_eq(t->id, id) : str_eq(t->name, name);
}

/* The slot holding the key, or the empty slot where it goes; NULL when the index has no table. */
static struct zr_topic **index_slot(const struct zr_index *ix, bool by_id, proto_str name, proto_uuid id)
{
    if (!ix->cap)
        return NULL;
    size_t mask = ix->cap - 1;
    for (size_t i = key_hash(by_id, name, id) & mask;; i = (i + 1) & mask)
        if (!ix->slots[i] || key_eq(ix->slots[i], by_id, name, id))
            return &ix->slots[i];
}

static struct zr_topic *index_get(const struct zr_index *ix, bool by_id, proto_str name, proto_uuid id)
{
    struct zr_topic **s = index_slot(ix, by_id, name, id);
    return s ? *s : NULL;
}

static bool index_put(struct zkrpc_result *out, struct zr_index *ix, bool by_id, struct zr_topic *t)
{
    if ((ix->n + 1) * 2 > ix->cap) {
        struct zr_index bigger = {zr_array(out, ix->cap ? ix->cap * 2 : 64, sizeof(struct zr_topic *)), 0,
                                  ix->cap ? ix->cap * 2 : 64};
        if (!bigger.slots)
            return false;
        for (size_t i = 0; i < ix->cap; i++)
            if (ix->slots[i]) {
                *index_slot(&bigger, by_id, ix->slots[i]->name, ix->slots[i]->id) = ix->slots[i];
                bigger.n++;
            }
        *ix = bigger;
    }
    struct zr_topic **s = index_slot(ix, by_id, t->name, t->id);
    ix->n += *s == NULL;
    *s = t;
    return true;
}

static struct zr_topic *touch(struct zr_view *v, proto_str name, proto_uuid id, const struct md_topic *img)
{
    struct zr_topic *t = proto_arena_alloc(&v->out->arena, sizeof *t);
    char *copy = t ? proto_arena_strdup(&v->out->arena, name) : NULL;
    if (!copy)
        return NULL;
    *t = (struct zr_topic){{copy, name.len}, id, img, false};
    if (!index_put(v->out, &v->by_name, false, t) || !index_put(v->out, &v->by_id, true, t))
        return NULL;
    return t;
}

static const proto_uuid no_id;

struct zr_topic *zr_topic_by_name(struct zr_view *v, proto_str name, bool *oom)
{
    if (name.len < 0)
        return NULL;
    struct zr_topic *t = index_get(&v->by_name, false, name, no_id);
    if (t)
        return t->removed ? NULL : t;
    const struct md_topic *it = md_image_topic_n(v->img, name.p, (size_t)name.len);
    if (!it)
        return NULL;
    /* The image's topic may already be known under its id (and removed). */
    if (index_get(&v->by_id, true, name, it->id))
        return NULL;
    t = touch(v, name, it->id, it);
    if (!t)
        *oom = true;
    return t;
}

struct zr_topic *zr_topic_by_id(struct zr_view *v, proto_uuid id, bool *oom)
{
    proto_str none = {NULL, -1};
    struct zr_topic *t = index_get(&v->by_id, true, none, id);
    if (t)
        return t->removed ? NULL : t;
    const struct md_topic *it = md_image_topic_by_id(v->img, id);
    if (!it)
        return NULL;
    proto_str name = {it->name, (int32_t)strlen(it->name)};
    if (index_get(&v->by_name, false, name, id))
        return NULL; /* that name now belongs to another topic, or was removed */
    t = touch(v, name, it->id, it);
    if (!t)
        *oom = true;
    return t;
}

int zr_topic_remove(struct zr_view *v, struct zr_topic *t)
{
    struct RemoveTopicRecord *r = zr_emit(v->out, &proto_msg_RemoveTopicRecord, 0);
    if (!r)
        return FERRY_ENOMEM;
    r->TopicId = t->id;
    t->removed = true;
    return 0;
}

int zr_topic_resolve(struct zr_view *v, proto_str name, proto_uuid id, struct zr_topic **out, int16_t *kerr)
{
    bool oom = false;
    *out = NULL;
    struct zr_topic *t = zr_topic_by_name(v, name, &oom);
    if (oom)
        return FERRY_ENOMEM;
    if (t && (proto_uuid_is_zero(id) || proto_uuid_eq(t->id, id))) {
        *out = t;
        return 0;
    }
    char ids[PROTO_UUID_B64_LEN + 1];
    proto_uuid_to_base64(id, ids);
    if (name.len <= 0) {
        LOG_WARN("zkrpc", "a topic with an empty name (id %s) is not added to the image", ids);
        *kerr = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return 0;
    }
    if (proto_uuid_is_zero(id)) {
        LOG_WARN("zkrpc", "topic %.*s is unknown and the controller gave no topic id: not added to the image",
                 ZR_STR(name));
        *kerr = KERR_UNKNOWN_TOPIC_ID;
        return 0;
    }
    struct zr_topic *other = zr_topic_by_id(v, id, &oom);
    if (oom)
        return FERRY_ENOMEM;
    if (other) {
        LOG_WARN("zkrpc", "topic %.*s: id %s already belongs to topic %.*s", ZR_STR(name), ids, ZR_STR(other->name));
        *kerr = KERR_INCONSISTENT_TOPIC_ID;
        return 0;
    }
    if (t) {
        char old[PROTO_UUID_B64_LEN + 1];
        proto_uuid_to_base64(t->id, old);
        LOG_INFO("zkrpc", "topic %.*s was re-created: id %s replaces %s", ZR_STR(name), ids, old);
        if (zr_topic_remove(v, t))
            return FERRY_ENOMEM;
    }
    struct TopicRecord *r = zr_emit(v->out, &proto_msg_TopicRecord, 0);
    struct zr_topic *nt = r ? touch(v, name, id, NULL) : NULL;
    if (!nt)
        return FERRY_ENOMEM;
    r->Name = nt->name;
    r->TopicId = id;
    *out = nt;
    return 0;
}

struct PartitionRecord *zr_partition_record(struct zr_view *v, const struct zr_topic *t, int32_t partition)
{
    struct PartitionRecord *r = zr_emit(v->out, &proto_msg_PartitionRecord, 0);
    if (r) {
        r->TopicId = t->id;
        r->PartitionId = partition;
    }
    return r;
}
