/*
 * seccomp.c: the system-call allowlist (see sandbox.h), with libseccomp.
 *
 * Default deny: a call not named here kills the whole process with SIGSYS
 * (--seccomp=enforce), or runs and is logged by the kernel (log). The
 * list is what `strace -f` shows the daemon making over the plugin, nospin
 * and fault tests (docs/security.md says how to redo that), plus what the
 * real NVIDIA library does on a GPU node: ioctl on /dev/nvidia*, mmap of
 * them, reads of /proc and /sys, an AF_UNIX connection to
 * nvidia-persistenced. Each group says who needs it.
 *
 * Some calls are answered with an errno instead, so that a library
 * probing for something sees an ordinary failure rather than a dead
 * daemon: sockets other than AF_UNIX (EAFNOSUPPORT), new processes
 * (EPERM), mknod (EPERM, as without CAP_MKNOD), clone3 (ENOSYS, so glibc
 * uses clone, whose flags a filter can see and check: threads only, no
 * new namespaces). Never allowed: execve and execveat, ptrace, mount,
 * unshare and setns, bpf, keyctl, module and kexec loading, the setuid
 * family, and every other call not named below.
 *
 * Sanitizer builds need more, at exit (LeakSanitizer stops the world
 * with a ptrace-ing helper task) and for reports: those calls are added
 * only when the build is sanitized (meson's b_sanitize, or the
 * compiler's own marker), never in a release build.
 *
 * Every thread gets the filter at once (TSYNC): the health thread and any
 * thread NVML started during set-up. Calls of another ABI (x32, i386)
 * kill, whatever the mode.
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(GDP_SANITIZER_SYSCALLS) || defined(__SANITIZE_ADDRESS__) || \
    defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif

/* Allowed with any arguments. Names a machine does not have (open on
 * aarch64, say) are skipped. */
static const char *const allowed[] = {
	/* memory: malloc, dlopen, thread stacks, NVML's mappings */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	/* threads: pthreads, the health thread, NVML's own */
	"futex", "set_robust_list", "rseq", "set_tid_address", "gettid",
	"getpid", "sched_yield", "sched_getaffinity", "exit", "exit_group",
	"restart_syscall",
	/* time: the loop's clock, the log's timestamps, NVML's waits */
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	"nanosleep", "clock_nanosleep",
	/* signals: the loop's signalfd, pthreads, abort() */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"signalfd", "signalfd4",
	/* the loop: epoll, timerfd, eventfd, inotify on the kubelet's dir */
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "timerfd_create", "timerfd_settime",
	"timerfd_gettime", "eventfd", "eventfd2", "inotify_init",
	"inotify_init1", "inotify_add_watch", "inotify_rm_watch",
	"poll", "ppoll", "select", "pselect6",
	/* files: the log, sysfs, /proc, dlopen, NVML's /dev/nvidia*, the
	 * socket files (made owner-only; what a crash left at the path
	 * removed, an empty directory with rmdir) */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "open",
	"openat", "close", "lseek", "fstat", "stat", "lstat", "newfstatat",
	"statx", "access", "faccessat", "faccessat2", "readlink",
	"readlinkat", "getdents64", "getcwd", "fcntl", "flock", "dup",
	"dup2", "dup3", "pipe", "pipe2", "unlink", "unlinkat", "rmdir",
	"umask",
	"chmod", "fchmod", "fchmodat",
	/* the CDI spec files, rewritten at rediscovery and when a control
	 * node comes or goes (src/cdi): a temporary file, fsync, rename
	 * over the old one; the spec folder made if it went missing */
	"rename", "renameat", "renameat2", "fsync", "fdatasync", "mkdir",
	"mkdirat",
	/* NVML: the driver's whole interface is ioctl on /dev/nvidia* */
	"ioctl",
	/* sockets (which kind socket() may make is checked below) */
	"bind", "listen", "accept", "accept4", "connect", "sendto",
	"recvfrom", "sendmsg", "recvmsg", "shutdown", "getsockopt",
	"setsockopt", "getsockname", "getpeername",
	/* what glibc and NVML ask of the system */
	"uname", "sysinfo", "getrandom", "prlimit64", "getrlimit",
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
	"getppid", "getrusage", "times", "getcpu",
	/* prctl: with no capability and no_new_privs, nothing it can change
	 * gives anything back (thread names, the dumpable flag) */
	"prctl",
};

