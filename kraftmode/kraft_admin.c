/* kraft_admin: the admin entry points of kraft_node.h: each queues an operation whose decision (ctrl.h)
 * runs when it reaches the head of the queue, against the latest image (kraft_node_latest.c): the image as
 * every earlier decision left it, committed or not. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/kraft_node_internal.h"

static struct kraft_op *admin_op(enum kraft_op_kind kind, const void *req, int16_t version, struct proto_arena *a,
                                 void *resp, void (*done)(void *arg), void *arg)
{
    struct kraft_op *op = kraft_op_new(kind);
    if (!op)
        return NULL;
    op->req = req;
    op->version = version;
    op->resp_arena = a;
    op->resp = resp;
    op->done = done;
    op->arg = arg;
    return op;
}

/* Out of memory before anything was queued: the caller still gets its completion, from the loop. The
 * response then reports UNKNOWN_SERVER_ERROR for every entry of the request. */
static void queue_or_fail(struct kraft_node *n, struct kraft_op *op, const char *what)
{
    if (op) {
        kraft_node_enqueue(n, op);
        return;
    }
    LOG_ERROR("kraft", "node %d: out of memory queueing %s", n->node_id, what);
}

void kraft_create_topics(struct kraft_node *n, const struct CreateTopicsRequest *req, int16_t version,
                         struct proto_arena *a, struct CreateTopicsResponse *resp, void (*done)(void *arg), void *arg)
{
    queue_or_fail(n, admin_op(KRAFT_OP_CREATE_TOPICS, req, version, a, resp, done, arg), "CreateTopics");
}

void kraft_delete_topics(struct kraft_node *n, const struct DeleteTopicsRequest *req, int16_t version,
                         struct proto_arena *a, struct DeleteTopicsResponse *resp, void (*done)(void *arg), void *arg)
{
    queue_or_fail(n, admin_op(KRAFT_OP_DELETE_TOPICS, req, version, a, resp, done, arg), "DeleteTopics");
}

void kraft_create_partitions(struct kraft_node *n, const struct CreatePartitionsRequest *req, int16_t version,
                             struct proto_arena *a, struct CreatePartitionsResponse *resp, void (*done)(void *arg),
                             void *arg)
{
    queue_or_fail(n, admin_op(KRAFT_OP_CREATE_PARTITIONS, req, version, a, resp, done, arg), "CreatePartitions");
}

void kraft_alter_configs(struct kraft_node *n, const struct AlterConfigsRequest *req, int16_t version,
                         struct proto_arena *a, struct AlterConfigsResponse *resp, void (*done)(void *arg), void *arg)
{
    queue_or_fail(n, admin_op(KRAFT_OP_ALTER_CONFIGS, req, version, a, resp, done, arg), "AlterConfigs");
}

void kraft_incremental_alter_configs(struct kraft_node *n, const struct IncrementalAlterConfigsRequest *req,
                                     int16_t version, struct proto_arena *a,
                                     struct IncrementalAlterConfigsResponse *resp, void (*done)(void *arg), void *arg)
{
    queue_or_fail(n, admin_op(KRAFT_OP_INCREMENTAL_ALTER_CONFIGS, req, version, a, resp, done, arg),
                  "IncrementalAlterConfigs");
}

void kraft_auto_create_topics(struct kraft_node *n, const char *const *names, size_t count, void (*done)(void *arg),
                              void *arg)
{
    struct kraft_op *op = kraft_op_new(KRAFT_OP_AUTO_CREATE);
    if (op && count) {
        op->names = ferry_calloc(count, sizeof *op->names);
        for (size_t i = 0; op->names && i < count; i++) {
            if (!(op->names[i] = ferry_strdup(names[i] ? names[i] : "")))
                break;
            op->nnames = i + 1;
        }
    }
    if (!op || op->nnames != count) {
        LOG_ERROR("kraft", "node %d: out of memory queueing the auto-creation of %zu topic(s)", n->node_id, count);
        if (op)
            kraft_op_free(op);
        return;
    }
    op->done = done;
    op->arg = arg;
    kraft_node_enqueue(n, op);
}

