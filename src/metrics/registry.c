/*
 * registry.c: the process's counters and histograms (see registry.h).
 *
 * Fixed tables in static storage, counters as relaxed atomics: counting
 * is one atomic add, with a short search of a small table where a series
 * is keyed by a label (a method path, a GPU, an NVML call). Slots of the
 * tables the health thread may fill (NVML errors) are claimed with a
 * compare-and-swap and published once their key is written; the others
 * are filled by the loop only.
 */
#include "metrics/registry.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics/text.h"

#define NCODES 17
/* Request latency bounds, in ns: 10 µs to 1 s. */
static const int64_t bounds_ns[] = {
	10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
	100000000, 250000000, 500000000, 1000000000,
};
static const char *const bounds_text[] = {
	"1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005",
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
	"0.1", "0.25", "0.5", "1",
};
#define NBOUNDS (sizeof(bounds_ns) / sizeof(bounds_ns[0]))

static const char *const code_names[NCODES] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
	"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

struct method_series {
	const char *path;            /* NULL: free slot (loop only) */
	atomic_uint_fast64_t codes[NCODES];
	atomic_uint_fast64_t buckets[NBOUNDS]; /* not cumulative */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_ns;
};

struct transition {
	char uuid[96];               /* "": free slot (loop only) */
	const char *cause;
	uint64_t xid;
	atomic_uint_fast64_t n;
};

struct nvml_error_series {
	atomic_int state;            /* 0 free, 1 being claimed, 2 ready */
	const char *call, *error;
	atomic_uint_fast64_t n;
};

static struct {
	atomic_uint_fast64_t reg_ok, reg_err, restarts, reload_ok, reload_bad;
	atomic_uint_fast64_t dropped;
	atomic_int health_running;     /* health threads alive */
	atomic_int_fast64_t health_beat_ms;
	struct method_series methods[METRICS_MAX_METHODS];
	struct transition transitions[METRICS_MAX_TRANSITIONS];
	struct nvml_error_series nvml[METRICS_MAX_NVML_ERRORS];
} reg;

