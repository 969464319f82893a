/*
 * daemon.h: one MPS daemon, driven through NVIDIA's tools the way
 * NVIDIA's mps-control-daemon drives it: nvidia-smi puts each of its GPUs
 * in EXCLUSIVE_PROCESS compute mode; `nvidia-cuda-mps-control -d`, with
 * CUDA_MPS_PIPE_DIRECTORY and CUDA_MPS_LOG_DIRECTORY set to the plan's
 * directories, starts it; the limits go to it as commands on
 * nvidia-cuda-mps-control's stdin; then the ready file is written
 * (ready.h). Each call is synchronous (run.h).
 *
 * The tools' paths: $GDP_MPS_CONTROL (default nvidia-cuda-mps-control)
 * and $GDP_NVIDIA_SMI (default nvidia-smi), looked up in PATH unless
 * they have a slash; tests point them at a stand-in (tests/mps).
 */
#ifndef GDP_MPS_DAEMON_H
#define GDP_MPS_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "mps/plan.h"

struct mps_tools {
	const char *control;            /* nvidia-cuda-mps-control */
	const char *smi;                /* nvidia-smi */
};

/* The tools as the environment names them (strings are environ's). */
void mps_tools_from_env(struct mps_tools *t);

/*
 * Starts |p|'s daemon: directories, compute mode, `-d`, limits, ready
 * file. Returns 0 with |*ready_fd| the ready file's (hold it while the
 * daemon runs), or a negative errno with |err| naming the step and the
 * tool's failure; a daemon half started is quit again.
 */
int mps_daemon_start(const struct mps_tools *t,
    const struct mps_daemon_plan *p, int *ready_fd, char *err,
    size_t errlen);
/*
 * Whether |p|'s daemon answers (get_default_active_thread_percentage, as
 * NVIDIA's plugin checks it); |err| says why not.
 */
bool mps_daemon_alive(const struct mps_tools *t,
    const struct mps_daemon_plan *p, char *err, size_t errlen);
/*
 * Removes the ready file (closing |ready_fd|, -1: none), sends `quit`,
 * and puts the GPUs back in DEFAULT compute mode. Failures are logged.
 */
void mps_daemon_stop(const struct mps_tools *t,
    const struct mps_daemon_plan *p, int ready_fd);

#endif /* GDP_MPS_DAEMON_H */
