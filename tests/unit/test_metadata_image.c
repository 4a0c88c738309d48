/* Unit tests for the metadata image: every record type md_image_apply keeps, the deltas it records, the
 * records it must refuse, and allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/metadata/md_delta.h"
#include "broker/metadata/md_image.h"
#include "proto_codec.h"

static proto_uuid uuid_n(uint8_t n)
{
    proto_uuid u = {{0}};
    u.b[0] = 0x11;
    u.b[15] = n;
    return u;
}

#define INIT(type, var) \
    struct type var;    \
    proto_struct_init(proto_msg_##type.body, &var)

static int apply(struct md_image *img, const struct proto_message *m, const void *rec, int64_t off,
                 struct md_delta *d)
{
    return md_image_apply(img, m, rec, off, d);
}

static void add_topic(struct md_image *img, const char *name, proto_uuid id, int nparts, int64_t *off,
                      struct md_delta *d)
{
    INIT(TopicRecord, t);
    t.Name = proto_str_from(name);
    t.TopicId = id;
    assert_int_equal(apply(img, &proto_msg_TopicRecord, &t, (*off)++, d), 0);
    for (int i = 0; i < nparts; i++) {
        INIT(PartitionRecord, p);
        int32_t reps[] = {1, 2, 3};
        p.PartitionId = i;
        p.TopicId = id;
        p.Replicas = reps;
        p.Replicas_n = 3;
        p.Isr = reps;
        p.Isr_n = 2;
        p.Leader = 1;
        p.LeaderEpoch = 0;
        p.PartitionEpoch = 0;
        assert_int_equal(apply(img, &proto_msg_PartitionRecord, &p, (*off)++, d), 0);
    }
}

static void test_topic_and_partitions(void **state)
{
    (void)state;
    struct md_image img;
    struct md_delta d;
    md_image_init(&img);
    md_delta_init(&d);
    int64_t off = 10;
    add_topic(&img, "orders", uuid_n(1), 3, &off, &d);

    const struct md_topic *t = md_image_topic(&img, "orders");
    assert_non_null(t);
    assert_ptr_equal(md_image_topic_by_id(&img, uuid_n(1)), t);
    assert_ptr_equal(md_image_topic_n(&img, "orders-x", 6), t);
    assert_null(md_image_topic(&img, "order"));
    assert_int_equal(t->nparts, 3);
    const struct md_partition *p = md_topic_partition(t, 2);
    assert_non_null(p);
    assert_int_equal(p->leader, 1);
    assert_int_equal(p->replicas.n, 3);
    assert_int_equal(p->isr.n, 2);
    assert_true(md_ints_contains(&p->isr, 2));
    assert_false(md_ints_contains(&p->isr, 3));
    assert_null(md_topic_partition(t, 3));
    assert_null(md_topic_partition(t, -1));
    assert_int_equal(img.last_offset, 13);

    assert_int_equal(d.ntopics, 1);
    assert_true(d.topics[0]->created);
    assert_string_equal(d.topics[0]->name, "orders");
    assert_int_equal(d.topics[0]->npartitions, 3);
    assert_int_equal(md_topic_change_kind(d.topics[0], 0), MD_PART_CREATED);
    assert_int_equal(md_topic_change_kind(d.topics[0], 7), 0);
    assert_int_equal(d.first_offset, 10);
    assert_int_equal(d.last_offset, 13);
    assert_false(md_delta_is_empty(&d));
    md_delta_free(&d);
    md_image_free(&img);
}

static void test_partition_change(void **state)
{
    (void)state;
    struct md_image img;
    struct md_delta d;
    md_image_init(&img);
    md_delta_init(&d);
    int64_t off = 0;
    add_topic(&img, "t", uuid_n(2), 2, &off, NULL);

    /* ISR shrink, leader unchanged (-2): partition epoch moves, leader epoch does not. */
    INIT(PartitionChangeRecord, c);
    assert_int_equal(c.Leader, -2);
    assert_int_equal(c.Isr_n, -1);
    int32_t isr[] = {1};
    c.TopicId = uuid_n(2);
    c.PartitionId = 1;
    c.Isr = isr;
    c.Isr_n = 1;
    assert_int_equal(apply(&img, &proto_msg_PartitionChangeRecord, &c, off++, &d), 0);
    const struct md_partition *p = md_topic_partition(md_image_topic(&img, "t"), 1);
    assert_int_equal(p->isr.n, 1);
    assert_int_equal(p->leader, 1);
    assert_int_equal(p->leader_epoch, 0);
    assert_int_equal(p->partition_epoch, 1);
    assert_int_equal(p->replicas.n, 3);

    /* New leader and a reassignment in progress. */
    INIT(PartitionChangeRecord, c2);
    int32_t reps[] = {2, 3, 4}, adding[] = {4}, removing[] = {1};
    c2.TopicId = uuid_n(2);
    c2.PartitionId = 1;
    c2.Leader = 2;
    c2.Replicas = reps;
    c2.Replicas_n = 3;
    c2.AddingReplicas = adding;
    c2.AddingReplicas_n = 1;
    c2.RemovingReplicas = removing;
    c2.RemovingReplicas_n = 1;
    c2.LeaderRecoveryState = 1;
    assert_int_equal(apply(&img, &proto_msg_PartitionChangeRecord, &c2, off++, &d), 0);
    p = md_topic_partition(md_image_topic(&img, "t"), 1);
    assert_int_equal(p->leader, 2);
    assert_int_equal(p->leader_epoch, 1);
    assert_int_equal(p->partition_epoch, 2);
    assert_int_equal(p->replicas.v[2], 4);
    assert_int_equal(p->adding.n, 1);
    assert_int_equal(p->removing.v[0], 1);
    assert_int_equal(p->isr.n, 1); /* untouched */
    assert_int_equal(p->leader_recovery_state, 1);

    /* Leader -1: no leader; recovery state -1 keeps the previous one. */
    INIT(PartitionChangeRecord, c3);
    c3.TopicId = uuid_n(2);
    c3.PartitionId = 1;
    c3.Leader = -1;
    assert_int_equal(apply(&img, &proto_msg_PartitionChangeRecord, &c3, off++, &d), 0);
    assert_int_equal(p->leader, MD_NO_LEADER);
    assert_int_equal(p->leader_epoch, 2);
    assert_int_equal(p->leader_recovery_state, 1);

    assert_int_equal(d.ntopics, 1);
    assert_false(d.topics[0]->created);
    assert_int_equal(d.topics[0]->npartitions, 1);
    assert_int_equal(md_topic_change_kind(d.topics[0], 1), MD_PART_CHANGED);
    assert_int_equal(md_topic_change_kind(d.topics[0], 0), 0);

    /* Changes to unknown partitions/topics are refused and change nothing. */
    c3.PartitionId = 5;
    assert_int_equal(apply(&img, &proto_msg_PartitionChangeRecord, &c3, off++, &d), FERRY_ECORRUPT);
    c3.PartitionId = 0;
    c3.TopicId = uuid_n(99);
    assert_int_equal(apply(&img, &proto_msg_PartitionChangeRecord, &c3, off++, &d), FERRY_ECORRUPT);
    md_delta_free(&d);
    md_image_free(&img);
}

