/* overlay/stream_seekable.c — the zstd seekable copy, built lazily: the seek table at the end of a
 * copy, opening a copy through it, building a copy from its blob, and the process-wide registry
 * that makes concurrent first readers of one blob wait for a single build.
 *
 * A stream that is one big zstd frame (what `zstd` writes) cannot be resumed inside it. The index
 * pass only records that such a layer needs a copy; the first reader that needs random access into
 * the layer calls overlay_zstd_seekable_open, which reuses the copy in the cache or builds it:
 * the blob is streamed once (overlay_stream, the copy's writer thread in stream_copy.c compresses
 * independent frames of `span` bytes, level 1), its sha256 and uncompressed size are checked
 * against what the index recorded, and only then is the copy renamed into place. Two processes
 * racing both build and rename (identical bytes); a copy that is truncated, or whose seek table
 * does not add up to its size and the recorded uncompressed size, is rebuilt, never trusted.
 *
 * Seek table: the copy ends with a skippable frame in zstd's seekable format (contrib
 * seekable_format): magic 0x184D2A5E, frame size, one entry per frame (compressed size,
 * decompressed size, both u32 little-endian; no per-frame checksum: every frame carries zstd's
 * own content checksum), then the footer (number of frames u32, descriptor byte 0, seekable magic
 * 0x8F92EAB1). `zstd -d` skips it, so the copy stays an ordinary zstd file.
 *
 * When the copy cannot be written (read-only or full cache), the layer is read from the blob
 * itself through the map the index recorded (each random read decodes the frame from its start:
 * slow but correct), said once on stderr.
 *
 * What is remembered for the life of the process, per copy: built (READY), the blob is not what the
 * index recorded (BLOB_BAD: digest, size or format), the cache cannot take a copy (NO_COPY). A
 * failure that may pass (the blob or the copy could not be read or opened: EIO, EMFILE…) is
 * returned to that caller only and the next caller tries again; a copy is removed only when it is
 * malformed, never because reading it failed. Temporaries of builds killed midway (named
 * <copy>.tmp.<pid>.…) are removed by the next build once their process is gone. */
#include "overlay_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define SEEK_SKIPPABLE_MAGIC 0x184D2A5Eu
#define SEEK_FOOTER_MAGIC 0x8F92EAB1u
#define SEEK_FOOTER_LEN 9u
#define SEEK_ENTRY_LEN 8u
#define SEEK_MAX_FRAMES (1u << 24)
#define SEEK_FRAME_MAX ((uint64_t)1 << 30) /* frame sizes must fit the table's u32 fields */
#define BUILD_CHUNK ((size_t)1 << 20)

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t overlay_seekable_frame_span(uint64_t span)
{
	return span == 0 ? OVERLAY_DEFAULT_SPAN : span > SEEK_FRAME_MAX ? SEEK_FRAME_MAX : span;
}

uint64_t overlay_seekmap_copy_span(const struct overlay_seekmap *m, uint64_t span)
{
	if (!m || m->comp != OVERLAY_COMP_ZSTD)
		return 0;
	if (span == 0)
		span = OVERLAY_DEFAULT_SPAN;
	for (size_t i = 0; i < m->n; i++) {
		uint64_t end = i + 1 < m->n ? m->pts[i + 1].uoff : m->usize;
		if (end - m->pts[i].uoff > 2 * span)
			return span;
	}
	return 0;
}

unsigned char *overlay_seekable_table(const struct overlay_seekmap *m, uint64_t data_end, size_t *len)
{
	size_t n = m->n;
	size_t body = n * SEEK_ENTRY_LEN + SEEK_FOOTER_LEN;
	unsigned char *t = xmalloc(8 + body);
	put_le32(t, SEEK_SKIPPABLE_MAGIC);
	put_le32(t + 4, (uint32_t)body);
	for (size_t i = 0; i < n; i++) {
		uint64_t c1 = i + 1 < n ? m->pts[i + 1].coff : data_end;
		uint64_t u1 = i + 1 < n ? m->pts[i + 1].uoff : m->usize;
		put_le32(t + 8 + i * SEEK_ENTRY_LEN, (uint32_t)(c1 - m->pts[i].coff));
		put_le32(t + 12 + i * SEEK_ENTRY_LEN, (uint32_t)(u1 - m->pts[i].uoff));
	}
	unsigned char *f = t + 8 + n * SEEK_ENTRY_LEN;
	put_le32(f, (uint32_t)n);
	f[4] = 0;
	put_le32(f + 5, SEEK_FOOTER_MAGIC);
	*len = 8 + body;
	return t;
}

