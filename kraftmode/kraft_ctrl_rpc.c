/* kraft_ctrl_rpc: see kraft_ctrl_rpc.h. The lifecycle decisions are ctrl.h's; this file only keeps the
 * tracker in step with the image and the term, queues the operations and schedules the fencing check. */
#include "kraftmode/kraft_ctrl_rpc.h"

#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/ctrl_internal.h"
#include "kraftmode/kraft_describe.h"
#include "kraftmode/kraft_node_internal.h"

/* The longest the fencing timer sleeps: a new term (or a registration written outside these decisions)
 * is noticed within this. */
#define KRAFT_CTRL_MAX_CHECK_MS 1000

struct kraft_ctrl {
    uv_loop_t *loop;
    struct kraft_node *node;
    struct ctrl_heartbeats hb;
    int32_t hb_epoch; /* the Raft epoch the tracker was built in; -1: never */
    uv_timer_t timer;
    bool fence_queued; /* a fencing check is in the node's queue */
    bool stopped;
};

static int64_t now_ms(const struct kraft_ctrl *c)
{
    (void)c;
    return (int64_t)(uv_hrtime() / 1000000);
}

/* ---- the tracker ---- */

/* Rebuilds the tracker in a new term, then makes it agree with the image's registrations and fencing. */
static int sync_tracker(struct kraft_ctrl *c, const struct md_image *img, int64_t now)
{
    int32_t epoch = kraft_node_epoch(c->node);
    if (epoch != c->hb_epoch) {
        int rc = ctrl_heartbeats_activate(&c->hb, img, now);
        if (rc)
            return rc;
        c->hb_epoch = epoch;
        return 0;
    }
    for (int32_t i = 0; i < c->hb.n;) {
        if (!md_image_broker(img, c->hb.b[i].id))
            ctrl_hb_remove(&c->hb, c->hb.b[i].id);
        else
            i++;
    }
    for (int32_t i = 0; i < img->nbrokers; i++) {
        const struct md_broker *b = img->brokers[i];
        const struct ctrl_hb_broker *e = ctrl_heartbeats_get(&c->hb, b->id);
        if (!e || e->fenced != b->fenced) {
            int rc = ctrl_hb_register(&c->hb, b->id, b->fenced, now);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static void on_timer(uv_timer_t *t);

static void schedule_check(struct kraft_ctrl *c)
{
    if (c->stopped)
        return;
    int64_t now = now_ms(c);
    int64_t due = ctrl_heartbeats_next_check_ms(&c->hb);
    int64_t wait = due == INT64_MAX || !kraft_node_is_active_controller(c->node) ? KRAFT_CTRL_MAX_CHECK_MS
                                                                                  : due - now + 1;
    /* never 0: a timer restarted at 0 ms from its own callback runs again in the same loop turn (libuv
     * before 1.45), forever once a lapsed session is due on a node that is not the active controller */
    if (wait < 1)
        wait = 1;
    if (wait > KRAFT_CTRL_MAX_CHECK_MS)
        wait = KRAFT_CTRL_MAX_CHECK_MS;
    uv_timer_start(&c->timer, on_timer, (uint64_t)wait, 0);
}

/* ---- operations ---- */

/* What an operation carries besides the node's kraft_op. */
struct rpc_call {
    struct kraft_ctrl *c;
    int16_t api_key;
    int32_t fenced_id; /* the fencing check: the broker it fenced, -1 none */
    void (*done)(void *arg);
    void *arg;
};

static int decide(struct kraft_node *n, struct kraft_op *op)
{
    struct rpc_call *call = op->rpc_ctx;
    struct kraft_ctrl *c = call->c;
    if (!kraft_node_is_active_controller(n))
        return 0; /* refused by the queue (NOT_CONTROLLER); the tracker is the active controller's */
    const struct md_image *img = kraft_node_decision_image(n); /* with what is decided but not committed */
    int64_t now = now_ms(c);
    int rc = sync_tracker(c, img, now);
    if (rc)
        return rc;
    int64_t next = kraft_node_next_offset(n);
    const struct ctrl_env *env = &n->env;
    struct ctrl_records *out = &op->recs;
    switch (call->api_key) {
    case 62: return ctrl_register_broker(img, env, &c->hb, op->req, op->version, next, now, op->resp, out);
    case 63: return ctrl_broker_heartbeat(img, env, &c->hb, op->req, op->version, next, now, op->resp, out);
    case 64: return ctrl_unregister_broker(img, env, &c->hb, op->req, op->resp_arena, op->resp, out);
    case 70: return ctrl_register_controller(img, op->req, op->resp_arena, op->resp, out);
    case 56: return ctrl_alter_partition(img, env, op->req, op->version, op->resp_arena, op->resp, out);
    case 67: return ctrl_allocate_producer_ids(img, op->req, op->resp, out);
    case 43: return ctrl_elect_leaders(img, env, op->req, op->version, op->resp_arena, op->resp, out);
    case 45: return ctrl_alter_partition_reassignments(img, env, op->req, op->resp_arena, op->resp, out);
    case 46: return ctrl_list_partition_reassignments(img, op->req, op->resp_arena, op->resp);
    case -1: return ctrl_fence_stale_broker(img, env, &c->hb, now, &call->fenced_id, out);
    }
    return FERRY_EINVAL;
}

/* Fills the response of a refused operation (NOT_CONTROLLER, or a failed write). */
static void fail(struct kraft_op *op, int16_t code, proto_str msg)
{
    struct rpc_call *call = op->rpc_ctx;
    void *r = op->resp;
    switch (call->api_key) {
    case 62: {
        struct BrokerRegistrationResponse *x = r;
        x->ErrorCode = code;
        x->BrokerEpoch = -1;
        break;
    }
    case 63: {
        struct BrokerHeartbeatResponse *x = r;
        x->ErrorCode = code;
        x->IsCaughtUp = false;
        x->IsFenced = true;
        x->ShouldShutDown = false;
        break;
    }
    case 64: {
        struct UnregisterBrokerResponse *x = r;
        x->ErrorCode = code;
        x->ErrorMessage = msg;
        break;
    }
    case 70: {
        struct ControllerRegistrationResponse *x = r;
        x->ErrorCode = code;
        x->ErrorMessage = msg;
        break;
    }
    case 56: {
        struct AlterPartitionResponse *x = r;
        x->ErrorCode = code;
        x->Topics = NULL;
        x->Topics_n = 0;
        break;
    }
    case 67: {
        struct AllocateProducerIdsResponse *x = r;
        x->ErrorCode = code;
        x->ProducerIdStart = -1;
        x->ProducerIdLen = 0;
        break;
    }
    case 43:
        if (ctrl_elect_leaders_error(op->req, op->resp_arena, code, NULL, r))
            ((struct ElectLeadersResponse *)r)->ErrorCode = code; /* out of memory: the top level at least */
        break;
    case 45:
        if (ctrl_alter_partition_reassignments_error(op->req, op->resp_arena, code, NULL, r))
            ((struct AlterPartitionReassignmentsResponse *)r)->ErrorCode = code;
        break;
    case 46:
        if (ctrl_list_partition_reassignments_error(op->req, op->resp_arena, code, NULL, r))
            ((struct ListPartitionReassignmentsResponse *)r)->ErrorCode = code;
        break;
    }
}

/* rc: 0 once the operation's records committed; else they did not (or not known to: the lead was lost). */
static void call_done(void *arg, int rc)
{
    struct kraft_op *op = arg;
    struct rpc_call *call = op->rpc_ctx;
    struct kraft_ctrl *c = call->c;
    if (call->api_key == -1) {
        c->fence_queued = false;
        if (call->fenced_id >= 0 && rc == 0)
            LOG_WARN("kraft", "node %d: broker %d fenced: no heartbeat within broker.session.timeout.ms (%lld ms)",
                     kraft_node_id(c->node), call->fenced_id, (long long)c->hb.session_timeout_ms);
        else if (call->fenced_id >= 0 && rc == FERRY_EUNSUPPORTED)
            LOG_WARN("kraft", "node %d: lost the lead before the fencing of broker %d committed (the next leader "
                              "decides)", kraft_node_id(c->node), call->fenced_id);
        else if (call->fenced_id >= 0)
            LOG_WARN("kraft", "node %d: the fencing of broker %d was not committed: %s", kraft_node_id(c->node),
                     call->fenced_id, ferry_strerror(rc));
    }
    if (call->done)
        call->done(call->arg);
    if (c->stopped)
        return;
    if (call->api_key == -1 && call->fenced_id >= 0 && rc == 0)
        uv_timer_start(&c->timer, on_timer, 0, 0); /* the next stale broker, against the new image */
    else
        schedule_check(c);
}

static int queue_call(struct kraft_ctrl *c, int16_t api_key, int16_t version, const void *req, struct proto_arena *a,
                      void *resp, void (*done)(void *arg), void *arg)
{
    struct kraft_op *op = kraft_op_new(KRAFT_OP_RPC);
    struct rpc_call *call = op ? proto_arena_alloc(&op->arena, sizeof *call) : NULL;
    if (!call) {
        if (op)
            kraft_op_free(op);
        return FERRY_ENOMEM;
    }
    *call = (struct rpc_call){c, api_key, -1, done, arg};
    op->req = req;
    op->version = version;
    op->resp_arena = a;
    op->resp = resp;
    op->rpc_decide = decide;
    op->rpc_fail = fail;
    op->rpc_ctx = call;
    op->done_rc = call_done;
    op->arg = op;
    kraft_node_enqueue(c->node, op);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct kraft_ctrl *c = t->data;
    if (c->stopped || c->fence_queued)
        return;
    if (!kraft_node_is_active_controller(c->node)) {
        schedule_check(c);
        return;
    }
    if (queue_call(c, -1, 0, NULL, NULL, NULL, NULL, NULL) == 0)
        c->fence_queued = true;
    else
        schedule_check(c);
}

/* ---- entry points ---- */

bool kraft_ctrl_serves(int16_t api_key)
{
    switch (api_key) {
    case 19: /* CreateTopics */
    case 20: /* DeleteTopics */
    case 33: /* AlterConfigs */
    case 37: /* CreatePartitions */
    case 43: /* ElectLeaders */
    case 45: /* AlterPartitionReassignments */
    case 46: /* ListPartitionReassignments */
    case 44: /* IncrementalAlterConfigs */
    case 56: /* AlterPartition */
    case 62: /* BrokerRegistration */
    case 63: /* BrokerHeartbeat */
    case 64: /* UnregisterBroker */
    case 67: /* AllocateProducerIds */
    case 70: /* ControllerRegistration */ return true;
    }
    return false;
}

int kraft_ctrl_call(struct kraft_ctrl *c, int16_t api_key, int16_t version, const void *req, struct proto_arena *a,
                    void *resp, void (*done)(void *arg), void *arg)
{
    struct kraft_node *n = c->node;
    switch (api_key) {
    case 19: kraft_create_topics(n, req, version, a, resp, done, arg); return 0;
    case 20: kraft_delete_topics(n, req, version, a, resp, done, arg); return 0;
    case 33: kraft_alter_configs(n, req, version, a, resp, done, arg); return 0;
    case 37: kraft_create_partitions(n, req, version, a, resp, done, arg); return 0;
    case 44: kraft_incremental_alter_configs(n, req, version, a, resp, done, arg); return 0;
    case 55: /* DescribeQuorum, forwarded by a broker: this node's Raft core answers at once */
        if (kraft_describe_quorum_response(n, req, a, resp) != 0)
            return FERRY_ENOMEM;
        done(arg);
        return 0;
    }
    if (!kraft_ctrl_serves(api_key))
        return FERRY_EINVAL;
    return queue_call(c, api_key, version, req, a, resp, done, arg);
}

const struct ctrl_heartbeats *kraft_ctrl_heartbeats(const struct kraft_ctrl *c) { return &c->hb; }

int kraft_ctrl_new(uv_loop_t *loop, struct kraft_node *node, int64_t session_timeout_ms, struct kraft_ctrl **out)
{
    struct kraft_ctrl *c = ferry_calloc(1, sizeof *c);
    if (!c)
        return FERRY_ENOMEM;
    c->loop = loop;
    c->node = node;
    c->hb_epoch = -1;
    ctrl_heartbeats_init(&c->hb, session_timeout_ms);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, on_timer, KRAFT_CTRL_MAX_CHECK_MS, 0);
    *out = c;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct kraft_ctrl *c = h->data;
    ctrl_heartbeats_free(&c->hb);
    ferry_free(c);
}

void kraft_ctrl_stop(struct kraft_ctrl *c)
{
    if (!c || c->stopped)
        return;
    c->stopped = true;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_closed);
}
