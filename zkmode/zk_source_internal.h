/* zk_source_internal: the state shared by zk_source.c (the md_source operations and the runtime on the
 * broker's loop), zk_source_start.c (the blocking start-up phase) and zk_brokers.c (/brokers/ids into the
 * image). Not for use outside zkmode/. */
#ifndef FERRY_ZK_SOURCE_INTERNAL_H
#define FERRY_ZK_SOURCE_INTERNAL_H

#include "zk_elect.h"
#include "zk_register.h"
#include "zk_session.h"
#include "zk_source.h"

struct zk_bapi;
struct zk_deferred;
struct zk_start;

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
    bool stopping;
    uv_timer_t *retry_timer;   /* registration retries */
    uv_timer_t *defer_timer;   /* deferred completions (never inside the call that started them) */
    struct zk_start *start;    /* non-NULL during zk_source_start */
    struct zk_deferred *dq_head, *dq_tail;
    /* /brokers/ids reloads: one at a time */
    bool brk_busy, brk_again;
    struct zk_bapi *bapi; /* zk_broker_api.c: the RPCs with the controller (NULL until first used) */
};

/* zk_brokers.c: reads /brokers/ids (leaving a child watch), turns it into broker records applied to the
 * image and published. */
int zk_brokers_watch(struct zk_src *z);
void zk_brokers_reload(struct zk_src *z);
/* Publishes the delta (when not empty) and frees it. */
void zk_src_publish(struct zk_src *z, struct md_delta *d);

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
