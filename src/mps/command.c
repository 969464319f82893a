/*
 * command.c: the mps-control-daemon subcommand's loop (command.h).
 */
#include "command.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "loop/loop.h"
#include "mps/supervise.h"
#include "util/log.h"

struct run {
	struct loop *loop;
	struct mps_supervisor *sup;
	mps_plan_fn build;
	void *arg;
};

static int64_t
probe_interval(void)
{
	const char *v = getenv("GDP_MPS_PROBE_INTERVAL_MS");
	char *end;
	long long ms;

	if (v == NULL || v[0] == '\0')
		return MPS_PROBE_DEFAULT_MS;
	ms = strtoll(v, &end, 10);
	if (*end != '\0' || ms <= 0 || ms > LOOP_MAX_DELAY_MS) {
		log_warn("GDP_MPS_PROBE_INTERVAL_MS=%s: not a number of ms; "
		    "probing every %d ms", v, MPS_PROBE_DEFAULT_MS);
		return MPS_PROBE_DEFAULT_MS;
	}
	return ms;
}

/* Builds and applies a plan; 0 or a negative errno (logged). */
static int
apply(struct run *r, bool reload)
{
	struct mps_plan *plan = NULL;
	int rc = r->build(r->arg, reload, &plan);

	if (rc < 0)
		return rc;
	if (plan->n == 0)
		log_info("No MPS-shared resource on this node (sharing.mps): "
		    "no MPS daemon runs");
	rc = mps_supervisor_apply(r->sup, plan);
	if (rc < 0) {
		log_error("Cannot apply the MPS plan: out of memory");
		mps_plan_free(plan);
	}
	return rc;
}

static void
on_signal(struct loop *loop, int signo, void *arg)
{
	struct run *r = arg;

	if (signo == SIGHUP) {
		log_info("SIGHUP: reloading");
		if (apply(r, true) < 0)
			log_error("Reload failed: the MPS daemons run as "
			    "before");
		return;
	}
	log_info("%s: stopping the MPS daemons", strsignal(signo));
	mps_supervisor_stop_all(r->sup);
	loop_stop(loop);
}

int
mps_control_run(mps_plan_fn build, void *arg)
{
	struct mps_tools tools;
	struct run r = { .build = build, .arg = arg };
	int rc = 1;

	mps_tools_from_env(&tools);
	r.loop = loop_new();
	if (r.loop == NULL || (r.sup = mps_supervisor_new(r.loop, &tools,
	    probe_interval())) == NULL ||
	    loop_add_signal(r.loop, SIGTERM, on_signal, &r) < 0 ||
	    loop_add_signal(r.loop, SIGINT, on_signal, &r) < 0 ||
	    loop_add_signal(r.loop, SIGHUP, on_signal, &r) < 0) {
		log_error("Cannot set up the event loop: %s",
		    strerror(errno));
		goto out;
	}
	log_info("MPS control daemon: %s, %s", tools.control, tools.smi);
	if (apply(&r, false) < 0)
		goto out;
	rc = loop_run(r.loop) < 0 ? 1 : 0;
out:
	mps_supervisor_free(r.sup);
	loop_free(r.loop);
	return rc;
}
