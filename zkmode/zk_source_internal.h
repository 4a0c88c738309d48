/* zk_source_internal: the state shared by zk_source.c (the md_source operations and the runtime on the
 * broker's loop), zk_source_start.c (the blocking start-up phase) and zk_brokers.c (/brokers/ids into the
 * image). Not for use outside zkmode/. */
#ifndef FERRY_ZK_SOURCE_INTERNAL_H
#define FERRY_ZK_SOURCE_INTERNAL_H

#include "kraftmode/ctrl.h"
#include "zk_elect.h"
#include "zk_register.h"
#include "zk_session.h"
#include "zk_source.h"

struct zk_bapi;
struct zk_controller;
struct zk_deferred;
struct zk_start;
struct zk_admin_op;

struct zk_src {
    uv_loop_t *loop;
    const struct ferry_config *cfg;
    struct zk_session *s;
    int32_t broker_id;
    char cluster_id[23];
    struct md_image img;
    int64_t next_offset;
    md_publish_fn publish;
    void *publish_arg;
    struct zk_registration reg;
    char *reg_json;
    bool registered;
    struct zk_elect elect;
    bool elect_started;
    struct zk_controller *ctl; /* runs the controller core while this broker holds /controller */
    int32_t img_controller_epoch; /* of the last UpdateMetadata applied to img (-1: none): the image takeover */
    bool stopping;
    uv_timer_t *retry_timer;   /* registration retries */
    uv_timer_t *defer_timer;   /* deferred completions (never inside the call that started them) */
    struct zk_start *start;    /* non-NULL during zk_source_start */
    struct zk_deferred *dq_head, *dq_tail;
    /* /brokers/ids reloads: one at a time */
    bool brk_busy, brk_again;
    struct zk_bapi *bapi; /* zk_broker_api.c: the RPCs with the controller (NULL until first used) */
    /* zk_admin.c: the decisions' settings (random topic ids and placement from rng), pending operations,
     * and the timer that checks the ones waiting for the image */
    struct ctrl_env env;
    uint64_t rng;
    struct zk_admin_op *admin_ops;
    uv_timer_t *admin_timer;
    /* zk_configs.c: the highest /config/changes sequence number processed (-1: none), one pass at a time */
    int64_t cfg_last_seq;
    bool cfg_busy, cfg_again, cfg_scan_again;
    struct md_map cfg_topics; /* children of /config/topics already read (name -> 1) */
};

/* zk_brokers.c: reads /brokers/ids (leaving a child watch), turns it into broker records applied to the
 * image and published. */
int zk_brokers_watch(struct zk_src *z);
void zk_brokers_reload(struct zk_src *z);
/* Publishes the delta (when not empty) and frees it. */
void zk_src_publish(struct zk_src *z, struct md_delta *d);

/* zk_source.c: a completion run from the loop (the pending md_source answer of an operation that could not
 * even start). */
void zk_src_defer(struct zk_src *z, md_done_fn done, md_pids_done_fn pids_done, int16_t error, void *arg);

/* zk_configs.c: topic and broker configs into the image. zk_configs_start reads every /config/topics/T,
 * this broker's /config/brokers/<id> and <default>, then replays /config/changes and watches it (and the
 * children of /config/topics: a new topic's config is read when it appears); zk_configs_free at the end;
 * zk_configs_new_session re-scans after a session re-initialisation (Kafka's ZkConfigManager). */
int zk_configs_start(struct zk_src *z);
void zk_configs_free(struct zk_src *z);
void zk_configs_new_session(struct zk_src *z);

/* zk_source.c: the session-state handler (start-up events go to zk_start_on_state while z->start is set);
 * creating the runtime's timers; freeing a source that never ran. */
void zk_src_on_state(void *arg, enum zk_session_event ev);
int zk_src_new(uv_loop_t *loop, const struct ferry_config *cfg, struct zk_src **out);
void zk_src_free_unstarted(struct zk_src *z);
/* After a successful start-up: the runtime's timers on the broker's loop, and *out. */
int zk_src_finish_start(struct zk_src *z, struct md_source *out, char *err, size_t errlen);

/* zk_source_start.c */
void zk_start_on_state(struct zk_src *z, enum zk_session_event ev);

#endif
