/* zk_broker_rpc: a controller request through zkrpc into the metadata image (see zk_broker_rpc.h). */
#include "zk_broker_rpc.h"

#include "broker/common/ferry_err.h"
#include "broker/common/ferry_log.h"

enum { ZK_API_LEADER_AND_ISR = 4, ZK_API_STOP_REPLICA = 5, ZK_API_UPDATE_METADATA = 6 };

int zk_broker_rpc_apply(struct md_image *img, int64_t *next_offset, struct zkrpc_broker *b, int16_t api_key,
                        int16_t version, const void *req, struct zkrpc_result *res, struct md_delta *d)
{
    int rc;
    switch (api_key) {
    case ZK_API_LEADER_AND_ISR: rc = zkrpc_leader_and_isr(b, img, version, req, res); break;
    case ZK_API_UPDATE_METADATA: rc = zkrpc_update_metadata(b, img, version, req, res); break;
    case ZK_API_STOP_REPLICA: rc = zkrpc_stop_replica(b, img, version, req, res); break;
    default: return FERRY_EINVAL;
    }
    if (rc)
        return rc;
    for (size_t i = 0; i < res->nrecords; i++) {
        const struct zkrpc_record *r = &res->records[i];
        rc = md_image_apply(img, r->m, r->data, *next_offset, d);
        if (rc) {
            ferry_log(FERRY_LOG_WARN, "zk_broker_rpc", "api %d: record %zu (%s) did not apply: %s", api_key, i, r->m->name,
                      ferry_strerror(rc));
            zkrpc_result_free(res);
            zkrpc_result_init(res);
            return rc;
        }
        (*next_offset)++;
    }
    return 0;
}
