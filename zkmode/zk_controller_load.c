/* zk_controller_load: ZooKeeper into the controller core (see zk_controller.h). The failover load reads
 * /brokers/ids, /brokers/topics and /admin/delete_topics (child watches), every broker, every topic znode
 * (data watch) with its /config/topics entry and partition state znodes, all pipelined, and ends with
 * zkctl_become_controller. With the image takeover (zk_controller_use_image) a partition's state comes from
 * the broker's metadata image instead of its znode where the image can be trusted (state_from_image), and
 * those znodes are read in the background once the failover's writes are done (zkc_verify_tick, then
 * zkctl_states_read). Watch events afterwards re-read one kind at a time (brokers, topic list, deletions) or
 * one topic, and become core events. Reads of another term (the controller stopped or started again
 * meanwhile) are dropped when they end. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "zk_controller_internal.h"
#include "zkmode/znode/znode_codec.h"

#define IDS_PATH "/brokers/ids"
#define TOPICS_PATH "/brokers/topics"
#define DELETE_PATH "/admin/delete_topics"
#define TOPIC_CONFIG_PATH "/config/topics"
#define UNCLEAN_KEY "unclean.leader.election.enable"

/* ---- one read of the broker list ---- */

struct brk_item {
    struct brk_read *rd;
    int32_t id;
    bool present; /* listed and not gone when read */
    bool ok;      /* decoded */
    int64_t czxid;
    zk_broker_info info;
};

struct brk_read {
    struct zk_controller *c;
    uint64_t term;
    struct ctl_load *load; /* NULL: a refresh after a watch event */
    int left;
    int n;
    struct brk_item *items;
};

/* ---- one read of a topic ---- */

struct state_item {
    struct tp_read *t;
    int32_t partition;
    bool ok;
    bool from_image; /* st and zkversion are the metadata image's (image takeover), not read */
    zk_partition_state st;
    int32_t zkversion;
};

struct tp_read {
    struct zk_controller *c;
    uint64_t term;
    struct ctl_load *load;
    struct tp_read *next; /* in the load */
    char *name;
    int left;
    bool ok;              /* the assignment decoded */
    bool gone;            /* NONODE */
    zk_topic_assignment a;
    bool has_unclean, unclean;
    size_t n_states;
    struct state_item *states;
};

/* ---- the failover load ---- */

struct ctl_load {
    struct zk_controller *c;
    uint64_t term;
    int holds;
    bool failed;
    bool use_image;      /* the image takeover: states from c->img where it has them */
    struct brk_read *brokers;
    struct tp_read *topics;
    size_t n_dels;
    char **dels;
    uint64_t started_ns; /* uv_hrtime at the start, for the log line of the failover's cost */
};

static void load_release(struct ctl_load *l);

static bool current(struct zk_controller *c, uint64_t term) { return c->term == term && c->started; }

static void path_of(char *buf, size_t len, const char *dir, const char *name) { snprintf(buf, len, "%s/%s", dir, name); }

static void brk_read_free(struct brk_read *r)
{
    for (int i = 0; i < r->n; i++)
        zk_broker_info_free(&r->items[i].info);
    ferry_free(r->items);
    ferry_free(r);
}

static void tp_read_free(struct tp_read *t)
{
    for (size_t i = 0; i < t->n_states; i++)
        zk_partition_state_free(&t->states[i].st);
    ferry_free(t->states);
    zk_topic_assignment_free(&t->a);
    ferry_free(t->name);
    ferry_free(t);
}

/* ---- watched topics ---- */

