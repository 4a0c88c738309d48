/* Unit tests for metadata snapshots (kraftmode/snapshot*.c): file names; an image with features, brokers,
 * a controller, topics, partitions, configs and producer ids dumped and loaded back identical (and dumped
 * again to the same bytes); Kafka's framing (header first at offset 0, footer last, epochs); corrupt and
 * truncated snapshots rejected at every byte with a reason; allocation failures; the file helpers (write,
 * list, chunks, set-aside, interrupted writes, a FetchSnapshot download frozen); and the node: snapshots taken by the bytes trigger, the
 * log cleaned behind them, restart from a snapshot, a corrupt newest snapshot set aside, and a refusal
 * to start when the log was cleaned and no snapshot is valid. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/config/config.h"
#include "kraftmode/kraft_node.h"
#include "kraftmode/metalog.h"
#include "kraftmode/snapshot.h"
#include "proto_codec.h"

/* ---- a canonical text of the whole image ---- */

#define OUT(...) (used += (size_t)snprintf(buf + used, used < len ? len - used : 0, __VA_ARGS__))

static size_t ints(char *buf, size_t len, size_t used, const char *what, const struct md_ints *l)
{
    OUT(" %s[", what);
    for (int32_t i = 0; i < l->n; i++)
        OUT("%s%d", i ? "," : "", l->v[i]);
    OUT("]");
    return used;
}

static size_t uuid(char *buf, size_t len, size_t used, proto_uuid id)
{
    char t[23];
    proto_uuid_to_base64(id, t);
    OUT(" %s", t);
    return used;
}

static size_t endpoints(char *buf, size_t len, size_t used, const struct md_endpoint *e, int32_t n,
                        const struct md_feature_range *f, int32_t nf)
{
    for (int32_t i = 0; i < n; i++)
        OUT(" ep %s %s:%u/%d", e[i].name, e[i].host, e[i].port, e[i].security_protocol);
    for (int32_t i = 0; i < nf; i++)
        OUT(" feat %s %d-%d", f[i].name, f[i].min, f[i].max);
    return used;
}

static int cmp_features(const void *a, const void *b)
{
    return strcmp(((const struct md_feature *)a)->name, ((const struct md_feature *)b)->name);
}

static void dump_image(const struct md_image *img, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    OUT("mv %d zk %d last %lld\n", img->metadata_version, img->zk_migration_state, (long long)img->last_offset);
    struct md_feature fs[16];
    int32_t nf = img->nfeatures < 16 ? img->nfeatures : 16;
    memcpy(fs, img->features, (size_t)nf * sizeof *fs);
    qsort(fs, (size_t)nf, sizeof *fs, cmp_features);
    for (int32_t i = 0; i < nf; i++)
        OUT("feature %s %d\n", fs[i].name, fs[i].level);
    for (int32_t i = 0; i < img->nbrokers; i++) {
        const struct md_broker *b = img->brokers[i];
        OUT("broker %d epoch %lld fenced %d cs %d zk %d rack %s", b->id, (long long)b->epoch, b->fenced,
            b->in_controlled_shutdown, b->is_migrating_zk_broker, b->rack ? b->rack : "-");
        used = uuid(buf, len, used, b->incarnation);
        used = endpoints(buf, len, used, b->endpoints, b->nendpoints, b->features, b->nfeatures);
        for (int32_t k = 0; k < b->nlog_dirs; k++)
            used = uuid(buf, len, used, b->log_dirs[k]);
        OUT("\n");
    }
    for (int32_t i = 0; i < img->ncontrollers; i++) {
        const struct md_controller *c = img->controllers[i];
        OUT("controller %d zkready %d", c->id, c->zk_migration_ready);
        used = uuid(buf, len, used, c->incarnation);
        used = endpoints(buf, len, used, c->endpoints, c->nendpoints, c->features, c->nfeatures);
        OUT("\n");
    }
    size_t nt = 0;
    struct md_topic *const *ts = md_image_topics_sorted(img, &nt);
    for (size_t i = 0; i < nt; i++) {
        OUT("topic %s", ts[i]->name);
        used = uuid(buf, len, used, ts[i]->id);
        OUT(" %d\n", ts[i]->nparts);
        for (int32_t p = 0; p < ts[i]->parts_len; p++) {
            const struct md_partition *mp = md_topic_partition(ts[i], p);
            if (!mp)
                continue;
            OUT(" p%d leader %d epoch %d/%d lrs %d", p, mp->leader, mp->leader_epoch, mp->partition_epoch,
                mp->leader_recovery_state);
            used = ints(buf, len, used, "r", &mp->replicas);
            used = ints(buf, len, used, "isr", &mp->isr);
            used = ints(buf, len, used, "rm", &mp->removing);
            used = ints(buf, len, used, "add", &mp->adding);
            used = ints(buf, len, used, "elr", &mp->elr);
            used = ints(buf, len, used, "lkelr", &mp->last_known_elr);
            for (int32_t k = 0; k < mp->ndirs; k++)
                used = uuid(buf, len, used, mp->dirs[k]);
            OUT("\n");
        }
        const struct md_configs *c = md_image_configs(img, MD_RESOURCE_TOPIC, ts[i]->name);
        for (int32_t k = 0; c && k < c->n; k++)
            OUT(" %s=%s\n", c->entries[k].key, c->entries[k].value);
    }
    const struct md_configs *bc = md_image_configs(img, MD_RESOURCE_BROKER, "");
    for (int32_t k = 0; bc && k < bc->n; k++)
        OUT("cluster %s=%s\n", bc->entries[k].key, bc->entries[k].value);
    bc = md_image_configs(img, MD_RESOURCE_BROKER, "1");
    for (int32_t k = 0; bc && k < bc->n; k++)
        OUT("broker1 %s=%s\n", bc->entries[k].key, bc->entries[k].value);
    OUT("configs %zu\n", md_map_count(&img->configs));
    OUT("pids %d %lld %lld\n", img->producer_ids.broker_id, (long long)img->producer_ids.broker_epoch,
        (long long)img->producer_ids.next_producer_id);
    assert_true(used < len);
}