/* The seekmap of the copy in file (from its seek table), checked against the file's size and the
 * uncompressed size usize. Owned, or NULL with *err (EFORMAT: not a complete copy). */
static struct overlay_seekmap *seekable_map_read(struct overlay_source *file, uint64_t usize, struct strata_err **err)
{
	uint64_t size = overlay_source_size(file);
	unsigned char foot[SEEK_FOOTER_LEN];
	if (size < 8 + SEEK_FOOTER_LEN) {
		strata_err_set(err, STRATA_EFORMAT, "seekable copy: %llu bytes, no seek table", (unsigned long long)size);
		return NULL;
	}
	ssize_t r = overlay_source_pread(file, foot, sizeof(foot), size - SEEK_FOOTER_LEN, err);
	if (r < 0)
		return NULL;
	uint32_t n = get_le32(foot);
	if (r != (ssize_t)sizeof(foot) || get_le32(foot + 5) != SEEK_FOOTER_MAGIC || (foot[4] & 0x7f) != 0 ||
	    n == 0 || n > SEEK_MAX_FRAMES) {
		strata_err_set(err, STRATA_EFORMAT, "seekable copy: no valid seek table at its end");
		return NULL;
	}
	size_t entry = (foot[4] & 0x80) ? 12 : SEEK_ENTRY_LEN; /* checksummed entries are read, not used */
	uint64_t tlen = 8 + (uint64_t)n * entry + SEEK_FOOTER_LEN;
	if (tlen > size) {
		strata_err_set(err, STRATA_EFORMAT, "seekable copy: seek table larger than the file");
		return NULL;
	}
	cleanup_free unsigned char *t = xmalloc((size_t)tlen);
	r = overlay_source_pread(file, t, (size_t)tlen, size - tlen, err);
	if (r < 0)
		return NULL;
	if ((uint64_t)r != tlen || get_le32(t) != SEEK_SKIPPABLE_MAGIC || get_le32(t + 4) != tlen - 8) {
		strata_err_set(err, STRATA_EFORMAT, "seekable copy: bad seek table header");
		return NULL;
	}
	struct overlay_seekmap *m = xcalloc(1, sizeof(*m));
	m->comp = OVERLAY_COMP_ZSTD;
	m->pts = xcalloc(n, sizeof(*m->pts));
	m->n = n;
	uint64_t c = 0, u = 0;
	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *e = t + 8 + (size_t)i * entry;
		m->pts[i].uoff = u;
		m->pts[i].coff = c;
		c += get_le32(e);
		u += get_le32(e + 4);
		if (get_le32(e) == 0 || get_le32(e + 4) == 0)
			c = UINT64_MAX / 2; /* an empty frame is never written: fails the check below */
	}
	m->usize = u;
	m->csize = size;
	if (c != size - tlen || u != usize) {
		strata_err_set(err, STRATA_EFORMAT,
			       "seekable copy: seek table covers %llu bytes (%llu uncompressed), file has %llu (%llu expected)",
			       (unsigned long long)c, (unsigned long long)u, (unsigned long long)(size - tlen),
			       (unsigned long long)usize);
		overlay_seekmap_free(m);
		return NULL;
	}
	return m;
}

/* A decomp source over the copy at path, or NULL with *err (ENOTFOUND when there is no copy). */
static struct overlay_source *seekable_open_copy(const char *path, uint64_t usize, struct strata_err **err)
{
	if (access(path, F_OK) < 0) {
		strata_err_set(err, STRATA_ENOTFOUND, "%s: no seekable copy", path);
		return NULL;
	}
	struct overlay_source *f = overlay_source_file_open(path, err);
	if (!f)
		return NULL;
	f->cache_copy = true;
	struct overlay_seekmap *m = seekable_map_read(f, usize, err);
	struct overlay_source *s = m ? overlay_source_decomp_new(f, m, err) : NULL;
	overlay_source_unref(f);
	if (!s)
		strata_err_wrap(err, "%s", path);
	return s;
}

/* Why a build failed: the blob is not what the index recorded (EDIGEST / EFORMAT / ELIMIT), the
 * blob could not be read (may pass), or the copy could not be written. */
enum build_fail { BUILD_BLOB_BAD, BUILD_BLOB_UNREADABLE, BUILD_COPY_UNWRITABLE };

/* The failure class of a blob-side error. */
static enum build_fail build_blob_fail(const struct strata_err *e)
{
	return e && strata_err_data_bad(e->code) ? BUILD_BLOB_BAD : BUILD_BLOB_UNREADABLE;
}

