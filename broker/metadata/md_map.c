/* md_map: see md_map.h. Linear probing, FNV-1a hashes, grows at 70% load (tombstones included). */
#include "md_map.h"

#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"

static char tomb_marker;
#define MD_MAP_TOMB (&tomb_marker)

static uint64_t hash_bytes(const void *key, size_t klen)
{
    const uint8_t *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < klen; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    return h;
}

void md_map_init(struct md_map *m) { memset(m, 0, sizeof *m); }

void md_map_free(struct md_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != MD_MAP_TOMB)
            ferry_free(m->slots[i].key);
    ferry_free(m->slots);
    md_map_init(m);
}

static struct md_map_slot *find(const struct md_map *m, const void *key, size_t klen, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct md_map_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != MD_MAP_TOMB && s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
            return s;
    }
}

void *md_map_get(const struct md_map *m, const void *key, size_t klen)
{
    struct md_map_slot *s = find(m, key, klen, hash_bytes(key, klen));
    return s ? s->val : NULL;
}

static int grow(struct md_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    while (m->n * 10 >= ncap * 5)
        ncap *= 2;
    struct md_map_slot *ns = ferry_calloc(ncap, sizeof *ns);
    if (!ns)
        return FERRY_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct md_map_slot *s = &m->slots[i];
        if (!s->key || s->key == MD_MAP_TOMB)
            continue;
        size_t j = s->hash & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    ferry_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    m->used = m->n;
    return 0;
}

int md_map_put(struct md_map *m, const void *key, size_t klen, void *val)
{
    uint64_t h = hash_bytes(key, klen);
    struct md_map_slot *s = find(m, key, klen, h);
    if (s) {
        s->val = val;
        return 0;
    }
    if ((m->used + 1) * 10 >= m->cap * 7) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    char *k = ferry_malloc(klen ? klen : 1);
    if (!k)
        return FERRY_ENOMEM;
    memcpy(k, key, klen);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != MD_MAP_TOMB)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i] = (struct md_map_slot){h, k, (uint32_t)klen, val};
    m->n++;
    return 0;
}

void *md_map_remove(struct md_map *m, const void *key, size_t klen)
{
    struct md_map_slot *s = find(m, key, klen, hash_bytes(key, klen));
    if (!s)
        return NULL;
    void *v = s->val;
    ferry_free(s->key);
    s->key = MD_MAP_TOMB;
    s->val = NULL;
    m->n--;
    return v;
}

int md_map_next(const struct md_map *m, size_t *pos, const void **key, size_t *klen, void **val)
{
    while (*pos < m->cap) {
        struct md_map_slot *s = &m->slots[(*pos)++];
        if (s->key && s->key != MD_MAP_TOMB) {
            if (key)
                *key = s->key;
            if (klen)
                *klen = s->klen;
            if (val)
                *val = s->val;
            return 1;
        }
    }
    return 0;
}
