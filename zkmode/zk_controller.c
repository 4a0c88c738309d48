/* zk_controller: see zk_controller.h. Lifecycle, the action pump (the core's actions run in queue order from a
 * zero timer, so nothing answers inside the call that caused it), requests from brokers, ticks, and the
 * table of live brokers the channels connect to. */
#include "zk_controller_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/log/log.h"

#define TICK_MS 1000

/* ---- live brokers ---- */

struct ctl_broker *zkc_broker_find(struct zk_controller *c, int32_t id)
{
    for (size_t i = 0; i < c->n_brokers; i++)
        if (c->brokers[i].id == id)
            return &c->brokers[i];
    return NULL;
}

void zkc_broker_remove(struct zk_controller *c, int32_t id)
{
    struct ctl_broker *b = zkc_broker_find(c, id);
    if (!b)
        return;
    ferry_free(b->host);
    *b = c->brokers[--c->n_brokers];
}

void zkc_brokers_clear(struct zk_controller *c)
{
    for (size_t i = 0; i < c->n_brokers; i++)
        ferry_free(c->brokers[i].host);
    ferry_free(c->brokers);
    c->brokers = NULL;
    c->n_brokers = 0;
}

int zkc_broker_set(struct zk_controller *c, const zkctl_broker *b)
{
    const char *listener = c->cfg->inter_broker_listener_name ? c->cfg->inter_broker_listener_name : "PLAINTEXT";
    const zkctl_endpoint *ep = NULL;
    for (size_t i = 0; i < b->n_endpoints && !ep; i++)
        if (strcasecmp(b->endpoints[i].listener, listener) == 0)
            ep = &b->endpoints[i];
    if (!ep)
        LOG_WARN(ZKC_MOD, "broker %" PRId32 " has no %s endpoint: the controller cannot send it requests", b->id,
                 listener);
    char *host = NULL;
    if (ep && !(host = ferry_strdup(ep->host[0] ? ep->host : "localhost")))
        return FERRY_ENOMEM;
    struct ctl_broker *cb = zkc_broker_find(c, b->id);
    if (!cb) {
        struct ctl_broker *arr = ferry_realloc(c->brokers, (c->n_brokers + 1) * sizeof *arr);
        if (!arr) {
            ferry_free(host);
            return FERRY_ENOMEM;
        }
        c->brokers = arr;
        cb = &c->brokers[c->n_brokers++];
        memset(cb, 0, sizeof *cb);
    }
    ferry_free(cb->host);
    cb->id = b->id;
    cb->epoch = b->epoch;
    cb->host = host;
    cb->port = ep ? (uint16_t)ep->port : 0;
    return 0;
}

/* ---- the action pump ---- */

void zkc_event_rc(struct zk_controller *c, const char *what, int rc)
{
    (void)c;
    if (rc && rc != FERRY_ENOTFOUND)
        LOG_ERROR(ZKC_MOD, "controller event %s failed: %s", what, ferry_strerror(rc));
}

static enum zkctl_zk_rc zk_rc_of(int rc)
{
    switch (rc) {
    case ZOK: return ZKCTL_ZK_OK;
    case ZBADVERSION: return ZKCTL_ZK_BADVERSION;
    case ZNONODE: return ZKCTL_ZK_NONODE;
    case ZNODEEXISTS: return ZKCTL_ZK_NODEEXISTS;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED:
    case ZCLOSING: return ZKCTL_ZK_CONNLOSS;
    default: return ZKCTL_ZK_OTHER;
    }
}

/* One ZK_MULTI or ZK_READ in flight: reported to the core once, if its term is still current. */
struct zk_call {
    struct zk_controller *c;
    uint64_t term;
    uint64_t id;
    int n_ops;
};

