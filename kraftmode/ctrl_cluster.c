/* ctrl_cluster: broker and controller registrations (Kafka 3.7's ClusterControlManager.registerBroker and
 * registerController) and UnregisterBroker (ReplicationControlManager.unregisterBroker). */
#include <stdio.h>
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"
#include "kraftmode/ctrl_internal.h"

#define MV_MINIMUM_KRAFT 1
#define MV_3_4_IV0 8  /* ZooKeeper migration */
#define MV_3_7_IV0 15 /* controller registration */
#define MV_3_7_IV2 17 /* directory assignment */
#define ZK_PRE_MIGRATION 2

/* A listener of a request, whatever its message. */
struct listener {
    proto_str name, host;
    uint16_t port;
    int16_t protocol;
};

/* ListenerInfo.from*RegistrationRequest: keyed by name (a repeated name keeps its first position and
 * takes the last value); an unknown security protocol fails. Writes the unique listeners back into l and
 * returns their count, or -1 with the reason in msg. */
static int32_t unique_listeners(struct listener *l, int32_t n, char *msg, size_t msglen)
{
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        if (l[i].protocol < 0 || l[i].protocol > 3) {
            snprintf(msg, msglen, "Unknown security protocol %d in listener %.*s", l[i].protocol,
                     (int)l[i].name.len, l[i].name.p);
            return -1;
        }
        int32_t j = 0;
        while (j < k && !ctrl_str_same(l[j].name, l[i].name))
            j++;
        l[j] = l[i];
        if (j == k)
            k++;
    }
    return k;
}

static int16_t finalized_level(const struct md_image *img, proto_str name)
{
    if (proto_str_eq(name, MD_FEATURE_METADATA_VERSION))
        return img->metadata_version;
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", name.len > 0 ? (int)name.len : 0, name.p ? name.p : "");
    return md_image_feature_level(img, buf);
}

/* processRegistrationFeature: 0, or KERR_UNSUPPORTED_VERSION with the reason. */
static int check_feature(const struct md_image *img, proto_str name, int16_t min, int16_t max, char *msg,
                         size_t msglen)
{
    int16_t level = finalized_level(img, name);
    if (level > 0 && (level < min || level > max)) {
        snprintf(msg, msglen, "Unable to register because the broker does not support version %d of %.*s. It wants "
                              "a version between %d and %d, inclusive.", level, (int)name.len, name.p, min, max);
        return KERR_UNSUPPORTED_VERSION;
    }
    return 0;
}

static bool dir_reserved(proto_uuid u)
{
    for (int i = 0; i < 15; i++)
        if (u.b[i])
            return false;
    return u.b[15] < 100;
}

/* The log-dir checks of MV 3.7-IV2: 0 or KERR_INVALID_REGISTRATION with the reason. */
static int check_log_dirs(const struct md_image *img, const struct BrokerRegistrationRequest *req, char *msg,
                          size_t msglen)
{
    int32_t n = req->LogDirs_n > 0 ? req->LogDirs_n : 0;
    if (n == 0) {
        snprintf(msg, msglen, "No directories specified in request");
        return KERR_INVALID_REGISTRATION;
    }
    for (int32_t i = 0; i < n; i++)
        if (dir_reserved(req->LogDirs[i])) {
            snprintf(msg, msglen, "Reserved directory ID in request");
            return KERR_INVALID_REGISTRATION;
        }
    for (int32_t i = 0; i < n; i++)
        for (int32_t j = 0; j < i; j++)
            if (proto_uuid_eq(req->LogDirs[i], req->LogDirs[j])) {
                snprintf(msg, msglen, "Duplicate directory ID in request");
                return KERR_INVALID_REGISTRATION;
            }
    for (int32_t i = 0; i < n; i++)
        for (int32_t b = 0; b < img->nbrokers; b++) {
            const struct md_broker *o = img->brokers[b];
            if (o->id == req->BrokerId)
                continue;
            for (int32_t d = 0; d < o->nlog_dirs; d++)
                if (proto_uuid_eq(o->log_dirs[d], req->LogDirs[i])) {
                    char id[PROTO_UUID_B64_LEN + 1];
                    proto_uuid_to_base64(req->LogDirs[i], id);
                    snprintf(msg, msglen, "Broker %d is already registered with directory %s", o->id, id);
                    return KERR_INVALID_REGISTRATION;
                }
        }
    return 0;
}

/* Every check before the record: 0, or a Kafka error with the reason in msg. May drop the tracker's
 * expired session of another incarnation, as Kafka does. */
