/* Unit tests of kclient, the operator tools' blocking Kafka client, against a scripted fake broker on a
 * loopback port (a thread in this process): the ApiVersions handshake and its fallbacks, version
 * negotiation, controller discovery, and the clear failures (refused, timeout, truncated, closed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "api_support.h"
#include "broker/cli/kclient.h"
#include "proto_codec.h"
#include "proto_header.h"

/* ---- a scripted fake broker ------------------------------------------------------------------------- */

enum fake_action { FAKE_REPLY, FAKE_CLOSE, FAKE_HANG, FAKE_TRUNCATE };

struct fake_broker;
/* Writes the response body for one request into w and says what to do with it. */
typedef enum fake_action (*fake_handler)(struct fake_broker *fb, const struct proto_request_header *h,
                                         struct proto_reader *body, struct proto_writer *w);

struct fake_broker {
    int listen_fd;
    int port;
    pthread_t thread;
    fake_handler handler;
    int max_conns; /* the thread exits after serving this many connections */
    int conns;     /* connection number being served (1-based) */
    int16_t api_versions_seen[8];
    int n_api_versions_seen;
    int requests;
    int controller_id;   /* for Metadata answers */
    int controller_port; /* the controller's port in Metadata answers */
};

static bool read_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (uint8_t *)p + got, n - got);
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

static void write_full(int fd, const void *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        p = (const uint8_t *)p + k;
        n -= (size_t)k;
    }
}

static void serve_connection(struct fake_broker *fb, int fd)
{
    for (;;) {
        uint8_t sz[4];
        if (!read_full(fd, sz, 4))
            return;
        uint32_t n = proto_be32(sz);
        uint8_t *req = malloc(n);
        if (!req || !read_full(fd, req, n)) {
            free(req);
            return;
        }
        struct proto_reader r;
        proto_reader_init(&r, req, n);
        struct proto_request_header h;
        proto_read_request_header(&r, &h);
        fb->requests++;
        if (h.api_key == API_API_VERSIONS && fb->n_api_versions_seen < 8)
            fb->api_versions_seen[fb->n_api_versions_seen++] = h.api_version;
        struct proto_writer body;
        proto_writer_init(&body);
        enum fake_action act = fb->handler(fb, &h, &r, &body);
        free(req);
        struct proto_writer out;
        proto_writer_init(&out);
        proto_write_i32(&out, 0);
        proto_write_response_header(&out, h.api_key, h.api_version, h.correlation_id);
        proto_write_raw(&out, body.buf, body.len);
        proto_patch_i32(&out, 0, (int32_t)(out.len - 4));
        proto_writer_free(&body);
        if (act == FAKE_TRUNCATE)
            proto_patch_i32(&out, 0, (int32_t)(out.len - 4 + 100)); /* promise 100 bytes more than sent */
        if (act == FAKE_REPLY || act == FAKE_TRUNCATE)
            write_full(fd, out.buf, out.len);
        proto_writer_free(&out);
        if (act == FAKE_HANG)
            while (read(fd, sz, 1) > 0) /* until the client gives up */
                ;
        if (act != FAKE_REPLY)
            return;
    }
}

static void *fake_thread(void *arg)
{
    struct fake_broker *fb = arg;
    for (fb->conns = 1; fb->conns <= fb->max_conns; fb->conns++) {
        int fd = accept(fb->listen_fd, NULL, NULL);
        if (fd < 0)
            break;
        serve_connection(fb, fd);
        close(fd);
    }
    return NULL;
}

/* Listens on a free loopback port; Metadata answers name controller_id (broker 2 is at controller_port,
 * 0 meaning this fake's own port). */
