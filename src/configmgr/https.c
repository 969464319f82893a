/*
 * https.c: a GET over TLS and its body, de-chunked (https.h).
 *
 * Blocking I/O on purpose: the config-manager does one thing at a time
 * (list, then watch, then list again), so an event loop would add code
 * and no behaviour. Reads go through one buffer so that the header lines
 * and the chunk-size lines can be taken a line at a time.
 */
#include "https.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

struct https {
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	char buf[16384];
	size_t pos;		/* next unread byte of buf */
	size_t len;		/* bytes in buf */
	bool chunked;
	bool eof;		/* the body has ended */
	long long left;		/* bytes left in this chunk, or of the body */
	int timeout_s;		/* the longest wait for data */
};

static void
tls_err(char *err, const char *what, int rc)
{
	char msg[160];

	mbedtls_strerror(rc, msg, sizeof(msg));
	snprintf(err, HTTPS_ERR_LEN, "%s: %s (-0x%04x)", what, msg,
	    (unsigned)-rc);
}

static struct https *
https_new(void)
{
	struct https *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	mbedtls_net_init(&h->net);
	mbedtls_ssl_init(&h->ssl);
	mbedtls_ssl_config_init(&h->conf);
	mbedtls_x509_crt_init(&h->ca);
	mbedtls_entropy_init(&h->entropy);
	mbedtls_ctr_drbg_init(&h->drbg);
	return h;
}

void
https_close(struct https *h)
{
	if (h == NULL)
		return;
	mbedtls_ssl_close_notify(&h->ssl);
	mbedtls_net_free(&h->net);
	mbedtls_ssl_free(&h->ssl);
	mbedtls_ssl_config_free(&h->conf);
	mbedtls_x509_crt_free(&h->ca);
	mbedtls_ctr_drbg_free(&h->drbg);
	mbedtls_entropy_free(&h->entropy);
	free(h);
}

/* The TLS client setup: TLS 1.2 or later, the peer verified. */
static int
tls_setup(struct https *h, const char *host, const char *ca_file,
    const char *ca_pem, bool ip_host, int timeout_s, char *err)
{
	int rc;

	if (ca_pem != NULL)
		rc = mbedtls_x509_crt_parse(&h->ca,
		    (const unsigned char *)ca_pem, strlen(ca_pem) + 1);
	else
		rc = mbedtls_x509_crt_parse_file(&h->ca, ca_file);
	if (rc != 0) {
		tls_err(err, ca_pem != NULL ? "the kubeconfig's"
		    " certificate-authority-data" : ca_file, rc);
		return -EIO;
	}
	rc = mbedtls_ctr_drbg_seed(&h->drbg, mbedtls_entropy_func,
	    &h->entropy, (const unsigned char *)"gdp-cm", 6);
	if (rc == 0)
		rc = mbedtls_ssl_config_defaults(&h->conf,
		    MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
		    MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0) {
		tls_err(err, "TLS setup", rc);
		return -EPROTO;
	}
	mbedtls_ssl_conf_min_version(&h->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&h->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&h->conf, &h->ca, NULL);
	mbedtls_ssl_conf_rng(&h->conf, mbedtls_ctr_drbg_random, &h->drbg);
	h->timeout_s = timeout_s;
	mbedtls_ssl_conf_read_timeout(&h->conf, (uint32_t)timeout_s * 1000);
	rc = mbedtls_ssl_setup(&h->ssl, &h->conf);
	if (rc == 0 && !ip_host)
		rc = mbedtls_ssl_set_hostname(&h->ssl, host);
	if (rc != 0) {
		tls_err(err, "TLS setup", rc);
		return -EPROTO;
	}
	mbedtls_ssl_set_bio(&h->ssl, &h->net, mbedtls_net_send, NULL,
	    mbedtls_net_recv_timeout);
	return 0;
}

/* Whether the peer's certificate names the address |addr| (|n| bytes). */
static bool
cert_has_ip(const mbedtls_x509_crt *crt, const unsigned char *addr,
    size_t n)
{
	const mbedtls_x509_sequence *san;

	for (san = &crt->subject_alt_names; san != NULL; san = san->next) {
		if (san->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		    MBEDTLS_X509_SAN_IP_ADDRESS))
			continue;
		if (san->buf.len == n && memcmp(san->buf.p, addr, n) == 0)
			return true;
	}
	return false;
}