static struct ctl_topic *topic_find(struct zk_controller *c, const char *name)
{
    for (struct ctl_topic *t = c->topics; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

static void on_topic_watch(void *arg, int type, const char *path);

static struct ctl_topic *topic_watch(struct zk_controller *c, const char *name)
{
    struct ctl_topic *t = topic_find(c, name);
    if (t)
        return t;
    char path[400];
    path_of(path, sizeof path, TOPICS_PATH, name);
    t = ferry_calloc(1, sizeof *t);
    if (t && !(t->name = ferry_strdup(name))) {
        ferry_free(t);
        t = NULL;
    }
    if (!t || zk_watch_add(c->s, path, on_topic_watch, c) != 0) {
        if (t)
            ferry_free(t->name);
        ferry_free(t);
        LOG_ERROR(ZKC_MOD, "out of memory watching %s", path);
        return NULL;
    }
    t->next = c->topics;
    c->topics = t;
    return t;
}

static void topic_unwatch(struct zk_controller *c, const char *name)
{
    for (struct ctl_topic **pp = &c->topics; *pp; pp = &(*pp)->next) {
        struct ctl_topic *t = *pp;
        if (strcmp(t->name, name) != 0)
            continue;
        char path[400];
        path_of(path, sizeof path, TOPICS_PATH, name);
        zk_watch_remove(c->s, path, on_topic_watch, c);
        *pp = t->next;
        ferry_free(t->name);
        ferry_free(t);
        return;
    }
}

void zkc_topics_clear(struct zk_controller *c)
{
    while (c->topics)
        topic_unwatch(c, c->topics->name);
}

/* ---- reading a topic: its znode (watched), its config and, during the load, its partition states ---- */

static void tp_read_end(struct tp_read *t);

static void tp_release(struct tp_read *t)
{
    if (--t->left == 0)
        tp_read_end(t);
}

static void on_state(void *arg, const struct zk_result *r)
{
    struct state_item *s = arg;
    struct tp_read *t = s->t;
    if (r->rc == ZOK && current(t->c, t->term)) {
        zk_err err;
        if (zk_partition_state_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &s->st, &err) == 0) {
            s->ok = true;
            s->zkversion = r->stat->version;
        } else {
            LOG_ERROR(ZKC_MOD, "%s/%s/partitions/%" PRId32 "/state is malformed (%s): the partition is treated as new",
                      TOPICS_PATH, t->name, s->partition, err.msg);
        }
    } else if (r->rc != ZOK && r->rc != ZNONODE && r->rc != ZCLOSING && t->load) {
        LOG_WARN(ZKC_MOD, "cannot read the state of %s-%" PRId32 ": %s", t->name, s->partition, zk_rc_name(r->rc));
        t->load->failed = true;
    }
    tp_release(t);
}

/* Whether the image's leader_recovery_state of a partition with these replicas and ISR size can be
 * trusted at broker `self`. It comes with LeaderAndIsr only, which a broker gets for its own replicas; for
 * another broker's partition the image holds RECOVERED whatever ZooKeeper has. RECOVERING (after an unclean
 * election, until the new leader has recovered) only ever goes with an ISR of one member: an unclean
 * election writes ISR = [leader], and an AlterPartition that widens a RECOVERING ISR is refused (Kafka's
 * controller and zkctl alike), ISR shrinks and clean elections keep the ISR within it. So such a partition
 * with an ISR of two or more is RECOVERED, and only one with a single-member ISR must be read first. */
static bool image_recovery_known(const zk_partition_replicas *pr, int32_t isr_n, int32_t self)
{
    for (size_t i = 0; i < pr->n_replicas; i++)
        if (pr->replicas[i] == self)
            return true;
    return isr_n >= 2;
}

/* The image takeover: the partition's state from the metadata image when it holds the same topic (same
 * topic id: a topic deleted and created again restarts its state znodes' versions) and the partition with
 * the replicas the assignment names, and its leader_recovery_state is known (image_recovery_known). */
static bool state_from_image(const struct md_topic *mt, const zk_partition_replicas *pr, int32_t epoch, int32_t self,
                             struct state_item *s)
{
    const struct md_partition *ip = md_topic_partition(mt, pr->partition);
    if (!ip || ip->leader < MD_NO_LEADER || ip->replicas.n != (int32_t)pr->n_replicas ||
        memcmp(ip->replicas.v, pr->replicas, pr->n_replicas * sizeof(int32_t)) != 0 ||
        !image_recovery_known(pr, ip->isr.n, self))
        return false;
    int32_t *isr = ferry_malloc(((size_t)ip->isr.n + 1) * sizeof *isr);
    if (!isr)
        return false;
    if (ip->isr.n)
        memcpy(isr, ip->isr.v, (size_t)ip->isr.n * sizeof *isr);
    s->st = (zk_partition_state){.controller_epoch = epoch, .leader = ip->leader, .leader_epoch = ip->leader_epoch,
                                 .n_isr = (size_t)ip->isr.n, .isr = isr,
                                 .leader_recovery_state = ip->leader_recovery_state};
    s->zkversion = ip->partition_epoch;
    s->ok = s->from_image = true;
    return true;
}

static void read_states(struct tp_read *t)
{
    t->states = ferry_calloc(t->a.n_partitions + 1, sizeof *t->states);
    if (!t->states) {
        t->load->failed = true;
        return;
    }
    bool was = zk_session_bulk(t->c->s, true); /* the failover load: see zk_session.h */
    const struct md_topic *mt = t->load->use_image ? md_image_topic(t->c->img, t->name) : NULL;
    if (mt && (!t->a.has_topic_id || !proto_uuid_eq(mt->id, t->a.topic_id)))
        mt = NULL;
    for (size_t i = 0; i < t->a.n_partitions; i++) {
        struct state_item *s = &t->states[t->n_states++];
        s->t = t;
        s->partition = t->a.partitions[i].partition;
        if (mt && state_from_image(mt, &t->a.partitions[i], *t->c->img_epoch, t->c->broker_id, s))
            continue;
        char path[480];
        snprintf(path, sizeof path, "%s/%s/partitions/%" PRId32 "/state", TOPICS_PATH, t->name, s->partition);
        t->left++;
        if (zk_get(t->c->s, path, false, on_state, s) != 0) {
            t->left--;
            t->load->failed = true;
        }
    }
    zk_session_bulk(t->c->s, was);
}

static void on_topic(void *arg, const struct zk_result *r)
{
    struct tp_read *t = arg;
    char path[400];
    path_of(path, sizeof path, TOPICS_PATH, t->name);
    if (r->rc == ZOK && current(t->c, t->term)) {
        zk_err err;
        if (zk_topic_assignment_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &t->a, &err) == 0) {
            t->ok = true;
            if (t->load)
                read_states(t);
        } else {
            LOG_ERROR(ZKC_MOD, "%s is malformed, topic ignored until it changes: %s", path, err.msg);
        }
    } else if (r->rc == ZNONODE) {
        t->gone = true;
    } else if (r->rc != ZOK && r->rc != ZCLOSING) {
        LOG_WARN(ZKC_MOD, "cannot read %s: %s", path, zk_rc_name(r->rc));
        if (t->load)
            t->load->failed = true;
    }
    tp_release(t);
}

