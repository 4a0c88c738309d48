/* kraft_source: see kraft_source.h. Each operation forwards to the kraft_node function of the same name. */
#include "kraft_source.h"

#include "kraftmode/kraft_describe.h"

static const struct md_image *image(const void *impl) { return kraft_node_image(impl); }
static void set_publisher(void *impl, md_publish_fn publish, void *arg) { kraft_node_set_publisher(impl, publish, arg); }
static void listeners_bound(void *impl, const char *const *names, const uint16_t *ports, size_t n)
{
    kraft_node_listeners_bound(impl, names, ports, n);
}
static void stop(void *impl) { kraft_node_stop(impl); }

static void create_topics(void *impl, const struct CreateTopicsRequest *req, int16_t version, struct proto_arena *a,
                          struct CreateTopicsResponse *resp, md_done_fn done, void *arg)
{
    kraft_create_topics(impl, req, version, a, resp, done, arg);
}
static void delete_topics(void *impl, const struct DeleteTopicsRequest *req, int16_t version, struct proto_arena *a,
                          struct DeleteTopicsResponse *resp, md_done_fn done, void *arg)
{
    kraft_delete_topics(impl, req, version, a, resp, done, arg);
}
static void create_partitions(void *impl, const struct CreatePartitionsRequest *req, int16_t version,
                              struct proto_arena *a, struct CreatePartitionsResponse *resp, md_done_fn done, void *arg)
{
    kraft_create_partitions(impl, req, version, a, resp, done, arg);
}
static void alter_configs(void *impl, const struct AlterConfigsRequest *req, int16_t version, struct proto_arena *a,
                          struct AlterConfigsResponse *resp, md_done_fn done, void *arg)
{
    kraft_alter_configs(impl, req, version, a, resp, done, arg);
}
static void incremental_alter_configs(void *impl, const struct IncrementalAlterConfigsRequest *req, int16_t version,
                                      struct proto_arena *a, struct IncrementalAlterConfigsResponse *resp,
                                      md_done_fn done, void *arg)
{
    kraft_incremental_alter_configs(impl, req, version, a, resp, done, arg);
}
static void allocate_producer_ids(void *impl, int32_t broker_id, int64_t broker_epoch, md_pids_done_fn done, void *arg)
{
    kraft_allocate_producer_ids(impl, broker_id, broker_epoch, done, arg);
}
static void auto_create_topics(void *impl, const char *const *names, size_t n, md_done_fn done, void *arg)
{
    kraft_auto_create_topics(impl, names, n, done, arg);
}

static int describe_quorum(void *impl, const struct DescribeQuorumRequest *req, struct proto_arena *a,
                           struct DescribeQuorumResponse *resp)
{
    return kraft_describe_quorum_response(impl, req, a, resp);
}

static const struct md_source_ops kraft_source_ops = {
    .image = image,
    .set_publisher = set_publisher,
    .listeners_bound = listeners_bound,
    .stop = stop,
    .create_topics = create_topics,
    .delete_topics = delete_topics,
    .create_partitions = create_partitions,
    .alter_configs = alter_configs,
    .incremental_alter_configs = incremental_alter_configs,
    .allocate_producer_ids = allocate_producer_ids,
    .auto_create_topics = auto_create_topics,
    .describe_quorum = describe_quorum,
};

void kraft_source_init(struct kraft_node *node, struct md_source *out)
{
    out->ops = &kraft_source_ops;
    out->impl = node;
}

struct kraft_node *kraft_source_node(const struct md_source *src)
{
    return src && src->ops == &kraft_source_ops ? src->impl : NULL;
}