static void fake_start_ctrl(struct fake_broker *fb, fake_handler handler, int max_conns, int controller_id,
                            int controller_port)
{
    memset(fb, 0, sizeof *fb);
    fb->handler = handler;
    fb->max_conns = max_conns;
    fb->controller_id = controller_id;
    fb->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fb->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fb->listen_fd, 4), 0);
    assert_int_equal(getsockname(fb->listen_fd, (struct sockaddr *)&sa, &len), 0);
    fb->port = ntohs(sa.sin_port);
    fb->controller_port = controller_port ? controller_port : fb->port;
    assert_int_equal(pthread_create(&fb->thread, NULL, fake_thread, fb), 0);
}

static void fake_start(struct fake_broker *fb, fake_handler handler, int max_conns)
{
    fake_start_ctrl(fb, handler, max_conns, 1, 0);
}

/* The client must have closed its connections first. */
static void fake_stop(struct fake_broker *fb)
{
    shutdown(fb->listen_fd, SHUT_RDWR); /* wakes accept() if fewer connections came than allowed */
    pthread_join(fb->thread, NULL);
    close(fb->listen_fd);
}

/* ---- canned answers ------------------------------------------------------------------------------------ */

static const struct ApiVersionsResponse_ApiVersion ferry_ranges[] = {
    {API_METADATA, 0, 5}, {API_API_VERSIONS, 0, 3}, {API_CREATE_TOPICS, 0, 4}, {API_DELETE_TOPICS, 0, 3},
};

static void encode_api_versions(struct proto_writer *w, int16_t version, int16_t error,
                                const struct ApiVersionsResponse_ApiVersion *ranges, int n)
{
    struct ApiVersionsResponse resp;
    proto_struct_init(proto_msg_ApiVersionsResponse.body, &resp);
    resp.ErrorCode = error;
    resp.ApiKeys = (struct ApiVersionsResponse_ApiVersion *)ranges;
    resp.ApiKeys_n = n;
    assert_int_equal(proto_encode(&proto_msg_ApiVersionsResponse, version, w, &resp), 0);
}

static void encode_metadata(struct fake_broker *fb, struct proto_writer *w, int16_t version)
{
    struct MetadataResponse_MetadataResponseBroker brokers[2] = {
        {.NodeId = 1, .Host = proto_str_from("127.0.0.1"), .Port = fb->port, .Rack = {NULL, -1}},
        {.NodeId = 2, .Host = proto_str_from("127.0.0.1"), .Port = fb->controller_port, .Rack = {NULL, -1}},
    };
    struct MetadataResponse resp;
    proto_struct_init(proto_msg_MetadataResponse.body, &resp);
    resp.Brokers = brokers;
    resp.Brokers_n = 2;
    resp.ControllerId = fb->controller_id;
    resp.Topics_n = 0;
    assert_int_equal(proto_encode(&proto_msg_MetadataResponse, version, w, &resp), 0);
}

/* A well-behaved broker advertising Ferry's ranges for the keys above. */
static enum fake_action normal_broker(struct fake_broker *fb, const struct proto_request_header *h,
                                      struct proto_reader *body, struct proto_writer *w)
{
    if (h->api_key == API_API_VERSIONS) {
        encode_api_versions(w, h->api_version, 0, ferry_ranges, 4);
        return FAKE_REPLY;
    }
    if (h->api_key == API_METADATA) {
        encode_metadata(fb, w, h->api_version);
        return FAKE_REPLY;
    }
    return FAKE_CLOSE;
}

/* ---- tests ---------------------------------------------------------------------------------------------- */

