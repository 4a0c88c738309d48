/* znode_codec: the JSON (and plain-text) contents of the ZooKeeper znodes Kafka 3.7 uses, as pure codecs.
 * No ZooKeeper I/O here: bytes in, structs out, and back (reference: shared/reference/zk-layout.md).
 *
 * Decoding is strict: the input must be one JSON object with the types Kafka writes (numbers that Kafka
 * stores as strings must be strings, and the other way round), every required key present, a known
 * version; unknown keys are ignored, as Kafka does. Duplicate keys and trailing bytes are rejected.
 * Failures return FERRY_EPARSE (malformed), FERRY_ERANGE (a number out of range) or FERRY_EUNSUPPORTED
 * (unknown version), FERRY_ENOMEM; when `err` is not NULL it receives a message naming the field
 * (e.g. "partitions.\"x\": partition key is not a decimal string").
 *
 * Encoding writes compact JSON with the keys in the order Kafka 3.7 writes them in the examples of
 * zk-layout.md, so that a znode written by Kafka decodes and re-encodes byte-identically.
 *
 * Ownership: a decoder fills a caller-provided struct, whose strings and arrays it allocates with
 * ferry_malloc; the caller releases them with the struct's zk_*_free (which leaves the struct zeroed and
 * accepts a zeroed struct). On failure the struct is left zeroed. Encoders return a NUL-terminated
 * ferry_malloc'd string in *out (length in *out_len, may be NULL) that the caller ferry_free()s.
 * JSON goes through jansson, which allocates with its own malloc: this module does not call
 * json_set_alloc_funcs (that would be process-wide), so only the result copies go through ferry_alloc. */
#ifndef FERRY_ZK_ZNODE_CODEC_H
#define FERRY_ZK_ZNODE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/proto/proto_types.h"

typedef struct {
    char msg[200];
} zk_err;

/* An ordered string -> string map (listener protocol map, config values). */
typedef struct {
    size_t n;
    char **keys;
    char **values;
} zk_str_map;
void zk_str_map_free(zk_str_map *m);
/* Appends copies of key and value: 0 or FERRY_ENOMEM. */
int zk_str_map_add(zk_str_map *m, const char *key, const char *value);
const char *zk_str_map_get(const zk_str_map *m, const char *key);

/* ---- /brokers/ids/<id> (version 5; 4 is read: no "features") ---- */
typedef struct {
    char *name;
    int16_t min_version;
    int16_t max_version;
} zk_broker_feature;

typedef struct {
    int32_t version;              /* 4 or 5 */
    zk_str_map protocol_map;      /* listener_security_protocol_map, listener name -> protocol */
    size_t n_endpoints;
    char **endpoints;             /* "LISTENER://host:port" */
    char *rack;                   /* NULL: no "rack" key */
    int32_t jmx_port;             /* -1 by default */
    char *host;                   /* NULL: JSON null (no PLAINTEXT endpoint) */
    int32_t port;                 /* -1 when there is none */
    int64_t timestamp;            /* ms, written as a string */
    size_t n_features;            /* version 5 only */
    zk_broker_feature *features;
} zk_broker_info;
int zk_broker_info_decode(const char *data, size_t len, zk_broker_info *out, zk_err *err);
int zk_broker_info_encode(const zk_broker_info *b, char **out, size_t *out_len);
void zk_broker_info_free(zk_broker_info *b);

/* One endpoint string, "LISTENER://host:port" (IPv6 hosts in brackets, which are dropped), as Kafka's
 * EndPoint.createEndPoint parses it: the host may be empty; port 0..65535. listener and host are
 * ferry_malloc'd (zk_endpoint_free). 0 or FERRY_EPARSE/FERRY_ERANGE/FERRY_ENOMEM. */
typedef struct {
    char *listener;
    char *host;
    int32_t port;
} zk_endpoint;
int zk_endpoint_parse(const char *s, zk_endpoint *out);
void zk_endpoint_free(zk_endpoint *ep);

