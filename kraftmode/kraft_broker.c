/* kraft_broker: see kraft_broker.h. */
#include "kraftmode/kraft_broker.h"

#include "broker/common/ferry_err.h"
#include "broker/log/log.h"
#include "kraftmode/kraft_node_internal.h"

proto_uuid kraft_incarnation_id(void)
{
    static proto_uuid id;
    static bool made;
    if (!made) {
        while (log_uuid_random(&id) != 0 || proto_uuid_is_zero(id))
            ;
        made = true;
    }
    return id;
}

int kraft_broker_registration_request(struct kraft_node *node, const char *const *names, const uint16_t *ports,
                                      size_t n, struct proto_arena *a, struct BrokerRegistrationRequest *q)
{
    struct kraft_bound_ports bound = {(char **)names, (uint16_t *)ports, n};
    struct ctrl_records recs;
    ctrl_records_init(&recs, a);
    int rc = kraft_registration_records(node, &bound, -1, &recs);
    if (rc == 0 && recs.n < 1)
        rc = FERRY_EINVAL;
    const struct RegisterBrokerRecord *r = rc ? NULL : recs.recs[0].data;
    struct BrokerRegistrationRequest_Listener *ls =
        r ? proto_array_new(a, &desc_BrokerRegistrationRequest_Listener, r->EndPoints_n) : NULL;
    struct BrokerRegistrationRequest_Feature *fs =
        r ? proto_array_new(a, &desc_BrokerRegistrationRequest_Feature, r->Features_n) : NULL;
    if (!rc && (!ls || !fs))
        rc = FERRY_ENOMEM;
    ctrl_records_free(&recs);
    if (rc)
        return rc;
    for (int32_t i = 0; i < r->EndPoints_n; i++)
        ls[i] = (struct BrokerRegistrationRequest_Listener){r->EndPoints[i].Name, r->EndPoints[i].Host,
                                                            r->EndPoints[i].Port, r->EndPoints[i].SecurityProtocol};
    for (int32_t i = 0; i < r->Features_n; i++)
        fs[i] = (struct BrokerRegistrationRequest_Feature){r->Features[i].Name, r->Features[i].MinSupportedVersion,
                                                           r->Features[i].MaxSupportedVersion};
    q->BrokerId = r->BrokerId;
    q->ClusterId = proto_str_from(kraft_node_cluster_id(node));
    q->IncarnationId = r->IncarnationId;
    q->Listeners = ls;
    q->Listeners_n = r->EndPoints_n;
    q->Features = fs;
    q->Features_n = r->Features_n;
    q->Rack = r->Rack;
    q->IsMigratingZkBroker = false;
    q->LogDirs = r->LogDirs;
    q->LogDirs_n = r->LogDirs_n;
    q->PreviousBrokerEpoch = -1;
    return 0;
}

void kraft_fail_admin_response(int16_t api_key, const void *req, struct proto_arena *a, void *resp, int16_t code,
                               const char *msg)
{
    struct kraft_op op = {.req = req, .resp_arena = a, .resp = resp};
    switch (api_key) {
    case 19: op.kind = KRAFT_OP_CREATE_TOPICS; break;
    case 20: op.kind = KRAFT_OP_DELETE_TOPICS; break;
    case 33: op.kind = KRAFT_OP_ALTER_CONFIGS; break;
    case 37: op.kind = KRAFT_OP_CREATE_PARTITIONS; break;
    case 44: op.kind = KRAFT_OP_INCREMENTAL_ALTER_CONFIGS; break;
    case 43: ctrl_elect_leaders_error(req, a, code, msg, resp); return;
    case 45: ctrl_alter_partition_reassignments_error(req, a, code, msg, resp); return;
    case 46: ctrl_list_partition_reassignments_error(req, a, code, msg, resp); return;
    default: return;
    }
    kraft_op_fail_response(&op, code, msg);
}
