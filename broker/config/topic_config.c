/* topic_config: see topic_config.h. One table of topic keys (Kafka 3.7's LogConfig definitions and
 * ServerTopicConfigSynonyms) drives defaults, parsing, rendering and DescribeConfigs. */
#include "broker/config/topic_config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_err.h"
#include "broker/config/config_internal.h"
#include "broker/config/config_value.h"

#define TF(f) offsetof(struct topic_config, f)
#define BF(f) offsetof(struct ferry_config, f)
#define NO_CHECK {0}
#define INT64_MAX_S "9223372036854775807"

#define TKEY(n, t, r, f, d, c, bf, doc_, ...)                                                                     \
    {.name = (n), .type = CONFIG_TYPE_##t, .repr = CONFIG_REPR_##r, .field = TF(f), .dflt = (d), .check = c,   \
     .broker_field = BF(bf), .doc = (doc_), .synonyms = {__VA_ARGS__}}

static const struct config_key topic_keys[] = {
    TKEY("cleanup.policy", LIST, CLEANUP, cleanup_policy, "delete", NO_CHECK, log_cleanup_policy,
         "delete (retention removes old segments), compact (keep the last record per key) or compact,delete.",
         "log.cleanup.policy"),
    TKEY("compression.type", STRING, COMPRESSION, compression_type, "producer", NO_CHECK, compression_type,
         "Accepted for compatibility, not used: batches are stored as the producer compressed them (never "
         "recompressed).",
         "compression.type"),
    TKEY("delete.retention.ms", LONG, I64, delete_retention_ms, "86400000", CHECK_AT_LEAST(0),
         log_cleaner_delete_retention_ms, "How long tombstones are kept in compacted topics.",
         "log.cleaner.delete.retention.ms"),
    TKEY("file.delete.delay.ms", LONG, I64, file_delete_delay_ms, "60000", CHECK_AT_LEAST(0),
         log_segment_delete_delay_ms, "Delay before a deleted segment's files are removed from disk.",
         "log.segment.delete.delay.ms"),
    TKEY("flush.messages", LONG, I64, flush_messages, INT64_MAX_S, CHECK_AT_LEAST(1), log_flush_interval_messages,
         "fsync the partition after this many messages.", "log.flush.interval.messages"),
    TKEY("flush.ms", LONG, I64, flush_ms, INT64_MAX_S, CHECK_AT_LEAST(0), log_flush_interval_ms,
         "fsync the partition when its oldest unflushed message is this old.", "log.flush.interval.ms",
         "log.flush.scheduler.interval.ms"),
    TKEY("index.interval.bytes", INT, I32, index_interval_bytes, "4096", CHECK_AT_LEAST(0), log_index_interval_bytes,
         "Bytes of records between two offset index entries.", "log.index.interval.bytes"),
    TKEY("max.compaction.lag.ms", LONG, I64, max_compaction_lag_ms, INT64_MAX_S, CHECK_AT_LEAST(1),
         log_cleaner_max_compaction_lag_ms, "Longest a record stays uncompacted.", "log.cleaner.max.compaction.lag.ms"),
    TKEY("max.message.bytes", INT, I32, max_message_bytes, "1048588", CHECK_AT_LEAST(0), message_max_bytes,
         "Largest record batch accepted (else MESSAGE_TOO_LARGE).", "message.max.bytes"),
    TKEY("message.downconversion.enable", BOOLEAN, BOOL, message_downconversion_enable, "true", NO_CHECK,
         log_message_downconversion_enable, "Accepted for compatibility, not used: Ferry serves only record batch v2.",
         "log.message.downconversion.enable"),
    TKEY("message.timestamp.after.max.ms", LONG, I64, message_timestamp_after_max_ms, INT64_MAX_S, CHECK_AT_LEAST(0),
         log_message_timestamp_after_max_ms,
         "Accepted for compatibility, not used: batch timestamps are not checked against it yet.",
         "log.message.timestamp.after.max.ms"),
    TKEY("message.timestamp.before.max.ms", LONG, I64, message_timestamp_before_max_ms, INT64_MAX_S,
         CHECK_AT_LEAST(0), log_message_timestamp_before_max_ms,
         "Accepted for compatibility, not used: batch timestamps are not checked against it yet.",
         "log.message.timestamp.before.max.ms"),
    TKEY("message.timestamp.difference.max.ms", LONG, I64, message_timestamp_difference_max_ms, INT64_MAX_S,
         CHECK_AT_LEAST(0), log_message_timestamp_difference_max_ms,
         "Accepted for compatibility, not used: batch timestamps are not checked against it yet.",
         "log.message.timestamp.difference.max.ms"),
    TKEY("message.timestamp.type", STRING, TIMESTAMP, message_timestamp_type, "CreateTime", NO_CHECK,
         log_message_timestamp_type, "CreateTime (the producer's) or LogAppendTime (the broker's clock).",
         "log.message.timestamp.type"),
    TKEY("min.cleanable.dirty.ratio", DOUBLE, DOUBLE, min_cleanable_dirty_ratio, "0.5", CHECK_BETWEEN(0, 1),
         log_cleaner_min_cleanable_ratio, "Compact when this share of the log is uncompacted.",
         "log.cleaner.min.cleanable.ratio"),
    TKEY("min.compaction.lag.ms", LONG, I64, min_compaction_lag_ms, "0", CHECK_AT_LEAST(0),
         log_cleaner_min_compaction_lag_ms, "Shortest time a record stays uncompacted.",
         "log.cleaner.min.compaction.lag.ms"),
    TKEY("min.insync.replicas", INT, I32, min_insync_replicas, "1", CHECK_AT_LEAST(1), min_insync_replicas,
         "acks=all fails with NOT_ENOUGH_REPLICAS below this ISR size.", "min.insync.replicas"),
    TKEY("preallocate", BOOLEAN, BOOL, preallocate, "false", NO_CHECK, log_preallocate,
         "Accepted for compatibility, not used: segment files are never preallocated.", "log.preallocate"),
    TKEY("retention.bytes", LONG, I64, retention_bytes, "-1", NO_CHECK, log_retention_bytes,
         "Delete old segments while the partition is larger than this (-1 = unlimited).", "log.retention.bytes"),
    TKEY("retention.ms", LONG, I64, retention_ms, "604800000", CHECK_AT_LEAST(-1), log_retention_ms,
         "Delete segments whose records are all older than this (-1 = unlimited).", "log.retention.ms",
         "log.retention.minutes", "log.retention.hours"),
    TKEY("segment.bytes", INT, I32, segment_bytes, "1073741824", CHECK_AT_LEAST(14), log_segment_bytes,
         "Roll a new segment at this size.", "log.segment.bytes"),
    TKEY("segment.index.bytes", INT, I32, segment_index_bytes, "10485760", CHECK_AT_LEAST(4), log_index_size_max_bytes,
         "Size of a segment's offset and time index files.", "log.index.size.max.bytes"),
    TKEY("segment.jitter.ms", LONG, I64, segment_jitter_ms, "0", CHECK_AT_LEAST(0), log_roll_jitter_ms,
         "Accepted for compatibility, not used: segments roll at segment.ms without jitter.", "log.roll.jitter.ms",
         "log.roll.jitter.hours"),
    TKEY("segment.ms", LONG, I64, segment_ms, "604800000", CHECK_AT_LEAST(1), log_roll_ms,
         "Roll a new segment when the active one is this old.", "log.roll.ms", "log.roll.hours"),
    TKEY("unclean.leader.election.enable", BOOLEAN, BOOL, unclean_leader_election_enable, "false", NO_CHECK,
         unclean_leader_election_enable, "Elect a leader outside the ISR when no ISR member is alive.",
         "unclean.leader.election.enable"),
};