static void config(struct md_image *img, int8_t type, const char *res, const char *key, const char *value,
                   int64_t off, struct md_delta *d)
{
    INIT(ConfigRecord, c);
    c.ResourceType = type;
    c.ResourceName = proto_str_from(res);
    c.Name = proto_str_from(key);
    c.Value = proto_str_from(value);
    assert_int_equal(apply(img, &proto_msg_ConfigRecord, &c, off, d), 0);
}

static void test_configs(void **state)
{
    (void)state;
    struct md_image img;
    struct md_delta d;
    md_image_init(&img);
    md_delta_init(&d);
    config(&img, MD_RESOURCE_TOPIC, "t", "retention.ms", "1000", 1, &d);
    config(&img, MD_RESOURCE_TOPIC, "t", "cleanup.policy", "compact", 2, &d);
    config(&img, MD_RESOURCE_TOPIC, "t", "retention.ms", "2000", 3, &d);
    config(&img, MD_RESOURCE_BROKER, "1", "log.retention.ms", "5", 4, &d);
    config(&img, MD_RESOURCE_BROKER, "", "log.retention.ms", "6", 5, &d);
    const struct md_configs *c = md_image_configs(&img, MD_RESOURCE_TOPIC, "t");
    assert_non_null(c);
    assert_int_equal(c->n, 2);
    assert_string_equal(c->entries[0].key, "cleanup.policy"); /* sorted by key */
    assert_string_equal(md_configs_get(c, "retention.ms"), "2000");
    assert_null(md_configs_get(c, "segment.ms"));
    assert_null(md_configs_get(NULL, "segment.ms"));
    assert_string_equal(md_configs_get(md_image_configs(&img, MD_RESOURCE_BROKER, "1"), "log.retention.ms"), "5");
    assert_string_equal(md_configs_get(md_image_configs(&img, MD_RESOURCE_BROKER, ""), "log.retention.ms"), "6");
    assert_null(md_image_configs(&img, MD_RESOURCE_BROKER, "t"));
    assert_int_equal(d.nconfigs, 3);
    assert_true(md_delta_config_changed(&d, MD_RESOURCE_TOPIC, "t"));
    assert_true(md_delta_config_changed(&d, MD_RESOURCE_BROKER, ""));
    assert_false(md_delta_config_changed(&d, MD_RESOURCE_TOPIC, "u"));

    /* A null value deletes; the last key gone removes the resource. */
    config(&img, MD_RESOURCE_TOPIC, "t", "retention.ms", NULL, 6, &d);
    c = md_image_configs(&img, MD_RESOURCE_TOPIC, "t");
    assert_int_equal(c->n, 1);
    assert_null(md_configs_get(c, "retention.ms"));
    config(&img, MD_RESOURCE_TOPIC, "t", "cleanup.policy", NULL, 7, &d);
    assert_null(md_image_configs(&img, MD_RESOURCE_TOPIC, "t"));
    config(&img, MD_RESOURCE_TOPIC, "t", "not.there", NULL, 8, &d); /* deleting nothing is fine */

    /* Long resource names take the heap path of the key builder. */
    char longname[400];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    config(&img, MD_RESOURCE_TOPIC, longname, "k", "v", 9, &d);
    assert_string_equal(md_configs_get(md_image_configs(&img, MD_RESOURCE_TOPIC, longname), "k"), "v");
    assert_true(md_delta_config_changed(&d, MD_RESOURCE_TOPIC, longname));
    md_delta_free(&d);
    md_image_free(&img);
}

