/* zk_source: a legacy-mode broker's metadata source (broker/metadata/md_source.h): the ZooKeeper session,
 * the broker's registration, the controller election and the metadata read from ZooKeeper, seen through
 * the interface the data plane uses.
 *
 * zk_source_start blocks the caller (before the broker's loop runs, on a private loop) until ZooKeeper is
 * reachable (zookeeper.connection.timeout.ms; the chroot of zookeeper.connect is created when missing),
 * the persistent paths exist, /cluster/id is created or adopted, every log dir's meta.properties agrees
 * with it (version 0 written when missing) and /brokers/ids has been read. From then on everything runs
 * on the broker's loop: the broker registers when its listeners are bound (checked ephemeral create,
 * broker epoch = czxid), races for /controller, and the image follows /brokers/ids (one
 * RegisterBrokerRecord per live broker, with epoch = czxid; UnregisterBrokerRecord when one goes),
 * published as deltas. A session expiry resigns the controller, then the new session re-registers (new
 * epoch), re-reads the brokers and runs the election again. The controller's LeaderAndIsr, StopReplica and
 * UpdateMetadata reach the image through md_source's controller_request (zk_broker_api.h); the leader's ISR
 * proposals go to the controller as AlterPartition (alter_partition) and a stop is preceded by
 * ControlledShutdown (controlled_shutdown).
 *
 * Admin writes (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs, IncrementalAlterConfigs,
 * auto-creation, producer-id blocks) are done on any broker as Kafka's AdminZkClient writes them
 * (zk_admin.h); topic and broker configs follow /config and /config/changes into the image (zk_configs.c).
 *
 * Ownership: zk_source_start creates the source on the caller's loop; its `stop` operation starts the
 * clean shutdown (the session is closed, so the broker's ephemeral znodes go at once) and the source frees
 * itself as the loop runs. */
#ifndef FERRY_ZK_SOURCE_H
#define FERRY_ZK_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "broker/config/config.h"
#include "broker/metadata/md_source.h"

/* Starts the legacy-mode metadata source for `cfg` (which must outlive it). Returns 0 and fills *out, or a
 * negative FERRY_E* with a one-line reason in err that names the config key at fault. */
int zk_source_start(uv_loop_t *loop, const struct ferry_config *cfg, struct md_source *out, char *err, size_t errlen);

/* What the ZooKeeper side knows, for the broker's legacy-mode paths (impl is out->impl). */
int32_t zk_source_controller_id(const void *impl); /* -1 when none */
bool zk_source_is_controller(const void *impl);
int64_t zk_source_broker_epoch(const void *impl);  /* the czxid of /brokers/ids/<id>, -1 before registration */
int32_t zk_source_controller_epoch(const void *impl); /* the newest /controller_epoch read, -1 before any */
/* The STALE_CONTROLLER_EPOCH check for a request from a controller (LeaderAndIsr, UpdateMetadata,
 * StopReplica): true when controller_epoch is older than the newest epoch this broker knows (read from
 * /controller_epoch or seen in an earlier request); a newer one is remembered. */
bool zk_source_stale_controller_epoch(void *impl, int32_t controller_epoch);

#endif
