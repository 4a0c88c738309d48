/* md_delta: see md_delta.h. */
#include "md_delta.h"

#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "md_internal.h"

void md_delta_init(struct md_delta *d)
{
    memset(d, 0, sizeof *d);
    d->first_offset = -1;
    d->last_offset = -1;
    md_map_init(&d->topic_idx);
    md_map_init(&d->config_idx);
}

static void topic_change_free(struct md_topic_change *tc)
{
    if (!tc)
        return;
    ferry_free(tc->name);
    ferry_free(tc->partitions);
    ferry_free(tc->kind);
    ferry_free(tc);
}

void md_delta_free(struct md_delta *d)
{
    for (int32_t i = 0; i < d->ntopics; i++)
        topic_change_free(d->topics[i]);
    ferry_free(d->topics);
    for (int32_t i = 0; i < d->ndeleted; i++)
        ferry_free(d->deleted[i].name);
    ferry_free(d->deleted);
    for (int32_t i = 0; i < d->nconfigs; i++)
        ferry_free(d->configs[i].name);
    ferry_free(d->configs);
    ferry_free(d->brokers);
    ferry_free(d->controllers);
    md_map_free(&d->topic_idx);
    md_map_free(&d->config_idx);
    md_delta_init(d);
}

void md_delta_reset(struct md_delta *d) { md_delta_free(d); }

bool md_delta_is_empty(const struct md_delta *d)
{
    return !d->features_changed && !d->producer_ids_changed && !d->zk_migration_changed && d->ntopics == 0 &&
           d->ndeleted == 0 && d->nconfigs == 0 && d->nbrokers == 0 && d->ncontrollers == 0;
}

