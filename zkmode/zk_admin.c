/* zk_admin: see zk_admin.h. One admin operation goes through four steps:
 *   load    the children of /brokers/topics, then the topic znodes and /config entities it needs;
 *   decide  a scratch image (live brokers of the broker's image + what was read) and the quorum
 *           controller's decision (kraftmode/ctrl.h), which fills the response and produces records;
 *   write   the records as znodes (zk_admin_write.c), each write's outcome patched into the response;
 *   answer  at once, or once the broker's image shows the result (CreateTopics/DeleteTopics timeout). */
#include "zk_admin_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "proto_codec.h"

#define TOPICS_PATH "/brokers/topics"

/* ---- lifecycle of an operation ---- */

static struct zk_admin_op *op_new(struct zk_src *z, enum zk_admin_kind kind, const void *req, int16_t version,
                                  struct proto_arena *a, void *resp, md_done_fn done, void *arg)
{
    struct zk_admin_op *op = ferry_calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->z = z;
    op->kind = kind;
    op->req = req;
    op->version = version;
    op->a = a;
    op->resp = resp;
    op->done = done;
    op->arg = arg;
    proto_arena_init(&op->rec_arena);
    ctrl_records_init(&op->recs, &op->rec_arena);
    md_image_init(&op->view);
    op->next = z->admin_ops;
    z->admin_ops = op;
    return op;
}

static void op_free(struct zk_admin_op *op)
{
    struct zk_src *z = op->z;
    for (struct zk_admin_op **pp = &z->admin_ops; *pp; pp = &(*pp)->next) {
        if (*pp == op) {
            *pp = op->next;
            break;
        }
    }
    for (int32_t i = 0; i < op->nnames; i++)
        ferry_free(op->names[i]);
    ferry_free(op->names);
    for (int32_t i = 0; i < op->ntopics; i++) {
        ferry_free(op->topics[i].name);
        zk_topic_assignment_free(&op->topics[i].asg);
    }
    ferry_free(op->topics);
    for (int32_t i = 0; i < op->ncfgs; i++) {
        ferry_free(op->cfgs[i].name);
        zk_config_entity_free(&op->cfgs[i].cfg);
    }
    ferry_free(op->cfgs);
    for (size_t i = 0; i < op->nauto; i++)
        ferry_free(op->auto_names[i]);
    ferry_free(op->auto_names);
    ferry_free(op->auto_errors);
    zk_admin_writes_free(op);
    ctrl_records_free(&op->recs);
    proto_arena_free(&op->rec_arena);
    md_image_free(&op->view);
    ferry_free(op);
}

void zk_admin_answer(struct zk_admin_op *op)
{
    struct zk_src *z = op->z;
    md_done_fn done = op->done;
    void *arg = op->arg;
    op_free(op);
    if (done && !z->stopping)
        done(arg);
}

void zk_admin_stop(struct zk_src *z)
{
    while (z->admin_ops)
        op_free(z->admin_ops);
}

/* ---- response errors for a whole operation ---- */

/* AlterConfigs and IncrementalAlterConfigs answer alike: one error per resource. */
#define FAIL_RESOURCES(req_type, resp_type, desc)                                                                    \
    do {                                                                                                              \
        const req_type *req_ = op->req;                                                                               \
        resp_type *resp_ = op->resp;                                                                                  \
        int32_t n_ = req_->Resources_n > 0 ? req_->Resources_n : 0;                                                   \
        resp_->Responses = proto_array_new(a, &(desc), n_);                                                           \
        resp_->Responses_n = resp_->Responses ? n_ : 0;                                                               \
        for (int32_t i_ = 0; i_ < resp_->Responses_n; i_++) {                                                         \
            resp_->Responses[i_].ResourceType = req_->Resources[i_].ResourceType;                                     \
            resp_->Responses[i_].ResourceName = req_->Resources[i_].ResourceName;                                     \
            resp_->Responses[i_].ErrorCode = code;                                                                    \
            resp_->Responses[i_].ErrorMessage = proto_str_from(msg);                                                  \
        }                                                                                                             \
    } while (0)

