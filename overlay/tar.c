/* overlay/tar.c — tar walking with libarchive.
 *
 * This file owns the translation from libarchive's view of a tar (archive_entry) to strata's
 * overlay_tar_entry, and the one fact libarchive does not hand out directly: where each entry's
 * data sits in the uncompressed stream. libarchive reads only the tar format here (no filters:
 * the bytes come already decompressed), through a small I/O interface (overlay_tar_io) so the same
 * walker serves overlay_stream (the index pass) and plain preads with seeking (member scans of an
 * uncompressed image archive). A stream decoded ahead on its own thread lends libarchive its
 * decoded chunks in place instead (overlay_stream_ahead_borrow): no copy of the layer's bytes.
 *
 * Invariant used for data_offset: right after archive_read_next_header() returns, the tar reader
 * has consumed exactly the header blocks (ustar header, pax/GNU extension headers and their
 * payloads, and for GNU sparse 1.0 the in-data sparse map), so archive_filter_bytes(a, 0) — bytes
 * consumed from the client stream — is the offset of the entry's first data byte. The unit test
 * checks this against pread of real GNU tar archives. A sparse entry's blocks go to sparse_data
 * with their offset in the file and in the stream (the map the index stores to serve holes).
 */
#include "overlay_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <string.h>

static inline void tar_archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}
#define cleanup_archive __attribute__((cleanup(tar_archive_freep)))

#define TAR_BUF_SIZE (128 * 1024)

struct tar_client {
	const struct overlay_tar_io *io;
	/* A stream decoded ahead: libarchive gets its ring chunks in place (lent until the next read
	 * or skip callback, which is all libarchive asks of a read callback's buffer), no copy. NULL:
	 * bytes come from io->read into buf. */
	struct overlay_stream *lend;
	unsigned char *buf;
	uint64_t total;          /* bytes handed to libarchive or skipped */
	struct strata_err *ioerr; /* the first I/O error, reported in preference to libarchive's */
};

/* The next bytes, at most max: lent by the stream, or read into c->buf (max <= TAR_BUF_SIZE). */
static ssize_t tar_client_next(struct tar_client *c, size_t max, const void **out)
{
	if (c->lend) {
		const unsigned char *p = NULL;
		ssize_t n = overlay_stream_ahead_borrow(c->lend, &p, max, &c->ioerr);
		*out = p;
		return n;
	}
	*out = c->buf;
	return c->io->read(c->io->ctx, c->buf, max < TAR_BUF_SIZE ? max : TAR_BUF_SIZE, &c->ioerr);
}

static la_ssize_t tar_client_read(struct archive *a, void *ctx, const void **out)
{
	(void)a;
	struct tar_client *c = ctx;
	ssize_t n = tar_client_next(c, c->lend ? (size_t)SSIZE_MAX : TAR_BUF_SIZE, out);
	if (n < 0) {
		if (!c->ioerr)
			strata_err_set(&c->ioerr, STRATA_EIO, "read failed");
		archive_set_error(a, EIO, "read failed");
		return -1;
	}
	c->total += (uint64_t)n;
	return n;
}

static la_int64_t tar_client_skip(struct archive *a, void *ctx, la_int64_t request)
{
	(void)a;
	struct tar_client *c = ctx;
	if (request <= 0)
		return 0;
	int64_t n;
	if (c->io->skip) {
		n = c->io->skip(c->io->ctx, (uint64_t)request, &c->ioerr);
	} else {
		n = 0;
		while (n < request) {
			const void *ignored;
			ssize_t r = tar_client_next(c, (size_t)(request - n), &ignored);
			if (r < 0) {
				n = -1;
				break;
			}
			if (r == 0)
				break;
			n += r;
		}
	}
	if (n < 0) {
		if (!c->ioerr)
			strata_err_set(&c->ioerr, STRATA_EIO, "skip failed");
		archive_set_error(a, EIO, "skip failed");
		return ARCHIVE_FATAL;
	}
	c->total += (uint64_t)n;
	return n;
}

const char *overlay_entry_type_name(enum overlay_entry_type t)
{
	switch (t) {
	case OVERLAY_T_REG: return "file";
	case OVERLAY_T_DIR: return "dir";
	case OVERLAY_T_SYMLINK: return "symlink";
	case OVERLAY_T_HARDLINK: return "hardlink";
	case OVERLAY_T_CHR: return "chardev";
	case OVERLAY_T_BLK: return "blockdev";
	case OVERLAY_T_FIFO: return "fifo";
	case OVERLAY_T_SOCK: return "socket";
	}
	return "unknown";
}

