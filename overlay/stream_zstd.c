/* overlay/stream_zstd.c — the zstd half of the sequential decoder, and the seekable copy.
 *
 * Frame boundaries are parsed here (magic at each boundary), so every data frame start becomes
 * an access point (uoff, coff), skippable frames are stepped over and anything else after the
 * last frame is an error naming its offset. The decoder refuses windows above
 * 2^OVERLAY_ZSTD_WINDOWLOG_MAX (ELIMIT).
 *
 * Seekable copy: a stream whose frames are small (each <= 2*span of output) is its own seekmap.
 * One big frame (what `zstd` writes) cannot be resumed inside, so when a copy path is given the
 * output is re-compressed into independent frames of `span` bytes (level 1) into
 * path.tmp.PID.TID, renamed to path at finish. The decision is taken early: the output is kept
 * in memory (at most about 4*span) until either a frame grows past 2*span (→ copy, starting with
 * the kept bytes) or a frame ends with more than 2*span of output seen, all frames small (→ no
 * copy). A stream whose first frames are small and a later frame is huge is left without a copy
 * (its seekmap still works, reading that frame from its start). */
#include "overlay_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int overlay_zstd_stream_init(struct overlay_stream *st, struct strata_err **err)
{
	st->zd = ZSTD_createDCtx();
	if (!st->zd)
		return strata_err_set(err, STRATA_EIO, "zstd: cannot create context");
	size_t r = ZSTD_DCtx_setParameter(st->zd, ZSTD_d_windowLogMax, OVERLAY_ZSTD_WINDOWLOG_MAX);
	if (ZSTD_isError(r))
		return strata_err_set(err, STRATA_EIO, "zstd: %s", ZSTD_getErrorName(r));
	st->at_frame_start = true;
	st->copy = st->copy_path ? OVERLAY_COPY_UNDECIDED : OVERLAY_COPY_NO;
	return 0;
}

/* ---- seekable copy --------------------------------------------------------------------- */

static int copy_write_all(struct overlay_stream *st, const unsigned char *p, size_t n, struct strata_err **err)
{
	while (n > 0) {
		ssize_t w = write(st->copy_fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return strata_err_sys(err, "write %s", st->copy_tmp);
		}
		p += w;
		n -= (size_t)w;
		st->copy_written += (uint64_t)w;
	}
	return 0;
}

/* Feeds p[0..n) to the compressor; with ZSTD_e_end, also closes the frame. */
static int copy_compress(struct overlay_stream *st, const unsigned char *p, size_t n, ZSTD_EndDirective mode,
			 struct strata_err **err)
{
	ZSTD_inBuffer ib = {p, n, 0};
	for (;;) {
		ZSTD_outBuffer ob = {st->copy_out, st->copy_out_cap, 0};
		size_t rem = ZSTD_compressStream2(st->zc, &ob, &ib, mode);
		if (ZSTD_isError(rem))
			return strata_err_set(err, STRATA_EIO, "zstd: seekable copy: %s", ZSTD_getErrorName(rem));
		if (copy_write_all(st, st->copy_out, ob.pos, err) < 0)
			return -1;
		if (mode == ZSTD_e_end ? rem == 0 : ib.pos == ib.size)
			return 0;
	}
}

/* Appends output to the copy, cutting a frame every span bytes. */
static int copy_write(struct overlay_stream *st, const unsigned char *p, size_t n, struct strata_err **err)
{
	while (n > 0) {
		if (st->copy_frame_in == 0) /* a new frame starts here */
			overlay_stream_add_point(st->copy_map, &st->copy_pts_cap, st->copy_map->usize,
						 st->copy_written, 0, NULL, 0);
		uint64_t room = st->span - st->copy_frame_in;
		size_t take = n < room ? n : (size_t)room;
		if (copy_compress(st, p, take, ZSTD_e_continue, err) < 0)
			return -1;
		st->copy_frame_in += take;
		st->copy_map->usize += take;
		p += take;
		n -= take;
		if (st->copy_frame_in == st->span) {
			if (copy_compress(st, NULL, 0, ZSTD_e_end, err) < 0)
				return -1;
			st->copy_frame_in = 0;
		}
	}
	return 0;
}

