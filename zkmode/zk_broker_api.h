/* zk_broker_api: a legacy-mode broker's side of the RPCs between brokers and a ZooKeeper-mode controller,
 * for zk_source (md_source operations):
 *  - controller requests in (LeaderAndIsr v7, StopReplica v4, UpdateMetadata v8: md_source
 *    controller_request): the broker epoch this broker registered and the newest controller epoch it knows
 *    (from /controller_epoch or an earlier request) go into the zkrpc checks (STALE_BROKER_EPOCH,
 *    STALE_CONTROLLER_EPOCH, per-partition checks), zk_broker_rpc_apply applies the request to the source's
 *    image, the delta is published (broker/replica follows it: leaders and followers start, a partition
 *    that StopReplica deletes goes, with its log) and Kafka's response is returned with the fetch switches
 *    (md_fetch_switch): a stop without deletion turns the partition's fetching off, a LeaderAndIsr that
 *    makes this broker lead or follow it at a newer leader epoch on again (ReplicaManager.stopReplicas and
 *    becomeLeaderOrFollower); broker/api/legacy.c hands them to the replication.
 *  - AlterPartition out (md_source alter_partition): zk_alter.c, Kafka's AlterPartitionManager;
 *  - ControlledShutdown out before the session closes: zk_shutdown.c.
 * Requests to the controller go over zk_ctrl_chan.h.
 *
 * Ownership: the state hangs off the zk_src (z->bapi), created on first use, freed with the source. Not for
 * use outside zkmode/. */
#ifndef FERRY_ZK_BROKER_API_H
#define FERRY_ZK_BROKER_API_H

#include <stdint.h>

#include "broker/metadata/md_source.h"
#include "zkmode/rpc/zkrpc.h"

struct zk_src;
struct zk_alter;
struct zk_shutdown;

/* What this broker keeps for the RPCs with its controller (z->bapi). */
struct zk_bapi {
    struct zkrpc_broker rpc; /* ReplicaManager's state: controller epoch seen, hosted leader epochs */
    struct zk_alter *alter;  /* zk_alter.c, created by the first proposal */
    struct zk_shutdown *shutdown; /* zk_shutdown.c, created by controlled_shutdown */
};

/* z->bapi, created on first use; NULL when out of memory. */
struct zk_bapi *zk_bapi_get(struct zk_src *z);

/* md_source controller_request (impl is the zk_src). */
int zk_bapi_controller_request(void *impl, int16_t api_key, int16_t version, const void *req,
                               struct md_response *out);
/* Frees what z->bapi holds (with the source, or at its stop: no callback runs afterwards). */
void zk_bapi_free(struct zk_src *z);

/* zk_alter.c: md_source alter_partition (impl is the zk_src); zk_alter_free closes its channel. */
void zk_alter_partition(void *impl, const struct md_alter_partition *req, md_alter_done_fn done, void *arg);
void zk_alter_free(struct zk_alter *a);

/* zk_shutdown.c: md_source controlled_shutdown (impl is the zk_src); zk_shutdown_free closes its channel. */
void zk_controlled_shutdown(void *impl, md_done_fn done, void *arg);
void zk_shutdown_free(struct zk_shutdown *s);

#endif
