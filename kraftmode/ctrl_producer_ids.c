/* ctrl_producer_ids: the quorum controller's producer-id block allocation (Kafka's
 * ProducerIdControlManager behind AllocateProducerIds), as a pure decision: image + (broker id, broker
 * epoch) -> one ProducerIdsRecord + the response. */
#include "broker/common/ferry_err.h"
#include "kraftmode/ctrl.h"

int ctrl_allocate_producer_ids(const struct md_image *img, const struct AllocateProducerIdsRequest *req,
                               struct AllocateProducerIdsResponse *resp, struct ctrl_records *out)
{
    resp->ProducerIdStart = -1;
    resp->ProducerIdLen = 0;
    /* ClusterControlManager.checkBrokerEpoch: the broker must be registered with exactly this epoch. */
    const struct md_broker *b = md_image_broker(img, req->BrokerId);
    if (!b || b->epoch != req->BrokerEpoch) {
        resp->ErrorCode = KERR_STALE_BROKER_EPOCH;
        return 0;
    }
    int64_t first = img->producer_ids.next_producer_id;
    if (first < 0 || first > INT64_MAX - CTRL_PRODUCER_ID_BLOCK_SIZE) {
        resp->ErrorCode = KERR_UNKNOWN_SERVER_ERROR; /* Kafka: "Exhausted all producerIds" */
        return 0;
    }
    struct ProducerIdsRecord *rec = ctrl_records_add(out, &proto_msg_ProducerIdsRecord, 0);
    if (!rec)
        return FERRY_ENOMEM;
    rec->BrokerId = req->BrokerId;
    rec->BrokerEpoch = req->BrokerEpoch;
    rec->NextProducerId = first + CTRL_PRODUCER_ID_BLOCK_SIZE;
    resp->ErrorCode = KERR_NONE;
    resp->ProducerIdStart = first;
    resp->ProducerIdLen = CTRL_PRODUCER_ID_BLOCK_SIZE;
    return 0;
}
