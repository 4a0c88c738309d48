/* ctrl_app: the quorum controller and the metadata image as the application of the simulated cluster
 * (raft_sim --app ctrl, see tests/sim/README.md).
 *
 *  - struct ctrl_app is one node's state machine: a real metadata image (broker/metadata md_image) fed by
 *    kraftmode's metalog_loader with the committed record batches exactly as they are on disk, snapshots
 *    that are the image serialized as kraftmode/snapshot writes it, a canonical digest of the image (its
 *    snapshot records, encoded), and the controller-level invariants. When its node leads it becomes the
 *    active controller, as Kafka's does: once it has applied its whole log, it copies its image into
 *    the latest (in-memory) image and rebuilds the broker heartbeat tracker (ctrl_heartbeats); from
 *    then on it decides against the latest image, which takes each decision's records at once,
 *    committed or not, so decisions pipeline. Losing the leadership (another epoch) drops that state.
 *  - struct ctrl_clients is the outside world: simulated brokers that register, heartbeat (or fall silent
 *    and get fenced), shut down, restart and unregister, and admin clients that create, delete and grow
 *    topics, alter configs, elect leaders, shrink and expand ISRs and allocate producer ids. Each step
 *    asks the active controller (the pure decisions of kraftmode/ctrl.h, against its latest image) for
 *    one operation and returns its records as one record batch (kraftmode/metalog_record).
 *
 * Every random choice comes from the caller's generator, so a run replays from its seed. Functions return
 * 0 or a negative FERRY_E* (a setup or memory error, which the simulator reports as a failure). */
#ifndef FERRY_SIM_CTRL_APP_H
#define FERRY_SIM_CTRL_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Test-only faults, to prove the invariants catch a broken application or controller. */
enum ctrl_app_bug {
    CTRL_APP_BUG_NONE = 0,
    CTRL_APP_BUG_APPLY_TWICE = 1 << 0,        /* node 2 applies every committed data batch twice */
    CTRL_APP_BUG_FENCE_KEEPS_LEADER = 1 << 1, /* fencing or shutting down a broker leaves its leaderships */
};

struct ctrl_app;
struct ctrl_clients;

struct ctrl_app *ctrl_app_new(int32_t node_id, unsigned bugs);
void ctrl_app_free(struct ctrl_app *app);

/* Applies one committed batch (data or control) through the metadata loader. */
int ctrl_app_apply_batch(struct ctrl_app *app, const uint8_t *batch, size_t len);
/* Replaces the image by the snapshot in buf (validated and loaded as kraftmode/snapshot does). On
 * FERRY_ECORRUPT / FERRY_EPARSE / FERRY_EUNSUPPORTED the reason is in err and the app keeps its image. */
int ctrl_app_load_snapshot(struct ctrl_app *app, const uint8_t *buf, size_t len, int32_t epoch, int64_t end_offset,
                           char *err, size_t errlen);
/* The image as snapshot bytes (ferry_malloc'd in *buf), batches stamped with epoch and now_ms. */
int ctrl_app_write_snapshot(struct ctrl_app *app, int32_t epoch, int64_t now_ms, uint8_t **buf, size_t *len);
/* The image's canonical digest: a hash of its snapshot records, encoded (independent of how the image
 * was reached: by replay, or from a snapshot). */
int ctrl_app_digest(struct ctrl_app *app, uint64_t *digest);
/* Controller-level invariants of the image; false with the broken one in what. */
bool ctrl_app_check(struct ctrl_app *app, char *what, size_t wlen);
/* Records the images refused (md_image_apply's FERRY_ECORRUPT, counted by the loaders). */
int64_t ctrl_app_refused(const struct ctrl_app *app);

/* Is the app the active controller of Raft epoch `epoch`? */
bool ctrl_app_active(const struct ctrl_app *app, int32_t epoch);
/* Becomes the active controller of `epoch`: call once the node leads it and has applied its whole log
 * (applied_end = its log end). */
int ctrl_app_activate(struct ctrl_app *app, int32_t epoch, int64_t applied_end, int64_t now_ms);
/* Drops the active state (a decision that could not be proposed). */
void ctrl_app_deactivate(struct ctrl_app *app);

/* The LeaderChangeMessage control batch a new leader writes (as Kafka's raft client), at base_offset. */
int ctrl_app_leader_change_batch(int32_t leader, const int32_t *voters, size_t nvoters, const int32_t *granting,
                                 size_t ngranting, int64_t base_offset, int32_t epoch, int64_t now_ms, uint8_t **buf,
                                 size_t *len);

struct ctrl_clients_stats {
    int64_t ops;      /* operations decided that wrote records */
    int64_t records;  /* records proposed */
    int64_t rejected; /* operations answered with an error (no records) */
    int64_t fenced;   /* brokers fenced for a lapsed session */
};

struct ctrl_clients *ctrl_clients_new(uint64_t (*rand)(void *), void *rand_arg);
void ctrl_clients_free(struct ctrl_clients *c);
/* The active controller of `epoch` (node leader_id's app; its log ends at next_offset) decides one
 * operation at now_ms against its latest image: the bootstrap records on an empty image, else a random
 * client request. *buf: one record batch of *count records at next_offset (ferry_malloc'd), already in
 * the latest image, or NULL when the decision wrote nothing. `what` describes it (trace). FERRY_EINVAL
 * when the app is not the active controller of `epoch`. */
int ctrl_clients_step(struct ctrl_clients *c, struct ctrl_app *app, int32_t leader_id, int32_t epoch,
                      int64_t next_offset, int64_t now_ms, uint8_t **buf, size_t *len, int32_t *count, char *what,
                      size_t wlen);
const struct ctrl_clients_stats *ctrl_clients_stats(const struct ctrl_clients *c);

#endif
