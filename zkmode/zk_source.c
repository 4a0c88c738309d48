/* zk_source: see zk_source.h. The md_source operations and the runtime on the broker's loop:
 * registration when the listeners are bound, the election, session-state reactions, admin answers. */
#include "zk_source.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/log/log.h"
#include "broker/metadata/md_delta.h"
#include "kraftmode/kraft_node_internal.h"
#include "proto_codec.h"
#include "zk_admin.h"
#include "zk_broker_api.h"
#include "zk_controller.h"
#include "zk_source_internal.h"
#include "zkmode/znode/znode_codec.h"

#define RETRY_MS 1000

/* ---- deferred completions ---- */

struct zk_deferred {
    struct zk_deferred *next;
    md_done_fn done;
    md_pids_done_fn pids_done;
    int16_t error;
    void *arg;
};

static void on_defer(uv_timer_t *t)
{
    struct zk_src *z = t->data;
    struct zk_deferred *q = z->dq_head;
    z->dq_head = z->dq_tail = NULL;
    while (q) {
        struct zk_deferred *n = q->next;
        if (!z->stopping) {
            if (q->done)
                q->done(q->arg);
            else if (q->pids_done)
                q->pids_done(q->arg, -1, 0, q->error);
        }
        ferry_free(q);
        q = n;
    }
}

void zk_src_defer(struct zk_src *z, md_done_fn done, md_pids_done_fn pids_done, int16_t error, void *arg)
{
    if (!done && !pids_done)
        return;
    struct zk_deferred *d = ferry_calloc(1, sizeof *d);
    if (!d) {
        LOG_ERROR("zk", "out of memory deferring a completion: the request stays unanswered");
        return;
    }
    *d = (struct zk_deferred){.done = done, .pids_done = pids_done, .error = error, .arg = arg};
    if (z->dq_tail)
        z->dq_tail->next = d;
    else
        z->dq_head = d;
    z->dq_tail = d;
    uv_timer_start(z->defer_timer, on_defer, 0, 0);
}

/* ---- image and publisher ---- */

static const struct md_image *image(const void *impl) { return &((const struct zk_src *)impl)->img; }

static void set_publisher(void *impl, md_publish_fn publish, void *arg)
{
    struct zk_src *z = impl;
    z->publish = publish;
    z->publish_arg = arg;
    if (!publish || z->stopping)
        return;
    struct md_delta d;
    md_delta_init(&d);
    d.initial = true;
    for (int32_t i = 0; i < z->img.nbrokers; i++)
        md_delta_broker(&d, z->img.brokers[i]->id);
    publish(arg, &z->img, &d);
    md_delta_free(&d);
}

/* ---- registration and election ---- */

static const char *protocol_name(enum config_security_protocol p)
{
    switch (p) {
    case CONFIG_SP_PLAINTEXT: return "PLAINTEXT";
    case CONFIG_SP_SSL: return "SSL";
    case CONFIG_SP_SASL_PLAINTEXT: return "SASL_PLAINTEXT";
    case CONFIG_SP_SASL_SSL: return "SASL_SSL";
    }
    return "PLAINTEXT";
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The version 5 JSON of /brokers/ids/<id> for the advertised listeners (a port 0 takes the bound one). */
static int broker_json(const struct zk_src *z, const char *const *names, const uint16_t *ports, size_t n, char **out)
{
    const struct ferry_config *cfg = z->cfg;
    zk_broker_info b;
    memset(&b, 0, sizeof b);
    b.version = 5;
    b.jmx_port = -1;
    b.port = -1;
    b.timestamp = wall_ms();
    b.rack = cfg->broker_rack;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < cfg->n_protocol_map; i++)
        rc = zk_str_map_add(&b.protocol_map, cfg->protocol_map[i].listener_name,
                            protocol_name(cfg->protocol_map[i].protocol));
    b.endpoints = ferry_calloc(cfg->n_advertised + 1, sizeof *b.endpoints);
    if (!b.endpoints)
        rc = FERRY_ENOMEM;
    for (size_t i = 0; rc == 0 && i < cfg->n_advertised; i++) {
        const struct config_listener *l = &cfg->advertised[i];
        unsigned port = l->port;
        for (size_t k = 0; port == 0 && k < n; k++)
            if (strcmp(names[k], l->name) == 0)
                port = ports[k];
        bool v6 = strchr(l->host, ':') != NULL;
        char ep[512];
        snprintf(ep, sizeof ep, "%s://%s%s%s:%u", l->name, v6 ? "[" : "", l->host, v6 ? "]" : "", port);
        if (!(b.endpoints[i] = ferry_strdup(ep)))
            rc = FERRY_ENOMEM;
        b.n_endpoints = i + 1;
        if (rc == 0 && !b.host && l->protocol == CONFIG_SP_PLAINTEXT) {
            b.host = l->host;
            b.port = (int32_t)port;
        }
    }
    size_t len;
    if (rc == 0)
        rc = zk_broker_info_encode(&b, out, &len);
    for (size_t i = 0; i < b.n_endpoints; i++)
        ferry_free(b.endpoints[i]);
    ferry_free(b.endpoints);
    zk_str_map_free(&b.protocol_map);
    return rc;
}