static int check_registration(const struct md_image *img, const struct ctrl_env *env, struct ctrl_heartbeats *hb,
                              const struct BrokerRegistrationRequest *req, int64_t now_ms, char *msg, size_t msglen)
{
    if (!proto_str_eq(req->ClusterId, img->cluster_id)) {
        snprintf(msg, msglen, "Expected cluster ID %s, but got cluster ID %.*s", img->cluster_id,
                 req->ClusterId.len > 0 ? (int)req->ClusterId.len : 0, req->ClusterId.p ? req->ClusterId.p : "");
        return KERR_INCONSISTENT_CLUSTER_ID;
    }
    const struct md_broker *existing = md_image_broker(img, req->BrokerId);
    if (existing && !proto_uuid_eq(existing->incarnation, req->IncarnationId)) {
        if (ctrl_heartbeats_valid_session(hb, req->BrokerId, now_ms)) {
            snprintf(msg, msglen, "Another broker is registered with that broker id.");
            return KERR_DUPLICATE_BROKER_REGISTRATION;
        }
        ctrl_hb_remove(hb, req->BrokerId);
    }
    int16_t mv = img->metadata_version;
    if (req->IsMigratingZkBroker && !(env->zk_migration_enabled && mv >= MV_3_4_IV0)) {
        snprintf(msg, msglen, "Controller does not support registering ZK brokers.");
        return KERR_BROKER_ID_NOT_REGISTERED;
    }
    if (!req->IsMigratingZkBroker && img->zk_migration_state == ZK_PRE_MIGRATION) {
        snprintf(msg, msglen, "Controller is in pre-migration mode and cannot register KRaft brokers until the "
                              "metadata migration is complete.");
        return KERR_BROKER_ID_NOT_REGISTERED;
    }
    if (mv >= MV_3_7_IV2) {
        int rc = check_log_dirs(img, req, msg, msglen);
        if (rc)
            return rc;
    }
    bool has_mv = false;
    for (int32_t i = 0; i < req->Features_n; i++) {
        const struct BrokerRegistrationRequest_Feature *f = &req->Features[i];
        int rc = check_feature(img, f->Name, f->MinSupportedVersion, f->MaxSupportedVersion, msg, msglen);
        if (rc)
            return rc;
        if (proto_str_eq(f->Name, MD_FEATURE_METADATA_VERSION))
            has_mv = true;
    }
    if (!has_mv)
        return check_feature(img, proto_str_from(MD_FEATURE_METADATA_VERSION), MV_MINIMUM_KRAFT, MV_MINIMUM_KRAFT,
                             msg, msglen);
    return 0;
}

static int fill_broker_record(const struct md_image *img, const struct BrokerRegistrationRequest *req,
                              const struct listener *ls, int32_t nls, int64_t epoch, struct ctrl_records *out)
{
    int16_t mv = img->metadata_version;
    struct proto_arena *a = out->a;
    struct RegisterBrokerRecord *r =
        ctrl_records_add(out, &proto_msg_RegisterBrokerRecord, ctrl_register_broker_record_version(mv));
    if (!r)
        return FERRY_ENOMEM;
    r->BrokerId = req->BrokerId;
    r->IsMigratingZkBroker = req->IsMigratingZkBroker;
    r->IncarnationId = req->IncarnationId;
    r->BrokerEpoch = epoch;
    r->Rack = req->Rack.len >= 0 ? (proto_str){proto_arena_strdup(a, req->Rack), req->Rack.len} : req->Rack;
    r->Fenced = true;
    r->InControlledShutdown = false;
    r->EndPoints = proto_array_new(a, &desc_RegisterBrokerRecord_BrokerEndpoint, nls);
    int32_t nf = req->Features_n > 0 ? req->Features_n : 0;
    bool has_mv = false;
    for (int32_t i = 0; i < nf; i++)
        has_mv |= proto_str_eq(req->Features[i].Name, MD_FEATURE_METADATA_VERSION);
    r->Features = proto_array_new(a, &desc_RegisterBrokerRecord_BrokerFeature, nf + !has_mv);
    if ((req->Rack.len >= 0 && !r->Rack.p) || !r->EndPoints || !r->Features)
        return FERRY_ENOMEM;
    r->EndPoints_n = nls;
    for (int32_t i = 0; i < nls; i++) {
        struct RegisterBrokerRecord_BrokerEndpoint *e = &r->EndPoints[i];
        e->Name = (proto_str){proto_arena_strdup(a, ls[i].name), ls[i].name.len};
        e->Host = (proto_str){proto_arena_strdup(a, ls[i].host), ls[i].host.len};
        e->Port = ls[i].port;
        e->SecurityProtocol = ls[i].protocol;
        if (!e->Name.p || !e->Host.p)
            return FERRY_ENOMEM;
    }
    r->Features_n = nf + !has_mv;
    for (int32_t i = 0; i < nf; i++) {
        const struct BrokerRegistrationRequest_Feature *f = &req->Features[i];
        r->Features[i].Name = (proto_str){proto_arena_strdup(a, f->Name), f->Name.len};
        r->Features[i].MinSupportedVersion = f->MinSupportedVersion;
        r->Features[i].MaxSupportedVersion = f->MaxSupportedVersion;
        if (!r->Features[i].Name.p)
            return FERRY_ENOMEM;
    }
    if (!has_mv)
        r->Features[nf] = (struct RegisterBrokerRecord_BrokerFeature){proto_str_from(MD_FEATURE_METADATA_VERSION),
                                                                     MV_MINIMUM_KRAFT, MV_MINIMUM_KRAFT};
    r->LogDirs_n = 0;
    if (mv >= MV_3_7_IV2 && req->LogDirs_n > 0) {
        r->LogDirs = proto_arena_alloc(a, (size_t)req->LogDirs_n * sizeof *r->LogDirs);
        if (!r->LogDirs)
            return FERRY_ENOMEM;
        memcpy(r->LogDirs, req->LogDirs, (size_t)req->LogDirs_n * sizeof *r->LogDirs);
        r->LogDirs_n = req->LogDirs_n;
    }
    return 0;
}

