/*
 * state.c: the health state machine (see state.h).
 *
 * Layout: reasons and the cause in force; repeated event lines;
 * whole-GPU faults; MIG-scoped faults and their bound; applying records;
 * ticking; the snapshot.
 *
 * Each GPU keeps one text per cause (its XID or probe fault, why its
 * events could not be registered, how it last recovered), and each
 * MIG-scoped fault its own, so that ending one cause never leaves an
 * unhealthy GPU named by another's text, or by none.
 */
#include "state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/registry.h"
#include "nvml/nvml.h"
#include "util/alloc.h"
#include "util/log.h"

/* Used only if a cause somehow left no text: never an empty reason. */
#define UNNAMED "unhealthy (cause not recorded)"

/* What makes two event lines the same line, for the rate limit. */
struct repeat_key {
	enum { REPEAT_XID, REPEAT_ECC, REPEAT_OTHER } kind;
	uint64_t what;               /* the XID; ECC: 2 double, 1 single */
	unsigned gi, ci;             /* the XID's MIG scope */
};

/* One kind of event line in its interval. */
struct repeat {
	struct repeat_key key;
	int64_t until_ms;            /* end of the interval; 0: slot free */
	uint64_t count;              /* lines not written in it */
};

struct inst_fault {
	unsigned gi, ci;
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE]; /* its MIG device's, or
	                                               "" when unknown */
	enum xid_class cls;
	int64_t recover_at_ms;       /* transient: end of the quiet period */
	char reason[HEALTH_REASON_MAX];
};

