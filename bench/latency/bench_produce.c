/* bench/latency: a paced Kafka producer for bench/latency.sh. It produces simulated-ward FHIR
 * blood-pressure Observations (the payloads of pipelines/producer.ini, keyed by patient id) at
 * a steady rate: message i is handed to librdkafka at start + i / rate (absolute deadlines, so
 * a late wake-up does not slow the average), and librdkafka stamps it with its create time,
 * which is what the latency is measured from. The simulated clock runs at the real one's speed,
 * so each reading's effective time is about when it was produced.
 *
 * pipelines/producer.ini is not used for this: sink-kafka acknowledges a batch only once every
 * message of it has its delivery report, so a paced pipeline of small batches waits a round
 * trip per batch and falls behind a steady 5 000/s.
 *
 *   bench_produce --brokers HOST:PORT [--topic blood-pressure] [--rate 5000] [--seconds 60]
 *                 [--patients 2000] [--seed 7] [--linger-ms 1] [--warmup-seconds 0]
 *                 [--positions FILE]
 *
 * --positions writes one line per delivered message, `PARTITION OFFSET PRODUCED_US ACKED_US`:
 * where the broker appended it (from its delivery report), the wall clock in microseconds when
 * it was handed to rd_kafka_produce() (the instant librdkafka stamps as its CreateTime, in ms)
 * and when its delivery report was served, just after the broker acknowledged the append. The
 * broker's append lies between the two. (The delivery report's own timestamp is no use here:
 * the mock cluster answers every produce with a fixed LogAppendTime.)
 *
 * Prints one line at the end: produced, delivered and failed counts, the achieved rate and the
 * wall-clock window (microseconds since the epoch) of the messages after the warm-up, as
 * `window_us FROM TO`, for the analysis to pick the steady state. Exit status 1 if any message
 * was not delivered. */
#include "wardsim/ward_sim.h"

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long delivered, failed;
static long long wall_us(void);
static FILE *positions; /* --positions, or NULL */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (failed++ == 0)
            fprintf(stderr, "bench_produce: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered++;
        if (positions) /* the opaque is the wall clock when the message was produced */
            fprintf(positions, "%d %lld %lld %lld\n", (int)m->partition, (long long)m->offset,
                    (long long)(intptr_t)m->_private, wall_us());
    }
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until(double t)
{
    struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static double number(const char *name, const char *v, double lo, double hi)
{
    char *end = NULL;
    double x = v ? strtod(v, &end) : 0;
    if (!v || !*v || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "bench_produce: %s wants a number from %g to %g\n", name, lo, hi);
        exit(2);
    }
    return x;
}

int main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = "blood-pressure";
    double rate = 5000, seconds = 60, warmup = 0;
    long patients = 2000, seed = 7, linger_ms = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_produce: %s wants a value (see the top of "
                    "bench/latency/bench_produce.c)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--brokers") == 0)
            brokers = v;
        else if (strcmp(a, "--topic") == 0)
            topic = v;
        else if (strcmp(a, "--rate") == 0)
            rate = number(a, v, 1, 1e7);
        else if (strcmp(a, "--seconds") == 0)
            seconds = number(a, v, 0.001, 1e6);
        else if (strcmp(a, "--warmup-seconds") == 0)
            warmup = number(a, v, 0, 1e6);
        else if (strcmp(a, "--patients") == 0)
            patients = (long)number(a, v, 1, 1e6);
        else if (strcmp(a, "--seed") == 0)
            seed = (long)number(a, v, 0, 1e15);
        else if (strcmp(a, "--linger-ms") == 0)
            linger_ms = (long)number(a, v, 0, 60000);
        else if (strcmp(a, "--positions") == 0) {
            if (!(positions = fopen(v, "w"))) {
                fprintf(stderr, "bench_produce: cannot write %s: %s\n", v, strerror(errno));
                return 1;
            }
        }
        else {
            fprintf(stderr, "bench_produce: unknown option %s\n", a);
            return 2;
        }
    }
    if (!brokers) {
        fputs("usage: bench_produce --brokers HOST:PORT [--topic T] [--rate R] [--seconds S]\n"
              "       [--warmup-seconds W] [--patients N] [--seed S] [--linger-ms L]\n"
              "       [--positions FILE]\n",
              stderr);
        return 2;
    }

    char err[512], linger[32];
    snprintf(linger, sizeof linger, "%ld", linger_ms);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof err) ||
        rd_kafka_conf_set(conf, "linger.ms", linger, err, sizeof err) ||
        rd_kafka_conf_set(conf, "acks", "all", err, sizeof err) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, sizeof err)) {
        fprintf(stderr, "bench_produce: %s\n", err);
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench_produce: %s\n", err);
        return 1;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);

    long long total = (long long)((warmup + seconds) * rate + 0.5);
    long long first_steady = (long long)(warmup * rate + 0.5);
    bp_ward w;
    /* Each patient every patients / rate seconds: the simulated clock keeps to the real one. */
    if (bp_ward_init(&w, (uint64_t)seed, (size_t)patients, 2, wall_us() / 1000,
                     (double)patients / rate, 0) != 0) {
        fputs("bench_produce: out of memory\n", stderr);
        return 1;
    }
    bp_ward_set_jitter(&w, 0.2);
    char payload[4096], key[24];
    long long produced = 0, window_from = 0, window_to = 0;
    double start = mono();
    while (produced < total) {
        double now = mono();
        double due = start + (double)produced / rate;
        if (due > now) {
            rd_kafka_poll(rk, 0);
            sleep_until(due);
        }
        bp_sim_reading r;
        bp_ward_step(&w, &r);
        size_t len = bp_ward_fhir(&w, &r, payload, sizeof payload);
        bp_ward_patient_id(r.patient, key, sizeof key);
        void *at = (void *)(intptr_t)wall_us();
        while (rd_kafka_produce(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payload, len, key,
                                strlen(key), at) != 0) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "bench_produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
                return 1;
            }
            rd_kafka_poll(rk, 10);
        }
        if (produced == first_steady)
            window_from = wall_us();
        produced++;
    }
    window_to = wall_us();
    double took = mono() - start;
    rd_kafka_flush(rk, 30000);
    rd_kafka_poll(rk, 0);
    printf("bench_produce: produced %lld in %.3f s (%.0f/s), delivered %lld, failed %lld; "
           "window_us %lld %lld\n", produced, took, (double)produced / took, delivered, failed,
           window_from, window_to);
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    bp_ward_free(&w);
    if (positions && fclose(positions) != 0) {
        fprintf(stderr, "bench_produce: cannot write the positions: %s\n", strerror(errno));
        return 1;
    }
    return failed || delivered != produced ? 1 : 0;
}
