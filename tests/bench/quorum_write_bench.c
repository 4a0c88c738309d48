/* quorum_write_bench: metadata commit throughput and latency of a Ferry (or Kafka) controller quorum, the
 * counterpart of zk_write_bench (the ZooKeeper baseline, docs/performance.md): one C process with one
 * single-threaded poll loop driving every client, as zk_write_bench drives libzookeeper_st.
 *
 *   quorum_write_bench --bootstrap H:P[,H:P...] [--clients N] [--inflight K] [--seconds S] [--warmup W]
 *                      [--topic-prefix bench-alter-]
 *
 * N clients, client i one TCP connection to the i-th bootstrap (round robin), each keeping K
 * IncrementalAlterConfigs v0 requests in flight on it (pipelined: a new one is sent as soon as one is
 * answered): SET retention.ms of topic PREFIX<i as %03d> to a new value each time, so that every request
 * commits one ConfigRecord and is answered after the commit. The topics must exist. Latency is from the
 * request's write to its response; answers in the first W seconds are not counted (warm-up), then the
 * ones in the next S seconds are counted and their latencies kept; nothing is sent after that and the
 * requests in flight are drained. Any error code in an answer ends the run with exit status 1. Prints one
 * line "RESULT key=value ..." (the keys of zk_write_bench's) for tests/bench/quorum_bench.py. A benchmark
 * tool, not part of the broker: it allocates with malloc and speaks the few bytes it needs itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_latency.h"

#define API_INCREMENTAL_ALTER_CONFIGS 44
#define RESOURCE_TOPIC 2

struct opts {
    char *bootstrap;
    const char *prefix;
    int clients, inflight;
    double seconds, warmup;
};

struct client {
    int fd;
    char topic[128];
    int32_t next_corr;
    double *sent; /* send time per corr % inflight: answers come back in request order */
    int outstanding;
    uint8_t *out;
    size_t out_len, out_cap;
    uint8_t *in;
    size_t in_len, in_cap;
};

static struct {
    struct opts o;
    struct client *clients;
    struct bench_latency lat;
    long long errors, value;
    int first_error;
} R;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "quorum_write_bench: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(2);
}

static void usage(void)
{
    fprintf(stderr, "usage: quorum_write_bench --bootstrap H:P[,H:P...] [--clients N] [--inflight K] [--seconds S] "
                    "[--warmup W] [--topic-prefix P]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.prefix = "bench-alter-", .clients = 1, .inflight = 16, .seconds = 10, .warmup = 2};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (!strcmp(a, "--bootstrap"))
            o->bootstrap = strdup(v);
        else if (!strcmp(a, "--clients"))
            o->clients = atoi(v);
        else if (!strcmp(a, "--inflight"))
            o->inflight = atoi(v);
        else if (!strcmp(a, "--seconds"))
            o->seconds = atof(v);
        else if (!strcmp(a, "--warmup"))
            o->warmup = atof(v);
        else if (!strcmp(a, "--topic-prefix"))
            o->prefix = v;
        else
            usage();
    }
    if (!o->bootstrap || o->clients < 1 || o->inflight < 1 || o->seconds <= 0 || o->warmup < 0)
        usage();
}

static int connect_to(const char *hostport)
{
    char host[256];
    snprintf(host, sizeof host, "%s", hostport);
    char *colon = strrchr(host, ':');
    if (!colon)
        die("bootstrap without a port", hostport);
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        die("not an IPv4 address (loopback only)", host);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("cannot connect", hostport);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    *buf = realloc(*buf, n);
    if (!*buf)
        die("out of memory", NULL);
    *cap = n;
}

