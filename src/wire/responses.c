/*
 * responses.c: the answers on the hot path, AllocateResponse and
 * PreferredAllocationResponse, encoded by hand from protobuf-c's structs
 * (see wire.h for why).
 *
 * The bytes are protobuf-c's, which the tests compare answer by answer:
 * fields in number order, a singular string or bool left out when empty
 * or false (proto3), every element of a repeated field written, map
 * entries as messages of key 1 and value 2. Unknown fields are not
 * written: these messages are built by the plugin, never decoded.
 *
 * Sizing walks the message once; packing walks it once more, back to
 * front (wire/pb.h), so that no nested message is sized twice.
 */
#include "wire/wire.h"

#include "deviceplugin.pb-c.h"
#include "wire/pb.h"

/* A singular string field: nothing when NULL or empty. */
static size_t
str_size(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 ? pb_len_field_size(n) : 0;
}

static uint8_t *
put_str(uint8_t *p, unsigned number, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 ? pb_put_bytes_before(p, number, s, n) : p;
}

static size_t
mount_size(const V1beta1__Mount *m)
{
	return str_size(m->container_path) + str_size(m->host_path) +
	    (m->read_only ? 2 : 0);
}

static size_t
device_size(const V1beta1__DeviceSpec *d)
{
	return str_size(d->container_path) + str_size(d->host_path) +
	    str_size(d->permissions);
}

static size_t
container_size(const V1beta1__ContainerAllocateResponse *c)
{
	size_t n = 0, i;

	for (i = 0; i < c->n_envs; i++)
		n += pb_len_field_size(str_size(c->envs[i]->key) +
		    str_size(c->envs[i]->value));
	for (i = 0; i < c->n_mounts; i++)
		n += pb_len_field_size(mount_size(c->mounts[i]));
	for (i = 0; i < c->n_devices; i++)
		n += pb_len_field_size(device_size(c->devices[i]));
	for (i = 0; i < c->n_annotations; i++)
		n += pb_len_field_size(str_size(c->annotations[i]->key) +
		    str_size(c->annotations[i]->value));
	for (i = 0; i < c->n_cdi_devices; i++)
		n += pb_len_field_size(str_size(c->cdi_devices[i]->name));
	return n;
}

size_t
wire_allocate_response_size(const ProtobufCMessage *msg)
{
	const V1beta1__AllocateResponse *r = (const void *)msg;
	size_t n = 0, i;

	for (i = 0; i < r->n_container_responses; i++)
		n += pb_len_field_size(container_size(
		    r->container_responses[i]));
	return n;
}

/* A map entry (key 1, value 2) as field |number|, ending at |p|. */
static uint8_t *
put_entry(uint8_t *p, unsigned number, const char *key, const char *value)
{
	uint8_t *end = p;

	p = put_str(p, 2, value);
	p = put_str(p, 1, key);
	return pb_put_len_prefix(p, end, number);
}

static uint8_t *
put_mount(uint8_t *p, const V1beta1__Mount *m)
{
	uint8_t *end = p;

	if (m->read_only) {
		*--p = 1;
		*--p = 3 << 3 | PB_VARINT;
	}
	p = put_str(p, 2, m->host_path);
	p = put_str(p, 1, m->container_path);
	return pb_put_len_prefix(p, end, 2);
}

static uint8_t *
put_device(uint8_t *p, const V1beta1__DeviceSpec *d)
{
	uint8_t *end = p;

	p = put_str(p, 3, d->permissions);
	p = put_str(p, 2, d->host_path);
	p = put_str(p, 1, d->container_path);
	return pb_put_len_prefix(p, end, 3);
}

static uint8_t *
put_cdi_device(uint8_t *p, const V1beta1__CDIDevice *d)
{
	uint8_t *end = p;

	p = put_str(p, 1, d->name);
	return pb_put_len_prefix(p, end, 5);
}

/* Back to front: the last field's last element first. */
static uint8_t *
put_container(uint8_t *p, const V1beta1__ContainerAllocateResponse *c)
{
	uint8_t *end = p;
	size_t i;

	for (i = c->n_cdi_devices; i-- > 0;)
		p = put_cdi_device(p, c->cdi_devices[i]);
	for (i = c->n_annotations; i-- > 0;)
		p = put_entry(p, 4, c->annotations[i]->key,
		    c->annotations[i]->value);
	for (i = c->n_devices; i-- > 0;)
		p = put_device(p, c->devices[i]);
	for (i = c->n_mounts; i-- > 0;)
		p = put_mount(p, c->mounts[i]);
	for (i = c->n_envs; i-- > 0;)
		p = put_entry(p, 1, c->envs[i]->key, c->envs[i]->value);
	return pb_put_len_prefix(p, end, 1);
}

void
wire_pack_allocate_response(const ProtobufCMessage *msg, size_t size,
    uint8_t *out)
{
	const V1beta1__AllocateResponse *r = (const void *)msg;
	uint8_t *p = out + size;
	size_t i;

	for (i = r->n_container_responses; i-- > 0;)
		p = put_container(p, r->container_responses[i]);
}

/* A repeated string's element: written even when empty. */
static size_t
id_size(const char *s)
{
	return pb_len_field_size(s != NULL ? strlen(s) : 0);
}

static size_t
preferred_container_size(
    const V1beta1__ContainerPreferredAllocationResponse *c)
{
	size_t n = 0, i;

	for (i = 0; i < c->n_deviceids; i++)
		n += id_size(c->deviceids[i]);
	return n;
}

size_t
wire_preferred_response_size(const ProtobufCMessage *msg)
{
	const V1beta1__PreferredAllocationResponse *r = (const void *)msg;
	size_t n = 0, i;

	for (i = 0; i < r->n_container_responses; i++)
		n += pb_len_field_size(preferred_container_size(
		    r->container_responses[i]));
	return n;
}

void
wire_pack_preferred_response(const ProtobufCMessage *msg, size_t size,
    uint8_t *out)
{
	const V1beta1__PreferredAllocationResponse *r = (const void *)msg;
	uint8_t *p = out + size, *end;
	size_t i, k;

	for (i = r->n_container_responses; i-- > 0;) {
		const V1beta1__ContainerPreferredAllocationResponse *c =
		    r->container_responses[i];

		end = p;
		for (k = c->n_deviceids; k-- > 0;) {
			const char *id = c->deviceids[k];

			p = pb_put_bytes_before(p, 1, id,
			    id != NULL ? strlen(id) : 0);
		}
		p = pb_put_len_prefix(p, end, 1);
	}
}
