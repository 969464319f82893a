/*
 * supervise.h: the MPS daemons of a plan kept running on the loop.
 *
 * Each daemon is started at once; a start that fails is tried again
 * after a backoff of 1 s, doubled after each failure up to 30 s. A
 * running daemon is asked every probe interval whether it answers; one
 * that does not has its ready file removed at once (the plugin then
 * withdraws its devices) and is started again after the backoff. The
 * backoff goes back to 1 s once a daemon has run for 30 s.
 *
 * A new plan (a reload) stops the daemons it no longer has or has
 * changed, keeps the others running untouched, and starts the new ones.
 */
#ifndef GDP_MPS_SUPERVISE_H
#define GDP_MPS_SUPERVISE_H

#include <stdint.h>

#include "loop/loop.h"
#include "mps/daemon.h"
#include "mps/plan.h"

#define MPS_BACKOFF_FIRST_MS 1000
#define MPS_BACKOFF_MAX_MS 30000
#define MPS_PROBE_DEFAULT_MS 5000

struct mps_supervisor;

/*
 * A supervisor on |loop| using |tools| (copied) and probing every
 * |probe_ms|. NULL with errno ENOMEM.
 */
struct mps_supervisor *mps_supervisor_new(struct loop *loop,
    const struct mps_tools *tools, int64_t probe_ms);
/*
 * Runs |plan| from now on (takes it: freed with the supervisor or the
 * next plan). Returns 0 or -ENOMEM (the old plan then stays).
 */
int mps_supervisor_apply(struct mps_supervisor *s, struct mps_plan *plan);
/* Stops every daemon (ready files removed, `quit`), as on SIGTERM. */
void mps_supervisor_stop_all(struct mps_supervisor *s);
/* Frees |s| (stop first: daemons still running are left running). */
void mps_supervisor_free(struct mps_supervisor *s);

#endif /* GDP_MPS_SUPERVISE_H */
