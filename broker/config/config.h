/* config: the broker's configuration, read from a YAML file whose keys are Kafka's property names
 * (`process.roles`, `log.dirs`, ...), with `--set KEY=VALUE` overrides on top, defaults as in Kafka 3.7
 * and Kafka's validation rules. See docs/configuration.md for every key.
 *
 * Ownership: config_load() fills a caller-owned `struct ferry_config`; every string, list and array
 * reached from it is owned by it and released by config_free(). Pointers returned by the helpers below
 * point into the config and live as long as it does. The config is read-only after loading; a
 * `struct topic_config` (topic_config.h) may keep a pointer to it, so it must outlive them.
 *
 * One table of key descriptors (config_keys.c) drives parsing, defaults, validation of single values and
 * the DescribeConfigs enumeration (config_describe_at). */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How the node keeps its cluster metadata; follows from the keys as in Kafka. */
enum ferry_mode {
    FERRY_MODE_QUORUM = 1,    /* process.roles set: KRaft-compatible metadata quorum (also a quorum broker
                               * during a migration, with zookeeper.metadata.migration.enable) */
    FERRY_MODE_LEGACY = 2,    /* zookeeper.connect without process.roles: metadata in ZooKeeper. With
                               * zookeeper.metadata.migration.enable this is a ZooKeeper-mode broker taking part
                               * in a migration (cfg->zookeeper_metadata_migration_enable). */
    FERRY_MODE_MIGRATION = 3, /* process.roles=controller + zookeeper.metadata.migration.enable + zookeeper.connect:
                               * a quorum controller migrating a ZooKeeper cluster */
};

/* Kafka's security protocols, numbered by their Kafka ids (as in RegisterBrokerRecord endpoints). */
enum config_security_protocol {
    CONFIG_SP_PLAINTEXT = 0,
    CONFIG_SP_SSL = 1,
    CONFIG_SP_SASL_PLAINTEXT = 2,
    CONFIG_SP_SASL_SSL = 3,
};

/* compression.type: the broker-side choices ("producer" keeps what the producer sent). */
enum config_compression {
    CONFIG_COMPRESSION_PRODUCER = 0,
    CONFIG_COMPRESSION_UNCOMPRESSED,
    CONFIG_COMPRESSION_GZIP,
    CONFIG_COMPRESSION_SNAPPY,
    CONFIG_COMPRESSION_LZ4,
    CONFIG_COMPRESSION_ZSTD,
};

/* message.timestamp.type / log.message.timestamp.type. */
enum config_timestamp_type {
    CONFIG_TIMESTAMP_CREATE_TIME = 0,
    CONFIG_TIMESTAMP_LOG_APPEND_TIME = 1,
};

/* cleanup.policy / log.cleanup.policy, as bits. */
#define CONFIG_CLEANUP_DELETE 1u
#define CONFIG_CLEANUP_COMPACT 2u

/* DescribeConfigs v1+ ConfigSource values used here. */
enum config_source {
    CONFIG_SOURCE_DYNAMIC_TOPIC = 1, /* DYNAMIC_TOPIC_CONFIG: a topic-level override */
    CONFIG_SOURCE_STATIC_BROKER = 4, /* STATIC_BROKER_CONFIG: set in the config file or by --set */
    CONFIG_SOURCE_DEFAULT = 5,       /* DEFAULT_CONFIG: Kafka's default */
};

/* Kafka's ConfigDef types, numbered as DescribeConfigs v3 reports them (ConfigType). */
enum config_type {
    CONFIG_TYPE_BOOLEAN = 1,
    CONFIG_TYPE_STRING = 2,
    CONFIG_TYPE_INT = 3,
    CONFIG_TYPE_SHORT = 4,
    CONFIG_TYPE_LONG = 5,
    CONFIG_TYPE_DOUBLE = 6,
    CONFIG_TYPE_LIST = 7,
    CONFIG_TYPE_CLASS = 8,
    CONFIG_TYPE_PASSWORD = 9,
};

struct config_strlist {
    char **items;
    size_t count;
};

/* One listener endpoint: `NAME://host:port`. Names are upper-cased as Kafka normalises them. */
struct config_listener {
    char *name;                             /* "PLAINTEXT", "CONTROLLER", ... */
    char *host;                             /* "" = all interfaces (listeners only) */
    uint16_t port;                          /* 0 = any free port (the bound port is advertised) */
    enum config_security_protocol protocol; /* from listener.security.protocol.map */
};

/* One entry of controller.quorum.voters: `id@host:port`. */
struct config_voter {
    int32_t id;
    char *host;
    uint16_t port;
};

/* One entry of listener.security.protocol.map (`NAME:PROTOCOL`), after Ferry's defaults. */
struct config_protocol_entry {
    char *listener_name;
    enum config_security_protocol protocol;
};

struct ferry_config {
    enum ferry_mode mode;

    /* identity and roles */
    int32_t node_id;   /* node.id; node.id and broker.id are synonyms (one set => both) */
    int32_t broker_id; /* broker.id; -1 in legacy mode = generated at registration */
    bool broker_id_generation_enable;
    int32_t reserved_broker_max_id;
    struct config_strlist process_roles;
    bool role_broker;     /* process.roles contains broker (always true in legacy mode) */
    bool role_controller; /* process.roles contains controller */
    char *broker_rack;    /* NULL = none */

