/* tests/unit/overlay_test.h — helpers the byte-source unit tests share: a shell runner for the real
 * tools (gzip, zstd, pzstd, pigz), a xorshift generator whose state the caller owns (one per thread
 * where readers run at once), paths in the test's scratch directory and test data that compresses
 * unevenly (random blocks between text blocks). Header-only: each test is one translation unit. */
#ifndef STRATA_TESTS_OVERLAY_TEST_H
#define STRATA_TESTS_OVERLAY_TEST_H

#include "../../overlay/overlay.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* system(3) of the formatted command; its wait status. */
static int test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static int test_sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = NULL;
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	int r = system(cmd);
	free(cmd);
	return r;
}

/* Next value of the xorshift64 generator at *state (never 0). */
static inline uint64_t test_xorshift(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* dir/name, owned by the caller. */
static inline char *test_path_in(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* len bytes alternating random blocks and numbered text lines, blocks of blk_min to
 * blk_min + blk_spread - 1 bytes drawn from *state; written to path (aborts when it cannot be) and
 * returned, owned by the caller. */
static inline unsigned char *test_make_data(const char *path, size_t len, size_t blk_min, size_t blk_spread,
					    uint64_t *state)
{
	unsigned char *data = xmalloc(len ? len : 1);
	size_t pos = 0;
	int line = 0;
	while (pos < len) {
		size_t blk = blk_min + test_xorshift(state) % blk_spread;
		if (blk > len - pos)
			blk = len - pos;
		if (test_xorshift(state) % 2) {
			for (size_t i = 0; i < blk; i++)
				data[pos + i] = (unsigned char)test_xorshift(state);
		} else {
			for (size_t i = 0; i < blk;) {
				char l[128];
				int n = snprintf(l, sizeof(l), "line %d: the quick brown fox jumps over %llu lazy dogs\n",
						 line++, (unsigned long long)(test_xorshift(state) % 1000));
				for (int k = 0; k < n && i < blk; k++)
					data[pos + i++] = (unsigned char)l[k];
			}
		}
		pos += blk;
	}
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
	return data;
}

#endif
