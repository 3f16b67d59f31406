/* overlay/source.c — the byte-source object: reference counting, file and range sources,
 * dispatch of pread to the right kind, introspection, seekmaps, and compression detection.
 * Decompressing sources live in source_decomp.c. A source is immutable after construction
 * (only refs changes), so concurrent preads need no locking here. */
#include "overlay_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

void overlay_seekmap_free(struct overlay_seekmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->pts[i].window);
	free(m->pts);
	free(m);
}

/* Opens path read-only; the size is taken once, at open (layers do not change under us). */
struct overlay_source *overlay_source_file_open(const char *path, struct strata_err **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		strata_err_sys(err, "open %s", path);
		if (err && *err && errno == ENOENT)
			(*err)->code = STRATA_ENOTFOUND;
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		strata_err_sys(err, "stat %s", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		strata_err_set(err, STRATA_EUSAGE, "%s: not a regular file", path);
		return NULL;
	}
	struct overlay_source *s = xcalloc(1, sizeof(*s));
	s->refs = 1;
	s->kind = OVERLAY_SRC_FILE;
	s->size = (uint64_t)st.st_size;
	s->fd = steal_fd(&fd);
	s->path = xstrdup(path);
	return s;
}

/* A window of base. The window is taken as given; reads past the base's end come back short. */
struct overlay_source *overlay_source_range_new(struct overlay_source *base, uint64_t off, uint64_t len)
{
	struct overlay_source *s = xcalloc(1, sizeof(*s));
	s->refs = 1;
	s->kind = OVERLAY_SRC_RANGE;
	s->fd = -1;
	s->base = overlay_source_ref(base);
	s->off = off;
	s->size = len;
	return s;
}

struct overlay_source *overlay_source_ref(struct overlay_source *s)
{
	if (s)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

void overlay_source_unref(struct overlay_source *s)
{
	while (s) {
		if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
			return;
		struct overlay_source *base = s->base;
		if (s->kind == OVERLAY_SRC_DECOMP) {
			overlay_span_forget(s->id); /* its cached spans */
			overlay_decomp_cursor_free(s->cursor);
		}
		if (s->fd >= 0)
			close(s->fd);
		free(s->path);
		overlay_seekmap_free(s->map);
		free(s);
		s = base; /* iterative, so deep stacks do not recurse */
	}
}

static ssize_t file_pread(const struct overlay_source *s, unsigned char *buf, size_t len, uint64_t off,
			  struct strata_err **err)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(s->fd, buf + done, len - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return strata_err_sys(err, "read %s at offset %llu", s->path,
					      (unsigned long long)(off + done));
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t overlay_source_pread(struct overlay_source *s, void *buf, size_t len, uint64_t off, struct strata_err **err)
{
	if (off >= s->size || len == 0)
		return 0;
	if (len > s->size - off)
		len = (size_t)(s->size - off);
	if (len > (size_t)SSIZE_MAX)
		len = (size_t)SSIZE_MAX;
	switch (s->kind) {
	case OVERLAY_SRC_FILE:
		return file_pread(s, buf, len, off, err);
	case OVERLAY_SRC_RANGE:
		return overlay_source_pread(s->base, buf, len, s->off + off, err);
	case OVERLAY_SRC_DECOMP:
		return overlay_decomp_pread(s, buf, len, off, err);
	}
	return strata_err_set(err, STRATA_EUSAGE, "bad source kind");
}

uint64_t overlay_source_size(const struct overlay_source *s)
{
	return s->size;
}

enum overlay_source_kind overlay_source_kind(const struct overlay_source *s)
{
	return s->kind;
}

struct overlay_source *overlay_source_base(const struct overlay_source *s)
{
	return s->base;
}

const char *overlay_source_path(const struct overlay_source *s)
{
	return s->path;
}

bool overlay_source_is_cache_copy(const struct overlay_source *s)
{
	return s->kind == OVERLAY_SRC_FILE && s->cache_copy;
}

void overlay_source_range(const struct overlay_source *s, uint64_t *off, uint64_t *len)
{
	if (off)
		*off = s->kind == OVERLAY_SRC_RANGE ? s->off : 0;
	if (len)
		*len = s->size;
}

const struct overlay_seekmap *overlay_source_seekmap(const struct overlay_source *s)
{
	return s->map;
}

/* gzip: 1f 8b; zstd: a frame (28 b5 2f fd) or a skippable frame (5? 2a 4d 18) first. */
enum overlay_compression overlay_detect_compression(const unsigned char *magic, size_t n)
{
	if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
		return OVERLAY_COMP_GZIP;
	if (n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
		return OVERLAY_COMP_ZSTD;
	if (n >= 4 && (magic[0] & 0xf0) == 0x50 && magic[1] == 0x2a && magic[2] == 0x4d && magic[3] == 0x18)
		return OVERLAY_COMP_ZSTD;
	return OVERLAY_COMP_NONE;
}

const char *overlay_compression_name(enum overlay_compression c)
{
	switch (c) {
	case OVERLAY_COMP_NONE:
		return "raw";
	case OVERLAY_COMP_GZIP:
		return "gzip";
	case OVERLAY_COMP_ZSTD:
		return "zstd";
	}
	return "unknown";
}