/* unclean.leader.election.enable of a topic's configs: true when set (to "true" or not). */
static bool unclean_of(const zk_config_entity *ce, bool *unclean)
{
    const char *v = zk_str_map_get(&ce->config, UNCLEAN_KEY);
    if (v)
        *unclean = strcmp(v, "true") == 0;
    return v != NULL;
}

void zk_controller_topic_config(struct zk_controller *c, const char *name, const zk_config_entity *cfg)
{
    if (!c || !c->loaded || !topic_find(c, name))
        return;
    bool unclean = false;
    bool has = unclean_of(cfg, &unclean);
    zkc_event_rc(c, "topic config", zkctl_topic_config(c->core, name, has, unclean));
    zkc_kick(c);
}

static void on_topic_config(void *arg, const struct zk_result *r)
{
    struct tp_read *t = arg;
    if (r->rc == ZOK && r->len > 0 && current(t->c, t->term)) {
        zk_config_entity ce;
        zk_err err;
        if (zk_config_entity_decode(r->data, (size_t)r->len, &ce, &err) == 0) {
            t->has_unclean = unclean_of(&ce, &t->unclean);
            zk_config_entity_free(&ce);
        } else {
            LOG_ERROR(ZKC_MOD, "%s/%s is malformed (%s): broker default for " UNCLEAN_KEY, TOPIC_CONFIG_PATH,
                      t->name, err.msg);
        }
    }
    tp_release(t);
}

/* Starts reading topic `name` (watching its znode); the end goes to the load or to the core. */
static void topic_read(struct zk_controller *c, const char *name, struct ctl_load *load)
{
    if (!zk_topic_name_valid(name)) {
        LOG_ERROR(ZKC_MOD, "%s/%s: not a legal topic name: ignored", TOPICS_PATH, name);
        return;
    }
    if (!topic_watch(c, name))
        return;
    struct tp_read *t = ferry_calloc(1, sizeof *t);
    if (t && !(t->name = ferry_strdup(name))) {
        ferry_free(t);
        t = NULL;
    }
    if (!t) {
        LOG_ERROR(ZKC_MOD, "out of memory reading topic %s", name);
        if (load)
            load->failed = true;
        return;
    }
    t->c = c;
    t->term = c->term;
    t->load = load;
    if (load)
        load->holds++;
    char path[400];
    t->left = 1;
    bool was = zk_session_bulk(c->s, load != NULL);
    path_of(path, sizeof path, TOPICS_PATH, name);
    if (zk_get(c->s, path, true, on_topic, t) == 0)
        t->left++;
    path_of(path, sizeof path, TOPIC_CONFIG_PATH, name);
    if (zk_get(c->s, path, false, on_topic_config, t) == 0)
        t->left++;
    zk_session_bulk(c->s, was);
    if (t->left < 3 && load)
        load->failed = true;
    tp_release(t);
}

static void tp_read_end(struct tp_read *t)
{
    struct zk_controller *c = t->c;
    struct ctl_load *load = t->load;
    if (load) {
        t->next = load->topics;
        load->topics = t;
        load_release(load);
        return;
    }
    if (current(c, t->term) && c->loaded) {
        if (t->gone) {
            topic_unwatch(c, t->name);
        } else if (t->ok) {
            zkc_event_rc(c, "topic change", zkctl_topic_changed(c->core, t->name, &t->a));
            zkc_event_rc(c, "topic config", zkctl_topic_config(c->core, t->name, t->has_unclean, t->unclean));
            zkc_kick(c);
        }
    }
    tp_read_free(t);
}

static void on_topic_watch(void *arg, int type, const char *path)
{
    struct zk_controller *c = arg;
    const char *name = path + strlen(TOPICS_PATH) + 1;
    struct ctl_topic *t = topic_find(c, name);
    if (!c->started || !t || type == ZOO_CHILD_EVENT)
        return;
    if (!c->loaded) {
        t->dirty = true;
        return;
    }
    topic_read(c, name, NULL);
}

/* ---- the broker list ---- */

static void brk_read_end(struct brk_read *r);

static void brk_release(struct brk_read *r)
{
    if (--r->left == 0)
        brk_read_end(r);
}


static void brokers_refresh(struct zk_controller *c);

/* A broker znode's data changed or it went (Kafka's BrokerModificationsHandler): read the brokers again. */
static void on_broker_watch(void *arg, int type, const char *path)
{
    struct zk_controller *c = arg;
    (void)type;
    (void)path;
    if (!c->started)
        return;
    if (!c->loaded)
        c->ids_again = true; /* the load may have read it before the change */
    else
        brokers_refresh(c);
}

/* The data-watch handler of /brokers/ids/<id>, added once per id; false when out of memory. */
static bool broker_watch(struct zk_controller *c, int32_t id, const char *path)
{
    for (size_t i = 0; i < c->n_watched_ids; i++)
        if (c->watched_ids[i] == id)
            return true;
    int32_t *v = ferry_realloc(c->watched_ids, (c->n_watched_ids + 1) * sizeof *v);
    if (!v)
        return false;
    c->watched_ids = v;
    if (zk_watch_add(c->s, path, on_broker_watch, c) != 0)
        return false;
    v[c->n_watched_ids++] = id;
    return true;
}

void zkc_broker_watches_clear(struct zk_controller *c)
{
    char path[64];
    for (size_t i = 0; i < c->n_watched_ids; i++) {
        snprintf(path, sizeof path, "%s/%" PRId32, IDS_PATH, c->watched_ids[i]);
        zk_watch_remove(c->s, path, on_broker_watch, c);
    }
    ferry_free(c->watched_ids);
    c->watched_ids = NULL;
    c->n_watched_ids = 0;
}