/* Completion of an AllocateProducerIds op: hands the response to the caller's callback. */
static void allocate_producer_ids_done(void *arg)
{
    struct kraft_op *op = arg;
    const struct AllocateProducerIdsResponse *r = &op->pid_resp;
    if (r->ErrorCode)
        op->pid_done(op->pid_arg, -1, 0, r->ErrorCode);
    else
        op->pid_done(op->pid_arg, r->ProducerIdStart, r->ProducerIdLen, KERR_NONE);
}

void kraft_allocate_producer_ids(struct kraft_node *n, int32_t broker_id, int64_t broker_epoch,
                                 void (*done)(void *arg, int64_t first, int32_t len, int16_t error), void *arg)
{
    struct kraft_op *op = kraft_op_new(KRAFT_OP_ALLOCATE_PRODUCER_IDS);
    if (!op) {
        LOG_ERROR("kraft", "node %d: out of memory queueing AllocateProducerIds", n->node_id);
        return;
    }
    proto_struct_init(proto_msg_AllocateProducerIdsRequest.body, &op->pid_req);
    proto_struct_init(proto_msg_AllocateProducerIdsResponse.body, &op->pid_resp);
    op->pid_req.BrokerId = broker_id;
    op->pid_req.BrokerEpoch = broker_epoch;
    op->req = &op->pid_req;
    op->resp = &op->pid_resp;
    op->pid_done = done;
    op->done = allocate_producer_ids_done;
    op->pid_arg = arg;
    op->arg = op; /* allocate_producer_ids_done receives the op itself */
    kraft_node_enqueue(n, op);
}

static int decide_auto_create(struct kraft_node *n, struct kraft_op *op)
{
    if (op->nnames == 0)
        return 0;
    proto_str *names = ferry_malloc(op->nnames * sizeof *names);
    int16_t *errors = ferry_malloc(op->nnames * sizeof *errors);
    int rc = FERRY_ENOMEM;
    if (names && errors) {
        for (size_t i = 0; i < op->nnames; i++)
            names[i] = proto_str_from(op->names[i]);
        rc = ctrl_auto_create_topics(kraft_node_decision_image(n), &n->env, names, op->nnames, errors, &op->recs);
        for (size_t i = 0; !rc && i < op->nnames; i++)
            if (errors[i])
                LOG_WARN("kraft", "node %d: auto-creation of topic %s failed: %s", n->node_id, op->names[i],
                         kafka_error_name(errors[i]));
    }
    ferry_free(names);
    ferry_free(errors);
    return rc;
}

int kraft_op_decide(struct kraft_node *n, struct kraft_op *op)
{
    const struct md_image *img = kraft_node_decision_image(n);
    switch (op->kind) {
    case KRAFT_OP_CREATE_TOPICS:
        return ctrl_create_topics(img, &n->env, op->req, op->version, op->resp_arena, op->resp, &op->recs);
    case KRAFT_OP_DELETE_TOPICS:
        return ctrl_delete_topics(img, &n->env, op->req, op->version, op->resp_arena, op->resp, &op->recs);
    case KRAFT_OP_CREATE_PARTITIONS:
        return ctrl_create_partitions(img, &n->env, op->req, op->version, op->resp_arena, op->resp, &op->recs);
    case KRAFT_OP_ALTER_CONFIGS:
        return ctrl_alter_configs(img, &n->env, op->req, op->version, op->resp_arena, op->resp, &op->recs);
    case KRAFT_OP_INCREMENTAL_ALTER_CONFIGS:
        return ctrl_incremental_alter_configs(img, &n->env, op->req, op->version, op->resp_arena, op->resp,
                                              &op->recs);
    case KRAFT_OP_AUTO_CREATE: return decide_auto_create(n, op);
    case KRAFT_OP_REGISTER: return kraft_decide_registration(n, op);
    case KRAFT_OP_ALLOCATE_PRODUCER_IDS: return ctrl_allocate_producer_ids(img, op->req, op->resp, &op->recs);
    case KRAFT_OP_ACTIVATE: return kraft_decide_activation(n, op);
    case KRAFT_OP_REGISTER_CONTROLLER: return kraft_decide_controller_registration(n, op);
    case KRAFT_OP_RPC: return op->rpc_decide(n, op);
    case KRAFT_OP_WRITE: return 0;
    }
    return FERRY_EINVAL;
}