struct gpu {
	char name[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	bool transient;              /* a transient XID, quiet period running */
	int64_t recover_at_ms;
	bool need_reset;             /* reset-class XID or failed probe */
	bool saw_down;               /* the probe saw it fail since */
	bool probe_ok;
	bool register_broken;        /* its events could not be registered */
	char fault[HEALTH_REASON_MAX]; /* the XID or probe failure in force */
	uint64_t fault_xid;          /* its XID; 0: the probe's failure */
	char register_why[160];
	char recovered[128];         /* how it last became healthy */
	struct inst_fault inst[HEALTH_MAX_INSTANCE_FAULTS];
	size_t ninst;
	/* Its MIG devices at the last discovery. */
	struct health_instance_id migs[HEALTH_MAX_MIG_DEVICES];
	size_t nmigs;
	bool was_healthy;            /* as last published */
	char was_reason[HEALTH_REASON_MAX];
	struct repeat rep[HEALTH_REPEAT_KINDS];
	struct repeat rep_other;     /* kinds past the slots, together */
};

struct health_state {
	struct health_config cfg;
	size_t n;
	struct gpu *gpus;
	bool waits_broken;           /* event waits failing (every GPU) */
	char waits_why[160];
	bool faults_changed;         /* since the last snapshot */
	struct health_gpu_status *status;      /* snapshot buffers */
	struct health_instance_fault *faults;
};

/* ---- reasons ---- */

static bool
gpu_healthy(const struct health_state *s, const struct gpu *g)
{
	if (g->need_reset || g->transient)
		return false;
	if (!s->cfg.unhealthy_without_events)
		return true;
	return !g->register_broken && !s->waits_broken;
}

/* The cause in force, most serious first; "" when healthy. */
static const char *
cause_of(const struct health_state *s, const struct gpu *g)
{
	const char *why = "";

	if (gpu_healthy(s, g))
		return "";
	if (g->need_reset || g->transient)
		why = g->fault;
	else if (g->register_broken)
		why = g->register_why;
	else if (s->waits_broken)
		why = s->waits_why;
	return why[0] != '\0' ? why : UNNAMED;
}

/* "XID 48 (double bit ECC error), needs a GPU reset" plus the scope. */
static void
describe_xid(char *buf, size_t len, uint64_t xid, unsigned gi, unsigned ci)
{
	const char *what = xid_description(xid);
	char scope[64] = "";

	if (gi != HEALTH_WHOLE && ci != HEALTH_WHOLE)
		snprintf(scope, sizeof(scope), " (GPU instance %u, compute "
		    "instance %u)", gi, ci);
	else if (gi != HEALTH_WHOLE)
		snprintf(scope, sizeof(scope), " (GPU instance %u)", gi);
	snprintf(buf, len, "XID %" PRIu64 "%s%s%s, %s%s", xid,
	    what[0] ? " (" : "", what, what[0] ? ")" : "",
	    xid_class_name(xid_class_of(xid)), scope);
}

static void
describe_call(char *buf, size_t len, const char *prefix, const char *call,
    nvmlReturn_t rc)
{
	snprintf(buf, len, "%s: %s%s%s", prefix, call ? call : "",
	    call ? ": " : "", nvml_error_name(rc));
}

/* ---- repeated event lines ---- */

static int64_t
repeat_ms(const struct health_state *s)
{
	return s->cfg.log_repeat_ms > 0 ? s->cfg.log_repeat_ms :
	    HEALTH_LOG_REPEAT_MS;
}

static bool
same_key(const struct repeat_key *a, const struct repeat_key *b)
{
	return a->kind == b->kind && a->what == b->what && a->gi == b->gi &&
	    a->ci == b->ci;
}

/* "XID 13", "XID 48 (GPU instance 1, compute instance 0)", "ECC ...". */
static void
describe_key(char *buf, size_t len, const struct repeat_key *k)
{
	if (k->kind == REPEAT_ECC)
		snprintf(buf, len, "ECC %s-bit event", k->what == 2 ?
		    "double" : "single");
	else if (k->gi == HEALTH_WHOLE)
		snprintf(buf, len, "XID %" PRIu64, k->what);
	else if (k->ci == HEALTH_WHOLE)
		snprintf(buf, len, "XID %" PRIu64 " (GPU instance %u)",
		    k->what, k->gi);
	else
		snprintf(buf, len, "XID %" PRIu64 " (GPU instance %u, compute "
		    "instance %u)", k->what, k->gi, k->ci);
}

/*
 * Ends |r|'s interval if it is over at |now|: with repeats, their summary
 * is logged and a new interval begins (a flood that goes on gets one line
 * per interval); without, the slot is free again.
 */
static void
repeat_expire(const struct health_state *s, size_t i, struct repeat *r,
    int64_t now)
{
	char what[96], span[32];
	int64_t ms = repeat_ms(s);

	if (r->until_ms == 0 || now < r->until_ms)
		return;
	if (r->count == 0) {
		r->until_ms = 0;
		return;
	}
	if (ms % 1000 == 0)
		snprintf(span, sizeof(span), "%" PRId64 " s", ms / 1000);
	else
		snprintf(span, sizeof(span), "%" PRId64 " ms", ms);
	describe_key(what, sizeof(what), &r->key);
	if (r->key.kind == REPEAT_OTHER)
		log_info("GPU %zu (%s): %" PRIu64 " more XID or ECC events, "
		    "of more kinds than are told apart, in the last %s", i,
		    s->gpus[i].name, r->count, span);
	else
		log_info("%s on GPU %zu (%s) repeated %" PRIu64 " times in "
		    "the last %s", what, i, s->gpus[i].name, r->count, span);
	r->count = 0;
	r->until_ms = now + ms;
}

/*
 * Whether the line of |k| on GPU |i| is to be written at |now|: the first
 * of its kind in an interval is; the others are counted for the summary.
 */
static bool
repeat_admit(struct health_state *s, size_t i, const struct repeat_key *k,
    int64_t now)
{
	struct gpu *g = &s->gpus[i];
	struct repeat *free_slot = NULL;

	for (size_t n = 0; n < HEALTH_REPEAT_KINDS; n++) {
		struct repeat *r = &g->rep[n];

		repeat_expire(s, i, r, now);
		if (r->until_ms != 0 && same_key(&r->key, k)) {
			r->count++;
			return false;
		}
		if (r->until_ms == 0 && free_slot == NULL)
			free_slot = r;
	}
	if (free_slot != NULL) {
		*free_slot = (struct repeat){ *k, now + repeat_ms(s), 0 };
		return true;
	}
	/* Too many kinds at once: counted together, summed up alike. */
	repeat_expire(s, i, &g->rep_other, now);
	if (g->rep_other.until_ms == 0)
		g->rep_other = (struct repeat){ { REPEAT_OTHER, 0, 0, 0 },
			now + repeat_ms(s), 0 };
	g->rep_other.count++;
	return false;
}

/* The next summary due on |g|; INT64_MAX when none. */
static int64_t
repeat_deadline(const struct gpu *g)
{
	int64_t next = INT64_MAX;

	for (size_t n = 0; n < HEALTH_REPEAT_KINDS; n++)
		if (g->rep[n].count > 0 && g->rep[n].until_ms < next)
			next = g->rep[n].until_ms;
	if (g->rep_other.count > 0 && g->rep_other.until_ms < next)
		next = g->rep_other.until_ms;
	return next;
}

/* ---- whole-GPU faults ---- */

static void
gpu_fault(struct health_state *s, struct gpu *g, uint64_t xid,
    const char *why, int64_t now_ms)
{
	enum xid_class cls = xid_class_of(xid);

	if (cls == XID_CLASS_RESET) {
		g->fault_xid = xid;
		snprintf(g->fault, sizeof(g->fault), "%s", why);
		g->need_reset = true;
		g->saw_down = false;
		g->transient = false;
	} else if (!g->need_reset) {
		/* A reset-class fault in force stays the one named. */
		g->fault_xid = xid;
		snprintf(g->fault, sizeof(g->fault), "%s", why);
		g->transient = true;
		g->recover_at_ms = now_ms + s->cfg.quiet_ms;
	}
}

static void
apply_probe(struct health_state *s, struct gpu *g, nvmlReturn_t rc)
{
	if (rc == NVML_SUCCESS) {
		g->probe_ok = true;
		if (g->saw_down) {
			/* A reset clears every fault of the GPU. */
			g->need_reset = false;
			g->saw_down = false;
			s->faults_changed |= g->ninst > 0;
			g->ninst = 0;
			snprintf(g->recovered, sizeof(g->recovered),
			    "answers again after a reset");
		}
		return;
	}
	g->probe_ok = false;
	g->saw_down = true;
	g->need_reset = true;
	g->transient = false;
	g->fault_xid = 0;
	describe_call(g->fault, sizeof(g->fault), "NVML probe", NULL, rc);
}

/* ---- MIG-scoped faults ---- */

static struct inst_fault *
inst_find(struct gpu *g, unsigned gi, unsigned ci)
{
	for (size_t k = 0; k < g->ninst; k++)
		if (g->inst[k].gi == gi && g->inst[k].ci == ci)
			return &g->inst[k];
	return NULL;
}

/* Folds |f| into |into|: the more serious class (at equal class, the
 * later fault) names it, and the later deadline holds. */
static void
inst_merge(struct inst_fault *into, const struct inst_fault *f)
{
	if (f->cls == XID_CLASS_RESET || into->cls != XID_CLASS_RESET) {
		snprintf(into->reason, sizeof(into->reason), "%s", f->reason);
		into->cls = f->cls;
	}
	if (f->recover_at_ms > into->recover_at_ms)
		into->recover_at_ms = f->recover_at_ms;
}

/*
 * Turns every fault of GPU instance |gi| into one for the whole instance
 * (views of |gi| were unhealthy already; its other compute instances now
 * are too). Returns that fault, or NULL when |gi| has none.
 */
static struct inst_fault *
inst_widen(struct gpu *g, unsigned gi)
{
	struct inst_fault *w = NULL;
	size_t kept = 0;

	for (size_t k = 0; k < g->ninst; k++) {
		struct inst_fault *f = &g->inst[k];

		if (f->gi == gi && w != NULL) {
			inst_merge(w, f);
			continue;
		}
		g->inst[kept] = *f;
		if (f->gi == gi)
			w = &g->inst[kept];
		kept++;
	}
	g->ninst = kept;
	if (w != NULL)
		w->ci = HEALTH_WHOLE;
	return w;
}

/* The UUID of the MIG device of (|gi|, |ci|) (|ci| HEALTH_WHOLE: the
 * first of |gi|), or "" when the last discovery did not list it. */
static const char *
mig_uuid(const struct gpu *g, unsigned gi, unsigned ci)
{
	for (size_t k = 0; k < g->nmigs; k++)
		if (g->migs[k].gi == gi && (ci == HEALTH_WHOLE ||
		    g->migs[k].ci == ci))
			return g->migs[k].uuid;
	return "";
}

/*
 * The slot for a fault of (|gi|, |ci|): its own, a new one, or past the
 * bound its whole GPU instance's (|*widened|). NULL: none at all.
 */
static struct inst_fault *
inst_slot(struct gpu *g, unsigned gi, unsigned ci, bool *widened)
{
	struct inst_fault *f = inst_find(g, gi, ci);

	*widened = false;
	if (f != NULL)
		return f;
	if (g->ninst < HEALTH_MAX_INSTANCE_FAULTS) {
		f = &g->inst[g->ninst++];
		*f = (struct inst_fault){ .gi = gi, .ci = ci,
			.cls = XID_CLASS_TRANSIENT };
		snprintf(f->uuid, sizeof(f->uuid), "%s", mig_uuid(g, gi, ci));
		return f;
	}
	if ((f = inst_find(g, gi, HEALTH_WHOLE)) == NULL)
		f = inst_widen(g, gi);
	*widened = f != NULL && ci != HEALTH_WHOLE;
	return f;
}

/* A fault of one MIG instance: the GPU's other instances stay healthy. */
static void
inst_fault(struct health_state *s, struct gpu *g, size_t i,
    const struct health_record *r, const char *why, int64_t now_ms)
{
	struct inst_fault nf = { .cls = xid_class_of(r->xid),
		.recover_at_ms = now_ms + s->cfg.quiet_ms };
	struct repeat_key k = { REPEAT_XID, r->xid, r->gi, r->ci };
	bool say = repeat_admit(s, i, &k, now_ms);
	struct inst_fault *f;
	bool widened;

	f = inst_slot(g, r->gi, r->ci, &widened);
	if (f == NULL) {
		snprintf(nf.reason, sizeof(nf.reason), "%s; more MIG-scoped "
		    "faults than the %d tracked, so the whole GPU is marked",
		    why, HEALTH_MAX_INSTANCE_FAULTS);
		if (say)
			log_warn("GPU %zu (%s): %s", i, g->name, nf.reason);
		gpu_fault(s, g, r->xid, nf.reason, now_ms);
		return;
	}
	snprintf(nf.reason, sizeof(nf.reason), "%s%s", why, widened ?
	    "; marks its whole GPU instance (more MIG-scoped faults than "
	    "can be told apart)" : "");
	inst_merge(f, &nf);
	s->faults_changed = true;
	if (say)
		log_warn("GPU %zu (%s): %s: that MIG device is unhealthy, the "
		    "GPU's other instances are not", i, g->name, f->reason);
}

/* Transient MIG faults end after the quiet period, the probe passing. */
static void
inst_expire(struct health_state *s, struct gpu *g, size_t i, int64_t now)
{
	size_t kept = 0;

	for (size_t k = 0; k < g->ninst; k++) {
		struct inst_fault *f = &g->inst[k];
		bool due = f->cls == XID_CLASS_TRANSIENT &&
		    now >= f->recover_at_ms;

		if (due && g->probe_ok) {
			log_info("GPU %zu (%s): GPU instance %u / compute "
			    "instance %u: quiet for %" PRId64 " ms, healthy "
			    "again", i, g->name, f->gi, f->ci, s->cfg.quiet_ms);
			s->faults_changed = true;
			continue;
		}
		if (due)
			f->recover_at_ms = now + s->cfg.quiet_ms;
		g->inst[kept++] = *f;
	}
	g->ninst = kept;
}
/* ---- applying records ---- */

static void
apply_event(struct health_state *s, size_t i, const struct health_record *r,
    int64_t now_ms)
{
	struct gpu *g = &s->gpus[i];
	char why[HEALTH_REASON_MAX - 96];
	bool dbe = (r->type & nvmlEventTypeDoubleBitEccError) != 0;
	struct repeat_key ecc = { REPEAT_ECC, dbe ? 2 : 1, 0, 0 };
	struct repeat_key app = { REPEAT_XID, r->xid, r->gi, r->ci };

	if (!(r->type & nvmlEventTypeXidCriticalError)) {
		if (repeat_admit(s, i, &ecc, now_ms))
			log_info("ECC %s-bit event on GPU %zu (%s)", dbe ?
			    "double" : "single", i, g->name);
		return;
	}
	if (!policy_xid_critical(&s->cfg.policy, r->xid)) {
		if (repeat_admit(s, i, &app, now_ms))
			log_info("XID %" PRIu64 " (%s) on GPU %zu (%s): an "
			    "application error, health unchanged", r->xid,
			    xid_description(r->xid), i, g->name);
		return;
	}
	describe_xid(why, sizeof(why), r->xid, r->gi, r->ci);
	if (r->gi != HEALTH_WHOLE)
		inst_fault(s, g, i, r, why, now_ms);
	else
		gpu_fault(s, g, r->xid, why, now_ms);
}

static void
apply_waits(struct health_state *s, const struct health_record *r)
{
	if (r->kind == HEALTH_REC_WAIT_OK) {
		log_info("NVML event waits work again");
		s->waits_broken = false;
		for (size_t i = 0; i < s->n; i++)
			snprintf(s->gpus[i].recovered,
			    sizeof(s->gpus[i].recovered),
			    "health events work again");
		return;
	}
	log_warn("NVML event wait failing: %s; retrying with backoff (%s)",
	    nvml_error_name(r->rc), s->cfg.unhealthy_without_events ?
	    "GPUs unhealthy meanwhile" : "GPUs left as they are");
	s->waits_broken = true;
	describe_call(s->waits_why, sizeof(s->waits_why),
	    "health events unavailable", r->call, r->rc);
}

static void
apply_register(struct health_state *s, size_t i,
    const struct health_record *r)
{
	struct gpu *g = &s->gpus[i];

	if (r->kind == HEALTH_REC_REGISTERED) {
		if (g->register_broken)
			log_info("GPU %zu (%s): registered for health events "
			    "again", i, g->name);
		g->register_broken = false;
		snprintf(g->recovered, sizeof(g->recovered),
		    "registered for health events again");
		return;
	}
	if (r->kind == HEALTH_REC_REGISTER_UNSUPPORTED) {
		log_info("GPU %zu (%s) does not support health events; the "
		    "probe still watches it", i, g->name);
		return;
	}
	log_warn("GPU %zu (%s): cannot register for health events: %s%s%s "
	    "(%s)", i, g->name, r->call ? r->call : "", r->call ? ": " : "",
	    nvml_error_name(r->rc), s->cfg.unhealthy_without_events ?
	    "unhealthy meanwhile" : "left to the probe");
	g->register_broken = true;
	describe_call(g->register_why, sizeof(g->register_why),
	    "health events unavailable", r->call, r->rc);
}

void
health_state_apply(struct health_state *s, const struct health_record *r,
    int64_t now_ms)
{
	if (r->kind == HEALTH_REC_WATCHING) {
		log_info("Health events registered: %u of %zu GPU(s) watched "
		    "for XID and ECC events", r->count, s->n);
		return;
	}
	if (r->kind == HEALTH_REC_WAIT_EARLY) {
		log_warn("NVML event waits return at once without an event "
		    "(%s, %u times in a row): each is paced to its full "
		    "timeout; health rests on the probe and the events that "
		    "do come", nvml_error_name(r->rc), r->count);
		return;
	}
	if (r->kind == HEALTH_REC_WAIT_FAILED || r->kind == HEALTH_REC_WAIT_OK) {
		apply_waits(s, r);
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (r->gpu != HEALTH_ALL_GPUS && r->gpu != i)
			continue;
		switch (r->kind) {
		case HEALTH_REC_EVENT:
			apply_event(s, i, r, now_ms);
			break;
		case HEALTH_REC_PROBE:
			apply_probe(s, &s->gpus[i], r->rc);
			break;
		default:
			apply_register(s, i, r);
			break;
		}
	}
}

/* ---- time ---- */

static void
gpu_expire(struct health_state *s, struct gpu *g, int64_t now)
{
	if (!g->transient || now < g->recover_at_ms)
		return;
	if (!g->probe_ok) {
		g->recover_at_ms = now + s->cfg.quiet_ms;
		return;
	}
	g->transient = false;
	snprintf(g->recovered, sizeof(g->recovered), "quiet for %" PRId64
	    " ms since the last critical XID, probe passing",
	    s->cfg.quiet_ms);
}

void
health_state_tick(struct health_state *s, int64_t now_ms)
{
	for (size_t i = 0; i < s->n; i++) {
		struct gpu *g = &s->gpus[i];

		inst_expire(s, g, i, now_ms);
		gpu_expire(s, g, now_ms);
		for (size_t n = 0; n < HEALTH_REPEAT_KINDS; n++)
			repeat_expire(s, i, &g->rep[n], now_ms);
		repeat_expire(s, i, &g->rep_other, now_ms);
	}
}

int64_t
health_state_next_deadline(const struct health_state *s)
{
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < s->n; i++) {
		const struct gpu *g = &s->gpus[i];
		int64_t rep = repeat_deadline(g);

		if (rep < next)
			next = rep;
		if (g->transient && g->recover_at_ms < next)
			next = g->recover_at_ms;
		for (size_t k = 0; k < g->ninst; k++)
			if (g->inst[k].cls == XID_CLASS_TRANSIENT &&
			    g->inst[k].recover_at_ms < next)
				next = g->inst[k].recover_at_ms;
	}
	return next;
}