static void on_broker(void *arg, const struct zk_result *r)
{
    struct brk_item *b = arg;
    struct brk_read *rd = b->rd;
    if (r->rc == ZOK && current(rd->c, rd->term)) {
        b->present = true;
        zk_err err;
        if (zk_broker_info_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &b->info, &err) == 0) {
            b->ok = true;
            b->czxid = r->stat->czxid;
        } else {
            LOG_ERROR(ZKC_MOD, "%s/%" PRId32 " is malformed, broker ignored: %s", IDS_PATH, b->id, err.msg);
        }
    } else if (r->rc != ZOK && r->rc != ZNONODE && r->rc != ZCLOSING) {
        b->present = true; /* unknown: keep what is known */
        LOG_WARN(ZKC_MOD, "cannot read %s/%" PRId32 ": %s", IDS_PATH, b->id, zk_rc_name(r->rc));
        if (rd->load)
            rd->load->failed = true;
    }
    brk_release(rd);
}

static void on_ids(void *arg, const struct zk_result *r)
{
    struct brk_read *rd = arg;
    struct zk_controller *c = rd->c;
    if (r->rc != ZOK || !current(c, rd->term)) {
        if (r->rc != ZOK && r->rc != ZCLOSING)
            LOG_WARN(ZKC_MOD, "cannot list %s: %s", IDS_PATH, zk_rc_name(r->rc));
        if (rd->load)
            rd->load->failed = true;
        brk_release(rd);
        return;
    }
    int32_t count = r->children->count;
    rd->items = ferry_calloc((size_t)count + 1, sizeof *rd->items);
    if (!rd->items) {
        LOG_ERROR(ZKC_MOD, "out of memory reading %s", IDS_PATH);
        if (rd->load)
            rd->load->failed = true;
        brk_release(rd);
        return;
    }
    for (int32_t i = 0; i < count; i++) {
        const char *name = r->children->data[i];
        char *end;
        long id = strtol(name, &end, 10);
        if (*end || end == name || id < 0 || id > INT32_MAX)
            continue; /* zk_brokers logs it */
        struct brk_item *b = &rd->items[rd->n++];
        b->rd = rd;
        b->id = (int32_t)id;
        char path[64];
        path_of(path, sizeof path, IDS_PATH, name);
        bool watch = broker_watch(c, b->id, path);
        if (!watch)
            LOG_ERROR(ZKC_MOD, "out of memory watching %s: its changes are seen at the next broker change", path);
        rd->left++;
        if (zk_get(c->s, path, watch, on_broker, b) != 0) {
            rd->left--;
            b->present = true;
        }
    }
    brk_release(rd);
}

static void brokers_read(struct zk_controller *c, struct ctl_load *load)
{
    struct brk_read *rd = ferry_calloc(1, sizeof *rd);
    if (!rd) {
        LOG_ERROR(ZKC_MOD, "out of memory reading %s", IDS_PATH);
        if (load)
            load->failed = true;
        else
            c->ids_busy = false;
        return;
    }
    *rd = (struct brk_read){.c = c, .term = c->term, .load = load, .left = 1};
    if (load)
        load->holds++;
    if (zk_children(c->s, IDS_PATH, true, on_ids, rd) != 0) {
        struct zk_result none = {.rc = ZCLOSING, .len = -1};
        on_ids(rd, &none);
    }
}

/* The registration kept its epoch but its znode changed: the channel follows a new inter-broker endpoint and
 * the core (which ignores an unchanged broker) tells every broker. */
static void broker_modified(struct zk_controller *c, const struct ctl_broker *known, const zkctl_broker *b)
{
    char *old_host = known->host ? ferry_strdup(known->host) : NULL;
    uint16_t old_port = known->port;
    if (known->host && !old_host) {
        LOG_ERROR(ZKC_MOD, "out of memory: broker %" PRId32 "'s change is seen at its next change", b->id);
        return;
    }
    zkc_event_rc(c, "broker changed", zkc_broker_set(c, b));
    const struct ctl_broker *now = zkc_broker_find(c, b->id);
    bool moved = now && (now->port != old_port || !now->host != !old_host ||
                         (now->host && old_host && strcmp(now->host, old_host) != 0));
    ferry_free(old_host);
    if (moved)
        zkc_chan_moved(c, b->id);
    zkc_event_rc(c, "broker changed", zkctl_broker_registered(c->core, b));
}

/* A refresh: new and bounced brokers registered, changed ones updated, gone ones removed (with their
 * channels). */