/* Streams blob into a new copy at path (tmp name, then rename), checking its sha256 and size.
 * On failure *why says whose fault it is (see enum build_fail). */
static int seekable_build(struct overlay_source *blob, const char *path, uint64_t span, const unsigned char sha[32],
			  uint64_t usize, enum build_fail *why, struct strata_err **err)
{
	*why = BUILD_COPY_UNWRITABLE;
	cleanup_free char *built = xasprintf("%s.tmp.%d.%d.built", path, (int)getpid(), (int)gettid());
	struct overlay_stream_opts so = {.span = overlay_seekable_frame_span(span), .seekable_copy_path = built};
	struct overlay_stream *st = overlay_stream_open(blob, OVERLAY_COMP_ZSTD, &so, err);
	if (!st)
		return -1;
	int rc = overlay_zstd_copy_force(st, err);
	cleanup_free unsigned char *buf = xmalloc(BUILD_CHUNK);
	while (rc == 0) {
		ssize_t got = overlay_stream_read(st, buf, BUILD_CHUNK, err);
		if (got < 0) {
			rc = -1;
			*why = overlay_stream_copy_failed(st) ? BUILD_COPY_UNWRITABLE : build_blob_fail(err ? *err : NULL);
		} else if (overlay_stream_usize(st) > usize) {
			rc = strata_err_set(err, STRATA_EFORMAT, "zstd blob decompresses to more than the %llu bytes indexed",
					    (unsigned long long)usize);
			*why = BUILD_BLOB_BAD;
		} else if (got == 0) {
			break;
		}
	}
	if (rc == 0 && (rc = overlay_stream_finish(st, err)) < 0)
		*why = overlay_stream_copy_failed(st) ? BUILD_COPY_UNWRITABLE : build_blob_fail(err ? *err : NULL);
	if (rc == 0) {
		unsigned char csha[32];
		char want[65], found[65];
		overlay_stream_digests(st, csha, NULL);
		if (memcmp(csha, sha, 32) != 0) {
			strata_hex(sha, 32, want);
			strata_hex(csha, 32, found);
			rc = strata_err_set(err, STRATA_EDIGEST, "blob sha256 is sha256:%s, the index recorded sha256:%s",
					    found, want);
			*why = BUILD_BLOB_BAD;
		} else if (overlay_stream_usize(st) != usize) {
			rc = strata_err_set(err, STRATA_EFORMAT, "zstd blob decompresses to %llu bytes, %llu indexed",
					    (unsigned long long)overlay_stream_usize(st), (unsigned long long)usize);
			*why = BUILD_BLOB_BAD;
		} else if (rename(built, path) < 0) {
			rc = strata_err_sys(err, "rename %s", built);
		}
	}
	overlay_stream_free(st); /* drops the stream's own temporary on failure */
	if (rc < 0)
		unlink(built);
	return rc;
}

/* ---- the registry: one build per copy path per process ------------------------------------- */

/* BUILDING: a thread owns the job; IDLE: the last attempt failed in a way that may pass, the next
 * caller tries again; the other three are final for the process. */
enum seek_state { SEEK_BUILDING = 0, SEEK_IDLE, SEEK_READY, SEEK_BLOB_BAD, SEEK_NO_COPY };

struct seek_job {
	char *path;
	enum seek_state state;
	struct strata_err *why; /* SEEK_BLOB_BAD: the build's error, returned to later callers */
	struct seek_job *next;
};

static pthread_mutex_t seek_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t seek_cv = PTHREAD_COND_INITIALIZER;
static struct seek_job *seek_jobs;
static unsigned long seek_builds; /* copies built by this process (for tests), under seek_mu */

static struct seek_job *seek_find_locked(const char *path)
{
	for (struct seek_job *j = seek_jobs; j; j = j->next)
		if (!strcmp(j->path, path))
			return j;
	return NULL;
}

unsigned long overlay_zstd_seekable_builds(void)
{
	pthread_mutex_lock(&seek_mu);
	unsigned long n = seek_builds;
	pthread_mutex_unlock(&seek_mu);
	return n;
}

static void err_copy(struct strata_err **err, const struct strata_err *e)
{
	if (err && !*err && e) {
		*err = xcalloc(1, sizeof(**err));
		**err = *e;
		(*err)->msg = xstrdup(e->msg ? e->msg : "");
	}
}

/* Opens or builds the copy for the job (the caller owns the job's BUILDING state); returns the
 * state reached: READY with *out, BLOB_BAD or IDLE with *err, NO_COPY (read the blob instead). */
