/* dispatch: routes a request to its handler by API key (the version range was checked by net against
 * api_support's table); shared decoding helpers. */
#include <stdio.h>

#include "api.h"
#include "api_support.h"
#include "broker.h"
#include "cluster.h"
#include "raft_io.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"

bool api_decode(struct net_request *req, const struct proto_message *m, void *out)
{
    int rc = proto_decode(m, req->hdr.api_version, &req->body, &req->arena, out);
    if (rc == 0)
        return true;
    char why[128];
    snprintf(why, sizeof why, "malformed %s v%d: %s", m->name, req->hdr.api_version, ferry_strerror(rc));
    net_close_for(req, why);
    return false;
}

void *api_new_response(struct net_request *req, const struct proto_message *m)
{
    void *resp = proto_arena_alloc(&req->arena, m->body->size);
    if (resp)
        proto_struct_init(m->body, resp);
    return resp;
}

bool api_listener_serves_legacy(const struct api_listener *l)
{
    return !l->controller && l->broker->cfg->mode == FERRY_MODE_LEGACY;
}

bool api_listener_serves_quorum(const struct api_listener *l)
{
    return !l->controller && l->broker->meta.ops && l->broker->meta.ops->describe_quorum;
}

const struct proto_api_range *api_listener_mode_apis(const struct api_listener *l, size_t *n)
{
    *n = 0;
    if (api_listener_serves_legacy(l)) {
        *n = proto_legacy_apis_count;
        return proto_legacy_apis;
    }
    if (api_listener_serves_quorum(l)) {
        *n = proto_quorum_apis_count;
        return proto_quorum_apis;
    }
    return NULL;
}

const struct proto_api_range *api_listener_range(const struct api_listener *l, int16_t api_key)
{
    if (l->controller)
        return proto_controller_api_lookup(api_key);
    const struct proto_api_range *range = proto_api_lookup(api_key);
    if (!range && api_listener_serves_legacy(l))
        range = proto_legacy_api_lookup(api_key);
    if (!range && api_listener_serves_quorum(l))
        range = proto_quorum_api_lookup(api_key);
    return range;
}

/* The controller listener: every key of proto_controller_apis but ApiVersions has its case here. */
static void dispatch_controller(struct api_listener *l, struct net_request *req)
{
    switch (req->hdr.api_key) {
    case API_DESCRIBE_QUORUM: api_handle_describe_quorum(l->broker, req); break;
    case API_DESCRIBE_CLUSTER: api_handle_describe_cluster_controllers(l->broker, req); break;
    case API_FETCH:
    case API_VOTE:
    case API_BEGIN_QUORUM_EPOCH:
    case API_END_QUORUM_EPOCH:
    case API_FETCH_SNAPSHOT: api_handle_raft(l->broker, req); break;
    case API_CREATE_TOPICS:
    case API_DELETE_TOPICS:
    case API_ALTER_CONFIGS:
    case API_CREATE_PARTITIONS:
    case API_INCREMENTAL_ALTER_CONFIGS:
    case API_ELECT_LEADERS:
    case API_ALTER_PARTITION_REASSIGNMENTS:
    case API_LIST_PARTITION_REASSIGNMENTS:
    case API_ALTER_PARTITION:
    case API_ENVELOPE:
    case API_BROKER_REGISTRATION:
    case API_BROKER_HEARTBEAT:
    case API_UNREGISTER_BROKER:
    case API_ALLOCATE_PRODUCER_IDS:
    case API_CONTROLLER_REGISTRATION: api_handle_quorum_controller_rpc(l->broker, req); break;
    default: net_close_for(req, "no handler"); break;
    }
}