/* ---- /controller (version 2; 1 is read) ---- */
typedef struct {
    int32_t version;               /* 1 or 2 */
    int32_t broker_id;
    int64_t timestamp;             /* ms, written as a string */
    bool has_kraft_controller_epoch;
    int32_t kraft_controller_epoch; /* -1 when absent; > 0 means a KRaft controller */
} zk_controller;
int zk_controller_decode(const char *data, size_t len, zk_controller *out, zk_err *err);
int zk_controller_encode(const zk_controller *c, char **out, size_t *out_len);

/* ---- /controller_epoch: a bare decimal integer, not JSON ---- */
int zk_controller_epoch_decode(const char *data, size_t len, int32_t *epoch, zk_err *err);
int zk_controller_epoch_encode(int32_t epoch, char **out, size_t *out_len);

/* ---- /brokers/topics/<t> (version 3; 1 and 2 are read) ---- */
typedef struct {
    int32_t partition;
    size_t n_replicas;
    int32_t *replicas;
} zk_partition_replicas;

typedef struct {
    int32_t version;                    /* 1..3 */
    size_t n_partitions;
    zk_partition_replicas *partitions;  /* in the order of the JSON object */
    size_t n_adding;
    zk_partition_replicas *adding;      /* adding_replicas (absent = empty) */
    size_t n_removing;
    zk_partition_replicas *removing;    /* removing_replicas (absent = empty) */
    bool has_topic_id;
    proto_uuid topic_id;
} zk_topic_assignment;
int zk_topic_assignment_decode(const char *data, size_t len, zk_topic_assignment *out, zk_err *err);
/* Version 1 writes only partitions; 2 adds adding/removing_replicas; 3 adds topic_id when has_topic_id. */
int zk_topic_assignment_encode(const zk_topic_assignment *t, char **out, size_t *out_len);
void zk_topic_assignment_free(zk_topic_assignment *t);

/* ---- /brokers/topics/<t>/partitions/<n>/state (version 1) ---- */
typedef struct {
    int32_t controller_epoch;
    int32_t leader;                /* -1: no leader */
    int32_t leader_epoch;
    size_t n_isr;
    int32_t *isr;
    int8_t leader_recovery_state;  /* 0 (absent) or 1 (RECOVERING); written only when 1 */
} zk_partition_state;
int zk_partition_state_decode(const char *data, size_t len, zk_partition_state *out, zk_err *err);
int zk_partition_state_encode(const zk_partition_state *s, char **out, size_t *out_len);
void zk_partition_state_free(zk_partition_state *s);

/* ---- /config/<type>/<entity> (version 1) ---- */
typedef struct {
    zk_str_map config;  /* every value a string */
} zk_config_entity;
int zk_config_entity_decode(const char *data, size_t len, zk_config_entity *out, zk_err *err);
int zk_config_entity_encode(const zk_config_entity *c, char **out, size_t *out_len);
void zk_config_entity_free(zk_config_entity *c);

/* ---- /config/changes/config_change_N (version 2; version 1 is read) ---- */
typedef struct {
    int32_t version;    /* 1 or 2 */
    char *entity_path;  /* version 2: "topics/orders" */
    char *entity_type;  /* version 1 only */
    char *entity_name;  /* version 1 only */
} zk_config_change;
int zk_config_change_decode(const char *data, size_t len, zk_config_change *out, zk_err *err);
int zk_config_change_encode(const zk_config_change *c, char **out, size_t *out_len);
void zk_config_change_free(zk_config_change *c);

/* Sequential child names: "<prefix>" followed by ZooKeeper's 10-digit counter, e.g.
 * zk_sequential_parse("config_change_", "config_change_0000000042", &n) -> n = 42. 0 or FERRY_EPARSE. */
int zk_sequential_parse(const char *prefix, const char *name, int64_t *seq);