/* Fills the response with one error for every entry of the request (a load that failed). */
static void fail_all(struct zk_admin_op *op, int16_t code, const char *msg)
{
    struct proto_arena *a = op->a;
    switch (op->kind) {
    case ZK_ADMIN_CREATE: {
        const struct CreateTopicsRequest *req = op->req;
        struct CreateTopicsResponse *resp = op->resp;
        int32_t n = req->Topics_n > 0 ? req->Topics_n : 0;
        resp->Topics = proto_array_new(a, &desc_CreateTopicsResponse_CreatableTopicResult, n);
        resp->Topics_n = resp->Topics ? n : 0;
        for (int32_t i = 0; i < resp->Topics_n; i++) {
            resp->Topics[i].Name = req->Topics[i].Name;
            resp->Topics[i].ErrorCode = code;
            resp->Topics[i].ErrorMessage = proto_str_from(msg);
            resp->Topics[i].NumPartitions = -1;
            resp->Topics[i].ReplicationFactor = -1;
            resp->Topics[i].Configs_n = -1;
        }
        break;
    }
    case ZK_ADMIN_DELETE: {
        const struct DeleteTopicsRequest *req = op->req;
        struct DeleteTopicsResponse *resp = op->resp;
        int32_t nt = req->Topics_n > 0 ? req->Topics_n : 0, nn = req->TopicNames_n > 0 ? req->TopicNames_n : 0;
        resp->Responses = proto_array_new(a, &desc_DeleteTopicsResponse_DeletableTopicResult, nt + nn);
        resp->Responses_n = resp->Responses ? nt + nn : 0;
        for (int32_t i = 0; i < resp->Responses_n; i++) {
            struct DeleteTopicsResponse_DeletableTopicResult *r = &resp->Responses[i];
            if (i < nt) {
                r->Name = req->Topics[i].Name;
                r->TopicId = req->Topics[i].TopicId;
            } else {
                r->Name = req->TopicNames[i - nt];
            }
            r->ErrorCode = code;
            r->ErrorMessage = proto_str_from(msg);
        }
        break;
    }
    case ZK_ADMIN_PARTITIONS: {
        const struct CreatePartitionsRequest *req = op->req;
        struct CreatePartitionsResponse *resp = op->resp;
        int32_t n = req->Topics_n > 0 ? req->Topics_n : 0;
        resp->Results = proto_array_new(a, &desc_CreatePartitionsResponse_CreatePartitionsTopicResult, n);
        resp->Results_n = resp->Results ? n : 0;
        for (int32_t i = 0; i < resp->Results_n; i++) {
            resp->Results[i].Name = req->Topics[i].Name;
            resp->Results[i].ErrorCode = code;
            resp->Results[i].ErrorMessage = proto_str_from(msg);
        }
        break;
    }
    case ZK_ADMIN_ALTER:
        FAIL_RESOURCES(struct AlterConfigsRequest, struct AlterConfigsResponse,
                       desc_AlterConfigsResponse_AlterConfigsResourceResponse);
        break;
    case ZK_ADMIN_INCREMENTAL:
        FAIL_RESOURCES(struct IncrementalAlterConfigsRequest, struct IncrementalAlterConfigsResponse,
                       desc_IncrementalAlterConfigsResponse_AlterConfigsResourceResponse);
        break;
    case ZK_ADMIN_AUTO:
        break;
    }
}

/* ---- decide: the scratch image and the controller's decision ---- */

static int view_broker(struct zk_admin_op *op, const struct md_broker *b)
{
    struct RegisterBrokerRecord r;
    proto_struct_init(proto_msg_RegisterBrokerRecord.body, &r);
    r.BrokerId = b->id;
    r.BrokerEpoch = b->epoch;
    r.Rack = proto_str_from(b->rack);
    r.Fenced = b->fenced;
    r.InControlledShutdown = b->in_controlled_shutdown;
    return md_image_apply(&op->view, &proto_msg_RegisterBrokerRecord, &r, op->view.last_offset + 1, NULL);
}