static int
handshake(struct https *h, const char *host, const unsigned char *ip,
    size_t iplen, char *err)
{
	const mbedtls_x509_crt *peer;
	uint32_t flags;
	int rc;

	while ((rc = mbedtls_ssl_handshake(&h->ssl)) != 0) {
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc == MBEDTLS_ERR_SSL_TIMEOUT) {
			snprintf(err, HTTPS_ERR_LEN, "TLS handshake with %s:"
			    " no data from the server in %d s", host,
			    h->timeout_s);
			return -ETIMEDOUT;
		}
		flags = mbedtls_ssl_get_verify_result(&h->ssl);
		if (flags != 0 && flags != (uint32_t)-1) {
			char why[256];

			mbedtls_x509_crt_verify_info(why, sizeof(why), "",
			    flags);
			why[strcspn(why, "\n")] = '\0';
			snprintf(err, HTTPS_ERR_LEN,
			    "TLS handshake with %s: the server's certificate"
			    " is not trusted:%s", host, why);
			return -EPROTO;
		}
		tls_err(err, "TLS handshake", rc);
		return -EPROTO;
	}
	if (iplen == 0)
		return 0;
	peer = mbedtls_ssl_get_peer_cert(&h->ssl);
	if (peer == NULL || !cert_has_ip(peer, ip, iplen)) {
		snprintf(err, HTTPS_ERR_LEN, "TLS handshake with %s: the"
		    " server's certificate does not name that address", host);
		return -EPROTO;
	}
	return 0;
}

static int
write_all(struct https *h, const char *p, size_t n, char *err)
{
	int rc;

	while (n > 0) {
		rc = mbedtls_ssl_write(&h->ssl, (const unsigned char *)p, n);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc < 0) {
			tls_err(err, "sending the request", rc);
			return -EPROTO;
		}
		p += rc;
		n -= (size_t)rc;
	}
	return 0;
}

/* Refills the buffer: 1 when bytes came, 0 at the end of the stream. */
static int
fill(struct https *h, char *err)
{
	int rc;

	if (h->pos == h->len)
		h->pos = h->len = 0;
	if (h->len == sizeof(h->buf)) {
		snprintf(err, HTTPS_ERR_LEN, "a response line is too long");
		return -EPROTO;
	}
	do {
		rc = mbedtls_ssl_read(&h->ssl,
		    (unsigned char *)h->buf + h->len, sizeof(h->buf) - h->len);
	} while (rc == MBEDTLS_ERR_SSL_WANT_READ ||
	    rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
	    rc == MBEDTLS_ERR_NET_CONN_RESET)
		return 0;
	if (rc == MBEDTLS_ERR_SSL_TIMEOUT) {
		snprintf(err, HTTPS_ERR_LEN, "no data from the server in %d s",
		    h->timeout_s);
		return -ETIMEDOUT;
	}
	if (rc < 0) {
		tls_err(err, "reading the response", rc);
		return -EPROTO;
	}
	h->len += (size_t)rc;
	return 1;
}

/* Takes one CRLF-ended line (without the CRLF) into |line|. */
static int
read_line(struct https *h, char *line, size_t size, char *err)
{
	char *nl;
	size_t n;
	int rc;

	for (;;) {
		nl = memchr(h->buf + h->pos, '\n', h->len - h->pos);
		if (nl != NULL)
			break;
		if (h->pos > 0) {
			memmove(h->buf, h->buf + h->pos, h->len - h->pos);
			h->len -= h->pos;
			h->pos = 0;
		}
		rc = fill(h, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			snprintf(err, HTTPS_ERR_LEN, "the server closed the"
			    " connection in the middle of a response");
			return -EPROTO;
		}
	}
	n = (size_t)(nl - (h->buf + h->pos));
	if (n > 0 && nl[-1] == '\r')
		n--;
	if (n >= size) {
		snprintf(err, HTTPS_ERR_LEN, "a response line is too long");
		return -EPROTO;
	}
	memcpy(line, h->buf + h->pos, n);
	line[n] = '\0';
	h->pos = (size_t)(nl + 1 - h->buf);
	return 0;
}