static int copy_start(struct overlay_stream *st, struct strata_err **err)
{
	st->copy_tmp = xasprintf("%s.tmp.%d.%d", st->copy_path, (int)getpid(), (int)gettid());
	st->copy_fd = open(st->copy_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (st->copy_fd < 0)
		return strata_err_sys(err, "create %s", st->copy_tmp);
	st->zc = ZSTD_createCCtx();
	if (!st->zc)
		return strata_err_set(err, STRATA_EIO, "zstd: cannot create compression context");
	ZSTD_CCtx_setParameter(st->zc, ZSTD_c_compressionLevel, 1);
	ZSTD_CCtx_setParameter(st->zc, ZSTD_c_checksumFlag, 1);
	st->copy_out_cap = ZSTD_CStreamOutSize();
	st->copy_out = xmalloc(st->copy_out_cap);
	st->copy_map = xcalloc(1, sizeof(*st->copy_map));
	st->copy_map->comp = OVERLAY_COMP_ZSTD;
	return 0;
}

static void copy_drop_pending(struct overlay_stream *st)
{
	free(st->pending);
	st->pending = NULL;
	st->pending_len = st->pending_cap = 0;
}

/* Called with each piece of output, after frame_out was updated. */
static int copy_feed(struct overlay_stream *st, const unsigned char *p, size_t n, struct strata_err **err)
{
	if (st->copy == OVERLAY_COPY_NO || n == 0)
		return 0;
	if (st->copy == OVERLAY_COPY_YES)
		return copy_write(st, p, n, err);
	if (st->pending_len + n > st->pending_cap) {
		st->pending_cap = 2 * (st->pending_len + n);
		st->pending = xrealloc(st->pending, st->pending_cap);
	}
	memcpy(st->pending + st->pending_len, p, n);
	st->pending_len += n;
	if (st->frame_out <= 2 * st->span)
		return 0;
	st->copy = OVERLAY_COPY_YES;
	if (copy_start(st, err) < 0)
		return -1;
	int r = copy_write(st, st->pending, st->pending_len, err);
	copy_drop_pending(st);
	return r;
}

/* ---- decoding -------------------------------------------------------------------------- */

/* At a frame boundary: steps over skippable frames, records a data frame start, or ends. */
static int zstd_frame_start(struct overlay_stream *st, struct strata_err **err)
{
	ssize_t a = overlay_stream_fill(st, 8, err);
	if (a < 0)
		return -1;
	uint64_t at = overlay_stream_coff(st);
	if (a == 0) {
		STRATA_CHECK(st->cread > 0, err, STRATA_EFORMAT, "zstd: empty input");
		st->ended = true;
		return 0;
	}
	STRATA_CHECK(a >= 4, err, STRATA_EFORMAT, "zstd: truncated at offset %llu", (unsigned long long)st->cread);
	uint32_t magic = le32(st->in + st->in_pos);
	if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {
		STRATA_CHECK(a >= 8, err, STRATA_EFORMAT, "zstd: truncated at offset %llu",
			     (unsigned long long)st->cread);
		uint64_t skip = 8 + (uint64_t)le32(st->in + st->in_pos + 4);
		while (skip > 0) {
			a = overlay_stream_fill(st, 1, err);
			if (a < 0)
				return -1;
			STRATA_CHECK(a > 0, err, STRATA_EFORMAT, "zstd: truncated at offset %llu",
				     (unsigned long long)st->cread);
			size_t n = (uint64_t)a < skip ? (size_t)a : (size_t)skip;
			st->in_pos += n;
			skip -= n;
		}
		return 0;
	}
	STRATA_CHECK(magic == 0xFD2FB528u, err, STRATA_EFORMAT, "zstd: %s at offset %llu",
		     at == 0 ? "not zstd data" : "trailing garbage", (unsigned long long)at);
	overlay_stream_add_point(st->map, &st->pts_cap, st->uout, at, 0, NULL, 0);
	st->frame_out = 0;
	st->at_frame_start = false;
	return 0;
}

static int zstd_frame_end(struct overlay_stream *st)
{
	st->at_frame_start = true;
	if (st->frame_out > st->max_frame_out)
		st->max_frame_out = st->frame_out;
	if (st->copy == OVERLAY_COPY_UNDECIDED && st->uout > 2 * st->span) {
		st->copy = OVERLAY_COPY_NO;
		copy_drop_pending(st);
	}
	return 0;
}

ssize_t overlay_zstd_stream_read(struct overlay_stream *st, unsigned char *buf, size_t len, struct strata_err **err)
{
	size_t done = 0;
	while (done < len && !st->ended) {
		if (st->at_frame_start) {
			if (zstd_frame_start(st, err) < 0)
				return -1;
			continue;
		}
		if (st->in_pos == st->in_len && overlay_stream_fill(st, 1, err) < 0)
			return -1;
		const struct overlay_checkpoint *frame = &st->map->pts[st->map->n - 1];
		size_t in0 = st->in_len - st->in_pos;
		ZSTD_inBuffer ib = {st->in, st->in_len, st->in_pos};
		ZSTD_outBuffer ob = {buf + done, len - done, 0};
		size_t ret = ZSTD_decompressStream(st->zd, &ob, &ib);
		st->in_pos = ib.pos;
		if (ZSTD_isError(ret)) {
			STRATA_CHECK(ZSTD_getErrorCode(ret) != ZSTD_error_frameParameter_windowTooLarge, err,
				     STRATA_ELIMIT, "zstd: window too large (frame at offset %llu, limit %u MiB)",
				     (unsigned long long)frame->coff, 1u << (OVERLAY_ZSTD_WINDOWLOG_MAX - 20));
			return strata_err_set(err, STRATA_EFORMAT, "zstd: corrupt frame at offset %llu: %s",
					      (unsigned long long)frame->coff, ZSTD_getErrorName(ret));
		}
		st->frame_out += ob.pos;
		if (overlay_stream_account(st, buf + done, ob.pos, err) < 0 ||
		    copy_feed(st, buf + done, ob.pos, err) < 0)
			return -1;
		done += ob.pos;
		if (ret == 0)
			zstd_frame_end(st);
		else
			STRATA_CHECK(!(ob.pos == 0 && in0 == 0 && st->src_eof), err, STRATA_EFORMAT,
				     "zstd: truncated at offset %llu", (unsigned long long)st->cread);
	}
	return (ssize_t)done;
}

/* After the whole input was read: closes the copy decision and the copy itself. */
int overlay_zstd_stream_finish(struct overlay_stream *st, struct strata_err **err)
{
	if (st->map->n == 0) /* only skippable frames: an empty stream */
		overlay_stream_add_point(st->map, &st->pts_cap, 0, 0, 0, NULL, 0);
	if (st->copy == OVERLAY_COPY_UNDECIDED) {
		st->copy = OVERLAY_COPY_NO;
		copy_drop_pending(st);
	}
	if (st->copy != OVERLAY_COPY_YES)
		return 0;
	if (st->copy_frame_in > 0 && copy_compress(st, NULL, 0, ZSTD_e_end, err) < 0)
		return -1;
	if (fdatasync(st->copy_fd) < 0)
		return strata_err_sys(err, "sync %s", st->copy_tmp);
	int fd = steal_fd(&st->copy_fd);
	if (close(fd) < 0)
		return strata_err_sys(err, "close %s", st->copy_tmp);
	if (rename(st->copy_tmp, st->copy_path) < 0)
		return strata_err_sys(err, "rename %s", st->copy_tmp);
	free(st->copy_tmp);
	st->copy_tmp = NULL;
	st->copy_map->csize = st->copy_written;
	st->used_copy = true;
	return 0;
}

void overlay_zstd_stream_free(struct overlay_stream *st)
{
	ZSTD_freeDCtx(st->zd);
	ZSTD_freeCCtx(st->zc);
	free(st->pending);
	free(st->copy_out);
	if (st->copy_fd >= 0)
		close(st->copy_fd);
	if (st->copy_tmp)
		unlink(st->copy_tmp);
	free(st->copy_tmp);
}
