/* overlay/err.c — the error object shared by every module, abort-on-OOM allocators, and the sweep
 * of temporaries left by dead processes (strata_remove_dead_temps). */
#include "overlay.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0) {
		fputs("strata: out of memory\n", stderr);
		abort();
	}
	return s;
}

int strata_err_set(struct strata_err **err, int code, const char *fmt, ...)
{
	if (!err || *err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	struct strata_err *e = xcalloc(1, sizeof(*e));
	e->code = code;
	e->severity = STRATA_SEV_IMAGE;
	e->msg = vformat(fmt, ap);
	va_end(ap);
	*err = e;
	return -1;
}

int strata_err_sys(struct strata_err **err, const char *fmt, ...)
{
	int saved = errno;
	if (!err || *err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *m = vformat(fmt, ap);
	va_end(ap);
	struct strata_err *e = xcalloc(1, sizeof(*e));
	e->code = STRATA_EIO;
	e->sys_errno = saved;
	e->msg = xasprintf("%s: %s", m, strerror(saved));
	*err = e;
	errno = saved;
	return -1;
}

bool strata_err_data_bad(int code)
{
	return code == STRATA_EDIGEST || code == STRATA_EFORMAT || code == STRATA_ELIMIT;
}

int strata_err_wrap(struct strata_err **err, const char *fmt, ...)
{
	if (!err || !*err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *ctx = vformat(fmt, ap);
	va_end(ap);
	char *m = xasprintf("%s: %s", ctx, (*err)->msg);
	free((*err)->msg);
	(*err)->msg = m;
	return -1;
}

void strata_err_free(struct strata_err *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}

static void oom(void)
{
	fputs("strata: out of memory\n", stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		oom();
	return d;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d)
		oom();
	return d;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = vformat(fmt, ap);
	va_end(ap);
	return s;
}

void strata_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void strata_remove_dead_temps(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t plen = prefix ? strlen(prefix) : 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *t = prefix ? (strncmp(de->d_name, prefix, plen) == 0 ? de->d_name + plen : NULL)
				       : strstr(de->d_name, ".tmp.");
		if (!t || strncmp(t, ".tmp.", 5) != 0)
			continue;
		long pid = strtol(t + 5, NULL, 10);
		if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(d);
}
