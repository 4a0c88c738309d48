/* zk_controller_internal: the state shared by zk_controller.c (lifecycle, the action pump, requests, ticks),
 * zk_controller_load.c (ZooKeeper reads and watches into core events) and zk_controller_chan.c (the
 * controller channels to brokers). Not for use outside zkmode/. */
#ifndef FERRY_ZK_CONTROLLER_INTERNAL_H
#define FERRY_ZK_CONTROLLER_INTERNAL_H

#include "zk_controller.h"
#include "zkmode/controller/zkctl.h"

#define ZKC_MOD "zkctl"

struct ctl_chan;
struct ctl_load;

/* A live broker as the controller last read it: its epoch (czxid) and inter-broker endpoint. */
struct ctl_broker {
    int32_t id;
    int64_t epoch;
    char *host;     /* NULL: no endpoint on the inter-broker listener (requests to it are dropped) */
    uint16_t port;
};

/* A topic znode the controller watches (data watch on /brokers/topics/<name>). */
struct ctl_topic {
    struct ctl_topic *next;
    char *name;
    bool dirty;     /* changed while the snapshot was loading: read again after */
};

/* A request from a broker waiting for the core's RESPOND. */
struct ctl_req {
    struct ctl_req *next;
    uint64_t token;
    zk_controller_done_fn done;
    void *arg;
};

struct zk_controller {
    uv_loop_t *loop;
    const struct ferry_config *cfg;
    int32_t broker_id;
    struct zk_session *s;
    struct zk_elect *e;
    zkctl *core;
    uint64_t term;         /* changes at every start and stop: completions of another term are dropped */
    bool started;          /* between zk_controller_start and zk_controller_stop */
    bool loaded;           /* the snapshot is in the core */
    bool load_retry;       /* the load failed: the tick timer starts it again */
    int32_t epoch, epoch_zkversion;
    bool watching;         /* the fixed-path watch handlers are added */
    uv_timer_t *tick_timer, *kick_timer;
    int open_handles;
    bool freeing;
    size_t n_brokers;
    struct ctl_broker *brokers;
    struct ctl_topic *topics;
    int32_t *watched_ids;  /* ids with a data-watch handler on /brokers/ids/<id> (BrokerModificationsHandler) */
    size_t n_watched_ids;
    struct ctl_chan *chans;
    struct ctl_req *reqs;
    uint64_t next_token;
    /* re-reads after watch events: one of each kind at a time */
    bool ids_busy, ids_again, topics_busy, topics_again, dels_busy, dels_again;
    /* the image takeover (zk_controller_use_image): this broker's metadata image and the controller epoch of
     * the last UpdateMetadata applied to it; NULL: every failover reads every state znode */
    const struct md_image *img;
    const int32_t *img_epoch;
    struct ctl_verify *verify; /* its background read of the states taken from the image, waiting or running */
    uint64_t verify_by_ms;     /* uv_now by which it starts even with state writes still in flight */
    uint64_t failover_ns;      /* uv_hrtime of the takeover while its state writes are in flight (logged), else 0 */
};

/* zk_controller.c */
/* Runs the core's queued actions from the loop (never inside the caller). */
void zkc_kick(struct zk_controller *c);
/* Logs a failed core event (FERRY_ENOTFOUND for stale results is normal). */
void zkc_event_rc(struct zk_controller *c, const char *what, int rc);
struct ctl_broker *zkc_broker_find(struct zk_controller *c, int32_t id);
/* Adds or replaces the broker's entry from a decoded registration; 0 or FERRY_ENOMEM. */
int zkc_broker_set(struct zk_controller *c, const zkctl_broker *b);
void zkc_broker_remove(struct zk_controller *c, int32_t id);
void zkc_brokers_clear(struct zk_controller *c);
/* The load failed (a read error): read again after a second. */
void zkc_load_failed(struct zk_controller *c);
/* The snapshot is in the core: start ticking, re-read what changed meanwhile. */
void zkc_loaded(struct zk_controller *c);

/* zk_controller_load.c */
/* Reads everything (leaving watches) and calls zkctl_become_controller. */
void zkc_load_start(struct zk_controller *c);
/* Re-reads what watch events flagged while loading. */
void zkc_refresh_flagged(struct zk_controller *c);
/* The image takeover's background read: started from the tick once the failover's state writes are done
 * (or verify_by_ms passed), so that it does not queue ahead of them on the session; dropped at stop. */
void zkc_verify_tick(struct zk_controller *c);
void zkc_verify_drop(struct zk_controller *c);
int zkc_watches_add(struct zk_controller *c);
void zkc_watches_remove(struct zk_controller *c);
void zkc_topics_clear(struct zk_controller *c);
/* Removes the /brokers/ids/<id> data-watch handlers. */
void zkc_broker_watches_clear(struct zk_controller *c);

/* zk_controller_admin.c: the handlers of /admin/reassign_partitions and /admin/preferred_replica_election
 * (added with the fixed-path watches), and their first read once the snapshot is loaded. */
int zkc_admin_watches_add(struct zk_controller *c);
void zkc_admin_watches_remove(struct zk_controller *c);
void zkc_admin_load(struct zk_controller *c);

/* zk_controller_chan.c */
/* Queues a SEND action (ownership taken) on the channel of its broker; dropped when the broker is unknown. */
void zkc_chan_send(struct zk_controller *c, zkctl_action *a);
void zkc_chan_drop(struct zk_controller *c, int32_t broker_id);
/* The broker's inter-broker endpoint changed within its registration: its channel (if any) reconnects there
 * and sends the unanswered request again; the queue is kept. */
void zkc_chan_moved(struct zk_controller *c, int32_t broker_id);
void zkc_chan_drop_all(struct zk_controller *c);

#endif