/* Grows an array of elem-sized items to hold one more. */
static int reserve(void **arr, int32_t *cap, int32_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    int32_t ncap = *cap ? *cap * 2 : 8;
    void *p = ferry_realloc(*arr, (size_t)ncap * elem);
    if (!p)
        return FERRY_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

int md_delta_note_offset(struct md_delta *d, int64_t offset)
{
    if (d->first_offset < 0)
        d->first_offset = offset;
    if (offset > d->last_offset)
        d->last_offset = offset;
    return 0;
}

static struct md_topic_change *find_topic(const struct md_delta *d, proto_uuid id, int32_t *index)
{
    uintptr_t v = (uintptr_t)md_map_get(&d->topic_idx, id.b, 16);
    if (!v)
        return NULL;
    if (index)
        *index = (int32_t)(v - 1);
    return d->topics[v - 1];
}

const struct md_topic_change *md_delta_topic(const struct md_delta *d, proto_uuid id)
{
    return find_topic(d, id, NULL);
}

static struct md_topic_change *get_topic(struct md_delta *d, proto_uuid id, const char *name)
{
    struct md_topic_change *tc = find_topic(d, id, NULL);
    if (tc)
        return tc;
    if (reserve((void **)&d->topics, &d->topics_cap, d->ntopics, sizeof *d->topics))
        return NULL;
    tc = ferry_calloc(1, sizeof *tc);
    if (!tc)
        return NULL;
    tc->id = id;
    tc->name = ferry_strdup(name);
    if (!tc->name || md_map_put(&d->topic_idx, id.b, 16, (void *)(uintptr_t)(d->ntopics + 1))) {
        topic_change_free(tc);
        return NULL;
    }
    d->topics[d->ntopics++] = tc;
    return tc;
}

int md_delta_topic_created(struct md_delta *d, proto_uuid id, const char *name)
{
    struct md_topic_change *tc = get_topic(d, id, name);
    if (!tc)
        return FERRY_ENOMEM;
    tc->created = true;
    return 0;
}

int md_topic_change_kind(const struct md_topic_change *tc, int32_t partition)
{
    if (!tc || partition < 0 || partition >= tc->kind_len)
        return 0;
    return tc->kind[partition];
}

int md_delta_partition(struct md_delta *d, proto_uuid id, const char *name, int32_t partition, int kind)
{
    if (partition < 0)
        return FERRY_EINVAL;
    struct md_topic_change *tc = get_topic(d, id, name);
    if (!tc)
        return FERRY_ENOMEM;
    if (partition >= tc->kind_len) {
        int32_t nlen = tc->kind_len ? tc->kind_len : 8;
        while (nlen <= partition)
            nlen *= 2;
        uint8_t *k = ferry_realloc(tc->kind, (size_t)nlen);
        if (!k)
            return FERRY_ENOMEM;
        memset(k + tc->kind_len, 0, (size_t)(nlen - tc->kind_len));
        tc->kind = k;
        tc->kind_len = nlen;
    }
    if (tc->kind[partition] == 0) {
        if (reserve((void **)&tc->partitions, &tc->cap, tc->npartitions, sizeof *tc->partitions))
            return FERRY_ENOMEM;
        tc->partitions[tc->npartitions++] = partition;
        tc->kind[partition] = (uint8_t)kind;
    } else if (kind == MD_PART_CREATED && tc->kind[partition] == MD_PART_CHANGED) {
        /* Changed, then created again (a snapshot over it): publishers must treat it as new. */
        tc->kind[partition] = MD_PART_CREATED;
    }
    return 0;
}

int md_delta_topic_deleted(struct md_delta *d, proto_uuid id, const char *name, int32_t partitions)
{
    int32_t idx;
    struct md_topic_change *tc = find_topic(d, id, &idx);
    bool created_here = tc && tc->created;
    if (!created_here) {
        if (reserve((void **)&d->deleted, &d->deleted_cap, d->ndeleted, sizeof *d->deleted))
            return FERRY_ENOMEM;
        char *n = ferry_strdup(name);
        if (!n)
            return FERRY_ENOMEM;
        d->deleted[d->ndeleted++] = (struct md_deleted_topic){id, n, partitions};
    }
    if (tc) {
        md_map_remove(&d->topic_idx, id.b, 16);
        topic_change_free(tc);
        int32_t last = d->ntopics - 1;
        if (idx != last) {
            d->topics[idx] = d->topics[last];
            md_map_put(&d->topic_idx, d->topics[idx]->id.b, 16, (void *)(uintptr_t)(idx + 1)); /* replaces */
        }
        d->ntopics--;
    }
    return 0;
}

int md_delta_config(struct md_delta *d, int8_t type, const char *name)
{
    char buf[256], *heap;
    size_t klen;
    char *key = md_config_key(type, name, strlen(name), buf, sizeof buf, &klen, &heap);
    if (!key)
        return FERRY_ENOMEM;
    int rc = 0;
    if (md_map_get(&d->config_idx, key, klen))
        goto out;
    rc = FERRY_ENOMEM;
    if (reserve((void **)&d->configs, &d->configs_cap, d->nconfigs, sizeof *d->configs))
        goto out;
    char *n = ferry_strdup(name);
    if (!n)
        goto out;
    if (md_map_put(&d->config_idx, key, klen, (void *)(uintptr_t)(d->nconfigs + 1))) {
        ferry_free(n);
        goto out;
    }
    d->configs[d->nconfigs++] = (struct md_config_change){type, n};
    rc = 0;
out:
    ferry_free(heap);
    return rc;
}

bool md_delta_config_changed(const struct md_delta *d, int8_t type, const char *name)
{
    char buf[256], *heap;
    size_t klen;
    char *key = md_config_key(type, name, strlen(name), buf, sizeof buf, &klen, &heap);
    bool found = key && md_map_get(&d->config_idx, key, klen) != NULL;
    ferry_free(heap);
    return found;
}

static int add_id(int32_t **arr, int32_t *n, int32_t *cap, int32_t id)
{
    for (int32_t i = 0; i < *n; i++)
        if ((*arr)[i] == id)
            return 0;
    if (reserve((void **)arr, cap, *n, sizeof **arr))
        return FERRY_ENOMEM;
    (*arr)[(*n)++] = id;
    return 0;
}

int md_delta_broker(struct md_delta *d, int32_t id) { return add_id(&d->brokers, &d->nbrokers, &d->brokers_cap, id); }

int md_delta_controller(struct md_delta *d, int32_t id)
{
    return add_id(&d->controllers, &d->ncontrollers, &d->controllers_cap, id);
}

bool md_delta_broker_changed(const struct md_delta *d, int32_t id)
{
    for (int32_t i = 0; i < d->nbrokers; i++)
        if (d->brokers[i] == id)
            return true;
    return false;
}