static void put(struct client *c, const void *p, size_t n)
{
    reserve(&c->out, &c->out_cap, c->out_len + n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void put16(struct client *c, int v)
{
    uint16_t x = htons((uint16_t)v);
    put(c, &x, 2);
}

static void put32(struct client *c, int32_t v)
{
    uint32_t x = htonl((uint32_t)v);
    put(c, &x, 4);
}

static void put_str(struct client *c, const char *s)
{
    put16(c, (int)strlen(s));
    put(c, s, strlen(s));
}

/* One IncrementalAlterConfigs v0 (request header v1): SET retention.ms of the client's topic. */
static void send_one(struct client *c)
{
    char value[32];
    snprintf(value, sizeof value, "%lld", 1000000 + R.value++);
    size_t at = c->out_len;
    put32(c, 0); /* size, patched below */
    put16(c, API_INCREMENTAL_ALTER_CONFIGS);
    put16(c, 0);
    int32_t corr = c->next_corr++;
    put32(c, corr);
    put_str(c, "quorum_write_bench");
    put32(c, 1); /* Resources */
    uint8_t type = RESOURCE_TOPIC;
    put(c, &type, 1);
    put_str(c, c->topic);
    put32(c, 1); /* Configs */
    put_str(c, "retention.ms");
    uint8_t set = 0;
    put(c, &set, 1);
    put_str(c, value);
    uint8_t validate_only = 0;
    put(c, &validate_only, 1);
    uint32_t size = htonl((uint32_t)(c->out_len - at - 4));
    memcpy(c->out + at, &size, 4);
    c->sent[corr % R.o.inflight] = bench_now_s();
    c->outstanding++;
}

static int32_t get32(const uint8_t *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return (int32_t)ntohl(x);
}

static int16_t get16(const uint8_t *p)
{
    uint16_t x;
    memcpy(&x, p, 2);
    return (int16_t)ntohs(x);
}

/* One whole response frame (after the size): correlation id, ThrottleTimeMs, Responses[ErrorCode, ...]. */
static void answered(struct client *c, const uint8_t *p, size_t len)
{
    if (len < 12)
        die("short response", NULL);
    int32_t corr = get32(p);
    int32_t n = get32(p + 8);
    int16_t error = n >= 1 && len >= 14 ? get16(p + 12) : -1;
    double done = bench_now_s();
    c->outstanding--;
    if (error != 0) {
        if (!R.errors++)
            R.first_error = error;
    } else {
        bench_latency_record(&R.lat, done, c->sent[corr % R.o.inflight]);
    }
    if (done < R.lat.end && !R.errors)
        send_one(c);
}

static void on_readable(struct client *c)
{
    reserve(&c->in, &c->in_cap, c->in_len + 65536);
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n <= 0)
        die("connection closed by the server", n < 0 ? strerror(errno) : NULL);
    c->in_len += (size_t)n;
    size_t pos = 0;
    while (c->in_len - pos >= 4) {
        size_t size = (size_t)(uint32_t)get32(c->in + pos);
        if (c->in_len - pos < 4 + size)
            break;
        answered(c, c->in + pos + 4, size);
        pos += 4 + size;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
}

static void on_writable(struct client *c)
{
    ssize_t n = write(c->fd, c->out, c->out_len);
    if (n < 0 && errno != EAGAIN && errno != EINTR)
        die("write failed", strerror(errno));
    if (n > 0) {
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv, &R.o);
    char *hosts[64];
    int nhosts = 0;
    for (char *save = NULL, *h = strtok_r(R.o.bootstrap, ",", &save); h && nhosts < 64;
         h = strtok_r(NULL, ",", &save))
        hosts[nhosts++] = h;
    if (!nhosts)
        usage();
    R.clients = calloc((size_t)R.o.clients, sizeof *R.clients);
    struct pollfd *pfd = calloc((size_t)R.o.clients, sizeof *pfd);
    if (!R.clients || !pfd)
        die("out of memory", NULL);
    for (int i = 0; i < R.o.clients; i++) {
        struct client *c = &R.clients[i];
        c->fd = connect_to(hosts[i % nhosts]);
        snprintf(c->topic, sizeof c->topic, "%s%03d", R.o.prefix, i);
        c->sent = calloc((size_t)R.o.inflight, sizeof *c->sent);
        c->next_corr = 1;
        if (!c->sent)
            die("out of memory", NULL);
    }
    double t0 = bench_now_s();
    R.lat.start = t0 + R.o.warmup;
    R.lat.end = R.lat.start + R.o.seconds;
    for (int i = 0; i < R.o.clients; i++)
        for (int k = 0; k < R.o.inflight; k++)
            send_one(&R.clients[i]);
    double drain_deadline = R.lat.end + 60;
    for (;;) {
        long long outstanding = 0;
        for (int i = 0; i < R.o.clients; i++) {
            struct client *c = &R.clients[i];
            outstanding += c->outstanding;
            pfd[i] = (struct pollfd){.fd = c->fd, .events = (short)(POLLIN | (c->out_len ? POLLOUT : 0))};
        }
        if (outstanding == 0)
            break;
        if (bench_now_s() > drain_deadline)
            die("requests still unanswered 60 s after the end of the run", NULL);
        if (poll(pfd, (nfds_t)R.o.clients, 50) < 0 && errno != EINTR)
            die("poll failed", strerror(errno));
        for (int i = 0; i < R.o.clients; i++) {
            if (pfd[i].revents & POLLOUT)
                on_writable(&R.clients[i]);
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                on_readable(&R.clients[i]);
        }
    }
    for (int i = 0; i < R.o.clients; i++)
        close(R.clients[i].fd);
    if (R.errors) {
        fprintf(stderr, "quorum_write_bench: %lld request(s) failed, the first with error code %d\n", R.errors,
                R.first_error);
        return 1;
    }
    struct bench_summary sum = bench_latency_summary(&R.lat);
    printf("RESULT op=incremental_alter_configs clients=%d inflight=%d seconds=%.3f writes=%lld writes_per_s=%.1f "
           "mean_ms=%.3f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
           R.o.clients, R.o.inflight, R.o.seconds, R.lat.counted, (double)R.lat.counted / R.o.seconds, sum.mean,
           sum.p50, sum.p99, sum.max);
    return 0;
}
