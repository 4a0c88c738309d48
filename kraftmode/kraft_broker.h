/* kraft_broker: what a quorum-mode broker tells the controller about itself, shared by the node's own
 * start-up registration (kraft_register.c) and the broker's lifecycle manager (broker/api/lifecycle.h):
 * the process's incarnation id and the BrokerRegistration request built from the same content as the
 * RegisterBrokerRecord the start-up path writes (advertised listeners with their bound ports, the
 * metadata.version range, rack, log directory ids). */
#ifndef FERRY_KRAFT_BROKER_H
#define FERRY_KRAFT_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "proto_buf.h"
#include "proto_messages.h"

struct kraft_node;

/* This process's incarnation id: random, fixed for the process's life (Kafka's incarnation id). A
 * registration in the image with it was made by this process. */
proto_uuid kraft_incarnation_id(void);

/* Fills req (arrays in a) for the node's broker; names[i] -> ports[i] are the listeners' bound ports (for
 * advertised endpoints configured with port 0). PreviousBrokerEpoch -1. Returns 0 or FERRY_ENOMEM. */
int kraft_broker_registration_request(struct kraft_node *node, const char *const *names, const uint16_t *ports,
                                      size_t n, struct proto_arena *a, struct BrokerRegistrationRequest *req);

/* Fills the response of an admin write (api_key 19, 20, 33, 37, 43 or 44) that could not be done with `code`
 * for every entry of the request, as the controller's queue does for a refused operation. */
void kraft_fail_admin_response(int16_t api_key, const void *req, struct proto_arena *a, void *resp, int16_t code,
                               const char *msg);

#endif
