/*
 * effective.h: the configuration in effect, once flags, environment and
 * config file are merged (flags.h, file.h): the checks that need all of
 * them, and the JSON NVIDIA's plugin logs as "Running with config:", in
 * its shape, so that an operator can diff ours and theirs.
 */
#ifndef GDP_CONFIG_EFFECTIVE_H
#define GDP_CONFIG_EFFECTIVE_H

#include <stdbool.h>

#include "config/file.h"
#include "config/flags.h"

/*
 * The checks across sources (MPS needs --mps-root, MPS and mixed MIG do
 * not go together; time-slicing beside MPS is ignored), added to |cf|'s
 * errors and warnings; |cf| NULL (no file) has no sharing to check.
 * Returns 0 or -ENOMEM.
 */
int effective_check(const struct config *cfg, struct cfgfile *cf);

/*
 * The sharing in effect, as NVIDIA picks it: sharing.mps when it has a
 * resource with replicas (|*mps| true), else sharing.timeSlicing when it
 * has one, else NULL (no sharing; |cf| NULL too). Points into |cf|.
 */
const struct cfgfile_sharing *effective_sharing(const struct cfgfile *cf,
    bool *mps);

/*
 * The effective config as JSON, indented by 2 when |pretty|, else on one
 * line. Returns a string to free with gdp_free(), or NULL (ENOMEM).
 */
char *effective_json(const struct config *cfg, const struct cfgfile *cf,
    bool pretty);

#endif /* GDP_CONFIG_EFFECTIVE_H */
