/*
 * daemon.c: one MPS daemon's start, check and stop (daemon.h).
 *
 * A daemon left running from before (this process restarted, say) would
 * make `-d` fail, so a start first asks whether one answers on the pipe
 * directory and quits it. The pinned memory limit goes per GPU by UUID
 * (`set_default_device_pinned_mem_limit <uuid> <N>M`), which names the
 * GPU whatever CUDA's device order is; the active thread percentage is
 * one value for the daemon (plan.h).
 */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mps/ready.h"
#include "mps/run.h"
#include "util/log.h"

#define ENV_SIZE (MPS_PATH_MAX + 32)

void
mps_tools_from_env(struct mps_tools *t)
{
	const char *c = getenv("GDP_MPS_CONTROL");
	const char *s = getenv("GDP_NVIDIA_SMI");

	t->control = c != NULL && c[0] != '\0' ? c : "nvidia-cuda-mps-control";
	t->smi = s != NULL && s[0] != '\0' ? s : "nvidia-smi";
}

/* mkdir -p |path| (0755). */
static int
make_dirs(const char *path, char *err, size_t errlen)
{
	char buf[MPS_PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		bool end = *p == '\0';

		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
			int e = errno;

			snprintf(err, errlen, "cannot make %s: %s", buf,
			    strerror(e));
			return -e;
		}
		if (end)
			return 0;
		*p = '/';
	}
}

/*
 * The directory Allocate mounts at a client's /dev/shm (reference §3):
 * it must exist before the first container starts, and every client,
 * whatever its user, makes its segments there, so it is world-writable
 * and sticky like /dev/shm itself. Under /run (the usual root) it is
 * already on a tmpfs.
 */
static int
make_shm(const char *path, char *err, size_t errlen)
{
	int rc = make_dirs(path, err, errlen);

	if (rc == 0 && chmod(path, 01777) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot make %s world-writable: %s",
		    path, strerror(-rc));
	}
	return rc;
}

/* nvidia-cuda-mps-control [|arg|] with |input|, in |p|'s directories. */
static int
control(const struct mps_tools *t, const struct mps_daemon_plan *p,
    const char *arg, const char *input, char *err, size_t errlen)
{
	char pipe_env[ENV_SIZE], log_env[ENV_SIZE];
	const char *env[] = { pipe_env, log_env, NULL };
	char *argv[] = { (char *)t->control, (char *)arg, NULL };

	snprintf(pipe_env, sizeof(pipe_env), "CUDA_MPS_PIPE_DIRECTORY=%s",
	    p->pipe_dir);
	snprintf(log_env, sizeof(log_env), "CUDA_MPS_LOG_DIRECTORY=%s",
	    p->log_dir);
	return mps_run(argv, env, input, MPS_RUN_TIMEOUT_MS, err, errlen);
}

static int
compute_mode(const struct mps_tools *t, const struct mps_daemon_plan *p,
    const char *mode, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->n_gpus; i++) {
		char *argv[] = { (char *)t->smi, "-i", (char *)p->gpus[i].uuid,
			"-c", (char *)mode, NULL };
		char why[512];
		int rc = mps_run(argv, NULL, NULL, MPS_RUN_TIMEOUT_MS, why,
		    sizeof(why));

		if (rc < 0) {
			snprintf(err, errlen, "setting compute mode %s on %s: "
			    "%s", mode, p->gpus[i].uuid, why);
			return rc;
		}
	}
	return 0;
}

/* The limits, one command each. */
static int
set_limits(const struct mps_tools *t, const struct mps_daemon_plan *p,
    char *err, size_t errlen)
{
	char cmd[256], why[512];
	int rc;

	for (size_t i = 0; i < p->n_gpus; i++) {
		if (p->gpus[i].limit_mib == 0) {
			log_warn("MPS %s: the memory of %s is unknown: no "
			    "pinned memory limit", p->resource,
			    p->gpus[i].uuid);
			continue;
		}
		snprintf(cmd, sizeof(cmd), "set_default_device_pinned_mem_limit"
		    " %s %lluM\n", p->gpus[i].uuid,
		    (unsigned long long)p->gpus[i].limit_mib);
		if ((rc = control(t, p, NULL, cmd, why, sizeof(why))) < 0)
			goto fail;
	}
	snprintf(cmd, sizeof(cmd), "set_default_active_thread_percentage %u\n",
	    p->thread_percentage);
	if ((rc = control(t, p, NULL, cmd, why, sizeof(why))) == 0)
		return 0;
fail:
	cmd[strcspn(cmd, "\n")] = '\0';
	snprintf(err, errlen, "sending \"%s\": %s", cmd, why);
	return rc;
}

static void
quit_leftover(const struct mps_tools *t, const struct mps_daemon_plan *p)
{
	char why[512];

	if (!mps_daemon_alive(t, p, why, sizeof(why)))
		return;
	log_warn("MPS %s: a daemon from before answers on %s: quitting it",
	    p->resource, p->pipe_dir);
	if (control(t, p, NULL, "quit\n", why, sizeof(why)) < 0)
		log_warn("MPS %s: quit: %s", p->resource, why);
}

static int
ready_text(const struct mps_daemon_plan *p, char *out, size_t len)
{
	int n = snprintf(out, len, "pid %ld\nresource %s\n", (long)getpid(),
	    p->resource);

	for (size_t i = 0; n > 0 && (size_t)n < len && i < p->n_gpus; i++)
		n += snprintf(out + n, len - (size_t)n, "gpu %s replicas %lu\n",
		    p->gpus[i].uuid, p->gpus[i].replicas);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int
mps_daemon_start(const struct mps_tools *t, const struct mps_daemon_plan *p,
    int *ready_fd, char *err, size_t errlen)
{
	char why[512], text[4096];
	int rc;

	*ready_fd = -1;
	mps_ready_remove(p->dir, -1);
	if ((rc = make_dirs(p->pipe_dir, err, errlen)) < 0 ||
	    (rc = make_dirs(p->log_dir, err, errlen)) < 0 ||
	    (rc = make_shm(p->shm_dir, err, errlen)) < 0)
		return rc;
	quit_leftover(t, p);
	if ((rc = compute_mode(t, p, "EXCLUSIVE_PROCESS", err, errlen)) < 0)
		return rc;
	if ((rc = control(t, p, "-d", NULL, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "starting the daemon: %s", why);
		return rc;
	}
	if ((rc = set_limits(t, p, err, errlen)) < 0)
		goto quit;
	(void)ready_text(p, text, sizeof(text));
	rc = mps_ready_write(p->dir, text, why, sizeof(why));
	if (rc >= 0) {
		*ready_fd = rc;
		return 0;
	}
	snprintf(err, errlen, "writing the ready file: %s", why);
quit:
	(void)control(t, p, NULL, "quit\n", why, sizeof(why));
	return rc;
}

bool
mps_daemon_alive(const struct mps_tools *t, const struct mps_daemon_plan *p,
    char *err, size_t errlen)
{
	return control(t, p, NULL, "get_default_active_thread_percentage\n",
	    err, errlen) == 0;
}

void
mps_daemon_stop(const struct mps_tools *t, const struct mps_daemon_plan *p,
    int ready_fd)
{
	char why[512];

	mps_ready_remove(p->dir, ready_fd);
	if (control(t, p, NULL, "quit\n", why, sizeof(why)) < 0)
		log_warn("MPS %s: quit: %s", p->resource, why);
	if (compute_mode(t, p, "DEFAULT", why, sizeof(why)) < 0)
		log_warn("MPS %s: %s", p->resource, why);
}