#define TOPIC_KEY_COUNT (sizeof topic_keys / sizeof topic_keys[0])
_Static_assert(TOPIC_KEY_COUNT <= 32, "topic_config.overrides has one bit per key");

size_t topic_config_count(void) { return TOPIC_KEY_COUNT; }

const char *topic_config_key_at(size_t i) { return i < TOPIC_KEY_COUNT ? topic_keys[i].name : NULL; }

int topic_config_index(const char *key)
{
    if (!key)
        return -1;
    for (size_t i = 0; i < TOPIC_KEY_COUNT; i++)
        if (strcmp(topic_keys[i].name, key) == 0)
            return (int)i;
    return -1;
}

/* The broker's default for key i: its effective synonym value, or Kafka's topic default. */
static void load_default(struct topic_config *tc, size_t i)
{
    const struct config_key *k = &topic_keys[i];
    if (tc->broker)
        config_value_copy(k->repr, (char *)tc + k->field, (const char *)tc->broker + k->broker_field);
    else
        config_value_parse(k, k->dflt, tc, NULL, 0); /* static defaults always parse */
}

void topic_config_init(struct topic_config *tc, const struct ferry_config *broker)
{
    memset(tc, 0, sizeof *tc);
    tc->broker = broker;
    for (size_t i = 0; i < TOPIC_KEY_COUNT; i++)
        load_default(tc, i);
}