/* /admin/delete_topics/<t> (null data): the child name is a topic name; true when it is a legal Kafka
 * topic name (1..249 of [a-zA-Z0-9._-], not "." or ".."). */
bool zk_topic_name_valid(const char *name);

/* ---- /cluster/id (version "1", a string) ---- */
typedef struct {
    char *id;  /* url-safe base64 UUID, 22 characters, as Kafka generates it */
} zk_cluster_id;
int zk_cluster_id_decode(const char *data, size_t len, zk_cluster_id *out, zk_err *err);
int zk_cluster_id_encode(const zk_cluster_id *c, char **out, size_t *out_len);
void zk_cluster_id_free(zk_cluster_id *c);

/* ---- /feature (version 2; 1 is read) ---- */
typedef struct {
    char *name;
    bool has_min;               /* version 1 stored min_version_level too */
    int16_t min_version_level;
    int16_t max_version_level;
} zk_feature_level;
typedef struct {
    int32_t version;  /* 1 or 2 */
    int32_t status;   /* 1 enabled, 0 disabled */
    size_t n_features;
    zk_feature_level *features;
} zk_feature_znode;
int zk_feature_decode(const char *data, size_t len, zk_feature_znode *out, zk_err *err);
int zk_feature_encode(const zk_feature_znode *f, char **out, size_t *out_len);
void zk_feature_free(zk_feature_znode *f);

/* ---- /latest_producer_id_block (version 1; empty data means the next block is 0..999: the caller checks
 * for empty data before decoding, decode refuses it) ---- */
typedef struct {
    int32_t broker;
    int64_t block_start;  /* written as a string */
    int64_t block_end;    /* written as a string */
} zk_producer_id_block;
int zk_producer_id_block_decode(const char *data, size_t len, zk_producer_id_block *out, zk_err *err);
int zk_producer_id_block_encode(const zk_producer_id_block *p, char **out, size_t *out_len);

/* ---- /brokers/seqid: empty data; the new zkVersion after setData(-1) is the sequence number ---- */
#define ZK_RESERVED_BROKER_MAX_ID 1000
/* The automatic broker id for a seqid zkVersion: seq + reserved (1000 by default). FERRY_ERANGE on overflow. */
int zk_seqid_broker_id(int32_t seq_zkversion, int32_t reserved_broker_max_id, int32_t *broker_id);

/* ---- /migration (version 0; KRaft migration) ---- */
typedef struct {
    int32_t kraft_controller_id;
    int32_t kraft_controller_epoch;
    int64_t kraft_metadata_offset;
    int32_t kraft_metadata_epoch;
} zk_migration_state;
int zk_migration_decode(const char *data, size_t len, zk_migration_state *out, zk_err *err);
int zk_migration_encode(const zk_migration_state *m, char **out, size_t *out_len);

/* ---- /admin/reassign_partitions and /admin/preferred_replica_election (version 1) ----
 * {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[4,5,6]}]}, and without "replicas" for the
 * preferred election. Kafka's older tools write them; the controller acts on them and deletes them. */
typedef struct {
    char *topic;
    int32_t partition;
    size_t n_replicas;   /* reassignment only */
    int32_t *replicas;
} zk_admin_partition;
typedef struct {
    size_t n;
    zk_admin_partition *partitions;
} zk_admin_partitions;
/* Reassignment entries need "replicas" (an array of broker ids); the preferred election has none. */
int zk_reassignment_decode(const char *data, size_t len, zk_admin_partitions *out, zk_err *err);
int zk_reassignment_encode(const zk_admin_partitions *r, char **out, size_t *out_len);
int zk_preferred_election_decode(const char *data, size_t len, zk_admin_partitions *out, zk_err *err);
int zk_preferred_election_encode(const zk_admin_partitions *r, char **out, size_t *out_len);
void zk_admin_partitions_free(zk_admin_partitions *r);

#endif