static void test_remove_topic(void **state)
{
    (void)state;
    struct md_image img;
    struct md_delta d;
    md_image_init(&img);
    md_delta_init(&d);
    int64_t off = 0;
    add_topic(&img, "gone", uuid_n(3), 4, &off, NULL);
    config(&img, MD_RESOURCE_TOPIC, "gone", "retention.ms", "1", off++, NULL);

    /* A change then the removal in one delta: only the deletion remains. */
    INIT(PartitionChangeRecord, c);
    c.TopicId = uuid_n(3);
    c.PartitionId = 0;
    c.Leader = 2;
    assert_int_equal(apply(&img, &proto_msg_PartitionChangeRecord, &c, off++, &d), 0);
    INIT(RemoveTopicRecord, r);
    r.TopicId = uuid_n(3);
    assert_int_equal(apply(&img, &proto_msg_RemoveTopicRecord, &r, off++, &d), 0);
    assert_null(md_image_topic(&img, "gone"));
    assert_null(md_image_topic_by_id(&img, uuid_n(3)));
    assert_null(md_image_configs(&img, MD_RESOURCE_TOPIC, "gone"));
    assert_int_equal(md_image_topic_count(&img), 0);
    assert_int_equal(d.ntopics, 0);
    assert_null(md_delta_topic(&d, uuid_n(3)));
    assert_int_equal(d.ndeleted, 1);
    assert_string_equal(d.deleted[0].name, "gone");
    assert_int_equal(d.deleted[0].partitions, 4);
    assert_true(proto_uuid_eq(d.deleted[0].id, uuid_n(3)));
    assert_true(md_delta_config_changed(&d, MD_RESOURCE_TOPIC, "gone"));

    /* Removing it again is refused. */
    assert_int_equal(apply(&img, &proto_msg_RemoveTopicRecord, &r, off++, &d), FERRY_ECORRUPT);

    /* Created and removed inside one delta: in neither list; the name can come back with a new id. */
    md_delta_reset(&d);
    add_topic(&img, "brief", uuid_n(4), 1, &off, &d);
    add_topic(&img, "other", uuid_n(6), 1, &off, &d);
    r.TopicId = uuid_n(4);
    assert_int_equal(apply(&img, &proto_msg_RemoveTopicRecord, &r, off++, &d), 0);
    assert_int_equal(d.ndeleted, 0);
    assert_int_equal(d.ntopics, 1);
    assert_string_equal(d.topics[0]->name, "other");
    assert_non_null(md_delta_topic(&d, uuid_n(6)));
    add_topic(&img, "brief", uuid_n(5), 1, &off, &d);
    assert_int_equal(d.ntopics, 2);
    assert_true(proto_uuid_eq(md_image_topic(&img, "brief")->id, uuid_n(5)));
    md_delta_free(&d);
    md_image_free(&img);
}

