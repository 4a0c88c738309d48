/* md_image: lifecycle, lookups and the sorted topic view. Changes are in md_apply.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "md_internal.h"

void md_image_init(struct md_image *img)
{
    memset(img, 0, sizeof *img);
    md_map_init(&img->topics_by_name);
    md_map_init(&img->topics_by_id);
    md_map_init(&img->configs);
    img->producer_ids.broker_epoch = -1;
    img->last_offset = -1;
}

void md_partition_clear(struct md_partition *p)
{
    ferry_free(p->replicas.v);
    ferry_free(p->isr.v);
    ferry_free(p->removing.v);
    ferry_free(p->adding.v);
    ferry_free(p->elr.v);
    ferry_free(p->last_known_elr.v);
    ferry_free(p->dirs);
    memset(p, 0, sizeof *p);
}

void md_topic_free(struct md_topic *t)
{
    if (!t)
        return;
    for (int32_t i = 0; i < t->parts_len; i++)
        md_partition_clear(&t->parts[i]);
    ferry_free(t->parts);
    ferry_free(t->name);
    ferry_free(t);
}

static void endpoints_free(struct md_endpoint *e, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        ferry_free(e[i].name);
        ferry_free(e[i].host);
    }
    ferry_free(e);
}

static void features_free(struct md_feature_range *f, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        ferry_free(f[i].name);
    ferry_free(f);
}

void md_broker_free(struct md_broker *b)
{
    if (!b)
        return;
    endpoints_free(b->endpoints, b->nendpoints);
    features_free(b->features, b->nfeatures);
    ferry_free(b->rack);
    ferry_free(b->log_dirs);
    ferry_free(b);
}

void md_controller_free(struct md_controller *c)
{
    if (!c)
        return;
    endpoints_free(c->endpoints, c->nendpoints);
    features_free(c->features, c->nfeatures);
    ferry_free(c);
}

void md_configs_free(struct md_configs *c)
{
    if (!c)
        return;
    for (int32_t i = 0; i < c->n; i++) {
        ferry_free(c->entries[i].key);
        ferry_free(c->entries[i].value);
    }
    ferry_free(c->entries);
    ferry_free(c->name);
    ferry_free(c);
}

void md_image_free(struct md_image *img)
{
    size_t pos = 0;
    void *v;
    while (md_map_next(&img->topics_by_name, &pos, NULL, NULL, &v))
        md_topic_free(v);
    pos = 0;
    while (md_map_next(&img->configs, &pos, NULL, NULL, &v))
        md_configs_free(v);
    md_map_free(&img->topics_by_name);
    md_map_free(&img->topics_by_id);
    md_map_free(&img->configs);
    for (int32_t i = 0; i < img->nbrokers; i++)
        md_broker_free(img->brokers[i]);
    ferry_free(img->brokers);
    for (int32_t i = 0; i < img->ncontrollers; i++)
        md_controller_free(img->controllers[i]);
    ferry_free(img->controllers);
    for (int32_t i = 0; i < img->nfeatures; i++)
        ferry_free(img->features[i].name);
    ferry_free(img->features);
    ferry_free(img->sorted);
    md_image_init(img);
}

const struct md_topic *md_image_topic_n(const struct md_image *img, const char *name, size_t len)
{
    return md_map_get(&img->topics_by_name, name, len);
}

const struct md_topic *md_image_topic(const struct md_image *img, const char *name)
{
    return md_image_topic_n(img, name, strlen(name));
}

const struct md_topic *md_image_topic_by_id(const struct md_image *img, proto_uuid id)
{
    return md_map_get(&img->topics_by_id, id.b, 16);
}

const struct md_partition *md_topic_partition(const struct md_topic *t, int32_t partition)
{
    if (!t || partition < 0 || partition >= t->parts_len || !t->parts[partition].present)
        return NULL;
    return &t->parts[partition];
}

const struct md_broker *md_image_broker(const struct md_image *img, int32_t id)
{
    int32_t lo = 0, hi = img->nbrokers;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (img->brokers[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < img->nbrokers && img->brokers[lo]->id == id ? img->brokers[lo] : NULL;
}

const struct md_endpoint *md_image_broker_endpoint(const struct md_image *img, int32_t id, const char *listener)
{
    const struct md_broker *mb = md_image_broker(img, id);
    if (!mb || mb->nendpoints == 0)
        return NULL;
    for (int32_t i = 0; listener && i < mb->nendpoints; i++)
        if (strcasecmp(mb->endpoints[i].name, listener) == 0)
            return &mb->endpoints[i];
    return &mb->endpoints[0];
}

const struct md_controller *md_image_controller(const struct md_image *img, int32_t id)
{
    for (int32_t i = 0; i < img->ncontrollers; i++)
        if (img->controllers[i]->id == id)
            return img->controllers[i];
    return NULL;
}

char *md_config_key(int8_t type, const char *name, size_t len, char *buf, size_t cap, size_t *klen, char **heap)
{
    char *k = buf;
    *heap = NULL;
    if (len + 1 > cap) {
        k = *heap = ferry_malloc(len + 1);
        if (!k)
            return NULL;
    }
    k[0] = (char)type;
    memcpy(k + 1, name, len);
    *klen = len + 1;
    return k;
}

struct md_configs *md_configs_lookup(const struct md_image *img, int8_t type, const char *name, size_t len)
{
    char buf[256], *heap;
    size_t klen;
    char *key = md_config_key(type, name, len, buf, sizeof buf, &klen, &heap);
    struct md_configs *c = key ? md_map_get(&img->configs, key, klen) : NULL;
    ferry_free(heap);
    return c;
}

const struct md_configs *md_image_configs_n(const struct md_image *img, int8_t type, const char *name, size_t len)
{
    return md_configs_lookup(img, type, name, len);
}

const struct md_configs *md_image_configs(const struct md_image *img, int8_t type, const char *name)
{
    return md_configs_lookup(img, type, name, strlen(name));
}

const char *md_configs_get(const struct md_configs *c, const char *key)
{
    if (!c)
        return NULL;
    int32_t lo = 0, hi = c->n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(c->entries[mid].key, key);
        if (cmp == 0)
            return c->entries[mid].value;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int16_t md_image_feature_level(const struct md_image *img, const char *name)
{
    for (int32_t i = 0; i < img->nfeatures; i++)
        if (strcmp(img->features[i].name, name) == 0)
            return img->features[i].level;
    return 0;
}

static int cmp_topic_name(const void *a, const void *b)
{
    const struct md_topic *x = *(const struct md_topic *const *)a, *y = *(const struct md_topic *const *)b;
    return strcmp(x->name, y->name);
}

struct md_topic *const *md_image_topics_sorted(const struct md_image *cimg, size_t *n)
{
    /* The cache is logically part of the image's state: filling it does not change what the image says. */
    struct md_image *img = (struct md_image *)cimg;
    *n = 0;
    size_t count = md_map_count(&img->topics_by_name);
    if (count == 0)
        return NULL;
    if (!img->sorted_valid) {
        struct md_topic **arr = ferry_realloc(img->sorted, count * sizeof *arr);
        if (!arr)
            return NULL;
        img->sorted = arr;
        size_t pos = 0, i = 0;
        void *v;
        while (md_map_next(&img->topics_by_name, &pos, NULL, NULL, &v))
            arr[i++] = v;
        qsort(arr, count, sizeof *arr, cmp_topic_name);
        img->nsorted = count;
        img->sorted_valid = true;
    }
    *n = img->nsorted;
    return img->sorted;
}

bool md_ints_contains(const struct md_ints *l, int32_t id)
{
    for (int32_t i = 0; i < l->n; i++)
        if (l->v[i] == id)
            return true;
    return false;
}