/* Equal dumps, or a failure naming the first line that differs. */
static void assert_same(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return;
    size_t i = 0, line = 0;
    while (a[i] && a[i] == b[i])
        i++;
    while (i > 0 && a[i - 1] != '\n')
        i--;
    for (size_t k = 0; k < i; k++)
        line += a[k] == '\n';
    fail_msg("images differ at line %zu:\n  %.300s\nvs\n  %.300s", line + 1, a + i, b + i);
}

/* ---- a rich image ---- */

static proto_uuid mkid(int seed)
{
    proto_uuid u;
    for (int i = 0; i < 14; i++)
        u.b[i] = (uint8_t)(seed * 7 + i + 1);
    u.b[14] = (uint8_t)(seed >> 8);
    u.b[15] = (uint8_t)seed;
    return u;
}

static void apply(struct md_image *img, const struct proto_message *m, const void *rec, int64_t *off)
{
    assert_int_equal(md_image_apply(img, m, rec, (*off)++, NULL), 0);
}

static void config(struct md_image *img, int8_t type, const char *res, const char *k, const char *v, int64_t *off)
{
    struct ConfigRecord c = {type, proto_str_from(res), proto_str_from(k), proto_str_from(v)};
    apply(img, &proto_msg_ConfigRecord, &c, off);
}

static void build_image(struct md_image *img, int ntopics, int16_t level)
{
    md_image_init(img);
    int64_t off = 0;
    struct FeatureLevelRecord other = {proto_str_from("group.version"), 1};
    apply(img, &proto_msg_FeatureLevelRecord, &other, &off);
    struct FeatureLevelRecord mv = {proto_str_from(MD_FEATURE_METADATA_VERSION), level};
    apply(img, &proto_msg_FeatureLevelRecord, &mv, &off);
    struct ZkMigrationStateRecord zk = {0};
    apply(img, &proto_msg_ZkMigrationStateRecord, &zk, &off);
    for (int32_t id = 1; id <= 3; id++) {
        struct RegisterBrokerRecord_BrokerEndpoint eps[2] = {
            {proto_str_from("PLAINTEXT"), proto_str_from("127.0.0.1"), (uint16_t)(9090 + id), 0},
            {proto_str_from("SSL"), proto_str_from("broker.example"), (uint16_t)(9190 + id), 1}};
        struct RegisterBrokerRecord_BrokerFeature feat = {proto_str_from(MD_FEATURE_METADATA_VERSION), 1, 19};
        proto_uuid dirs[2] = {mkid(40 + id), mkid(50 + id)};
        struct RegisterBrokerRecord rb;
        proto_struct_init(proto_msg_RegisterBrokerRecord.body, &rb);
        rb.BrokerId = id;
        rb.IncarnationId = mkid(id);
        rb.BrokerEpoch = 100 + id;
        rb.EndPoints = eps;
        rb.EndPoints_n = id == 3 ? 1 : 2;
        rb.Features = &feat;
        rb.Features_n = 1;
        rb.Rack = proto_str_from(id == 2 ? "rack-b" : NULL);
        rb.Fenced = id == 3;
        rb.InControlledShutdown = id == 2;
        rb.LogDirs = dirs;
        rb.LogDirs_n = 2;
        apply(img, &proto_msg_RegisterBrokerRecord, &rb, &off);
    }
    struct RegisterControllerRecord_ControllerEndpoint cep = {proto_str_from("CONTROLLER"), proto_str_from("127.0.0.1"),
                                                              9093, 0};
    struct RegisterControllerRecord_ControllerFeature cf = {proto_str_from(MD_FEATURE_METADATA_VERSION), 1, 19};
    struct RegisterControllerRecord rc = {1, mkid(9), false, &cep, 1, &cf, 1};
    apply(img, &proto_msg_RegisterControllerRecord, &rc, &off);
    for (int t = 0; t < ntopics; t++) {
        char name[32];
        snprintf(name, sizeof name, "topic-%03d", t);
        struct TopicRecord tr = {proto_str_from(name), mkid(100 + t)};
        apply(img, &proto_msg_TopicRecord, &tr, &off);
        for (int32_t p = 0; p < 3; p++) {
            if (t == 1 && p == 1)
                continue; /* a hole in the partition ids */
            int32_t replicas[3] = {1 + p % 3, 1 + (p + 1) % 3, 1 + (p + 2) % 3};
            int32_t isr[2] = {replicas[0], replicas[1]};
            int32_t elr[1] = {replicas[2]};
            proto_uuid dirs[3] = {mkid(1), mkid(2), mkid(3)};
            struct PartitionRecord pr;
            proto_struct_init(proto_msg_PartitionRecord.body, &pr);
            pr.PartitionId = p;
            pr.TopicId = tr.TopicId;
            pr.Replicas = replicas;
            pr.Replicas_n = 3;
            pr.Isr = isr;
            pr.Isr_n = 2;
            pr.RemovingReplicas = p == 2 ? &replicas[0] : NULL; /* a reassignment in progress */
            pr.RemovingReplicas_n = p == 2 ? 1 : 0;
            pr.AddingReplicas = p == 2 ? &replicas[2] : NULL;
            pr.AddingReplicas_n = p == 2 ? 1 : 0;
            pr.Leader = isr[0];
            pr.LeaderEpoch = 5 + p;
            pr.PartitionEpoch = 7 + p;
            pr.Directories = dirs;
            pr.Directories_n = 3;
            pr.EligibleLeaderReplicas = elr;
            pr.EligibleLeaderReplicas_n = p == 0 && level >= 20 ? 1 : 0; /* ELR from 3.8-IV0 */
            pr.LastKnownELR_n = 0;
            apply(img, &proto_msg_PartitionRecord, &pr, &off);
        }
        config(img, MD_RESOURCE_TOPIC, name, "retention.ms", "60000", &off);
        if (t % 2)
            config(img, MD_RESOURCE_TOPIC, name, "cleanup.policy", "compact", &off);
    }
    config(img, MD_RESOURCE_BROKER, "", "log.retention.bytes", "1000000", &off);
    config(img, MD_RESOURCE_BROKER, "1", "log.cleaner.threads", "2", &off);
    struct ProducerIdsRecord pid = {1, 101, 5000};
    apply(img, &proto_msg_ProducerIdsRecord, &pid, &off);
}

