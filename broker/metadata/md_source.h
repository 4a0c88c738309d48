/* md_source: where a broker's metadata comes from and where its metadata writes go. The data plane
 * (broker/api) talks only to this interface, never to a mode directly (design principle 1): in quorum mode
 * the source is the KRaft node (kraftmode/kraft_source.c), in legacy mode the ZooKeeper side
 * (zkmode/). A source owns its image and publishes every change to it as a delta.
 *
 * Every operation keeps the contract of the quorum-mode functions it mirrors (kraftmode/kraft_node.h):
 * requests, arenas and responses stay the caller's until `done` runs; responses are filled in the caller's
 * arena; callbacks run from the loop, never from inside the call that started the operation, and never
 * after stop. A source that cannot do an operation (for example a broker whose controller is elsewhere)
 * still answers: it fills the response with the Kafka error the protocol defines and calls done.
 *
 * Ownership: the broker holds one source for its whole life, on the loop thread; `stop` starts its clean
 * shutdown and the source frees itself as the loop runs. */
#ifndef FERRY_MD_SOURCE_H
#define FERRY_MD_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/metadata/md_delta.h"
#include "broker/metadata/md_image.h"
#include "principal.h"
#include "proto_buf.h"
#include "proto_messages.h"

typedef void (*md_publish_fn)(void *arg, const struct md_image *img, const struct md_delta *delta);
typedef void (*md_done_fn)(void *arg);
typedef void (*md_pids_done_fn)(void *arg, int64_t first, int32_t len, int16_t error);
typedef void (*md_alter_done_fn)(void *arg, int16_t error);
/* The answer to a request for the controller (controller_rpc): body is the response struct of api_key,
 * valid during the call only. */
typedef void (*md_rpc_done_fn)(void *arg, int16_t api_key, const void *body);

/* One ISR change proposed by a partition's leader: Kafka's AlterPartition for one partition. */
struct md_alter_partition {
    int32_t broker_id; /* the leader */
    int64_t broker_epoch;
    proto_uuid topic_id;
    int32_t partition;
    int32_t leader_epoch;
    const int32_t *new_isr; /* copied by the source before the call returns */
    int32_t nisr;
    int32_t partition_epoch; /* of the state the change is based on */
};

/* A partition whose replica fetching a controller request switched (legacy mode, Kafka's ReplicaManager):
 * off for a StopReplica without deletion, on for a partition LeaderAndIsr made this broker lead or follow at
 * a newer leader epoch. Only LeaderAndIsr turns it on again: an image change from UpdateMetadata does not. */
struct md_fetch_switch {
    proto_str topic;
    int32_t partition;
    bool on;
};

/* A response the source built in its own arena (controller_request): the caller encodes body as message m,
 * acts on the fetch switches in order, then frees the arena with proto_arena_free. */
struct md_response {
    const struct proto_message *m;
    void *body;
    const struct md_fetch_switch *switches; /* in the arena or the request */
    size_t nswitches;
    struct proto_arena arena;
};

/* Who sent a client's admin request: what a forwarding broker tells the active controller (Kafka's Envelope
 * carries the client's request header and its serialized principal). */
struct md_requester {
    proto_str client_id;              /* the request header's (null: len -1) */
    struct DefaultPrincipalData principal; /* User:ANONYMOUS on a PLAINTEXT listener */
    const char *peer;                      /* the client's "ip:port" (net_request_peer), or NULL */
};

struct md_source_ops {
    const struct md_image *(*image)(const void *impl);
    /* One publisher: called at once with delta->initial set (the whole image), then after every change. */
    void (*set_publisher)(void *impl, md_publish_fn publish, void *arg);
    /* The ports the broker's listeners got (names[i] -> ports[i]); the source registers them. */
    void (*listeners_bound)(void *impl, const char *const *names, const uint16_t *ports, size_t n);
    void (*stop)(void *impl);

