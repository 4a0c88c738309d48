/* kraft_register: the local broker's registration records (Kafka's BrokerRegistration handling in
 * ClusterControlManager, simplified for the local broker): RegisterBrokerRecord with BrokerEpoch = the
 * offset of that record and the advertised endpoints, then the unfencing record that makes it the
 * leader of leaderless partitions whose ISR holds it. Used at start-up and when the listeners' bound
 * ports become known (kraft_node_listeners_bound). */
#include <string.h>
#include <strings.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "broker/config/config.h"
#include "broker/log/logdir.h"
#include "kraftmode/kraft_broker.h"
#include "kraftmode/kraft_node_internal.h"
#include "kraftmode/storage.h"

#define MV_3_3_IV2 6 /* BrokerRegistrationChangeRecord instead of UnfenceBrokerRecord */

/* The port to advertise for a configured endpoint: its own, or the bound port of the listener with the
 * same name when it was configured as 0. */
static uint16_t endpoint_port(const struct config_listener *l, const struct kraft_bound_ports *bound)
{
    if (l->port != 0 || !bound)
        return l->port;
    for (size_t i = 0; i < bound->n; i++)
        if (strcasecmp(bound->names[i], l->name) == 0)
            return bound->ports[i];
    return 0;
}

int kraft_registration_records(struct kraft_node *n, const struct kraft_bound_ports *bound, int64_t epoch,
                               struct ctrl_records *out)
{
    const struct ferry_config *cfg = n->cfg;
    int16_t mv = kraft_node_decision_image(n)->metadata_version;
    struct proto_arena *a = out->a;
    int32_t neps = (int32_t)cfg->n_advertised;
    struct RegisterBrokerRecord *rec =
        ctrl_records_add(out, &proto_msg_RegisterBrokerRecord, ctrl_register_broker_record_version(mv));
    struct RegisterBrokerRecord_BrokerEndpoint *eps =
        proto_array_new(a, &desc_RegisterBrokerRecord_BrokerEndpoint, neps ? neps : 1);
    struct RegisterBrokerRecord_BrokerFeature *feat = proto_array_new(a, &desc_RegisterBrokerRecord_BrokerFeature, 1);
    proto_uuid *dirs = proto_arena_alloc(a, (cfg->log_dirs.count ? cfg->log_dirs.count : 1) * sizeof *dirs);
    if (!rec || !eps || !feat || !dirs)
        return FERRY_ENOMEM;
    for (int32_t i = 0; i < neps; i++) {
        const struct config_listener *l = &cfg->advertised[i];
        eps[i] = (struct RegisterBrokerRecord_BrokerEndpoint){proto_str_from(l->name), proto_str_from(l->host),
                                                              endpoint_port(l, bound), (int16_t)l->protocol};
    }
    int32_t ndirs = 0;
    for (size_t i = 0; i < cfg->log_dirs.count; i++) {
        struct logdir_meta meta;
        if (logdir_meta_read(cfg->log_dirs.items[i], &meta) == 0 && meta.has_directory_id)
            dirs[ndirs++] = meta.directory_id;
    }
    feat[0] = (struct RegisterBrokerRecord_BrokerFeature){proto_str_from(MD_FEATURE_METADATA_VERSION), 1,
                                                          STORAGE_METADATA_VERSION_LATEST};
    rec->BrokerId = n->node_id;
    rec->IncarnationId = kraft_incarnation_id(); /* the lifecycle manager's too (kraft_broker.h) */
    rec->BrokerEpoch = epoch;
    rec->EndPoints = eps;
    rec->EndPoints_n = neps;
    rec->Features = feat;
    rec->Features_n = 1;
    rec->Rack = proto_str_from(cfg->broker_rack);
    rec->Fenced = true;
    rec->InControlledShutdown = false;
    rec->IsMigratingZkBroker = false;
    rec->LogDirs = dirs;
    rec->LogDirs_n = ndirs;
    return 0;
}