static void build_bytes(const struct md_image *img, struct proto_writer *w)
{
    proto_writer_init(w);
    assert_int_equal(snapshot_build_image(w, img, 3, 1700000000000LL, 1700000000123LL), 0);
}

/* ---- pure tests ---- */

static void test_names(void **state)
{
    (void)state;
    char name[SNAPSHOT_NAME_MAX];
    snapshot_file_name((struct snapshot_id){12345, 7}, NULL, name);
    assert_string_equal(name, "00000000000000012345-0000000007.checkpoint");
    snapshot_file_name((struct snapshot_id){12345, 7}, SNAPSHOT_PART_SUFFIX, name);
    assert_string_equal(name, "00000000000000012345-0000000007.checkpoint.part");
    struct snapshot_id id;
    assert_true(snapshot_parse_name("00000000000000012345-0000000007.checkpoint", &id));
    assert_int_equal(id.end_offset, 12345);
    assert_int_equal(id.epoch, 7);
    const char *bad[] = {"00000000000000012345-0000000007.checkpoint.part", "00000000000000012345-0000000007.checkpoint.corrupt",
                         "0000000000000012345-0000000007.checkpoint", "00000000000000012345_0000000007.checkpoint",
                         "0000000000000001234x-0000000007.checkpoint", "00000000000000012345-9999999999.checkpoint",
                         "bootstrap.checkpoint", "00000000000000000000.log", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(snapshot_parse_name(bad[i], &id));
}

/* At 3.7-IV4 (Kafka 3.7's latest) and 3.8-IV0 (PartitionRecord v2 with ELR). */
static void round_trip(int16_t level)
{
    struct md_image img, back;
    build_image(&img, 5, level);
    struct proto_writer w;
    build_bytes(&img, &w);
    md_image_init(&back);
    char err[256] = "";
    int rc = snapshot_load_buf(w.buf, w.len, 3, img.last_offset + 1, &back, NULL, err, sizeof err);
    if (rc)
        fail_msg("load: %s", err);
    static char a[65536], b[65536];
    dump_image(&img, a, sizeof a);
    dump_image(&back, b, sizeof b);
    assert_same(a, b);
    assert_non_null(strstr(a, "broker 2 epoch 102 fenced 0 cs 1 zk 0 rack rack-b"));
    assert_non_null(strstr(a, "topic-001"));
    assert_non_null(strstr(a, "r[3,1,2] isr[3,1] rm[3] add[2]")); /* a reassignment's lists survive */
    assert_true(level < 20 || strstr(a, "elr[3]") != NULL);
    /* The loaded image dumps to the same bytes. */
    struct proto_writer w2;
    build_bytes(&back, &w2);
    assert_int_equal(w.len, w2.len);
    assert_memory_equal(w.buf, w2.buf, w.len);
    /* Framing: header at offset 0, FeatureLevelRecord(metadata.version) first, footer last, epoch 3. */
    struct rb_iter it;
    rb_iter_init(&it, w.buf, w.len);
    const uint8_t *bb;
    size_t blen;
    struct rb_header h;
    struct proto_arena ar;
    proto_arena_init(&ar);
    int nb = 0, last_type = -1;
    int64_t next = 0;
    while (rb_iter_next(&it, &bb, &blen, &h) == 1) {
        struct metalog_batch mb;
        assert_int_equal(metalog_decode_batch(bb, blen, &ar, &mb), 0);
        assert_int_equal(h.partition_leader_epoch, 3);
        assert_int_equal(h.base_offset, next);
        next = h.base_offset + h.last_offset_delta + 1;
        if (nb == 0) {
            assert_true(mb.control);
            assert_int_equal(mb.control_type, METALOG_CTRL_SNAPSHOT_HEADER);
            const struct SnapshotHeaderRecord *sh = mb.control_data;
            assert_int_equal(sh->LastContainedLogTimestamp, 1700000000000LL);
        } else if (nb == 1) {
            assert_false(mb.control);
            assert_ptr_equal(mb.entries[0].m, &proto_msg_FeatureLevelRecord);
            const struct FeatureLevelRecord *f = mb.entries[0].data;
            assert_true(proto_str_eq(f->Name, MD_FEATURE_METADATA_VERSION));
            assert_ptr_equal(mb.entries[2].m, &proto_msg_ZkMigrationStateRecord);
            assert_ptr_equal(mb.entries[3].m, &proto_msg_RegisterBrokerRecord);
            assert_int_equal(mb.entries[3].version, 3);
            assert_ptr_equal(mb.entries[9].m, &proto_msg_PartitionRecord);
            assert_int_equal(mb.entries[9].version, level >= 20 ? 2 : 1);
            assert_ptr_equal(mb.entries[mb.n - 1].m, &proto_msg_ProducerIdsRecord);
        }
        last_type = mb.control ? mb.control_type : -1;
        nb++;
    }
    assert_int_equal(nb, 3);
    assert_int_equal(last_type, METALOG_CTRL_SNAPSHOT_FOOTER);
    proto_arena_free(&ar);
    proto_writer_free(&w);
    proto_writer_free(&w2);
    md_image_free(&img);
    md_image_free(&back);
}

static void test_round_trip(void **state)
{
    (void)state;
    round_trip(19);
    round_trip(20);
}

static void test_many_batches(void **state)
{
    (void)state;
    struct md_image img, back;
    build_image(&img, 4000, 19); /* > 10000 records: several data batches */
    struct proto_writer w;
    build_bytes(&img, &w);
    md_image_init(&back);
    char err[256] = "";
    assert_int_equal(snapshot_load_buf(w.buf, w.len, 3, img.last_offset + 1, &back, NULL, err, sizeof err), 0);
    assert_int_equal(md_image_topic_count(&back), 4000);
    static char a[4 << 20], b[4 << 20];
    dump_image(&img, a, sizeof a);
    dump_image(&back, b, sizeof b);
    assert_same(a, b);
    proto_writer_free(&w);
    md_image_free(&img);
    md_image_free(&back);
}

static int load_copy(const uint8_t *p, size_t len, int32_t epoch, char *err, size_t errlen)
{
    struct md_image img;
    md_image_init(&img);
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, p, len);
    int rc = snapshot_load_buf(copy, len, epoch, 100, &img, NULL, err, errlen);
    free(copy);
    md_image_free(&img);
    return rc;
}