    /* listeners */
    struct config_listener *listeners; /* listeners, in the order given */
    size_t n_listeners;
    struct config_listener *advertised; /* advertised.listeners or listeners minus controller listeners;
                                         * an empty host is replaced by this machine's host name */
    size_t n_advertised;
    struct config_protocol_entry *protocol_map;
    size_t n_protocol_map;
    struct config_strlist controller_listener_names; /* upper-cased */
    char *inter_broker_listener_name;                /* effective (from security.inter.broker.protocol by default) */
    enum config_security_protocol inter_broker_protocol;
    char *security_inter_broker_protocol;
    char *inter_broker_protocol_version;

    /* quorum (Raft) */
    struct config_voter *voters;
    size_t n_voters;
    int32_t controller_quorum_election_timeout_ms;
    int32_t controller_quorum_fetch_timeout_ms;
    int32_t controller_quorum_election_backoff_max_ms;
    int32_t controller_quorum_request_timeout_ms;
    int32_t controller_quorum_retry_backoff_ms;
    int32_t controller_quorum_append_linger_ms;
    int32_t controller_socket_timeout_ms; /* a broker's requests to the active controller */

    /* metadata log and broker lifecycle */
    char *metadata_log_dir; /* effective: metadata.log.dir, else the first of log_dirs */
    int32_t metadata_log_segment_bytes;
    int64_t metadata_log_segment_ms;
    int64_t metadata_log_max_record_bytes_between_snapshots;
    int64_t metadata_log_max_snapshot_interval_ms;
    int32_t metadata_max_idle_interval_ms;
    int64_t metadata_max_retention_bytes;
    int64_t metadata_max_retention_ms;
    int32_t broker_heartbeat_interval_ms;
    int32_t broker_session_timeout_ms;
    int32_t initial_broker_registration_timeout_ms;

    /* ZooKeeper */
    char *zookeeper_connect; /* NULL = not set */
    int32_t zookeeper_session_timeout_ms;
    int32_t zookeeper_connection_timeout_ms; /* effective: defaults to the session timeout */
    bool zookeeper_set_acl;
    char *zookeeper_auth_digest_file; /* Ferry's zookeeper.auth.digest.file: holds "user:password" (NULL = none) */
    int32_t zookeeper_max_in_flight_requests;
    bool zookeeper_metadata_migration_enable;

    /* topics, partitions, replication */
    int32_t num_partitions;
    int32_t default_replication_factor;
    bool auto_create_topics_enable;
    bool delete_topic_enable;
    bool auto_leader_rebalance_enable;
    int64_t leader_imbalance_check_interval_seconds;
    int32_t leader_imbalance_per_broker_percentage;
    bool unclean_leader_election_enable;
    int32_t min_insync_replicas;
    int64_t replica_lag_time_max_ms;
    int32_t replica_fetch_max_bytes;
    int32_t replica_fetch_wait_max_ms;
    int32_t replica_fetch_min_bytes;
    int32_t replica_fetch_response_max_bytes;
    int32_t replica_fetch_backoff_ms;
    int32_t replica_socket_timeout_ms;
    int64_t replica_high_watermark_checkpoint_interval_ms;
    int32_t num_replica_fetchers;
    bool controlled_shutdown_enable;
    int32_t controlled_shutdown_max_retries;
    int64_t controlled_shutdown_retry_backoff_ms;

    /* network and requests */
    int32_t message_max_bytes;
    int32_t socket_request_max_bytes;
    int32_t socket_send_buffer_bytes;
    int32_t socket_receive_buffer_bytes;
    int32_t socket_listen_backlog_size;
    int64_t connections_max_idle_ms;
    int32_t queued_max_requests;
    int32_t request_timeout_ms;
    int32_t max_connections;
    int32_t max_connections_per_ip;
    int32_t fetch_max_bytes;
    int32_t num_network_threads;
    int32_t num_io_threads;
    int32_t background_threads;
    int32_t num_recovery_threads_per_data_dir;

