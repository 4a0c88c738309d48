/* forward_source: a quorum-mode broker's metadata source (md_source.h): the image and its deltas come
 * from the node's kraft_source (the metadata log this node follows); every write goes to the active
 * controller through the ctrl_channel (ctrl_channel.h): in-process when this node's controller is the
 * active one, else over the wire (the client admin writes, ElectLeaders and the reassignment APIs inside an Envelope, as Kafka 3.7's brokers
 * forward them, so that clients may send them to any broker; AllocateProducerIds and AlterPartition as
 * themselves; auto-creation as a CreateTopics of Kafka's AutoTopicCreationManager). A client's
 * DescribeQuorum on a broker listener is forwarded the same way (forward_admin, in an Envelope), as Kafka
 * 3.7's brokers forward it; the describe_quorum operation answers from this node's own quorum (the
 * controller listener's). */
#include "forward_source.h"

#include <string.h>

#include "api_support.h"
#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/config/config.h"
#include "ctrl_channel.h"
#include "kraftmode/ctrl.h"
#include "kraftmode/kraft_broker.h"
#include "proto_codec.h"

struct own_call;

struct fwd_source {
    struct md_source inner;
    struct ctrl_channel *ch;
    const struct ferry_config *cfg;
    struct own_call *calls; /* the broker's own calls in flight (freed at stop, which answers none) */
};

static void own_calls_free(struct fwd_source *f);

static const struct md_image *image(const void *impl)
{
    const struct fwd_source *f = impl;
    return f->inner.ops->image(f->inner.impl);
}
static void set_publisher(void *impl, md_publish_fn publish, void *arg)
{
    struct fwd_source *f = impl;
    f->inner.ops->set_publisher(f->inner.impl, publish, arg);
}
static void listeners_bound(void *impl, const char *const *names, const uint16_t *ports, size_t n)
{
    struct fwd_source *f = impl;
    f->inner.ops->listeners_bound(f->inner.impl, names, ports, n);
}
static void stop(void *impl)
{
    struct fwd_source *f = impl;
    f->inner.ops->stop(f->inner.impl);
    own_calls_free(f); /* the channel and the node are stopped: their calls are never answered */
    ferry_free(f);
}

static int describe_quorum(void *impl, const struct DescribeQuorumRequest *req, struct proto_arena *a,
                           struct DescribeQuorumResponse *resp)
{
    struct fwd_source *f = impl;
    return f->inner.ops->describe_quorum(f->inner.impl, req, a, resp);
}

/* ---- admin writes, and DescribeQuorum (forwarded as Kafka 3.7's brokers forward it) ---- */

struct admin_fwd {
    struct fwd_source *f;
    int16_t key;
    const void *req;
    struct proto_arena *a;
    void *resp;
    md_done_fn done;
    void *arg;
};

/* A forwarded DescribeQuorum: no answer is REQUEST_TIMED_OUT at the top level, as Kafka's ForwardingManager
 * answers (DescribeQuorumRequest.getErrorResponse); NOT_LEADER_OR_FOLLOWER came from a controller that is no
 * longer the leader: the next call goes to another. */
static void describe_done(struct admin_fwd *c, int rc)
{
    struct DescribeQuorumResponse *r = c->resp;
    if (rc)
        r->ErrorCode = rc == FERRY_EIO ? KERR_REQUEST_TIMED_OUT : KERR_UNKNOWN_SERVER_ERROR;
    else if (r->Topics_n > 0 && r->Topics[0].Partitions_n > 0 &&
             r->Topics[0].Partitions[0].ErrorCode == KERR_NOT_LEADER_OR_FOLLOWER)
        ctrl_channel_not_controller(c->f->ch);
    c->done(c->arg);
}

static void admin_done(void *arg, int rc)
{
    struct admin_fwd *c = arg;
    if (c->key == API_DESCRIBE_QUORUM) {
        describe_done(c, rc);
        return;
    }
    if (rc == FERRY_EIO) /* no answer: Kafka's ForwardingManager answers a timeout so */
        kraft_fail_admin_response(c->key, c->req, c->a, c->resp, KERR_REQUEST_TIMED_OUT,
                                  "The request to the active controller failed or timed out.");
    else if (rc)
        kraft_fail_admin_response(c->key, c->req, c->a, c->resp, KERR_UNKNOWN_SERVER_ERROR,
                                  "The request could not be forwarded to the active controller.");
    c->done(c->arg);
}