static void brokers_apply(struct zk_controller *c, const struct brk_read *rd)
{
    for (size_t i = c->n_brokers; i-- > 0;) {
        int32_t id = c->brokers[i].id;
        bool present = false;
        for (int k = 0; k < rd->n; k++)
            present |= rd->items[k].id == id && rd->items[k].present;
        if (present)
            continue;
        zkc_chan_drop(c, id);
        zkc_broker_remove(c, id);
        zkc_event_rc(c, "broker gone", zkctl_broker_gone(c->core, id));
    }
    for (int k = 0; k < rd->n; k++) {
        const struct brk_item *b = &rd->items[k];
        const struct ctl_broker *known = zkc_broker_find(c, b->id);
        if (!b->ok)
            continue;
        zkctl_broker_buf buf;
        if (zkctl_broker_from_znode(b->id, b->czxid, &b->info, &buf) != 0) {
            LOG_ERROR(ZKC_MOD, "%s/%" PRId32 ": an endpoint is malformed or has no known security protocol: broker ignored",
                      IDS_PATH, b->id);
            continue;
        }
        if (known && known->epoch == b->czxid) {
            broker_modified(c, known, &buf.broker);
            zkctl_broker_buf_free(&buf);
            continue;
        }
        LOG_INFO(ZKC_MOD, "broker %" PRId32 " %s (epoch %" PRId64 ")", b->id, known ? "bounced" : "registered",
                 b->czxid);
        if (known)
            zkc_chan_drop(c, b->id);
        zkc_event_rc(c, "broker registered", zkc_broker_set(c, &buf.broker));
        zkc_event_rc(c, "broker registered", zkctl_broker_registered(c->core, &buf.broker));
        zkctl_broker_buf_free(&buf);
    }
    zkc_kick(c);
}

static void brk_read_end(struct brk_read *rd)
{
    struct zk_controller *c = rd->c;
    if (rd->load) {
        rd->load->brokers = rd;
        load_release(rd->load);
        return;
    }
    if (current(c, rd->term)) {
        if (c->loaded)
            brokers_apply(c, rd);
        c->ids_busy = false;
        if (c->ids_again) {
            c->ids_again = false;
            brokers_refresh(c);
        }
    }
    brk_read_free(rd);
}

static void brokers_refresh(struct zk_controller *c)
{
    if (c->ids_busy) {
        c->ids_again = true;
        return;
    }
    c->ids_busy = true;
    brokers_read(c, NULL);
}

/* ---- the topic list ---- */

struct list_read {
    struct zk_controller *c;
    uint64_t term;
    struct ctl_load *load;
    bool deletions; /* /admin/delete_topics, else /brokers/topics */
};

static void topics_refresh(struct zk_controller *c);
static void deletions_refresh(struct zk_controller *c);

static void list_end(struct list_read *lr)
{
    struct zk_controller *c = lr->c;
    if (lr->load) {
        load_release(lr->load);
    } else if (current(c, lr->term)) {
        bool *busy = lr->deletions ? &c->dels_busy : &c->topics_busy;
        bool *again = lr->deletions ? &c->dels_again : &c->topics_again;
        *busy = false;
        if (*again) {
            *again = false;
            if (lr->deletions)
                deletions_refresh(c);
            else
                topics_refresh(c);
        }
    }
    ferry_free(lr);
}

static int copy_names(const struct String_vector *v, char ***out, size_t *n)
{
    *out = ferry_calloc((size_t)v->count + 1, sizeof **out);
    if (!*out)
        return FERRY_ENOMEM;
    for (int32_t i = 0; i < v->count; i++) {
        if (!((*out)[i] = ferry_strdup(v->data[i])))
            return FERRY_ENOMEM;
        *n = (size_t)i + 1;
    }
    return 0;
}

static void on_list(void *arg, const struct zk_result *r)
{
    struct list_read *lr = arg;
    struct zk_controller *c = lr->c;
    const char *dir = lr->deletions ? DELETE_PATH : TOPICS_PATH;
    if (r->rc != ZOK || !current(c, lr->term)) {
        if (r->rc != ZOK && r->rc != ZCLOSING) {
            LOG_WARN(ZKC_MOD, "cannot list %s: %s", dir, zk_rc_name(r->rc));
            if (lr->load)
                lr->load->failed = true;
        }
        list_end(lr);
        return;
    }
    const struct String_vector *v = r->children;
    if (lr->deletions && lr->load) {
        if (copy_names(v, &lr->load->dels, &lr->load->n_dels) != 0)
            lr->load->failed = true;
    } else if (lr->deletions) {
        if (c->loaded)
            for (int32_t i = 0; i < v->count; i++) {
                if (!zk_topic_name_valid(v->data[i])) {
                    LOG_ERROR(ZKC_MOD, "%s/%s: not a legal topic name: ignored", DELETE_PATH, v->data[i]);
                    continue;
                }
                zkc_event_rc(c, "deletion request", zkctl_delete_requested(c->core, v->data[i]));
            }
        zkc_kick(c);
    } else {
        for (int32_t i = 0; i < v->count; i++)
            if (lr->load || !topic_find(c, v->data[i]))
                topic_read(c, v->data[i], lr->load);
        /* topics whose znode went stop being watched */
        for (struct ctl_topic *t = c->topics, *n; t; t = n) {
            n = t->next;
            bool listed = false;
            for (int32_t i = 0; i < v->count && !listed; i++)
                listed = strcmp(v->data[i], t->name) == 0;
            if (!listed)
                topic_unwatch(c, t->name);
        }
    }
    list_end(lr);
}

static void list_read(struct zk_controller *c, bool deletions, struct ctl_load *load)
{
    struct list_read *lr = ferry_calloc(1, sizeof *lr);
    if (!lr) {
        LOG_ERROR(ZKC_MOD, "out of memory listing %s", deletions ? DELETE_PATH : TOPICS_PATH);
        if (load)
            load->failed = true;
        else if (deletions)
            c->dels_busy = false;
        else
            c->topics_busy = false;
        return;
    }
    *lr = (struct list_read){.c = c, .term = c->term, .load = load, .deletions = deletions};
    if (load)
        load->holds++;
    if (zk_children(c->s, deletions ? DELETE_PATH : TOPICS_PATH, true, on_list, lr) != 0) {
        struct zk_result none = {.rc = ZCLOSING, .len = -1};
        if (load)
            load->failed = true;
        on_list(lr, &none);
    }
}