static void test_corrupt(void **state)
{
    (void)state;
    struct md_image img;
    build_image(&img, 3, 19);
    struct proto_writer w;
    build_bytes(&img, &w);
    char err[256];
    /* Every byte flipped is caught: CRC, framing, offsets or epochs. */
    int caught = 0;
    for (size_t i = 0; i < w.len; i++) {
        w.buf[i] ^= 0x5a;
        err[0] = '\0';
        int rc = load_copy(w.buf, w.len, 3, err, sizeof err);
        w.buf[i] ^= 0x5a;
        assert_int_not_equal(rc, 0);
        assert_true(strlen(err) > 0);
        caught++;
    }
    assert_int_equal((size_t)caught, w.len);
    /* A byte inside the data: the CRC names it. */
    w.buf[200] ^= 1;
    assert_int_equal(load_copy(w.buf, w.len, 3, err, sizeof err), FERRY_ECORRUPT);
    assert_non_null(strstr(err, "CRC mismatch"));
    w.buf[200] ^= 1;
    /* The wrong epoch. */
    assert_int_equal(load_copy(w.buf, w.len, 4, err, sizeof err), FERRY_ECORRUPT);
    assert_non_null(strstr(err, "epoch 3"));
    /* Garbage after the footer. */
    proto_write_raw(&w, w.buf, proto_be32(w.buf + 8) + 12); /* the header batch again */
    assert_int_equal(load_copy(w.buf, w.len, 3, err, sizeof err), FERRY_ECORRUPT);
    assert_non_null(strstr(err, "follows the SnapshotFooter"));
    proto_writer_free(&w);
    /* No header; no footer. */
    struct proto_writer d;
    proto_writer_init(&d);
    struct metalog_rec fl = {&proto_msg_FeatureLevelRecord, 0,
                             &(struct FeatureLevelRecord){proto_str_from(MD_FEATURE_METADATA_VERSION), 19}};
    assert_int_equal(metalog_build_batch(&d, 0, 3, 0, &fl, 1), 0);
    assert_int_equal(load_copy(d.buf, d.len, 3, err, sizeof err), FERRY_ECORRUPT);
    assert_non_null(strstr(err, "not a SnapshotHeader"));
    proto_writer_free(&d);
    proto_writer_init(&d);
    struct SnapshotHeaderRecord sh = {0, 0};
    assert_int_equal(metalog_build_control_batch(&d, 0, 3, 0, METALOG_CTRL_SNAPSHOT_HEADER,
                                                 &proto_msg_SnapshotHeaderRecord, &sh), 0);
    assert_int_equal(metalog_build_batch(&d, 1, 3, 0, &fl, 1), 0);
    assert_int_equal(load_copy(d.buf, d.len, 3, err, sizeof err), FERRY_ECORRUPT);
    assert_non_null(strstr(err, "no SnapshotFooter"));
    proto_writer_free(&d);
    /* A record the image refuses (a partition of an unknown topic). */
    proto_writer_init(&d);
    int32_t r1 = 1;
    struct PartitionRecord pr;
    proto_struct_init(proto_msg_PartitionRecord.body, &pr);
    pr.PartitionId = 0;
    pr.TopicId = mkid(77);
    pr.Replicas = &r1;
    pr.Replicas_n = 1;
    pr.Isr = &r1;
    pr.Isr_n = 1;
    struct metalog_rec recs[2] = {fl, {&proto_msg_PartitionRecord, 0, &pr}};
    assert_int_equal(snapshot_build(&d, recs, 2, 3, 0, 0), 0);
    assert_int_equal(load_copy(d.buf, d.len, 3, err, sizeof err), FERRY_ECORRUPT);
    assert_non_null(strstr(err, "PartitionRecord"));
    proto_writer_free(&d);
    assert_int_equal(load_copy((const uint8_t *)"", 0, 3, err, sizeof err), FERRY_ECORRUPT);
    assert_non_null(strstr(err, "empty"));
    md_image_free(&img);
}

