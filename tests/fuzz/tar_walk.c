/* tests/fuzz/tar_walk.c — libFuzzer target for the tar walker (overlay/tar.c): the input is a raw
 * (uncompressed) tar stream handed to overlay_tar_walk_io from memory, with and without a skip
 * callback. Any bytes must walk without crashing, hanging or leaking; every entry delivered has a
 * path, data offsets inside the input that never go backwards, and exactly `size` bytes of data
 * for the regular files whose data is read. A third pass takes sparse entries' blocks through
 * sparse_data: file offsets never go back nor past real_size, and each block's stream offset holds
 * exactly its bytes in the input. */
#include "../../overlay/overlay_int.h"

#include <stdlib.h>
#include <string.h>

struct mem {
	const uint8_t *p;
	size_t len, off;
};

struct walk {
	uint64_t last_off, want, got;
	bool in_data;
	const uint8_t *in; /* the input, to check sparse blocks' stream offsets */
	size_t in_len;
	uint64_t real, file_end;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len, struct strata_err **err)
{
	(void)err;
	struct mem *m = ctx;
	size_t n = m->len - m->off < len ? m->len - m->off : len;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static int64_t mem_skip(void *ctx, uint64_t n, struct strata_err **err)
{
	(void)err;
	struct mem *m = ctx;
	uint64_t k = m->len - m->off < n ? m->len - m->off : n;
	m->off += k;
	return (int64_t)k;
}

static int on_entry(void *ctx, const struct overlay_tar_entry *e, struct strata_err **err)
{
	(void)err;
	struct walk *w = ctx;
	if (!e->path || (int)e->type < OVERLAY_T_REG || e->type > OVERLAY_T_SOCK)
		abort();
	if ((e->type == OVERLAY_T_SYMLINK || e->type == OVERLAY_T_HARDLINK) && !e->link_target)
		abort();
	if (e->data_offset < w->last_off)
		abort();
	for (size_t i = 0; i < e->nxattrs; i++)
		if (!e->xattrs[i].name || (e->xattrs[i].len && !e->xattrs[i].value))
			abort();
	w->last_off = e->data_offset;
	w->want = e->size, w->got = 0, w->in_data = e->type == OVERLAY_T_REG || e->type == OVERLAY_T_HARDLINK;
	w->real = e->real_size, w->file_end = 0;
	if (!e->sparse && w->in_data && e->real_size != e->size)
		abort();
	return 0;
}

static int on_data(void *ctx, const void *buf, size_t len, struct strata_err **err)
{
	(void)buf, (void)err;
	struct walk *w = ctx;
	if (!w->in_data)
		abort();
	w->got += len;
	if (w->got > w->want)
		abort();
	return 0;
}

static int on_sparse(void *ctx, uint64_t file_off, uint64_t stream_off, const void *buf, size_t len,
		     struct strata_err **err)
{
	(void)err;
	struct walk *w = ctx;
	if (!w->in_data || file_off < w->file_end || file_off > w->real || len > w->real - file_off)
		abort();
	if (stream_off < w->last_off || stream_off > w->in_len || len > w->in_len - stream_off ||
	    memcmp(buf, w->in + stream_off, len) != 0)
		abort();
	w->file_end = file_off + len;
	w->got += len;
	if (w->got > w->want)
		abort();
	return 0;
}

static int on_end(void *ctx, struct strata_err **err)
{
	(void)err;
	struct walk *w = ctx;
	if (w->in_data && w->got != w->want)
		abort();
	w->in_data = false;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int pass = 0; pass < 3; pass++) {
		struct mem m = {data, size, 0};
		struct walk w = {.in = data, .in_len = size};
		struct overlay_tar_io io = {mem_read, pass == 1 ? mem_skip : NULL, &m};
		struct overlay_tar_callbacks cb = {
			.entry = on_entry, .data = pass == 1 ? NULL : on_data, .entry_end = pass == 1 ? NULL : on_end,
			.sparse_data = pass == 2 ? on_sparse : NULL,
		};
		struct strata_err *err = NULL;
		if (overlay_tar_walk_io(&io, &cb, &w, &err) < 0 && !err)
			abort(); /* a failure always says why */
		strata_err_free(err);
	}
	return 0;
}