    void (*create_topics)(void *impl, const struct CreateTopicsRequest *req, int16_t version, struct proto_arena *a,
                          struct CreateTopicsResponse *resp, md_done_fn done, void *arg);
    void (*delete_topics)(void *impl, const struct DeleteTopicsRequest *req, int16_t version, struct proto_arena *a,
                          struct DeleteTopicsResponse *resp, md_done_fn done, void *arg);
    void (*create_partitions)(void *impl, const struct CreatePartitionsRequest *req, int16_t version,
                              struct proto_arena *a, struct CreatePartitionsResponse *resp, md_done_fn done,
                              void *arg);
    void (*alter_configs)(void *impl, const struct AlterConfigsRequest *req, int16_t version, struct proto_arena *a,
                          struct AlterConfigsResponse *resp, md_done_fn done, void *arg);
    void (*incremental_alter_configs)(void *impl, const struct IncrementalAlterConfigsRequest *req, int16_t version,
                                      struct proto_arena *a, struct IncrementalAlterConfigsResponse *resp,
                                      md_done_fn done, void *arg);
    /* Quorum mode only (NULL in legacy mode, where ElectLeaders goes to controller_rpc): ElectLeaders (43) v0-2,
     * decided by the active controller (kraftmode/ctrl.h ctrl_elect_leaders). */
    void (*elect_leaders)(void *impl, const struct ElectLeadersRequest *req, int16_t version, struct proto_arena *a,
                          struct ElectLeadersResponse *resp, md_done_fn done, void *arg);
    /* Quorum mode only (NULL in legacy mode): AlterPartitionReassignments (45) v0 and
     * ListPartitionReassignments (46) v0, decided by the active controller (kraftmode/ctrl.h
     * ctrl_alter_partition_reassignments, ctrl_list_partition_reassignments). */
    void (*alter_partition_reassignments)(void *impl, const struct AlterPartitionReassignmentsRequest *req,
                                          int16_t version, struct proto_arena *a,
                                          struct AlterPartitionReassignmentsResponse *resp, md_done_fn done,
                                          void *arg);
    void (*list_partition_reassignments)(void *impl, const struct ListPartitionReassignmentsRequest *req,
                                         int16_t version, struct proto_arena *a,
                                         struct ListPartitionReassignmentsResponse *resp, md_done_fn done, void *arg);
    /* A quorum-mode broker's source (NULL otherwise): the admin write api_key (one of the eight above; req and
     * resp its request and response structs), or DescribeQuorum (55), from client `who` (copied), forwarded to the active controller
     * as Kafka's brokers do. When set, the broker calls it instead of the operation of that API. */
    void (*forward_admin)(void *impl, int16_t api_key, const void *req, int16_t version, const struct md_requester *who,
                          struct proto_arena *a, void *resp, md_done_fn done, void *arg);
    /* The next producer-id block for broker_id at broker_epoch; done gets a Kafka error code on failure. */
    void (*allocate_producer_ids)(void *impl, int32_t broker_id, int64_t broker_epoch, md_pids_done_fn done,
                                  void *arg);
    /* Creates missing topics for Metadata / FindCoordinator (names copied); done may be NULL. */
    void (*auto_create_topics)(void *impl, const char *const *names, size_t n, md_done_fn done, void *arg);
    /* Proposes an ISR change (AlterPartition). done(arg, error) says whether the controller accepted it
     * (0) or the Kafka error it answered; the change itself takes effect only when it comes back through
     * the image (a PartitionChangeRecord), as in Kafka. May be NULL: the source does not support it (its
     * ISRs never change from the broker's side); callers then propose nothing. */
    /* The ControllerId that Metadata and DescribeCluster report: in legacy mode the broker that holds
     * /controller (-1 when none), as Kafka's ZooKeeper-mode brokers answer. NULL: this node (quorum mode,
     * where a broker takes the admin writes itself and hands them to the quorum controller). */
    int32_t (*controller_id)(const void *impl);
    void (*alter_partition)(void *impl, const struct md_alter_partition *req, md_alter_done_fn done, void *arg);
    /* Legacy mode only (NULL in quorum mode): a request a ZooKeeper-mode controller sends to brokers
     * (api_key 4 LeaderAndIsr, 5 StopReplica, 6 UpdateMetadata), decoded at `version` into the generated
     * request struct. Unlike the other operations it completes before returning: the source checks the
     * broker and controller epochs, applies the request to its image, publishes the delta (the publisher
     * runs inside this call) and fills *out with Kafka's response, which may point into req. Returns 0, or
     * a negative FERRY_E* with nothing to send (out->arena then holds nothing). */
    int (*controller_request)(void *impl, int16_t api_key, int16_t version, const void *req, struct md_response *out);
    /* Legacy mode only (NULL in quorum mode): a request a broker sends to the ZooKeeper-mode controller
     * (api_key 7 ControlledShutdown, 56 AlterPartition), or a client's admin request Kafka's ZooKeeper-mode
     * broker gives its own controller (43 ElectLeaders, 45/46 Alter/ListPartitionReassignments), decoded at
     * `version`; the request is copied. done runs
     * once, later, on the loop with the response (NOT_CONTROLLER when this broker is not the active
     * controller). Returns 0, or a negative FERRY_E* (done will not run: the caller closes the connection). */
    int (*controller_rpc)(void *impl, int16_t api_key, int16_t version, const void *req, md_rpc_done_fn done,
                          void *arg);
    /* Quorum mode only (NULL in legacy mode, where DescribeQuorum is not served): DescribeQuorum (55) v0-1
     * answered into resp (arena a) from the quorum's state, as Kafka's raft leader does (a node that is not
     * the leader fills NOT_LEADER_OR_FOLLOWER, another topic/partition UNKNOWN_TOPIC_OR_PARTITION). Like
     * controller_request it completes before returning: the local node answers. Returns 0 or FERRY_ENOMEM. */
    int (*describe_quorum)(void *impl, const struct DescribeQuorumRequest *req, struct proto_arena *a,
                           struct DescribeQuorumResponse *resp);
    /* Legacy mode (NULL otherwise): the controlled shutdown that precedes stop, while the broker still
     * serves: the controller is asked to move leadership off this broker (ControlledShutdown), with
     * controlled.shutdown.* retries; done(arg) runs once it succeeded or gave up, from the loop (at once
     * only when the source cannot even start it: out of memory, or one already running). */
    void (*controlled_shutdown)(void *impl, md_done_fn done, void *arg);
};

struct md_source {
    const struct md_source_ops *ops;
    void *impl;
};

#endif
