/*
 * sandbox.h: least privilege at run time (docs/security.md).
 *
 * Two steps, because capabilities belong to each thread while a seccomp
 * filter can be given to all of them at once:
 *
 *  1. sandbox_drop_privileges(), first thing, before any thread exists:
 *     every capability out of all five sets, and no_new_privs. Threads
 *     started later (ours, and those NVML starts) inherit the empty sets.
 *     A device plugin needs no capability: its socket directory and the
 *     /dev/nvidia* nodes belong to root, which it runs as.
 *  2. sandbox_install_filter(), once set-up is done (NVML loaded, the
 *     first socket served, the health thread running): a default-deny
 *     allowlist of the system calls the daemon and the NVML library make,
 *     on every thread of the process.
 */
#ifndef GDP_SANDBOX_SANDBOX_H
#define GDP_SANDBOX_SANDBOX_H

#include <stddef.h>

/* What a call off the allowlist meets. */
enum sandbox_filter {
	SANDBOX_FILTER_ENFORCE,  /* the process is killed with SIGSYS */
	SANDBOX_FILTER_LOG,      /* the call runs; the kernel logs it */
	SANDBOX_FILTER_OFF,      /* no filter at all */
};

/*
 * Empties the calling thread's ambient, bounding, inheritable, permitted
 * and effective capability sets, then sets no_new_privs. Call it while
 * the process has one thread. When the bounding set cannot be emptied
 * because the process was started without CAP_SETPCAP (not as root, say),
 * that is no error: the other sets are emptied, no_new_privs keeps an
 * exec from gaining anything, and |note| (always NUL-terminated; "" when
 * there is nothing to say) says so. Returns 0, or -errno with |err|
 * naming the step that failed.
 */
int sandbox_drop_privileges(char *note, size_t notelen, char *err,
    size_t errlen);

/*
 * Installs the allowlist on every thread (SANDBOX_FILTER_OFF: does
 * nothing). Needs no_new_privs (step 1) or CAP_SYS_ADMIN. Returns the
 * number of system calls the filter names (allowed, or refused with an
 * errno rather than by death), or -errno with |err| saying what failed.
 */
int sandbox_install_filter(enum sandbox_filter mode, char *err,
    size_t errlen);

#endif /* GDP_SANDBOX_SANDBOX_H */
