/* tests/unit/test_span_cache.c — the span cache's budget (overlay/span_cache.c): a buffer asked
 * for when the budget is full evicts only as many least recently used spans as it needs, and the
 * bytes held never exceed the budget. */
#include "../../overlay/overlay_int.h"
#include "tap.h"

/* Caches span (id, idx) of len bytes, as a decoder does, and lets go of it. */
static void put(uint64_t id, size_t idx, size_t len)
{
	bool fill = false;
	struct overlay_span *e = overlay_span_acquire(id, idx, &fill);
	ok(e && fill, "span %zu: a placeholder to fill", idx);
	if (!e)
		return;
	size_t cap = 0;
	unsigned char *p = overlay_span_buf_get(len, &cap);
	ok(p && cap >= len, "span %zu: a buffer of at least %zu bytes", idx, len);
	overlay_span_complete(e, p, len, cap);
	overlay_span_release(e);
}

int main(void)
{
	const size_t MiB = (size_t)1 << 20;
	overlay_cache_set_budget(12 * MiB);
	put(1, 0, 4 * MiB);
	put(1, 1, 4 * MiB);
	put(1, 2, 4 * MiB); /* the budget is full: three 4 MiB spans */
	ok(overlay_span_known(1, 0) && overlay_span_known(1, 1) && overlay_span_known(1, 2), "three spans cached");

	/* A short span (a stream's last) needs 1 MiB: only the least recently used span goes. */
	size_t cap = 0;
	unsigned char *p = overlay_span_buf_get(MiB, &cap);
	ok(p != NULL, "a 1 MiB buffer with the budget full");
	ok(!overlay_span_known(1, 0), "the least recently used span was evicted");
	ok(overlay_span_known(1, 1) && overlay_span_known(1, 2), "the two others are still cached");
	overlay_span_buf_release(p, cap);

	/* A span of the full size again reuses what was freed; the others stay. */
	put(1, 3, 4 * MiB);
	ok(overlay_span_known(1, 3), "a new 4 MiB span cached");
	ok(overlay_span_known(1, 2), "the most recent older span is still cached");
	return tap_done();
}
