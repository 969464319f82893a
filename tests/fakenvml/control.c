/*
 * control.c: the control channel, a FIFO through which tests and people
 * drive the fake while a program is using it, and the program notices
 * the way it would notice real hardware: an XID or ECC event through its
 * event set, a GPU that falls off the bus and comes back after a reset, a
 * driver whose event wait starts failing.
 *
 * FAKE_NVML_CONTROL names the FIFO; without it there is no channel. The
 * first init of a cycle makes the FIFO (mode 0600) if it is missing and
 * opens it O_RDWR | O_NONBLOCK: holding a write end ourselves, a writer
 * closing never gives us EOF, so each `echo ... > FIFO` is just more
 * bytes. A thread polls the FIFO and an eventfd; the last shutdown writes
 * the eventfd and joins the thread. The FIFO is left in place, so a shell
 * that knows its name can write again after the program re-initialises.
 *
 * One command per line, words split by blanks; a line may arrive in
 * pieces, and one write may carry several lines:
 *
 *	xid UUID XID [GI CI]	an XID event, optionally MIG-scoped; a
 *				MIG device's UUID stands for its GPU
 *				and its GI and CI ids
 *	ecc UUID single|double	a single- or double-bit ECC event
 *	lost UUID		every query of the GPU answers GPU_IS_LOST
 *	reset UUID		it answers normally again
 *	wait-error NVML_ERROR_X	every nvmlEventSetWait fails with that code
 *	wait-hang		every nvmlEventSetWait blocks (a stuck driver)
 *	wait-ok			until this (either)
 *	mig-layout PROFILE	every GPU takes the MIG mode and MIG
 *				devices PROFILE gives it (a profile of
 *				the same GPUs, by UUID, in the same
 *				order); each GPU whose layout changed
 *				sends nvmlEventTypeMigConfigChange; a
 *				new cycle of the same profile keeps it
 *	syscall NAME		make a system call a device plugin never needs
 *				(unshare, execve, socket-inet): how the
 *				plugin's tests show that its seccomp filter
 *				holds for code inside the NVML library too
 *
 * Empty lines and lines starting with '#' are skipped. A bad line gets a
 * one-line message on stderr and is otherwise ignored: a typo must not
 * take the program under test down with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fakenvml.h"

#define CONTROL_LINE_SIZE 512	/* the longest command, with its NUL */
#define CONTROL_MAX_WORDS 8	/* enough to see that there are too many */

/* The channel. Init and shutdown (under lib.c's lock) own the fds and the
 * thread; the thread alone owns the line being assembled. */
struct control {
	int fifo;			/* -1: no channel */
	int wake;			/* eventfd: "stop" */
	pthread_t thread;
	char line[CONTROL_LINE_SIZE];
	size_t len;
	int skipping;			/* the rest of an over-long line */
};

static struct control ctl = { .fifo = -1, .wake = -1 };

struct command {
	const char *name;
	int min_args;
	int max_args;
	const char *usage;
	void (*run)(int argc, char **argv);	/* argv[0]: the name */
};

