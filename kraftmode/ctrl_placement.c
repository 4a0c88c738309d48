/* ctrl_placement: Kafka 3.7's StripedReplicaPlacer. Brokers are grouped by rack (racks sorted, no rack
 * first); each partition takes its first replica from the next rack in turn that has an unfenced broker,
 * and the others from the following racks (unfenced brokers before fenced ones), so leaders and
 * replicas are striped across racks and brokers. Every time as many partitions as there are unfenced
 * brokers have been placed, racks and brokers are reshuffled. Randomness comes from the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "kraftmode/ctrl.h"

struct blist {
    int32_t *ids;
    int32_t n;
    int32_t index;
    int32_t offset;
    int32_t epoch;
};

struct rack {
    const char *name; /* NULL: no rack */
    struct blist fenced, unfenced;
};

struct rack_list {
    const struct ctrl_env *env;
    struct rack *racks;
    int32_t nracks;
    int32_t total, unfenced;
    int32_t epoch;
    int32_t offset;
};

static int32_t rand_below(const struct ctrl_env *env, int32_t n)
{
    return n <= 1 ? 0 : (int32_t)(env->rand(env->rand_arg) % (uint64_t)n);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void blist_init(struct blist *l, const struct ctrl_env *env)
{
    if (l->n > 0) {
        qsort(l->ids, (size_t)l->n, sizeof *l->ids, cmp_i32);
        l->offset = rand_below(env, l->n);
    }
}

static void blist_shuffle(struct blist *l, const struct ctrl_env *env)
{
    for (int32_t i = l->n - 1; i > 0; i--) {
        int32_t j = rand_below(env, i + 1);
        int32_t t = l->ids[i];
        l->ids[i] = l->ids[j];
        l->ids[j] = t;
    }
}

static int32_t blist_next(struct blist *l, int32_t epoch)
{
    if (l->n == 0)
        return -1;
    if (l->epoch != epoch) {
        l->epoch = epoch;
        l->index = 0;
        l->offset = (l->offset + 1) % l->n;
    }
    if (l->index >= l->n)
        return -1;
    int32_t b = l->ids[(l->index + l->offset) % l->n];
    l->index++;
    return b;
}

static int cmp_rack(const void *a, const void *b)
{
    const struct rack *x = a, *y = b;
    if (!x->name || !y->name)
        return (x->name != NULL) - (y->name != NULL);
    return strcmp(x->name, y->name);
}

static void rack_list_free(struct rack_list *rl)
{
    for (int32_t i = 0; i < rl->nracks; i++) {
        ferry_free(rl->racks[i].fenced.ids);
        ferry_free(rl->racks[i].unfenced.ids);
    }
    ferry_free(rl->racks);
}

static bool same_rack(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static int rack_list_init(struct rack_list *rl, const struct md_image *img, const struct ctrl_env *env)
{
    memset(rl, 0, sizeof *rl);
    rl->env = env;
    if (img->nbrokers == 0)
        return 0;
    rl->racks = ferry_calloc((size_t)img->nbrokers, sizeof *rl->racks);
    if (!rl->racks)
        return FERRY_ENOMEM;
    for (int32_t i = 0; i < img->nbrokers; i++) {
        const struct md_broker *b = img->brokers[i];
        if (b->in_controlled_shutdown)
            continue;
        int32_t r = 0;
        while (r < rl->nracks && !same_rack(rl->racks[r].name, b->rack))
            r++;
        if (r == rl->nracks) {
            rl->racks[r].name = b->rack;
            rl->nracks++;
        }
        struct blist *l = b->fenced ? &rl->racks[r].fenced : &rl->racks[r].unfenced;
        if (!l->ids) {
            l->ids = ferry_malloc((size_t)img->nbrokers * sizeof *l->ids);
            if (!l->ids) {
                rack_list_free(rl);
                return FERRY_ENOMEM;
            }
        }
        l->ids[l->n++] = b->id;
        rl->total++;
        if (!b->fenced)
            rl->unfenced++;
    }
    for (int32_t r = 0; r < rl->nracks; r++) {
        blist_init(&rl->racks[r].fenced, env);
        blist_init(&rl->racks[r].unfenced, env);
    }
    qsort(rl->racks, (size_t)rl->nracks, sizeof *rl->racks, cmp_rack);
    rl->offset = rand_below(env, rl->nracks);
    return 0;
}

static void rack_list_shuffle(struct rack_list *rl)
{
    for (int32_t i = rl->nracks - 1; i > 0; i--) {
        int32_t j = rand_below(rl->env, i + 1);
        struct rack t = rl->racks[i];
        rl->racks[i] = rl->racks[j];
        rl->racks[j] = t;
    }
    for (int32_t r = 0; r < rl->nracks; r++) {
        blist_shuffle(&rl->racks[r].fenced, rl->env);
        blist_shuffle(&rl->racks[r].unfenced, rl->env);
    }
}

static int32_t rack_next(struct rack *r, int32_t epoch)
{
    int32_t b = blist_next(&r->unfenced, epoch);
    return b >= 0 ? b : blist_next(&r->fenced, epoch);
}

static void place_one(struct rack_list *rl, int32_t rf, int32_t *out)
{
    if (rl->epoch == rl->unfenced && rl->unfenced > 1) {
        rack_list_shuffle(rl);
        rl->epoch = 0;
    }
    if (rl->offset == rl->nracks)
        rl->offset = 0;
    int32_t first = rl->offset;
    for (;;) {
        int32_t b = blist_next(&rl->racks[first].unfenced, rl->epoch);
        if (b >= 0) {
            out[0] = b;
            break;
        }
        if (++first == rl->nracks)
            first = 0;
    }
    int32_t idx = rl->offset;
    for (int32_t replica = 1; replica < rf; replica++) {
        int32_t b = -1;
        do {
            if (idx == first)
                first = -1;
            else
                b = rack_next(&rl->racks[idx], rl->epoch);
            if (++idx == rl->nracks)
                idx = 0;
        } while (b < 0);
        out[replica] = b;
    }
    rl->epoch++;
    rl->offset++;
}

int ctrl_place_replicas(const struct md_image *img, const struct ctrl_env *env, int32_t count, int32_t rf,
                        int32_t *out, char *msg, size_t msglen)
{
    struct rack_list rl;
    int rc = rack_list_init(&rl, img, env);
    if (rc)
        return rc;
    if (rf <= 0) {
        snprintf(msg, msglen, "Invalid replication factor %d: the replication factor must be positive.", rf);
        rc = KERR_INVALID_REPLICATION_FACTOR;
    } else if (rl.unfenced == 0) {
        snprintf(msg, msglen, "All brokers are currently fenced.");
        rc = KERR_INVALID_REPLICATION_FACTOR;
    } else if (rf > rl.total) {
        snprintf(msg, msglen, "The target replication factor of %d cannot be reached because only %d broker(s) "
                              "are registered.", rf, rl.total);
        rc = KERR_INVALID_REPLICATION_FACTOR;
    } else {
        for (int32_t p = 0; p < count; p++)
            place_one(&rl, rf, out + (size_t)p * (size_t)rf);
    }
    rack_list_free(&rl);
    return rc;
}