static void test_parse_hostport(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(kclient_parse_hostport("localhost:9092", host, sizeof host, &port), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 9092);
    assert_int_equal(kclient_parse_hostport("10.0.0.1:1,10.0.0.2:2", host, sizeof host, &port), 0);
    assert_string_equal(host, "10.0.0.1");
    assert_int_equal(port, 1);
    assert_int_equal(kclient_parse_hostport("[::1]:19092", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 19092);
    const char *bad[] = {"", "localhost", "localhost:", ":9092", "h:0", "h:65536", "h:12a", "[::1]9092", "h:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (kclient_parse_hostport(bad[i], host, sizeof host, &port) != FERRY_EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
    assert_int_equal(kclient_parse_hostport("averylonghostname:1", host, 8, &port), FERRY_EINVAL);
}

static void test_format_uuid(void **state)
{
    (void)state;
    proto_uuid id = {{0}};
    char out[23];
    proto_uuid_to_base64(id, out);
    assert_string_equal(out, "AAAAAAAAAAAAAAAAAAAAAA");
    assert_true(proto_uuid_is_zero(id));
    for (int i = 0; i < 16; i++)
        id.b[i] = (uint8_t)(i * 17 + 0xf0);
    proto_uuid_to_base64(id, out);
    assert_string_equal(out, "8AESIzRFVmd4iZqrvM3e7w"); /* base64url of f0 01 12 ... ef, unpadded */
    assert_false(proto_uuid_is_zero(id));
    memset(id.b, 0xfb, 16);
    proto_uuid_to_base64(id, out);
    assert_string_equal(out, "-_v7-_v7-_v7-_v7-_v7-w"); /* the URL-safe alphabet's last two characters */
}

static void test_connection_refused(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start(&fb, normal_broker, 0); /* grab a port, then stop listening on it */
    int port = fb.port;
    fake_stop(&fb);
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", port), KCLIENT_ECONNREFUSED);
    assert_non_null(strstr(kclient_errmsg(&c), "connection refused"));
    assert_int_equal(c.fd, -1);
    assert_int_equal(kclient_connect_bootstrap(&c, "nonsense"), FERRY_EINVAL);
    assert_non_null(strstr(kclient_errmsg(&c), "invalid bootstrap server 'nonsense'"));
}

static enum fake_action hanging_broker(struct fake_broker *fb, const struct proto_request_header *h,
                                       struct proto_reader *body, struct proto_writer *w)
{
    return FAKE_HANG;
}

static void test_handshake_timeout(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start(&fb, hanging_broker, 1);
    struct kclient c;
    kclient_init(&c);
    c.timeout_ms = 300;
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), KCLIENT_ETIMEDOUT);
    assert_non_null(strstr(kclient_errmsg(&c), "timed out after 300 ms while waiting for a response"));
    kclient_close(&c);
    fake_stop(&fb);
}

static void test_handshake_v3_and_versions(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start(&fb, normal_broker, 1);
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), 0);
    assert_int_equal(c.api_versions_version, 3);
    assert_int_equal(c.napis, 4);
    assert_int_equal(kclient_pick_version(&c, API_METADATA, 0), 5);       /* min(ours 12, broker 5) */
    assert_int_equal(kclient_pick_version(&c, API_CREATE_TOPICS, 4), 4);  /* min(ours 7, broker 4) */
    assert_int_equal(kclient_pick_version(&c, API_CREATE_TOPICS, 5), KCLIENT_EUNSUPPORTED);
    assert_non_null(strstr(kclient_errmsg(&c), "UNSUPPORTED_VERSION: the broker serves CreateTopics v0-4"));
    assert_int_equal(kclient_pick_version(&c, API_DESCRIBE_CLUSTER, 0), KCLIENT_EUNSUPPORTED);
    assert_non_null(strstr(kclient_errmsg(&c), "does not support DescribeCluster"));
    kclient_close(&c);
    fake_stop(&fb);
    assert_int_equal(fb.n_api_versions_seen, 1);
    assert_int_equal(fb.api_versions_seen[0], 3);
}

/* Apache Kafka's answer to an ApiVersions version it does not know: v0-shaped, error 35, listing only
 * ApiVersions with its own range; librdkafka retries at min(requested - 1, that max). */
static enum fake_action old_broker(struct fake_broker *fb, const struct proto_request_header *h,
                                   struct proto_reader *body, struct proto_writer *w)
{
    static const struct ApiVersionsResponse_ApiVersion only_av[] = {{API_API_VERSIONS, 0, 2}};
    if (h->api_key == API_API_VERSIONS && h->api_version > 2) {
        encode_api_versions(w, 0, KERR_UNSUPPORTED_VERSION, only_av, 1);
        return FAKE_REPLY;
    }
    return normal_broker(fb, h, body, w);
}

