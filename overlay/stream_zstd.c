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
 * path.tmp.PID.TID, renamed to path at finish; the compression runs on a writer thread
 * (stream_copy.c) while this one keeps decoding. The decision is taken early: the output is kept
 * in memory (at most about 4*span) until either a frame grows past 2*span (→ copy, starting with
 * the kept bytes) or a frame ends with more than 2*span of output seen, all frames small (→ no
 * copy). A stream whose first frames are small and a later frame is huge is left without a copy
 * (its seekmap still works, reading that frame from its start).
 * The index pass no longer asks for a copy: it only records that a layer needs one, and
 * stream_seekable.c builds it on first random access with overlay_zstd_copy_force (a copy from the
 * first byte, no decision). */
#include "overlay_int.h"

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

/* ---- seekable copy (written by stream_copy.c on its own thread) ------------------------ */

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
		return overlay_copy_put(st, p, n, err);
	if (st->pending_len + n > st->pending_cap) {
		st->pending_cap = 2 * (st->pending_len + n);
		st->pending = xrealloc(st->pending, st->pending_cap);
	}
	memcpy(st->pending + st->pending_len, p, n);
	st->pending_len += n;
	if (st->frame_out <= 2 * st->span)
		return 0;
	st->copy = OVERLAY_COPY_YES;
	if (overlay_copy_start(st, err) < 0)
		return -1;
	int r = overlay_copy_put(st, st->pending, st->pending_len, err);
	copy_drop_pending(st);
	return r;
}

int overlay_zstd_copy_force(struct overlay_stream *st, struct strata_err **err)
{
	if (!st->copy_path || st->uout > 0)
		return strata_err_set(err, STRATA_EUSAGE, "seekable copy: no path, or the stream was already read");
	copy_drop_pending(st);
	st->copy = OVERLAY_COPY_YES;
	return overlay_copy_start(st, err);
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
	return overlay_copy_finish(st, err);
}

void overlay_zstd_stream_free(struct overlay_stream *st)
{
	overlay_copy_free(st); /* first: joins the copy writer */
	ZSTD_freeDCtx(st->zd);
	free(st->pending);
}
