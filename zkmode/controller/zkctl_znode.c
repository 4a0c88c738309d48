/* zkctl_znode.c: turning a decoded /brokers/ids/<id> znode into the controller's broker input. */
#include <string.h>

#include "broker/common/ferry_alloc.h"
#include "broker/common/ferry_err.h"
#include "zkctl.h"

int zkctl_security_protocol_id(const char *name)
{
    static const char *const names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return FERRY_EPARSE;
}

void zkctl_broker_buf_free(zkctl_broker_buf *b)
{
    for (size_t i = 0; i < b->n; i++)
        zk_endpoint_free(&b->parsed[i]);
    ferry_free(b->parsed);
    ferry_free(b->endpoints);
    memset(b, 0, sizeof(*b));
}

int zkctl_broker_from_znode(int32_t id, int64_t czxid, const zk_broker_info *info, zkctl_broker_buf *out)
{
    memset(out, 0, sizeof(*out));
    if (!info || id < 0)
        return FERRY_EINVAL;
    size_t n = info->n_endpoints;
    out->endpoints = ferry_calloc(n ? n : 1, sizeof(*out->endpoints));
    out->parsed = ferry_calloc(n ? n : 1, sizeof(*out->parsed));
    if (!out->endpoints || !out->parsed) {
        zkctl_broker_buf_free(out);
        return FERRY_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = zk_endpoint_parse(info->endpoints[i], &out->parsed[i]);
        if (rc) {
            zkctl_broker_buf_free(out);
            return rc;
        }
        out->n++;
        const char *proto = info->protocol_map.n ? zk_str_map_get(&info->protocol_map, out->parsed[i].listener)
                                                 : out->parsed[i].listener;
        int sp = zkctl_security_protocol_id(proto);
        if (sp < 0) {
            zkctl_broker_buf_free(out);
            return FERRY_EPARSE;
        }
        out->endpoints[i].listener = out->parsed[i].listener;
        out->endpoints[i].host = out->parsed[i].host;
        out->endpoints[i].port = out->parsed[i].port;
        out->endpoints[i].security_protocol = (int16_t)sp;
    }
    out->broker.id = id;
    out->broker.epoch = czxid;
    out->broker.n_endpoints = n;
    out->broker.endpoints = out->endpoints;
    out->broker.rack = info->rack;
    return 0;
}
