/* bench_latency: what the write benchmarks (zk_write_bench, quorum_write_bench) share: monotonic seconds,
 * the measuring window (completions before `start` are warm-up, after `end` are not counted), the latencies
 * of the completions inside it, and the mean / p50 / p99 / max they report.
 *
 * Header-only (static functions): each benchmark is one standalone program. A benchmark tool, not part of
 * the broker: it allocates with malloc and exits on running out of memory. */
#ifndef FERRY_BENCH_LATENCY_H
#define FERRY_BENCH_LATENCY_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct bench_latency {
    double start, end;  /* the measuring window, monotonic seconds */
    long long counted;  /* completions inside it */
    double *ms;         /* their latencies, milliseconds */
    size_t n, cap;
};

struct bench_summary {
    double mean, p50, p99, max;
};

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A completion at `done` of a request sent at `sent` (monotonic seconds): counted, with its latency, when it
 * falls inside the window. */
static inline void bench_latency_record(struct bench_latency *l, double done, double sent)
{
    if (done < l->start || done > l->end)
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 65536;
        l->ms = realloc(l->ms, l->cap * sizeof *l->ms);
        if (!l->ms) {
            fprintf(stderr, "bench: out of memory keeping latencies\n");
            exit(2);
        }
    }
    l->ms[l->n++] = (done - sent) * 1000.0;
    l->counted++;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts the latencies and summarises them (all 0 when none was counted). */
static inline struct bench_summary bench_latency_summary(struct bench_latency *l)
{
    struct bench_summary s = {0, 0, 0, 0};
    if (!l->n)
        return s;
    qsort(l->ms, l->n, sizeof *l->ms, bench_cmp_double);
    for (size_t i = 0; i < l->n; i++)
        s.mean += l->ms[i];
    s.mean /= (double)l->n;
    s.p50 = l->ms[(size_t)(0.50 * (double)(l->n - 1) + 0.5)];
    s.p99 = l->ms[(size_t)(0.99 * (double)(l->n - 1) + 0.5)];
    s.max = l->ms[l->n - 1];
    return s;
}

#endif