static void complain(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Prints "fakenvml: control: MESSAGE" as one line. */
static void
complain(const char *fmt, ...)
{
	char msg[CONTROL_LINE_SIZE + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fakenvml: control: %s\n", msg);
}

/* Reads an unsigned number (decimal, or hex with 0x) of at most |max|. */
static int
parse_number(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, strncmp(s, "0x", 2) == 0 ? 16 : 10);
	if (errno != 0 || *end != '\0' || *v > max)
		return -EINVAL;
	return 0;
}

/* The GPU whose UUID is |uuid|, or NULL after saying so. */
static nvmlDevice_t
find_gpu(const char *uuid)
{
	nvmlDevice_t dev = fake_device_by_uuid(uuid);

	if (dev == NULL)
		complain("no GPU with UUID \"%s\"", uuid);
	return dev;
}

/* Reads a GPU or compute instance id; 0xFFFFFFFF means "none". */
static int
parse_instance(const char *what, const char *s, unsigned int *id)
{
	unsigned long long v;

	if (parse_number(s, UINT_MAX, &v) != 0) {
		complain("xid: bad %s \"%s\"", what, s);
		return -EINVAL;
	}
	*id = (unsigned int)v;
	return 0;
}

static void
cmd_xid(int argc, char **argv)
{
	unsigned int gi = FAKE_NO_INSTANCE, ci = FAKE_NO_INSTANCE;
	unsigned long long xid;
	nvmlDevice_t dev;

	if (argc == 4) {
		complain("usage: xid UUID XID [GI CI]");
		return;
	}
	if (strncmp(argv[1], "MIG-", 4) == 0) {
		nvmlDevice_t mig;

		if (argc == 5) {
			complain("xid: a MIG UUID has its own GI and CI");
			return;
		}
		if (fake_mig_by_uuid(argv[1], &mig, &dev, &gi, &ci) != 0) {
			complain("no MIG device with UUID \"%s\"", argv[1]);
			return;
		}
	} else if ((dev = find_gpu(argv[1])) == NULL) {
		return;
	}
	if (parse_number(argv[2], ULLONG_MAX, &xid) != 0) {
		complain("xid: bad XID \"%s\"", argv[2]);
		return;
	}
	if (argc == 5) {
		if (parse_instance("GPU instance id", argv[3], &gi) != 0 ||
		    parse_instance("compute instance id", argv[4], &ci) != 0)
			return;
	}
	fake_event_post(dev, nvmlEventTypeXidCriticalError, xid, gi, ci);
}

static void
cmd_ecc(int argc, char **argv)
{
	unsigned long long type;
	nvmlDevice_t dev;

	if (strcmp(argv[2], "single") == 0) {
		type = nvmlEventTypeSingleBitEccError;
	} else if (strcmp(argv[2], "double") == 0) {
		type = nvmlEventTypeDoubleBitEccError;
	} else {
		complain("ecc: \"%s\" is not single or double", argv[2]);
		return;
	}
	dev = find_gpu(argv[1]);
	if (dev != NULL)
		fake_event_post(dev, type, 0, FAKE_NO_INSTANCE,
		    FAKE_NO_INSTANCE);
}

/* Sets a GPU's lost flag; a waiter on a set that has it looks again. */
static void
set_lost(const char *uuid, bool lost)
{
	nvmlDevice_t dev = find_gpu(uuid);

	if (dev == NULL)
		return;
	atomic_store(&dev->lost, lost);
	fake_events_wake();
}

static void
cmd_lost(int argc, char **argv)
{
	set_lost(argv[1], true);
}

static void
cmd_reset(int argc, char **argv)
{
	set_lost(argv[1], false);
}

static void
cmd_wait_error(int argc, char **argv)
{
	nvmlReturn_t rc;

	if (fake_error_by_name(argv[1], &rc) != 0 || rc == NVML_SUCCESS) {
		complain("wait-error: \"%s\" is not an NVML error name like "
		    "NVML_ERROR_UNKNOWN", argv[1]);
		return;
	}
	fake_events_set_wait_error(rc);
}

static void
cmd_wait_hang(int argc, char **argv)
{
	fake_events_set_hang(1);
}

static void
cmd_wait_ok(int argc, char **argv)
{
	fake_events_set_wait_error(NVML_SUCCESS);
	fake_events_set_hang(0);
}

/* The calls "syscall NAME" makes: each is harmless when it is allowed
 * (unshare(0) changes nothing, the program does not exist, the socket is
 * closed again), so a program without a filter just carries on. */
static long
call_unshare(void)
{
	return syscall(SYS_unshare, 0);
}

static long
call_execve(void)
{
	char *const argv[] = { "/nonexistent-fakenvml/exec", NULL };
	char *const envp[] = { NULL };

	return execve(argv[0], argv, envp);
}

static long
call_socket_inet(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
	return fd < 0 ? -1 : 0;
}

static void
cmd_syscall(int argc, char **argv)
{
	static const struct {
		const char *name;
		long (*call)(void);
	} calls[] = {
		{ "unshare", call_unshare },
		{ "execve", call_execve },
		{ "socket-inet", call_socket_inet },
	};
	size_t i;
	long rc;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (strcmp(calls[i].name, argv[1]) != 0)
			continue;
		errno = 0;
		rc = calls[i].call();
		if (rc < 0)
			complain("syscall %s: failed: %s", argv[1],
			    strerror(errno));
		else
			complain("syscall %s: returned %ld", argv[1], rc);
		return;
	}
	complain("syscall: \"%s\" is not unshare, execve or socket-inet",
	    argv[1]);
}