static int view_topic(struct zk_admin_op *op, const char *name, const struct zk_topic_read *tr)
{
    struct TopicRecord t = {.Name = proto_str_from(name)};
    if (tr && tr->asg.has_topic_id)
        t.TopicId = tr->asg.topic_id;
    else
        t.TopicId = ctrl_random_topic_id(&op->view, &op->z->env);
    int rc = md_image_apply(&op->view, &proto_msg_TopicRecord, &t, op->view.last_offset + 1, NULL);
    for (size_t i = 0; rc == 0 && tr && i < tr->asg.n_partitions; i++) {
        const zk_partition_replicas *p = &tr->asg.partitions[i];
        struct PartitionRecord pr;
        proto_struct_init(proto_msg_PartitionRecord.body, &pr);
        pr.PartitionId = p->partition;
        pr.TopicId = t.TopicId;
        pr.Replicas = p->replicas;
        pr.Replicas_n = (int32_t)p->n_replicas;
        pr.Isr = p->replicas;
        pr.Isr_n = (int32_t)p->n_replicas;
        pr.Leader = p->n_replicas ? p->replicas[0] : -1;
        pr.LeaderEpoch = 0;
        pr.PartitionEpoch = 0;
        rc = md_image_apply(&op->view, &proto_msg_PartitionRecord, &pr, op->view.last_offset + 1, NULL);
    }
    return rc;
}

static int view_configs(struct zk_admin_op *op, const struct zk_cfg_read *cr)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cr->cfg.config.n; i++) {
        struct ConfigRecord c = {.ResourceType = cr->type,
                                 .ResourceName = proto_str_from(cr->name),
                                 .Name = proto_str_from(cr->cfg.config.keys[i]),
                                 .Value = proto_str_from(cr->cfg.config.values[i])};
        rc = md_image_apply(&op->view, &proto_msg_ConfigRecord, &c, op->view.last_offset + 1, NULL);
    }
    return rc;
}

const struct zk_topic_read *zk_admin_topic_read(const struct zk_admin_op *op, const char *name)
{
    for (int32_t i = 0; i < op->ntopics; i++)
        if (strcmp(op->topics[i].name, name) == 0)
            return &op->topics[i];
    return NULL;
}

static int build_view(struct zk_admin_op *op)
{
    const struct md_image *img = &op->z->img;
    int rc = 0;
    for (int32_t i = 0; rc == 0 && i < img->nbrokers; i++)
        rc = view_broker(op, img->brokers[i]);
    for (int32_t i = 0; rc == 0 && i < op->nnames; i++) {
        const struct zk_topic_read *tr = zk_admin_topic_read(op, op->names[i]);
        rc = view_topic(op, op->names[i], tr && tr->found ? tr : NULL);
    }
    for (int32_t i = 0; rc == 0 && i < op->ncfgs; i++)
        if (op->cfgs[i].found)
            rc = view_configs(op, &op->cfgs[i]);
    return rc;
}

static int decide(struct zk_admin_op *op)
{
    const struct md_image *v = &op->view;
    const struct ctrl_env *env = &op->z->env;
    switch (op->kind) {
    case ZK_ADMIN_CREATE:
        return ctrl_create_topics(v, env, op->req, op->version, op->a, op->resp, &op->recs);
    case ZK_ADMIN_DELETE:
        return ctrl_delete_topics(v, env, op->req, op->version, op->a, op->resp, &op->recs);
    case ZK_ADMIN_PARTITIONS:
        return ctrl_create_partitions(v, env, op->req, op->version, op->a, op->resp, &op->recs);
    case ZK_ADMIN_ALTER:
        return ctrl_alter_configs(v, env, op->req, op->version, op->a, op->resp, &op->recs);
    case ZK_ADMIN_INCREMENTAL:
        return ctrl_incremental_alter_configs(v, env, op->req, op->version, op->a, op->resp, &op->recs);
    case ZK_ADMIN_AUTO: {
        proto_str *names = proto_arena_alloc(&op->rec_arena, (op->nauto + 1) * sizeof *names);
        op->auto_errors = ferry_calloc(op->nauto + 1, sizeof *op->auto_errors);
        if (!names || !op->auto_errors)
            return FERRY_ENOMEM;
        for (size_t i = 0; i < op->nauto; i++)
            names[i] = proto_str_from(op->auto_names[i]);
        return ctrl_auto_create_topics(v, env, names, op->nauto, op->auto_errors, &op->recs);
    }
    }
    return FERRY_EINVAL;
}

/* ---- CreatePartitions: reassignments, retries after a concurrent change ---- */

#define PARTITIONS_ATTEMPTS 5

bool zk_admin_reassigning(const struct zk_topic_read *tr)
{
    return tr && tr->found && (tr->asg.n_adding > 0 || tr->asg.n_removing > 0);
}

