#define _GNU_SOURCE
#include "CMosquittoBaseline.h"
#include <mosquitto.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int connected;      /* 0 waiting, 1 ok, -1 refused */
    int subscribed;
    size_t inflight;
    uint64_t received;
    uint64_t last_receipt_ns;
    uint64_t *latencies;
    size_t capacity;
} shared_state;

static void on_connect(struct mosquitto *m, void *obj, int rc) {
    (void)m;
    shared_state *s = obj;
    pthread_mutex_lock(&s->lock);
    s->connected = rc == 0 ? 1 : -1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted) {
    (void)m; (void)mid; (void)n; (void)granted;
    shared_state *s = obj;
    pthread_mutex_lock(&s->lock);
    s->subscribed = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void on_publish(struct mosquitto *m, void *obj, int mid) {
    (void)m; (void)mid;
    shared_state *s = obj;
    pthread_mutex_lock(&s->lock);
    s->inflight--;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
    (void)m;
    shared_state *s = obj;
    uint64_t t = now_ns();
    uint64_t sent = 0;
    if (msg->payloadlen >= 8) memcpy(&sent, msg->payload, 8);
    pthread_mutex_lock(&s->lock);
    if (s->latencies && s->received < s->capacity) s->latencies[s->received] = t - sent;
    s->received++;
    s->last_receipt_ns = t;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void wait_flag(shared_state *s, int *flag) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&s->lock);
    while (*flag == 0) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) != 0) break;
    }
    pthread_mutex_unlock(&s->lock);
}

static void fail(scb_result *r, int rc, const char *what) {
    r->rc = rc;
    snprintf(r->error, sizeof r->error, "%s: %s", what, mosquitto_strerror(rc));
}

void scb_run(const char *host, int port, const char *topic, int qos, size_t messages,
             size_t payload_bytes, int inflight, int idle_timeout_ms,
             uint64_t *latencies_ns, scb_result *result) {
    memset(result, 0, sizeof *result);
    if (payload_bytes < 16) payload_bytes = 16;
    if (inflight < 1) inflight = 1;
    mosquitto_lib_init();

    shared_state pub_state = {0}, sub_state = {0};
    pthread_mutex_init(&pub_state.lock, NULL);
    pthread_cond_init(&pub_state.cond, NULL);
    pthread_mutex_init(&sub_state.lock, NULL);
    pthread_cond_init(&sub_state.cond, NULL);
    sub_state.latencies = latencies_ns;
    sub_state.capacity = latencies_ns ? messages : 0;

    char id[64];
    snprintf(id, sizeof id, "scb-sub-%d", (int)getpid());
    struct mosquitto *sub = mosquitto_new(id, true, &sub_state);
    snprintf(id, sizeof id, "scb-pub-%d", (int)getpid());
    struct mosquitto *pub = mosquitto_new(id, true, &pub_state);
    if (!sub || !pub) { fail(result, MOSQ_ERR_NOMEM, "mosquitto_new"); goto done; }
    mosquitto_connect_callback_set(sub, on_connect);
    mosquitto_subscribe_callback_set(sub, on_subscribe);
    mosquitto_message_callback_set(sub, on_message);
    mosquitto_connect_callback_set(pub, on_connect);
    mosquitto_publish_callback_set(pub, on_publish);
    mosquitto_max_inflight_messages_set(pub, 0); /* the window below is the only limit */

    int rc = mosquitto_connect(sub, host, port, 60);
    if (rc) { fail(result, rc, "subscriber connect"); goto done; }
    mosquitto_loop_start(sub);
    wait_flag(&sub_state, &sub_state.connected);
    if (sub_state.connected != 1) { fail(result, MOSQ_ERR_CONN_REFUSED, "subscriber CONNACK"); goto stop_sub; }
    mosquitto_subscribe(sub, NULL, topic, qos);
    wait_flag(&sub_state, &sub_state.subscribed);

    rc = mosquitto_connect(pub, host, port, 60);
    if (rc) { fail(result, rc, "publisher connect"); goto stop_sub; }
    mosquitto_loop_start(pub);
    wait_flag(&pub_state, &pub_state.connected);
    if (pub_state.connected != 1) { fail(result, MOSQ_ERR_CONN_REFUSED, "publisher CONNACK"); goto stop_pub; }

    unsigned char *payload = calloc(1, payload_bytes);
    uint64_t start = now_ns();
    for (size_t i = 0; i < messages; i++) {
        if (qos > 0) {
            pthread_mutex_lock(&pub_state.lock);
            while (pub_state.inflight >= (size_t)inflight) pthread_cond_wait(&pub_state.cond, &pub_state.lock);
            pub_state.inflight++;
            pthread_mutex_unlock(&pub_state.lock);
        }
        uint64_t t = now_ns();
        uint64_t seq = i;
        memcpy(payload, &t, 8);
        memcpy(payload + 8, &seq, 8);
        rc = mosquitto_publish(pub, NULL, topic, (int)payload_bytes, payload, qos, false);
        if (rc) { fail(result, rc, "publish"); break; }
        result->sent++;
    }
    free(payload);

    /* Wait for every message, or until the stream has been idle for idle_timeout_ms. */
    pthread_mutex_lock(&sub_state.lock);
    uint64_t last_progress = now_ns();
    uint64_t seen = sub_state.received;
    while (sub_state.received < result->sent) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += 100 * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&sub_state.cond, &sub_state.lock, &deadline);
        if (sub_state.received != seen) { seen = sub_state.received; last_progress = now_ns(); }
        else if (now_ns() - last_progress > (uint64_t)idle_timeout_ms * 1000000ull) break;
    }
    result->received = sub_state.received;
    result->elapsed_ns = (sub_state.last_receipt_ns > start ? sub_state.last_receipt_ns : now_ns()) - start;
    pthread_mutex_unlock(&sub_state.lock);