static void test_handshake_falls_back_to_broker_max(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start(&fb, old_broker, 1);
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), 0);
    assert_int_equal(c.api_versions_version, 2);
    assert_int_equal(c.napis, 4);
    kclient_close(&c);
    fake_stop(&fb);
    assert_int_equal(fb.n_api_versions_seen, 2);
    assert_int_equal(fb.api_versions_seen[1], 2);
}

/* An error 35 without the ApiVersions entry: retry at v0. */
static enum fake_action terse_broker(struct fake_broker *fb, const struct proto_request_header *h,
                                     struct proto_reader *body, struct proto_writer *w)
{
    if (h->api_key == API_API_VERSIONS && h->api_version > 0) {
        encode_api_versions(w, 0, KERR_UNSUPPORTED_VERSION, NULL, 0);
        return FAKE_REPLY;
    }
    return normal_broker(fb, h, body, w);
}

static void test_handshake_falls_back_to_v0(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start(&fb, terse_broker, 1);
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), 0);
    assert_int_equal(c.api_versions_version, 0);
    kclient_close(&c);
    fake_stop(&fb);
}

/* A broker that hangs up on ApiVersions v3: the client tries v0 on a new connection. */
static enum fake_action hangup_broker(struct fake_broker *fb, const struct proto_request_header *h,
                                      struct proto_reader *body, struct proto_writer *w)
{
    if (h->api_key == API_API_VERSIONS && h->api_version > 0)
        return FAKE_CLOSE;
    return normal_broker(fb, h, body, w);
}

static void test_handshake_reconnects_after_hangup(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start(&fb, hangup_broker, 2);
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), 0);
    assert_int_equal(c.api_versions_version, 0);
    kclient_close(&c);
    fake_stop(&fb);
    assert_int_equal(fb.n_api_versions_seen, 2);
}

/* A broker that rejects ApiVersions with an error other than 35/42: no endless retries. */
static enum fake_action failing_broker(struct fake_broker *fb, const struct proto_request_header *h,
                                       struct proto_reader *body, struct proto_writer *w)
{
    encode_api_versions(w, h->api_version, KERR_CLUSTER_AUTHORIZATION_FAILED, NULL, 0);
    return FAKE_REPLY;
}

static void test_handshake_error(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start(&fb, failing_broker, 1);
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), KCLIENT_EUNSUPPORTED);
    assert_non_null(strstr(kclient_errmsg(&c), "ApiVersions v3 failed: CLUSTER_AUTHORIZATION_FAILED (31)"));
    assert_int_equal(c.fd, -1);
    fake_stop(&fb);
}

static enum fake_action truncating_broker(struct fake_broker *fb, const struct proto_request_header *h,
                                          struct proto_reader *body, struct proto_writer *w)
{
    if (h->api_key == API_METADATA) {
        encode_metadata(fb, w, h->api_version);
        return FAKE_TRUNCATE;
    }
    return normal_broker(fb, h, body, w);
}

static void metadata_call(struct kclient *c, int expect_rc)
{
    struct MetadataRequest req;
    proto_struct_init(proto_msg_MetadataRequest.body, &req);
    req.Topics_n = -1;
    struct proto_arena a;
    proto_arena_init(&a);
    struct MetadataResponse resp;
    int rc = kclient_call(c, API_METADATA, 5, &req, &a, &resp);
    assert_int_equal(rc, expect_rc);
    if (rc == 0) {
        assert_int_equal(resp.Brokers_n, 2);
        assert_true(proto_str_eq(resp.Brokers[0].Host, "127.0.0.1"));
        assert_int_equal(resp.ControllerId, 1);
    }
    proto_arena_free(&a);
}