/* Whether |m| has the loaded machine's GPUs, by UUID and order. */
static bool
same_gpus(const struct fake_machine *m, const char *path)
{
	if (m->gpu_count != fake_machine.gpu_count) {
		complain("mig-layout: %s has %u GPUs, not %u", path,
		    m->gpu_count, fake_machine.gpu_count);
		return false;
	}
	for (unsigned int i = 0; i < m->gpu_count; i++)
		if (strcmp(m->gpus[i].uuid, fake_machine.gpus[i].uuid) != 0) {
			complain("mig-layout: %s: GPU %u is %s, not %s", path,
			    i, m->gpus[i].uuid, fake_machine.gpus[i].uuid);
			return false;
		}
	return true;
}

/*
 * The last mig-layout and the profile it was given over: a later cycle
 * (full shutdown, init again) of the same profile keeps the layout, as a
 * real GPU keeps its MIG instances; another profile forgets it.
 */
static pthread_mutex_t relayout_lock = PTHREAD_MUTEX_INITIALIZER;
static char relayout_path[PATH_MAX];
static char relayout_base[PATH_MAX];

/* Applies the MIG layouts of |path| to the loaded machine; 0 or -EINVAL
 * (said). */
static int
apply_layout(const char *path)
{
	struct fake_machine *m = calloc(1, sizeof(*m));
	int rc = -EINVAL;

	if (m == NULL) {
		complain("mig-layout: out of memory");
		return -ENOMEM;
	}
	if (fake_profile_load(path, m) == 0 && same_gpus(m, path)) {
		rc = 0;
		for (unsigned int i = 0; i < m->gpu_count && rc == 0; i++)
			rc = fake_mig_relayout(i, m->gpus[i].mig,
			    &m->gpus[i].mig_layout, path);
	}
	free(m);
	return rc;
}

static void
cmd_mig_layout(int argc, char **argv)
{
	const char *base = getenv("FAKE_NVML_PROFILE");

	if (apply_layout(argv[1]) != 0 || base == NULL ||
	    strlen(argv[1]) >= sizeof(relayout_path) ||
	    strlen(base) >= sizeof(relayout_base))
		return;
	pthread_mutex_lock(&relayout_lock);
	snprintf(relayout_path, sizeof(relayout_path), "%s", argv[1]);
	snprintf(relayout_base, sizeof(relayout_base), "%s", base);
	pthread_mutex_unlock(&relayout_lock);
}

void
fake_control_reapply(void)
{
	const char *base = getenv("FAKE_NVML_PROFILE");
	char path[PATH_MAX] = "";

	pthread_mutex_lock(&relayout_lock);
	if (base != NULL && strcmp(base, relayout_base) == 0)
		snprintf(path, sizeof(path), "%s", relayout_path);
	else
		relayout_path[0] = relayout_base[0] = '\0';
	pthread_mutex_unlock(&relayout_lock);
	if (path[0] != '\0')
		(void)apply_layout(path);
}

static const struct command commands[] = {
	{ "xid", 2, 4, "xid UUID XID [GI CI]", cmd_xid },
	{ "ecc", 2, 2, "ecc UUID single|double", cmd_ecc },
	{ "lost", 1, 1, "lost UUID", cmd_lost },
	{ "reset", 1, 1, "reset UUID", cmd_reset },
	{ "wait-error", 1, 1, "wait-error NVML_ERROR_NAME", cmd_wait_error },
	{ "wait-hang", 0, 0, "wait-hang", cmd_wait_hang },
	{ "wait-ok", 0, 0, "wait-ok", cmd_wait_ok },
	{ "mig-layout", 1, 1, "mig-layout PROFILE", cmd_mig_layout },
	{ "syscall", 1, 1, "syscall unshare|execve|socket-inet", cmd_syscall },
};

/* Splits |line| into words and runs the command they make. */
static void
run_line(char *line)
{
	char *argv[CONTROL_MAX_WORDS], *save = NULL, *w;
	int argc = 0;
	size_t i;

	for (w = strtok_r(line, " \t\r", &save);
	    w != NULL && argc < CONTROL_MAX_WORDS;
	    w = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = w;
	if (argc == 0 || argv[0][0] == '#')
		return;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];

		if (strcmp(c->name, argv[0]) != 0)
			continue;
		if (argc - 1 < c->min_args || argc - 1 > c->max_args)
			complain("usage: %s", c->usage);
		else
			c->run(argc, argv);
		return;
	}
	complain("unknown command \"%s\"", argv[0]);
}

