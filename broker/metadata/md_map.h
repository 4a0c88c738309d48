/* md_map: a small open-addressing hash map from byte-string keys to pointers, used by the metadata image
 * and its deltas (topics by name and by id, config resources, dedupe sets).
 *
 * The map owns copies of its keys; it never owns the values. Not thread-safe (one loop owns it). */
#ifndef FERRY_MD_MAP_H
#define FERRY_MD_MAP_H

#include <stddef.h>
#include <stdint.h>

struct md_map_slot {
    uint64_t hash;
    char *key; /* NULL: empty; md_map_tomb: deleted */
    uint32_t klen;
    void *val;
};

struct md_map {
    struct md_map_slot *slots;
    size_t cap;  /* power of two, or 0 */
    size_t n;    /* live entries */
    size_t used; /* live + tombstones */
};

void md_map_init(struct md_map *m);
/* Frees the keys and the table (not the values). */
void md_map_free(struct md_map *m);
/* The value stored under key, or NULL. */
void *md_map_get(const struct md_map *m, const void *key, size_t klen);
/* Inserts or replaces. Returns 0 or FERRY_ENOMEM (the map is then unchanged). */
int md_map_put(struct md_map *m, const void *key, size_t klen, void *val);
/* Removes key; returns its value, or NULL if absent. */
void *md_map_remove(struct md_map *m, const void *key, size_t klen);
/* Iterates in table order: start with *pos = 0; returns 1 with an entry, 0 at the end. The map must not
 * be modified during iteration. */
int md_map_next(const struct md_map *m, size_t *pos, const void **key, size_t *klen, void **val);

static inline size_t md_map_count(const struct md_map *m) { return m->n; }

#endif