static void
inc(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t
get(atomic_uint_fast64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void
metrics_registration(bool ok)
{
	inc(ok ? &reg.reg_ok : &reg.reg_err);
}

void
metrics_kubelet_restart(void)
{
	inc(&reg.restarts);
}

void
metrics_reload(bool ok)
{
	inc(ok ? &reg.reload_ok : &reg.reload_bad);
}

/* The series of |path|, made if new; NULL when the table is full. */
static struct method_series *
method_of(const char *path)
{
	for (size_t i = 0; i < METRICS_MAX_METHODS; i++) {
		struct method_series *m = &reg.methods[i];

		if (m->path == NULL) {
			m->path = path;
			return m;
		}
		if (m->path == path || strcmp(m->path, path) == 0)
			return m;
	}
	return NULL;
}

void
metrics_rpc(const char *path, int code, int64_t ns)
{
	struct method_series *m = method_of(path);
	size_t b = 0;

	if (m == NULL || code < 0 || code >= NCODES) {
		inc(&reg.dropped);
		return;
	}
	inc(&m->codes[code]);
	while (b < NBOUNDS && ns > bounds_ns[b])
		b++;
	if (b < NBOUNDS)
		inc(&m->buckets[b]);
	inc(&m->count);
	atomic_fetch_add_explicit(&m->sum_ns, ns > 0 ? (uint64_t)ns : 0,
	    memory_order_relaxed);
}

void
metrics_health_transition(const char *uuid, const char *cause,
    uint64_t xid)
{
	for (size_t i = 0; i < METRICS_MAX_TRANSITIONS; i++) {
		struct transition *t = &reg.transitions[i];

		if (t->uuid[0] == '\0') {
			snprintf(t->uuid, sizeof(t->uuid), "%s", uuid);
			t->cause = cause;
			t->xid = xid;
		} else if (strcmp(t->uuid, uuid) != 0 || t->xid != xid ||
		    strcmp(t->cause, cause) != 0) {
			continue;
		}
		inc(&t->n);
		return;
	}
	inc(&reg.dropped);
}

/* The slot of (|call|, |error|), claimed if new; NULL when full. */
static struct nvml_error_series *
nvml_slot(const char *call, const char *error)
{
	for (size_t i = 0; i < METRICS_MAX_NVML_ERRORS; i++) {
		struct nvml_error_series *s = &reg.nvml[i];
		int st = atomic_load(&s->state), free_ = 0;

		if (st == 0 && atomic_compare_exchange_strong(&s->state,
		    &free_, 1)) {
			s->call = call;
			s->error = error;
			atomic_store(&s->state, 2);
			return s;
		}
		while (atomic_load(&s->state) == 1)
			;       /* another thread writes the key: a moment */
		if (strcmp(s->call, call) == 0 && strcmp(s->error, error) == 0)
			return s;
	}
	return NULL;
}

void
metrics_nvml_error(const char *call, const char *error)
{
	struct nvml_error_series *s = nvml_slot(call, error);

	inc(s != NULL ? &s->n : &reg.dropped);
}

void
metrics_health_thread(bool running)
{
	atomic_fetch_add(&reg.health_running, running ? 1 : -1);
}

void
metrics_health_beat(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	atomic_store(&reg.health_beat_ms, (int64_t)ts.tv_sec * 1000 +
	    ts.tv_nsec / 1000000);
}

bool
metrics_health_alive(int64_t now_ms, int64_t max_ms, char *why,
    unsigned len)
{
	int64_t beat = atomic_load(&reg.health_beat_ms);

	if (atomic_load(&reg.health_running) <= 0)
		return true;
	if (now_ms - beat <= max_ms)
		return true;
	snprintf(why, len, "the health thread has not turned for %" PRId64
	    " ms (NVML hangs?)", now_ms - beat);
	return false;
}

/* ---- writing ---- */

static void
write_simple(struct metrics_text *t)
{
	const char *ok[] = { "result", "ok", NULL };
	const char *bad[] = { "result", "error", NULL };
	const char *refused[] = { "result", "refused", NULL };

	metrics_text_family(t, "gdp_kubelet_registrations_total", "counter",
	    "Register calls to the kubelet, by result.");
	metrics_text_count(t, "gdp_kubelet_registrations_total", ok, NULL,
	    get(&reg.reg_ok));
	metrics_text_count(t, "gdp_kubelet_registrations_total", bad, NULL,
	    get(&reg.reg_err));
	metrics_text_family(t, "gdp_kubelet_restarts_total", "counter",
	    "Kubelet restarts seen (its socket made again).");
	metrics_text_count(t, "gdp_kubelet_restarts_total", NULL, NULL,
	    get(&reg.restarts));
	metrics_text_family(t, "gdp_config_reloads_total", "counter",
	    "Reloads (SIGHUP, config file changed), by result.");
	metrics_text_count(t, "gdp_config_reloads_total", ok, NULL,
	    get(&reg.reload_ok));
	metrics_text_count(t, "gdp_config_reloads_total", refused, NULL,
	    get(&reg.reload_bad));
	metrics_text_family(t, "gdp_metrics_series_dropped_total", "counter",
	    "Events not counted: their label table was full.");
	metrics_text_count(t, "gdp_metrics_series_dropped_total", NULL, NULL,
	    get(&reg.dropped));
}

/* "/v1beta1.DevicePlugin/Allocate" -> "Allocate". */
static const char *
method_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

static void
write_rpc_counts(struct metrics_text *t)
{
	metrics_text_family(t, "gdp_grpc_requests_total", "counter",
	    "gRPC calls served, by method and status code.");
	for (size_t i = 0; i < METRICS_MAX_METHODS; i++) {
		struct method_series *m = &reg.methods[i];

		if (m->path == NULL)
			break;
		for (int c = 0; c < NCODES; c++) {
			uint64_t n = get(&m->codes[c]);
			const char *l[] = { "method", method_name(m->path),
				"code", code_names[c], NULL };

			if (n > 0 || c == 0)
				metrics_text_count(t,
				    "gdp_grpc_requests_total", l, NULL, n);
		}
	}
}

static void
write_rpc_latency(struct metrics_text *t)
{
	const char *name = "gdp_grpc_request_duration_seconds";

	metrics_text_family(t, name, "histogram", "Time from a gRPC call's "
	    "dispatch to its status, by method.");
	for (size_t i = 0; i < METRICS_MAX_METHODS; i++) {
		struct method_series *m = &reg.methods[i];
		const char *l[] = { "method", NULL, NULL };
		uint64_t cum = 0, count;

		if (m->path == NULL)
			break;
		l[1] = method_name(m->path);
		count = get(&m->count);
		for (size_t b = 0; b < NBOUNDS; b++) {
			cum += get(&m->buckets[b]);
			metrics_text_count(t, "gdp_grpc_request_duration_seconds"
			    "_bucket", l, bounds_text[b], cum);
		}
		if (count < cum)
			count = cum;   /* a scrape between two adds */
		metrics_text_count(t, "gdp_grpc_request_duration_seconds_bucket",
		    l, "+Inf", count);
		metrics_text_sample(t, "gdp_grpc_request_duration_seconds_sum",
		    l, NULL, (double)get(&m->sum_ns) / 1e9);
		metrics_text_count(t, "gdp_grpc_request_duration_seconds_count",
		    l, NULL, count);
	}
}

static void
write_transitions(struct metrics_text *t)
{
	metrics_text_family(t, "gdp_health_transitions_total", "counter",
	    "GPU health changes, by GPU, cause and XID (none: not an XID).");
	for (size_t i = 0; i < METRICS_MAX_TRANSITIONS; i++) {
		struct transition *tr = &reg.transitions[i];
		char xid[24];
		const char *l[] = { "uuid", tr->uuid, "cause", tr->cause,
			"xid", xid, NULL };

		if (tr->uuid[0] == '\0')
			break;
		if (tr->xid == 0)
			snprintf(xid, sizeof(xid), "none");
		else
			snprintf(xid, sizeof(xid), "%" PRIu64, tr->xid);
		metrics_text_count(t, "gdp_health_transitions_total", l, NULL,
		    get(&tr->n));
	}
}

static void
write_nvml_errors(struct metrics_text *t)
{
	metrics_text_family(t, "gdp_nvml_errors_total", "counter",
	    "NVML calls that failed, by call and NVML error.");
	for (size_t i = 0; i < METRICS_MAX_NVML_ERRORS; i++) {
		struct nvml_error_series *s = &reg.nvml[i];
		const char *l[] = { "call", NULL, "error", NULL, NULL };

		if (atomic_load(&s->state) != 2)
			continue;
		l[1] = s->call;
		l[3] = s->error;
		metrics_text_count(t, "gdp_nvml_errors_total", l, NULL,
		    get(&s->n));
	}
}

void
metrics_registry_write(struct metrics_text *t)
{
	write_simple(t);
	write_rpc_counts(t);
	write_rpc_latency(t);
	write_transitions(t);
	write_nvml_errors(t);
}
