/* zk_admin: a legacy-mode broker's admin writes, done as Kafka 3.7's ZooKeeper-mode AdminZkClient does
 * them, on ANY broker (not only the controller; see docs/architecture.md "Admin in legacy mode"):
 *
 *  - every operation first reads what it needs from ZooKeeper (the children of /brokers/topics; the
 *    assignments of the topics it names; the /config entities it changes) into a scratch image together
 *    with the live brokers of the broker's image, then runs the quorum controller's pure decision
 *    (kraftmode/ctrl.h: the same validation, errors and rack-aware placement), and turns the records it
 *    produces into znode writes:
 *      CreateTopics / auto-creation: /config/topics/T (version 1, even when empty, no notification), then
 *        /brokers/topics/T (version 3, string partition keys, a new topic_id) as createTopicWithAssignment;
 *        NODEEXISTS answers TOPIC_ALREADY_EXISTS (unless the znode holds our own topic id: a retry after
 *        connection loss);
 *      DeleteTopics: /admin/delete_topics/T (an existing marker is success, as Kafka swallows
 *        TopicAlreadyMarkedForDeletion); delete.topic.enable=false answers TOPIC_DELETION_DISABLED;
 *      CreatePartitions: setData of /brokers/topics/T with the old plus the new partitions, conditional
 *        on the zkVersion read (BADVERSION: UNKNOWN_SERVER_ERROR "concurrent change; retry");
 *      AlterConfigs / IncrementalAlterConfigs (TOPIC and BROKER resources): the whole entity written to
 *        /config/topics/T or /config/brokers/<id|<default>>, then a /config/changes/config_change_
 *        notification {"version":2,"entity_path":"topics/T"} (zk_config_write);
 *  - like Kafka's ZkAdminManager, CreateTopics with timeout_ms > 0 (and not validate_only) answers once
 *    every created partition has a leader in this broker's image, or at the timeout with
 *    REQUEST_TIMED_OUT for the topics still without; DeleteTopics likewise until the topics left the image.
 *    timeout_ms <= 0 answers as soon as the znodes are written.
 *  - producer-id blocks: /latest_producer_id_block as ZkProducerIdManager (read, next block of 1000,
 *    conditional setData with the zkVersion read, again on BADVERSION);
 *  - /feature: the controller creates {"features":{},"version":2,"status":1} when missing and enables a
 *    disabled one, as KafkaController.enableFeatureVersioning.
 *
 * Every completion runs from the loop, never inside the call that started it, and never after stop. */
#ifndef FERRY_ZK_ADMIN_H
#define FERRY_ZK_ADMIN_H

#include "broker/metadata/md_source.h"

struct zk_src;

void zk_admin_create_topics(void *impl, const struct CreateTopicsRequest *req, int16_t version, struct proto_arena *a,
                            struct CreateTopicsResponse *resp, md_done_fn done, void *arg);
void zk_admin_delete_topics(void *impl, const struct DeleteTopicsRequest *req, int16_t version, struct proto_arena *a,
                            struct DeleteTopicsResponse *resp, md_done_fn done, void *arg);
void zk_admin_create_partitions(void *impl, const struct CreatePartitionsRequest *req, int16_t version,
                                struct proto_arena *a, struct CreatePartitionsResponse *resp, md_done_fn done,
                                void *arg);
void zk_admin_alter_configs(void *impl, const struct AlterConfigsRequest *req, int16_t version, struct proto_arena *a,
                            struct AlterConfigsResponse *resp, md_done_fn done, void *arg);
void zk_admin_incremental_alter_configs(void *impl, const struct IncrementalAlterConfigsRequest *req,
                                        int16_t version, struct proto_arena *a,
                                        struct IncrementalAlterConfigsResponse *resp, md_done_fn done, void *arg);
void zk_admin_auto_create_topics(void *impl, const char *const *names, size_t n, md_done_fn done, void *arg);
void zk_admin_allocate_producer_ids(void *impl, int32_t broker_id, int64_t broker_epoch, md_pids_done_fn done,
                                    void *arg);
/* The controller's /feature set-up (on becoming the controller). */
void zk_admin_setup_feature(struct zk_src *z);
/* The periodic check of operations waiting for the image (CreateTopics/DeleteTopics with a timeout). */
void zk_admin_tick(struct zk_src *z);
/* At stop: every pending operation is dropped without its completion. */
void zk_admin_stop(struct zk_src *z);

/* Writes the whole config of /config/<type>/<entity> (set, or create when missing, as Kafka's
 * setOrCreateEntityConfigs), then, when notify, the persistent-sequential /config/changes/config_change_
 * with {"version":2,"entity_path":"<type>/<entity>"}. done(arg, rc) gets ZOK or the failing ZooKeeper
 * code (from the loop). 0 or FERRY_ENOMEM (done will not run). */
int zk_config_write(struct zk_src *z, const char *type, const char *entity, const char *json, bool notify,
                    void (*done)(void *arg, int rc), void *arg);

#endif
