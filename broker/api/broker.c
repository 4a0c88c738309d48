/* broker: see broker.h. Start-up order: log directories, metadata source (quorum mode: storage check
 * and replay; legacy mode: the ZooKeeper session), partition registry fed by the metadata publisher, then
 * the listeners. Shutdown runs in reverse. */
#include "broker.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/group/group_service.h"
#include "ctrl_channel.h"
#include "forward_source.h"
#include "lifecycle.h"
#include "kraftmode/kraft_ctrl_rpc.h"
#include "kraftmode/kraft_node.h"
#include "kraftmode/kraft_source.h"
#include "raft_io.h"
#include "replication.h"
#include "zkmode/zk_source.h"

const struct md_image *broker_image(const struct broker *b) { return b->meta.ops->image(b->meta.impl); }

struct kraft_node *broker_kraft_node(const struct broker *b)
{
    return b->kraft ? b->kraft : kraft_source_node(&b->meta);
}

int32_t broker_controller_id(const struct broker *b)
{
    return b->meta.ops->controller_id ? b->meta.ops->controller_id(b->meta.impl) : b->node_id;
}

int16_t broker_not_hosted_error(const struct broker *b, proto_str topic, int32_t partition)
{
    const struct md_topic *t = md_image_topic_n(broker_image(b), topic.p, topic.len > 0 ? (size_t)topic.len : 0);
    return t && md_topic_partition(t, partition) ? KERR_NOT_LEADER_OR_FOLLOWER : KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

void broker_topic_config(const struct broker *b, const char *topic, struct topic_config *out)
{
    topic_config_init(out, b->cfg);
    const struct md_configs *c = md_image_configs(broker_image(b), MD_RESOURCE_TOPIC, topic);
    for (int32_t i = 0; c && i < c->n; i++) {
        char err[256];
        if (topic_config_set(out, c->entries[i].key, c->entries[i].value, err, sizeof err) != 0)
            LOG_WARN("broker", "topic %s: ignoring stored config %s=%s: %s", topic, c->entries[i].key,
                     c->entries[i].value, err);
    }
}

static bool hosts_replica(const struct broker *b, const struct md_partition *mp)
{
    return md_ints_contains(&mp->replicas, b->node_id);
}

/* The metadata publisher: partitions follow the deltas of the image (design principle 1). */
static void publish(void *arg, const struct md_image *img, const struct md_delta *d)
{
    struct broker *b = arg;
    /* the fetcher set may change: new or changed brokers, deleted topics (their followers stop fetching) */
    bool roles = d->nbrokers > 0 || d->ndeleted > 0;
    for (int32_t i = 0; i < d->ndeleted; i++)
        for (int32_t p = 0; p < d->deleted[i].partitions; p++)
            rp_partition_remove(b->partitions, d->deleted[i].name, p);
    for (int32_t i = 0; i < d->ntopics; i++) {
        const struct md_topic_change *tc = d->topics[i];
        const struct md_topic *t = md_image_topic_by_id(img, tc->id);
        if (!t)
            continue;
        struct topic_config config;
        broker_topic_config(b, t->name, &config);
        for (int32_t k = 0; k < tc->npartitions; k++) {
            const struct md_partition *mp = md_topic_partition(t, tc->partitions[k]);
            if (mp && !hosts_replica(b, mp) &&
                (rp_partition_get(b->partitions, proto_str_from(t->name), mp->id) ||
                 rp_partition_opening(b->partitions, t->name, mp->id))) {
                /* moved away from this broker (a reassignment; in legacy mode StopReplica with deletion); a
                 * log being created is dropped, or deleted once created */
                LOG_INFO("broker", "%s-%d: no longer a replica here: deleting its log", t->name, mp->id);
                rp_partition_remove(b->partitions, t->name, mp->id);
                roles = true;
                continue;
            }
            if (!mp || !hosts_replica(b, mp))
                continue;
            struct rp_partition *p;
            int rc = rp_partition_open(b->partitions, t->name, mp->id, t->id, &config, mp->leader_epoch, &p);
            if (rc)
                LOG_ERROR("broker", "cannot host %s-%d: %s", t->name, mp->id, ferry_strerror(rc));
            else if (p && api_repl_partition(b, t, mp, p)) /* leader or follower, as the image says (groups
                                                            * follow __consumer_offsets leadership); a new
                                                            * log: once created (partitions_opened) */
                roles = true;
        }
    }
    if (roles) /* once per delta, not per partition (a LeaderAndIsr of n partitions was O(n * hosted)) */
        api_repl_fetchers_sync(b);
    for (int32_t i = 0; i < d->nconfigs; i++) {
        if (d->configs[i].type != MD_RESOURCE_TOPIC || !md_image_topic(img, d->configs[i].name))
            continue;
        struct topic_config config;
        broker_topic_config(b, d->configs[i].name, &config);
        rp_topic_config_changed(b->partitions, d->configs[i].name, &config);
    }
}

/* Partitions whose new logs were created off the loop: leader or follower as the image says now (it may
 * have moved on since rp_partition_open), or deleted if no longer a replica here. */
static void partitions_opened(void *arg, struct rp_partition *const *ready, size_t n)
{
    struct broker *b = arg;
    const struct md_image *img = broker_image(b);
    bool roles = false;
    for (size_t i = 0; i < n; i++) {
        struct rp_partition *p = ready[i];
        const struct md_topic *t = md_image_topic(img, p->topic);
        const struct md_partition *mp = t ? md_topic_partition(t, p->index) : NULL;
        if (t && mp && hosts_replica(b, mp) && memcmp(t->id.b, p->topic_id.b, 16) == 0)
            roles = api_repl_partition(b, t, mp, p) || roles;
        else
            rp_partition_remove(b->partitions, p->topic, p->index);
    }
    if (roles)
        api_repl_fetchers_sync(b);
}

static int start_listeners(struct broker *b, char *err, size_t errlen)
{
    const struct ferry_config *cfg = b->cfg;
    struct net_limits limits = {
        .max_request_bytes = cfg->socket_request_max_bytes,
        .idle_timeout_ms = cfg->connections_max_idle_ms,
    };
    int rc = net_server_new(b->loop, &limits, &b->net);
    if (rc)
        return rc;
    b->listeners = ferry_calloc(cfg->n_listeners + 1, sizeof *b->listeners);
    b->bound_ports = ferry_calloc(cfg->n_listeners + 1, sizeof *b->bound_ports);
    if (!b->listeners || !b->bound_ports)
        return FERRY_ENOMEM;
    b->n_listeners = cfg->n_listeners;
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct config_listener *l = &cfg->listeners[i];
        bool controller = false;
        for (size_t k = 0; k < cfg->controller_listener_names.count; k++)
            if (strcasecmp(cfg->controller_listener_names.items[k], l->name) == 0)
                controller = true;
        b->listeners[i].broker = b;
        b->listeners[i].controller = controller;
        const char *host = l->host[0] ? l->host : "0.0.0.0";
        rc = net_server_listen(b->net, l->name, host, l->port, api_dispatch, &b->listeners[i], &b->bound_ports[i]);
        if (rc) {
            snprintf(err, errlen, "cannot listen on %s://%s:%u (listeners): see the log above", l->name, host, l->port);
            return rc;
        }
    }
    return 0;
}