static enum seek_state seek_run(struct overlay_source *blob, const char *path, uint64_t span,
				const unsigned char sha[32], uint64_t usize, struct overlay_source **out,
				struct strata_err **err)
{
	cleanup_err struct strata_err *e = NULL;
	*out = seekable_open_copy(path, usize, &e);
	if (*out)
		return SEEK_READY;
	if (e && e->code == STRATA_EFORMAT) { /* truncated or foreign: not trusted, rebuilt */
		unlink(path);
	} else if (e && e->code != STRATA_ENOTFOUND) { /* could not open or read it: may pass */
		err_copy(err, e);
		return SEEK_IDLE;
	}
	strata_err_free(steal_pointer(&e));
	{ /* builds killed midway left <copy>.tmp.<pid>…: remove those whose process is gone */
		const char *slash = strrchr(path, '/');
		cleanup_free char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
		strata_remove_dead_temps(*dir ? dir : "/", slash ? slash + 1 : path);
	}
	enum build_fail why = BUILD_COPY_UNWRITABLE;
	pthread_mutex_lock(&seek_mu);
	seek_builds++;
	pthread_mutex_unlock(&seek_mu);
	if (seekable_build(blob, path, span, sha, usize, &why, &e) < 0) {
		switch (why) {
		case BUILD_BLOB_BAD:
			err_copy(err, e);
			return SEEK_BLOB_BAD;
		case BUILD_BLOB_UNREADABLE:
			err_copy(err, e);
			return SEEK_IDLE;
		case BUILD_COPY_UNWRITABLE:
			break;
		}
		fprintf(stderr, "strata: cannot write the seekable copy %s (%s): random reads of this layer decode its"
				" single zstd frame from the start\n",
			path, e && e->msg ? e->msg : "?");
		return SEEK_NO_COPY;
	}
	*out = seekable_open_copy(path, usize, &e);
	if (*out)
		return SEEK_READY;
	if (e && e->code == STRATA_EFORMAT)
		return SEEK_NO_COPY; /* what was just written does not read back: do not loop on it */
	err_copy(err, e);
	return SEEK_IDLE;
}

struct overlay_source *overlay_zstd_seekable_open(struct overlay_source *blob, struct overlay_seekmap *blob_map,
						  const char *copy_path, uint64_t span, const unsigned char blob_sha256[32],
						  struct strata_err **err)
{
	if (!blob_map || blob_map->comp != OVERLAY_COMP_ZSTD) {
		overlay_seekmap_free(blob_map);
		strata_err_set(err, STRATA_EUSAGE, "seekable copy: not a zstd stream");
		return NULL;
	}
	uint64_t usize = blob_map->usize;
	struct overlay_source *s = NULL;
	pthread_mutex_lock(&seek_mu);
	struct seek_job *j = seek_find_locked(copy_path);
	while (j && j->state == SEEK_BUILDING)
		pthread_cond_wait(&seek_cv, &seek_mu);
	bool mine = false;
	if (!j) {
		j = xcalloc(1, sizeof(*j)); /* state SEEK_BUILDING */
		j->path = xstrdup(copy_path);
		j->next = seek_jobs;
		seek_jobs = j;
		mine = true;
	} else if (j->state == SEEK_IDLE) {
		j->state = SEEK_BUILDING;
		mine = true;
	}
	enum seek_state state = j->state;
	if (state == SEEK_BLOB_BAD)
		err_copy(err, j->why);
	pthread_mutex_unlock(&seek_mu);

	if (mine) {
		cleanup_err struct strata_err *e = NULL;
		state = seek_run(blob, copy_path, span, blob_sha256, usize, &s, &e);
		pthread_mutex_lock(&seek_mu);
		j->state = state;
		if (state == SEEK_BLOB_BAD)
			err_copy(&j->why, e);
		pthread_cond_broadcast(&seek_cv);
		pthread_mutex_unlock(&seek_mu);
		if (state == SEEK_BLOB_BAD || state == SEEK_IDLE)
			err_copy(err, e);
	} else if (state == SEEK_READY) {
		s = seekable_open_copy(copy_path, usize, err);
		if (!s) { /* removed or damaged since: read the blob itself rather than fail */
			strata_err_free(err ? steal_pointer(err) : NULL);
			state = SEEK_NO_COPY;
		}
	}
	if (state == SEEK_BLOB_BAD || state == SEEK_IDLE) {
		overlay_seekmap_free(blob_map);
		return NULL;
	}
	if (s) {
		overlay_seekmap_free(blob_map);
		return s;
	}
	return overlay_source_decomp_new(blob, blob_map, err);
}