/* Overwrites every entry's error (the decision's records were not written). Entries of the request are
 * listed when the decision did not run far enough to fill the response. */
void kraft_op_fail_response(struct kraft_op *op, int16_t code, const char *msg)
{
    struct proto_arena *a = op->resp_arena;
    proto_str m = {NULL, -1};
    if (a && msg) {
        char *p = proto_arena_strdup(a, proto_str_from(msg));
        if (p)
            m = proto_str_from(p);
    }
    switch (op->kind) {
    case KRAFT_OP_CREATE_TOPICS: {
        struct CreateTopicsResponse *r = op->resp;
        const struct CreateTopicsRequest *q = op->req;
        if (!r->Topics && q->Topics_n > 0) {
            r->Topics = proto_array_new(a, &desc_CreateTopicsResponse_CreatableTopicResult, q->Topics_n);
            r->Topics_n = r->Topics ? q->Topics_n : 0;
            for (int32_t i = 0; i < r->Topics_n; i++)
                r->Topics[i].Name = q->Topics[i].Name;
        }
        for (int32_t i = 0; i < r->Topics_n; i++) {
            r->Topics[i].ErrorCode = code;
            r->Topics[i].ErrorMessage = m;
        }
        break;
    }
    case KRAFT_OP_DELETE_TOPICS: {
        struct DeleteTopicsResponse *r = op->resp;
        for (int32_t i = 0; r->Responses && i < r->Responses_n; i++) {
            r->Responses[i].ErrorCode = code;
            r->Responses[i].ErrorMessage = m;
        }
        break;
    }
    case KRAFT_OP_CREATE_PARTITIONS: {
        struct CreatePartitionsResponse *r = op->resp;
        for (int32_t i = 0; r->Results && i < r->Results_n; i++) {
            r->Results[i].ErrorCode = code;
            r->Results[i].ErrorMessage = m;
        }
        break;
    }
    case KRAFT_OP_ALTER_CONFIGS: {
        struct AlterConfigsResponse *r = op->resp;
        for (int32_t i = 0; r->Responses && i < r->Responses_n; i++) {
            r->Responses[i].ErrorCode = code;
            r->Responses[i].ErrorMessage = m;
        }
        break;
    }
    case KRAFT_OP_INCREMENTAL_ALTER_CONFIGS: {
        struct IncrementalAlterConfigsResponse *r = op->resp;
        for (int32_t i = 0; r->Responses && i < r->Responses_n; i++) {
            r->Responses[i].ErrorCode = code;
            r->Responses[i].ErrorMessage = m;
        }
        break;
    }
    case KRAFT_OP_ALLOCATE_PRODUCER_IDS: {
        struct AllocateProducerIdsResponse *r = op->resp;
        r->ErrorCode = code;
        r->ProducerIdStart = -1;
        r->ProducerIdLen = 0;
        break;
    }
    case KRAFT_OP_RPC: op->rpc_fail(op, code, m); break;
    case KRAFT_OP_AUTO_CREATE:
    case KRAFT_OP_REGISTER:
    case KRAFT_OP_ACTIVATE:
    case KRAFT_OP_REGISTER_CONTROLLER:
    case KRAFT_OP_WRITE: break;
    }
}
