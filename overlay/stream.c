/* overlay/stream.c — the sequential one-pass decoder used by the index pass: buffered reading of
 * the compressed source (1 MiB chunks), sha256 of compressed and uncompressed bytes, the
 * decompression-bomb guard, raw pass-through and gzip with access points. zstd lives in
 * stream_zstd.c.
 *
 * gzip: inflate runs with Z_BLOCK straight into the caller's buffer and stops at every deflate
 * block boundary; at the first boundary after each `span` bytes of output it records an access
 * point: offsets, the bit position (data_type & 7) and the 32 KiB window (inflateGetDictionary),
 * stored raw-deflated at level 1. Each member start is an access point without a window.
 * After the last member only zero padding may follow. */
#include "overlay_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define WINDOW_SIZE 32768u
#define HUGE_PAGE ((size_t)2 << 20)

unsigned char *overlay_stream_buf_alloc(size_t len)
{
	void *p = NULL;
	len = (len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	if (posix_memalign(&p, HUGE_PAGE, len) != 0) {
		fputs("strata: out of memory\n", stderr);
		abort();
	}
	(void)madvise(p, len, MADV_HUGEPAGE); /* a hint: without THP, small pages as before */
	return p;
}

ssize_t overlay_stream_fill(struct overlay_stream *st, size_t n, struct strata_err **err)
{
	size_t avail = st->in_len - st->in_pos;
	if (avail >= n || st->src_eof)
		return (ssize_t)avail;
	if (st->in_pos > 0) {
		memmove(st->in, st->in + st->in_pos, avail);
		st->in_len = avail;
		st->in_pos = 0;
	}
	while (st->in_len < n && !st->src_eof) {
		ssize_t r = overlay_source_pread(st->src, st->in + st->in_len, OVERLAY_STREAM_INBUF - st->in_len,
						 st->cread, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			st->src_eof = true;
			break;
		}
		EVP_DigestUpdate(st->csha, st->in + st->in_len, (size_t)r);
		st->in_len += (size_t)r;
		st->cread += (uint64_t)r;
		__atomic_store_n(&st->progress, st->cread, __ATOMIC_RELAXED);
	}
	return (ssize_t)(st->in_len - st->in_pos);
}

int overlay_stream_account(struct overlay_stream *st, const unsigned char *p, size_t n, struct strata_err **err)
{
	if (n == 0)
		return 0;
	/* With a read-ahead thread the reader hashes what it takes (stream_ahead.c): the decoding
	 * thread is the busier one of the two. */
	if (!st->ahead)
		overlay_sha256_update(&st->usha, p, n);
	st->uout += n;
	if (st->max_ratio) {
		uint64_t c = overlay_stream_coff(st), limit;
		if (__builtin_mul_overflow(c, st->max_ratio, &limit) || __builtin_add_overflow(limit, 1u << 20, &limit))
			limit = UINT64_MAX;
		STRATA_CHECK(st->uout <= limit, err, STRATA_ELIMIT,
			     "%s: decompression bomb: %llu bytes out of %llu compressed (ratio limit %llu)",
			     overlay_compression_name(st->comp), (unsigned long long)st->uout,
			     (unsigned long long)c, (unsigned long long)st->max_ratio);
	}
	return 0;
}

void overlay_stream_add_point(struct overlay_seekmap *m, size_t *cap, uint64_t uoff, uint64_t coff, int bits,
			      unsigned char *window, size_t window_len)
{
	if (m->n > 0 && m->pts[m->n - 1].uoff == uoff) {
		/* the previous point's span is empty: the new one replaces it */
		struct overlay_checkpoint *last = &m->pts[m->n - 1];
		free(last->window);
		*last = (struct overlay_checkpoint){uoff, coff, bits, window_len, window};
		return;
	}
	if (m->n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		m->pts = xrealloc(m->pts, *cap * sizeof(*m->pts));
	}
	m->pts[m->n++] = (struct overlay_checkpoint){uoff, coff, bits, window_len, window};
}

/* ---- gzip ------------------------------------------------------------------------------ */

/* Records a block-boundary access point: compresses the current 32 KiB window. */
static int gzip_add_point(struct overlay_stream *st, struct strata_err **err)
{
	unsigned char dict[WINDOW_SIZE];
	uInt dlen = 0;
	if (inflateGetDictionary(&st->zs, dict, &dlen) != Z_OK || dlen == 0)
		return 0; /* no history to save: skip this boundary */
	if (deflateReset(&st->defl) != Z_OK)
		return strata_err_set(err, STRATA_EIO, "gzip: deflateReset failed");
	size_t cap = deflateBound(&st->defl, dlen);
	unsigned char *w = xmalloc(cap);
	st->defl.next_in = dict;
	st->defl.avail_in = dlen;
	st->defl.next_out = w;
	st->defl.avail_out = (uInt)cap;
	if (deflate(&st->defl, Z_FINISH) != Z_STREAM_END) {
		free(w);
		return strata_err_set(err, STRATA_EIO, "gzip: cannot compress a window");
	}
	size_t wlen = cap - st->defl.avail_out;
	overlay_stream_add_point(st->map, &st->pts_cap, st->uout, overlay_stream_coff(st), st->zs.data_type & 7,
				 xrealloc(w, wlen), wlen);
	return 0;
}

/* Between members: a new member, the end (possibly after zero padding), or garbage. */
static int gzip_member_start(struct overlay_stream *st, struct strata_err **err)
{
	ssize_t a = overlay_stream_fill(st, 2, err);
	if (a < 0)
		return -1;
	uint64_t at = overlay_stream_coff(st);
	const unsigned char *p = st->in + st->in_pos;
	if (a >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
		overlay_stream_add_point(st->map, &st->pts_cap, st->uout, at, 0, NULL, 0);
		if (inflateReset(&st->zs) != Z_OK)
			return strata_err_set(err, STRATA_EIO, "gzip: inflateReset failed");
		st->in_member = true;
		return 0;
	}
	STRATA_CHECK(st->map->n > 0, err, STRATA_EFORMAT, a == 0 ? "gzip: empty input" : "gzip: not gzip data");
	for (;;) { /* trailing zero padding (tape blocking) is tolerated */
		while (st->in_pos < st->in_len && st->in[st->in_pos] == 0)
			st->in_pos++;
		STRATA_CHECK(st->in_pos == st->in_len, err, STRATA_EFORMAT, "gzip: trailing garbage at offset %llu",
			     (unsigned long long)overlay_stream_coff(st));
		a = overlay_stream_fill(st, 1, err);
		if (a < 0)
			return -1;
		if (a == 0)
			break;
	}
	st->ended = true;
	return 0;
}

static ssize_t gzip_read(struct overlay_stream *st, unsigned char *buf, size_t len, struct strata_err **err)
{
	size_t done = 0;
	while (done < len && !st->ended) {
		if (!st->in_member) {
			if (gzip_member_start(st, err) < 0)
				return -1;
			continue;
		}
		if (st->in_pos == st->in_len && overlay_stream_fill(st, 1, err) < 0)
			return -1;
		size_t avail = st->in_len - st->in_pos, room = len - done;
		st->zs.next_in = st->in + st->in_pos;
		st->zs.avail_in = (uInt)avail;
		st->zs.next_out = buf + done;
		st->zs.avail_out = (uInt)(room < (1u << 30) ? room : (1u << 30));
		uInt out0 = st->zs.avail_out;
		int ret = inflate(&st->zs, Z_BLOCK);
		st->in_pos += avail - st->zs.avail_in;
		size_t produced = out0 - st->zs.avail_out;
		if (overlay_stream_account(st, buf + done, produced, err) < 0)
			return -1;
		done += produced;
		if (ret == Z_STREAM_END) {
			st->in_member = false;
			continue;
		}
		if (ret == Z_BUF_ERROR) {
			STRATA_CHECK(!(st->src_eof && st->in_pos == st->in_len), err, STRATA_EFORMAT,
				     "gzip: truncated at offset %llu", (unsigned long long)st->cread);
			continue;
		}
		STRATA_CHECK(ret == Z_OK, err, STRATA_EFORMAT, "gzip: corrupt data at offset %llu: %s",
			     (unsigned long long)overlay_stream_coff(st), st->zs.msg ? st->zs.msg : "error");
		if (produced == 0 && st->src_eof && st->in_pos == st->in_len && avail == 0)
			return strata_err_set(err, STRATA_EFORMAT, "gzip: truncated at offset %llu",
					      (unsigned long long)st->cread);
		const struct overlay_checkpoint *last = &st->map->pts[st->map->n - 1];
		if ((st->zs.data_type & 0xc0) == 0x80 && st->uout - last->uoff >= st->span &&
		    gzip_add_point(st, err) < 0)
			return -1;
	}
	return (ssize_t)done;
}

static int gzip_init(struct overlay_stream *st, struct strata_err **err)
{
	if (inflateInit2(&st->zs, 15 + 16) != Z_OK)
		return strata_err_set(err, STRATA_EIO, "gzip: inflateInit2 failed");
	st->zs_init = true;
	if (deflateInit2(&st->defl, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return strata_err_set(err, STRATA_EIO, "gzip: deflateInit2 failed");
	st->defl_init = true;
	return 0;
}

/* ---- common ---------------------------------------------------------------------------- */

struct overlay_stream *overlay_stream_open(struct overlay_source *src, enum overlay_compression comp,
					   const struct overlay_stream_opts *opts, struct strata_err **err)
{
	struct overlay_stream *st = xcalloc(1, sizeof(*st));
	st->src = overlay_source_ref(src);
	st->comp = comp;
	st->span = opts && opts->span ? opts->span : OVERLAY_DEFAULT_SPAN;
	st->max_ratio = opts ? opts->max_ratio : 0;
	st->copy_fd = -1;
	if (opts && opts->seekable_copy_path && comp == OVERLAY_COMP_ZSTD)
		st->copy_path = xstrdup(opts->seekable_copy_path);
	st->csha = EVP_MD_CTX_new();
	if (!st->csha)
		abort(); /* out of memory */
	if (!EVP_DigestInit_ex(st->csha, EVP_sha256(), NULL) || overlay_sha256_init(&st->usha) < 0) {
		strata_err_set(err, STRATA_EIO, "sha256 unavailable");
		overlay_stream_free(st);
		return NULL;
	}
	int r = 0;
	if (comp != OVERLAY_COMP_NONE) {
		st->in = overlay_stream_buf_alloc(OVERLAY_STREAM_INBUF);
		st->map = xcalloc(1, sizeof(*st->map));
		st->map->comp = comp;
	}
	if (comp == OVERLAY_COMP_GZIP)
		r = gzip_init(st, err);
	else if (comp == OVERLAY_COMP_ZSTD)
		r = overlay_zstd_stream_init(st, err);
	if (r < 0) {
		overlay_stream_free(st);
		return NULL;
	}
	return st;
}

static ssize_t raw_read(struct overlay_stream *st, unsigned char *buf, size_t len, struct strata_err **err)
{
	ssize_t r = overlay_source_pread(st->src, buf, len, st->cread, err);
	if (r < 0)
		return -1;
	if (r == 0)
		st->ended = true;
	/* An uncompressed blob's digest is its stream digest (the same bytes): with read-ahead the
	 * reader takes it, in a pass shared with the files' digests (stream_ahead.c). */
	if (!st->ahead)
		overlay_sha256_update(&st->usha, buf, (size_t)r);
	st->cread += (uint64_t)r;
	st->uout += (uint64_t)r;
	__atomic_store_n(&st->progress, st->cread, __ATOMIC_RELAXED);
	return r;
}

ssize_t overlay_stream_read(struct overlay_stream *st, void *buf, size_t len, struct strata_err **err)
{
	if (st->ahead)
		return overlay_stream_ahead_read(st, buf, len, err);
	return overlay_stream_decode(st, buf, len, err);
}

ssize_t overlay_stream_decode(struct overlay_stream *st, unsigned char *buf, size_t len, struct strata_err **err)
{
	if (st->ended || len == 0)
		return 0;
	if (len > (size_t)SSIZE_MAX)
		len = (size_t)SSIZE_MAX;
	switch (st->comp) {
	case OVERLAY_COMP_NONE:
		return raw_read(st, buf, len, err);
	case OVERLAY_COMP_GZIP:
		return gzip_read(st, buf, len, err);
	case OVERLAY_COMP_ZSTD:
		return overlay_zstd_stream_read(st, buf, len, err);
	}
	return strata_err_set(err, STRATA_EUSAGE, "bad compression");
}

int overlay_stream_finish(struct overlay_stream *st, struct strata_err **err)
{
	if (st->finished)
		return 0;
	cleanup_free unsigned char *scratch = xmalloc(OVERLAY_STREAM_INBUF);
	for (;;) {
		ssize_t r = overlay_stream_read(st, scratch, OVERLAY_STREAM_INBUF, err);
		if (r < 0)
			return -1;
		if (r == 0 && st->ahead) {
			overlay_stream_ahead_join(st); /* it ended: the stream's state is ours again */
			if (!st->ended)
				return strata_err_set(err, STRATA_EIO, "stream: decoding stopped early");
			break;
		}
		if (r == 0 && st->ended)
			break;
	}
	if (st->comp == OVERLAY_COMP_ZSTD && overlay_zstd_stream_finish(st, err) < 0)
		return -1;
	overlay_sha256_final(&st->usha, st->usum);
	if (st->comp == OVERLAY_COMP_NONE)
		memcpy(st->csum, st->usum, 32); /* the same bytes: one digest (raw_read) */
	else
		EVP_DigestFinal_ex(st->csha, st->csum, NULL);
	if (st->map) {
		st->map->usize = st->uout;
		st->map->csize = st->cread;
	}
	st->finished = true;
	return 0;
}

uint64_t overlay_stream_progress(const struct overlay_stream *st)
{
	return __atomic_load_n(&st->progress, __ATOMIC_RELAXED);
}

void overlay_stream_digests(const struct overlay_stream *st, unsigned char csha[32], unsigned char usha[32])
{
	if (csha)
		memcpy(csha, st->csum, 32);
	if (usha)
		memcpy(usha, st->usum, 32);
}

uint64_t overlay_stream_usize(const struct overlay_stream *st)
{
	return st->uout;
}

uint64_t overlay_stream_csize(const struct overlay_stream *st)
{
	return st->cread;
}

struct overlay_seekmap *overlay_stream_take_seekmap(struct overlay_stream *st)
{
	if (!st->finished)
		return NULL;
	if (st->used_copy)
		return steal_pointer(&st->copy_map);
	return steal_pointer(&st->map);
}

bool overlay_stream_used_seekable_copy(const struct overlay_stream *st)
{
	return st->used_copy;
}

void overlay_stream_free(struct overlay_stream *st)
{
	if (!st)
		return;
	overlay_stream_ahead_join(st); /* first: the decoding thread uses everything below */
	overlay_stream_ahead_free(st->ahead);
	if (st->zs_init)
		inflateEnd(&st->zs);
	if (st->defl_init)
		deflateEnd(&st->defl);
	overlay_zstd_stream_free(st);
	EVP_MD_CTX_free(st->csha);
	overlay_sha256_dispose(&st->usha);
	overlay_seekmap_free(st->map);
	overlay_seekmap_free(st->copy_map);
	free(st->in);
	free(st->copy_path);
	overlay_source_unref(st->src);
	free(st);
}
