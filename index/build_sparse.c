/* index/build_sparse.c — sparse files in the index pass (issue 3).
 *
 * This file owns two things a layer worker needs for a sparse tar entry: the map of its stored
 * regions (logical offset in the file, length, offset in the layer's uncompressed stream), built
 * from the blocks the tar walk hands out and stored by the writer as sparse rows, from which the
 * reader serves the file with zeros in the holes; and the file's sha256 over its content as
 * `tar -x` makes it (zeros in the holes, a trailing hole up to the real size), within a per-layer
 * budget of hashed hole bytes (INDEX_SPARSE_HOLES_HASH_MAX) so a header claiming a huge real size
 * cannot make the pass hash terabytes of zeros. Scanners see only the stored bytes.
 */
#include "index_int.h"

#include <string.h>

bool index_sparse_hash_begin(const struct overlay_tar_entry *e, uint64_t *holes_hashed)
{
	uint64_t holes = e->real_size > e->size ? e->real_size - e->size : 0;
	if (holes > INDEX_SPARSE_HOLES_HASH_MAX - *holes_hashed)
		return false;
	*holes_hashed += holes;
	return true;
}

/* Feeds n zero bytes to md. */
static void hash_zeros(struct overlay_sha256 *md, uint64_t n)
{
	static const unsigned char zeros[64 * 1024];
	while (n > 0) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		overlay_sha256_update(md, zeros, k);
		n -= k;
	}
}

/* Where the map of r ends in the file (0 when empty). */
static uint64_t map_end(const struct index_rec *r)
{
	if (r->nsparse == 0)
		return 0;
	const struct index_sparse_piece *last = &r->sparse_map[r->nsparse - 1];
	return last->logical + last->length;
}

void index_sparse_add(struct index_rec *r, struct overlay_sha256 *md, uint64_t file_off, uint64_t stream_off,
		      const void *buf, size_t len)
{
	uint64_t end = map_end(r);
	if (md) {
		if (file_off > end)
			hash_zeros(md, file_off - end);
		overlay_sha256_update(md, buf, len);
	}
	struct index_sparse_piece *last = r->nsparse ? &r->sparse_map[r->nsparse - 1] : NULL;
	if (last && end == file_off && last->stored + last->length == stream_off) {
		last->length += len; /* the next block of the same region */
		return;
	}
	/* Capacity doubles at powers of two (the count is the only size kept). */
	if ((r->nsparse & (r->nsparse - 1)) == 0)
		r->sparse_map = xrealloc(r->sparse_map, (r->nsparse ? r->nsparse * 2 : 1) * sizeof(*r->sparse_map));
	r->sparse_map[r->nsparse++] = (struct index_sparse_piece){
		.logical = file_off, .length = len, .stored = stream_off,
	};
}

void index_sparse_hash_end(const struct index_rec *r, struct overlay_sha256 *md)
{
	uint64_t end = map_end(r);
	if (r->size > end)
		hash_zeros(md, r->size - end);
}

uint64_t index_sparse_stored(const struct index_rec *r)
{
	uint64_t n = 0;
	for (size_t i = 0; i < r->nsparse; i++)
		n += r->sparse_map[i].length;
	return n;
}
