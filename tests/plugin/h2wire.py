"""h2wire.py: the few wire encoders written by hand for raw peers.

HTTP/2 frames, HPACK literal header fields (no indexing, no Huffman) and
protobuf length-delimited fields, as bytes: what a test or a bench needs
to send what no well-behaved client would (partial messages, zero
windows, huge ids lists). Shared by run-plugin-tests.py and
bench/abuse-bench.py; Python's standard library only.
"""


def h2_frame(kind, flags, stream, payload=b""):
    """One HTTP/2 frame: 9-byte header, then |payload|."""
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + \
        stream.to_bytes(4, "big") + payload


def hpack_int(value, prefix_bits, first=0):
    """An HPACK integer with a |prefix_bits| prefix (RFC 7541 5.1)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    """A literal header field without indexing, new name, no Huffman."""
    n, v = name.encode(), value.encode()
    return b"\x00" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v


def pb_varint(n):
    """A protobuf varint."""
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_field(number, data):
    """A length-delimited protobuf field (wire type 2)."""
    return pb_varint(number << 3 | 2) + pb_varint(len(data)) + data