stop_pub:
    mosquitto_disconnect(pub);
    mosquitto_loop_stop(pub, false);
stop_sub:
    mosquitto_disconnect(sub);
    mosquitto_loop_stop(sub, false);
done:
    if (pub) mosquitto_destroy(pub);
    if (sub) mosquitto_destroy(sub);
}

uint64_t scb_now_ns(void) { return now_ns(); }

void scb_publish_messages(const char *host, int port, int qos, int inflight, size_t count,
                          const char *topics, const size_t *topic_offsets,
                          const unsigned char *payloads, const size_t *payload_offsets,
                          scb_result *result) {
    memset(result, 0, sizeof *result);
    if (inflight < 1) inflight = 1;
    mosquitto_lib_init();
    shared_state pub_state = {0};
    pthread_mutex_init(&pub_state.lock, NULL);
    pthread_cond_init(&pub_state.cond, NULL);
    char id[64];
    snprintf(id, sizeof id, "scb-relay-%d", (int)getpid());
    struct mosquitto *pub = mosquitto_new(id, true, &pub_state);
    if (!pub) { fail(result, MOSQ_ERR_NOMEM, "mosquitto_new"); return; }
    mosquitto_connect_callback_set(pub, on_connect);
    mosquitto_publish_callback_set(pub, on_publish);
    mosquitto_max_inflight_messages_set(pub, 0);
    int rc = mosquitto_connect(pub, host, port, 60);
    if (rc) { fail(result, rc, "publisher connect"); mosquitto_destroy(pub); return; }
    mosquitto_loop_start(pub);
    wait_flag(&pub_state, &pub_state.connected);
    uint64_t start = now_ns();
    for (size_t i = 0; i < count && pub_state.connected == 1; i++) {
        if (qos > 0) {
            pthread_mutex_lock(&pub_state.lock);
            while (pub_state.inflight >= (size_t)inflight) pthread_cond_wait(&pub_state.cond, &pub_state.lock);
            pub_state.inflight++;
            pthread_mutex_unlock(&pub_state.lock);
        }
        size_t length = payload_offsets[i + 1] - payload_offsets[i];
        rc = mosquitto_publish(pub, NULL, topics + topic_offsets[i], (int)length, payloads + payload_offsets[i], qos, false);
        if (rc) { fail(result, rc, "publish"); break; }
        result->sent++;
    }
    if (qos > 0) {
        pthread_mutex_lock(&pub_state.lock);
        while (pub_state.inflight > 0) pthread_cond_wait(&pub_state.cond, &pub_state.lock);
        pthread_mutex_unlock(&pub_state.lock);
    }
    result->elapsed_ns = now_ns() - start;
    mosquitto_disconnect(pub);
    mosquitto_loop_stop(pub, false);
    mosquitto_destroy(pub);
}

struct scb_subscriber {
    struct mosquitto *mosq;
    shared_state state;
};

scb_subscriber *scb_subscriber_start(const char *host, int port, const char *topic, int qos, scb_result *result) {
    memset(result, 0, sizeof *result);
    mosquitto_lib_init();
    scb_subscriber *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->state.lock, NULL);
    pthread_cond_init(&s->state.cond, NULL);
    char id[64];
    snprintf(id, sizeof id, "scb-sub-%d", (int)getpid());
    s->mosq = mosquitto_new(id, true, &s->state);
    mosquitto_connect_callback_set(s->mosq, on_connect);
    mosquitto_subscribe_callback_set(s->mosq, on_subscribe);
    mosquitto_message_callback_set(s->mosq, on_message);
    int rc = mosquitto_connect(s->mosq, host, port, 60);
    if (rc) { fail(result, rc, "subscriber connect"); mosquitto_destroy(s->mosq); free(s); return NULL; }
    mosquitto_loop_start(s->mosq);
    wait_flag(&s->state, &s->state.connected);
    mosquitto_subscribe(s->mosq, NULL, topic, qos);
    wait_flag(&s->state, &s->state.subscribed);
    return s;
}

