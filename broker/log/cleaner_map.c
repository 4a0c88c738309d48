/* cleaner_map: the cleaner's offset map (internal): an open-addressing hash table from a key (copied byte
 * string) to the largest offset seen for it. Kafka's SkimpyOffsetMap keeps only MD5 digests; this keeps
 * the keys themselves, so that a hash collision can never drop a latest value. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "cleaner_internal.h"

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

void clean_map_init(struct clean_map *m) { memset(m, 0, sizeof *m); }

void clean_map_free(struct clean_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        ferry_free(m->slots[i].key);
    ferry_free(m->slots);
    memset(m, 0, sizeof *m);
}

static struct clean_map_entry *find_slot(struct clean_map_entry *slots, size_t cap, uint64_t h, const uint8_t *key,
                                         size_t klen)
{
    size_t i = (size_t)h & (cap - 1);
    for (;;) {
        struct clean_map_entry *e = &slots[i];
        if (!e->key || (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0))
            return e;
        i = (i + 1) & (cap - 1);
    }
}

static int grow(struct clean_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    struct clean_map_entry *ns = ferry_calloc(cap, sizeof *ns);
    if (!ns)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct clean_map_entry *e = &m->slots[i];
        if (e->key)
            *find_slot(ns, cap, e->hash, e->key, e->klen) = *e;
    }
    ferry_free(m->slots);
    m->slots = ns;
    m->cap = cap;
    return 0;
}

int clean_map_put(struct clean_map *m, const uint8_t *key, size_t klen, int64_t offset)
{
    if ((m->n + 1) * 2 > m->cap) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    uint64_t h = hash_bytes(key, klen);
    struct clean_map_entry *e = find_slot(m->slots, m->cap, h, key, klen);
    if (e->key) {
        if (offset > e->offset)
            e->offset = offset;
        return 0;
    }
    e->key = ferry_malloc(klen ? klen : 1);
    if (!e->key)
        return FERRY_ENOMEM;
    if (klen)
        memcpy(e->key, key, klen);
    e->hash = h;
    e->klen = klen;
    e->offset = offset;
    m->n++;
    return 0;
}

int64_t clean_map_get(const struct clean_map *m, const uint8_t *key, size_t klen)
{
    if (m->cap == 0)
        return -1;
    const struct clean_map_entry *e = find_slot(m->slots, m->cap, hash_bytes(key, klen), key, klen);
    return e->key ? e->offset : -1;
}
