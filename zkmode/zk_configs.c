/* zk_configs: topic and broker configs from ZooKeeper into the broker's image (see zk_source_internal.h),
 * as Kafka's ZkConfigManager with its ZkNodeChangeNotificationListener:
 *  - at start: every /config/topics/T, this broker's /config/brokers/<id> and /config/brokers/<default>;
 *    then a child watch on /config/topics reads the config of each topic that appears (Kafka's brokers
 *    read it when they create the topic's log; Ferry's log layer reads the image, so it must be there);
 *  - a child watch on /config/changes: each pass lists the children, reads every notification (data and
 *    ctime), and handles those with a sequence number above the last one handled, in order (the number
 *    starts at -1, so every pending notification is replayed at start-up and after a new session);
 *    {"version":2,"entity_path":"topics/T"} (or v1 entity_type/entity_name) re-reads that entity; broker
 *    entities other than this broker and <default>, and other entity types (clients, users, ips), are
 *    not kept in the image; notifications whose ctime is more than 15 minutes old are deleted;
 *  - each entity read is compared with the image and the differences applied as ConfigRecords (a null
 *    value for a key that went), published as one delta per pass.
 * A malformed notification or entity is logged with its path and skipped; passes run one at a time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/metadata/md_delta.h"
#include "proto_messages.h"
#include "zk_controller.h"
#include "zk_admin_internal.h"

#define CHANGES_PATH "/config/changes"
#define CHANGE_PREFIX "config_change_"
#define TOPIC_CONFIGS_PATH "/config/topics"
#define NOTIFICATION_EXPIRY_MS (15 * 60 * 1000)

struct cfg_pass;

struct cfg_note {
    struct cfg_pass *pass;
    int64_t seq;
    char *child;
    int rc;
    char *data;
    int len;
    int64_t ctime;
};

struct cfg_entity {
    struct cfg_pass *pass;
    int8_t type;
    char *name; /* "" = the default broker entity */
    bool ok;    /* read (absent counts as empty) */
    zk_config_entity cfg;
};

struct cfg_pass {
    struct zk_src *z;
    bool initial; /* also lists /config/topics */
    int left;
    struct cfg_note *notes;
    int32_t nnotes;
    struct cfg_entity *ents;
    int32_t nents, cap;
};

static void pass_free(struct cfg_pass *p)
{
    for (int32_t i = 0; i < p->nnotes; i++) {
        ferry_free(p->notes[i].child);
        ferry_free(p->notes[i].data);
    }
    ferry_free(p->notes);
    for (int32_t i = 0; i < p->nents; i++) {
        ferry_free(p->ents[i].name);
        zk_config_entity_free(&p->ents[i].cfg);
    }
    ferry_free(p->ents);
    ferry_free(p);
}

static void pass_run(struct zk_src *z, bool initial);

static void pass_end(struct cfg_pass *p)
{
    struct zk_src *z = p->z;
    pass_free(p);
    z->cfg_busy = false;
    if (z->cfg_again && !z->stopping) {
        bool scan = z->cfg_scan_again;
        z->cfg_again = z->cfg_scan_again = false;
        pass_run(z, scan);
    }
}

/* Adds an entity to re-read (once per pass). */
static int add_entity(struct cfg_pass *p, int8_t type, const char *name)
{
    for (int32_t i = 0; i < p->nents; i++)
        if (p->ents[i].type == type && strcmp(p->ents[i].name, name) == 0)
            return 0;
    if (p->nents == p->cap) {
        int32_t cap = p->cap ? p->cap * 2 : 16;
        struct cfg_entity *e = ferry_realloc(p->ents, (size_t)cap * sizeof *e);
        if (!e)
            return FERRY_ENOMEM;
        p->ents = e;
        p->cap = cap;
    }
    struct cfg_entity *e = &p->ents[p->nents];
    memset(e, 0, sizeof *e);
    if (!(e->name = ferry_strdup(name)))
        return FERRY_ENOMEM;
    e->pass = p;
    e->type = type;
    p->nents++;
    return 0;
}

/* The image side of an entity: topics/T, and brokers/<this id> or brokers/<default> (""); other entities
 * are not kept (return 1). */
static int entity_of(const struct zk_src *z, const char *type, const char *name, int8_t *rtype, const char **rname)
{
    if (strcmp(type, "topics") == 0 && zk_topic_name_valid(name)) {
        *rtype = MD_RESOURCE_TOPIC;
        *rname = name;
        return 0;
    }
    if (strcmp(type, "brokers") == 0) {
        char own[16];
        snprintf(own, sizeof own, "%d", z->broker_id);
        *rtype = MD_RESOURCE_BROKER;
        if (strcmp(name, ZK_DEFAULT_ENTITY) == 0) {
            *rname = "";
            return 0;
        }
        if (strcmp(name, own) == 0) {
            *rname = name;
            return 0;
        }
    }
    return 1;
}