    /* partition logs (the broker defaults behind topic configs) */
    struct config_strlist log_dirs; /* effective: log.dirs, else log.dir */
    char *log_dir;
    int32_t log_segment_bytes;
    int64_t log_roll_ms; /* effective: log.roll.ms, else log.roll.hours in ms */
    int32_t log_roll_hours;
    int64_t log_roll_jitter_ms; /* effective: log.roll.jitter.ms, else log.roll.jitter.hours in ms */
    int32_t log_roll_jitter_hours;
    int64_t log_retention_ms; /* effective: ms > minutes > hours; any negative value = -1 (unlimited) */
    int32_t log_retention_minutes;
    int32_t log_retention_hours;
    int64_t log_retention_bytes;
    int64_t log_retention_check_interval_ms;
    int64_t log_flush_interval_messages;
    int64_t log_flush_interval_ms; /* effective: log.flush.interval.ms, else log.flush.scheduler.interval.ms */
    int64_t log_flush_scheduler_interval_ms;
    int32_t log_flush_offset_checkpoint_interval_ms;
    int32_t log_flush_start_offset_checkpoint_interval_ms;
    int32_t log_index_interval_bytes;
    int32_t log_index_size_max_bytes;
    unsigned log_cleanup_policy; /* CONFIG_CLEANUP_* bits */
    bool log_cleaner_enable;
    int32_t log_cleaner_threads;
    int64_t log_cleaner_backoff_ms;
    int64_t log_cleaner_delete_retention_ms;
    int64_t log_cleaner_min_compaction_lag_ms;
    int64_t log_cleaner_max_compaction_lag_ms;
    double log_cleaner_min_cleanable_ratio;
    enum config_timestamp_type log_message_timestamp_type;
    int64_t log_message_timestamp_difference_max_ms;
    int64_t log_message_timestamp_before_max_ms;
    int64_t log_message_timestamp_after_max_ms;
    bool log_message_downconversion_enable;
    bool log_preallocate;
    int64_t log_segment_delete_delay_ms;
    enum config_compression compression_type;

    /* groups, offsets, transactions */
    int32_t group_initial_rebalance_delay_ms;
    int32_t group_min_session_timeout_ms;
    int32_t group_max_session_timeout_ms;
    int32_t group_max_size;
    int32_t offsets_topic_num_partitions;
    int16_t offsets_topic_replication_factor;
    int32_t offsets_topic_segment_bytes;
    int32_t offsets_retention_minutes;
    int64_t offsets_retention_check_interval_ms;
    int32_t offsets_commit_timeout_ms;
    int32_t offset_metadata_max_bytes;
    int32_t producer_id_expiration_ms;
    int32_t transactional_id_expiration_ms;
    int32_t transaction_max_timeout_ms;
    int32_t transaction_state_log_num_partitions;
    int16_t transaction_state_log_replication_factor;
    int32_t transaction_state_log_min_isr;
    int32_t transaction_state_log_segment_bytes;

    /* internal: per key of the table, its canonical text when set in the file or by --set, else NULL */
    char **given;
};

/* Load the configuration. `path` NULL = Ferry's built-in single node (examples/single-node.yaml).
 * `overrides` are "KEY=VALUE" strings applied on top, later ones winning. On error returns a negative
 * FERRY_E* code, writes a one-line message into `err` (naming the key and value, or the file and line)
 * and leaves `cfg` zeroed: FERRY_ENOTFOUND (no such file), FERRY_EIO (unreadable), FERRY_EPARSE
 * (malformed YAML), FERRY_EINVAL (invalid or missing value), FERRY_ENOMEM.
 * Unknown keys are logged (LOG_WARN) and ignored. */
int config_load(struct ferry_config *cfg, const char *path, const char *const *overrides, size_t n_overrides, char *err,
                size_t errlen);
void config_free(struct ferry_config *cfg);

enum ferry_mode config_mode(const struct ferry_config *cfg);
const char *config_mode_name(enum ferry_mode mode); /* "quorum", "legacy", "migration" */
const char *config_security_protocol_name(enum config_security_protocol p);
const char *config_compression_name(enum config_compression c);

/* The listener called `name` (case-insensitive) in listeners / in the advertised endpoints, or NULL. */
const struct config_listener *config_listener(const struct ferry_config *cfg, const char *name);
const struct config_listener *config_advertised(const struct ferry_config *cfg, const char *name);
/* The security protocol mapped to a listener name (also for controller listeners a broker-only node
 * does not listen on). 0 or FERRY_ENOTFOUND. */
int config_listener_protocol(const struct ferry_config *cfg, const char *name, enum config_security_protocol *out);
/* The voter with this id, or NULL. */
const struct config_voter *config_voter(const struct ferry_config *cfg, int32_t id);

/* Effective values Kafka derives from several keys (also in the fields above). */
int64_t config_log_roll_ms(const struct ferry_config *cfg);
int64_t config_log_retention_ms(const struct ferry_config *cfg); /* -1 = unlimited */
int64_t config_log_flush_interval_ms(const struct ferry_config *cfg);

/* Whether `key` was set in the config file or by --set (the built-in single node counts as a file). */
bool config_is_set(const struct ferry_config *cfg, const char *key);

/* DescribeConfigs for the broker resource: every key Ferry knows, by index. */
struct config_entry {
    const char *name;
    const char *value;         /* Kafka's string form; NULL when the key is null (no value, no default) */
    enum config_source source; /* STATIC_BROKER when set in the file or by --set, DEFAULT otherwise */
    enum config_type type;
    bool read_only; /* always true: Ferry does not change broker configs at run time */
    bool sensitive;
    const char *doc; /* what Ferry does with the key */
};
size_t config_key_count(void);
/* 0, or FERRY_ERANGE when i >= config_key_count(). */
int config_describe_at(const struct ferry_config *cfg, size_t i, struct config_entry *out);
/* 0, or FERRY_ENOTFOUND for a key Ferry does not know. */
int config_describe(const struct ferry_config *cfg, const char *name, struct config_entry *out);

#endif