static void topics_refresh(struct zk_controller *c)
{
    if (c->topics_busy) {
        c->topics_again = true;
        return;
    }
    c->topics_busy = true;
    list_read(c, false, NULL);
}

static void deletions_refresh(struct zk_controller *c)
{
    if (c->dels_busy) {
        c->dels_again = true;
        return;
    }
    c->dels_busy = true;
    list_read(c, true, NULL);
}

void zkc_refresh_flagged(struct zk_controller *c)
{
    if (c->ids_again) {
        c->ids_again = false;
        brokers_refresh(c);
    }
    if (c->topics_again) {
        c->topics_again = false;
        topics_refresh(c);
    }
    if (c->dels_again) {
        c->dels_again = false;
        deletions_refresh(c);
    }
    for (struct ctl_topic *t = c->topics; t; t = t->next)
        if (t->dirty) {
            t->dirty = false;
            topic_read(c, t->name, NULL);
        }
}

/* ---- watches on the fixed paths ---- */

static void on_watch(void *arg, int type, const char *path)
{
    struct zk_controller *c = arg;
    (void)type;
    if (!c->started)
        return;
    bool ids = strcmp(path, IDS_PATH) == 0, dels = strcmp(path, DELETE_PATH) == 0;
    if (!c->loaded) {
        /* the load in progress may have read before the change: read again once loaded */
        *(ids ? &c->ids_again : dels ? &c->dels_again : &c->topics_again) = true;
        return;
    }
    if (ids)
        brokers_refresh(c);
    else if (dels)
        deletions_refresh(c);
    else
        topics_refresh(c);
}

int zkc_watches_add(struct zk_controller *c)
{
    int rc = zk_watch_add(c->s, IDS_PATH, on_watch, c);
    if (rc == 0 && (rc = zk_watch_add(c->s, TOPICS_PATH, on_watch, c)) != 0)
        zk_watch_remove(c->s, IDS_PATH, on_watch, c);
    if (rc == 0 && (rc = zk_watch_add(c->s, DELETE_PATH, on_watch, c)) != 0) {
        zk_watch_remove(c->s, IDS_PATH, on_watch, c);
        zk_watch_remove(c->s, TOPICS_PATH, on_watch, c);
    }
    if (rc == 0 && (rc = zkc_admin_watches_add(c)) != 0) {
        zk_watch_remove(c->s, IDS_PATH, on_watch, c);
        zk_watch_remove(c->s, TOPICS_PATH, on_watch, c);
        zk_watch_remove(c->s, DELETE_PATH, on_watch, c);
    }
    if (rc)
        LOG_ERROR(ZKC_MOD, "out of memory adding the controller's watches");
    return rc;
}

void zkc_watches_remove(struct zk_controller *c)
{
    if (!c->watching)
        return;
    zk_watch_remove(c->s, IDS_PATH, on_watch, c);
    zk_watch_remove(c->s, TOPICS_PATH, on_watch, c);
    zk_watch_remove(c->s, DELETE_PATH, on_watch, c);
    zkc_admin_watches_remove(c);
}

/* ---- the load ---- */

static void load_free(struct ctl_load *l)
{
    if (l->brokers)
        brk_read_free(l->brokers);
    for (struct tp_read *t = l->topics, *n; t; t = n) {
        n = t->next;
        tp_read_free(t);
    }
    for (size_t i = 0; i < l->n_dels; i++)
        ferry_free(l->dels[i]);
    ferry_free(l->dels);
    ferry_free(l);
}

/* ---- the image takeover's background read ---- */

struct vf_item {
    struct ctl_verify *v;
    int32_t partition;
    bool ok;
    zk_partition_state st;
    int32_t zkversion;
};

struct vf_topic {
    char *name;
    size_t n;
    struct vf_item *items;
};

struct ctl_verify {
    struct zk_controller *c;
    uint64_t term;
    bool started, detached; /* detached: the controller stopped while it ran (the last completion frees it) */
    int left;
    size_t n_topics, n_items;
    struct vf_topic *topics;
    uint64_t started_ns;
};

static void verify_free(struct ctl_verify *v)
{
    for (size_t i = 0; i < v->n_topics; i++) {
        for (size_t j = 0; j < v->topics[i].n; j++)
            zk_partition_state_free(&v->topics[i].items[j].st);
        ferry_free(v->topics[i].items);
        ferry_free(v->topics[i].name);
    }
    ferry_free(v->topics);
    ferry_free(v);
}

void zkc_verify_drop(struct zk_controller *c)
{
    struct ctl_verify *v = c->verify;
    if (!v)
        return;
    c->verify = NULL;
    if (v->started)
        v->detached = true;
    else
        verify_free(v);
}