/* ---- the snapshot ---- */

/* Counts a change of |g|'s health (or of its cause) for /metrics. */
static void
count_transition(const struct health_state *s, const struct gpu *g,
    bool healthy)
{
	if (healthy)
		metrics_health_transition(g->name, "recovered", 0);
	else if (g->need_reset || g->transient)
		metrics_health_transition(g->name, g->fault_xid ? "xid" :
		    "probe", g->fault_xid);
	else
		metrics_health_transition(g->name, "events_unavailable", 0);
}

/* Fills status |i|; logs and returns whether it changed. */
static bool
status_of(struct health_state *s, size_t i)
{
	struct gpu *g = &s->gpus[i];
	struct health_gpu_status *st = &s->status[i];
	bool was = g->was_healthy;

	st->healthy = gpu_healthy(s, g);
	st->reason = cause_of(s, g);
	if (st->healthy == was && strcmp(st->reason, g->was_reason) == 0)
		return false;
	if (st->healthy)
		log_info("GPU %zu (%s): Unhealthy -> Healthy: %s", i, g->name,
		    g->recovered[0] ? g->recovered : "no cause left");
	else if (was)
		log_warn("GPU %zu (%s): Healthy -> Unhealthy: %s", i, g->name,
		    st->reason);
	else
		log_warn("GPU %zu (%s): still unhealthy, now: %s", i, g->name,
		    st->reason);
	count_transition(s, g, st->healthy);
	g->was_healthy = st->healthy;
	snprintf(g->was_reason, sizeof(g->was_reason), "%s", st->reason);
	return true;
}

