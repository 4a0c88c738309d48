/* ctrl_channel: a quorum-mode broker's channel to the active controller (Kafka 3.7's
 * NodeToControllerChannelManager and ForwardingManager), shared by the lifecycle manager (lifecycle.h),
 * the forwarded admin writes and the producer-id and ISR requests (forward_source.c).
 *
 * When this node's own controller is the active one the call goes to it in-process (kraft_ctrl_call: the
 * same write queue and decisions, no socket). Otherwise it goes over net_client connections to the
 * controller endpoint of the leader this node knows, else of the voters of controller.quorum.voters in
 * turn, sent in call order with up to 64 in flight (one per connection, opened as needed; answers may come
 * back in another order, since the controller commits many operations at once): BrokerRegistration,
 * BrokerHeartbeat, AllocateProducerIds and AlterPartition as themselves; the client admin writes (CreateTopics, DeleteTopics, CreatePartitions,
 * AlterConfigs, IncrementalAlterConfigs, ElectLeaders, the reassignment APIs) and DescribeQuorum inside an
 * Envelope (58) as Kafka 3.7's brokers forward them:
 * RequestData = the request header (the client id given) and body, ResponseData = the response header and
 * body; an Envelope error becomes UNKNOWN_SERVER_ERROR for the caller, as Kafka's ForwardingManager does.
 * A failed connection or a timeout (controller.socket.timeout.ms) closes that connection alone and fails
 * its call (rc FERRY_EIO): the caller retries or answers its client (a forwarded admin request:
 * REQUEST_TIMED_OUT, what Kafka's ForwardingManager answers once its channel gave up); the calls in flight
 * on the other connections complete. Once no connection to that controller is left, the next one goes to
 * the next controller. An Envelope error or an answer that does not decode fails the call with
 * FERRY_EPARSE (a forwarded admin request: UNKNOWN_SERVER_ERROR, as Kafka's).
 * ctrl_channel_not_controller tells the channel an answer said NOT_CONTROLLER (it moves on too).
 *
 * Ownership: the broker creates it on the loop thread and stops it before its metadata source; after
 * ctrl_channel_stop no callback runs (calls still pending are dropped unanswered). */
#ifndef FERRY_CTRL_CHANNEL_H
#define FERRY_CTRL_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/metadata/md_source.h"
#include "proto_buf.h"

struct ferry_config;
struct kraft_node;
struct kraft_ctrl;
struct ctrl_channel;

/* Requests pipelined on one connection to the controller before the next is opened. */
#define CTRL_CHANNEL_PIPELINE 16

/* local: this node's controller RPCs, or NULL (a broker-only node). node NULL (tests): no known leader, the
 * voters of cfg in turn. */
int ctrl_channel_new(uv_loop_t *loop, const struct ferry_config *cfg, struct kraft_node *node, struct kraft_ctrl *local,
                     struct ctrl_channel **out);
/* Sends req (the request struct of api_key at version) to the active controller. resp is a
 * default-initialised response struct of api_key, filled in arena a; done(arg, rc) runs from the loop with
 * rc 0 (resp filled) or FERRY_EIO / FERRY_EPARSE / FERRY_ENOMEM (resp untouched). req, a and resp stay the caller's until
 * done runs. who (copied): the client whose request is forwarded in an Envelope (its client id in the
 * request header, its principal as RequestPrincipal), or NULL (the broker's own: no client id, User:ANONYMOUS). */
void ctrl_channel_call(struct ctrl_channel *ch, int16_t api_key, int16_t version, const void *req,
                       const struct md_requester *who, struct proto_arena *a, void *resp,
                       void (*done)(void *arg, int rc), void *arg);
/* An answer said NOT_CONTROLLER: later calls go to another controller. */
void ctrl_channel_not_controller(struct ctrl_channel *ch);
/* True when calls go to this node's own (active) controller in-process. */
bool ctrl_channel_is_local(const struct ctrl_channel *ch);
void ctrl_channel_stop(struct ctrl_channel *ch);

#endif
