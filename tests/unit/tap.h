/* tests/unit/tap.h — a minimal TAP producer for the C unit tests.
 * ok(cond, fmt, …) prints "ok N - …" or "not ok N - …"; skip(fmt, …) prints "ok N # SKIP …";
 * tap_done() returns the exit status (1 when anything failed). */
#ifndef STRATA_TAP_H
#define STRATA_TAP_H
#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3))) static inline int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

__attribute__((format(printf, 1, 2))) static inline void skip(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("ok %d # SKIP ", ++tap_n);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
#endif