/* ---- step 3: entities into the image ---- */

static int apply_entity(struct zk_src *z, const struct cfg_entity *e, struct md_delta *d)
{
    const struct md_configs *cur = md_image_configs(&z->img, e->type, e->name);
    int rc = 0;
    const zk_str_map *m = &e->cfg.config;
    int32_t nset = 0;
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
        const char *old = md_configs_get(cur, m->keys[i]);
        if (old && strcmp(old, m->values[i]) == 0)
            continue;
        struct ConfigRecord r = {.ResourceType = e->type,
                                 .ResourceName = proto_str_from(e->name),
                                 .Name = proto_str_from(m->keys[i]),
                                 .Value = proto_str_from(m->values[i])};
        rc = md_image_apply(&z->img, &proto_msg_ConfigRecord, &r, z->next_offset++, d);
        if (rc == 0) {
            nset++;
            LOG_DEBUG("metadata", "config of resource %d/%s set: %s=%s", e->type, e->name, m->keys[i], m->values[i]);
        }
        cur = md_image_configs(&z->img, e->type, e->name);
    }
    /* keys that went: collected first, the image changes under the loop */
    int32_t n = cur ? cur->n : 0;
    char **gone = ferry_calloc((size_t)n + 1, sizeof *gone);
    int32_t ngone = 0;
    if (!gone)
        return FERRY_ENOMEM;
    for (int32_t i = 0; rc == 0 && i < n; i++)
        if (!zk_str_map_get(m, cur->entries[i].key) && !(gone[ngone++] = ferry_strdup(cur->entries[i].key)))
            rc = FERRY_ENOMEM;
    for (int32_t i = 0; rc == 0 && i < ngone; i++) {
        struct ConfigRecord r = {.ResourceType = e->type,
                                 .ResourceName = proto_str_from(e->name),
                                 .Name = proto_str_from(gone[i]),
                                 .Value = {NULL, -1}};
        rc = md_image_apply(&z->img, &proto_msg_ConfigRecord, &r, z->next_offset++, d);
        if (rc == 0)
            LOG_DEBUG("metadata", "config %s of resource %d/%s deleted", gone[i], e->type, e->name);
    }
    if (rc == 0 && nset + ngone > 0) /* one line per changed entity; its keys at debug */
        LOG_INFO("metadata", "config of resource %d/%s changed: %" PRId32 " key(s) set, %" PRId32 " deleted", e->type,
                 e->name, nset, ngone);
    for (int32_t i = 0; i < ngone; i++)
        ferry_free(gone[i]);
    ferry_free(gone);
    return rc;
}

static void entities_done(struct cfg_pass *p)
{
    struct zk_src *z = p->z;
    if (z->stopping) {
        pass_end(p);
        return;
    }
    struct md_delta d;
    md_delta_init(&d);
    for (int32_t i = 0; i < p->nents; i++) {
        if (!p->ents[i].ok)
            continue;
        if (p->ents[i].type == MD_RESOURCE_TOPIC)
            zk_controller_topic_config(z->ctl, p->ents[i].name, &p->ents[i].cfg); /* unclean.leader.election */
        int rc = apply_entity(z, &p->ents[i], &d);
        if (rc)
            LOG_ERROR("zk", "broker %d: configs of %s/%s not applied: %s", z->broker_id,
                      p->ents[i].type == MD_RESOURCE_TOPIC ? "topics" : "brokers", p->ents[i].name,
                      ferry_strerror(rc));
    }
    zk_src_publish(z, &d);
    pass_end(p);
}

static void on_entity(void *arg, const struct zk_result *r)
{
    struct cfg_entity *e = arg;
    struct cfg_pass *p = e->pass;
    char path[512];
    zk_config_path(e->type, e->name, path, sizeof path);
    if (r->rc == ZNONODE) {
        e->ok = true; /* no overrides */
    } else if (r->rc == ZOK) {
        zk_err err;
        if (!r->data || r->len <= 0) {
            e->ok = true;
        } else if (zk_config_entity_decode(r->data, (size_t)r->len, &e->cfg, &err) == 0) {
            e->ok = true;
        } else {
            LOG_ERROR("zk", "%s is malformed, its configs are left as they were: %s", path, err.msg);
        }
    } else if (r->rc != ZCLOSING) {
        LOG_WARN("zk", "cannot read %s: %s", path, zk_rc_name(r->rc));
    }
    if (--p->left == 0)
        entities_done(p);
}

static void read_entities(struct cfg_pass *p)
{
    p->left = 1;
    for (int32_t i = 0; i < p->nents && !p->z->stopping; i++) {
        char path[512];
        zk_config_path(p->ents[i].type, p->ents[i].name, path, sizeof path);
        p->left++;
        if (zk_get(p->z->s, path, false, on_entity, &p->ents[i]) != 0)
            p->left--;
    }
    if (--p->left == 0)
        entities_done(p);
}