static void test_topic_conflicts(void **state)
{
    (void)state;
    struct md_image img;
    md_image_init(&img);
    int64_t off = 0;
    add_topic(&img, "a", uuid_n(1), 1, &off, NULL);
    INIT(TopicRecord, t);
    t.Name = proto_str_from("a");
    t.TopicId = uuid_n(2);
    assert_int_equal(apply(&img, &proto_msg_TopicRecord, &t, off++, NULL), FERRY_ECORRUPT); /* same name */
    t.Name = proto_str_from("b");
    t.TopicId = uuid_n(1);
    assert_int_equal(apply(&img, &proto_msg_TopicRecord, &t, off++, NULL), FERRY_ECORRUPT); /* same id */
    t.Name = proto_str_from("");
    t.TopicId = uuid_n(3);
    assert_int_equal(apply(&img, &proto_msg_TopicRecord, &t, off++, NULL), FERRY_ECORRUPT);
    INIT(PartitionRecord, p);
    p.TopicId = uuid_n(9);
    p.PartitionId = 0;
    assert_int_equal(apply(&img, &proto_msg_PartitionRecord, &p, off++, NULL), FERRY_ECORRUPT);
    p.TopicId = uuid_n(1);
    p.PartitionId = -1;
    assert_int_equal(apply(&img, &proto_msg_PartitionRecord, &p, off++, NULL), FERRY_ECORRUPT);
    p.PartitionId = 1 << 30;
    assert_int_equal(apply(&img, &proto_msg_PartitionRecord, &p, off++, NULL), FERRY_ECORRUPT);
    assert_int_equal(md_image_topic_count(&img), 1);
    /* Not a metadata record. */
    assert_int_equal(md_image_apply(&img, &proto_msg_MetadataRequest, &p, off, NULL), FERRY_EINVAL);
    md_image_free(&img);
}

