/*
 * policy.h: which XIDs make a GPU unhealthy, and how it can recover.
 *
 * Defaults match NVIDIA's plugin: every XID is critical except 13, 31, 43,
 * 45, 68 and 109, which are application errors. DP_DISABLE_HEALTHCHECKS
 * and DP_ENABLE_HEALTHCHECKS keep NVIDIA's documented meaning (which its
 * code contradicts in one case; docs/health.md says where):
 *
 *   DP_DISABLE_HEALTHCHECKS  all | xids: no XID is critical (unless
 *                            enabled below); a list: those XIDs are
 *                            ignored as well as the defaults
 *   DP_ENABLE_HEALTHCHECKS   all: every XID is critical, the defaults
 *                            included; a list: those XIDs are critical
 *                            whatever the ignore lists say
 *
 * Each critical XID also has a recovery class, from NVIDIA's XID catalogue
 * and its recommended actions (table and sources in docs/health.md).
 */
#ifndef GDP_HEALTH_POLICY_H
#define GDP_HEALTH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_XID 1024

enum xid_class {
	/* Recovers by itself: healthy again after a quiet period with no
	 * new critical XID and a passing probe. */
	XID_CLASS_TRANSIENT,
	/* Needs a GPU reset or a node reboot: unhealthy until the probe has
	 * seen the GPU go away and come back (or the plugin restarts). */
	XID_CLASS_RESET,
};

struct health_policy {
	bool all_disabled;              /* DISABLE=all|xids */
	bool all_enabled;               /* ENABLE=all */
	uint8_t ignored[POLICY_MAX_XID / 8];
	uint8_t enabled[POLICY_MAX_XID / 8];
};

/*
 * Fills |p| from the two variables' values (NULL: unset). Malformed
 * entries are reported in |warn| (may be empty) and skipped, like NVIDIA.
 */
void policy_init(struct health_policy *p, const char *disable,
    const char *enable, char *warn, size_t warnlen);
/* True when XID |xid| marks a GPU unhealthy. */
bool policy_xid_critical(const struct health_policy *p, uint64_t xid);
/* True when no XID can be critical (no event monitor is needed). */
bool policy_all_off(const struct health_policy *p);
enum xid_class xid_class_of(uint64_t xid);
/* A short description of |xid| from the catalogue, or "". */
const char *xid_description(uint64_t xid);
const char *xid_class_name(enum xid_class c);

#endif /* GDP_HEALTH_POLICY_H */