/* A result's topic name as a C string (truncated past buf). */
static const char *result_name(proto_str n, char *buf, size_t len)
{
    snprintf(buf, len, "%.*s", n.len > 0 ? (int)n.len : 0, n.p ? n.p : "");
    return buf;
}

/* Kafka's order: a topic being reassigned is refused before any other check. */
static void refuse_reassigning(struct zk_admin_op *op)
{
    struct CreatePartitionsResponse *resp = op->resp;
    for (int32_t i = 0; i < resp->Results_n; i++) {
        struct CreatePartitionsResponse_CreatePartitionsTopicResult *r = &resp->Results[i];
        char name[256];
        if (!zk_admin_reassigning(zk_admin_topic_read(op, result_name(r->Name, name, sizeof name))))
            continue;
        char msg[400];
        snprintf(msg, sizeof msg, "A partition reassignment is in progress for the topic '%s'.", name);
        r->ErrorCode = KERR_REASSIGNMENT_IN_PROGRESS;
        r->ErrorMessage = (proto_str){proto_arena_strdup(op->a, proto_str_from(msg)), (int32_t)strlen(msg)};
        if (!r->ErrorMessage.p)
            r->ErrorMessage.len = -1;
    }
}

struct partitions_retry {
    struct zk_admin_op *parent;
    struct CreatePartitionsRequest req;
    struct CreatePartitionsResponse resp;
};

static void op_start(struct zk_src *z, struct zk_admin_op *op, md_done_fn done, void *arg);

/* The retry's results replace the parent's for its topics; a topic it did not answer (it could not start)
 * gets an error. */
static void on_partitions_retried(void *arg)
{
    struct partitions_retry *pr = arg;
    struct CreatePartitionsResponse *resp = pr->parent->resp;
    for (int32_t i = 0; i < resp->Results_n; i++) {
        struct CreatePartitionsResponse_CreatePartitionsTopicResult *r = &resp->Results[i];
        char name[256];
        result_name(r->Name, name, sizeof name);
        bool retried = false;
        for (int32_t t = 0; t < pr->req.Topics_n && !retried; t++)
            retried = proto_str_eq(pr->req.Topics[t].Name, name);
        if (!retried)
            continue;
        const struct CreatePartitionsResponse_CreatePartitionsTopicResult *got = NULL;
        for (int32_t k = 0; k < pr->resp.Results_n && !got; k++)
            if (proto_str_eq(pr->resp.Results[k].Name, name))
                got = &pr->resp.Results[k];
        r->ErrorCode = got ? got->ErrorCode : KERR_UNKNOWN_SERVER_ERROR;
        r->ErrorMessage = got ? got->ErrorMessage : proto_str_from("out of memory retrying");
    }
    zk_admin_answer(pr->parent);
}

bool zk_admin_partitions_retry(struct zk_admin_op *op, const char *const *names, int32_t n)
{
    if (op->attempt + 1 >= PARTITIONS_ATTEMPTS || n <= 0)
        return false;
    const struct CreatePartitionsRequest *req = op->req;
    struct partitions_retry *pr = proto_arena_alloc(&op->rec_arena, sizeof *pr);
    struct CreatePartitionsRequest_CreatePartitionsTopic *topics =
        pr ? proto_arena_alloc(&op->rec_arena, (size_t)n * sizeof *topics) : NULL;
    if (!topics)
        return false;
    memset(pr, 0, sizeof *pr);
    pr->parent = op;
    pr->req = *req;
    pr->req.Topics = topics;
    pr->req.Topics_n = 0;
    for (int32_t i = 0; i < req->Topics_n; i++)
        for (int32_t k = 0; k < n; k++)
            if (proto_str_eq(req->Topics[i].Name, names[k])) {
                topics[pr->req.Topics_n++] = req->Topics[i];
                break;
            }
    struct zk_admin_op *retry = op_new(op->z, ZK_ADMIN_PARTITIONS, &pr->req, op->version, op->a, &pr->resp,
                                       on_partitions_retried, pr);
    if (!retry)
        return false;
    retry->attempt = op->attempt + 1;
    LOG_INFO("zk", "broker %d: CreatePartitions: %d topic(s) changed while being written; reading them again "
             "(attempt %d)", op->z->broker_id, (int)pr->req.Topics_n, retry->attempt + 1);
    op_start(op->z, retry, on_partitions_retried, pr);
    return true;
}