static void forward_admin(void *impl, int16_t key, const void *req, int16_t version, const struct md_requester *who,
                          struct proto_arena *a, void *resp, md_done_fn done, void *arg)
{
    struct fwd_source *f = impl;
    struct admin_fwd *c = proto_arena_alloc(a, sizeof *c);
    if (!c) {
        LOG_ERROR("forward", "out of memory forwarding api key %d", key);
        return;
    }
    *c = (struct admin_fwd){f, key, req, a, resp, done, arg};
    ctrl_channel_call(f->ch, key, version, req, who, a, resp, admin_done, c);
}

/* The per-API operations (a caller without a client: no client id) */
#define FORWARD_ADMIN(fn, key, Req, Resp)                                                                       \
    static void fn(void *impl, const struct Req *req, int16_t version, struct proto_arena *a, struct Resp *resp, \
                   md_done_fn done, void *arg)                                                                 \
    {                                                                                                          \
        forward_admin(impl, key, req, version, NULL, a, resp, done, arg);                                      \
    }

FORWARD_ADMIN(create_topics, API_CREATE_TOPICS, CreateTopicsRequest, CreateTopicsResponse)
FORWARD_ADMIN(delete_topics, API_DELETE_TOPICS, DeleteTopicsRequest, DeleteTopicsResponse)
FORWARD_ADMIN(create_partitions, API_CREATE_PARTITIONS, CreatePartitionsRequest, CreatePartitionsResponse)
FORWARD_ADMIN(alter_configs, API_ALTER_CONFIGS, AlterConfigsRequest, AlterConfigsResponse)
FORWARD_ADMIN(incremental_alter_configs, API_INCREMENTAL_ALTER_CONFIGS, IncrementalAlterConfigsRequest,
              IncrementalAlterConfigsResponse)
FORWARD_ADMIN(elect_leaders, API_ELECT_LEADERS, ElectLeadersRequest, ElectLeadersResponse)
FORWARD_ADMIN(alter_partition_reassignments, API_ALTER_PARTITION_REASSIGNMENTS, AlterPartitionReassignmentsRequest,
              AlterPartitionReassignmentsResponse)
FORWARD_ADMIN(list_partition_reassignments, API_LIST_PARTITION_REASSIGNMENTS, ListPartitionReassignmentsRequest,
              ListPartitionReassignmentsResponse)

/* ---- requests of the broker itself: each call owns an arena ---- */

struct own_call {
    struct own_call *next, **prev; /* in f->calls */
    struct fwd_source *f;
    struct proto_arena arena;
    union {
        struct AllocateProducerIdsRequest pids;
        struct AlterPartitionRequest alter;
        struct CreateTopicsRequest create;
    } req;
    union {
        struct AllocateProducerIdsResponse pids;
        struct AlterPartitionResponse alter;
        struct CreateTopicsResponse create;
    } resp;
    md_pids_done_fn pids_done;
    md_alter_done_fn alter_done;
    md_done_fn create_done;
    void *arg;
};

static struct own_call *own_call_new(struct fwd_source *f, const struct proto_message *req_m,
                                     const struct proto_message *resp_m)
{
    struct own_call *c = ferry_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->f = f;
    proto_arena_init(&c->arena);
    proto_struct_init(req_m->body, &c->req);
    proto_struct_init(resp_m->body, &c->resp);
    c->next = f->calls;
    c->prev = &f->calls;
    if (f->calls)
        f->calls->prev = &c->next;
    f->calls = c;
    return c;
}

static void own_call_free(struct own_call *c)
{
    *c->prev = c->next;
    if (c->next)
        c->next->prev = c->prev;
    proto_arena_free(&c->arena);
    ferry_free(c);
}

static void own_calls_free(struct fwd_source *f)
{
    while (f->calls)
        own_call_free(f->calls);
}

