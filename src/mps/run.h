/*
 * run.h: running NVIDIA's tools (nvidia-cuda-mps-control, nvidia-smi) as
 * child processes: arguments, extra environment, a line of text on their
 * stdin, and a time limit, so that a tool that hangs cannot hang the
 * daemon's loop. Their stderr is ours (the log); their stdout is dropped.
 *
 * Synchronous on purpose: every call NVIDIA's daemon makes returns at
 * once (`-d` forks the MPS daemon into the background and exits), and
 * the supervisor has nothing else to do meanwhile.
 */
#ifndef GDP_MPS_RUN_H
#define GDP_MPS_RUN_H

#include <stddef.h>

/* How long a tool may take before it is killed. */
#define MPS_RUN_TIMEOUT_MS 10000

/*
 * Runs |argv| (argv[0] looked up in PATH unless it has a slash) with the
 * environment plus |env| ("NAME=value" strings, NULL-terminated; may be
 * NULL), which replace variables of the same name. |input| (may be NULL)
 * is written to its stdin, then stdin is closed. Returns 0 when it exits
 * 0; otherwise -ENOENT (could not be run), -EIO (exit status or signal),
 * -ETIMEDOUT (killed after |timeout_ms|) or -ENOMEM, with |err| saying
 * which and how. Nothing of the arguments is kept.
 */
int mps_run(char *const argv[], const char *const env[], const char *input,
    int timeout_ms, char *err, size_t errlen);

#endif /* GDP_MPS_RUN_H */