/* Quorum mode: the node (kraft_source), its controller's broker-facing RPCs (controller role), the channel
 * to the active controller, the source that forwards writes through it, and the lifecycle manager. */
static int start_quorum_source(struct broker *b, bool format_if_missing, char *err, size_t errlen)
{
    struct kraft_node *node;
    int rc = kraft_node_start(b->loop, b->cfg, format_if_missing, &node, err, errlen);
    if (rc)
        return rc;
    struct md_source inner;
    kraft_source_init(node, &inner);
    b->kraft = node;
    if (b->cfg->role_controller && (rc = kraft_ctrl_new(b->loop, node, b->cfg->broker_session_timeout_ms, &b->ctrl)))
        goto fail;
    if ((rc = ctrl_channel_new(b->loop, b->cfg, node, b->ctrl, &b->channel)))
        goto fail;
    if ((rc = forward_source_new(&inner, b->channel, b->cfg, &b->meta)))
        goto fail;
    if (b->cfg->role_broker && (rc = lifecycle_start(b->loop, b->cfg, node, b->channel, &b->lifecycle)))
        snprintf(err, errlen, "cannot start the broker lifecycle: %s", ferry_strerror(rc));
    return rc;
fail:
    snprintf(err, errlen, "cannot start the quorum broker's controller side: %s", ferry_strerror(rc));
    if (!b->meta.ops)
        inner.ops->stop(inner.impl);
    return rc;
}

static int start_metadata_source(struct broker *b, bool format_if_missing, char *err, size_t errlen)
{
    if (b->meta.ops)
        return 0; /* given by the caller */
    if (b->cfg->mode == FERRY_MODE_LEGACY)
        return zk_source_start(b->loop, b->cfg, &b->meta, err, errlen);
    return start_quorum_source(b, format_if_missing, err, errlen);
}

