/*
 * codec.c: gRPC framing, percent-encoding and timeouts (see codec.h).
 *
 * The reader hands a message that arrives whole inside one piece straight
 * to the callback, without copying; only a message split across pieces is
 * gathered into a buffer, allocated once at its announced length.
 */
#include "codec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static const char *const code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
	"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

const char *
grpc_code_name(int code)
{
	if (code < 0 || code > GRPC_UNAUTHENTICATED)
		return "UNKNOWN_CODE";
	return code_names[code];
}

void
grpc_prefix_write(uint8_t out[GRPC_PREFIX_LEN], uint32_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

void
grpc_reader_init(struct grpc_reader *r, uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void
grpc_reader_reset(struct grpc_reader *r)
{
	gdp_free(r->msg);
	grpc_reader_init(r, r->max);
}

bool
grpc_reader_idle(const struct grpc_reader *r)
{
	return r->prefix_got == 0 && !r->failed;
}

static int
reader_fail(struct grpc_reader *r, int err)
{
	r->failed = true;
	return err;
}

/* Takes prefix bytes; returns bytes used, or a negative errno. */
static int
reader_take_prefix(struct grpc_reader *r, const uint8_t *data, size_t len)
{
	size_t n = GRPC_PREFIX_LEN - r->prefix_got;

	if (n > len)
		n = len;
	memcpy(r->prefix + r->prefix_got, data, n);
	r->prefix_got += n;
	if (r->prefix_got < GRPC_PREFIX_LEN)
		return (int)n;
	if (r->prefix[0] != 0)
		return reader_fail(r, -EPROTO);
	r->msg_len = (uint32_t)r->prefix[1] << 24 |
	    (uint32_t)r->prefix[2] << 16 | (uint32_t)r->prefix[3] << 8 |
	    r->prefix[4];
	if (r->msg_len > r->max)
		return reader_fail(r, -EMSGSIZE);
	r->msg_got = 0;
	return (int)n;
}

static void
reader_next(struct grpc_reader *r)
{
	gdp_free(r->msg);
	r->msg = NULL;
	r->prefix_got = 0;
	r->msg_len = r->msg_got = 0;
}

int
grpc_reader_feed(struct grpc_reader *r, const uint8_t *data, size_t len,
    grpc_reader_cb cb, void *arg)
{
	if (r->failed)
		return -EPROTO;
	while (len > 0 || (r->prefix_got == GRPC_PREFIX_LEN &&
	    r->msg_got == r->msg_len)) {
		size_t want, n;
		int rc;

		if (r->prefix_got < GRPC_PREFIX_LEN) {
			rc = reader_take_prefix(r, data, len);
			if (rc < 0)
				return rc;
			data += rc;
			len -= (size_t)rc;
			continue;
		}
		want = r->msg_len - r->msg_got;
		if (r->msg == NULL && len >= want) {
			/* Whole message in this piece: no copy. */
			rc = cb(data, want, arg);
			data += want;
			len -= want;
			reader_next(r);
			if (rc < 0)
				return reader_fail(r, rc);
			continue;
		}
		if (r->msg == NULL && (r->msg = gdp_malloc(r->msg_len)) == NULL)
			return reader_fail(r, -ENOMEM);
		n = len < want ? len : want;
		memcpy(r->msg + r->msg_got, data, n);
		r->msg_got += (uint32_t)n;
		data += n;
		len -= n;
		if (r->msg_got < r->msg_len)
			continue;
		rc = cb(r->msg, r->msg_len, arg);
		reader_next(r);
		if (rc < 0)
			return reader_fail(r, rc);
	}
	return 0;
}

/* ---- percent-encoding of grpc-message ---- */

static bool
keep_plain(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e && c != '%';
}

char *
grpc_percent_encode(const char *in, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t out_len = 0;
	char *out, *p;

	for (size_t i = 0; i < len; i++)
		out_len += keep_plain((unsigned char)in[i]) ? 1 : 3;
	out = gdp_malloc(out_len + 1);
	if (out == NULL)
		return NULL;
	p = out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (keep_plain(c)) {
			*p++ = (char)c;
			continue;
		}
		*p++ = '%';
		*p++ = hex[c >> 4];
		*p++ = hex[c & 0xf];
	}
	*p = '\0';
	return out;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
grpc_percent_decode(const char *in, size_t len)
{
	char *out = gdp_malloc(len + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (in[i] == '%' && i + 2 < len &&
		    (hi = hex_value(in[i + 1])) >= 0 &&
		    (lo = hex_value(in[i + 2])) >= 0) {
			*p++ = (char)(hi << 4 | lo);
			i += 2;
			continue;
		}
		*p++ = in[i];
	}
	*p = '\0';
	return out;
}

/* ---- grpc-timeout ---- */

static int64_t
unit_ns(char unit)
{
	switch (unit) {
	case 'H': return 3600LL * 1000000000LL;
	case 'M': return 60LL * 1000000000LL;
	case 'S': return 1000000000LL;
	case 'm': return 1000000LL;
	case 'u': return 1000LL;
	case 'n': return 1LL;
	default: return 0;
	}
}

int
grpc_timeout_parse(const char *s, size_t len, int64_t *ns)
{
	int64_t value = 0, unit;

	if (len < 2 || len > 9)
		return -EINVAL;
	unit = unit_ns(s[len - 1]);
	if (unit == 0)
		return -EINVAL;
	for (size_t i = 0; i < len - 1; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		value = value * 10 + (s[i] - '0');
	}
	/* At most 99999999 H: check before multiplying. */
	*ns = value > INT64_MAX / unit ? INT64_MAX : value * unit;
	return 0;
}

void
grpc_timeout_format(int64_t ns, char buf[10])
{
	static const struct { char unit; int64_t ns; } units[] = {
		{ 'n', 1LL }, { 'u', 1000LL }, { 'm', 1000000LL },
		{ 'S', 1000000000LL }, { 'M', 60000000000LL },
		{ 'H', 3600000000000LL },
	};
	size_t i;
	int64_t count = 0;
	char digits[9];
	int w = 0;

	if (ns < 1)
		ns = 1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		count = ns / units[i].ns + (ns % units[i].ns != 0);
		if (count <= 99999999)
			break;
	}
	if (i == sizeof(units) / sizeof(units[0])) {
		i--;
		count = 99999999;
	}
	/* count has at most 8 digits, so digits, unit and NUL fit. */
	do {
		digits[w++] = (char)('0' + count % 10);
		count /= 10;
	} while (count > 0);
	for (int k = 0; k < w; k++)
		buf[k] = digits[w - 1 - k];
	buf[w] = units[i].unit;
	buf[w + 1] = '\0';
}
