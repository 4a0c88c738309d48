/* cluster: which brokers a client is told about (Metadata, DescribeCluster). */
#ifndef FERRY_API_CLUSTER_H
#define FERRY_API_CLUSTER_H

#include "broker.h"

/* The endpoint of a registered broker on the named listener, or NULL. */
const struct md_endpoint *cluster_endpoint(const struct md_broker *mb, const char *listener);
/* Fills out[] with the unfenced brokers that have an endpoint on `listener`; returns how many. */
int32_t cluster_live_brokers(const struct broker *b, const char *listener, const struct md_broker **out,
                             int32_t max);
/* DescribeCluster (60) v0-1 on the controller listener (KIP-919): the controllers. */
void api_handle_describe_cluster_controllers(struct broker *b, struct net_request *req);

#endif