static void test_call_and_truncated_response(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start(&fb, normal_broker, 1);
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), 0);
    metadata_call(&c, 0);
    metadata_call(&c, 0);
    kclient_close(&c);
    fake_stop(&fb);

    fake_start(&fb, truncating_broker, 1);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), 0);
    metadata_call(&c, KCLIENT_ECLOSED);
    assert_non_null(strstr(kclient_errmsg(&c), "truncated Metadata response: connection closed after"));
    assert_int_equal(c.fd, -1);
    metadata_call(&c, KCLIENT_ENET); /* not connected any more */
    fake_stop(&fb);
}

/* Kafka closes the connection on a request version it does not serve. */
static void test_closed_instead_of_answer(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start(&fb, normal_broker, 1);
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), 0);
    struct DeleteTopicsRequest req;
    proto_struct_init(proto_msg_DeleteTopicsRequest.body, &req);
    req.TopicNames_n = 0;
    struct proto_arena a;
    proto_arena_init(&a);
    struct DeleteTopicsResponse resp;
    assert_int_equal(kclient_call(&c, API_DELETE_TOPICS, 3, &req, &a, &resp), KCLIENT_ECLOSED);
    assert_non_null(strstr(kclient_errmsg(&c), "connection closed by the broker before answering DeleteTopics v3"));
    proto_arena_free(&a);
    fake_stop(&fb);
}

static void test_controller_is_bootstrap_broker(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start(&fb, normal_broker, 1);
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), 0);
    assert_int_equal(kclient_connect_controller(&c), 0);
    assert_int_equal(c.node_id, 1);
    assert_int_equal(c.port, fb.port);
    kclient_close(&c);
    fake_stop(&fb);
    assert_int_equal(fb.requests, 2); /* ApiVersions, Metadata: no reconnection */
}

static void test_controller_elsewhere(void **state)
{
    (void)state;
    struct fake_broker ctrl, boot;
    fake_start(&ctrl, normal_broker, 1);
    fake_start_ctrl(&boot, normal_broker, 1, 2, ctrl.port);
    struct kclient c;
    kclient_init(&c);
    assert_int_equal(kclient_connect(&c, "127.0.0.1", boot.port), 0);
    assert_int_equal(kclient_connect_controller(&c), 0);
    assert_int_equal(c.node_id, 2);
    assert_int_equal(c.port, ctrl.port);
    metadata_call(&c, 0);
    kclient_close(&c);
    fake_stop(&boot);
    fake_stop(&ctrl);
    assert_int_equal(ctrl.requests, 2); /* ApiVersions, then our Metadata */
}

static void test_no_controller(void **state)
{
    (void)state;
    struct fake_broker fb;
    fake_start_ctrl(&fb, normal_broker, 1, -1, 0);
    struct kclient c;
    kclient_init(&c);
    c.timeout_ms = 500;
    assert_int_equal(kclient_connect(&c, "127.0.0.1", fb.port), 0);
    assert_int_equal(kclient_connect_controller(&c), KCLIENT_ENOCONTROLLER);
    assert_non_null(strstr(kclient_errmsg(&c), "no controller available (Metadata controller_id -1)"));
    kclient_close(&c);
    fake_stop(&fb);
    assert_true(fb.requests >= 3); /* it retried */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_hostport),
        cmocka_unit_test(test_format_uuid),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_handshake_v3_and_versions),
        cmocka_unit_test(test_handshake_falls_back_to_broker_max),
        cmocka_unit_test(test_handshake_falls_back_to_v0),
        cmocka_unit_test(test_handshake_reconnects_after_hangup),
        cmocka_unit_test(test_handshake_error),
        cmocka_unit_test(test_call_and_truncated_response),
        cmocka_unit_test(test_closed_instead_of_answer),
        cmocka_unit_test(test_controller_is_bootstrap_broker),
        cmocka_unit_test(test_controller_elsewhere),
        cmocka_unit_test(test_no_controller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
