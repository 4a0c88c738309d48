/* zk_broker_rpc: a legacy-mode broker applying a controller request (LeaderAndIsr, UpdateMetadata,
 * StopReplica) to its metadata image: the request goes through zkrpc (controller epoch and broker epoch
 * checks, translation into metadata records) and the records are applied, in order, to the image, filling
 * the caller's delta for publication. This is the piece between the broker's listener and zk_source's
 * image: zk_broker_api.c calls it for requests routed from broker/api (md_source controller_request) and
 * publishes the delta.
 *
 * Ownership: the caller owns the image, the zkrpc_broker state, the result (response and stops live in its
 * arena and may point into the request, which must outlive it) and the delta. One loop owns all of them. */
#ifndef FERRY_ZK_BROKER_RPC_H
#define FERRY_ZK_BROKER_RPC_H

#include <stdint.h>

#include "broker/metadata/md_delta.h"
#include "broker/metadata/md_image.h"
#include "zkmode/rpc/zkrpc.h"

/* Translates `req` (a decoded request of api_key 4 LeaderAndIsr, 6 UpdateMetadata or 5 StopReplica at
 * `version`) against img and applies the records with offsets *next_offset, *next_offset + 1, ... into d.
 * res must be freshly initialised. Returns 0 with res->response set (also when the request is refused:
 * its error code says why, and nothing was applied); FERRY_EINVAL for another api_key (nothing done);
 * FERRY_ENOMEM (res then holds nothing to send; records applied before the failure stay in img and d). */
int zk_broker_rpc_apply(struct md_image *img, int64_t *next_offset, struct zkrpc_broker *b, int16_t api_key,
                        int16_t version, const void *req, struct zkrpc_result *res, struct md_delta *d);

#endif