static enum overlay_entry_type tar_entry_type(struct archive_entry *ae)
{
	if (archive_entry_hardlink(ae))
		return OVERLAY_T_HARDLINK;
	switch (archive_entry_filetype(ae)) {
	case AE_IFDIR: return OVERLAY_T_DIR;
	case AE_IFLNK: return OVERLAY_T_SYMLINK;
	case AE_IFCHR: return OVERLAY_T_CHR;
	case AE_IFBLK: return OVERLAY_T_BLK;
	case AE_IFIFO: return OVERLAY_T_FIFO;
	case AE_IFSOCK: return OVERLAY_T_SOCK;
	default: return OVERLAY_T_REG;
	}
}

/* Converts the current libarchive error into ours, preferring an I/O error from the client. */
static int tar_fail(struct archive *a, struct tar_client *c, const char *what, const char *path,
		    uint64_t off, struct strata_err **err)
{
	if (c->ioerr) {
		*err = c->ioerr, c->ioerr = NULL;
		return strata_err_wrap(err, "tar: %s%s%s at offset %llu", what, path ? " of " : "",
				       path ? path : "", (unsigned long long)off);
	}
	const char *msg = archive_error_string(a);
	if (msg && strstr(msg, "runcated"))
		return strata_err_set(err, STRATA_EFORMAT, "tar: truncated archive%s%s at offset %llu",
				      path ? " in " : "", path ? path : "", (unsigned long long)off);
	return strata_err_set(err, STRATA_EFORMAT, "tar: %s%s%s at offset %llu", msg ? msg : what,
			      path ? " in " : "", path ? path : "", (unsigned long long)off);
}

/* Hands one data block of a sparse entry to cb->sparse_data with its offset in the file (off, from
 * libarchive's map) and in the stream: libarchive returns a block before consuming it, so the bytes
 * consumed so far are where it starts (true also when a Solaris-style map has holes stored in the
 * data, which libarchive consumes without returning). *file_end: where the previous block ended. */
static int tar_sparse_block(struct archive *a, const struct overlay_tar_entry *e, const struct overlay_tar_callbacks *cb,
			    void *ctx, const void *buf, size_t len, la_int64_t off, uint64_t *file_end,
			    struct strata_err **err)
{
	STRATA_CHECK(off >= 0 && (uint64_t)off >= *file_end && (uint64_t)off <= e->real_size &&
			     len <= e->real_size - (uint64_t)off,
		     err, STRATA_EFORMAT, "tar: sparse map of %s: a region at %lld goes back or past the size %llu",
		     e->path, (long long)off, (unsigned long long)e->real_size);
	*file_end = (uint64_t)off + len;
	return cb->sparse_data(ctx, (uint64_t)off, (uint64_t)archive_filter_bytes(a, 0), buf, len, err);
}

/* Streams one entry's data to the data callback (or lets libarchive skip it). */
static int tar_walk_data(struct archive *a, struct tar_client *c, const struct overlay_tar_entry *e,
			 const struct overlay_tar_callbacks *cb, void *ctx, struct strata_err **err)
{
	bool has_data = e->size > 0 && (e->type == OVERLAY_T_REG || e->type == OVERLAY_T_HARDLINK);
	bool to_sparse = e->sparse && cb->sparse_data;
	if (!has_data || (!cb->data && !to_sparse)) {
		if (archive_read_data_skip(a) < ARCHIVE_WARN)
			return tar_fail(a, c, "skipping data", e->path, e->data_offset, err);
		return 0;
	}
	uint64_t got = 0, file_end = 0;
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &len, &off);
		if (r == ARCHIVE_EOF) {
			/* A sparse map whose regions add up to more than the stored data, or a GNU
			 * sparse ('S') header with an empty map whose real size libarchive reports
			 * as the size (both found by tests/fuzz/tar_walk.c): e->size would describe
			 * bytes the tar does not hold. */
			STRATA_CHECK(got == e->size, err, STRATA_EFORMAT, "tar: %s%s claims %llu bytes, the tar holds %llu",
				     e->sparse ? "sparse map of " : "", e->path, (unsigned long long)e->size,
				     (unsigned long long)got);
			return 0;
		}
		if (r < ARCHIVE_WARN)
			return tar_fail(a, c, "reading data", e->path, (uint64_t)archive_filter_bytes(a, 0), err);
		got += len;
		if (len > 0 && to_sparse) {
			if (tar_sparse_block(a, e, cb, ctx, buf, len, off, &file_end, err) < 0)
				return -1;
		} else if (len > 0 && cb->data(ctx, buf, len, err) < 0) {
			return -1;
		}
	}
}

