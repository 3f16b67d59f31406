/* overlay/inflate_isal.c — the gzip decoder of the serving path: Intel ISA-L's inflate resumed at
 * an access point of a seekmap (overlay/stream.c records them, overlay/source_decomp.c calls this
 * for every gzip span it decodes, cached or through its cursor).
 *
 * Why two inflaters: the index pass (stream.c) keeps zlib, because it needs inflate(Z_BLOCK) to
 * stop at every deflate block boundary and report the bit position there to take access points;
 * ISA-L 2.30 has no such stop. Serving only decodes spans between known points, where ISA-L's
 * inflate is about 4x faster than zlib's on this machine (igzip -dc vs gzip -dc of the bench
 * layer: 0.46 s vs 1.83 s CPU). Deflate decoding is exact, so the bytes are identical to zlib's
 * (test_inflate_isal compares them span by span).
 *
 * Resuming at a point (see struct overlay_checkpoint):
 *   - member start (window_len == 0): crc_flag ISAL_GZIP, so ISA-L parses the gzip header and, if
 *     the span runs to the member's end, checks the CRC-32 and size in the trailer (as zlib's
 *     windowBits 31 does on the zlib path);
 *   - block boundary: raw deflate (ISAL_DEFLATE); the 32 KiB window (stored raw-deflated by zlib)
 *     is inflated with ISA-L's stateless inflate and set as the dictionary; a point at bit
 *     offset `bits` of byte coff-1 leaves the high `bits` bits of that byte unread: they are put
 *     into the state's bit buffer (read_in/read_in_length, least significant bit first, as
 *     ISA-L's own input loader fills it), and input continues at coff.
 * A span never crosses a member end (every member start is an access point), so reaching the end
 * of the deflate stream before the span is full is corrupt data, as on the zlib path. */
#include "overlay_int.h"

#include <isa-l/igzip_lib.h>
#include <string.h>

#define WINDOW_SIZE 32768u

struct overlay_isal {
	struct inflate_state st; /* ~87 KiB: the history buffer lives inside */
	unsigned char win[WINDOW_SIZE];
};

struct overlay_isal *overlay_isal_new(void)
{
	struct overlay_isal *z = xmalloc(sizeof(*z));
	isal_inflate_init(&z->st);
	return z;
}

void overlay_isal_free(struct overlay_isal *z)
{
	free(z);
}

static const char *isal_error_name(int ret)
{
	switch (ret) {
	case ISAL_INVALID_BLOCK:
		return "invalid block";
	case ISAL_INVALID_SYMBOL:
		return "invalid symbol";
	case ISAL_INVALID_LOOKBACK:
		return "invalid distance too far back";
	case ISAL_INVALID_WRAPPER:
		return "invalid gzip header";
	case ISAL_UNSUPPORTED_METHOD:
		return "unknown compression method";
	case ISAL_INCORRECT_CHECKSUM:
		return "incorrect data check";
	case ISAL_NEED_DICT:
		return "needs a dictionary";
	case ISAL_OUT_OVERFLOW:
		return "output overflow";
	case ISAL_END_INPUT:
		return "truncated";
	default:
		return "error";
	}
}

/* Inflates pt's stored window into z->win; sets *wlen. */
static int isal_window_inflate(struct overlay_isal *z, const struct overlay_checkpoint *pt, uint32_t *wlen,
			       struct strata_err **err)
{
	STRATA_CHECK(pt->window_len <= WINDOW_SIZE * 2, err, STRATA_EFORMAT,
		     "gzip: checkpoint window at offset %llu is %zu bytes", (unsigned long long)pt->uoff,
		     pt->window_len);
	isal_inflate_init(&z->st);
	z->st.crc_flag = ISAL_DEFLATE;
	z->st.next_in = pt->window;
	z->st.avail_in = (uint32_t)pt->window_len;
	z->st.next_out = z->win;
	z->st.avail_out = WINDOW_SIZE;
	int ret = isal_inflate_stateless(&z->st);
	STRATA_CHECK(ret == ISAL_DECOMP_OK, err, STRATA_EFORMAT, "gzip: corrupt checkpoint window at offset %llu (%s)",
		     (unsigned long long)pt->uoff, isal_error_name(ret));
	*wlen = WINDOW_SIZE - z->st.avail_out;
	return 0;
}

int overlay_isal_start(struct overlay_isal *z, const struct overlay_checkpoint *pt, unsigned char prime,
		       struct strata_err **err)
{
	uint32_t wlen = 0;
	if (pt->window_len && isal_window_inflate(z, pt, &wlen, err) < 0)
		return -1;
	isal_inflate_init(&z->st);
	z->st.crc_flag = pt->window_len ? ISAL_DEFLATE : ISAL_GZIP;
	if (pt->bits) {
		z->st.read_in = (uint64_t)(prime >> (8 - pt->bits));
		z->st.read_in_length = pt->bits;
	}
	if (wlen && isal_inflate_set_dict(&z->st, z->win, wlen) != COMP_OK)
		return strata_err_set(err, STRATA_EFORMAT, "gzip: bad checkpoint window at offset %llu",
				      (unsigned long long)pt->coff);
	return 0;
}

ssize_t overlay_isal_inflate(struct overlay_isal *z, const unsigned char *in, size_t in_len, size_t *used,
			     unsigned char *out, size_t n, bool *ended, struct strata_err **err)
{
	struct inflate_state *st = &z->st;
	uint32_t ilen = in_len < UINT32_MAX ? (uint32_t)in_len : UINT32_MAX;
	uint32_t olen = n < (1u << 30) ? (uint32_t)n : (1u << 30);
	st->next_in = (uint8_t *)(uintptr_t)in; /* ISA-L only reads through it */
	st->avail_in = ilen;
	st->next_out = out;
	st->avail_out = olen;
	int ret = isal_inflate(st);
	*used = ilen - st->avail_in;
	*ended = st->block_state == ISAL_BLOCK_FINISH;
	if (ret != ISAL_DECOMP_OK)
		return strata_err_set(err, STRATA_EFORMAT, "%s", isal_error_name(ret));
	return (ssize_t)(olen - st->avail_out);
}