bool
health_state_snapshot(struct health_state *s, struct health_snapshot *snap)
{
	bool changed = s->faults_changed;
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct gpu *g = &s->gpus[i];

		changed |= status_of(s, i);
		for (size_t k = 0; k < g->ninst; k++)
			s->faults[n++] = (struct health_instance_fault){
				.gpu = i, .gi = g->inst[k].gi,
				.ci = g->inst[k].ci,
				.reason = g->inst[k].reason };
	}
	s->faults_changed = false;
	snap->gpus = s->status;
	snap->ngpus = s->n;
	snap->faults = s->faults;
	snap->nfaults = n;
	return changed;
}

/* ---- life ---- */

struct health_state *
health_state_new(size_t ngpus, const char *const *names,
    const struct health_config *cfg)
{
	struct health_state *s = gdp_calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if (ngpus > SIZE_MAX / HEALTH_MAX_INSTANCE_FAULTS - 1)
		goto out_free;
	s->cfg = *cfg;
	s->n = ngpus;
	s->gpus = gdp_calloc(ngpus + 1, sizeof(*s->gpus));
	s->status = gdp_calloc(ngpus + 1, sizeof(*s->status));
	s->faults = gdp_calloc(ngpus * HEALTH_MAX_INSTANCE_FAULTS + 1,
	    sizeof(*s->faults));
	if (s->gpus == NULL || s->status == NULL || s->faults == NULL)
		goto out_free;
	for (size_t i = 0; i < ngpus; i++) {
		struct gpu *g = &s->gpus[i];

		snprintf(g->name, sizeof(g->name), "%s",
		    names != NULL && names[i] != NULL ? names[i] : "");
		g->probe_ok = true;
		g->was_healthy = true;
		s->status[i] = (struct health_gpu_status){ true, "" };
	}
	return s;

out_free:
	health_state_free(s);
	errno = ENOMEM;
	return NULL;
}