static void register_broker(struct md_image *img, int32_t id, int64_t epoch, bool fenced, struct md_delta *d)
{
    INIT(RegisterBrokerRecord, r);
    struct RegisterBrokerRecord_BrokerEndpoint ep[2];
    proto_struct_init(&desc_RegisterBrokerRecord_BrokerEndpoint, &ep[0]);
    proto_struct_init(&desc_RegisterBrokerRecord_BrokerEndpoint, &ep[1]);
    ep[0].Name = proto_str_from("PLAINTEXT");
    ep[0].Host = proto_str_from("localhost");
    ep[0].Port = 9092;
    ep[0].SecurityProtocol = 0;
    ep[1].Name = proto_str_from("SSL");
    ep[1].Host = proto_str_from("h2");
    ep[1].Port = 9093;
    ep[1].SecurityProtocol = 1;
    struct RegisterBrokerRecord_BrokerFeature f;
    proto_struct_init(&desc_RegisterBrokerRecord_BrokerFeature, &f);
    f.Name = proto_str_from("metadata.version");
    f.MinSupportedVersion = 1;
    f.MaxSupportedVersion = 19;
    r.BrokerId = id;
    r.BrokerEpoch = epoch;
    r.IncarnationId = uuid_n((uint8_t)id);
    r.EndPoints = ep;
    r.EndPoints_n = 2;
    r.Features = &f;
    r.Features_n = 1;
    r.Rack = proto_str_from(id == 2 ? "rack-b" : NULL);
    r.Fenced = fenced;
    assert_int_equal(apply(img, &proto_msg_RegisterBrokerRecord, &r, epoch, d), 0);
}

static void test_brokers(void **state)
{
    (void)state;
    struct md_image img;
    struct md_delta d;
    md_image_init(&img);
    md_delta_init(&d);
    register_broker(&img, 3, 30, true, &d);
    register_broker(&img, 1, 10, true, &d);
    register_broker(&img, 2, 20, false, &d);
    assert_int_equal(img.nbrokers, 3);
    assert_int_equal(img.brokers[0]->id, 1); /* sorted */
    const struct md_broker *b = md_image_broker(&img, 2);
    assert_non_null(b);
    assert_int_equal(b->epoch, 20);
    assert_string_equal(b->rack, "rack-b");
    assert_int_equal(b->nendpoints, 2);
    assert_string_equal(b->endpoints[1].host, "h2");
    assert_int_equal(b->endpoints[1].port, 9093);
    assert_int_equal(b->features[0].max, 19);
    assert_true(md_broker_is_active(b));
    assert_null(md_image_broker(&img, 1)->rack);
    assert_false(md_broker_is_active(md_image_broker(&img, 1)));
    assert_int_equal(d.nbrokers, 3);
    /* the endpoint brokers reach each other on: the named listener (any case), else the first */
    assert_int_equal(md_image_broker_endpoint(&img, 2, "ssl")->port, 9093);
    assert_int_equal(md_image_broker_endpoint(&img, 2, "PLAINTEXT")->port, 9092);
    assert_int_equal(md_image_broker_endpoint(&img, 2, "INTERNAL")->port, 9092);
    assert_int_equal(md_image_broker_endpoint(&img, 2, NULL)->port, 9092);
    assert_null(md_image_broker_endpoint(&img, 9, "SSL"));

    /* Unfence broker 1 with BrokerRegistrationChangeRecord, then controlled shutdown. */
    INIT(BrokerRegistrationChangeRecord, ch);
    ch.BrokerId = 1;
    ch.BrokerEpoch = 10;
    ch.Fenced = -1;
    assert_int_equal(apply(&img, &proto_msg_BrokerRegistrationChangeRecord, &ch, 40, NULL), 0);
    assert_false(md_image_broker(&img, 1)->fenced);
    ch.Fenced = 0;
    ch.InControlledShutdown = 1;
    assert_int_equal(apply(&img, &proto_msg_BrokerRegistrationChangeRecord, &ch, 41, NULL), 0);
    assert_true(md_image_broker(&img, 1)->in_controlled_shutdown);
    assert_false(md_broker_is_active(md_image_broker(&img, 1)));
    ch.Fenced = 2;
    assert_int_equal(apply(&img, &proto_msg_BrokerRegistrationChangeRecord, &ch, 42, NULL), FERRY_ECORRUPT);
    ch.Fenced = 1;
    ch.BrokerEpoch = 11; /* stale epoch */
    assert_int_equal(apply(&img, &proto_msg_BrokerRegistrationChangeRecord, &ch, 43, NULL), FERRY_ECORRUPT);
    assert_false(md_image_broker(&img, 1)->fenced);

    /* Older MVs: Fence/UnfenceBrokerRecord. */
    INIT(FenceBrokerRecord, fe);
    fe.Id = 2;
    fe.Epoch = 20;
    assert_int_equal(apply(&img, &proto_msg_FenceBrokerRecord, &fe, 44, NULL), 0);
    assert_true(md_image_broker(&img, 2)->fenced);
    INIT(UnfenceBrokerRecord, un);
    un.Id = 2;
    un.Epoch = 21;
    assert_int_equal(apply(&img, &proto_msg_UnfenceBrokerRecord, &un, 45, NULL), FERRY_ECORRUPT);
    un.Epoch = 20;
    assert_int_equal(apply(&img, &proto_msg_UnfenceBrokerRecord, &un, 46, NULL), 0);
    assert_false(md_image_broker(&img, 2)->fenced);
    un.Id = 7;
    assert_int_equal(apply(&img, &proto_msg_UnfenceBrokerRecord, &un, 47, NULL), FERRY_ECORRUPT);

    /* Re-registration replaces; unregistration removes. */
    register_broker(&img, 2, 50, true, NULL);
    assert_int_equal(md_image_broker(&img, 2)->epoch, 50);
    assert_int_equal(img.nbrokers, 3);
    md_delta_reset(&d);
    INIT(UnregisterBrokerRecord, ur);
    ur.BrokerId = 2;
    ur.BrokerEpoch = 50;
    assert_int_equal(apply(&img, &proto_msg_UnregisterBrokerRecord, &ur, 51, &d), 0);
    assert_null(md_image_broker(&img, 2));
    assert_int_equal(img.nbrokers, 2);
    assert_true(md_delta_broker_changed(&d, 2));
    assert_false(md_delta_broker_changed(&d, 1));
    md_delta_free(&d);
    md_image_free(&img);
}