static void pids_done(void *arg, int rc)
{
    struct own_call *c = arg;
    const struct AllocateProducerIdsResponse *r = &c->resp.pids;
    int16_t err = rc ? KERR_UNKNOWN_SERVER_ERROR : r->ErrorCode;
    if (err == KERR_NOT_CONTROLLER)
        ctrl_channel_not_controller(c->f->ch);
    c->pids_done(c->arg, err ? -1 : r->ProducerIdStart, err ? 0 : r->ProducerIdLen, err);
    own_call_free(c);
}

static void allocate_producer_ids(void *impl, int32_t broker_id, int64_t broker_epoch, md_pids_done_fn done, void *arg)
{
    struct fwd_source *f = impl;
    struct own_call *c = own_call_new(f, &proto_msg_AllocateProducerIdsRequest, &proto_msg_AllocateProducerIdsResponse);
    if (!c) {
        LOG_ERROR("forward", "out of memory asking for producer ids");
        return;
    }
    c->req.pids.BrokerId = broker_id;
    c->req.pids.BrokerEpoch = broker_epoch;
    c->pids_done = done;
    c->arg = arg;
    ctrl_channel_call(f->ch, API_ALLOCATE_PRODUCER_IDS, 0, &c->req.pids, NULL, &c->arena, &c->resp.pids, pids_done, c);
}

static void alter_done(void *arg, int rc)
{
    struct own_call *c = arg;
    const struct AlterPartitionResponse *r = &c->resp.alter;
    int16_t err = rc ? KERR_UNKNOWN_SERVER_ERROR : r->ErrorCode;
    for (int32_t t = 0; !err && t < r->Topics_n; t++)
        for (int32_t p = 0; !err && p < r->Topics[t].Partitions_n; p++)
            err = r->Topics[t].Partitions[p].ErrorCode;
    if (err == KERR_NOT_CONTROLLER)
        ctrl_channel_not_controller(c->f->ch);
    c->alter_done(c->arg, err);
    own_call_free(c);
}

/* AlterPartition v2 (topic ids, NewIsr), one partition. */
#define ALTER_PARTITION_VERSION 2

static void alter_partition(void *impl, const struct md_alter_partition *q, md_alter_done_fn done, void *arg)
{
    struct fwd_source *f = impl;
    struct own_call *c = own_call_new(f, &proto_msg_AlterPartitionRequest, &proto_msg_AlterPartitionResponse);
    struct AlterPartitionRequest_TopicData *t =
        c ? proto_array_new(&c->arena, &desc_AlterPartitionRequest_TopicData, 1) : NULL;
    struct AlterPartitionRequest_PartitionData *p =
        t ? proto_array_new(&c->arena, &desc_AlterPartitionRequest_PartitionData, 1) : NULL;
    int32_t *isr = p ? proto_arena_alloc(&c->arena, (size_t)(q->nisr ? q->nisr : 1) * sizeof *isr) : NULL;
    if (!isr) {
        LOG_ERROR("forward", "out of memory proposing an ISR change");
        if (c)
            own_call_free(c);
        return;
    }
    memcpy(isr, q->new_isr, (size_t)q->nisr * sizeof *isr);
    p->PartitionIndex = q->partition;
    p->LeaderEpoch = q->leader_epoch;
    p->NewIsr = isr;
    p->NewIsr_n = q->nisr;
    p->PartitionEpoch = q->partition_epoch;
    t->TopicId = q->topic_id;
    t->Partitions = p;
    t->Partitions_n = 1;
    c->req.alter.BrokerId = q->broker_id;
    c->req.alter.BrokerEpoch = q->broker_epoch;
    c->req.alter.Topics = t;
    c->req.alter.Topics_n = 1;
    c->alter_done = done;
    c->arg = arg;
    ctrl_channel_call(f->ch, API_ALTER_PARTITION, ALTER_PARTITION_VERSION, &c->req.alter, NULL, &c->arena,
                      &c->resp.alter, alter_done, c);
}

/* ---- auto-creation ---- */

static void create_done(void *arg, int rc)
{
    struct own_call *c = arg;
    for (int32_t i = 0; !rc && i < c->resp.create.Topics_n; i++) {
        const struct CreateTopicsResponse_CreatableTopicResult *t = &c->resp.create.Topics[i];
        if (t->ErrorCode && t->ErrorCode != KERR_TOPIC_ALREADY_EXISTS)
            LOG_WARN("forward", "auto-creation of topic %.*s failed: %s", (int)t->Name.len, t->Name.p,
                     kafka_error_name(t->ErrorCode));
    }
    if (rc)
        LOG_WARN("forward", "auto-creation could not reach the active controller: %s", ferry_strerror(rc));
    if (c->create_done)
        c->create_done(c->arg);
    own_call_free(c);
}

