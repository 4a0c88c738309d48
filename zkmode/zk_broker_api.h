/* zk_broker_api: a legacy-mode broker's side of the RPCs between brokers and a ZooKeeper-mode controller,
 * for zk_source (md_source operations):
 *  - controller requests in (LeaderAndIsr v7, StopReplica v4, UpdateMetadata v8: md_source
 *    controller_request): the broker epoch this broker registered and the newest controller epoch it knows
 *    (from /controller_epoch or an earlier request) go into the zkrpc checks (STALE_BROKER_EPOCH,
 *    STALE_CONTROLLER_EPOCH, per-partition checks), zk_broker_rpc_apply applies the request to the source's
 *    image, the delta is published (broker/replica follows it: leaders and followers start, a partition
 *    that StopReplica deletes goes, with its log) and Kafka's response is returned. A stop without deletion
 *    changes nothing here (the replica stays as the image says; Kafka only stops its fetcher).
 *
 * Ownership: the state hangs off the zk_src (z->bapi), created on first use, freed with the source. Not for
 * use outside zkmode/. */
#ifndef FERRY_ZK_BROKER_API_H
#define FERRY_ZK_BROKER_API_H

#include <stdint.h>

#include "broker/metadata/md_source.h"

struct zk_src;

/* md_source controller_request (impl is the zk_src). */
int zk_bapi_controller_request(void *impl, int16_t api_key, int16_t version, const void *req,
                               struct md_response *out);
/* Frees what z->bapi holds (with the source). */
void zk_bapi_free(struct zk_src *z);

#endif