static void loaded(struct zk_admin_op *op)
{
    struct zk_src *z = op->z;
    if (z->stopping) {
        op_free(op);
        return;
    }
    if (op->load_rc != ZOK) {
        LOG_WARN("zk", "broker %d: admin operation failed reading ZooKeeper: %s", z->broker_id,
                 zk_rc_name(op->load_rc));
        fail_all(op, KERR_UNKNOWN_SERVER_ERROR, "ZooKeeper could not be read; retry");
        zk_admin_answer(op);
        return;
    }
    z->env.node_id = z->broker_id; /* BROKER resources name this broker (known once registered) */
    int rc = build_view(op);
    if (rc == 0)
        rc = decide(op);
    if (rc == 0 && op->kind == ZK_ADMIN_PARTITIONS)
        refuse_reassigning(op);
    if (rc) {
        LOG_ERROR("zk", "broker %d: admin operation failed: %s", z->broker_id, ferry_strerror(rc));
        fail_all(op, KERR_UNKNOWN_SERVER_ERROR, ferry_strerror(rc));
        zk_admin_answer(op);
        return;
    }
    zk_admin_write(op);
}

/* ---- load ---- */

static void load_release(struct zk_admin_op *op)
{
    if (--op->pending == 0)
        loaded(op);
}

static void load_error(struct zk_admin_op *op, int rc)
{
    if (op->load_rc == ZOK)
        op->load_rc = rc;
}

static void on_topic(void *arg, const struct zk_result *r)
{
    struct zk_topic_read *tr = arg;
    struct zk_admin_op *op = tr->op;
    if (r->rc == ZOK) {
        zk_err err;
        if (zk_topic_assignment_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &tr->asg, &err) ==
            0) {
            tr->found = true;
            tr->zkversion = r->stat->version;
        } else {
            LOG_ERROR("zk", "%s/%s is malformed: %s", TOPICS_PATH, tr->name, err.msg);
            load_error(op, ZMARSHALLINGERROR);
        }
    } else if (r->rc != ZNONODE) {
        load_error(op, r->rc);
    }
    load_release(op);
}

static void on_config(void *arg, const struct zk_result *r)
{
    struct zk_cfg_read *cr = arg;
    struct zk_admin_op *op = cr->op;
    if (r->rc == ZOK) {
        zk_err err;
        if (r->len <= 0 ||
            zk_config_entity_decode(r->data, (size_t)r->len, &cr->cfg, &err) == 0) {
            cr->found = true;
        } else {
            LOG_ERROR("zk", "/config/%s/%s is malformed, read as empty: %s", cr->type == MD_RESOURCE_TOPIC ? "topics"
                                                                                                  : "brokers",
                      cr->name[0] ? cr->name : ZK_DEFAULT_ENTITY, err.msg);
        }
    } else if (r->rc != ZNONODE) {
        load_error(op, r->rc);
    }
    load_release(op);
}

static bool is_child(const struct zk_admin_op *op, proto_str name)
{
    for (int32_t i = 0; name.len >= 0 && i < op->nnames; i++)
        if (strlen(op->names[i]) == (size_t)name.len && memcmp(op->names[i], name.p, (size_t)name.len) == 0)
            return true;
    return false;
}

/* Queues the read of /brokers/topics/<name> (once per name). */
static void read_topic(struct zk_admin_op *op, const char *name)
{
    if (zk_admin_topic_read(op, name))
        return;
    struct zk_topic_read *tr = &op->topics[op->ntopics];
    if (!(tr->name = ferry_strdup(name))) {
        load_error(op, ZSYSTEMERROR);
        return;
    }
    tr->op = op;
    op->ntopics++;
    char path[512];
    snprintf(path, sizeof path, TOPICS_PATH "/%s", name);
    op->pending++;
    if (zk_get(op->z->s, path, false, on_topic, tr) != 0) {
        op->pending--;
        load_error(op, ZSYSTEMERROR);
    }
}

static void read_topic_str(struct zk_admin_op *op, proto_str name)
{
    if (!is_child(op, name))
        return;
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)name.len, name.p);
    read_topic(op, buf);
}

/* Queues the read of the /config entity of a TOPIC or BROKER resource (other types are the decision's to
 * refuse). The image names the default broker resource "", ZooKeeper "<default>". */
