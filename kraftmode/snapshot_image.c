/* snapshot_image: the metadata image dumped as records, in Kafka's MetadataImage.write order (see snapshot.h).
 * Record versions follow the finalized metadata.version, as the controller writes them (ctrl.h). */
#include <stdlib.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "kraftmode/ctrl.h"
#include "kraftmode/snapshot.h"

#define MV_3_4_IV0 8 /* ZkMigrationStateRecord */

struct dump {
    struct proto_arena *a;
    struct metalog_rec *recs;
    size_t n, cap;
};

static void *add(struct dump *d, const struct proto_message *m, int16_t version)
{
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 64;
        struct metalog_rec *p = ferry_realloc(d->recs, ncap * sizeof *p);
        if (!p)
            return NULL;
        d->recs = p;
        d->cap = ncap;
    }
    void *rec = proto_arena_alloc(d->a, m->body->size ? m->body->size : 1);
    if (!rec)
        return NULL;
    proto_struct_init(m->body, rec);
    d->recs[d->n++] = (struct metalog_rec){m, version, rec};
    return rec;
}

static int feature(struct dump *d, const struct md_feature *f)
{
    struct FeatureLevelRecord *r = add(d, &proto_msg_FeatureLevelRecord, 0);
    if (!r)
        return FERRY_ENOMEM;
    r->Name = proto_str_from(f->name);
    r->FeatureLevel = f->level;
    return 0;
}

static int features(struct dump *d, const struct md_image *img)
{
    for (int32_t i = 0; i < img->nfeatures; i++)
        if (strcmp(img->features[i].name, MD_FEATURE_METADATA_VERSION) == 0 && feature(d, &img->features[i]))
            return FERRY_ENOMEM;
    for (int32_t i = 0; i < img->nfeatures; i++)
        if (strcmp(img->features[i].name, MD_FEATURE_METADATA_VERSION) != 0 && feature(d, &img->features[i]))
            return FERRY_ENOMEM;
    if (img->metadata_version >= MV_3_4_IV0) {
        struct ZkMigrationStateRecord *z = add(d, &proto_msg_ZkMigrationStateRecord, 0);
        if (!z)
            return FERRY_ENOMEM;
        z->ZkMigrationState = img->zk_migration_state;
    }
    return 0;
}

static int broker(struct dump *d, const struct md_image *img, const struct md_broker *b)
{
    struct RegisterBrokerRecord *r =
        add(d, &proto_msg_RegisterBrokerRecord, ctrl_register_broker_record_version(img->metadata_version));
    if (!r)
        return FERRY_ENOMEM;
    r->BrokerId = b->id;
    r->IsMigratingZkBroker = b->is_migrating_zk_broker;
    r->IncarnationId = b->incarnation;
    r->BrokerEpoch = b->epoch;
    r->EndPoints = proto_arena_alloc(d->a, (size_t)(b->nendpoints + 1) * sizeof *r->EndPoints);
    r->Features = proto_arena_alloc(d->a, (size_t)(b->nfeatures + 1) * sizeof *r->Features);
    if (!r->EndPoints || !r->Features)
        return FERRY_ENOMEM;
    for (int32_t i = 0; i < b->nendpoints; i++) {
        const struct md_endpoint *e = &b->endpoints[i];
        r->EndPoints[i] = (struct RegisterBrokerRecord_BrokerEndpoint){proto_str_from(e->name), proto_str_from(e->host),
                                                                       e->port, e->security_protocol};
    }
    r->EndPoints_n = b->nendpoints;
    for (int32_t i = 0; i < b->nfeatures; i++)
        r->Features[i] = (struct RegisterBrokerRecord_BrokerFeature){proto_str_from(b->features[i].name),
                                                                     b->features[i].min, b->features[i].max};
    r->Features_n = b->nfeatures;
    r->Rack = proto_str_from(b->rack);
    r->Fenced = b->fenced;
    r->InControlledShutdown = b->in_controlled_shutdown;
    r->LogDirs = b->log_dirs;
    r->LogDirs_n = b->nlog_dirs;
    return 0;
}

static int controller(struct dump *d, const struct md_controller *c)
{
    struct RegisterControllerRecord *r = add(d, &proto_msg_RegisterControllerRecord, 0);
    if (!r)
        return FERRY_ENOMEM;
    r->ControllerId = c->id;
    r->IncarnationId = c->incarnation;
    r->ZkMigrationReady = c->zk_migration_ready;
    r->EndPoints = proto_arena_alloc(d->a, (size_t)(c->nendpoints + 1) * sizeof *r->EndPoints);
    r->Features = proto_arena_alloc(d->a, (size_t)(c->nfeatures + 1) * sizeof *r->Features);
    if (!r->EndPoints || !r->Features)
        return FERRY_ENOMEM;
    for (int32_t i = 0; i < c->nendpoints; i++) {
        const struct md_endpoint *e = &c->endpoints[i];
        r->EndPoints[i] = (struct RegisterControllerRecord_ControllerEndpoint){
            proto_str_from(e->name), proto_str_from(e->host), e->port, e->security_protocol};
    }
    r->EndPoints_n = c->nendpoints;
    for (int32_t i = 0; i < c->nfeatures; i++)
        r->Features[i] = (struct RegisterControllerRecord_ControllerFeature){
            proto_str_from(c->features[i].name), c->features[i].min, c->features[i].max};
    r->Features_n = c->nfeatures;
    return 0;
}