int ctrl_register_broker(const struct md_image *img, const struct ctrl_env *env, struct ctrl_heartbeats *hb,
                         const struct BrokerRegistrationRequest *req, int16_t version, int64_t next_offset,
                         int64_t now_ms, struct BrokerRegistrationResponse *resp, struct ctrl_records *out)
{
    (void)version; /* v3's PreviousBrokerEpoch only feeds KIP-966's unclean-shutdown handling (not in 3.7) */
    resp->ErrorCode = KERR_NONE;
    resp->BrokerEpoch = -1;
    char msg[512];
    int rc = check_registration(img, env, hb, req, now_ms, msg, sizeof msg);
    int32_t n = req->Listeners_n > 0 ? req->Listeners_n : 0;
    struct listener *ls = ferry_malloc((size_t)(n ? n : 1) * sizeof *ls);
    if (!ls)
        return FERRY_ENOMEM;
    int32_t nls = 0;
    if (!rc) {
        for (int32_t i = 0; i < n; i++) {
            const struct BrokerRegistrationRequest_Listener *l = &req->Listeners[i];
            ls[i] = (struct listener){l->Name, l->Host, l->Port, l->SecurityProtocol};
        }
        nls = unique_listeners(ls, n, msg, sizeof msg);
        if (nls < 0)
            rc = KERR_UNKNOWN_SERVER_ERROR;
    }
    if (rc) {
        LOG_INFO("ctrl", "registration of broker %d refused (%d): %s", req->BrokerId, rc, msg);
        resp->ErrorCode = (int16_t)rc;
        ferry_free(ls);
        return 0;
    }
    size_t mark = out->n;
    rc = fill_broker_record(img, req, ls, nls, next_offset, out);
    ferry_free(ls);
    if (!rc)
        rc = ctrl_hb_register(hb, req->BrokerId, true, now_ms);
    if (rc) {
        ctrl_records_truncate(out, mark);
        return rc;
    }
    LOG_INFO("ctrl", "broker %d registers with epoch %lld", req->BrokerId, (long long)next_offset);
    resp->BrokerEpoch = next_offset;
    return 0;
}

int ctrl_unregister_broker(const struct md_image *img, const struct ctrl_env *env, struct ctrl_heartbeats *hb,
                           const struct UnregisterBrokerRequest *req, struct proto_arena *a,
                           struct UnregisterBrokerResponse *resp, struct ctrl_records *out)
{
    (void)a;
    resp->ErrorCode = KERR_NONE;
    resp->ErrorMessage = (proto_str){NULL, -1};
    const struct md_broker *b = md_image_broker(img, req->BrokerId);
    /* ControllerApis answers errors with the code alone (no message). */
    if (!b) {
        LOG_INFO("ctrl", "UnregisterBroker: Broker ID %d is not currently registered", req->BrokerId);
        resp->ErrorCode = KERR_BROKER_ID_NOT_REGISTERED;
        return 0;
    }
    size_t mark = out->n;
    int rc = ctrl_leader_isr_updates(img, env, b->id, -1, NULL, NULL, out);
    struct UnregisterBrokerRecord *u = rc ? NULL : ctrl_records_add(out, &proto_msg_UnregisterBrokerRecord, 0);
    if (!u) {
        ctrl_records_truncate(out, mark);
        return FERRY_ENOMEM;
    }
    u->BrokerId = b->id;
    u->BrokerEpoch = b->epoch;
    if (out->n - mark > CTRL_MAX_RECORDS_PER_OP) {
        ctrl_records_truncate(out, mark);
        resp->ErrorCode = KERR_POLICY_VIOLATION;
        return 0;
    }
    ctrl_hb_remove(hb, b->id);
    LOG_INFO("ctrl", "unregistering broker %d (epoch %lld), %zu partition change(s)", b->id, (long long)b->epoch,
             out->n - mark - 1);
    return 0;
}