static void test_features_and_misc(void **state)
{
    (void)state;
    struct md_image img;
    struct md_delta d;
    md_image_init(&img);
    md_delta_init(&d);
    INIT(FeatureLevelRecord, f);
    f.Name = proto_str_from("metadata.version");
    f.FeatureLevel = 19;
    assert_int_equal(apply(&img, &proto_msg_FeatureLevelRecord, &f, 0, &d), 0);
    assert_int_equal(img.metadata_version, 19);
    assert_int_equal(md_image_feature_level(&img, "metadata.version"), 19);
    assert_true(d.features_changed);
    f.Name = proto_str_from("group.version");
    f.FeatureLevel = 1;
    assert_int_equal(apply(&img, &proto_msg_FeatureLevelRecord, &f, 1, &d), 0);
    assert_int_equal(md_image_feature_level(&img, "group.version"), 1);
    f.FeatureLevel = 0; /* removes */
    assert_int_equal(apply(&img, &proto_msg_FeatureLevelRecord, &f, 2, &d), 0);
    assert_int_equal(md_image_feature_level(&img, "group.version"), 0);
    assert_int_equal(img.nfeatures, 1);

    INIT(ProducerIdsRecord, pid);
    pid.BrokerId = 1;
    pid.BrokerEpoch = 5;
    pid.NextProducerId = 1000;
    assert_int_equal(apply(&img, &proto_msg_ProducerIdsRecord, &pid, 3, &d), 0);
    assert_int_equal(img.producer_ids.next_producer_id, 1000);
    assert_true(d.producer_ids_changed);
    pid.NextProducerId = 1000; /* must move forward */
    assert_int_equal(apply(&img, &proto_msg_ProducerIdsRecord, &pid, 4, &d), FERRY_ECORRUPT);

    INIT(ZkMigrationStateRecord, z);
    z.ZkMigrationState = 2;
    assert_int_equal(apply(&img, &proto_msg_ZkMigrationStateRecord, &z, 5, &d), 0);
    assert_int_equal(img.zk_migration_state, 2);
    assert_true(d.zk_migration_changed);
    z.ZkMigrationState = 9;
    assert_int_equal(apply(&img, &proto_msg_ZkMigrationStateRecord, &z, 6, &d), FERRY_ECORRUPT);

    INIT(NoOpRecord, noop);
    INIT(BeginTransactionRecord, bt);
    INIT(EndTransactionRecord, et);
    INIT(AbortTransactionRecord, at);
    INIT(AccessControlEntryRecord, acl);
    assert_int_equal(apply(&img, &proto_msg_NoOpRecord, &noop, 7, &d), 0);
    assert_int_equal(apply(&img, &proto_msg_BeginTransactionRecord, &bt, 8, &d), 0);
    assert_int_equal(apply(&img, &proto_msg_EndTransactionRecord, &et, 9, &d), 0);
    assert_int_equal(apply(&img, &proto_msg_AbortTransactionRecord, &at, 10, &d), 0);
    assert_int_equal(apply(&img, &proto_msg_AccessControlEntryRecord, &acl, 11, &d), 0); /* ignored */
    assert_int_equal(img.last_offset, 11);

    INIT(RegisterControllerRecord, rc);
    struct RegisterControllerRecord_ControllerEndpoint ep;
    proto_struct_init(&desc_RegisterControllerRecord_ControllerEndpoint, &ep);
    ep.Name = proto_str_from("CONTROLLER");
    ep.Host = proto_str_from("127.0.0.1");
    ep.Port = 9093;
    rc.ControllerId = 3000;
    rc.EndPoints = &ep;
    rc.EndPoints_n = 1;
    assert_int_equal(apply(&img, &proto_msg_RegisterControllerRecord, &rc, 12, &d), 0);
    rc.ControllerId = 1;
    assert_int_equal(apply(&img, &proto_msg_RegisterControllerRecord, &rc, 13, &d), 0);
    assert_int_equal(apply(&img, &proto_msg_RegisterControllerRecord, &rc, 14, &d), 0); /* replaces */
    assert_int_equal(img.ncontrollers, 2);
    assert_int_equal(img.controllers[0]->id, 1);
    assert_string_equal(md_image_controller(&img, 3000)->endpoints[0].name, "CONTROLLER");
    assert_int_equal(d.ncontrollers, 2);
    md_delta_free(&d);
    md_image_free(&img);
}