/* Every read is in: the states go to the core, which adopts the ones newer than the image. */
static void verify_end(struct ctl_verify *v)
{
    struct zk_controller *c = v->c;
    if (!v->detached && c->verify == v)
        c->verify = NULL;
    if (!v->detached && current(c, v->term) && c->loaded) {
        zkctl_topic_in *ts = ferry_calloc(v->n_topics + 1, sizeof *ts);
        zkctl_state_in *ss = ferry_calloc(v->n_items + 1, sizeof *ss);
        if (ts && ss) {
            size_t k = 0;
            for (size_t i = 0; i < v->n_topics; i++) {
                ts[i] = (zkctl_topic_in){.name = v->topics[i].name, .states = &ss[k]};
                for (size_t j = 0; j < v->topics[i].n; j++) {
                    const struct vf_item *it = &v->topics[i].items[j];
                    if (it->ok) {
                        ss[k++] = (zkctl_state_in){it->partition, &it->st, it->zkversion, false};
                        ts[i].n_states++;
                    }
                }
            }
            zkc_event_rc(c, "partition states read", zkctl_states_read(c->core, ts, v->n_topics));
            LOG_INFO(ZKC_MOD, "broker %" PRId32 ": %zu partition states taken from the metadata image read from "
                     "ZooKeeper in %" PRIu64 " ms", c->broker_id, k, (uv_hrtime() - v->started_ns) / 1000000u);
            zkc_kick(c);
        } else {
            LOG_ERROR(ZKC_MOD, "out of memory: the partition states read behind the image takeover are dropped");
        }
        ferry_free(ts);
        ferry_free(ss);
    }
    verify_free(v);
}

static void on_verify_state(void *arg, const struct zk_result *r)
{
    struct vf_item *it = arg;
    struct ctl_verify *v = it->v;
    if (r->rc == ZOK && !v->detached && current(v->c, v->term)) {
        zk_err err;
        if (zk_partition_state_decode(r->data ? r->data : "", r->len > 0 ? (size_t)r->len : 0, &it->st, &err) == 0) {
            it->ok = true;
            it->zkversion = r->stat->version;
        }
    } else if (r->rc != ZOK && r->rc != ZNONODE && r->rc != ZCLOSING) {
        /* the controller's own writes and re-reads still settle each partition (BADVERSION re-reads) */
        LOG_WARN(ZKC_MOD, "cannot read a partition state behind the image takeover: %s", zk_rc_name(r->rc));
    }
    if (--v->left == 0)
        verify_end(v);
}

static void verify_start(struct ctl_verify *v)
{
    struct zk_controller *c = v->c;
    v->started = true;
    v->started_ns = uv_hrtime();
    v->left = 1;
    bool was = zk_session_bulk(c->s, true);
    for (size_t i = 0; i < v->n_topics; i++)
        for (size_t j = 0; j < v->topics[i].n; j++) {
            struct vf_item *it = &v->topics[i].items[j];
            char path[480];
            snprintf(path, sizeof path, "%s/%s/partitions/%" PRId32 "/state", TOPICS_PATH, v->topics[i].name,
                     it->partition);
            v->left++;
            if (zk_get(c->s, path, false, on_verify_state, it) != 0)
                v->left--;
        }
    zk_session_bulk(c->s, was);
    if (--v->left == 0)
        verify_end(v);
}

/* How long (ms) after the takeover the background read starts even with state writes still in flight. */
#define VERIFY_WAIT_MAX_MS 30000

void zkc_verify_tick(struct zk_controller *c)
{
    struct ctl_verify *v = c->verify;
    if (v && !v->started &&
        (zkctl_state_writes_in_flight(c->core) == 0 || uv_now(c->loop) >= c->verify_by_ms))
        verify_start(v);
}

/* Remembers the partitions whose states came from the image, to read them once the failover's writes are
 * done (zkc_verify_tick). */
static void verify_prepare(struct zk_controller *c, const struct ctl_load *l, size_t n_image)
{
    zkc_verify_drop(c);
    struct ctl_verify *v = ferry_calloc(1, sizeof *v);
    size_t nt = 0;
    for (struct tp_read *t = l->topics; t; t = t->next)
        nt++;
    if (v)
        v->topics = ferry_calloc(nt + 1, sizeof *v->topics);
    if (!v || !v->topics)
        goto oom;
    *v = (struct ctl_verify){.c = c, .term = c->term, .topics = v->topics, .n_items = n_image};
    for (struct tp_read *t = l->topics; t; t = t->next) {
        size_t n = 0;
        for (size_t i = 0; t->ok && i < t->n_states; i++)
            n += t->states[i].from_image;
        if (!n)
            continue;
        struct vf_topic *vt = &v->topics[v->n_topics++];
        vt->name = ferry_strdup(t->name);
        vt->items = ferry_calloc(n, sizeof *vt->items);
        if (!vt->name || !vt->items)
            goto oom;
        for (size_t i = 0; i < t->n_states; i++)
            if (t->states[i].from_image)
                vt->items[vt->n++] = (struct vf_item){.v = v, .partition = t->states[i].partition};
    }
    c->verify = v;
    c->verify_by_ms = uv_now(c->loop) + VERIFY_WAIT_MAX_MS;
    return;
oom:
    LOG_ERROR(ZKC_MOD, "out of memory: the partition states taken from the metadata image are not read behind the "
              "takeover (the controller's conditional writes still settle each one)");
    if (v && v->topics)
        verify_free(v);
    else
        ferry_free(v);
}

