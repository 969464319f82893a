/*
 * pb.h: the protobuf wire format's primitives, for the hand-written codecs
 * of wire/ (see wire.h for why they exist).
 *
 * Reading: pb_next() walks the fields of one message and checks what
 * protobuf-c checks, no more and no less, so that the codecs built on it
 * refuse what protobuf-c refuses: keys and lengths of at most 5 bytes,
 * other varints of at most 10, lengths within the message, wire types 0,
 * 1, 2 and 5 (groups are refused, as protobuf-c refuses them).
 *
 * Writing goes back to front: a message's fields are written from the end
 * of its buffer towards the start, so that when a nested message is done
 * its length is known and its prefix goes in front of it. Each nested
 * size is thus found once, where a front-to-back writer must size every
 * nested message before writing it (again at every level).
 */
#ifndef GDP_WIRE_PB_H
#define GDP_WIRE_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum pb_wire_type {
	PB_VARINT = 0,
	PB_FIXED64 = 1,
	PB_LEN = 2,
	PB_FIXED32 = 5,
};

/* One field as read: for PB_LEN its payload, for PB_VARINT its value. */
struct pb_field {
	uint32_t number;
	enum pb_wire_type type;
	uint64_t value;
	const uint8_t *data;
	size_t len;
};

struct pb_reader {
	const uint8_t *p;
	const uint8_t *end;
};

static inline void
pb_reader_init(struct pb_reader *r, const uint8_t *data, size_t len)
{
	r->p = data;
	r->end = data + len;
}

/* Reads a varint at |r|; false when it runs past the end or 10 bytes. */
static inline __attribute__((always_inline)) bool
pb_read_varint(struct pb_reader *r, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift;

	if (r->p < r->end && *r->p < 0x80) {    /* the common case */
		*out = *r->p++;
		return true;
	}
	for (shift = 0; shift <= 63 && r->p < r->end; shift += 7) {
		uint8_t b = *r->p++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* Skips |n| bytes: 1, or -1 when fewer are left (|r| is then spent). */
static inline int
pb_skip(struct pb_reader *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n) {
		r->p = r->end;
		return -1;
	}
	r->p += n;
	return 1;
}

/*
 * The next field of the message |r| reads: 1 with |f| filled, 0 at the
 * end, -1 when the message is malformed (|r| is then spent). Inline: the
 * decoders call it in their innermost loops.
 */
static inline __attribute__((always_inline)) int
pb_next(struct pb_reader *r, struct pb_field *f)
{
	const uint8_t *data, *start = r->p;
	uint64_t key, len;

	if (r->p == r->end)
		return 0;
	/*
	 * As protobuf-c reads a key: at most 5 bytes, any 32-bit field
	 * number, but not a one-byte key for field 0. (Numbers past 2^29-1,
	 * or 0 spelt long, are only ever unknown fields, which are skipped.)
	 */
	if (*start < 8 || !pb_read_varint(r, &key) || r->p - start > 5)
		goto bad;
	f->number = (uint32_t)(key >> 3);
	f->type = (enum pb_wire_type)(key & 7);
	switch (key & 7) {
	case PB_VARINT:
		return pb_read_varint(r, &f->value) ? 1 : (r->p = r->end, -1);
	case PB_FIXED64:
		return pb_skip(r, 8);
	case PB_FIXED32:
		return pb_skip(r, 4);
	case PB_LEN:
		/* As protobuf-c reads a length: in at most 5 bytes. */
		start = r->p;
		if (!pb_read_varint(r, &len) || r->p - start > 5 ||
		    len > (uint64_t)(r->end - r->p))
			goto bad;
		data = r->p;
		f->data = data;
		f->len = (size_t)len;
		return pb_skip(r, (size_t)len);
	default:                /* groups (3, 4) and 6, 7 */
		goto bad;
	}
bad:
	r->p = r->end;
	return -1;
}

static inline size_t
pb_varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Size of a length-delimited field of |len| bytes with a one-byte tag. */
static inline size_t
pb_len_field_size(size_t len)
{
	return 1 + pb_varint_size(len) + len;
}

/* Writes |v| so that it ends at |end|; returns where it starts. */
static inline uint8_t *
pb_put_varint_before(uint8_t *end, uint64_t v)
{
	size_t n = pb_varint_size(v);
	uint8_t *p = end - n;
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		p[i] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[i] = (uint8_t)v;
	return p;
}

/*
 * The prefix of a length-delimited field: its one-byte tag for |number|
 * (1 to 15) and the length of the payload that lies from |p| to |end|.
 */
static inline uint8_t *
pb_put_len_prefix(uint8_t *p, const uint8_t *end, unsigned number)
{
	p = pb_put_varint_before(p, (uint64_t)(end - p));
	*--p = (uint8_t)(number << 3 | PB_LEN);
	return p;
}

/* A length-delimited field of |len| bytes at |data|, ending at |p|. */
static inline uint8_t *
pb_put_bytes_before(uint8_t *p, unsigned number, const void *data,
    size_t len)
{
	uint8_t *end = p;

	p -= len;
	if (len > 0)
		memcpy(p, data, len);
	return pb_put_len_prefix(p, end, number);
}

#endif /* GDP_WIRE_PB_H */