int ctrl_register_controller(const struct md_image *img, const struct ControllerRegistrationRequest *req,
                             struct proto_arena *a, struct ControllerRegistrationResponse *resp,
                             struct ctrl_records *out)
{
    struct ctrl_ctx c = {a, false};
    resp->ErrorCode = KERR_NONE;
    resp->ErrorMessage = (proto_str){NULL, -1};
    /* Errors reach the wire as ControllerRegistrationRequest.getErrorResponse builds them: the code and
     * the code's default message; the reason goes to the log. */
    if (img->metadata_version < MV_3_7_IV0) {
        LOG_INFO("ctrl", "controller %d: The current MetadataVersion is too old to support controller "
                 "registrations.", req->ControllerId);
        resp->ErrorCode = KERR_UNSUPPORTED_VERSION;
        resp->ErrorMessage = ctrl_strf(&c, "The version of API is not supported.");
        return c.oom ? FERRY_ENOMEM : 0;
    }
    int32_t n = req->Listeners_n > 0 ? req->Listeners_n : 0;
    struct listener *ls = ferry_malloc((size_t)(n ? n : 1) * sizeof *ls);
    if (!ls)
        return FERRY_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const struct ControllerRegistrationRequest_Listener *l = &req->Listeners[i];
        ls[i] = (struct listener){l->Name, l->Host, l->Port, l->SecurityProtocol};
    }
    char msg[256];
    int32_t nls = unique_listeners(ls, n, msg, sizeof msg);
    if (nls < 0) {
        ferry_free(ls);
        LOG_INFO("ctrl", "controller %d: %s", req->ControllerId, msg);
        resp->ErrorCode = KERR_UNKNOWN_SERVER_ERROR;
        resp->ErrorMessage = ctrl_strf(&c, "The server experienced an unexpected error when processing the request.");
        return c.oom ? FERRY_ENOMEM : 0;
    }
    size_t mark = out->n;
    int32_t nf = req->Features_n > 0 ? req->Features_n : 0;
    struct RegisterControllerRecord *r = ctrl_records_add(out, &proto_msg_RegisterControllerRecord, 0);
    int rc = r ? 0 : FERRY_ENOMEM;
    if (r) {
        r->ControllerId = req->ControllerId;
        r->IncarnationId = req->IncarnationId;
        r->ZkMigrationReady = req->ZkMigrationReady;
        r->EndPoints = proto_array_new(out->a, &desc_RegisterControllerRecord_ControllerEndpoint, nls);
        r->Features = proto_array_new(out->a, &desc_RegisterControllerRecord_ControllerFeature, nf);
        if (!r->EndPoints || !r->Features)
            rc = FERRY_ENOMEM;
    }
    for (int32_t i = 0; !rc && i < nls; i++) {
        struct RegisterControllerRecord_ControllerEndpoint *e = &r->EndPoints[i];
        e->Name = (proto_str){proto_arena_strdup(out->a, ls[i].name), ls[i].name.len};
        e->Host = (proto_str){proto_arena_strdup(out->a, ls[i].host), ls[i].host.len};
        e->Port = ls[i].port;
        e->SecurityProtocol = ls[i].protocol;
        r->EndPoints_n = i + 1;
        if (!e->Name.p || !e->Host.p)
            rc = FERRY_ENOMEM;
    }
    for (int32_t i = 0; !rc && i < nf; i++) {
        const struct ControllerRegistrationRequest_Feature *f = &req->Features[i];
        struct RegisterControllerRecord_ControllerFeature *o = &r->Features[i];
        o->Name = (proto_str){proto_arena_strdup(out->a, f->Name), f->Name.len};
        o->MinSupportedVersion = f->MinSupportedVersion;
        o->MaxSupportedVersion = f->MaxSupportedVersion;
        r->Features_n = i + 1;
        if (!o->Name.p)
            rc = FERRY_ENOMEM;
    }
    ferry_free(ls);
    if (rc) {
        ctrl_records_truncate(out, mark);
        return rc;
    }
    LOG_INFO("ctrl", "controller %d registers with %d endpoint(s)", req->ControllerId, nls);
    return 0;
}
