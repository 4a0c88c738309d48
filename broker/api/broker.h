/* broker: one running node: its configuration, the metadata source (broker/metadata/md_source.h: the
 * KRaft node in quorum mode, the ZooKeeper side in legacy mode), the hosted partitions, and the listeners. It also publishes metadata deltas to the
 * partition registry: partitions are created, reconfigured and deleted only from deltas (principle 1).
 *
 * Ownership: broker_start creates everything on the caller's loop; broker_stop closes it in reverse
 * order. All of it belongs to the loop thread. */
#ifndef FERRY_BROKER_H
#define FERRY_BROKER_H

#include <stdbool.h>
#include <uv.h>

#include "api.h"
#include "broker/config/config.h"
#include "broker/config/topic_config.h"
#include "broker/metadata/md_image.h"
#include "broker/metadata/md_source.h"
#include "broker/net/net.h"
#include "broker/producer/pid_pool.h"
#include "broker/replica/partitions.h"

struct produce_ctx;
struct group_service;
struct repl_fetchers;
struct alter_ctx;
struct kraft_ctrl;
struct kraft_node;
struct lifecycle;
struct ctrl_channel;

struct broker {
    uv_loop_t *loop;
    const struct ferry_config *cfg;
    int32_t node_id;
    struct md_source meta; /* where the image comes from and metadata writes go */
    struct kraft_node *kraft; /* quorum mode: the node behind the metadata source; else NULL */
    struct kraft_ctrl *ctrl; /* quorum mode, controller role: the broker-facing controller RPCs; else NULL */
    struct ctrl_channel *channel;      /* quorum mode: to the active controller (ctrl_channel.h); else NULL */
    struct lifecycle *lifecycle; /* quorum mode, broker role: registration and heartbeats; else NULL */
    void (*shutdown_then)(void *arg); /* broker_begin_shutdown's continuation, after the steps before stop */
    void *shutdown_arg;
    struct rp_manager *partitions;
    struct net_server *net;
    struct api_listener *listeners; /* one per configured listener */
    size_t n_listeners;
    int *bound_ports;               /* the port each listener got (port 0 = any) */
    struct group_service *groups;   /* the group coordinator (broker/group) */
    struct prod_pid_pool pid_pool;  /* producer ids for InitProducerId (init_producer_id.c) */
    struct pid_waiter *pid_waiters; /* InitProducerId requests waiting for a block */
    /* Produce requests in arrival order while some wait for record checks in a worker: appends happen
     * strictly in this order (produce.c). */
    struct produce_ctx *produce_head, *produce_tail;
    /* replication (replication.h): the ISR timer of led partitions and the follower fetchers */
    uv_timer_t isr_timer;
    bool isr_timer_started;
    struct repl_fetchers *fetchers;
    struct alter_ctx *alters; /* ISR proposals the source has not answered yet (freed at stop) */
    struct ctrl_call *ctrl_calls; /* controller RPCs waiting for the quorum node (controller_rpc.c; dropped at stop) */
    struct raft_io *raft_io; /* quorum mode: the Raft RPCs to and from the other voters (raft_io.c) */
};

/* Starts the node: storage check (formatting the no-config default node on first start), metadata
 * replay, partition logs, listeners. `format_if_missing` is true only for the built-in default config.
 * Returns 0 or a negative FERRY_E* with a message in err. */
int broker_start(struct broker *b, uv_loop_t *loop, const struct ferry_config *cfg, bool format_if_missing,
                 char *err, size_t errlen);
/* The same with a metadata source the caller built (tests serving one image to several brokers; a mode's
 * own wiring). The broker takes the source and stops it in broker_stop. */
int broker_start_with_source(struct broker *b, uv_loop_t *loop, const struct ferry_config *cfg,
                             const struct md_source *source, char *err, size_t errlen);
/* The first step of a clean shutdown, before broker_stop: in legacy mode the controlled shutdown (the
 * controller moves leadership off this broker while it still serves; controlled.shutdown.*). then(arg) runs
 * when it is over, from the loop (at once when the mode has none). Call broker_stop from it. */
void broker_begin_shutdown(struct broker *b, void (*then)(void *arg), void *arg);
/* Clean shutdown: stops listening, flushes and closes every log and the metadata log. Run the loop
 * afterwards until it has no more handles. */
void broker_stop(struct broker *b);

/* Quorum mode: the KRaft node behind the metadata source (the broker's own, or a kraft_source given by the
 * caller); NULL otherwise. */
struct kraft_node *broker_kraft_node(const struct broker *b);
/* The ControllerId to report to clients (md_source.h, controller_id). */
int32_t broker_controller_id(const struct broker *b);
/* The metadata image the data plane reads. */
const struct md_image *broker_image(const struct broker *b);
/* The error for a partition this broker does not host: NOT_LEADER_OR_FOLLOWER when the image knows the
 * partition (the client should refresh its metadata), else UNKNOWN_TOPIC_OR_PARTITION. */
int16_t broker_not_hosted_error(const struct broker *b, proto_str topic, int32_t partition);
/* A topic's effective configuration: broker defaults with the image's topic overrides applied. */
void broker_topic_config(const struct broker *b, const char *topic, struct topic_config *out);

#endif