int kraft_unfence_records(struct kraft_node *n, int64_t epoch, struct ctrl_records *out)
{
    int16_t mv = kraft_node_decision_image(n)->metadata_version;
    if (mv >= MV_3_3_IV2) {
        struct BrokerRegistrationChangeRecord *c = ctrl_records_add(out, &proto_msg_BrokerRegistrationChangeRecord,
                                                                    ctrl_broker_registration_change_version(mv));
        if (!c)
            return FERRY_ENOMEM;
        c->BrokerId = n->node_id;
        c->BrokerEpoch = epoch;
        c->Fenced = -1;
        c->InControlledShutdown = 0;
    } else {
        struct UnfenceBrokerRecord *u = ctrl_records_add(out, &proto_msg_UnfenceBrokerRecord, 0);
        if (!u)
            return FERRY_ENOMEM;
        u->Id = n->node_id;
        u->Epoch = epoch;
    }
    size_t nt;
    struct md_topic *const *topics = md_image_topics_sorted(kraft_node_decision_image(n), &nt);
    for (size_t i = 0; i < nt; i++) {
        const struct md_topic *t = topics[i];
        for (int32_t p = 0; p < t->parts_len; p++) {
            const struct md_partition *mp = md_topic_partition(t, p);
            if (!mp || mp->leader != MD_NO_LEADER || !md_ints_contains(&mp->isr, n->node_id))
                continue;
            struct PartitionChangeRecord *pc =
                ctrl_records_add(out, &proto_msg_PartitionChangeRecord, ctrl_partition_record_version(mv));
            if (!pc)
                return FERRY_ENOMEM;
            pc->TopicId = t->id;
            pc->PartitionId = p;
            pc->Leader = n->node_id;
        }
    }
    return 0;
}

/* True when the image already registers the local broker with these endpoints. */
static bool registration_current(struct kraft_node *n, const struct kraft_bound_ports *bound)
{
    const struct ferry_config *cfg = n->cfg;
    const struct md_broker *b = md_image_broker(kraft_node_decision_image(n), n->node_id);
    if (!b || b->nendpoints != (int32_t)cfg->n_advertised)
        return false;
    for (size_t i = 0; i < cfg->n_advertised; i++) {
        const struct config_listener *l = &cfg->advertised[i];
        const struct md_endpoint *e = &b->endpoints[i];
        if (strcmp(e->name, l->name) != 0 || strcmp(e->host, l->host) != 0 || e->port != endpoint_port(l, bound))
            return false;
    }
    return true;
}

int kraft_decide_registration(struct kraft_node *n, struct kraft_op *op)
{
    if (!n->cfg->role_broker || (!op->force && registration_current(n, &op->bound)))
        return 0;
    /* BrokerEpoch = the offset of the RegisterBrokerRecord: the first record of this write, one further when
     * the write is wrapped in a transaction (more than one batch). */
    int64_t epoch = kraft_node_next_offset(n);
    int rc = kraft_registration_records(n, &op->bound, epoch, &op->recs);
    if (!rc)
        rc = kraft_unfence_records(n, epoch, &op->recs);
    if (rc)
        return rc;
    if (op->recs.n > METALOG_MAX_RECORDS_PER_BATCH && ctrl_mv_supports_transactions(kraft_node_decision_image(n)->metadata_version)) {
        epoch++;
        ((struct RegisterBrokerRecord *)op->recs.recs[0].data)->BrokerEpoch = epoch;
        struct metalog_rec *second = &op->recs.recs[1];
        if (second->m == &proto_msg_BrokerRegistrationChangeRecord)
            ((struct BrokerRegistrationChangeRecord *)second->data)->BrokerEpoch = epoch;
        else
            ((struct UnfenceBrokerRecord *)second->data)->Epoch = epoch;
    }
    LOG_INFO("kraft", "node %d: registering the broker%s (epoch %lld)", n->node_id,
             op->force ? "" : " again with its bound listener ports", (long long)epoch);
    return 0;
}

void kraft_node_listeners_bound(struct kraft_node *n, const char *const *names, const uint16_t *ports, size_t count)
{
    struct kraft_op *op = kraft_op_new(KRAFT_OP_REGISTER);
    if (!op)
        goto oom;
    op->bound.names = ferry_calloc(count ? count : 1, sizeof *op->bound.names);
    op->bound.ports = ferry_calloc(count ? count : 1, sizeof *op->bound.ports);
    if (!op->bound.names || !op->bound.ports)
        goto oom;
    for (size_t i = 0; i < count; i++) {
        if (!(op->bound.names[i] = ferry_strdup(names[i] ? names[i] : "")))
            goto oom;
        op->bound.ports[i] = ports[i];
        op->bound.n = i + 1;
    }
    kraft_node_enqueue(n, op);
    return;
oom:
    LOG_ERROR("kraft", "node %d: out of memory registering the bound listener ports", n->node_id);
    if (op)
        kraft_op_free(op);
}
