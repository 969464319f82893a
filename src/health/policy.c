/*
 * policy.c: the XID policy and the XID table (see policy.h).
 */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/alloc.h"

static const unsigned default_ignored[] = { 13, 31, 43, 45, 68, 109 };

/* NVIDIA's catalogue: XIDs whose recommended action is a GPU reset or a
 * node reboot (docs/health.md lists the sources). */
static const struct {
	unsigned xid;
	enum xid_class cls;
	const char *what;
} table[] = {
	{ 8, XID_CLASS_TRANSIENT, "GPU stopped processing" },
	{ 13, XID_CLASS_TRANSIENT, "graphics engine exception" },
	{ 31, XID_CLASS_TRANSIENT, "GPU memory page fault" },
	{ 32, XID_CLASS_TRANSIENT, "invalid or corrupted push buffer stream" },
	{ 38, XID_CLASS_TRANSIENT, "driver firmware error" },
	{ 43, XID_CLASS_TRANSIENT, "GPU stopped processing" },
	{ 45, XID_CLASS_TRANSIENT, "preemptive cleanup" },
	{ 48, XID_CLASS_RESET, "double bit ECC error" },
	{ 56, XID_CLASS_TRANSIENT, "display engine error" },
	{ 57, XID_CLASS_TRANSIENT, "error programming video memory interface" },
	{ 61, XID_CLASS_RESET, "internal micro-controller breakpoint" },
	{ 62, XID_CLASS_RESET, "internal micro-controller halt" },
	{ 63, XID_CLASS_RESET, "ECC page retirement or row remapping "
	  "recorded" },
	{ 64, XID_CLASS_RESET, "ECC page retirement or row remapping failed" },
	{ 68, XID_CLASS_TRANSIENT, "video processor exception" },
	{ 69, XID_CLASS_TRANSIENT, "graphics engine class error" },
	{ 74, XID_CLASS_RESET, "NVLink error" },
	{ 79, XID_CLASS_RESET, "GPU has fallen off the bus" },
	{ 92, XID_CLASS_RESET, "high single-bit ECC error rate" },
	{ 94, XID_CLASS_TRANSIENT, "contained ECC error" },
	{ 95, XID_CLASS_RESET, "uncontained ECC error" },
	{ 109, XID_CLASS_TRANSIENT, "context switch timeout" },
	{ 119, XID_CLASS_RESET, "GSP RPC timeout" },
	{ 120, XID_CLASS_RESET, "GSP error" },
	{ 121, XID_CLASS_TRANSIENT, "C2C link corrected error" },
	{ 123, XID_CLASS_RESET, "SPI PMU RPC failure" },
	{ 140, XID_CLASS_RESET, "unrecovered ECC error" },
	{ 154, XID_CLASS_RESET, "GPU recovery action changed (reset or "
	  "reboot required)" },
};

#define NTABLE (sizeof(table) / sizeof(table[0]))

static void
set_bit(uint8_t *bits, unsigned xid)
{
	bits[xid / 8] |= (uint8_t)(1u << (xid % 8));
}

static bool
has_bit(const uint8_t *bits, uint64_t xid)
{
	return xid < POLICY_MAX_XID && (bits[xid / 8] & (1u << (xid % 8)));
}

/* Parses "a,b,c" into |bits|; "all" (and "xids" if |xids_is_all|) set
 * |*all|. Bad entries are appended to |warn|. */
static void
parse_list(const char *value, const char *var, uint8_t *bits, bool *all,
    bool xids_is_all, char *warn, size_t warnlen)
{
	char *copy, *save = NULL;

	if (value == NULL || (copy = gdp_strdup(value)) == NULL)
		return;
	for (char *tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long xid;

		while (isspace((unsigned char)*tok))
			tok++;
		end = tok + strlen(tok);
		while (end > tok && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*tok == '\0')
			continue;
		if (!strcasecmp(tok, "all") || (xids_is_all &&
		    !strcasecmp(tok, "xids"))) {
			*all = true;
			break; /* NVIDIA ignores what follows "all" */
		}
		errno = 0;
		xid = strtoul(tok, &end, 10);
		if (errno != 0 || *end != '\0' || xid >= POLICY_MAX_XID) {
			size_t used = strlen(warn);

			snprintf(warn + used, warnlen - used,
			    "%s%s: \"%s\" is not an XID, ignored",
			    used ? "; " : "", var, tok);
			continue;
		}
		set_bit(bits, (unsigned)xid);
	}
	gdp_free(copy);
}

void
policy_init(struct health_policy *p, const char *disable,
    const char *enable, char *warn, size_t warnlen)
{
	memset(p, 0, sizeof(*p));
	if (warnlen > 0)
		warn[0] = '\0';
	for (size_t i = 0; i < sizeof(default_ignored) /
	    sizeof(default_ignored[0]); i++)
		set_bit(p->ignored, default_ignored[i]);
	parse_list(disable, "DP_DISABLE_HEALTHCHECKS", p->ignored,
	    &p->all_disabled, true, warn, warnlen);
	parse_list(enable, "DP_ENABLE_HEALTHCHECKS", p->enabled,
	    &p->all_enabled, false, warn, warnlen);
}

bool
policy_xid_critical(const struct health_policy *p, uint64_t xid)
{
	if (p->all_enabled || has_bit(p->enabled, xid))
		return true;
	if (p->all_disabled)
		return false;
	return !has_bit(p->ignored, xid);
}

bool
policy_all_off(const struct health_policy *p)
{
	if (!p->all_disabled || p->all_enabled)
		return false;
	for (size_t i = 0; i < sizeof(p->enabled); i++)
		if (p->enabled[i] != 0)
			return false;
	return true;
}

enum xid_class
xid_class_of(uint64_t xid)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (table[i].xid == xid)
			return table[i].cls;
	return XID_CLASS_TRANSIENT;
}

const char *
xid_description(uint64_t xid)
{
	for (size_t i = 0; i < NTABLE; i++)
		if (table[i].xid == xid)
			return table[i].what;
	return "";
}

const char *
xid_class_name(enum xid_class c)
{
	return c == XID_CLASS_RESET ? "needs a GPU reset" : "transient";
}