static void on_multi(void *arg, const struct zk_result *r)
{
    struct zk_call *k = arg;
    struct zk_controller *c = k->c;
    if (k->term == c->term && c->loaded) {
        /* results[0] is zk_elect's epoch check, results[i] the core's ops[i] */
        enum zkctl_zk_rc rc = zk_rc_of(r->rc);
        size_t failed = 0;
        int32_t *versions = ferry_calloc((size_t)k->n_ops, sizeof *versions);
        if (r->rc == ZOK && r->results && r->nresults == k->n_ops) {
            for (int i = 0; versions && i < k->n_ops; i++)
                versions[i] = r->results[i].stat ? r->results[i].stat->version : 0;
        } else if (r->results && r->nresults == k->n_ops) {
            for (int i = 0; i < r->nresults; i++)
                if (r->results[i].err != ZOK && r->results[i].err != ZRUNTIMEINCONSISTENCY) {
                    failed = (size_t)i;
                    rc = zk_rc_of(r->results[i].err);
                    break;
                }
        }
        if (rc != ZKCTL_ZK_OK)
            LOG_DEBUG(ZKC_MOD, "znode write %" PRIu64 " failed at op %zu: %s", k->id, failed, zk_rc_name(r->rc));
        if (!versions && rc == ZKCTL_ZK_OK) /* out of memory: the outcome is known, the versions are not */
            rc = ZKCTL_ZK_CONNLOSS;  /* the core re-reads what it wrote */
        zkc_event_rc(c, "znode write result",
                      zkctl_zk_multi_result(c->core, k->id, rc, failed, versions, versions ? (size_t)k->n_ops : 0));
        ferry_free(versions);
        if (c->failover_ns && zkctl_state_writes_in_flight(c->core) == 0) {
            LOG_INFO(ZKC_MOD, "broker %" PRId32 ": the failover's partition-state writes are done, %" PRIu64
                     " ms after the takeover", c->broker_id, (uv_hrtime() - c->failover_ns) / 1000000u);
            c->failover_ns = 0;
        }
        zkc_kick(c);
    }
    ferry_free(k);
}

static void on_read(void *arg, const struct zk_result *r)
{
    struct zk_call *k = arg;
    struct zk_controller *c = k->c;
    if (k->term == c->term && c->loaded) {
        int32_t version = r->rc == ZOK && r->stat ? r->stat->version : -1;
        zkc_event_rc(c, "znode read result",
                      zkctl_zk_read_result(c->core, k->id, zk_rc_of(r->rc), r->data,
                                           r->len > 0 ? (size_t)r->len : 0, version));
        zkc_kick(c);
    }
    ferry_free(k);
}

static void run_multi(struct zk_controller *c, const zkctl_action *a)
{
    if (a->n_ops < 1 || a->ops[0].kind != ZKCTL_OP_CHECK) {
        LOG_ERROR(ZKC_MOD, "znode write %" PRIu64 " does not start with the epoch check: dropped", a->id);
        return;
    }
    int n = (int)a->n_ops - 1; /* zk_elect_fenced_multi adds the epoch check itself */
    struct zk_op *ops = ferry_calloc((size_t)n + 1, sizeof *ops);
    struct zk_call *k = ferry_calloc(1, sizeof *k);
    if (!ops || !k) {
        ferry_free(ops);
        ferry_free(k);
        LOG_ERROR(ZKC_MOD, "out of memory running znode write %" PRIu64, a->id);
        zkc_event_rc(c, "znode write result", zkctl_zk_result(c->core, a->id, ZKCTL_ZK_OTHER, 1, 0));
        return;
    }
    static const enum zk_op_type types[] = {[ZKCTL_OP_CHECK] = ZK_OP_CHECK, [ZKCTL_OP_CREATE] = ZK_OP_CREATE,
                                            [ZKCTL_OP_SET] = ZK_OP_SET, [ZKCTL_OP_DELETE] = ZK_OP_DELETE};
    for (int i = 0; i < n; i++) {
        const zkctl_zk_op *o = &a->ops[i + 1];
        ops[i] = (struct zk_op){.type = types[o->kind], .path = o->path, .data = o->data, .len = (int)o->len,
                                .version = o->version, .flags = ZOO_PERSISTENT};
    }
    *k = (struct zk_call){.c = c, .term = c->term, .id = a->id, .n_ops = n + 1};
    bool was = zk_session_bulk(c->s, true); /* a failover writes thousands of states: see zk_session.h */
    int rc = zk_elect_fenced_multi(c->e, ops, n, on_multi, k);
    zk_session_bulk(c->s, was);
    ferry_free(ops);
    if (rc) {
        ferry_free(k);
        LOG_WARN(ZKC_MOD, "znode write %" PRIu64 " not sent: %s", a->id,
                 rc == FERRY_EINVAL ? "this broker is no longer the controller" : ferry_strerror(rc));
        zkc_event_rc(c, "znode write result", zkctl_zk_result(c->core, a->id, ZKCTL_ZK_CONNLOSS, 0, 0));
    }
}