static void test_every_truncation(void **state)
{
    (void)state;
    struct md_image img;
    build_image(&img, 3, 19);
    struct proto_writer w;
    build_bytes(&img, &w);
    char err[256];
    for (size_t len = 0; len < w.len; len++) {
        err[0] = '\0';
        int rc = load_copy(w.buf, len, 3, err, sizeof err);
        if (rc != FERRY_ECORRUPT)
            fail_msg("truncated at %zu of %zu: rc %d (%s)", len, w.len, rc, err);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(load_copy(w.buf, w.len, 3, err, sizeof err), 0);
    proto_writer_free(&w);
    md_image_free(&img);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    struct md_image img;
    build_image(&img, 3, 19);
    struct proto_writer ref;
    build_bytes(&img, &ref);
    bool done = false;
    for (long n = 0; !done && n < 100000; n++) {
        struct proto_writer w;
        proto_writer_init(&w);
        ferry_alloc_fail_after(n);
        int rc = snapshot_build_image(&w, &img, 3, 1700000000000LL, 1700000000123LL);
        ferry_alloc_fail_after(-1);
        if (rc) {
            assert_int_equal(rc, FERRY_ENOMEM);
            proto_writer_free(&w);
            continue;
        }
        assert_int_equal(w.len, ref.len);
        assert_memory_equal(w.buf, ref.buf, ref.len);
        proto_writer_free(&w);
        done = true;
    }
    assert_true(done);
    done = false;
    for (long n = 0; !done && n < 100000; n++) {
        struct md_image back;
        md_image_init(&back);
        char err[256];
        ferry_alloc_fail_after(n);
        int rc = snapshot_load_buf(ref.buf, ref.len, 3, img.last_offset + 1, &back, NULL, err, sizeof err);
        ferry_alloc_fail_after(-1);
        if (rc)
            assert_int_equal(rc, FERRY_ENOMEM);
        else
            done = md_image_topic_count(&back) == 3;
        md_image_free(&back);
    }
    assert_true(done);
    proto_writer_free(&ref);
    md_image_free(&img);
}

/* ---- files ---- */

static char tmpdir[512];

static int rm_rf(const char *path)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd);
}

