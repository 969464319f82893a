/*
 * registry.h: the process's own counters and histograms, for /metrics.
 *
 * One registry per process, in static storage, so that the code where an
 * event happens (kubelet.c, health/state.c, nvml.c, main.c) counts it
 * with one call that cannot fail: no allocation, no lock. Every counter
 * is an atomic (relaxed: a scrape may see one event before another that
 * happened first, never a torn value), because two threads write: the
 * loop, and the health thread (NVML errors, its heartbeat). Label sets
 * are bounded by fixed tables; a series past a table's end is counted in
 * gdp_metrics_series_dropped_total instead of growing anything.
 *
 * The RPC series are written by the loop only (grpc/ tells main.c of
 * each ended call): methods are matched by their path, at most
 * METRICS_MAX_METHODS of them.
 */
#ifndef GDP_METRICS_REGISTRY_H
#define GDP_METRICS_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

struct metrics_text;

#define METRICS_MAX_METHODS 16
#define METRICS_MAX_TRANSITIONS 256
#define METRICS_MAX_NVML_ERRORS 64

/* A Register answered: |ok| or not. */
void metrics_registration(bool ok);
/* The kubelet was seen restarting (its socket made again). */
void metrics_kubelet_restart(void);
/* A call to |path| ("/v1beta1.DevicePlugin/Allocate"; a static string)
 * ended with gRPC |code| after |ns| nanoseconds in the application. */
void metrics_rpc(const char *path, int code, int64_t ns);
/* GPU |uuid| changed health: |cause| a static word ("xid", "probe",
 * "events_unavailable", "recovered"); |xid| 0 when not an XID. */
void metrics_health_transition(const char *uuid, const char *cause,
    uint64_t xid);
/* NVML call |call| failed with |error| (both static strings). */
void metrics_nvml_error(const char *call, const char *error);
/* A reload ended: applied (|ok|) or refused. */
void metrics_reload(bool ok);
/* A health thread starts (|running|) or ends. */
void metrics_health_thread(bool running);
/* The health thread's turn: stamps the monotonic clock. */
void metrics_health_beat(void);
/*
 * Whether the health thread, if one runs, beat within |max_ms| of
 * |now_ms| (monotonic ms); fills |why| when not.
 */
bool metrics_health_alive(int64_t now_ms, int64_t max_ms, char *why,
    unsigned len);
/* Writes every series of the registry to |t|. */
void metrics_registry_write(struct metrics_text *t);

#endif /* GDP_METRICS_REGISTRY_H */