/* Adds bytes from the FIFO to the line, running each line completed. */
static void
feed(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			ctl.line[ctl.len] = '\0';
			if (!ctl.skipping)
				run_line(ctl.line);
			ctl.len = 0;
			ctl.skipping = 0;
		} else if (ctl.skipping) {
			continue;
		} else if (ctl.len == sizeof(ctl.line) - 1) {
			complain("line longer than %zu bytes ignored",
			    sizeof(ctl.line) - 1);
			ctl.skipping = 1;
		} else {
			ctl.line[ctl.len++] = buf[i];
		}
	}
}

/* Reads all that is in the FIFO; 0, or -1 when it cannot be read. */
static int
drain(void)
{
	char buf[PIPE_BUF];
	ssize_t n;

	for (;;) {
		n = read(ctl.fifo, buf, sizeof(buf));
		if (n > 0)
			feed(buf, (size_t)n);
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n == 0 || errno == EAGAIN)	/* 0: cannot happen */
			return 0;
		else
			break;
	}
	complain("read: %s; the channel is closed", strerror(errno));
	return -1;
}

/* The thread: commands from the FIFO until the eventfd says stop. */
static void *
control_main(void *arg)
{
	struct pollfd fds[2] = {
		{ .fd = ctl.fifo, .events = POLLIN },
		{ .fd = ctl.wake, .events = POLLIN },
	};

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			complain("poll: %s; the channel is closed",
			    strerror(errno));
			break;
		}
		if (fds[1].revents != 0)
			break;
		if (fds[0].revents & ~POLLIN) {
			complain("the FIFO failed; the channel is closed");
			break;
		}
		if ((fds[0].revents & POLLIN) && drain() != 0)
			break;
	}
	return NULL;
}

/* Prints why the channel cannot start; NVML_ERROR_UNKNOWN for init. */
static nvmlReturn_t
start_failed(const char *path, const char *why)
{
	fprintf(stderr, "fakenvml: FAKE_NVML_CONTROL %s: %s\n", path, why);
	if (ctl.fifo >= 0)
		close(ctl.fifo);
	if (ctl.wake >= 0)
		close(ctl.wake);
	ctl.fifo = -1;
	ctl.wake = -1;
	return NVML_ERROR_UNKNOWN;
}

/* Makes |path| a FIFO if nothing is there, and opens it. */
static nvmlReturn_t
open_fifo(const char *path)
{
	struct stat st;

	if (mkfifo(path, 0600) != 0 && errno != EEXIST)
		return start_failed(path, strerror(errno));
	ctl.fifo = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (ctl.fifo < 0)
		return start_failed(path, strerror(errno));
	if (fstat(ctl.fifo, &st) != 0)
		return start_failed(path, strerror(errno));
	if (!S_ISFIFO(st.st_mode))
		return start_failed(path, "exists and is not a FIFO");
	return NVML_SUCCESS;
}

/* Starts the thread with the asynchronous signals blocked, so that they
 * go to the program's own threads. */
static int
start_thread(void)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&ctl.thread, NULL, control_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

nvmlReturn_t
fake_control_start(void)
{
	const char *path = getenv("FAKE_NVML_CONTROL");
	nvmlReturn_t rc;
	int err;

	if (path == NULL || path[0] == '\0')
		return NVML_SUCCESS;
	rc = open_fifo(path);
	if (rc != NVML_SUCCESS)
		return rc;
	ctl.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctl.wake < 0)
		return start_failed(path, strerror(errno));
	ctl.len = 0;
	ctl.skipping = 0;
	err = start_thread();
	if (err != 0)
		return start_failed(path, strerror(err));
	return NVML_SUCCESS;
}

void
fake_control_stop(void)
{
	uint64_t one = 1;

	if (ctl.fifo < 0)
		return;
	if (write(ctl.wake, &one, sizeof(one)) == (ssize_t)sizeof(one)) {
		pthread_join(ctl.thread, NULL);
		close(ctl.wake);
		close(ctl.fifo);
	} else {
		/* Cannot happen (an eventfd takes 2^64 - 2); if it did, the
		 * thread keeps its fds and is left to itself. */
		complain("cannot stop the thread: %s", strerror(errno));
		pthread_detach(ctl.thread);
	}
	ctl.wake = -1;
	ctl.fifo = -1;
}
