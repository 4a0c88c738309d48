/* zk_broker_api: see zk_broker_api.h. */
#include "zk_broker_api.h"

#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "zk_broker_rpc.h"
#include "zk_source_internal.h"

struct zk_bapi *zk_bapi_get(struct zk_src *z)
{
    if (!z->bapi) {
        z->bapi = ferry_calloc(1, sizeof *z->bapi);
        if (z->bapi)
            zkrpc_broker_init(&z->bapi->rpc, z->broker_id, ZKRPC_UNKNOWN_BROKER_EPOCH);
    }
    return z->bapi;
}

void zk_bapi_free(struct zk_src *z)
{
    if (!z->bapi)
        return;
    zk_alter_free(z->bapi->alter);
    zk_shutdown_free(z->bapi->shutdown);
    zkrpc_broker_free(&z->bapi->rpc);
    ferry_free(z->bapi);
    z->bapi = NULL;
}

/* ---- controller requests in ---- */

/* The replica fetching the request switched off (StopReplica without deletion) or on (LeaderAndIsr), in
 * res's arena; false when out of memory. */
static bool fetch_switches(struct zkrpc_result *res, struct md_response *out)
{
    size_t n = res->nstarts;
    for (size_t i = 0; i < res->nstops; i++)
        n += !res->stops[i].del;
    if (n == 0)
        return true;
    struct md_fetch_switch *v = proto_arena_alloc(&res->arena, n * sizeof *v);
    if (!v)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < res->nstops; i++)
        if (!res->stops[i].del)
            v[k++] = (struct md_fetch_switch){res->stops[i].topic, res->stops[i].partition, false};
    for (size_t i = 0; i < res->nstarts; i++)
        v[k++] = (struct md_fetch_switch){res->starts[i].topic, res->starts[i].partition, true};
    out->switches = v;
    out->nswitches = k;
    return true;
}

int zk_bapi_controller_request(void *impl, int16_t api_key, int16_t version, const void *req,
                               struct md_response *out)
{
    struct zk_src *z = impl;
    memset(out, 0, sizeof *out);
    proto_arena_init(&out->arena);
    struct zk_bapi *a = zk_bapi_get(z);
    if (!a)
        return FERRY_ENOMEM;
    /* this broker's registration and the newest controller epoch ZooKeeper or a request showed */
    a->rpc.broker_epoch = zk_source_broker_epoch(z);
    int32_t known = zk_source_controller_epoch(z);
    if (a->rpc.controller_epoch < known)
        a->rpc.controller_epoch = known;
    struct zkrpc_result res;
    zkrpc_result_init(&res);
    struct md_delta d;
    md_delta_init(&d);
    int rc = zk_broker_rpc_apply(&z->img, &z->next_offset, &a->rpc, api_key, version, req, &res, &d);
    zk_src_publish(z, &d); /* also what applied before an allocation failure: the image has it */
    if (rc) {
        zkrpc_result_free(&res);
        return rc;
    }
    zk_source_stale_controller_epoch(z, a->rpc.controller_epoch); /* remembered for the next checks */
    if (!fetch_switches(&res, out)) {
        zkrpc_result_free(&res);
        return FERRY_ENOMEM;
    }
    out->m = res.response_m;
    out->body = res.response;
    out->arena = res.arena; /* the response lives there: the caller frees it */
    ferry_free(res.records);
    return 0;
}
