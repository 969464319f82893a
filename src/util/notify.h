/*
 * notify.h: the service manager's readiness protocol (systemd's
 * sd_notify), spoken by hand: one datagram per state change to the unix
 * socket named in $NOTIFY_SOCKET ("READY=1", "STATUS=...", "WATCHDOG=1",
 * "RELOADING=1", "STOPPING=1"). The protocol is a documented line format
 * on a datagram socket; writing it here keeps libsystemd (and what it
 * pulls in) out of a daemon that links nothing heavy. Without
 * $NOTIFY_SOCKET (a DaemonSet, a shell) every call does nothing.
 */
#ifndef GDP_NOTIFY_H
#define GDP_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct notifier {
	int fd;                 /* -1: no service manager to tell */
	int64_t watchdog_ms;    /* how often to ping it; 0: never */
};

/* Reads $NOTIFY_SOCKET and $WATCHDOG_USEC/$WATCHDOG_PID and opens the
 * socket (before the seccomp filter: socket(2) happens here). Returns 0,
 * also when there is nothing to tell, or -errno with |err| (the notifier
 * then does nothing). */
int notify_open(struct notifier *n, char *err, size_t errlen);

/* Sends |msg| ("KEY=value" lines); errors are ignored, as sd_notify's
 * callers do: the service manager may be gone, the daemon is not. */
void notify_send(const struct notifier *n, const char *msg);

void notify_close(struct notifier *n);

#endif /* GDP_NOTIFY_H */