void scb_subscriber_wait(scb_subscriber *s, uint64_t expected, int idle_timeout_ms, scb_result *result) {
    pthread_mutex_lock(&s->state.lock);
    uint64_t last_progress = now_ns();
    uint64_t seen = s->state.received;
    while (s->state.received < expected) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += 100 * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&s->state.cond, &s->state.lock, &deadline);
        if (s->state.received != seen) { seen = s->state.received; last_progress = now_ns(); }
        else if (now_ns() - last_progress > (uint64_t)idle_timeout_ms * 1000000ull) break;
    }
    result->received = s->state.received;
    result->elapsed_ns = s->state.last_receipt_ns;
    pthread_mutex_unlock(&s->state.lock);
}

void scb_subscriber_stop(scb_subscriber *s) {
    mosquitto_disconnect(s->mosq);
    mosquitto_loop_stop(s->mosq, false);
    mosquitto_destroy(s->mosq);
    free(s);
}

static void on_connect_flag(struct mosquitto *m, void *obj, int rc) {
    (void)m;
    *(int *)obj = rc == 0 ? 1 : -1;
}

/* Writes what `m` has queued, waiting for room in its socket. */
static int write_out(struct mosquitto *m) {
    while (mosquitto_want_write(m)) {
        struct pollfd p = { .fd = mosquitto_socket(m), .events = POLLOUT };
        if (poll(&p, 1, 1000) < 0) return MOSQ_ERR_ERRNO;
        int rc = mosquitto_loop_write(m, 1);
        if (rc) return rc;
    }
    return MOSQ_ERR_SUCCESS;
}

void scb_publish_spread(const char *host, int port, int connections, size_t count,
                        const char *topics, const size_t *topic_offsets,
                        const unsigned char *payloads, const size_t *payload_offsets,
                        const int32_t *connection_of, scb_result *result) {
    memset(result, 0, sizeof *result);
    mosquitto_lib_init();
    struct mosquitto **clients = calloc((size_t)connections, sizeof *clients);
    int *connected = calloc((size_t)connections, sizeof *connected);
    int made = 0;
    for (; made < connections; made++) {
        char id[64];
        snprintf(id, sizeof id, "scb-spread-%d-%d", (int)getpid(), made);
        clients[made] = mosquitto_new(id, true, &connected[made]);
        if (!clients[made]) { fail(result, MOSQ_ERR_NOMEM, "mosquitto_new"); goto done; }
        mosquitto_connect_callback_set(clients[made], on_connect_flag);
        int rc = mosquitto_connect(clients[made], host, port, 60);
        if (rc) { fail(result, rc, "spread publisher connect"); made++; goto done; }
    }
    /* Every CONNACK before the clock starts. */
    for (int i = 0; i < connections; i++) {
        while (connected[i] == 0) {
            struct pollfd p = { .fd = mosquitto_socket(clients[i]), .events = POLLIN };
            if (poll(&p, 1, 5000) <= 0) { fail(result, MOSQ_ERR_CONN_LOST, "spread publisher CONNACK"); goto done; }
            int rc = mosquitto_loop_read(clients[i], 1);
            if (rc) { fail(result, rc, "spread publisher CONNACK"); goto done; }
        }
        if (connected[i] < 0) { fail(result, MOSQ_ERR_CONN_REFUSED, "spread publisher CONNACK"); goto done; }
    }
    uint64_t start = now_ns();
    for (size_t i = 0; i < count; i++) {
        struct mosquitto *m = clients[connection_of[i]];
        size_t length = payload_offsets[i + 1] - payload_offsets[i];
        int rc = mosquitto_publish(m, NULL, topics + topic_offsets[i], (int)length, payloads + payload_offsets[i], 0, false);
        if (!rc && mosquitto_want_write(m)) rc = write_out(m);
        if (rc) { fail(result, rc, "spread publish"); break; }
        result->sent++;
    }
    result->elapsed_ns = now_ns() - start;
done:
    for (int i = 0; i < made; i++) {
        if (connected[i] == 1) { mosquitto_disconnect(clients[i]); write_out(clients[i]); }
        mosquitto_destroy(clients[i]);
    }
    free(connected);
    free(clients);
}
