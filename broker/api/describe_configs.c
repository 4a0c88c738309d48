/* describe_configs: DescribeConfigs v0-v2 for TOPIC resources (every topic key with its effective value
 * and source: topic override, broker-set synonym, or default) and BROKER resources (this node's id, or ""
 * for cluster defaults; every broker key Ferry knows, read-only). v0 reports IsDefault, v1+ ConfigSource
 * and, when asked, synonyms. Unknown topics get UNKNOWN_TOPIC_OR_PARTITION; another broker's id or an
 * unsupported resource type gets INVALID_REQUEST. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "broker/common/ferry_err.h"

#define RESOURCE_TOPIC 2
#define RESOURCE_BROKER 4

static bool key_requested(const struct DescribeConfigsRequest_DescribeConfigsResource *res, const char *name)
{
    if (res->ConfigurationKeys_n < 0)
        return true;
    for (int32_t i = 0; i < res->ConfigurationKeys_n; i++)
        if (proto_str_eq(res->ConfigurationKeys[i], name))
            return true;
    return false;
}

static bool add_entry(struct net_request *req, struct DescribeConfigsResponse_DescribeConfigsResourceResult *e,
                      const char *name, const char *value, int8_t source, bool read_only, int8_t type,
                      bool with_synonyms, const char *synonym)
{
    e->Name = proto_str_from(name);
    e->Value = value ? proto_str_from(proto_arena_strdup(&req->arena, proto_str_from(value))) : (proto_str){NULL, -1};
    e->ReadOnly = read_only;
    e->IsDefault = source == CONFIG_SOURCE_DEFAULT;
    e->ConfigSource = source;
    e->ConfigType = type;
    e->Synonyms_n = 0;
    if (with_synonyms) {
        /* The effective value's own source first, then the broker synonym behind a topic default. */
        bool broker_syn = synonym && source != CONFIG_SOURCE_DYNAMIC_TOPIC;
        e->Synonyms = proto_array_new(&req->arena, &desc_DescribeConfigsResponse_DescribeConfigsSynonym, 1);
        if (!e->Synonyms)
            return false;
        e->Synonyms[0].Name = broker_syn ? proto_str_from(synonym) : e->Name;
        e->Synonyms[0].Value = e->Value;
        e->Synonyms[0].Source = source;
        e->Synonyms_n = 1;
    }
    return true;
}

static int16_t describe_topic(struct broker *b, struct net_request *req,
                              const struct DescribeConfigsRequest_DescribeConfigsResource *res,
                              struct DescribeConfigsResponse_DescribeConfigsResult *out, bool synonyms)
{
    char *name = proto_arena_strdup(&req->arena, res->ResourceName);
    if (!name || !md_image_topic(broker_image(b), name))
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    struct topic_config tc;
    broker_topic_config(b, name, &tc);
    size_t n = topic_config_count();
    out->Configs = proto_array_new(&req->arena, &desc_DescribeConfigsResponse_DescribeConfigsResourceResult, (int32_t)n);
    if (!out->Configs)
        return KERR_UNKNOWN_SERVER_ERROR;
    int32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct topic_config_entry te;
        char buf[256];
        if (topic_config_describe_at(&tc, i, &te, buf, sizeof buf) != 0 || !key_requested(res, te.name))
            continue;
        if (!add_entry(req, &out->Configs[k++], te.name, te.value, (int8_t)te.source, false, (int8_t)te.type,
                       synonyms, te.synonym))
            return KERR_UNKNOWN_SERVER_ERROR;
    }
    out->Configs_n = k;
    return KERR_NONE;
}

static int16_t describe_broker(struct broker *b, struct net_request *req,
                               const struct DescribeConfigsRequest_DescribeConfigsResource *res,
                               struct DescribeConfigsResponse_DescribeConfigsResult *out, bool synonyms)
{
    char *name = proto_arena_strdup(&req->arena, res->ResourceName);
    if (!name)
        return KERR_UNKNOWN_SERVER_ERROR;
    if (name[0] != '\0') {
        char *end;
        long id = strtol(name, &end, 10);
        if (*end != '\0' || id != b->node_id) {
            out->ErrorMessage = proto_str_from("Unexpected broker id, expected this node's id or an empty name");
            return KERR_INVALID_REQUEST;
        }
    }
    size_t n = config_key_count();
    out->Configs = proto_array_new(&req->arena, &desc_DescribeConfigsResponse_DescribeConfigsResourceResult, (int32_t)n);
    if (!out->Configs)
        return KERR_UNKNOWN_SERVER_ERROR;
    int32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct config_entry ce;
        if (config_describe_at(b->cfg, i, &ce) != 0 || !key_requested(res, ce.name))
            continue;
        const char *value = ce.sensitive ? NULL : ce.value;
        if (!add_entry(req, &out->Configs[k], ce.name, value, (int8_t)ce.source, ce.read_only, (int8_t)ce.type,
                       synonyms, NULL))
            return KERR_UNKNOWN_SERVER_ERROR;
        out->Configs[k].IsSensitive = ce.sensitive;
        k++;
    }
    out->Configs_n = k;
    return KERR_NONE;
}

void api_handle_describe_configs(struct broker *b, struct net_request *req)
{
    struct DescribeConfigsRequest body;
    if (!api_decode(req, &proto_msg_DescribeConfigsRequest, &body))
        return;
    struct DescribeConfigsResponse *resp = api_new_response(req, &proto_msg_DescribeConfigsResponse);
    int32_t n = body.Resources_n > 0 ? body.Resources_n : 0;
    if (!resp || !(resp->Results = proto_array_new(&req->arena, &desc_DescribeConfigsResponse_DescribeConfigsResult, n))) {
        net_close_for(req, "out of memory");
        return;
    }
    resp->Results_n = n;
    bool synonyms = req->hdr.api_version >= 1 && body.IncludeSynonyms;
    for (int32_t i = 0; i < n; i++) {
        const struct DescribeConfigsRequest_DescribeConfigsResource *res = &body.Resources[i];
        struct DescribeConfigsResponse_DescribeConfigsResult *out = &resp->Results[i];
        out->ResourceType = res->ResourceType;
        out->ResourceName = res->ResourceName;
        out->Configs_n = 0;
        if (res->ResourceType == RESOURCE_TOPIC)
            out->ErrorCode = describe_topic(b, req, res, out, synonyms);
        else if (res->ResourceType == RESOURCE_BROKER)
            out->ErrorCode = describe_broker(b, req, res, out, synonyms);
        else
            out->ErrorCode = KERR_INVALID_REQUEST;
        if (out->ErrorCode != KERR_NONE) {
            out->Configs_n = 0;
            if (out->ErrorCode == KERR_UNKNOWN_TOPIC_OR_PARTITION)
                out->ErrorMessage = proto_str_from("This server does not host this topic-partition.");
        }
    }
    net_respond(req, &proto_msg_DescribeConfigsResponse, resp);
}