#ifdef SANITIZED
/* LeakSanitizer's stop-the-world at exit: a helper task (a clone
 * without CLONE_THREAD, NEW_PROCESS below) lists the threads in
 * /proc/self/task with the old getdents, ptrace-attaches to each, and
 * is waited for (what the kernel logged with --seccomp=log in the ASan
 * build). A report spawns llvm-symbolizer the same way; its exec is
 * still refused, so the report shows addresses instead of names. */
static const char *const sanitizer_allowed[] = {
	"getdents", "ptrace", "wait4",
};
#endif

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The namespace flags a thread's clone never needs. (CLONE_NEWTIME's bit
 * is the exit signal's in clone, so it cannot be checked here.) */
#define CLONE_NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | \
    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)

#ifdef SANITIZED
#define NEW_PROCESS SCMP_ACT_ALLOW	/* LeakSanitizer's helper task */
#else
#define NEW_PROCESS SCMP_ACT_ERRNO(EPERM)
#endif

/* A rule with at most one argument check; rules for one call adjoin. */
struct rule {
	const char *name;
	uint32_t action;
	unsigned int nargs;
	struct scmp_arg_cmp arg;
};

static const struct rule rules[] = {
	/* socket, socketpair: AF_UNIX (the plugin's socket, the kubelet's,
	 * nvidia-persistenced's); another family is EAFNOSUPPORT */
	{ "socket", SCMP_ACT_ALLOW, 1, { 0, SCMP_CMP_EQ, AF_UNIX, 0 } },
	{ "socket", SCMP_ACT_ERRNO(EAFNOSUPPORT), 1,
	  { 0, SCMP_CMP_NE, AF_UNIX, 0 } },
	{ "socketpair", SCMP_ACT_ALLOW, 1, { 0, SCMP_CMP_EQ, AF_UNIX, 0 } },
	{ "socketpair", SCMP_ACT_ERRNO(EAFNOSUPPORT), 1,
	  { 0, SCMP_CMP_NE, AF_UNIX, 0 } },
	/* clone: a thread into no new namespace (pthread_create); a new
	 * process (fork, posix_spawn) is EPERM; namespaces kill. clone3 is
	 * ENOSYS, which makes glibc use clone, whose flags are in a
	 * register where the filter can see them. */
	{ "clone", SCMP_ACT_ALLOW, 1, { 0, SCMP_CMP_MASKED_EQ,
	  CLONE_THREAD | CLONE_NS_FLAGS, CLONE_THREAD } },
	{ "clone", NEW_PROCESS, 1, { 0, SCMP_CMP_MASKED_EQ,
	  CLONE_THREAD | CLONE_NS_FLAGS, 0 } },
	{ "clone3", SCMP_ACT_ERRNO(ENOSYS), 0, { 0 } },
	{ "fork", SCMP_ACT_ERRNO(EPERM), 0, { 0 } },
	{ "vfork", SCMP_ACT_ERRNO(EPERM), 0, { 0 } },
	/* mknod: EPERM, as without CAP_MKNOD (NVML's helpers try it when a
	 * /dev/nvidia* node is missing) */
	{ "mknod", SCMP_ACT_ERRNO(EPERM), 0, { 0 } },
	{ "mknodat", SCMP_ACT_ERRNO(EPERM), 0, { 0 } },
};

/* Adds |action| for |name| (with |nargs| checks of |arg|): 1 if added, 0
 * if this machine has no such call, or -errno. */
static int
add(scmp_filter_ctx ctx, const char *name, uint32_t action,
    unsigned int nargs, const struct scmp_arg_cmp *arg, char *err,
    size_t errlen)
{
	int nr = seccomp_syscall_resolve_name(name), rc;

	if (nr == __NR_SCMP_ERROR) {
		snprintf(err, errlen, "seccomp: no system call is named %s",
		    name);
		return -EINVAL;
	}
	if (nr < 0)
		return 0;
	rc = seccomp_rule_add_array(ctx, action, nr, nargs, arg);
	if (rc < 0) {
		snprintf(err, errlen, "seccomp: a rule for %s: %s", name,
		    strerror(-rc));
		return rc;
	}
	return 1;
}