static void read_config(struct zk_admin_op *op, int8_t type, proto_str name)
{
    if ((type != MD_RESOURCE_TOPIC && type != MD_RESOURCE_BROKER) || name.len < 0 || name.len > 255)
        return;
    for (int32_t i = 0; i < op->ncfgs; i++)
        if (op->cfgs[i].type == type && strlen(op->cfgs[i].name) == (size_t)name.len &&
            memcmp(op->cfgs[i].name, name.p, (size_t)name.len) == 0)
            return;
    struct zk_cfg_read *cr = &op->cfgs[op->ncfgs];
    if (!(cr->name = ferry_malloc((size_t)name.len + 1))) {
        load_error(op, ZSYSTEMERROR);
        return;
    }
    memcpy(cr->name, name.p, (size_t)name.len);
    cr->name[name.len] = 0;
    cr->type = type;
    cr->op = op;
    op->ncfgs++;
    char path[512];
    zk_config_path(type, cr->name, path, sizeof path);
    op->pending++;
    if (zk_get(op->z->s, path, false, on_config, cr) != 0) {
        op->pending--;
        load_error(op, ZSYSTEMERROR);
    }
}

void zk_config_path(int8_t type, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "/config/%s/%s", type == MD_RESOURCE_TOPIC ? "topics" : "brokers",
             name[0] ? name : ZK_DEFAULT_ENTITY);
}

/* AlterConfigs and IncrementalAlterConfigs read the entity of every resource. */
#define READ_RESOURCES(req_type)                                                                                     \
    do {                                                                                                              \
        const req_type *req_ = op->req;                                                                               \
        int32_t n_ = req_->Resources_n > 0 ? req_->Resources_n : 0;                                                   \
        if (!(op->cfgs = ferry_calloc((size_t)n_ + 1, sizeof *op->cfgs))) {                                           \
            load_error(op, ZSYSTEMERROR);                                                                             \
            return;                                                                                                   \
        }                                                                                                             \
        for (int32_t i_ = 0; i_ < n_; i_++)                                                                           \
            read_config(op, req_->Resources[i_].ResourceType, req_->Resources[i_].ResourceName);                      \
    } while (0)

/* What each kind reads besides the topic names. */
static void load_details(struct zk_admin_op *op)
{
    switch (op->kind) {
    case ZK_ADMIN_DELETE: {
        const struct DeleteTopicsRequest *req = op->req;
        bool by_id = false;
        for (int32_t i = 0; i < req->Topics_n; i++)
            by_id |= req->Topics[i].Name.len < 0;
        op->topics = ferry_calloc((size_t)op->nnames + 1, sizeof *op->topics);
        if (!op->topics) {
            load_error(op, ZSYSTEMERROR);
            return;
        }
        /* topic ids are only in the znodes (the answer carries them): the named topics are read, and a
         * request by id reads every topic */
        for (int32_t i = 0; by_id && i < op->nnames; i++)
            read_topic(op, op->names[i]);
        for (int32_t i = 0; i < req->Topics_n; i++)
            read_topic_str(op, req->Topics[i].Name);
        for (int32_t i = 0; i < req->TopicNames_n; i++)
            read_topic_str(op, req->TopicNames[i]);
        break;
    }
    case ZK_ADMIN_PARTITIONS: {
        const struct CreatePartitionsRequest *req = op->req;
        op->topics = ferry_calloc((size_t)(req->Topics_n > 0 ? req->Topics_n : 0) + 1, sizeof *op->topics);
        if (!op->topics) {
            load_error(op, ZSYSTEMERROR);
            return;
        }
        for (int32_t i = 0; i < req->Topics_n; i++)
            read_topic_str(op, req->Topics[i].Name);
        break;
    }
    case ZK_ADMIN_ALTER:
        READ_RESOURCES(struct AlterConfigsRequest);
        break;
    case ZK_ADMIN_INCREMENTAL:
        READ_RESOURCES(struct IncrementalAlterConfigsRequest);
        break;
    case ZK_ADMIN_CREATE:
    case ZK_ADMIN_AUTO:
        break;
    }
}