static void make_tmp(void)
{
    const char *base = getenv("FERRY_TEST_TMP");
    if (!base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(tmpdir, sizeof tmpdir, "%s/kraft-snap-XXXXXX", base);
    assert_non_null(mkdtemp(tmpdir));
}

static bool exists(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static void touch(const char *dir, const char *name, const char *text)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_files(void **state)
{
    (void)state;
    make_tmp();
    struct md_image img;
    build_image(&img, 2, 19);
    struct proto_writer w;
    build_bytes(&img, &w);
    struct snapshot_id a = {50, 3}, b = {120, 3}, c = {120, 2};
    assert_int_equal(snapshot_write_file(tmpdir, a, w.buf, w.len), 0);
    assert_int_equal(snapshot_write_file(tmpdir, b, w.buf, w.len), 0);
    assert_int_equal(snapshot_write_file(tmpdir, c, w.buf, w.len), 0);
    assert_false(exists(tmpdir, "00000000000000000120-0000000003.checkpoint.part"));
    touch(tmpdir, "00000000000000000200-0000000003.checkpoint.part", "half");
    touch(tmpdir, "00000000000000000300-0000000003.checkpoint.corrupt", "x");
    struct snapshot_id *ids;
    size_t n;
    assert_int_equal(snapshot_list(tmpdir, &ids, &n), 0);
    assert_int_equal(n, 3);
    assert_true(ids[0].end_offset == 120 && ids[0].epoch == 3);
    assert_true(ids[1].end_offset == 120 && ids[1].epoch == 2);
    assert_true(ids[2].end_offset == 50);
    ferry_free(ids);
    assert_int_equal(snapshot_remove_partial(tmpdir), 1);
    assert_false(exists(tmpdir, "00000000000000000200-0000000003.checkpoint.part"));
    assert_true(exists(tmpdir, "00000000000000000300-0000000003.checkpoint.corrupt"));
    /* Loading by id: epoch from the name. */
    struct md_image back;
    md_image_init(&back);
    char err[512];
    assert_int_equal(snapshot_load_file(tmpdir, b, &back, NULL, err, sizeof err), 0);
    assert_int_equal(back.last_offset, 119);
    md_image_free(&back);
    md_image_init(&back);
    assert_int_equal(snapshot_load_file(tmpdir, c, &back, NULL, err, sizeof err), FERRY_ECORRUPT);
    assert_non_null(strstr(err, "00000000000000000120-0000000002.checkpoint is not a valid snapshot"));
    md_image_free(&back);
    assert_int_equal(snapshot_load_file(tmpdir, (struct snapshot_id){9, 9}, NULL, NULL, err, sizeof err),
                     FERRY_ENOTFOUND);
    /* Chunks. */
    uint8_t *buf = malloc(w.len);
    size_t got = 0, total = 0;
    int64_t size = -1;
    while (total < w.len) {
        assert_int_equal(snapshot_read_chunk(tmpdir, a, (int64_t)total, buf + total, 100, &got, &size), 0);
        assert_int_equal(size, (int64_t)w.len);
        assert_true(got > 0 && got <= 100);
        total += got;
    }
    assert_memory_equal(buf, w.buf, w.len);
    /* at the end: out of range, as Kafka answers it (the last chunk is the one that reached the end) */
    assert_int_equal(snapshot_read_chunk(tmpdir, a, (int64_t)w.len, buf, 100, &got, &size), FERRY_ERANGE);
    assert_int_equal(got, 0);
    assert_int_equal(snapshot_read_chunk(tmpdir, a, (int64_t)w.len + 1, buf, 100, &got, &size), FERRY_ERANGE);
    assert_int_equal(snapshot_read_chunk(tmpdir, a, -1, buf, 100, &got, &size), FERRY_ERANGE);
    assert_int_equal(snapshot_read_chunk(tmpdir, (struct snapshot_id){51, 3}, 0, buf, 100, &got, &size),
                     FERRY_ENOTFOUND);
    free(buf);
    /* Set aside twice: .corrupt then .corrupt.1; never deleted. */
    assert_int_equal(snapshot_set_aside(tmpdir, b), 0);
    assert_int_equal(snapshot_write_file(tmpdir, b, w.buf, w.len), 0);
    assert_int_equal(snapshot_set_aside(tmpdir, b), 0);
    assert_true(exists(tmpdir, "00000000000000000120-0000000003.checkpoint.corrupt"));
    assert_true(exists(tmpdir, "00000000000000000120-0000000003.checkpoint.corrupt.1"));
    assert_int_equal(snapshot_delete(tmpdir, a), 0);
    assert_int_equal(snapshot_list(tmpdir, &ids, &n), 0);
    assert_int_equal(n, 1);
    ferry_free(ids);
    proto_writer_free(&w);
    md_image_free(&img);
    rm_rf(tmpdir);
}

/* FetchSnapshot end to end: the leader's chunks written into the follower's .part, then frozen. */
static void test_fetch_snapshot_files(void **state)
{
    (void)state;
    make_tmp();
    char leader[600], follower[600];
    snprintf(leader, sizeof leader, "%s/leader", tmpdir);
    snprintf(follower, sizeof follower, "%s/follower", tmpdir);
    mkdir(leader, 0755);
    mkdir(follower, 0755);
    struct md_image img;
    build_image(&img, 4, 19);
    struct proto_writer w;
    build_bytes(&img, &w);
    struct snapshot_id id = {img.last_offset + 1, 3};
    assert_int_equal(snapshot_write_file(leader, id, w.buf, w.len), 0);
    char err[512];
    assert_int_equal(snapshot_part_freeze(follower, id, err, sizeof err), FERRY_ENOTFOUND);
    uint8_t chunk[97];
    size_t got;
    int64_t size, pos = 0;
    assert_int_equal(snapshot_part_write(follower, id, 5, chunk, 1), FERRY_ERANGE); /* past the .part's end */
    do {
        assert_int_equal(snapshot_read_chunk(leader, id, pos, chunk, sizeof chunk, &got, &size), 0);
        assert_int_equal(snapshot_part_write(follower, id, pos, chunk, got), 0);
        pos += (int64_t)got;
    } while (pos < size);
    /* A chunk sent again (a retried FetchSnapshot) rewrites the same bytes. */
    assert_int_equal(snapshot_read_chunk(leader, id, 0, chunk, sizeof chunk, &got, &size), 0);
    assert_int_equal(snapshot_part_write(follower, id, 0, chunk, got), 0);
    assert_int_equal(snapshot_part_freeze(follower, id, err, sizeof err), 0);
    struct md_image back;
    md_image_init(&back);
    assert_int_equal(snapshot_load_file(follower, id, &back, NULL, err, sizeof err), 0);
    static char a[65536], b[65536];
    dump_image(&img, a, sizeof a);
    dump_image(&back, b, sizeof b);
    assert_same(a, b);
    md_image_free(&back);
    /* A download that stopped short: refused at freeze, set aside, not a snapshot. */
    struct snapshot_id id2 = {id.end_offset + 10, 3};
    assert_int_equal(snapshot_part_write(follower, id2, 0, w.buf, w.len - 7), 0);
    assert_int_equal(snapshot_part_freeze(follower, id2, err, sizeof err), FERRY_ECORRUPT);
    assert_non_null(strstr(err, "truncated batch"));
    char name[SNAPSHOT_NAME_MAX];
    snapshot_file_name(id2, SNAPSHOT_CORRUPT_SUFFIX, name);
    assert_true(exists(follower, name));
    snapshot_file_name(id2, NULL, name);
    assert_false(exists(follower, name));
    snapshot_file_name(id2, SNAPSHOT_PART_SUFFIX, name);
    assert_false(exists(follower, name));
    proto_writer_free(&w);
    md_image_free(&img);
    rm_rf(tmpdir);
}

/* ---- the node ---- */

struct fx {
    char dir[512];
    char pdir[600];
    struct ferry_config cfg;
    uv_loop_t loop;
    struct kraft_node *node;
};

static int setup_with(void **state, const char *bytes, const char *interval)
{
    struct fx *f = calloc(1, sizeof *f);
    make_tmp();
    snprintf(f->dir, sizeof f->dir, "%s", tmpdir);
    snprintf(f->pdir, sizeof f->pdir, "%s/data/%s", f->dir, METALOG_PARTITION_DIR);
    char set[600];
    snprintf(set, sizeof set, "log.dirs=%s/data", f->dir);
    const char *overrides[] = {set, bytes, interval};
    char err[512];
    if (config_load(&f->cfg, NULL, overrides, 3, err, sizeof err) != 0)
        fail_msg("config: %s", err);
    uv_loop_init(&f->loop);
    *state = f;
    return 0;
}

/* A snapshot after every commit. */
static int node_setup(void **state)
{
    return setup_with(state, "metadata.log.max.record.bytes.between.snapshots=1",
                      "metadata.log.max.snapshot.interval.ms=0");
}

/* By time only (1 ms), never by bytes in these tests. */
static int interval_setup(void **state)
{
    return setup_with(state, "metadata.log.max.record.bytes.between.snapshots=1000000000",
                      "metadata.log.max.snapshot.interval.ms=1");
}

/* Kafka's defaults: nothing in these tests reaches them. */
static int default_setup(void **state)
{
    return setup_with(state, "metadata.log.max.record.bytes.between.snapshots=20971520",
                      "metadata.log.max.snapshot.interval.ms=3600000");
}

static void run(struct fx *f) { uv_run(&f->loop, UV_RUN_DEFAULT); }

static void stop(struct fx *f)
{
    if (f->node)
        kraft_node_stop(f->node);
    f->node = NULL;
    run(f);
}

static int node_teardown(void **state)
{
    struct fx *f = *state;
    stop(f);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    config_free(&f->cfg);
    rm_rf(f->dir);
    free(f);
    return 0;
}

static int start(struct fx *f, char *err, size_t errlen)
{
    return kraft_node_start(&f->loop, &f->cfg, true, &f->node, err, errlen);
}

static void start_ok(struct fx *f)
{
    char err[1024];
    if (start(f, err, sizeof err))
        fail_msg("start: %s", err);
    run(f); /* the snapshot the start-up writes trigger */
}

static int submitted;
static void on_submit(void *arg, int rc)
{
    (void)arg;
    assert_int_equal(rc, 0);
    submitted++;
}

/* One topic with a partition and a config, written through the node. */
static void add_topic(struct fx *f, int i)
{
    char name[32], value[32];
    snprintf(name, sizeof name, "t%d", i);
    snprintf(value, sizeof value, "%d", 1000 + i);
    int32_t r1 = 1;
    struct TopicRecord tr = {proto_str_from(name), mkid(10 + i)};
    struct PartitionRecord pr;
    proto_struct_init(proto_msg_PartitionRecord.body, &pr);
    pr.PartitionId = 0;
    pr.TopicId = tr.TopicId;
    pr.Replicas = &r1;
    pr.Replicas_n = 1;
    pr.Isr = &r1;
    pr.Isr_n = 1;
    pr.Leader = 1;
    struct ConfigRecord cr = {MD_RESOURCE_TOPIC, proto_str_from(name), proto_str_from("retention.ms"),
                              proto_str_from(value)};
    struct metalog_rec recs[3] = {{&proto_msg_TopicRecord, 0, &tr}, {&proto_msg_PartitionRecord, 0, &pr},
                                  {&proto_msg_ConfigRecord, 0, &cr}};
    int before = submitted;
    assert_int_equal(kraft_node_submit(f->node, recs, 3, on_submit, NULL), 0);
    run(f);
    assert_int_equal(submitted, before + 1);
}

/* Files in dir whose name ends with suffix. */
static size_t count_suffix(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0, k = strlen(suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > k && strcmp(e->d_name + len - k, suffix) == 0;
    }
    closedir(d);
    return n;
}

static int64_t log_start(struct fx *f)
{
    struct metalog *ml;
    char mdir[600];
    snprintf(mdir, sizeof mdir, "%s/data", f->dir);
    assert_int_equal(metalog_open(mdir, 0, &ml), 0);
    int64_t s = metalog_start_offset(ml);
    metalog_close(ml);
    return s;
}

static void newest(struct fx *f, struct snapshot_id *id)
{
    struct snapshot_id *ids;
    size_t n;
    assert_int_equal(snapshot_list(f->pdir, &ids, &n), 0);
    assert_true(n > 0);
    *id = ids[0];
    ferry_free(ids);
}

static void test_node_snapshots_and_restart(void **state)
{
    struct fx *f = *state;
    start_ok(f);
    for (int i = 0; i < 6; i++)
        add_topic(f, i);
    struct snapshot_id id, latest;
    const char *dir;
    assert_true(kraft_node_latest_snapshot(f->node, &latest, &dir));
    assert_string_equal(dir, f->pdir);
    assert_int_equal(latest.end_offset, kraft_node_committed_offset(f->node) + 1);
    assert_int_equal(latest.epoch, kraft_node_epoch(f->node));
    static char before[65536], after[65536];
    dump_image(kraft_node_image(f->node), before, sizeof before);
    stop(f);
    /* Two kept, older ones deleted; the log cleaned up to the older kept one. */
    assert_int_equal(count_suffix(f->pdir, ".checkpoint"), 2);
    assert_int_equal(count_suffix(f->pdir, ".checkpoint.part"), 0);
    struct snapshot_id *ids;
    size_t n;
    assert_int_equal(snapshot_list(f->pdir, &ids, &n), 0);
    assert_int_equal(ids[0].end_offset, latest.end_offset);
    int64_t ls = log_start(f);
    assert_true(ls > 0);
    assert_int_equal(ls, ids[1].end_offset);
    ferry_free(ids);
    /* Restart from the snapshot: the image is the same (the start-up writes change only the registrations,
     * so compare the topics and configs part). */
    start_ok(f);
    dump_image(kraft_node_image(f->node), after, sizeof after);
    assert_same(strstr(before, "topic "), strstr(after, "topic "));
    newest(f, &id);
    assert_true(id.end_offset > latest.end_offset);
}

static void corrupt_byte(const char *dir, struct snapshot_id id, long pos)
{
    char name[SNAPSHOT_NAME_MAX], p[1024];
    snapshot_file_name(id, NULL, name);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "r+b");
    assert_non_null(fp);
    fseek(fp, pos, SEEK_SET);
    int c = fgetc(fp);
    fseek(fp, pos, SEEK_SET);
    fputc(c ^ 0xff, fp);
    fclose(fp);
}

static void test_node_corrupt_newest(void **state)
{
    struct fx *f = *state;
    start_ok(f);
    for (int i = 0; i < 4; i++)
        add_topic(f, i);
    static char before[65536], after[65536];
    dump_image(kraft_node_image(f->node), before, sizeof before);
    stop(f);
    struct snapshot_id *ids;
    size_t n;
    assert_int_equal(snapshot_list(f->pdir, &ids, &n), 0);
    assert_int_equal(n, 2);
    struct snapshot_id bad = ids[0], older = ids[1];
    ferry_free(ids);
    corrupt_byte(f->pdir, bad, 100);
    touch(f->pdir, "00000000000000099999-0000000001.checkpoint.part", "half"); /* an interrupted write */
    char err[1024];
    if (start(f, err, sizeof err))
        fail_msg("start: %s", err);
    /* Started from the older snapshot (and the log after it). */
    struct snapshot_id loaded;
    const char *dir;
    assert_true(kraft_node_latest_snapshot(f->node, &loaded, &dir));
    assert_int_equal(loaded.end_offset, older.end_offset);
    dump_image(kraft_node_image(f->node), after, sizeof after);
    assert_same(strstr(before, "topic "), strstr(after, "topic "));
    run(f);
    stop(f);
    char name[SNAPSHOT_NAME_MAX];
    snapshot_file_name(bad, SNAPSHOT_CORRUPT_SUFFIX, name);
    assert_true(exists(f->pdir, name));
    assert_false(exists(f->pdir, "00000000000000099999-0000000001.checkpoint.part"));
}

static void test_node_no_valid_snapshot(void **state)
{
    struct fx *f = *state;
    start_ok(f);
    for (int i = 0; i < 4; i++)
        add_topic(f, i);
    stop(f);
    assert_true(log_start(f) > 0);
    struct snapshot_id *ids;
    size_t n;
    assert_int_equal(snapshot_list(f->pdir, &ids, &n), 0);
    for (size_t i = 0; i < n; i++)
        corrupt_byte(f->pdir, ids[i], 30);
    ferry_free(ids);
    char err[1024];
    assert_int_equal(start(f, err, sizeof err), FERRY_ECORRUPT);
    assert_null(f->node);
    assert_non_null(strstr(err, "no valid snapshot covers"));
    /* Nothing was lost: every bad snapshot is kept aside. */
    assert_int_equal(count_suffix(f->pdir, ".checkpoint.corrupt"), n);
}

static void test_node_interval_trigger(void **state)
{
    struct fx *f = *state;
    start_ok(f);
    struct snapshot_id first = {-1, -1}, later;
    const char *dir;
    kraft_node_latest_snapshot(f->node, &first, &dir);
    usleep(5000); /* more than metadata.log.max.snapshot.interval.ms since the last snapshot (or the start) */
    add_topic(f, 0);
    assert_true(kraft_node_latest_snapshot(f->node, &later, &dir));
    assert_true(later.end_offset > first.end_offset);
    assert_int_equal(later.end_offset, kraft_node_committed_offset(f->node) + 1);
}

static void test_node_no_trigger(void **state)
{
    struct fx *f = *state;
    start_ok(f);
    for (int i = 0; i < 5; i++)
        add_topic(f, i);
    struct snapshot_id id;
    const char *dir;
    assert_false(kraft_node_latest_snapshot(f->node, &id, &dir));
    stop(f);
    assert_int_equal(count_suffix(f->pdir, ".checkpoint"), 0);
    assert_int_equal(log_start(f), 0);
    /* Without snapshots the restart replays the whole log. */
    start_ok(f);
    assert_non_null(md_image_topic(kraft_node_image(f->node), "t4"));
}

/* Running out of memory while starting from a snapshot fails the start cleanly: it never sets a good
 * snapshot aside nor loses anything, and the next start succeeds with the same image. */
static void test_node_start_alloc_failures(void **state)
{
    struct fx *f = *state;
    start_ok(f);
    for (int i = 0; i < 3; i++)
        add_topic(f, i);
    stop(f);
    size_t nsnap = count_suffix(f->pdir, ".checkpoint");
    assert_true(nsnap > 0);
    bool started = false;
    long n;
    for (n = 0; !started && n < 20000; n += 1 + n / 50) {
        char err[1024];
        ferry_alloc_fail_after(n);
        int rc = start(f, err, sizeof err);
        ferry_alloc_fail_after(-1);
        if (rc == 0) {
            started = true;
            break;
        }
        assert_null(f->node);
        assert_int_equal(count_suffix(f->pdir, ".checkpoint.corrupt"), 0);
        assert_true(count_suffix(f->pdir, ".checkpoint") >= 1);
    }
    assert_true(started);
    run(f);
    for (int i = 0; i < 3; i++) {
        char t[8];
        snprintf(t, sizeof t, "t%d", i);
        assert_non_null(md_image_topic(kraft_node_image(f->node), t));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_many_batches),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_fetch_snapshot_files),
        cmocka_unit_test_setup_teardown(test_node_snapshots_and_restart, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown(test_node_corrupt_newest, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown(test_node_no_valid_snapshot, node_setup, node_teardown),
        cmocka_unit_test_setup_teardown(test_node_interval_trigger, interval_setup, node_teardown),
        cmocka_unit_test_setup_teardown(test_node_no_trigger, default_setup, node_teardown),
        cmocka_unit_test_setup_teardown(test_node_start_alloc_failures, node_setup, node_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