void api_dispatch(void *ctx, struct net_request *req)
{
    struct api_listener *l = ctx;
    struct broker *b = l->broker;
    int16_t key = req->hdr.api_key;
    if (key == API_API_VERSIONS) {
        api_handle_api_versions(l, req);
        return;
    }
    const struct proto_api_range *range = api_listener_range(l, key);
    if (!range || req->hdr.api_version < range->min_version || req->hdr.api_version > range->max_version) {
        char why[96];
        snprintf(why, sizeof why, "api key %d version %d is not served on this listener", key,
                 req->hdr.api_version);
        net_close_for(req, why);
        return;
    }
    if (l->controller) {
        dispatch_controller(l, req);
        return;
    }
    switch (key) {
    case API_PRODUCE: api_handle_produce(b, req); break;
    case API_FETCH: api_handle_fetch(b, req); break;
    case API_LIST_OFFSETS: api_handle_list_offsets(b, req); break;
    case API_KEY_OFFSET_FOR_LEADER_EPOCH: api_handle_offset_for_leader_epoch(b, req); break;
    case API_METADATA: api_handle_metadata(b, req); break;
    case API_FIND_COORDINATOR: api_handle_find_coordinator(b, req); break;
    case API_CREATE_TOPICS: api_handle_create_topics(b, req); break;
    case API_DELETE_TOPICS: api_handle_delete_topics(b, req); break;
    case API_DESCRIBE_CONFIGS: api_handle_describe_configs(b, req); break;
    case API_ALTER_CONFIGS: api_handle_alter_configs(b, req); break;
    case API_CREATE_PARTITIONS: api_handle_create_partitions(b, req); break;
    case API_INCREMENTAL_ALTER_CONFIGS: api_handle_incremental_alter_configs(b, req); break;
    case API_DESCRIBE_CLUSTER: api_handle_describe_cluster(b, req); break;
    case API_JOIN_GROUP: api_handle_join_group(b, req); break;
    case API_SYNC_GROUP: api_handle_sync_group(b, req); break;
    case API_HEARTBEAT: api_handle_heartbeat(b, req); break;
    case API_LEAVE_GROUP: api_handle_leave_group(b, req); break;
    case API_OFFSET_COMMIT: api_handle_offset_commit(b, req); break;
    case API_OFFSET_FETCH: api_handle_offset_fetch(b, req); break;
    case API_DESCRIBE_GROUPS: api_handle_describe_groups(b, req); break;
    case API_LIST_GROUPS: api_handle_list_groups(b, req); break;
    case API_DELETE_GROUPS: api_handle_delete_groups(b, req); break;
    case API_OFFSET_DELETE: api_handle_offset_delete(b, req); break;
    case API_INIT_PRODUCER_ID: api_handle_init_producer_id(b, req); break;
    /* legacy mode only (proto_legacy_apis) */
    case API_LEADER_AND_ISR:
    case API_STOP_REPLICA:
    case API_UPDATE_METADATA: api_handle_controller_request(b, req); break;
    case API_CONTROLLED_SHUTDOWN:
    case API_ALTER_PARTITION: api_handle_controller_rpc(b, req); break;
    /* quorum mode only (proto_quorum_apis): forwarded to the active controller */
    case API_DESCRIBE_QUORUM: api_handle_describe_quorum_forwarded(b, req); break;
    /* both modes: in legacy mode the broker's own ZooKeeper-mode controller decides (md_source
     * controller_rpc), in quorum mode they are forwarded to the active controller */
    case API_ELECT_LEADERS:
    case API_ALTER_PARTITION_REASSIGNMENTS:
    case API_LIST_PARTITION_REASSIGNMENTS:
        if (api_listener_serves_legacy(l))
            api_handle_controller_rpc(b, req);
        else if (key == API_ELECT_LEADERS)
            api_handle_elect_leaders(b, req);
        else if (key == API_ALTER_PARTITION_REASSIGNMENTS)
            api_handle_alter_partition_reassignments(b, req);
        else
            api_handle_list_partition_reassignments(b, req);
        break;
    default: net_close_for(req, "no handler"); break;
    }
}
