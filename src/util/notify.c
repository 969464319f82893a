/*
 * notify.c: the sd_notify datagram protocol (see notify.h for why by
 * hand). $NOTIFY_SOCKET is a path, or an abstract socket name written
 * with a leading '@'; the socket is connected once, so each message is
 * a single send. The watchdog interval is honoured only when
 * $WATCHDOG_PID is unset or names this process, as the protocol says.
 */
#include "util/notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* $WATCHDOG_USEC halved (ping twice per interval), in ms; 0 if unset,
 * malformed, or meant for another process. */
static int64_t
watchdog_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long us;

	if (usec == NULL || usec[0] == '\0')
		return 0;
	if (pid != NULL && pid[0] != '\0' &&
	    strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	us = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || us == 0)
		return 0;
	return us / 2000 > 0 ? (int64_t)(us / 2000) : 1;
}

int
notify_open(struct notifier *n, char *err, size_t errlen)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	socklen_t salen;
	int saved;

	n->fd = -1;
	n->watchdog_ms = 0;
	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "NOTIFY_SOCKET=%s: not an absolute path "
		    "or @name that fits a unix socket address", path);
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';   /* abstract: no terminating NUL */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '@' ? 0 : 1));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0 || connect(n->fd, (struct sockaddr *)&sa, salen) < 0) {
		saved = errno;
		snprintf(err, errlen, "NOTIFY_SOCKET=%s: %s", path,
		    strerror(saved));
		notify_close(n);
		return -saved;
	}
	n->watchdog_ms = watchdog_ms();
	return 0;
}

void
notify_send(const struct notifier *n, const char *msg)
{
	if (n->fd >= 0)
		(void)send(n->fd, msg, strlen(msg), MSG_NOSIGNAL);
}

void
notify_close(struct notifier *n)
{
	if (n->fd >= 0)
		(void)close(n->fd);
	n->fd = -1;
	n->watchdog_ms = 0;
}