static void run_read(struct zk_controller *c, const zkctl_action *a)
{
    struct zk_call *k = ferry_calloc(1, sizeof *k);
    int rc = k ? 0 : FERRY_ENOMEM;
    if (k) {
        *k = (struct zk_call){.c = c, .term = c->term, .id = a->id};
        rc = zk_get(c->s, a->path, false, on_read, k);
        if (rc)
            ferry_free(k);
    }
    if (rc)
        zkc_event_rc(c, "znode read result", zkctl_zk_read_result(c->core, a->id, ZKCTL_ZK_OTHER, NULL, 0, -1));
}

static void respond(struct zk_controller *c, const zkctl_action *a)
{
    for (struct ctl_req **pp = &c->reqs; *pp; pp = &(*pp)->next) {
        struct ctl_req *q = *pp;
        if (q->token != a->token)
            continue;
        *pp = q->next;
        q->done(q->arg, a->api_key, a->body);
        ferry_free(q);
        return;
    }
    LOG_WARN(ZKC_MOD, "answer to an unknown request %" PRIu64 " dropped", a->token);
}

static void pump(struct zk_controller *c)
{
    zkctl_action *a;
    while (!c->freeing && (a = zkctl_next_action(c->core))) {
        switch (a->kind) {
        case ZKCTL_ACT_ZK_MULTI: run_multi(c, a); break;
        case ZKCTL_ACT_ZK_READ: run_read(c, a); break;
        case ZKCTL_ACT_SEND:
            zkc_chan_send(c, a); /* takes the action */
            continue;
        case ZKCTL_ACT_RESPOND: respond(c, a); break;
        case ZKCTL_ACT_RESIGN:
            LOG_WARN(ZKC_MOD, "broker %" PRId32 ": a controller write found a newer controller epoch: resigning",
                     c->broker_id);
            zk_elect_controller_moved(c->e); /* resigned -> zk_controller_stop */
            break;
        }
        zkctl_action_free(a);
    }
}

static void on_kick(uv_timer_t *t) { pump(t->data); }

void zkc_kick(struct zk_controller *c)
{
    if (!c->freeing)
        uv_timer_start(c->kick_timer, on_kick, 0, 0);
}

static void on_tick(uv_timer_t *t)
{
    struct zk_controller *c = t->data;
    if (c->started && c->load_retry) {
        c->load_retry = false;
        uv_timer_stop(c->tick_timer);
        zkc_load_start(c);
        return;
    }
    if (!c->loaded)
        return;
    zkc_event_rc(c, "tick", zkctl_tick(c->core, (int64_t)uv_now(c->loop)));
    zkc_verify_tick(c);
    pump(c);
}

void zkc_load_failed(struct zk_controller *c)
{
    LOG_WARN(ZKC_MOD, "broker %" PRId32 ": reading ZooKeeper for the controller failed: reading again in %d ms",
             c->broker_id, TICK_MS);
    c->load_retry = true;
    uv_timer_start(c->tick_timer, on_tick, TICK_MS, TICK_MS);
}

void zkc_loaded(struct zk_controller *c)
{
    c->loaded = true;
    c->failover_ns = zkctl_state_writes_in_flight(c->core) ? uv_hrtime() : 0;
    uv_timer_start(c->tick_timer, on_tick, TICK_MS, TICK_MS);
    zkc_refresh_flagged(c);
    zkc_admin_load(c);
    zkc_kick(c);
}

