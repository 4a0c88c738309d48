/* config_keys (internal to broker/config): the one table of broker keys Ferry knows, with Kafka 3.7's
 * types, defaults and validators, the typed field each is parsed into, and a docs line. Parsing,
 * defaults, DescribeConfigs and docs/configuration.md all follow this table. */
#ifndef FERRY_CONFIG_KEYS_H
#define FERRY_CONFIG_KEYS_H

#include "broker/config/config_value.h"

extern const struct config_key config_keys[];
extern const size_t config_keys_count;

/* Index of a key in config_keys, or -1. */
int config_key_find(const char *name);

#endif
