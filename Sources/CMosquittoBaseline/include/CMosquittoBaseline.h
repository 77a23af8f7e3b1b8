#ifndef CMOSQUITTO_BASELINE_H
#define CMOSQUITTO_BASELINE_H
#include <stddef.h>
#include <stdint.h>

/// What one baseline run measured.
typedef struct {
    uint64_t sent;
    uint64_t received;
    uint64_t elapsed_ns;   /* first publish to last receipt (or to giving up) */
    int rc;                /* 0, or a libmosquitto error code */
    char error[256];
} scb_result;

/// Publishes `messages` payloads of `payload_bytes` (at least 16) on `topic` at `qos` from one
/// plain libmosquitto client and receives them on another, each with its own network thread
/// (mosquitto_loop_start). At QoS 1 and 2 at most `inflight` messages are unacknowledged at a
/// time. Payload bytes 0-7 carry the send time (CLOCK_MONOTONIC ns), 8-15 the sequence number.
/// `latencies_ns` (may be NULL) receives one latency per received message, in arrival order.
/// The receiver gives up after `idle_timeout_ms` without a new message once publishing ended.
void scb_run(const char *host, int port, const char *topic, int qos, size_t messages,
             size_t payload_bytes, int inflight, int idle_timeout_ms,
             uint64_t *latencies_ns, scb_result *result);

/// CLOCK_MONOTONIC in ns (the clock of every timing here).
uint64_t scb_now_ns(void);

/// Publishes `count` given messages (topic i at topics + topic_offsets[i], NUL-terminated;
/// payload i from payload_offsets[i] to payload_offsets[i + 1]) from one plain libmosquitto
/// client, at most `inflight` unacknowledged; returns when all are acknowledged.
void scb_publish_messages(const char *host, int port, int qos, int inflight, size_t count,
                          const char *topics, const size_t *topic_offsets,
                          const unsigned char *payloads, const size_t *payload_offsets,
                          scb_result *result);

/// Publishes `count` given messages at QoS 0 over `connections` plain libmosquitto clients from
/// one thread, message i on connection connection_of[i], in the given order: each publish is
/// written at once (libmosquitto's default), the rest when the socket has room. Timing starts
/// after every client is connected; `elapsed_ns` ends when the last message is written.
void scb_publish_spread(const char *host, int port, int connections, size_t count,
                        const char *topics, const size_t *topic_offsets,
                        const unsigned char *payloads, const size_t *payload_offsets,
                        const int32_t *connection_of, scb_result *result);

/// A plain libmosquitto subscriber on its own network thread that counts messages.
typedef struct scb_subscriber scb_subscriber;
scb_subscriber *scb_subscriber_start(const char *host, int port, const char *topic, int qos, scb_result *result);
/// Waits for `expected` messages (or `idle_timeout_ms` without one); `received` is the count,
/// `elapsed_ns` the time of the last receipt (scb_now_ns clock).
void scb_subscriber_wait(scb_subscriber *s, uint64_t expected, int idle_timeout_ms, scb_result *result);
void scb_subscriber_stop(scb_subscriber *s);

#endif