/* ---- step 2: notifications in order, then the purge ---- */

static int cmp_note(const void *a, const void *b)
{
    const struct cfg_note *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_purged(void *arg, const struct zk_result *r)
{
    (void)arg;
    if (r->rc != ZOK && r->rc != ZNONODE && r->rc != ZCLOSING)
        LOG_WARN("zk", "cannot delete an expired config change notification: %s", zk_rc_name(r->rc));
}

/* One notification (sequence above the last handled): the entity it names joins the pass. */
static void handle_note(struct cfg_pass *p, const struct cfg_note *n)
{
    struct zk_src *z = p->z;
    zk_config_change ch;
    zk_err err;
    if (n->rc != ZOK)
        return; /* gone meanwhile (purged by another broker) */
    if (zk_config_change_decode(n->data ? n->data : "", n->len > 0 ? (size_t)n->len : 0, &ch, &err) != 0) {
        LOG_ERROR("zk", "%s/%s is malformed, skipped: %s", CHANGES_PATH, n->child, err.msg);
        return;
    }
    char type[32] = "", name[300] = "";
    if (ch.version == 2) {
        const char *slash = strchr(ch.entity_path, '/');
        if (slash && (size_t)(slash - ch.entity_path) < sizeof type) {
            snprintf(type, sizeof type, "%.*s", (int)(slash - ch.entity_path), ch.entity_path);
            snprintf(name, sizeof name, "%s", slash + 1);
        }
    } else {
        snprintf(type, sizeof type, "%s", ch.entity_type);
        snprintf(name, sizeof name, "%s", ch.entity_name);
    }
    int8_t rtype;
    const char *rname;
    if (!type[0] || !name[0]) {
        LOG_ERROR("zk", "%s/%s names no entity, skipped", CHANGES_PATH, n->child);
    } else if (entity_of(z, type, name, &rtype, &rname) == 0) {
        LOG_INFO("zk", "broker %d: config change %s/%s for %s/%s", z->broker_id, CHANGES_PATH, n->child, type, name);
        if (add_entity(p, rtype, rname) != 0)
            LOG_ERROR("zk", "out of memory handling %s/%s", CHANGES_PATH, n->child);
    } else {
        LOG_DEBUG("zk", "%s/%s: %s/%s is not kept by this broker", CHANGES_PATH, n->child, type, name);
    }
    zk_config_change_free(&ch);
}

static void notes_done(struct cfg_pass *p)
{
    struct zk_src *z = p->z;
    if (z->stopping) {
        pass_end(p);
        return;
    }
    qsort(p->notes, (size_t)p->nnotes, sizeof *p->notes, cmp_note);
    int64_t now = wall_now_ms();
    for (int32_t i = 0; i < p->nnotes; i++) {
        const struct cfg_note *n = &p->notes[i];
        if (n->seq > z->cfg_last_seq) {
            handle_note(p, n);
            z->cfg_last_seq = n->seq;
        }
    }
    /* purge after handling, by ctime (never as they are read) */
    for (int32_t i = 0; i < p->nnotes; i++) {
        const struct cfg_note *n = &p->notes[i];
        if (n->rc != ZOK || now - n->ctime <= NOTIFICATION_EXPIRY_MS)
            continue;
        char path[300];
        snprintf(path, sizeof path, CHANGES_PATH "/%s", n->child);
        LOG_INFO("zk", "broker %d: purging the expired config change notification %s", z->broker_id, path);
        zk_delete(z->s, path, -1, on_purged, NULL);
    }
    read_entities(p);
}

static void on_note(void *arg, const struct zk_result *r)
{
    struct cfg_note *n = arg;
    struct cfg_pass *p = n->pass;
    n->rc = r->rc;
    if (r->rc == ZOK) {
        n->ctime = r->stat->ctime;
        if (r->data && r->len > 0 && (n->data = ferry_malloc((size_t)r->len)) != NULL) {
            memcpy(n->data, r->data, (size_t)r->len);
            n->len = r->len;
        }
    } else if (r->rc != ZNONODE && r->rc != ZCLOSING) {
        LOG_WARN("zk", "cannot read %s/%s: %s", CHANGES_PATH, n->child, zk_rc_name(r->rc));
    }
    if (--p->left == 0)
        notes_done(p);
}

static void on_changes(void *arg, const struct zk_result *r)
{
    struct cfg_pass *p = arg;
    struct zk_src *z = p->z;
    if (r->rc != ZOK || z->stopping) {
        if (r->rc != ZOK && r->rc != ZCLOSING)
            LOG_WARN("zk", "cannot list %s: %s", CHANGES_PATH, zk_rc_name(r->rc));
        read_entities(p); /* what was asked before (start-up entities) still loads */
        return;
    }
    int32_t count = r->children->count;
    p->notes = ferry_calloc((size_t)count + 1, sizeof *p->notes);
    if (!p->notes) {
        LOG_ERROR("zk", "out of memory reading %s", CHANGES_PATH);
        read_entities(p);
        return;
    }
    p->left = 1;
    for (int32_t i = 0; i < count; i++) {
        const char *child = r->children->data[i];
        int64_t seq;
        if (zk_sequential_parse(CHANGE_PREFIX, child, &seq) != 0) {
            LOG_WARN("zk", "%s/%s is not a config change notification: ignored", CHANGES_PATH, child);
            continue;
        }
        struct cfg_note *n = &p->notes[p->nnotes];
        if (!(n->child = ferry_strdup(child)))
            break;
        n->pass = p;
        n->seq = seq;
        p->nnotes++;
        char path[300];
        snprintf(path, sizeof path, CHANGES_PATH "/%s", child);
        p->left++;
        if (zk_get(z->s, path, false, on_note, n) != 0) {
            p->left--;
            n->rc = ZSYSTEMERROR;
        }
    }
    if (--p->left == 0)
        notes_done(p);
}

static void list_changes(struct cfg_pass *p)
{
    if (zk_children(p->z->s, CHANGES_PATH, true, on_changes, p) != 0)
        read_entities(p);
}

/* ---- step 1 (start-up): every topic's config ---- */

static void on_topic_configs(void *arg, const struct zk_result *r)
{
    struct cfg_pass *p = arg;
    struct zk_src *z = p->z;
    if (r->rc == ZOK) {
        /* entities not read before are read now; the set is rebuilt so that a topic created again is read */
        struct md_map now;
        md_map_init(&now);
        for (int32_t i = 0; i < r->children->count; i++) {
            const char *name = r->children->data[i];
            size_t len = strlen(name);
            if (!zk_topic_name_valid(name)) {
                LOG_WARN("zk", "%s/%s is not a legal topic name: ignored", TOPIC_CONFIGS_PATH, name);
                continue;
            }
            if (md_map_put(&now, name, len, (void *)1) != 0 ||
                (!md_map_get(&z->cfg_topics, name, len) && add_entity(p, MD_RESOURCE_TOPIC, name) != 0))
                LOG_ERROR("zk", "out of memory reading %s", TOPIC_CONFIGS_PATH);
        }
        md_map_free(&z->cfg_topics);
        z->cfg_topics = now;
    } else if (r->rc != ZCLOSING) {
        LOG_WARN("zk", "cannot list %s: %s", TOPIC_CONFIGS_PATH, zk_rc_name(r->rc));
    }
    if (p->z->stopping) {
        pass_end(p);
        return;
    }
    list_changes(p);
}

static void pass_run(struct zk_src *z, bool initial)
{
    if (z->stopping)
        return;
    if (z->cfg_busy) {
        z->cfg_again = true;
        z->cfg_scan_again |= initial;
        return;
    }
    struct cfg_pass *p = ferry_calloc(1, sizeof *p);
    if (!p) {
        LOG_ERROR("zk", "broker %d: out of memory following %s", z->broker_id, CHANGES_PATH);
        return;
    }
    p->z = z;
    p->initial = initial;
    z->cfg_busy = true;
    if (!initial) {
        list_changes(p);
        return;
    }
    char own[16];
    snprintf(own, sizeof own, "%d", z->broker_id);
    if (add_entity(p, MD_RESOURCE_BROKER, own) != 0 || add_entity(p, MD_RESOURCE_BROKER, "") != 0 ||
        zk_children(z->s, TOPIC_CONFIGS_PATH, true, on_topic_configs, p) != 0) {
        LOG_ERROR("zk", "broker %d: cannot read %s", z->broker_id, TOPIC_CONFIGS_PATH);
        list_changes(p);
    }
}

static void on_changes_watch(void *arg, int type, const char *path)
{
    (void)type;
    (void)path;
    pass_run(arg, false);
}

static void on_topics_watch(void *arg, int type, const char *path)
{
    (void)type;
    (void)path;
    pass_run(arg, true);
}

int zk_configs_start(struct zk_src *z)
{
    int rc = zk_watch_add(z->s, CHANGES_PATH, on_changes_watch, z);
    if (rc == 0)
        rc = zk_watch_add(z->s, TOPIC_CONFIGS_PATH, on_topics_watch, z);
    if (rc == 0)
        pass_run(z, true);
    return rc;
}

void zk_configs_new_session(struct zk_src *z)
{
    /* the watches went with the old session: list again (with watches) and handle what came meanwhile */
    pass_run(z, true);
}

void zk_configs_free(struct zk_src *z) { md_map_free(&z->cfg_topics); }
