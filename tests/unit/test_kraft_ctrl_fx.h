/* test_kraft_ctrl_fx: the fixture the quorum-controller unit tests share (included by test_kraft_ctrl*.c):
 * an image at metadata.version 19 with brokers 1..n registered, a deterministic random source, and
 * commit(), which frames every pending record, decodes it back and applies it to the image, so that the
 * records a decision writes and the image that Kafka's replay would build agree. */
#ifndef TEST_KRAFT_CTRL_FX_H
#define TEST_KRAFT_CTRL_FX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/metadata/md_delta.h"
#include "broker/metadata/md_image.h"
#include "kraftmode/ctrl.h"
#include "kraftmode/metalog_record.h"
#include "proto_codec.h"

struct fx {
    struct md_image img;
    struct ctrl_env env;
    uint64_t seed;
    struct proto_arena a; /* requests, responses and records */
    struct ctrl_records recs;
    int64_t off;                /* the offset the next record gets */
    struct ctrl_heartbeats hb;  /* the lifecycle tests' heartbeat tracker */
    void *req;                  /* a request built before an allocation-failure sweep */
};

static inline uint64_t xorshift(void *arg)
{
    uint64_t *s = arg;
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define INIT(type, var) \
    struct type var;    \
    proto_struct_init(proto_msg_##type.body, &var)

/* Frames every pending record, decodes it back and applies it to the image. */
static inline void commit(struct fx *f)
{
    for (size_t i = 0; i < f->recs.n; i++) {
        struct proto_writer w;
        proto_writer_init(&w);
        assert_int_equal(metalog_encode_value(&w, &f->recs.recs[i]), 0);
        const struct proto_message *m;
        int16_t v;
        void *obj;
        assert_int_equal(metalog_decode_value(w.buf, w.len, &f->a, &m, &v, &obj), 0);
        assert_ptr_equal(m, f->recs.recs[i].m);
        assert_int_equal(md_image_apply(&f->img, m, obj, f->off++, NULL), 0);
        proto_writer_free(&w);
    }
    ctrl_records_truncate(&f->recs, 0);
}

static inline void add_broker(struct fx *f, int32_t id, const char *rack, bool fenced)
{
    INIT(RegisterBrokerRecord, r);
    r.BrokerId = id;
    r.BrokerEpoch = f->off;
    r.Rack = proto_str_from(rack);
    r.Fenced = fenced;
    proto_uuid dir = {{0}};
    dir.b[0] = (uint8_t)id;
    dir.b[15] = 7;
    r.LogDirs = &dir;
    r.LogDirs_n = 1;
    assert_int_equal(md_image_apply(&f->img, &proto_msg_RegisterBrokerRecord, &r, f->off++, NULL), 0);
}

static inline struct fx *fx_new(int nbrokers)
{
    struct fx *f = test_calloc(1, sizeof *f);
    md_image_init(&f->img);
    f->seed = 0x9e3779b97f4a7c15ULL;
    ctrl_env_default(&f->env, xorshift, &f->seed);
    proto_arena_init(&f->a);
    ctrl_records_init(&f->recs, &f->a);
    ctrl_heartbeats_init(&f->hb, CTRL_DEFAULT_SESSION_TIMEOUT_MS);
    INIT(FeatureLevelRecord, fl);
    fl.Name = proto_str_from("metadata.version");
    fl.FeatureLevel = 19;
    assert_int_equal(md_image_apply(&f->img, &proto_msg_FeatureLevelRecord, &fl, f->off++, NULL), 0);
    for (int i = 1; i <= nbrokers; i++)
        add_broker(f, i, NULL, false);
    return f;
}

static inline void fx_free(struct fx *f)
{
    ctrl_records_free(&f->recs);
    ctrl_heartbeats_free(&f->hb);
    proto_arena_free(&f->a);
    md_image_free(&f->img);
    test_free(f);
}


static inline proto_uuid fx_uuid(uint8_t first, uint8_t last)
{
    proto_uuid u = {{0}};
    u.b[0] = first;
    u.b[15] = last;
    return u;
}

/* A -1-terminated list copied into the fixture's arena; *n its length. */
static inline int32_t *fx_list(struct fx *f, const int32_t *v, int32_t *n)
{
    *n = 0;
    while (v[*n] >= 0)
        (*n)++;
    int32_t *p = proto_arena_alloc(&f->a, (size_t)(*n + 1) * sizeof *p);
    assert_non_null(p);
    memcpy(p, v, (size_t)*n * sizeof *p);
    return p;
}

/* Broker id fenced in the image (a BrokerRegistrationChangeRecord applied). */
static inline void fx_fence(struct fx *f, int32_t id)
{
    INIT(BrokerRegistrationChangeRecord, c);
    c.BrokerId = id;
    c.BrokerEpoch = md_image_broker(&f->img, id)->epoch;
    c.Fenced = 1;
    assert_int_equal(md_image_apply(&f->img, &proto_msg_BrokerRegistrationChangeRecord, &c, f->off++, NULL), 0);
}

/* A topic (id from its first letter) applied to the image; returns its id. */
static inline proto_uuid fx_topic(struct fx *f, const char *name)
{
    INIT(TopicRecord, t);
    t.Name = proto_str_from(name);
    t.TopicId = fx_uuid((uint8_t)name[0], 0x42);
    assert_int_equal(md_image_apply(&f->img, &proto_msg_TopicRecord, &t, f->off++, NULL), 0);
    return t.TopicId;
}

/* A partition applied to the image: replicas, ISR (-1 ends each list), leader, epochs 0. */
static inline void fx_partition(struct fx *f, proto_uuid topic, int32_t pid, const int32_t *replicas,
                                const int32_t *isr, int32_t leader)
{
    int32_t nr = 0, ni = 0;
    while (replicas[nr] >= 0)
        nr++;
    while (isr[ni] >= 0)
        ni++;
    INIT(PartitionRecord, p);
    p.TopicId = topic;
    p.PartitionId = pid;
    p.Replicas = (int32_t *)replicas;
    p.Replicas_n = nr;
    p.Isr = (int32_t *)isr;
    p.Isr_n = ni;
    p.RemovingReplicas_n = 0;
    p.AddingReplicas_n = 0;
    p.Leader = leader;
    p.LeaderEpoch = 0;
    p.PartitionEpoch = 0;
    assert_int_equal(md_image_apply(&f->img, &proto_msg_PartitionRecord, &p, f->off++, NULL), 0);
}

static inline const struct md_partition *fx_part(struct fx *f, const char *topic, int32_t pid)
{
    const struct md_topic *t = md_image_topic(&f->img, topic);
    assert_non_null(t);
    const struct md_partition *p = md_topic_partition(t, pid);
    assert_non_null(p);
    return p;
}

/* Asserts an int list equals the -1-terminated `want`. */
static inline void fx_ints(const int32_t *v, int32_t n, const int32_t *want)
{
    int32_t k = 0;
    while (want[k] >= 0)
        k++;
    if (n != k)
        fail_msg("list of %d, want %d", n, k);
    for (int32_t i = 0; i < n; i++)
        assert_int_equal(v[i], want[i]);
}

/* The index-th pending record, which must be of type m. */
static inline const void *fx_rec(struct fx *f, size_t index, const struct proto_message *m)
{
    assert_true(index < f->recs.n);
    assert_ptr_equal(f->recs.recs[index].m, m);
    return f->recs.recs[index].data;
}

/* Allocation-failure sweep: for n = 0, 1, ... a fresh fixture from make(), and decide(f) with its
 * allocation number n failing must return FERRY_ENOMEM and leave no record, until it succeeds with
 * `want` records (which must then apply). */
static inline void fx_alloc_sweep(struct fx *(*make)(void), int (*decide)(struct fx *), size_t want)
{
    for (long n = 0;; n++) {
        struct fx *f = make();
        ferry_alloc_fail_after(n);
        int rc = decide(f);
        ferry_alloc_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(f->recs.n, want);
            commit(f);
            fx_free(f);
            assert_true(n > 0);
            return;
        }
        assert_int_equal(rc, FERRY_ENOMEM);
        assert_int_equal(f->recs.n, 0);
        fx_free(f);
    }
}

/* The partition invariants Kafka's controller keeps:
 *  - the ISR is a non-empty, duplicate-free subset of the replicas;
 *  - a leader is in the ISR and active (registered, unfenced, not in controlled shutdown);
 *  - a partition without a leader has no active ISR member;
 *  - a fenced broker is in an ISR only as its last member. */
static inline void fx_check_invariants(struct fx *f)
{
    size_t nt;
    struct md_topic *const *topics = md_image_topics_sorted(&f->img, &nt);
    for (size_t i = 0; i < nt; i++)
        for (int32_t pid = 0; pid < topics[i]->parts_len; pid++) {
            const struct md_partition *p = md_topic_partition(topics[i], pid);
            if (!p)
                continue;
            assert_true(p->isr.n > 0);
            bool any_active = false;
            for (int32_t k = 0; k < p->isr.n; k++) {
                int32_t r = p->isr.v[k];
                assert_true(md_ints_contains(&p->replicas, r));
                for (int32_t j = 0; j < k; j++)
                    assert_int_not_equal(p->isr.v[j], r);
                const struct md_broker *b = md_image_broker(&f->img, r);
                assert_non_null(b);
                if (b->fenced && p->isr.n != 1)
                    fail_msg("%s-%d: fenced broker %d in an ISR of %d", topics[i]->name, pid, r, p->isr.n);
                any_active |= md_broker_is_active(b);
            }
            if (p->leader != MD_NO_LEADER) {
                assert_true(md_ints_contains(&p->isr, p->leader));
                assert_true(md_broker_is_active(md_image_broker(&f->img, p->leader)));
            } else if (any_active) {
                fail_msg("%s-%d has no leader but an active ISR member", topics[i]->name, pid);
            }
        }
}

#define L(...) ((const int32_t[]){__VA_ARGS__, -1})
#define NONE_L ((const int32_t[]){-1})

#define assert_str(ps, c) assert_true(proto_str_eq((ps), (c)))

#endif
