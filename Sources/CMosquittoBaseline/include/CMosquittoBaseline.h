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

#endif