void
health_state_free(struct health_state *s)
{
	if (s == NULL)
		return;
	gdp_free(s->gpus);
	gdp_free(s->status);
	gdp_free(s->faults);
	gdp_free(s);
}

void
health_state_inherit(struct health_state *to, const struct health_state *from)
{
	for (size_t i = 0; i < to->n; i++) {
		struct gpu *g = &to->gpus[i];

		for (size_t k = 0; g->name[0] != '\0' && k < from->n; k++)
			if (strcmp(from->gpus[k].name, g->name) == 0) {
				*g = from->gpus[k];
				break;
			}
	}
	to->waits_broken = from->waits_broken;
	memcpy(to->waits_why, from->waits_why, sizeof(to->waits_why));
	to->faults_changed = true;
}

/* ---- MIG layout changes ---- */

static bool
instance_there(const struct inst_fault *f,
    const struct health_instance_id *ids, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (ids[k].gi == f->gi &&
		    (f->ci == HEALTH_WHOLE || ids[k].ci == f->ci) &&
		    (f->uuid[0] == '\0' || strcmp(ids[k].uuid, f->uuid) == 0))
			return true;
	return false;
}

bool
health_state_keep_instances(struct health_state *s, size_t i,
    const struct health_instance_id *ids, size_t n)
{
	struct gpu *g;
	size_t kept = 0, before;

	if (i >= s->n)
		return false;
	g = &s->gpus[i];
	before = g->ninst;
	for (size_t k = 0; k < g->ninst; k++) {
		if (instance_there(&g->inst[k], ids, n)) {
			g->inst[kept++] = g->inst[k];
			continue;
		}
		log_info("GPU %zu (%s): %s: its MIG instance is gone (the MIG "
		    "layout changed); the fault ends with it", i, g->name,
		    g->inst[k].reason);
	}
	g->ninst = kept;
	g->nmigs = n < HEALTH_MAX_MIG_DEVICES ? n : HEALTH_MAX_MIG_DEVICES;
	if (g->nmigs > 0)
		memcpy(g->migs, ids, g->nmigs * sizeof(g->migs[0]));
	if (kept == before)
		return false;
	s->faults_changed = true;
	return true;
}
