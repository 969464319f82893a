/*
 * command.h: `gpu-device-plugin mps-control-daemon`, the process that
 * runs one MPS daemon per MPS-shared resource of the node (docs/mps.md),
 * on its own event loop: SIGTERM or SIGINT stops every daemon (ready
 * files removed, `quit` sent and waited for) and exits 0; SIGHUP builds
 * the plan again (the config file re-read, the GPUs discovered again)
 * and applies it, a plan that cannot be built changing nothing.
 *
 * The plan comes from the caller (main.c), which owns flags, config file
 * and NVML; this file owns the loop, the signals and the supervisor.
 */
#ifndef GDP_MPS_COMMAND_H
#define GDP_MPS_COMMAND_H

#include "mps/plan.h"

/*
 * Builds the plan: 0 with |*out| (the caller's), or a negative errno
 * having logged why. |reload| is false the first time.
 */
typedef int (*mps_plan_fn)(void *arg, bool reload, struct mps_plan **out);

/*
 * Runs until SIGTERM or SIGINT. Returns the exit status: 0, or 1 when
 * the first plan cannot be built or the loop cannot be set up. The probe
 * interval is $GDP_MPS_PROBE_INTERVAL_MS (default 5000).
 */
int mps_control_run(mps_plan_fn build, void *arg);

#endif /* GDP_MPS_COMMAND_H */