/* ---- lifecycle ---- */

static int new_topic_id(void *arg, proto_uuid *out)
{
    (void)arg;
    return log_uuid_random(out);
}

int zk_controller_new(uv_loop_t *loop, const struct ferry_config *cfg, int32_t broker_id, struct zk_session *s,
                      struct zk_elect *e, struct zk_controller **out)
{
    struct zk_controller *c = ferry_calloc(1, sizeof *c);
    if (!c)
        return FERRY_ENOMEM;
    *c = (struct zk_controller){.loop = loop, .cfg = cfg, .broker_id = broker_id, .s = s, .e = e};
    zkctl_config kc;
    zkctl_config_default(&kc, broker_id);
    kc.inter_broker_listener = cfg->inter_broker_listener_name;
    kc.auto_leader_rebalance_enable = cfg->auto_leader_rebalance_enable;
    kc.leader_imbalance_per_broker_percentage = cfg->leader_imbalance_per_broker_percentage;
    kc.leader_imbalance_check_interval_ms = cfg->leader_imbalance_check_interval_seconds * 1000;
    kc.delete_topic_enable = cfg->delete_topic_enable;
    kc.unclean_leader_election_enable = cfg->unclean_leader_election_enable;
    kc.new_topic_id = new_topic_id;
    c->tick_timer = ferry_calloc(1, sizeof *c->tick_timer);
    c->kick_timer = ferry_calloc(1, sizeof *c->kick_timer);
    int rc = c->tick_timer && c->kick_timer ? zkctl_new(&kc, &c->core) : FERRY_ENOMEM;
    if (rc) {
        ferry_free(c->tick_timer);
        ferry_free(c->kick_timer);
        ferry_free(c);
        return rc;
    }
    uv_timer_init(loop, c->tick_timer);
    uv_timer_init(loop, c->kick_timer);
    c->tick_timer->data = c->kick_timer->data = c;
    c->open_handles = 2;
    *out = c;
    return 0;
}

void zk_controller_start(struct zk_controller *c, int32_t epoch, int32_t epoch_zkversion)
{
    if (c->freeing)
        return;
    if (c->started)
        zk_controller_stop(c);
    c->term++;
    c->started = true;
    c->epoch = epoch;
    c->epoch_zkversion = epoch_zkversion;
    if (!c->watching && zkc_watches_add(c) == 0)
        c->watching = true;
    LOG_INFO(ZKC_MOD, "broker %" PRId32 ": controller epoch %" PRId32 ": reading ZooKeeper", c->broker_id, epoch);
    zkc_load_start(c);
}

void zk_controller_stop(struct zk_controller *c)
{
    if (!c || !c->started)
        return;
    c->term++;
    c->started = c->loaded = c->load_retry = false;
    c->ids_busy = c->ids_again = c->topics_busy = c->topics_again = c->dels_busy = c->dels_again = false;
    uv_timer_stop(c->tick_timer);
    zkc_verify_drop(c);
    /* this term's failover reads and writes still queued in the session (up to one per partition) would go
     * out ahead of everything after them: the next term's load, and after an expiry the broker's own
     * re-registration and election on the new session */
    size_t dropped = c->s ? zk_session_drop_bulk(c->s) : 0;
    if (dropped)
        LOG_INFO(ZKC_MOD, "broker %" PRId32 ": %zu ZooKeeper requests of the controller's term left unsent",
                 c->broker_id, dropped);
    zkc_event_rc(c, "resign", zkctl_resign(c->core));
    zkc_chan_drop_all(c);
    zkc_watches_remove(c);
    c->watching = false;
    zkc_topics_clear(c);
    zkc_broker_watches_clear(c);
    zkc_brokers_clear(c);
    zkc_kick(c); /* pending requests get NOT_CONTROLLER */
}

bool zk_controller_active(const struct zk_controller *c) { return c->loaded; }

