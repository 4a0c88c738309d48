/* api_versions: ApiVersions v0-v3. An unsupported ApiVersions version is answered, as Kafka does, with
 * a v0-shaped body carrying UNSUPPORTED_VERSION and only the ApiVersions range, so that clients (e.g.
 * librdkafka) fall back to a version the broker has. A broker listener in legacy mode also lists the
 * legacy-only APIs (proto_legacy_apis), after the others, as Kafka's ZooKeeper-mode brokers do; in quorum
 * mode the quorum-only ones (proto_quorum_apis). The controller listener lists proto_controller_apis. */
#include "api.h"
#include "api_support.h"
#include "broker/common/ferry_err.h"

void api_handle_api_versions(struct api_listener *l, struct net_request *req)
{
    const struct proto_api_range *table = l->controller ? proto_controller_apis : proto_broker_apis;
    size_t n = l->controller ? proto_controller_apis_count : proto_broker_apis_count;
    size_t nmode;
    const struct proto_api_range *mode = api_listener_mode_apis(l, &nmode);
    const struct proto_api_range *own = proto_api_lookup(API_API_VERSIONS);
    struct ApiVersionsResponse *resp = api_new_response(req, &proto_msg_ApiVersionsResponse);
    if (!resp) {
        net_close_for(req, "out of memory");
        return;
    }
    if (req->hdr.api_version < own->min_version || req->hdr.api_version > own->max_version) {
        resp->ErrorCode = KERR_UNSUPPORTED_VERSION;
        resp->ApiKeys = proto_array_new(&req->arena, &desc_ApiVersionsResponse_ApiVersion, 1);
        if (!resp->ApiKeys) {
            net_close_for(req, "out of memory");
            return;
        }
        resp->ApiKeys_n = 1;
        resp->ApiKeys[0] = (struct ApiVersionsResponse_ApiVersion){API_API_VERSIONS, own->min_version,
                                                                   own->max_version};
        net_respond_at(req, &proto_msg_ApiVersionsResponse, 0, resp);
        return;
    }
    struct ApiVersionsRequest body;
    if (!api_decode(req, &proto_msg_ApiVersionsRequest, &body))
        return;
    resp->ApiKeys = proto_array_new(&req->arena, &desc_ApiVersionsResponse_ApiVersion, (int32_t)(n + nmode));
    if (!resp->ApiKeys) {
        net_close_for(req, "out of memory");
        return;
    }
    resp->ApiKeys_n = (int32_t)(n + nmode);
    for (size_t i = 0; i < n + nmode; i++) {
        const struct proto_api_range *r = i < n ? &table[i] : &mode[i - n];
        resp->ApiKeys[i] = (struct ApiVersionsResponse_ApiVersion){r->api_key, r->min_version, r->max_version};
    }
    net_respond(req, &proto_msg_ApiVersionsResponse, resp);
}
