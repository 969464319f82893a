/*
 * https.h: one HTTP/1.1 request over TLS (mbedTLS), for gdp-config-manager.
 *
 * The config-manager talks to one API server, one request per connection
 * ("Connection: close"), and a watch is a long chunked response read a
 * piece at a time. So this is not a general HTTP client: it sends a GET
 * with a bearer token, reads the status line and headers, and then hands
 * out the body, de-chunked, as it arrives. The server's certificate is
 * checked against the cluster's CA bundle, and its name against the host
 * (a DNS name through mbedTLS, an IP address against the certificate's
 * iPAddress names, which mbedTLS 2.28 does not check by itself).
 *
 * Every function returns 0 or a negative errno and, on failure, writes a
 * sentence into the caller's |err| (HTTPS_ERR_LEN bytes).
 */
#ifndef GDP_CONFIGMGR_HTTPS_H
#define GDP_CONFIGMGR_HTTPS_H

#include <stddef.h>
#include <sys/types.h>

#define HTTPS_ERR_LEN 512

struct https;

/*
 * Connects to |host|:|port|, verifies the server against the PEM bundle
 * |ca_pem| (text) when given, else the file |ca_file|, and sends "GET |path|" with "Authorization: Bearer |token|".
 * Reads up to the end of the headers; *|status| gets the HTTP status.
 * Every read, here and in https_read(), waits at most |timeout_s|
 * seconds (-ETIMEDOUT), so that a connection gone silent (a half-open
 * TCP connection after the API server's machine vanished) is noticed.
 * On success *|out| is the caller's, freed by https_close(). Errors:
 * -ECONNREFUSED and friends (connect), -EPROTO (TLS or HTTP), -ENOMEM,
 * -EIO for a CA bundle that cannot be read.
 */
int https_get(const char *host, const char *port, const char *ca_file,
    const char *ca_pem, const char *token, const char *path, int timeout_s,
    struct https **out, int *status, char *err);

/*
 * Reads body bytes (chunked or Content-Length, either way) into |buf|:
 * returns how many (> 0), 0 at the end of the body, or a negative errno
 * (-EPROTO for a malformed body or a dropped connection, -ETIMEDOUT).
 */
ssize_t https_read(struct https *h, char *buf, size_t len, char *err);

/* Closes the connection and frees |h|; NULL is fine. */
void https_close(struct https *h);

#endif /* GDP_CONFIGMGR_HTTPS_H */