static void test_sorted_topics(void **state)
{
    (void)state;
    struct md_image img;
    md_image_init(&img);
    size_t n;
    assert_null(md_image_topics_sorted(&img, &n));
    assert_int_equal(n, 0);
    int64_t off = 0;
    const char *names[] = {"m", "a", "z", "b"};
    for (int i = 0; i < 4; i++)
        add_topic(&img, names[i], uuid_n((uint8_t)(i + 1)), 1, &off, NULL);
    struct md_topic *const *s = md_image_topics_sorted(&img, &n);
    assert_int_equal(n, 4);
    assert_string_equal(s[0]->name, "a");
    assert_string_equal(s[1]->name, "b");
    assert_string_equal(s[3]->name, "z");
    INIT(RemoveTopicRecord, r);
    r.TopicId = uuid_n(2); /* "a" */
    assert_int_equal(apply(&img, &proto_msg_RemoveTopicRecord, &r, off++, NULL), 0);
    s = md_image_topics_sorted(&img, &n);
    assert_int_equal(n, 3);
    assert_string_equal(s[0]->name, "b");
    md_image_free(&img);
}

static void test_uuid_text(void **state)
{
    (void)state;
    proto_uuid one = {{0}};
    one.b[15] = 1;
    char s[23];
    proto_uuid_to_base64(one, s);
    assert_string_equal(s, "AAAAAAAAAAAAAAAAAAAAAQ");
    proto_uuid back;
    assert_int_equal(proto_uuid_from_base64("AAAAAAAAAAAAAAAAAAAAAQ", &back), 0);
    assert_true(proto_uuid_eq(back, one));
    assert_int_equal(proto_uuid_from_base64("AAAAAAAAAAAAAAAAAAAAAQ==", &back), 0);
    proto_uuid u;
    for (int i = 0; i < 16; i++)
        u.b[i] = (uint8_t)(i * 37 + 250);
    proto_uuid_to_base64(u, s);
    assert_int_equal(strlen(s), 22);
    assert_int_equal(proto_uuid_from_base64(s, &back), 0);
    assert_true(proto_uuid_eq(back, u));
    assert_int_equal(proto_uuid_from_base64("AAAAAAAAAAAAAAAAAAAAA", &back), FERRY_EPARSE);   /* 21 chars */
    assert_int_equal(proto_uuid_from_base64("AAAAAAAAAAAAAAAAAAAA+Q", &back), FERRY_EPARSE);  /* not url-safe */
    assert_int_equal(proto_uuid_from_base64("AAAAAAAAAAAAAAAAAAAAAB", &back), FERRY_EPARSE);  /* stray low bits */
    assert_true(proto_uuid_is_zero((proto_uuid){{0}}));
    assert_false(proto_uuid_is_zero(one));
}