static int topic(struct dump *d, const struct md_image *img, const struct md_topic *t)
{
    struct TopicRecord *tr = add(d, &proto_msg_TopicRecord, 0);
    if (!tr)
        return FERRY_ENOMEM;
    tr->Name = proto_str_from(t->name);
    tr->TopicId = t->id;
    int16_t version = ctrl_partition_record_version(img->metadata_version);
    for (int32_t i = 0; i < t->parts_len; i++) {
        const struct md_partition *p = &t->parts[i];
        if (!p->present)
            continue;
        struct PartitionRecord *r = add(d, &proto_msg_PartitionRecord, version);
        if (!r)
            return FERRY_ENOMEM;
        r->PartitionId = p->id;
        r->TopicId = t->id;
        r->Replicas = p->replicas.v;
        r->Replicas_n = p->replicas.n;
        r->Isr = p->isr.v;
        r->Isr_n = p->isr.n;
        r->RemovingReplicas = p->removing.v;
        r->RemovingReplicas_n = p->removing.n;
        r->AddingReplicas = p->adding.v;
        r->AddingReplicas_n = p->adding.n;
        r->Leader = p->leader;
        r->LeaderRecoveryState = p->leader_recovery_state;
        r->LeaderEpoch = p->leader_epoch;
        r->PartitionEpoch = p->partition_epoch;
        if (version >= 1) {
            r->Directories = p->dirs;
            r->Directories_n = p->ndirs;
        }
        if (version >= 2) {
            r->EligibleLeaderReplicas = p->elr.v;
            r->EligibleLeaderReplicas_n = p->elr.n;
            r->LastKnownELR = p->last_known_elr.v;
            r->LastKnownELR_n = p->last_known_elr.n;
        }
    }
    return 0;
}

static int cmp_configs(const void *a, const void *b)
{
    const struct md_configs *x = *(const struct md_configs *const *)a, *y = *(const struct md_configs *const *)b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Config resources in (type, name) order, each resource's keys in their stored (sorted) order. */
static int configs(struct dump *d, const struct md_image *img)
{
    size_t n = md_map_count(&img->configs);
    if (n == 0)
        return 0;
    const struct md_configs **all = ferry_malloc(n * sizeof *all);
    if (!all)
        return FERRY_ENOMEM;
    size_t pos = 0, k = 0;
    const void *key;
    size_t klen;
    void *val;
    while (k < n && md_map_next(&img->configs, &pos, &key, &klen, &val) == 1)
        all[k++] = val;
    qsort(all, k, sizeof *all, cmp_configs);
    int rc = 0;
    for (size_t i = 0; i < k && !rc; i++) {
        for (int32_t j = 0; j < all[i]->n && !rc; j++) {
            struct ConfigRecord *r = add(d, &proto_msg_ConfigRecord, 0);
            if (!r) {
                rc = FERRY_ENOMEM;
                break;
            }
            r->ResourceType = all[i]->type;
            r->ResourceName = proto_str_from(all[i]->name);
            r->Name = proto_str_from(all[i]->entries[j].key);
            r->Value = proto_str_from(all[i]->entries[j].value);
        }
    }
    ferry_free(all);
    return rc;
}

int snapshot_image_records(const struct md_image *img, struct proto_arena *a, struct metalog_rec **recs, size_t *n)
{
    struct dump d = {.a = a};
    int rc = features(&d, img);
    for (int32_t i = 0; !rc && i < img->nbrokers; i++)
        rc = broker(&d, img, img->brokers[i]);
    for (int32_t i = 0; !rc && i < img->ncontrollers; i++)
        rc = controller(&d, img->controllers[i]);
    if (!rc && md_image_topic_count(img) > 0) {
        size_t nt = 0;
        struct md_topic *const *topics = md_image_topics_sorted(img, &nt);
        if (!topics)
            rc = FERRY_ENOMEM;
        for (size_t i = 0; !rc && i < nt; i++)
            rc = topic(&d, img, topics[i]);
    }
    if (!rc)
        rc = configs(&d, img);
    if (!rc && img->producer_ids.next_producer_id > 0) {
        struct ProducerIdsRecord *p = add(&d, &proto_msg_ProducerIdsRecord, 0);
        if (!p)
            rc = FERRY_ENOMEM;
        else
            *p = (struct ProducerIdsRecord){img->producer_ids.broker_id, img->producer_ids.broker_epoch,
                                            img->producer_ids.next_producer_id};
    }
    if (rc) {
        ferry_free(d.recs);
        *recs = NULL;
        *n = 0;
        return rc;
    }
    *recs = d.recs;
    *n = d.n;
    return 0;
}
