/* zk_elect: the ZooKeeper-mode controller election and its fencing, as Kafka 3.7's KafkaController and
 * KafkaZkClient.registerControllerAndIncrementControllerEpoch do it (shared/reference/zk-layout.md §2):
 *  - every broker watches /controller and reads it (with /controller_epoch, pipelined); when it is absent
 *    the broker races: one multi of create(/controller, version 2 JSON, EPHEMERAL) and
 *    setData(/controller_epoch, E+1, version V) (/controller_epoch is created with "0" when missing);
 *  - NODEEXISTS or BADVERSION (also after a retry following a connection loss) re-reads both nodes: the
 *    broker won only if /controller holds its id and the epoch is E+1, otherwise it lost;
 *  - a watch event on /controller re-runs the read (and the race when it is gone); a controller that sees
 *    another id there, or whose session expires, resigns at once;
 *  - zk_elect_fenced_multi builds every later controller write as a multi that starts with
 *    check(/controller_epoch, epoch zkVersion); a failed check resigns.
 * Every broker keeps the newest controller epoch it has read (for STALE_CONTROLLER_EPOCH checks).
 *
 * Ownership: the caller owns the struct (it must stay put) and the session; callbacks run on the loop. */
#ifndef FERRY_ZK_ELECT_H
#define FERRY_ZK_ELECT_H

#include <stdbool.h>
#include <stdint.h>

#include "zk_session.h"

struct zk_elect_cbs {
    /* This broker is the controller: epoch (the value in /controller_epoch) and its zkVersion. */
    void (*became)(void *arg, int32_t epoch, int32_t epoch_zkversion);
    /* This broker stopped being the controller. */
    void (*resigned)(void *arg);
    /* The controller id read from /controller changed (-1: none). */
    void (*controller_changed)(void *arg, int32_t controller_id);
};

struct zk_elect {
    struct zk_session *s;
    int32_t broker_id;
    struct zk_elect_cbs cbs;
    void *arg;
    bool started;
    bool active;               /* this broker is the controller */
    int32_t epoch;             /* while active: our epoch */
    int32_t epoch_zkversion;   /* while active: the fencing token */
    int32_t controller_id;     /* -1 when unknown or none */
    int32_t kraft_controller_epoch; /* > 0 when a KRaft controller holds /controller */
    int32_t known_epoch;       /* the newest /controller_epoch value read, -1 before any */
    /* one read-and-race at a time */
    bool busy;
    bool again;
    int pending;               /* answers awaited in the current read */
    bool epoch_read;           /* /controller_epoch answered in this read */
    int epoch_rc;
    int32_t read_epoch;
    int32_t read_epoch_zkversion;
    int ctrl_rc;
    int32_t ctrl_id;
    int32_t ctrl_kraft_epoch;
    int32_t ctrl_zkversion;
    bool fenced_out;           /* our fenced write failed: our own /controller is deleted (at its version) */
    bool racing;               /* the multi is out: resolve NODEEXISTS/BADVERSION by re-reading */
    int32_t race_epoch;        /* E + 1 of our attempt */
};

/* Starts watching /controller and runs the first read/race. 0 or FERRY_ENOMEM. */
int zk_elect_start(struct zk_elect *e, struct zk_session *s, int32_t broker_id, const struct zk_elect_cbs *cbs,
                   void *arg);
/* Session expiry: resign at once (ZooKeeper removes the ephemeral /controller). */
void zk_elect_session_expired(struct zk_elect *e);
/* A new session (after expiry) is connected: read and race again. */
void zk_elect_new_session(struct zk_elect *e);
/* Stops reacting (shutdown): resigns without writing; the closing session removes /controller. */
void zk_elect_stop(struct zk_elect *e);

/* A controller write: `ops` preceded by check(/controller_epoch, epoch_zkversion) in one multi.
 * FERRY_EINVAL when this broker is not the controller (NOT_CONTROLLER). done's results[0] is the check;
 * a failed check (the controller moved) resigns before done runs. */
int zk_elect_fenced_multi(struct zk_elect *e, const struct zk_op *ops, int n, zk_done_fn done, void *arg);

/* The controller learnt another way that it was displaced (the controller core's RESIGN action: a fenced
 * write's check failed): resign now, free our own stale /controller if it still names us, race again. */
void zk_elect_controller_moved(struct zk_elect *e);

/* STALE_CONTROLLER_EPOCH check for a request from a controller: true when epoch is older than the newest
 * known; a newer epoch is remembered. */
bool zk_elect_stale_epoch(struct zk_elect *e, int32_t controller_epoch);

#endif
