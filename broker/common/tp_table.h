/* tp_table: an intrusive hash table keyed by (topic name, partition index), for the broker's
 * per-partition indexes (the hosted partitions, the logs of a log directory, the logs being created).
 *
 * Each entry embeds a struct tp_link naming its key (the topic string stays owned by the entry and must
 * outlive its membership). The table doubles its buckets whenever it holds more entries than buckets, so
 * lookups, inserts and removals stay O(1) at 100,000 partitions; a failed allocation while growing only
 * leaves the chains longer, so inserting never fails. Not thread-safe (each table belongs to one thread); a
 * table in use is not copied or moved.
 *
 * Iteration: for (size_t b = 0; b < t->nbuckets; b++) for (l = t->buckets[b]; l; l = next) { next = l->next;
 * ... } visits every entry once and may remove the visited one; tp_table_each does the same with a
 * callback. TP_ENTRY turns a link back into its entry. */
#ifndef FERRY_TP_TABLE_H
#define FERRY_TP_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_link {
    struct tp_link *next; /* the bucket's chain */
    const char *topic;    /* NUL-terminated, owned by the entry */
    int32_t partition;
    uint32_t hash;
};

struct tp_table {
    struct tp_link **buckets;
    size_t nbuckets; /* 0 (nothing allocated yet) or a power of two */
    size_t count;
    struct tp_link *one; /* the only bucket while no bucket array could be allocated */
};

#define TP_ENTRY(link, type, member) ((type *)(void *)((char *)(link) - offsetof(type, member)))

/* The hash of a topic name of `len` bytes and a partition index. */
uint32_t tp_hash(const char *topic, size_t len, int32_t partition);

/* An empty table (no allocation until the first insert). */
void tp_table_init(struct tp_table *t);
/* Frees the buckets (not the entries) and empties the table. */
void tp_table_free(struct tp_table *t);
/* Adds `link` under (topic, partition), which the caller has checked is not in the table yet. */
void tp_table_insert(struct tp_table *t, struct tp_link *link, const char *topic, int32_t partition);
/* The entry of (topic of `len` bytes, partition), or NULL. */
struct tp_link *tp_table_find(const struct tp_table *t, const char *topic, size_t len, int32_t partition);
/* Takes `link` out of the table; false if it is not there. */
bool tp_table_remove(struct tp_table *t, struct tp_link *link);
/* Calls fn for every entry (fn may remove the entry it is given, and nothing else). */
void tp_table_each(const struct tp_table *t, void (*fn)(void *arg, struct tp_link *link), void *arg);

#endif