static int
read_head(struct https *h, int *status, char *err)
{
	char line[8192];
	int rc;

	rc = read_line(h, line, sizeof(line), err);
	if (rc < 0)
		return rc;
	if (sscanf(line, "HTTP/1.%*d %d", status) != 1) {
		snprintf(err, HTTPS_ERR_LEN, "not an HTTP response: '%.80s'",
		    line);
		return -EPROTO;
	}
	h->left = -1;
	for (;;) {
		rc = read_line(h, line, sizeof(line), err);
		if (rc < 0)
			return rc;
		if (line[0] == '\0')
			return 0;
		if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 &&
		    strstr(line + 18, "chunked") != NULL) {
			h->chunked = true;
			h->left = 0;
		} else if (strncasecmp(line, "Content-Length:", 15) == 0 &&
		    !h->chunked)
			h->left = strtoll(line + 15, NULL, 10);
	}
}

static int
connect_to(struct https *h, const char *host, const char *port, char *err)
{
	int rc = mbedtls_net_connect(&h->net, host, port,
	    MBEDTLS_NET_PROTO_TCP);

	if (rc == 0)
		return 0;
	snprintf(err, HTTPS_ERR_LEN, "connecting to %s:%s: %s", host, port,
	    rc == MBEDTLS_ERR_NET_UNKNOWN_HOST ? "unknown host" :
	    "connection failed");
	return -ECONNREFUSED;
}

int
https_get(const char *host, const char *port, const char *ca_file,
    const char *ca_pem, const char *token, const char *path, int timeout_s,
    struct https **out, int *status, char *err)
{
	unsigned char ip[16];
	size_t iplen = 0;
	struct https *h;
	char req[12288];	/* a bound token alone is some 1 to 2 KB */
	int rc, n;

	if (inet_pton(AF_INET, host, ip) == 1)
		iplen = 4;
	else if (inet_pton(AF_INET6, host, ip) == 1)
		iplen = 16;
	h = https_new();
	if (h == NULL) {
		snprintf(err, HTTPS_ERR_LEN, "out of memory");
		return -ENOMEM;
	}
	/* An IPv6 address goes in brackets in the Host header. */
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s%s%s\r\n"
	    "Authorization: Bearer %s\r\nAccept: application/json\r\n"
	    "User-Agent: gdp-config-manager\r\nConnection: close\r\n\r\n",
	    path, iplen == 16 ? "[" : "", host, iplen == 16 ? "]" : "", token);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		snprintf(err, HTTPS_ERR_LEN, "the request is too long");
		rc = -EINVAL;
		goto out_close;
	}
	rc = tls_setup(h, host, ca_file, ca_pem, iplen > 0, timeout_s, err);
	if (rc == 0)
		rc = connect_to(h, host, port, err);
	if (rc == 0)
		rc = handshake(h, host, ip, iplen, err);
	if (rc == 0)
		rc = write_all(h, req, (size_t)n, err);
	if (rc == 0)
		rc = read_head(h, status, err);
	if (rc == 0) {
		*out = h;
		return 0;
	}
out_close:
	https_close(h);
	return rc;
}

/* Starts the next chunk; sets eof at the last one. */
static int
next_chunk(struct https *h, char *err)
{
	char line[256];
	char *end;
	int rc;

	rc = read_line(h, line, sizeof(line), err);
	if (rc == 0 && line[0] == '\0')	/* the CRLF after a chunk */
		rc = read_line(h, line, sizeof(line), err);
	if (rc < 0)
		return rc;
	errno = 0;
	h->left = strtoll(line, &end, 16);
	if (end == line || errno != 0 || h->left < 0) {
		snprintf(err, HTTPS_ERR_LEN, "bad chunk size '%.40s'", line);
		return -EPROTO;
	}
	if (h->left == 0)
		h->eof = true;
	return 0;
}

ssize_t
https_read(struct https *h, char *buf, size_t len, char *err)
{
	size_t n;
	int rc;

	if (h->eof)
		return 0;
	if (h->chunked && h->left == 0) {
		rc = next_chunk(h, err);
		if (rc < 0 || h->eof)
			return rc;
	}
	if (h->left == 0) {
		h->eof = true;
		return 0;
	}
	if (h->pos == h->len) {
		rc = fill(h, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			h->eof = true;
			if (h->left < 0)	/* read to the end */
				return 0;
			snprintf(err, HTTPS_ERR_LEN, "the server closed the"
			    " connection in the middle of the body");
			return -EPROTO;
		}
	}
	n = h->len - h->pos;
	if (n > len)
		n = len;
	if (h->left >= 0 && (long long)n > h->left)
		n = (size_t)h->left;
	memcpy(buf, h->buf + h->pos, n);
	h->pos += n;
	if (h->left > 0)
		h->left -= (long long)n;
	return (ssize_t)n;
}