static void on_became(void *arg, int32_t epoch, int32_t zkversion)
{
    struct zk_src *z = arg;
    LOG_INFO("zk", "broker %d became the controller (epoch %d, zkVersion %d)", z->broker_id, epoch, zkversion);
    zk_admin_setup_feature(z);
    if (z->ctl)
        zk_controller_start(z->ctl, epoch, zkversion);
}

static void on_resigned(void *arg)
{
    struct zk_src *z = arg;
    LOG_INFO("zk", "broker %d is no longer the controller", z->broker_id);
    if (z->ctl)
        zk_controller_stop(z->ctl);
}

static void on_controller(void *arg, int32_t id)
{
    struct zk_src *z = arg;
    LOG_INFO("zk", "broker %d: the controller is now %d", z->broker_id, id);
}

static void register_self(struct zk_src *z);

static void on_retry(uv_timer_t *t) { register_self(t->data); }

static void on_registered(void *arg, int rc, int64_t czxid)
{
    struct zk_src *z = arg;
    if (z->stopping)
        return;
    if (rc == ZOK) {
        z->registered = true;
        LOG_INFO("zk", "broker %d registered, broker epoch %" PRId64, z->broker_id, czxid);
        if (!z->elect_started) {
            static const struct zk_elect_cbs cbs = {on_became, on_resigned, on_controller};
            if (zk_elect_start(&z->elect, z->s, z->broker_id, &cbs, z) == 0)
                z->elect_started = true;
        }
        return;
    }
    if (rc == ZSESSIONEXPIRED || rc == ZCLOSING)
        return; /* the new session registers again */
    LOG_WARN("zk", "broker %d: registration failed (%s), retrying in %d ms", z->broker_id, zk_rc_name(rc), RETRY_MS);
    uv_timer_start(z->retry_timer, on_retry, RETRY_MS, 0);
}

static void register_self(struct zk_src *z)
{
    if (z->stopping || !z->reg_json)
        return;
    int rc = zk_registration_run(&z->reg, z->s, z->broker_id, z->reg_json, on_registered, z);
    if (rc == FERRY_ENOMEM)
        uv_timer_start(z->retry_timer, on_retry, RETRY_MS, 0);
}

static void listeners_bound(void *impl, const char *const *names, const uint16_t *ports, size_t n)
{
    struct zk_src *z = impl;
    char *json = NULL;
    int rc = broker_json(z, names, ports, n, &json);
    if (rc) {
        LOG_ERROR("zk", "broker %d: cannot build /brokers/ids/%d: %s", z->broker_id, z->broker_id, ferry_strerror(rc));
        return;
    }
    ferry_free(z->reg_json);
    z->reg_json = json;
    register_self(z);
}

