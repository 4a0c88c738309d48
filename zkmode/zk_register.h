/* zk_register: a legacy-mode broker's writes at start-up and registration, as Kafka 3.7's KafkaZkClient
 * does them: the persistent paths, /cluster/id (created or adopted), /brokers/seqid for generated broker
 * ids, and /brokers/ids/<id> through the checked ephemeral create (create(null, EPHEMERAL) + setData(json,
 * version 0) in one multi; on NODEEXISTS the ephemeral owner decides), whose czxid is the broker epoch.
 *
 * Every function is asynchronous on a zk_session; its `done` runs once from the loop with a ZooKeeper rc
 * (ZOK or an error). Ownership: a zk_registration is the caller's (it must stay put while a run is under
 * way); it copies the JSON it registers. */
#ifndef FERRY_ZK_REGISTER_H
#define FERRY_ZK_REGISTER_H

#include <stddef.h>
#include <stdint.h>

#include "zk_session.h"

/* Kafka's PersistentZkPaths, created (with parents) when missing. */
extern const char *const zk_persistent_paths[];

typedef void (*zk_rc_fn)(void *arg, int rc);

/* Creates every persistent path that is missing; done gets ZOK or the first error that is not NODEEXISTS. */
int zk_create_persistent_paths(struct zk_session *s, zk_rc_fn done, void *arg);

/* /cluster/id: reads it; when missing creates it (recursively) with new_id, and on NODEEXISTS reads the
 * winner's. done gets ZOK and the id (22 chars), or an error (a malformed node: ZAPIERROR, logged with its
 * path). */
typedef void (*zk_cluster_id_fn)(void *arg, int rc, const char *id);
int zk_cluster_id_get_or_create(struct zk_session *s, const char *new_id, zk_cluster_id_fn done, void *arg);

/* A generated broker id: setData(/brokers/seqid, empty, -1) (created when missing); the id is the new
 * zkVersion + reserved_broker_max_id. */
typedef void (*zk_broker_id_fn)(void *arg, int rc, int32_t broker_id);
int zk_generate_broker_id(struct zk_session *s, int32_t reserved_broker_max_id, zk_broker_id_fn done, void *arg);

/* The checked ephemeral registration of /brokers/ids/<id>. */
struct zk_registration {
    struct zk_session *s;
    int32_t broker_id;
    char *json;               /* what is registered (owned) */
    int len;
    char path[48];
    int64_t owner_session;    /* the session that created our node last (0: none) */
    int64_t czxid;            /* the broker epoch, -1 until registered */
    bool busy;
    void (*done)(void *arg, int rc, int64_t czxid);
    void *arg;
};
/* Registers json (copied) as /brokers/ids/<broker_id> in the current session. done: ZOK with the czxid;
 * ZNODEEXISTS when another session owns the node (a duplicate broker id, or a restart within the session
 * timeout). Run it again (same struct) after a new session: a node left by our own expired session is
 * deleted first (ZOOKEEPER-2985). FERRY_EINVAL when a run is under way. */
int zk_registration_run(struct zk_registration *r, struct zk_session *s, int32_t broker_id, const char *json,
                        void (*done)(void *arg, int rc, int64_t czxid), void *arg);
void zk_registration_free(struct zk_registration *r);

#endif
