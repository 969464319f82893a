/*
 * caps.c: every capability dropped, and no_new_privs (see sandbox.h).
 *
 * Straight system calls (prctl, capset), no library: the kernel's
 * interface for emptying the sets is four calls. The order matters:
 * the bounding set can only shrink while CAP_SETPCAP is still effective,
 * so it goes before the permitted and effective sets. Ambient first, as
 * the kernel would drop it anyway once permitted is empty.
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Empties the bounding set; *no_setpcap tells that some could not go. */
static int
drop_bounding(int *no_setpcap, char *err, size_t errlen)
{
	*no_setpcap = 0;
	/* Up to the first number the kernel does not know (EINVAL). */
	for (unsigned long cap = 0;; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (in < 0 && errno == EINVAL)
			return 0;
		if (in < 0) {
			snprintf(err, errlen, "reading capability %lu of the "
			    "bounding set: %s", cap, strerror(errno));
			return -errno;
		}
		if (in == 0 || prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno != EPERM) {
			snprintf(err, errlen, "dropping capability %lu from "
			    "the bounding set: %s", cap, strerror(errno));
			return -errno;
		}
		*no_setpcap = 1;
	}
}

/* capget or capset (|op|) on this process's three sets, in |data|. */
static int
cap_sets(long op, struct __user_cap_data_struct *data)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};

	return (int)syscall(op, &hdr, data);
}

/*
 * Empties the effective, permitted and inheritable sets. Nothing to do
 * when they are empty already, as under a systemd unit with an empty
 * CapabilityBoundingSet=, whose SystemCallFilter=~@privileged may refuse
 * capset itself.
 */
static int
drop_sets(char *err, size_t errlen)
{
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	bool empty = true;

	memset(data, 0, sizeof(data));
	if (cap_sets(SYS_capget, data) == 0) {
		for (size_t i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
			if (data[i].effective | data[i].permitted |
			    data[i].inheritable)
				empty = false;
		if (empty)
			return 0;
	}
	memset(data, 0, sizeof(data));
	if (cap_sets(SYS_capset, data) == 0)
		return 0;
	snprintf(err, errlen, "capset (emptying the effective, permitted and "
	    "inheritable sets): %s", strerror(errno));
	return -errno;
}

int
sandbox_drop_privileges(char *note, size_t notelen, char *err,
    size_t errlen)
{
	int no_setpcap, rc;

	note[0] = '\0';
	/* EINVAL: a kernel before 4.3, which has no ambient set. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL) {
		snprintf(err, errlen, "clearing the ambient capabilities: %s",
		    strerror(errno));
		return -errno;
	}
	rc = drop_bounding(&no_setpcap, err, errlen);
	if (rc < 0)
		return rc;
	rc = drop_sets(err, errlen);
	if (rc < 0)
		return rc;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "setting no_new_privs: %s",
		    strerror(errno));
		return -errno;
	}
	if (no_setpcap)
		snprintf(note, notelen, "The capability bounding set is left "
		    "as it was: the process was started without CAP_SETPCAP, "
		    "which emptying it needs (no_new_privs keeps an exec from "
		    "gaining any of it)");
	return 0;
}
