/* tp_table: see tp_table.h. */
#include "tp_table.h"

#include <string.h>

#include "ferry_alloc.h"

#define MIN_BUCKETS 64

uint32_t tp_hash(const char *topic, size_t len, int32_t partition)
{
    uint32_t h = 2166136261u; /* FNV-1a, then a final mix so that partitions of one topic spread */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)topic[i]) * 16777619u;
    h = (h ^ (uint32_t)partition) * 16777619u;
    h ^= h >> 15;
    return h * 0x2c1b3c6du;
}

void tp_table_init(struct tp_table *t) { memset(t, 0, sizeof *t); }

static void free_buckets(struct tp_table *t)
{
    if (t->buckets != &t->one)
        ferry_free(t->buckets);
}

void tp_table_free(struct tp_table *t)
{
    free_buckets(t);
    tp_table_init(t);
}

/* Doubles the buckets (or allocates the first ones); on allocation failure the table stays as it is. */
static void grow(struct tp_table *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : MIN_BUCKETS;
    struct tp_link **v = ferry_calloc(n, sizeof *v);
    if (!v)
        return;
    for (size_t b = 0; b < t->nbuckets; b++)
        for (struct tp_link *l = t->buckets[b], *next; l; l = next) {
            next = l->next;
            struct tp_link **at = &v[l->hash & (n - 1)];
            l->next = *at;
            *at = l;
        }
    free_buckets(t);
    t->buckets = v;
    t->nbuckets = n;
}

void tp_table_insert(struct tp_table *t, struct tp_link *link, const char *topic, int32_t partition)
{
    if (t->count >= t->nbuckets)
        grow(t);
    link->topic = topic;
    link->partition = partition;
    link->hash = tp_hash(topic, strlen(topic), partition);
    if (t->nbuckets == 0) { /* not even the first buckets could be allocated: one chain in the table itself */
        t->one = NULL;
        t->buckets = &t->one;
        t->nbuckets = 1;
    }
    struct tp_link **at = &t->buckets[link->hash & (t->nbuckets - 1)];
    link->next = *at;
    *at = link;
    t->count++;
}

struct tp_link *tp_table_find(const struct tp_table *t, const char *topic, size_t len, int32_t partition)
{
    if (t->nbuckets == 0)
        return NULL;
    uint32_t h = tp_hash(topic, len, partition);
    /* the entry's name has exactly len bytes (strnlen reads no further than its NUL), then the bytes match:
     * a name with a NUL inside matches nothing and reads nothing past the entry's name */
    for (struct tp_link *l = t->buckets[h & (t->nbuckets - 1)]; l; l = l->next)
        if (l->hash == h && l->partition == partition && strnlen(l->topic, len + 1) == len &&
            memcmp(l->topic, topic, len) == 0)
            return l;
    return NULL;
}

bool tp_table_remove(struct tp_table *t, struct tp_link *link)
{
    if (t->nbuckets == 0)
        return false;
    for (struct tp_link **pp = &t->buckets[link->hash & (t->nbuckets - 1)]; *pp; pp = &(*pp)->next)
        if (*pp == link) {
            *pp = link->next;
            link->next = NULL;
            t->count--;
            return true;
        }
    return false;
}

void tp_table_each(const struct tp_table *t, void (*fn)(void *arg, struct tp_link *link), void *arg)
{
    for (size_t b = 0; b < t->nbuckets; b++)
        for (struct tp_link *l = t->buckets[b], *next; l; l = next) {
            next = l->next;
            fn(arg, l);
        }
}