static int unknown_key(const char *key, char *err, size_t errlen)
{
    return config_fail(FERRY_ENOTFOUND, err, errlen, "unknown topic config '%s'", key ? key : "(null)");
}

int topic_config_set(struct topic_config *tc, const char *key, const char *value, char *err, size_t errlen)
{
    int i = topic_config_index(key);
    if (i < 0)
        return unknown_key(key, err, errlen);
    if (!value)
        return config_fail(FERRY_EINVAL, err, errlen, "invalid value null for key '%s'", key);
    struct topic_config next = *tc;
    char why[256];
    int rc = config_value_parse(&topic_keys[i], value, &next, why, sizeof why);
    if (rc == FERRY_ENOMEM)
        return config_fail(rc, err, errlen, "out of memory");
    if (rc < 0)
        return config_invalid(err, errlen, key, value, "%s", why);
    next.overrides |= 1u << i;
    *tc = next;
    return 0;
}

int topic_config_unset(struct topic_config *tc, const char *key)
{
    int i = topic_config_index(key);
    if (i < 0)
        return FERRY_ENOTFOUND;
    load_default(tc, (size_t)i);
    tc->overrides &= ~(1u << i);
    return 0;
}

int topic_config_validate(const struct topic_config *tc, char *err, size_t errlen)
{
    if (tc->min_compaction_lag_ms > tc->max_compaction_lag_ms) {
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)tc->min_compaction_lag_ms);
        return config_invalid(err, errlen, "min.compaction.lag.ms", v, "must not exceed max.compaction.lag.ms (%lld)",
                              (long long)tc->max_compaction_lag_ms);
    }
    return 0;
}

int topic_config_get(const struct topic_config *tc, const char *key, char *buf, size_t len)
{
    int i = topic_config_index(key);
    if (i < 0)
        return FERRY_ENOTFOUND;
    int n = config_value_render(&topic_keys[i], tc, buf, len);
    return n < 0 || (size_t)n >= len ? FERRY_ERANGE : 0;
}

bool topic_config_is_override(const struct topic_config *tc, const char *key)
{
    int i = topic_config_index(key);
    return i >= 0 && (tc->overrides & (1u << i));
}

int64_t topic_config_timestamp_before_max_ms(const struct topic_config *tc)
{
    return tc->message_timestamp_before_max_ms != INT64_MAX ? tc->message_timestamp_before_max_ms
                                                             : tc->message_timestamp_difference_max_ms;
}

int64_t topic_config_timestamp_after_max_ms(const struct topic_config *tc)
{
    return tc->message_timestamp_after_max_ms != INT64_MAX ? tc->message_timestamp_after_max_ms
                                                            : tc->message_timestamp_difference_max_ms;
}

int topic_config_describe_at(const struct topic_config *tc, size_t i, struct topic_config_entry *out, char *buf,
                             size_t len)
{
    if (i >= TOPIC_KEY_COUNT)
        return FERRY_ERANGE;
    const struct config_key *k = &topic_keys[i];
    int n = config_value_render(k, tc, buf, len);
    if (n < 0 || (size_t)n >= len)
        return FERRY_ERANGE;
    const char *synonym = k->synonyms[0];
    bool broker_set = false;
    for (size_t s = 0; s < CONFIG_MAX_SYNONYMS && k->synonyms[s] && tc->broker && !broker_set; s++) {
        if (config_is_set(tc->broker, k->synonyms[s])) {
            synonym = k->synonyms[s];
            broker_set = true;
        }
    }
    *out = (struct topic_config_entry){
        .name = k->name,
        .value = buf,
        .source = (tc->overrides & (1u << i))   ? CONFIG_SOURCE_DYNAMIC_TOPIC
                  : broker_set                  ? CONFIG_SOURCE_STATIC_BROKER
                                                : CONFIG_SOURCE_DEFAULT,
        .synonym = synonym,
        .type = k->type,
        .doc = k->doc,
    };
    return 0;
}