/* Every name of |names| allowed; how many this machine has, or -errno. */
static int
add_allowed(scmp_filter_ctx ctx, const char *const *names, size_t n,
    char *err, size_t errlen)
{
	int total = 0;

	for (size_t i = 0; i < n; i++) {
		int rc = add(ctx, names[i], SCMP_ACT_ALLOW, 0, NULL, err,
		    errlen);

		if (rc < 0)
			return rc;
		total += rc;
	}
	return total;
}

/* The rules with argument checks; the calls they name, or -errno. */
static int
add_checked(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	int total = 0;

	for (size_t i = 0; i < COUNT(rules); i++) {
		const struct rule *r = &rules[i];
		int rc = add(ctx, r->name, r->action, r->nargs, &r->arg, err,
		    errlen);

		if (rc < 0)
			return rc;
		if (i == 0 || strcmp(rules[i - 1].name, r->name) != 0)
			total += rc;
	}
	return total;
}

/* kill, tgkill: to this process only (raise, abort, pthread_kill). */
static int
add_self_signals(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	struct scmp_arg_cmp self = { 0, SCMP_CMP_EQ, (scmp_datum_t)getpid(),
	    0 };
	int rc = add(ctx, "kill", SCMP_ACT_ALLOW, 1, &self, err, errlen);

	if (rc < 0)
		return rc;
	rc = add(ctx, "tgkill", SCMP_ACT_ALLOW, 1, &self, err, errlen);
	return rc < 0 ? rc : 2;
}

/* All the rules; the number of calls they name, or -errno. */
static int
add_rules(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	int total, rc;

	total = add_allowed(ctx, allowed, COUNT(allowed), err, errlen);
	if (total < 0)
		return total;
#ifdef SANITIZED
	rc = add_allowed(ctx, sanitizer_allowed, COUNT(sanitizer_allowed),
	    err, errlen);
	if (rc < 0)
		return rc;
	total += rc;
#endif
	rc = add_checked(ctx, err, errlen);
	if (rc < 0)
		return rc;
	total += rc;
	rc = add_self_signals(ctx, err, errlen);
	return rc < 0 ? rc : total + rc;
}

/* Builds the filter in |ctx| and loads it; the calls named, or -errno. */
static int
build_and_load(scmp_filter_ctx ctx, char *err, size_t errlen)
{
	int named, rc;

	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc < 0) {
		snprintf(err, errlen, "seccomp: all threads at once (TSYNC): "
		    "%s", strerror(-rc));
		return rc;
	}
	/* Another ABI: the whole process, not just the thread (libseccomp's
	 * default), so that nothing lives on half-killed. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS);
	if (rc < 0) {
		snprintf(err, errlen, "seccomp: the action for another ABI: %s",
		    strerror(-rc));
		return rc;
	}
	named = add_rules(ctx, err, errlen);
	if (named < 0)
		return named;
	rc = seccomp_load(ctx);
	if (rc < 0) {
		snprintf(err, errlen, "seccomp: loading the filter: %s",
		    strerror(-rc));
		return rc;
	}
	return named;
}

int
sandbox_install_filter(enum sandbox_filter mode, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc;

	if (mode == SANDBOX_FILTER_OFF)
		return 0;
	/* 3: the kernel and library know kill-process and log (Linux 4.14). */
	if (seccomp_api_get() < 3) {
		snprintf(err, errlen, "seccomp: this kernel cannot kill a "
		    "whole process or log a call (Linux 4.14 and later can)");
		return -ENOSYS;
	}
	ctx = seccomp_init(mode == SANDBOX_FILTER_LOG ? SCMP_ACT_LOG :
	    SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		snprintf(err, errlen, "seccomp: out of memory");
		return -ENOMEM;
	}
	rc = build_and_load(ctx, err, errlen);
	seccomp_release(ctx);
	return rc;
}
