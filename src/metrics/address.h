/*
 * address.h: the value of --metrics-address, parsed.
 *
 * A value with a '/' is a unix socket path (up to sun_path's 107
 * bytes); any other is host:port with a numeric IPv4 host, "localhost",
 * an IPv6 host in brackets ("[::1]:9402"), or an empty host (every
 * address), and a port from 1 to 65535. Names that need a resolver are
 * refused: the endpoint is for loopback or every address, and a name
 * looked up at start would say nothing about later. Pure: no socket.
 */
#ifndef GDP_METRICS_ADDRESS_H
#define GDP_METRICS_ADDRESS_H

#include <stddef.h>
#include <sys/socket.h>

struct metrics_address {
	struct sockaddr_storage sa;
	socklen_t len;
	int family;            /* AF_UNIX, AF_INET or AF_INET6 */
};

/* Fills |out| from |value|. Returns 0, or -EINVAL with why in |err|
 * (the caller names the flag). */
int metrics_address_parse(const char *value, struct metrics_address *out,
    char *err, size_t errlen);

#endif /* GDP_METRICS_ADDRESS_H */