/* Every allocation failure during a run of records leaves a consistent image and leaks nothing. */
static void test_allocation_failures(void **state)
{
    (void)state;
    for (long fail = 0; fail < 200; fail++) {
        struct md_image img;
        struct md_delta d;
        md_image_init(&img);
        md_delta_init(&d);
        ferry_alloc_fail_after(fail);
        INIT(TopicRecord, t);
        t.Name = proto_str_from("t");
        t.TopicId = uuid_n(1);
        int rc = apply(&img, &proto_msg_TopicRecord, &t, 0, &d);
        if (rc == 0) {
            INIT(PartitionRecord, p);
            int32_t reps[] = {1, 2};
            p.TopicId = uuid_n(1);
            p.PartitionId = 0;
            p.Replicas = reps;
            p.Replicas_n = 2;
            p.Isr = reps;
            p.Isr_n = 2;
            rc = apply(&img, &proto_msg_PartitionRecord, &p, 1, &d);
            assert_true(rc == 0 || rc == FERRY_ENOMEM);
            assert_int_equal(md_image_topic(&img, "t")->nparts, rc == 0 ? 1 : 0);
            INIT(PartitionChangeRecord, c);
            c.TopicId = uuid_n(1);
            c.PartitionId = 0;
            c.Isr = reps;
            c.Isr_n = 1;
            c.Leader = 2;
            bool had_partition = md_image_topic(&img, "t")->nparts == 1;
            rc = apply(&img, &proto_msg_PartitionChangeRecord, &c, 2, &d);
            assert_true(rc == 0 || rc == FERRY_ENOMEM || (!had_partition && rc == FERRY_ECORRUPT));
            if (rc == FERRY_ENOMEM)
                assert_int_equal(md_image_topic(&img, "t")->parts[0].isr.n, 2);
            INIT(ConfigRecord, cr);
            cr.ResourceType = MD_RESOURCE_TOPIC;
            cr.ResourceName = proto_str_from("t");
            cr.Name = proto_str_from("k");
            cr.Value = proto_str_from("v");
            rc = apply(&img, &proto_msg_ConfigRecord, &cr, 3, &d);
            assert_true(rc == 0 || rc == FERRY_ENOMEM);
            assert_true(rc != 0 || md_configs_get(md_image_configs(&img, MD_RESOURCE_TOPIC, "t"), "k") != NULL);
            INIT(RemoveTopicRecord, rt);
            rt.TopicId = uuid_n(1);
            rc = apply(&img, &proto_msg_RemoveTopicRecord, &rt, 4, &d);
            assert_true(rc == 0 || rc == FERRY_ENOMEM);
        } else {
            assert_int_equal(rc, FERRY_ENOMEM);
            assert_null(md_image_topic(&img, "t"));
        }
        ferry_alloc_fail_after(-1);
        md_delta_free(&d);
        md_image_free(&img);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_and_partitions),
        cmocka_unit_test(test_partition_change),
        cmocka_unit_test(test_configs),
        cmocka_unit_test(test_remove_topic),
        cmocka_unit_test(test_topic_conflicts),
        cmocka_unit_test(test_brokers),
        cmocka_unit_test(test_features_and_misc),
        cmocka_unit_test(test_sorted_topics),
        cmocka_unit_test(test_uuid_text),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