void zk_src_on_state(void *arg, enum zk_session_event ev)
{
    struct zk_src *z = arg;
    if (z->start) {
        zk_start_on_state(z, ev);
        return;
    }
    if (z->stopping)
        return;
    switch (ev) {
    case ZK_EV_EXPIRED:
        z->registered = false;
        /* the controller sends nothing to an expired broker: the image may miss its changes from now on, so a
         * takeover reads every state until the next UpdateMetadata (sent to the re-registered broker) */
        z->img_controller_epoch = -1;
        if (z->elect_started)
            zk_elect_session_expired(&z->elect);
        break;
    case ZK_EV_NEW_SESSION:
        register_self(z); /* the election runs again once registered, as Kafka's re-initialisation */
        if (z->elect_started)
            zk_elect_new_session(&z->elect);
        zk_brokers_reload(z);
        zk_configs_new_session(z);
        break;
    case ZK_EV_AUTH_FAILED:
        LOG_ERROR("zk", "broker %d: ZooKeeper refused the credentials of zookeeper.auth.digest.file: the broker cannot write its znodes",
                  z->broker_id);
        break;
    case ZK_EV_CONNECTED:
    case ZK_EV_DISCONNECTED:
        break;
    }
}

/* ---- lifecycle ---- */

static void free_src(struct zk_src *z)
{
    zk_bapi_free(z);
    zk_registration_free(&z->reg);
    ferry_free(z->reg_json);
    md_image_free(&z->img);
    zk_configs_free(z);
    for (struct zk_deferred *d = z->dq_head, *n; d; d = n) {
        n = d->next;
        ferry_free(d);
    }
    ferry_free(z);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct zk_src *z = h->data;
    ferry_free(h);
    if (z->retry_timer == (uv_timer_t *)h)
        z->retry_timer = NULL;
    else if (z->defer_timer == (uv_timer_t *)h)
        z->defer_timer = NULL;
    else
        z->admin_timer = NULL;
    if (!z->retry_timer && !z->defer_timer && !z->admin_timer)
        free_src(z);
}

static void stop(void *impl)
{
    struct zk_src *z = impl;
    if (z->stopping)
        return;
    z->stopping = true;
    zk_bapi_free(z); /* the channels to the controller close: no callback after stop */
    LOG_INFO("zk", "broker %d: closing the ZooKeeper session", z->broker_id);
    if (z->elect_started)
        zk_elect_stop(&z->elect);
    zk_controller_stop(z->ctl);
    zk_session_close(z->s); /* outstanding requests end here, with ZCLOSING */
    z->s = NULL;
    zk_admin_stop(z);
    zk_controller_free(z->ctl); /* after the close: every ZooKeeper completion has run */
    z->ctl = NULL;
    uv_timer_stop(z->retry_timer);
    uv_timer_stop(z->defer_timer);
    uv_timer_stop(z->admin_timer);
    uv_close((uv_handle_t *)z->retry_timer, on_timer_closed);
    uv_close((uv_handle_t *)z->defer_timer, on_timer_closed);
    uv_close((uv_handle_t *)z->admin_timer, on_timer_closed);
}

static int controller_rpc(void *impl, int16_t api_key, int16_t version, const void *req, md_rpc_done_fn done,
                          void *arg)
{
    return zk_controller_rpc(((struct zk_src *)impl)->ctl, api_key, version, req, done, arg);
}

/* zk_bapi_controller_request, remembering the controller epoch of the last UpdateMetadata the image took
 * (what the image takeover of zk_controller_use_image checks). */
static int controller_request(void *impl, int16_t api_key, int16_t version, const void *req, struct md_response *out)
{
    struct zk_src *z = impl;
    int rc = zk_bapi_controller_request(impl, api_key, version, req, out);
    if (rc == 0 && api_key == 6 /* UpdateMetadata */ && out->body &&
        ((const struct UpdateMetadataResponse *)out->body)->ErrorCode == 0)
        z->img_controller_epoch = ((const struct UpdateMetadataRequest *)req)->ControllerEpoch;
    return rc;
}