void zk_controller_use_image(struct zk_controller *c, const struct md_image *img, const int32_t *img_epoch)
{
    c->img = img;
    c->img_epoch = img_epoch;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct zk_controller *c = h->data;
    ferry_free(h);
    if (--c->open_handles == 0)
        ferry_free(c);
}

void zk_controller_free(struct zk_controller *c)
{
    if (!c || c->freeing)
        return;
    zk_controller_stop(c);
    /* requests still waiting get their NOT_CONTROLLER answer now; nothing else is run */
    zkctl_action *a;
    while ((a = zkctl_next_action(c->core))) {
        if (a->kind == ZKCTL_ACT_RESPOND)
            respond(c, a);
        zkctl_action_free(a);
    }
    c->freeing = true;
    for (struct ctl_req *q = c->reqs, *n; q; q = n) {
        n = q->next;
        ferry_free(q);
    }
    c->reqs = NULL;
    zkctl_free(c->core);
    c->core = NULL;
    uv_timer_stop(c->tick_timer);
    uv_timer_stop(c->kick_timer);
    uv_close((uv_handle_t *)c->tick_timer, on_handle_closed);
    uv_close((uv_handle_t *)c->kick_timer, on_handle_closed);
}

/* ---- requests from brokers ---- */

static struct ctl_req *req_add(struct zk_controller *c, zk_controller_done_fn done, void *arg)
{
    struct ctl_req *q = ferry_calloc(1, sizeof *q);
    if (!q)
        return NULL;
    *q = (struct ctl_req){.next = c->reqs, .token = ++c->next_token, .done = done, .arg = arg};
    c->reqs = q;
    return q;
}

static int req_end(struct zk_controller *c, struct ctl_req *q, int rc)
{
    if (rc == 0) {
        zkc_kick(c);
        return 0;
    }
    c->reqs = q->next; /* still the head: the core did not answer synchronously */
    ferry_free(q);
    return rc;
}

/* Hands a request to the core with a new token; its answer comes through done. */
static int to_core(struct zk_controller *c, int16_t api_key, int16_t version, const void *req,
                   zk_controller_done_fn done, void *arg)
{
    if (!done || c->freeing)
        return FERRY_EINVAL;
    struct ctl_req *q = req_add(c, done, arg);
    if (!q)
        return FERRY_ENOMEM;
    int rc;
    switch (api_key) {
    case ZKCTL_API_ALTER_PARTITION: rc = zkctl_alter_partition(c->core, q->token, version, req); break;
    case ZKCTL_API_CONTROLLED_SHUTDOWN: rc = zkctl_controlled_shutdown(c->core, q->token, version, req); break;
    case ZKCTL_API_ELECT_LEADERS: rc = zkctl_elect_leaders(c->core, q->token, version, req); break;
    case ZKCTL_API_ALTER_PARTITION_REASSIGNMENTS:
        rc = zkctl_alter_reassignments(c->core, q->token, version, req);
        break;
    case ZKCTL_API_LIST_PARTITION_REASSIGNMENTS:
        rc = zkctl_list_reassignments(c->core, q->token, version, req);
        break;
    default: rc = FERRY_EINVAL; break;
    }
    return req_end(c, q, rc);
}

int zk_controller_alter_partition(struct zk_controller *c, int16_t version, const struct AlterPartitionRequest *req,
                                  zk_controller_done_fn done, void *arg)
{
    return to_core(c, ZKCTL_API_ALTER_PARTITION, version, req, done, arg);
}

int zk_controller_controlled_shutdown(struct zk_controller *c, int16_t version,
                                      const struct ControlledShutdownRequest *req, zk_controller_done_fn done,
                                      void *arg)
{
    return to_core(c, ZKCTL_API_CONTROLLED_SHUTDOWN, version, req, done, arg);
}

int zk_controller_rpc(struct zk_controller *c, int16_t api_key, int16_t version, const void *req,
                      zk_controller_done_fn done, void *arg)
{
    if (!c || !req)
        return FERRY_EINVAL;
    return to_core(c, api_key, version, req, done, arg);
}
