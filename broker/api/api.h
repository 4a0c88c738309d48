/* api: the request handlers of the broker and controller listeners, one file per API family.
 *
 * A handler decodes its request from req->body into req->arena (api_decode), works only from the
 * metadata image and the partition registry (design principle 1), and completes the request with
 * net_respond. Handlers that must wait (Fetch long polls, acks=all produce, controller writes) keep the
 * request and respond later from a callback on the same loop. */
#ifndef FERRY_API_H
#define FERRY_API_H

#include <stdbool.h>

#include "broker/net/net.h"
#include "proto_codec.h"

struct broker;
struct proto_api_range;

/* OffsetForLeaderEpoch (not yet in api_support.h's enum). */
#define API_KEY_OFFSET_FOR_LEADER_EPOCH 23

/* What a listener serves: the broker's client APIs, or the controller's. */
struct api_listener {
    struct broker *broker;
    bool controller;
};

/* The dispatch function given to net_server_listen (ctx = struct api_listener). */
void api_dispatch(void *ctx, struct net_request *req);

/* Decodes the request body as message m into out. On malformed input logs, closes the connection (as
 * Kafka does for an unparseable request) and returns false. */
bool api_decode(struct net_request *req, const struct proto_message *m, void *out);

/* Allocates and default-initialises a response struct of message m in the request's arena. */
void *api_new_response(struct net_request *req, const struct proto_message *m);

void api_handle_api_versions(struct api_listener *l, struct net_request *req);
void api_handle_metadata(struct broker *b, struct net_request *req);
void api_handle_find_coordinator(struct broker *b, struct net_request *req);
void api_handle_produce(struct broker *b, struct net_request *req);
void api_handle_fetch(struct broker *b, struct net_request *req);
void api_handle_list_offsets(struct broker *b, struct net_request *req);
void api_handle_offset_for_leader_epoch(struct broker *b, struct net_request *req);
void api_handle_create_topics(struct broker *b, struct net_request *req);
void api_handle_delete_topics(struct broker *b, struct net_request *req);
void api_handle_create_partitions(struct broker *b, struct net_request *req);
void api_handle_describe_configs(struct broker *b, struct net_request *req);
void api_handle_alter_configs(struct broker *b, struct net_request *req);
void api_handle_incremental_alter_configs(struct broker *b, struct net_request *req);
/* quorum mode only (proto_quorum_apis): forwarded to the active controller by the metadata source */
void api_handle_elect_leaders(struct broker *b, struct net_request *req);
void api_handle_alter_partition_reassignments(struct broker *b, struct net_request *req);
void api_handle_list_partition_reassignments(struct broker *b, struct net_request *req);
void api_handle_describe_cluster(struct broker *b, struct net_request *req);
/* group.c: the classic group APIs, and the coordinator's sink that answers parked Join/SyncGroups. */
struct group_sink;
struct group_io;
void api_group_sink(struct broker *b, struct group_sink *sink);
void api_group_io(struct broker *b, struct group_io *io);
/* True when __consumer_offsets exists; otherwise starts creating it. */
bool api_group_offsets_topic(struct broker *b);
void api_handle_join_group(struct broker *b, struct net_request *req);
void api_handle_sync_group(struct broker *b, struct net_request *req);
void api_handle_heartbeat(struct broker *b, struct net_request *req);
void api_handle_leave_group(struct broker *b, struct net_request *req);
void api_handle_offset_commit(struct broker *b, struct net_request *req);
void api_handle_offset_fetch(struct broker *b, struct net_request *req);
void api_handle_describe_groups(struct broker *b, struct net_request *req);
void api_handle_list_groups(struct broker *b, struct net_request *req);
void api_handle_delete_groups(struct broker *b, struct net_request *req);
void api_handle_offset_delete(struct broker *b, struct net_request *req);
void api_handle_init_producer_id(struct broker *b, struct net_request *req);
/* controller_rpc.c: the controller listener's lifecycle and forwarded admin requests (and Envelope). */
void api_handle_quorum_controller_rpc(struct broker *b, struct net_request *req);
/* Ends, without an answer, the controller RPCs still waiting for the quorum node: call after the node has
 * stopped (it drops them and calls back no more), so that their requests are freed. */
void api_controller_rpc_drop_waiting(struct broker *b);
/* legacy.c: LeaderAndIsr, StopReplica, UpdateMetadata from a ZooKeeper-mode controller (legacy mode only). */
void api_handle_controller_request(struct broker *b, struct net_request *req);
void api_handle_controller_rpc(struct broker *b, struct net_request *req);
/* The range this listener serves for api_key (legacy-only APIs included in legacy mode, quorum-only ones in
 * quorum mode), or NULL. */
const struct proto_api_range *api_listener_range(const struct api_listener *l, int16_t api_key);
/* A broker listener of a legacy-mode broker: it serves (and advertises) proto_legacy_apis too. */
bool api_listener_serves_legacy(const struct api_listener *l);
/* A broker listener whose metadata source answers DescribeQuorum (quorum mode): it serves (and
 * advertises) proto_quorum_apis too. */
bool api_listener_serves_quorum(const struct api_listener *l);
/* The mode-specific table a broker listener serves after proto_broker_apis (legacy or quorum), *n its
 * length; NULL/0 for the controller listener. */
const struct proto_api_range *api_listener_mode_apis(const struct api_listener *l, size_t *n);
/* describe_quorum.c: DescribeQuorum (55) v0-1: on the controller listener answered from this node's quorum
 * (metadata source describe_quorum); on a quorum-mode broker listener forwarded to the active controller. */
void api_handle_describe_quorum(struct broker *b, struct net_request *req);
void api_handle_describe_quorum_forwarded(struct broker *b, struct net_request *req);

#endif
