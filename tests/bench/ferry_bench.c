/* ferry_bench: produce or consume throughput against a Kafka-compatible broker with librdkafka, the client
 * library behind kcat and confluent-kafka.
 *
 *   ferry_bench produce --brokers H:P --topic T --size BYTES --acks 1|all [--seconds S]
 *   ferry_bench consume --brokers H:P --topic T --partitions N --messages M [--size BYTES]
 *
 * produce sends BYTES-sized values (null keys, no compression) as fast as librdkafka will take them for S
 * seconds, then flushes; latency is librdkafka's per-message produce latency (produce() call to delivery
 * report, rd_kafka_message_latency), so under saturation it includes queueing in the client.
 * consume reads the N partitions from the beginning (legacy queue API: no consumer group needed) until M
 * messages arrived. Each run prints one line "RESULT key=value ..." for tests/bench/run_bench.py.
 *
 * A benchmark tool, not part of the broker: it allocates with plain malloc. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

struct bench_opts {
    const char *mode, *brokers, *topic, *acks;
    int size, partitions;
    double seconds;
    long long messages;
};

struct produce_stats {
    uint32_t *lat_us; /* one per delivered message */
    size_t nlat, caplat;
    long long delivered, failed;
    rd_kafka_resp_err_t first_err;
    double last_dr; /* seconds, monotonic */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "ferry_bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
        die("config: %s", err);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct produce_stats *st = opaque;
    st->last_dr = now_s();
    if (m->err) {
        if (!st->failed++)
            st->first_err = m->err;
        return;
    }
    st->delivered++;
    if (st->nlat == st->caplat) {
        size_t cap = st->caplat ? st->caplat * 2 : 1 << 20;
        uint32_t *p = realloc(st->lat_us, cap * sizeof *p);
        if (!p)
            die("%s", "out of memory");
        st->lat_us = p;
        st->caplat = cap;
    }
    int64_t lat = rd_kafka_message_latency(m);
    st->lat_us[st->nlat++] = lat < 0 ? 0 : (uint32_t)lat;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double percentile_ms(const uint32_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i] / 1000.0;
}

static int run_produce(const struct bench_opts *o)
{
    struct produce_stats st = {0};
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", o->brokers);
    conf_set(conf, "acks", strcmp(o->acks, "all") == 0 ? "-1" : o->acks);
    conf_set(conf, "linger.ms", "5");
    conf_set(conf, "compression.codec", "none");
    /* librdkafka's default message cap, and 32 MiB of queued data like the Java producer's buffer.memory:
     * under saturation the reported latency is mostly time spent in this queue. */
    conf_set(conf, "queue.buffering.max.messages", "100000");
    conf_set(conf, "queue.buffering.max.kbytes", "32768");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        die("producer: %s", err);
    char *value = malloc((size_t)o->size);
    if (!value)
        die("%s", "out of memory");
    for (int i = 0; i < o->size; i++)
        value[i] = (char)('a' + i % 26);

    /* Wait for the topic's metadata so that start-up is not counted. */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("metadata for topic %s failed", o->topic);
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);

    long long produced = 0;
    double start = now_s(), stop = start + o->seconds;
    while (now_s() < stop) {
        for (int burst = 0; burst < 1000; burst++) {
            rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(o->topic),
                                                      RD_KAFKA_V_VALUE(value, (size_t)o->size), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 1);
                continue;
            }
            if (e)
                die("produce: %s", rd_kafka_err2str(e));
            produced++;
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t fe = rd_kafka_flush(rk, 60000);
    double secs = (st.last_dr > start ? st.last_dr : now_s()) - start;
    qsort(st.lat_us, st.nlat, sizeof *st.lat_us, cmp_u32);
    double bytes = (double)st.delivered * o->size;
    printf("RESULT mode=produce topic=%s size=%d acks=%s produced=%lld delivered=%lld failed=%lld secs=%.3f "
           "mbps=%.2f msgps=%.0f p50_ms=%.2f p99_ms=%.2f librdkafka=%s error=%s\n",
           o->topic, o->size, o->acks, produced, st.delivered, st.failed, secs, bytes / secs / 1e6,
           (double)st.delivered / secs, percentile_ms(st.lat_us, st.nlat, 0.50),
           percentile_ms(st.lat_us, st.nlat, 0.99), rd_kafka_version_str(),
           fe ? rd_kafka_err2name(fe) : st.failed ? rd_kafka_err2name(st.first_err) : "none");
    free(st.lat_us);
    free(value);
    rd_kafka_destroy(rk);
    return st.failed || fe ? 1 : 0;
}

static int run_consume(const struct bench_opts *o)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", o->brokers);
    conf_set(conf, "enable.partition.eof", "false");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "fetch.wait.max.ms", "100");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        die("consumer: %s", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    double start = now_s(), first = 0, last = 0, idle_since = start;
    for (int p = 0; p < o->partitions; p++)
        if (rd_kafka_consume_start_queue(rkt, p, RD_KAFKA_OFFSET_BEGINNING, q) < 0)
            die("consume_start: %s", rd_kafka_err2str(rd_kafka_last_error()));
    long long got = 0, errors = 0;
    double bytes = 0;
    const char *error = "none";
    rd_kafka_message_t *batch[1000];
    while (got < o->messages) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 200, batch, 1000);
        double t = now_s();
        if (n <= 0 && t - idle_since > 15) {
            error = "idle-timeout";
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (batch[i]->err) {
                if (!errors++)
                    fprintf(stderr, "ferry_bench: consume error: %s\n", rd_kafka_message_errstr(batch[i]));
            } else {
                if (!got)
                    first = t;
                got++;
                bytes += (double)batch[i]->len;
            }
            rd_kafka_message_destroy(batch[i]);
        }
        if (n > 0) {
            last = t;
            idle_since = t;
        }
    }
    for (int p = 0; p < o->partitions; p++)
        rd_kafka_consume_stop(rkt, p);
    double secs = last > first ? last - first : 1e-9;
    printf("RESULT mode=consume topic=%s consumed=%lld expected=%lld errors=%lld startup_secs=%.3f secs=%.3f "
           "mbps=%.2f msgps=%.0f error=%s\n",
           o->topic, got, o->messages, errors, first ? first - start : 0.0, secs, bytes / secs / 1e6,
           (double)got / secs, error);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return got == o->messages ? 0 : 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: ferry_bench produce --brokers H:P --topic T --size BYTES --acks 1|all [--seconds S]\n"
                    "       ferry_bench consume --brokers H:P --topic T --partitions N --messages M\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct bench_opts o = {.acks = "1", .size = 1024, .partitions = 1, .seconds = 3};
    if (argc < 2)
        usage();
    o.mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (strcmp(k, "--brokers") == 0)
            o.brokers = v;
        else if (strcmp(k, "--topic") == 0)
            o.topic = v;
        else if (strcmp(k, "--acks") == 0)
            o.acks = v;
        else if (strcmp(k, "--size") == 0)
            o.size = atoi(v);
        else if (strcmp(k, "--partitions") == 0)
            o.partitions = atoi(v);
        else if (strcmp(k, "--seconds") == 0)
            o.seconds = atof(v);
        else if (strcmp(k, "--messages") == 0)
            o.messages = atoll(v);
        else
            usage();
    }
    if (!o.brokers || !o.topic || o.size < 0 || o.partitions < 1)
        usage();
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(o.mode, "produce") == 0)
        return run_produce(&o);
    if (strcmp(o.mode, "consume") == 0)
        return run_consume(&o);
    usage();
    return 2;
}