static const struct md_source_ops zk_source_ops = {
    .image = image,
    .set_publisher = set_publisher,
    .listeners_bound = listeners_bound,
    .stop = stop,
    .create_topics = zk_admin_create_topics,
    .delete_topics = zk_admin_delete_topics,
    .create_partitions = zk_admin_create_partitions,
    .alter_configs = zk_admin_alter_configs,
    .incremental_alter_configs = zk_admin_incremental_alter_configs,
    .allocate_producer_ids = zk_admin_allocate_producer_ids,
    .auto_create_topics = zk_admin_auto_create_topics,
    .controller_id = zk_source_controller_id,
    .controller_request = controller_request,
    .alter_partition = zk_alter_partition,
    .controlled_shutdown = zk_controlled_shutdown,
    .controller_rpc = controller_rpc,
};

int zk_src_new(uv_loop_t *loop, const struct ferry_config *cfg, struct zk_src **out)
{
    struct zk_src *z = ferry_calloc(1, sizeof *z);
    if (!z)
        return FERRY_ENOMEM;
    z->loop = loop;
    z->cfg = cfg;
    md_image_init(&z->img);
    z->reg.czxid = -1;
    z->elect.controller_id = -1;
    z->elect.known_epoch = -1;
    z->img_controller_epoch = -1;
    z->cfg_last_seq = -1;
    md_map_init(&z->cfg_topics);
    proto_uuid seed;
    if (log_uuid_random(&seed) == 0)
        memcpy(&z->rng, seed.b, sizeof z->rng);
    z->rng ^= (uint64_t)wall_ms();
    ctrl_env_from_config(&z->env, cfg, kraft_node_rand, &z->rng);
    *out = z;
    return 0;
}

void zk_src_free_unstarted(struct zk_src *z) { free_src(z); }

int zk_src_finish_start(struct zk_src *z, struct md_source *out, char *err, size_t errlen)
{
    z->retry_timer = ferry_calloc(1, sizeof *z->retry_timer);
    z->defer_timer = ferry_calloc(1, sizeof *z->defer_timer);
    z->admin_timer = ferry_calloc(1, sizeof *z->admin_timer);
    if (z->retry_timer && z->defer_timer && z->admin_timer &&
        zk_controller_new(z->loop, z->cfg, z->broker_id, z->s, &z->elect, &z->ctl)) {
        ferry_free(z->retry_timer);
        z->retry_timer = NULL;
    }
    if (z->ctl)
        zk_controller_use_image(z->ctl, &z->img, &z->img_controller_epoch);
    if (!z->retry_timer || !z->defer_timer || !z->admin_timer) {
        ferry_free(z->retry_timer);
        ferry_free(z->defer_timer);
        ferry_free(z->admin_timer);
        z->retry_timer = z->defer_timer = z->admin_timer = NULL;
        zk_session_close(z->s);
        free_src(z);
        snprintf(err, errlen, "out of memory");
        return FERRY_ENOMEM;
    }
    uv_timer_init(z->loop, z->retry_timer);
    uv_timer_init(z->loop, z->defer_timer);
    uv_timer_init(z->loop, z->admin_timer);
    z->retry_timer->data = z->defer_timer->data = z->admin_timer->data = z;
    out->ops = &zk_source_ops;
    out->impl = z;
    if (zk_configs_start(z) != 0)
        LOG_ERROR("zk", "broker %d: out of memory watching /config/changes: config changes are not followed",
                  z->broker_id);
    return 0;
}

int32_t zk_source_controller_id(const void *impl) { return ((const struct zk_src *)impl)->elect.controller_id; }

bool zk_source_is_controller(const void *impl) { return ((const struct zk_src *)impl)->elect.active; }

int64_t zk_source_broker_epoch(const void *impl)
{
    const struct zk_src *z = impl;
    return z->registered ? z->reg.czxid : -1;
}

int32_t zk_source_controller_epoch(const void *impl) { return ((const struct zk_src *)impl)->elect.known_epoch; }

bool zk_source_stale_controller_epoch(void *impl, int32_t controller_epoch)
{
    return zk_elect_stale_epoch(&((struct zk_src *)impl)->elect, controller_epoch);
}
