/* topic_config: a topic's configuration (Kafka's topic-level keys: cleanup.policy, retention.ms, ...),
 * for CreateTopics configs, AlterConfigs / IncrementalAlterConfigs and DescribeConfigs.
 *
 * Each key's value is either a topic-level override or the broker's default for it, taken from the
 * broker's synonym key (retention.ms <- log.retention.ms / .minutes / .hours, max.message.bytes <-
 * message.max.bytes, ...), exactly as Kafka derives them.
 *
 * Ownership: a `struct topic_config` holds no heap memory and may be copied by value. It keeps a
 * borrowed pointer to the broker's `struct ferry_config` (NULL = Kafka's own defaults), which must outlive
 * it. Nothing here logs; errors are returned with a message in a caller buffer, which the broker turns into
 * INVALID_CONFIG. Cross-key rules (min.compaction.lag.ms <= max.compaction.lag.ms) are checked by
 * topic_config_validate(), once all keys of a request are set. */
#ifndef FERRY_TOPIC_CONFIG_H
#define FERRY_TOPIC_CONFIG_H

#include "broker/config/config.h"

struct topic_config {
    unsigned cleanup_policy; /* CONFIG_CLEANUP_* bits */
    int64_t retention_ms;    /* -1 = unlimited */
    int64_t retention_bytes; /* -1 = unlimited */
    int32_t segment_bytes;
    int64_t segment_ms;
    int64_t segment_jitter_ms;
    int64_t flush_messages;
    int64_t flush_ms;
    int32_t max_message_bytes;
    int32_t min_insync_replicas;
    int64_t delete_retention_ms;
    int64_t min_compaction_lag_ms;
    int64_t max_compaction_lag_ms;
    double min_cleanable_dirty_ratio;
    int32_t index_interval_bytes;
    int32_t segment_index_bytes;
    enum config_timestamp_type message_timestamp_type;
    int64_t message_timestamp_difference_max_ms;
    int64_t message_timestamp_before_max_ms;
    int64_t message_timestamp_after_max_ms;
    enum config_compression compression_type;
    bool unclean_leader_election_enable;
    int64_t file_delete_delay_ms;
    bool preallocate;
    bool message_downconversion_enable;

    uint32_t overrides;                /* bit i: key i (topic_config_key_at) is a topic-level override */
    const struct ferry_config *broker; /* borrowed; NULL = Kafka's defaults */
};

/* Every key at the broker's default (no overrides). `broker` may be NULL. */
void topic_config_init(struct topic_config *tc, const struct ferry_config *broker);

/* Set one key from Kafka's string form, as an override. 0; FERRY_ENOTFOUND for a key that is not a topic
 * config; FERRY_EINVAL for a bad value (tc unchanged). `err` receives a one-line reason. */
int topic_config_set(struct topic_config *tc, const char *key, const char *value, char *err, size_t errlen);
/* Drop the override: the key goes back to the broker's default. 0 or FERRY_ENOTFOUND. */
int topic_config_unset(struct topic_config *tc, const char *key);
/* Checks across keys, after a batch of sets. 0 or FERRY_EINVAL with a reason. */
int topic_config_validate(const struct topic_config *tc, char *err, size_t errlen);

/* The current value as Kafka's string ("604800000", "compact,delete", "0.5", "true"). 0, FERRY_ENOTFOUND,
 * or FERRY_ERANGE when `len` is too small. */
int topic_config_get(const struct topic_config *tc, const char *key, char *buf, size_t len);
bool topic_config_is_override(const struct topic_config *tc, const char *key);

/* Kafka 3.7's timestamp bounds: message.timestamp.before/after.max.ms, falling back to the deprecated
 * message.timestamp.difference.max.ms while they are at their defaults. */
int64_t topic_config_timestamp_before_max_ms(const struct topic_config *tc);
int64_t topic_config_timestamp_after_max_ms(const struct topic_config *tc);

/* Enumeration, for DescribeConfigs. */
struct topic_config_entry {
    const char *name;
    const char *value;         /* rendered into the caller's buffer */
    enum config_source source; /* DYNAMIC_TOPIC (override), STATIC_BROKER (synonym set on the broker), DEFAULT */
    const char *synonym;       /* the broker key behind the default: the first synonym set on the broker,
                                * else Kafka's primary synonym */
    enum config_type type;
    const char *doc;
};
size_t topic_config_count(void);
const char *topic_config_key_at(size_t i); /* NULL when out of range */
/* 0, FERRY_ERANGE (i out of range or buffer too small). */
int topic_config_describe_at(const struct topic_config *tc, size_t i, struct topic_config_entry *out, char *buf,
                             size_t len);
/* Index of a key, or -1. */
int topic_config_index(const char *key);

#endif