/* The snapshot from what was read; 0 or FERRY_ENOMEM. */
static int load_apply(struct zk_controller *c, struct ctl_load *l)
{
    size_t nb = l->brokers ? (size_t)l->brokers->n : 0, nt = 0;
    for (struct tp_read *t = l->topics; t; t = t->next)
        nt++;
    zkctl_broker_buf *bufs = ferry_calloc(nb + 1, sizeof *bufs);
    zkctl_broker *brokers = ferry_calloc(nb + 1, sizeof *brokers);
    zkctl_topic_in *topics = ferry_calloc(nt + 1, sizeof *topics);
    const char **dels = ferry_calloc(l->n_dels + 1, sizeof *dels);
    int rc = bufs && brokers && topics && dels ? 0 : FERRY_ENOMEM;
    zkctl_snapshot s = {.epoch = c->epoch, .epoch_zkversion = c->epoch_zkversion,
                        .now_ms = (int64_t)uv_now(c->loop), .brokers = brokers, .topics = topics, .deletions = dels};
    size_t n_bufs = 0;
    for (size_t i = 0; rc == 0 && i < nb; i++) {
        const struct brk_item *b = &l->brokers->items[i];
        if (!b->ok)
            continue;
        if (zkctl_broker_from_znode(b->id, b->czxid, &b->info, &bufs[n_bufs]) != 0) {
            LOG_ERROR(ZKC_MOD, "%s/%" PRId32 ": an endpoint is malformed or has no known security protocol: broker ignored",
                      IDS_PATH, b->id);
            continue;
        }
        brokers[s.n_brokers++] = bufs[n_bufs].broker;
        rc = zkc_broker_set(c, &bufs[n_bufs++].broker);
    }
    for (struct tp_read *t = l->topics; rc == 0 && t; t = t->next) {
        if (!t->ok)
            continue;
        zkctl_state_in *st = ferry_calloc(t->n_states + 1, sizeof *st);
        if (!st) {
            rc = FERRY_ENOMEM;
            break;
        }
        zkctl_topic_in *ti = &topics[s.n_topics++];
        *ti = (zkctl_topic_in){.name = t->name, .assignment = &t->a, .states = st, .has_unclean = t->has_unclean,
                               .unclean = t->unclean};
        for (size_t i = 0; i < t->n_states; i++)
            if (t->states[i].ok)
                st[ti->n_states++] = (zkctl_state_in){t->states[i].partition, &t->states[i].st,
                                                      t->states[i].zkversion, t->states[i].from_image};
    }
    for (size_t i = 0; rc == 0 && i < l->n_dels; i++) {
        if (zk_topic_name_valid(l->dels[i]))
            dels[s.n_deletions++] = l->dels[i];
        else
            LOG_ERROR(ZKC_MOD, "%s/%s: not a legal topic name: ignored", DELETE_PATH, l->dels[i]);
    }
    if (rc == 0) {
        uint64_t read_ns = uv_hrtime();
        size_t n_states = 0, n_image = 0;
        for (size_t i = 0; i < s.n_topics; i++) {
            n_states += topics[i].n_states;
            for (size_t j = 0; j < topics[i].n_states; j++)
                n_image += topics[i].states[j].from_image;
        }
        rc = zkctl_become_controller(c->core, &s);
        if (rc == 0)
            LOG_INFO(ZKC_MOD, "broker %" PRId32 " is the active controller: epoch %" PRId32 ", %zu brokers, %zu topics, "
                     "%zu partition states, %zu of them from the metadata image (read in %" PRIu64 " ms, decided in %"
                     PRIu64 " ms)", c->broker_id, c->epoch, s.n_brokers, s.n_topics, n_states, n_image,
                     (read_ns - l->started_ns) / 1000000u, (uv_hrtime() - read_ns) / 1000000u);
        if (rc == 0 && n_image)
            verify_prepare(c, l, n_image);
    }
    for (size_t i = 0; topics && i < s.n_topics; i++)
        ferry_free((void *)topics[i].states);
    for (size_t i = 0; i < n_bufs; i++)
        zkctl_broker_buf_free(&bufs[i]);
    ferry_free(bufs);
    ferry_free(brokers);
    ferry_free(topics);
    ferry_free(dels);
    return rc;
}

static void load_release(struct ctl_load *l)
{
    if (--l->holds > 0)
        return;
    struct zk_controller *c = l->c;
    if (current(c, l->term)) {
        if (l->failed) {
            zkc_load_failed(c);
        } else {
            int rc = load_apply(c, l);
            if (rc == 0) {
                zkc_loaded(c);
            } else {
                LOG_ERROR(ZKC_MOD, "broker %" PRId32 ": cannot become the active controller: %s: resigning",
                          c->broker_id, ferry_strerror(rc));
                zkc_brokers_clear(c);
                zk_elect_controller_moved(c->e);
            }
        }
    }
    load_free(l);
}

void zkc_load_start(struct zk_controller *c)
{
    struct ctl_load *l = ferry_calloc(1, sizeof *l);
    if (!l) {
        LOG_ERROR(ZKC_MOD, "out of memory loading the controller's state: resigning");
        zk_elect_controller_moved(c->e);
        return;
    }
    *l = (struct ctl_load){.c = c, .term = c->term, .holds = 1, .started_ns = uv_hrtime()};
    /* the image takeover needs an image the previous controller (this epoch - 1) sent UpdateMetadata to */
    l->use_image = c->img && c->img_epoch && *c->img_epoch >= 0 && *c->img_epoch == c->epoch - 1;
    if (c->img)
        LOG_INFO(ZKC_MOD, "broker %" PRId32 ": controller epoch %" PRId32 ": %s", c->broker_id, c->epoch,
                 l->use_image ? "partition states from the metadata image, read behind the takeover"
                              : "the metadata image is not the previous controller's: reading every partition state");
    zkc_brokers_clear(c);
    brokers_read(c, l);
    list_read(c, false, l);
    list_read(c, true, l);
    load_release(l);
}
