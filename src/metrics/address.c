/*
 * address.c: --metrics-address, parsed (see address.h). Numeric hosts go
 * through inet_pton, never a resolver.
 */
#include "metrics/address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static int
parse_unix(const char *value, struct metrics_address *out, char *err,
    size_t errlen)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&out->sa;

	if (strlen(value) >= sizeof(un->sun_path)) {
		snprintf(err, errlen, "a unix socket path is at most %zu bytes",
		    sizeof(un->sun_path) - 1);
		return -EINVAL;
	}
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, value, strlen(value) + 1);
	out->len = sizeof(*un);
	out->family = AF_UNIX;
	return 0;
}

static int
parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

/* |host| (|n| bytes) into |out| with |port|. */
static int
parse_host(const char *host, size_t n, unsigned port,
    struct metrics_address *out)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&out->sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->sa;
	char h[64];

	if (n >= sizeof(h))
		return -EINVAL;
	memcpy(h, host, n);
	h[n] = '\0';
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h[n - 1] = '\0';
		if (inet_pton(AF_INET6, h + 1, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*in6);
		out->family = AF_INET6;
		return 0;
	}
	if (n == 0 || !strcmp(h, "localhost"))
		snprintf(h, sizeof(h), n == 0 ? "0.0.0.0" : "127.0.0.1");
	if (inet_pton(AF_INET, h, &in->sin_addr) != 1)
		return -EINVAL;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	out->len = sizeof(*in);
	out->family = AF_INET;
	return 0;
}

int
metrics_address_parse(const char *value, struct metrics_address *out,
    char *err, size_t errlen)
{
	const char *colon = strrchr(value, ':');
	unsigned port;

	memset(out, 0, sizeof(*out));
	if (strchr(value, '/') != NULL)
		return parse_unix(value, out, err, errlen);
	if (colon == NULL || parse_port(colon + 1, &port) < 0) {
		snprintf(err, errlen, "host:port with a port from 1 to 65535, "
		    "or a unix socket path (with a '/')");
		return -EINVAL;
	}
	if (parse_host(value, (size_t)(colon - value), port, out) < 0) {
		snprintf(err, errlen, "the host must be a numeric IPv4 "
		    "address, [IPv6] in brackets, localhost, or empty (every "
		    "address)");
		return -EINVAL;
	}
	return 0;
}