static int start(struct broker *b, uv_loop_t *loop, const struct ferry_config *cfg, bool format_if_missing,
                 const struct md_source *source, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    if (source)
        b->meta = *source;
    b->loop = loop;
    b->cfg = cfg;
    b->node_id = cfg->node_id;
    /* a configuration the metadata source will refuse (migration mode) is refused before any directory is
     * created or locked */
    int rc = !source && cfg->mode != FERRY_MODE_LEGACY ? kraft_node_check_config(cfg, err, errlen) : 0;
    if (rc)
        return rc;
    /* the log directories' locks first, so that two nodes never share a directory */
    rc = rp_manager_new(loop, cfg, &b->partitions, err, errlen);
    if (rc)
        return rc;
    rp_manager_set_opened(b->partitions, partitions_opened, b);
    rc = start_metadata_source(b, format_if_missing, err, errlen);
    if (rc)
        return rc;
    struct group_sink sink;
    struct group_io gio;
    api_group_sink(b, &sink);
    api_group_io(b, &gio);
    rc = group_service_new(loop, cfg, &sink, &gio, &b->groups);
    if (rc) {
        snprintf(err, errlen, "cannot start the group coordinator: %s", ferry_strerror(rc));
        return rc;
    }
    rc = api_repl_start(b);
    if (rc) {
        snprintf(err, errlen, "cannot start replication: %s", ferry_strerror(rc));
        return rc;
    }
    b->meta.ops->set_publisher(b->meta.impl, publish, b);
    rc = start_listeners(b, err, errlen);
    if (rc)
        return rc;
    rc = api_raft_io_start(b);
    if (rc) {
        snprintf(err, errlen, "cannot start the metadata quorum's network side: %s", ferry_strerror(rc));
        return rc;
    }
    /* listeners configured with port 0 got a port only now: register the real ones */
    const char **names = ferry_calloc(cfg->n_listeners + 1, sizeof *names);
    uint16_t *ports = ferry_calloc(cfg->n_listeners + 1, sizeof *ports);
    if (!names || !ports) {
        ferry_free(names);
        ferry_free(ports);
        snprintf(err, errlen, "out of memory");
        return FERRY_ENOMEM;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        names[i] = cfg->listeners[i].name;
        ports[i] = (uint16_t)b->bound_ports[i];
    }
    b->meta.ops->listeners_bound(b->meta.impl, names, ports, cfg->n_listeners);
    if (b->lifecycle)
        lifecycle_listeners_bound(b->lifecycle, names, ports, cfg->n_listeners);
    ferry_free(names);
    ferry_free(ports);
    LOG_INFO("broker", "node %d started in %s mode, cluster id %s", b->node_id, config_mode_name(cfg->mode),
             broker_image(b)->cluster_id);
    return 0;
}

int broker_start(struct broker *b, uv_loop_t *loop, const struct ferry_config *cfg, bool format_if_missing,
                 char *err, size_t errlen)
{
    return start(b, loop, cfg, format_if_missing, NULL, err, errlen);
}

int broker_start_with_source(struct broker *b, uv_loop_t *loop, const struct ferry_config *cfg,
                             const struct md_source *source, char *err, size_t errlen)
{
    return start(b, loop, cfg, false, source, err, errlen);
}

/* Whether a broker other than `self` is registered and unfenced: one that could take over its leaderships. */
static bool another_unfenced_broker(const struct md_image *img, int32_t self)
{
    for (int32_t i = 0; img && i < img->nbrokers; i++)
        if (img->brokers[i]->id != self && !img->brokers[i]->fenced)
            return true;
    return false;
}

/* After the lifecycle's controlled shutdown: the quorum leader's resignation (at once on other nodes). */
static void resign_then(void *arg)
{
    struct broker *b = arg;
    kraft_node_resign(b->kraft, b->shutdown_then, b->shutdown_arg);
}

void broker_begin_shutdown(struct broker *b, void (*then)(void *arg), void *arg)
{
    /* quorum mode: the lifecycle's controlled shutdown (Kafka's BrokerLifecycleManager), through the channel
     * whether the active controller is elsewhere or this combined node's own. Without another unfenced
     * broker there is nobody to hand leadership to, and the broker skips it (Kafka would still write the
     * records that leave its partitions leaderless until it returns; here the controller fences it after
     * broker.session.timeout.ms, with the same result). Then the metadata quorum's leader resigns
     * (EndQuorumEpoch), so that a successor stands at once. */
    b->shutdown_then = then;
    b->shutdown_arg = arg;
    if (b->lifecycle && another_unfenced_broker(broker_image(b), b->node_id))
        lifecycle_shutdown(b->lifecycle, b->cfg->broker_session_timeout_ms, resign_then, b);
    else if (b->kraft)
        kraft_node_resign(b->kraft, then, arg);
    else if (b->meta.ops && b->meta.ops->controlled_shutdown)
        b->meta.ops->controlled_shutdown(b->meta.impl, then, arg);
    else
        then(arg);
}

void broker_stop(struct broker *b)
{
    api_repl_stop(b);
    if (b->net)
        net_server_close(b->net);
    b->net = NULL;
    api_raft_io_stop(b);
    group_service_close(b->groups);
    b->groups = NULL;
    if (b->partitions) {
        const struct md_broker *self = b->meta.ops ? md_image_broker(broker_image(b), b->node_id) : NULL;
        rp_manager_close(b->partitions, self ? self->epoch : -1);
    }
    b->partitions = NULL;
    lifecycle_stop(b->lifecycle);
    b->lifecycle = NULL;
    ctrl_channel_stop(b->channel);
    b->channel = NULL;
    kraft_ctrl_stop(b->ctrl);
    b->ctrl = NULL;
    if (b->meta.ops)
        b->meta.ops->stop(b->meta.impl);
    api_controller_rpc_drop_waiting(b);
    b->meta.ops = NULL;
    b->meta.impl = NULL;
    b->kraft = NULL;
    ferry_free(b->listeners);
    ferry_free(b->bound_ports);
    b->listeners = NULL;
    b->bound_ports = NULL;
}