static int tar_walk_entry(struct archive *a, struct tar_client *c, struct archive_entry *ae,
			  const struct overlay_tar_callbacks *cb, void *ctx, struct strata_err **err)
{
	struct overlay_tar_entry e = {0};
	e.path = archive_entry_pathname(ae);
	if (!e.path)
		e.path = "";
	e.type = tar_entry_type(ae);
	if (e.type == OVERLAY_T_HARDLINK)
		e.link_target = archive_entry_hardlink(ae);
	else if (e.type == OVERLAY_T_SYMLINK)
		e.link_target = archive_entry_symlink(ae);
	e.mode = (uint32_t)(archive_entry_mode(ae) & 07777);
	e.uid = (uint64_t)archive_entry_uid(ae);
	e.gid = (uint64_t)archive_entry_gid(ae);
	e.uname = archive_entry_uname(ae);
	e.gname = archive_entry_gname(ae);
	e.mtime = (int64_t)archive_entry_mtime(ae);
	e.mtime_nsec = archive_entry_mtime_nsec(ae);
	e.data_offset = (uint64_t)archive_filter_bytes(a, 0);
	e.devmajor = (uint32_t)archive_entry_rdevmajor(ae);
	e.devminor = (uint32_t)archive_entry_rdevminor(ae);

	int nsparse = archive_entry_sparse_reset(ae);
	if (nsparse > 0 && (e.type == OVERLAY_T_REG || e.type == OVERLAY_T_HARDLINK)) {
		/* The tar stores only the data regions, back to back; libarchive gives the real size
		 * (holes included) as the entry's size. */
		e.sparse = true;
		la_int64_t so, sl;
		while (archive_entry_sparse_next(ae, &so, &sl) == ARCHIVE_OK)
			e.size += (uint64_t)sl;
		la_int64_t real = archive_entry_size(ae);
		e.real_size = real > 0 ? (uint64_t)real : 0;
	} else if (e.type == OVERLAY_T_REG || e.type == OVERLAY_T_HARDLINK) {
		la_int64_t sz = archive_entry_size(ae);
		e.size = sz > 0 ? (uint64_t)sz : 0;
		e.real_size = e.size;
	}

	int nx = archive_entry_xattr_reset(ae);
	cleanup_free struct overlay_xattr *xs = NULL;
	if (nx > 0) {
		xs = xcalloc((size_t)nx, sizeof(*xs));
		const char *name;
		const void *value;
		size_t len;
		while (e.nxattrs < (size_t)nx && archive_entry_xattr_next(ae, &name, &value, &len) == ARCHIVE_OK) {
			xs[e.nxattrs].name = name;
			xs[e.nxattrs].value = value;
			xs[e.nxattrs].len = len;
			e.nxattrs++;
		}
		e.xattrs = xs;
	}

	if (cb->entry && cb->entry(ctx, &e, err) < 0)
		return -1;
	if (tar_walk_data(a, c, &e, cb, ctx, err) < 0)
		return -1;
	if (cb->entry_end && cb->entry_end(ctx, err) < 0)
		return -1;
	return 0;
}

/* Walks the tar whose bytes c delivers. */
static int tar_walk_client(struct tar_client *c, const struct overlay_tar_callbacks *cb, void *ctx,
			   struct strata_err **err)
{
	cleanup_archive struct archive *a = archive_read_new();
	if (!a) {
		fputs("strata: out of memory\n", stderr);
		abort();
	}
	archive_read_support_format_tar(a);
	archive_read_set_read_callback(a, tar_client_read);
	archive_read_set_skip_callback(a, tar_client_skip);
	archive_read_set_callback_data(a, c);
	if (archive_read_open1(a) != ARCHIVE_OK) {
		if (c->total == 0 && !c->ioerr)
			return 0; /* an empty stream is an empty tar */
		int rc = tar_fail(a, c, "not a tar", NULL, 0, err);
		strata_err_free(c->ioerr);
		return rc;
	}

	struct archive_entry *ae;
	for (;;) {
		uint64_t hdr_off = ((uint64_t)archive_filter_bytes(a, 0) + 511) & ~(uint64_t)511;
		int r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) { /* RETRY: a damaged header */
			int rc = tar_fail(a, c, "bad header", NULL, hdr_off, err);
			strata_err_free(c->ioerr);
			return rc;
		}
		if (tar_walk_entry(a, c, ae, cb, ctx, err) < 0) {
			strata_err_free(c->ioerr);
			return -1;
		}
	}
	strata_err_free(c->ioerr);
	return 0;
}

int overlay_tar_walk_io(const struct overlay_tar_io *io, const struct overlay_tar_callbacks *cb, void *ctx,
			struct strata_err **err)
{
	cleanup_free unsigned char *buf = xmalloc(TAR_BUF_SIZE);
	struct tar_client c = {.io = io, .buf = buf};
	return tar_walk_client(&c, cb, ctx, err);
}

static ssize_t tar_stream_read(void *ctx, void *buf, size_t len, struct strata_err **err)
{
	return overlay_stream_read(ctx, buf, len, err);
}

int overlay_tar_walk(struct overlay_stream *st, const struct overlay_tar_callbacks *cb, void *ctx,
		     struct strata_err **err)
{
	struct overlay_tar_io io = {.read = tar_stream_read, .skip = NULL, .ctx = st};
	if (!st->ahead)
		return overlay_tar_walk_io(&io, cb, ctx, err);
	struct tar_client c = {.io = &io, .lend = st};
	return tar_walk_client(&c, cb, ctx, err);
}