static void on_names(void *arg, const struct zk_result *r)
{
    struct zk_admin_op *op = arg;
    if (r->rc != ZOK) {
        load_error(op, r->rc);
        load_release(op);
        return;
    }
    int32_t count = r->children->count;
    op->names = ferry_calloc((size_t)count + 1, sizeof *op->names);
    if (!op->names) {
        load_error(op, ZSYSTEMERROR);
        load_release(op);
        return;
    }
    for (int32_t i = 0; i < count; i++) {
        if (!zk_topic_name_valid(r->children->data[i])) {
            LOG_WARN("zk", "%s/%s is not a legal topic name: ignored", TOPICS_PATH, r->children->data[i]);
            continue;
        }
        if (!(op->names[op->nnames] = ferry_strdup(r->children->data[i]))) {
            load_error(op, ZSYSTEMERROR);
            break;
        }
        op->nnames++;
    }
    if (op->load_rc == ZOK && !op->z->stopping)
        load_details(op);
    load_release(op);
}

/* Starts an operation, or answers it from the loop with UNKNOWN_SERVER_ERROR when it cannot start. */
static void op_start(struct zk_src *z, struct zk_admin_op *op, md_done_fn done, void *arg)
{
    if (!op) {
        LOG_ERROR("zk", "broker %d: out of memory starting an admin operation", z->broker_id);
        zk_src_defer(z, done, NULL, 0, arg);
        return;
    }
    op->pending = 1;
    if (zk_children(z->s, TOPICS_PATH, false, on_names, op) != 0) {
        fail_all(op, KERR_UNKNOWN_SERVER_ERROR, "ZooKeeper session closing");
        op_free(op);
        zk_src_defer(z, done, NULL, 0, arg);
    }
}

/* ---- md_source operations ---- */

void zk_admin_create_topics(void *impl, const struct CreateTopicsRequest *req, int16_t version, struct proto_arena *a,
                            struct CreateTopicsResponse *resp, md_done_fn done, void *arg)
{
    struct zk_src *z = impl;
    op_start(z, op_new(z, ZK_ADMIN_CREATE, req, version, a, resp, done, arg), done, arg);
}

void zk_admin_delete_topics(void *impl, const struct DeleteTopicsRequest *req, int16_t version, struct proto_arena *a,
                            struct DeleteTopicsResponse *resp, md_done_fn done, void *arg)
{
    struct zk_src *z = impl;
    op_start(z, op_new(z, ZK_ADMIN_DELETE, req, version, a, resp, done, arg), done, arg);
}

void zk_admin_create_partitions(void *impl, const struct CreatePartitionsRequest *req, int16_t version,
                                struct proto_arena *a, struct CreatePartitionsResponse *resp, md_done_fn done,
                                void *arg)
{
    struct zk_src *z = impl;
    op_start(z, op_new(z, ZK_ADMIN_PARTITIONS, req, version, a, resp, done, arg), done, arg);
}

void zk_admin_alter_configs(void *impl, const struct AlterConfigsRequest *req, int16_t version, struct proto_arena *a,
                            struct AlterConfigsResponse *resp, md_done_fn done, void *arg)
{
    struct zk_src *z = impl;
    op_start(z, op_new(z, ZK_ADMIN_ALTER, req, version, a, resp, done, arg), done, arg);
}

void zk_admin_incremental_alter_configs(void *impl, const struct IncrementalAlterConfigsRequest *req,
                                        int16_t version, struct proto_arena *a,
                                        struct IncrementalAlterConfigsResponse *resp, md_done_fn done, void *arg)
{
    struct zk_src *z = impl;
    op_start(z, op_new(z, ZK_ADMIN_INCREMENTAL, req, version, a, resp, done, arg), done, arg);
}

void zk_admin_auto_create_topics(void *impl, const char *const *names, size_t n, md_done_fn done, void *arg)
{
    struct zk_src *z = impl;
    struct zk_admin_op *op = op_new(z, ZK_ADMIN_AUTO, NULL, 0, NULL, NULL, done, arg);
    if (op && n) {
        op->auto_names = ferry_calloc(n, sizeof *op->auto_names);
        for (size_t i = 0; op->auto_names && i < n; i++) {
            if (!(op->auto_names[i] = ferry_strdup(names[i] ? names[i] : "")))
                break;
            op->nauto = i + 1;
        }
        if (op->nauto != n) {
            op_free(op);
            op = NULL;
        }
    }
    op_start(z, op, done, arg);
}