/* CreateTopics v4 with the defaults (-1) as Kafka's AutoTopicCreationManager sends it; the internal
 * __consumer_offsets with offsets.topic.* and compaction. */
static void auto_create_topics(void *impl, const char *const *names, size_t n, md_done_fn done, void *arg)
{
    struct fwd_source *f = impl;
    if (ctrl_channel_is_local(f->ch)) { /* the node's own auto-creation: internal topics with their settings */
        f->inner.ops->auto_create_topics(f->inner.impl, names, n, done, arg);
        return;
    }
    struct own_call *c = own_call_new(f, &proto_msg_CreateTopicsRequest, &proto_msg_CreateTopicsResponse);
    struct CreateTopicsRequest_CreatableTopic *ts =
        c ? proto_array_new(&c->arena, &desc_CreateTopicsRequest_CreatableTopic, (int32_t)n) : NULL;
    if (!ts) {
        LOG_ERROR("forward", "out of memory auto-creating %zu topic(s)", n);
        if (c)
            own_call_free(c);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *name = proto_arena_strdup(&c->arena, proto_str_from(names[i]));
        ts[i].Name = proto_str_from(name);
        ts[i].NumPartitions = -1;
        ts[i].ReplicationFactor = -1;
        if (name && strcmp(name, CTRL_OFFSETS_TOPIC) == 0) {
            struct CreateTopicsRequest_CreateableTopicConfig *cfg =
                proto_array_new(&c->arena, &desc_CreateTopicsRequest_CreateableTopicConfig, 1);
            ts[i].NumPartitions = f->cfg->offsets_topic_num_partitions;
            ts[i].ReplicationFactor = f->cfg->offsets_topic_replication_factor;
            if (cfg) {
                cfg[0].Name = proto_str_from("cleanup.policy");
                cfg[0].Value = proto_str_from("compact");
                ts[i].Configs = cfg;
                ts[i].Configs_n = 1;
            }
        }
    }
    c->req.create.Topics = ts;
    c->req.create.Topics_n = (int32_t)n;
    c->req.create.timeoutMs = 30000;
    c->create_done = done;
    c->arg = arg;
    struct md_requester who = {proto_str_from("auto-topic-creation"), kafka_principal_anonymous(), NULL};
    ctrl_channel_call(f->ch, API_CREATE_TOPICS, 4, &c->req.create, &who, &c->arena,
                      &c->resp.create, create_done, c);
}

static const struct md_source_ops fwd_source_ops = {
    .image = image,
    .set_publisher = set_publisher,
    .listeners_bound = listeners_bound,
    .stop = stop,
    .create_topics = create_topics,
    .delete_topics = delete_topics,
    .create_partitions = create_partitions,
    .alter_configs = alter_configs,
    .incremental_alter_configs = incremental_alter_configs,
    .elect_leaders = elect_leaders,
    .alter_partition_reassignments = alter_partition_reassignments,
    .list_partition_reassignments = list_partition_reassignments,
    .forward_admin = forward_admin,
    .allocate_producer_ids = allocate_producer_ids,
    .auto_create_topics = auto_create_topics,
    /* no controller_id: clients are told this broker, which forwards their admin writes (Kafka's KRaft
     * brokers name an alive broker, never a controller, as ControllerId) */
    .alter_partition = alter_partition,
    .describe_quorum = describe_quorum,
};

int forward_source_new(const struct md_source *inner, struct ctrl_channel *ch, const struct ferry_config *cfg,
                       struct md_source *out)
{
    if (!inner->ops->describe_quorum)
        return FERRY_EINVAL; /* a quorum node's source (kraft_source) */
    struct fwd_source *f = ferry_calloc(1, sizeof *f);
    if (!f)
        return FERRY_ENOMEM;
    f->inner = *inner;
    f->ch = ch;
    f->cfg = cfg;
    out->ops = &fwd_source_ops;
    out->impl = f;
    return 0;
}
