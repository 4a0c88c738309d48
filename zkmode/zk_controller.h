/* zk_controller: the adapter that runs the ZooKeeper-mode controller core (zkmode/controller/zkctl.h) for real
 * on the broker that holds /controller: ZooKeeper reads and watches in, fenced znode writes and
 * controller-to-broker requests out, on the broker's loop.
 *
 *  - zk_controller_start (the election was won): reads every /brokers/ids/<id> and /brokers/topics/<t> with every
 *    partitions/<n>/state (zkVersion = partition epoch), /config/topics/<t> (unclean.leader.election.enable)
 *    and /admin/delete_topics, all pipelined, leaving child watches on /brokers/ids, /brokers/topics and
 *    /admin/delete_topics and a data watch on each topic znode, then hands the snapshot to
 *    zkctl_become_controller. Later watch events re-read what changed and become core events. A znode
 *    that does not decode is logged with its path and left out; the rest keeps working.
 *    The image takeover (zk_controller_use_image, docs/compatibility.md): when this broker's metadata image
 *    is the previous controller's, the partition states it holds are used instead of reading their state
 *    znodes first; those znodes are read behind the takeover once its state writes are done
 *    (zkctl_states_read).
 *  - the core's actions run in order: ZK_MULTI through zk_elect_fenced_multi (each reported once), ZK_READ
 *    with zk_get, SEND on the controller channel of the target broker (zk_controller_chan.c: one ordered
 *    connection per live broker to its inter-broker listener, made on demand, dropped when the broker goes or
 *    bounces, re-made after a failure with the unanswered request sent again, as Kafka's
 *    ControllerChannelManager), RESPOND to the request the token names, RESIGN through
 *    zk_elect_controller_moved; zkctl_tick every second.
 *  - zk_controller_stop (resigned, session expired): the core resigns, channels, watches and the load in
 *    progress are dropped; nothing more is sent.
 *  - ControlledShutdown (7) and AlterPartition (56) received by this broker go to the core, and so do a
 *    client's ElectLeaders (43) and Alter/ListPartitionReassignments (45, 46); a broker that is not the
 *    active controller answers NOT_CONTROLLER (the core does).
 *  - /admin/reassign_partitions and /admin/preferred_replica_election: zk_controller_admin.c.
 *
 * Ownership: zk_source owns the adapter (zk_controller_new on the broker's loop, zk_controller_free after
 * the session is closed, so that every ZooKeeper completion has run). Callbacks run on the loop, never inside
 * the call that started them. */
#ifndef FERRY_ZK_CONTROLLER_H
#define FERRY_ZK_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/config/config.h"
#include "broker/metadata/md_image.h"
#include "proto_messages.h"
#include "zk_elect.h"
#include "zk_session.h"
#include "zkmode/znode/znode_codec.h"

struct zk_controller;

/* The answer to a request handed to the controller: api_key says which response struct body is
 * (struct ControlledShutdownResponse or struct AlterPartitionResponse), valid during the call only. */
typedef void (*zk_controller_done_fn)(void *arg, int16_t api_key, const void *body);

/* A stopped controller for broker_id on loop, using session s and election e (both outlive it). 0 or
 * FERRY_ENOMEM. */
int zk_controller_new(uv_loop_t *loop, const struct ferry_config *cfg, int32_t broker_id, struct zk_session *s,
                      struct zk_elect *e, struct zk_controller **out);
/* The election was won with this epoch and the zkVersion of /controller_epoch: load ZooKeeper and become
 * the active controller. */
void zk_controller_start(struct zk_controller *c, int32_t epoch, int32_t epoch_zkversion);
/* No longer the controller: resign the core, drop channels, watches and reads in progress. */
void zk_controller_stop(struct zk_controller *c);
/* Stops and frees (its uv handles close as the loop runs). Call after zk_session_close. */
void zk_controller_free(struct zk_controller *c);
/* The image takeover (docs/architecture.md): at failover the partition states this broker's metadata image
 * holds are used instead of reading their znodes first, when *img_epoch (the controller epoch of the last
 * UpdateMetadata applied to img) is the previous controller's; both outlive c. */
void zk_controller_use_image(struct zk_controller *c, const struct md_image *img, const int32_t *img_epoch);
/* True once the snapshot is loaded and the core is active. */
bool zk_controller_active(const struct zk_controller *c);

/* The configs of topic `name` were read again (a config change notification, zk_configs): the active
 * controller takes its unclean.leader.election.enable (Kafka's TopicUncleanLeaderElectionEnable event).
 * Ignored when not active (NULL c too) or for a topic the controller does not know. */
void zk_controller_topic_config(struct zk_controller *c, const char *name, const zk_config_entity *cfg);

/* A request from a broker: done(arg, api_key, response) runs once, later, on the loop. The request is copied.
 * FERRY_EINVAL (malformed request: done will not run) or FERRY_ENOMEM. */
int zk_controller_alter_partition(struct zk_controller *c, int16_t version, const struct AlterPartitionRequest *req,
                                  zk_controller_done_fn done, void *arg);
/* Either of the two above by api key (7 ControlledShutdown, 56 AlterPartition), or a client's admin request
 * that Kafka's ZooKeeper-mode brokers hand to their own KafkaController (43 ElectLeaders,
 * 45 AlterPartitionReassignments, 46 ListPartitionReassignments: answered NOT_CONTROLLER unless this broker
 * is the active controller; clients send them to the controller Metadata names): md_source controller_rpc.
 * FERRY_EINVAL for another key or a NULL controller. */
int zk_controller_rpc(struct zk_controller *c, int16_t api_key, int16_t version, const void *req,
                      zk_controller_done_fn done, void *arg);
int zk_controller_controlled_shutdown(struct zk_controller *c, int16_t version,
                                      const struct ControlledShutdownRequest *req, zk_controller_done_fn done,
                                      void *arg);

#endif
