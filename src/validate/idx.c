/* idx.c: reads the idx format MNIST ships in (big-endian header: two zero
 * bytes, a type byte 0x08 for unsigned bytes, a dimension count, then one
 * 32-bit size per dimension, then the data). Every header field is checked
 * and the file size must equal header plus data exactly, so a truncated or
 * padded download fails here with the file's name instead of training on
 * garbage. The whole file is read into memory: the largest is 47 MB. */
#include "validate/idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads all of fp into a new buffer (owned by the caller) */
static int slurp(FILE *fp, uint8_t **buf, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap);
	while (b != NULL) {
		n += fread(b + n, 1, cap - n, fp);
		if (n < cap)
			break;
		uint8_t *nb = realloc(b, cap * 2);
		if (nb == NULL) {
			free(b);
			b = NULL;
			break;
		}
		b = nb;
		cap *= 2;
	}
	if (b == NULL || ferror(fp)) {
		free(b);
		return -1;
	}
	*buf = b;
	*len = n;
	return 0;
}

static int check_header(const char *path, const uint8_t *b, size_t len,
    uint32_t want_dims, struct idx_file *out, char *err, size_t errlen)
{
	if (len < 4) {
		snprintf(err, errlen, "%s: truncated: %zu bytes, no idx header",
		    path, len);
		return -1;
	}
	if (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != want_dims) {
		snprintf(err, errlen, "%s: bad magic 0x%02x%02x%02x%02x, want "
		    "0x000008%02x (unsigned bytes, %u dimension%s)", path, b[0],
		    b[1], b[2], b[3], want_dims, want_dims,
		    want_dims == 1 ? "" : "s");
		return -1;
	}
	size_t hdr = 4 + 4 * (size_t)want_dims;
	if (len < hdr) {
		snprintf(err, errlen, "%s: truncated: %zu bytes, header needs "
		    "%zu", path, len, hdr);
		return -1;
	}
	size_t size = 1;
	out->ndims = want_dims;
	for (uint32_t i = 0; i < want_dims; i++) {
		out->dims[i] = be32(b + 4 + 4 * (size_t)i);
		if (out->dims[i] == 0 || out->dims[i] > (1u << 24)) {
			snprintf(err, errlen, "%s: dimension %u is %u (want 1 "
			    "to %u)", path, i, out->dims[i], 1u << 24);
			return -1;
		}
		size *= out->dims[i];
	}
	if (len - hdr != size) {
		snprintf(err, errlen, "%s: %s: header promises %zu data bytes, "
		    "file has %zu", path, len - hdr < size ? "truncated" :
		    "trailing bytes", size, len - hdr);
		return -1;
	}
	out->size = size;
	return 0;
}

int idx_read(const char *path, uint32_t want_dims, struct idx_file *out,
    char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	FILE *fp = fopen(path, "rb");
	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	uint8_t *b = NULL;
	size_t len = 0;
	int rc = slurp(fp, &b, &len);
	fclose(fp);
	if (rc != 0) {
		snprintf(err, errlen, "%s: read failed", path);
		return -1;
	}
	if (check_header(path, b, len, want_dims, out, err, errlen) != 0) {
		free(b);
		return -1;
	}
	size_t hdr = 4 + 4 * (size_t)want_dims;
	memmove(b, b + hdr, out->size);
	out->data = b;
	return 0;
}

void idx_free(struct idx_file *f)
{
	free(f->data);
	f->data = NULL;
}
