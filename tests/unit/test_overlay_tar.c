/* tests/unit/test_overlay_tar.c — overlay_tar_walk against archives written by GNU tar.
 *
 * Builds a directory with the awkward cases (a 150-byte name, a long symlink target, a hard link,
 * a security.capability xattr, a device node, a fifo, an empty file), archives it with GNU tar in
 * pax and gnu formats, walks it (raw and gzip/zstd-compressed), and checks every field against
 * lstat and the bytes at data_offset against the file content. Also: truncation, a corrupt header,
 * trailing bytes after the end-of-archive blocks, and a non-UTF-8 name kept byte for byte. Sparse
 * files of GNU tar -S (gnu, pax 0.0/0.1/1.0) through sparse_data rebuild the file. */
#include "../../overlay/overlay.h"
#include "tap.h"

#include <locale.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static char tmp[256];

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *cmd = NULL;
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	cleanup_free char *full = xasprintf("cd '%s' && { %s; } >/dev/null 2>&1", tmp, cmd);
	return system(full);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		buf = xrealloc(buf, cap = cap * 2 + 4096);
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	*len = n;
	return buf;
}

#define MAXE 64
struct seen {
	char *path, *link, *uname;
	enum overlay_entry_type type;
	uint32_t mode, devmajor, devminor;
	uint64_t uid, gid, size, data_offset;
	int64_t mtime;
	long nsec;
	char *data;
	size_t data_len;
	char *xname;
	char xval[64];
	size_t xlen;
	bool ended;
};
struct walk {
	struct seen e[MAXE];
	size_t n;
};

static int on_entry(void *ctx, const struct overlay_tar_entry *e, struct strata_err **err)
{
	(void)err;
	struct walk *w = ctx;
	if (w->n == MAXE)
		return 0;
	struct seen *s = &w->e[w->n++];
	s->path = xstrdup(e->path);
	s->link = e->link_target ? xstrdup(e->link_target) : NULL;
	s->uname = e->uname ? xstrdup(e->uname) : NULL;
	s->type = e->type, s->mode = e->mode, s->uid = e->uid, s->gid = e->gid;
	s->size = e->size, s->data_offset = e->data_offset, s->mtime = e->mtime, s->nsec = e->mtime_nsec;
	s->devmajor = e->devmajor, s->devminor = e->devminor;
	for (size_t i = 0; i < e->nxattrs; i++)
		if (strcmp(e->xattrs[i].name, "security.capability") == 0 && e->xattrs[i].len <= sizeof(s->xval)) {
			s->xname = xstrdup(e->xattrs[i].name);
			memcpy(s->xval, e->xattrs[i].value, e->xattrs[i].len);
			s->xlen = e->xattrs[i].len;
		}
	return 0;
}

static int on_data(void *ctx, const void *buf, size_t len, struct strata_err **err)
{
	(void)err;
	struct walk *w = ctx;
	struct seen *s = &w->e[w->n - 1];
	s->data = xrealloc(s->data, s->data_len + len);
	memcpy(s->data + s->data_len, buf, len);
	s->data_len += len;
	return 0;
}

static int on_end(void *ctx, struct strata_err **err)
{
	(void)err;
	struct walk *w = ctx;
	w->e[w->n - 1].ended = true;
	return 0;
}

static void walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->e[i].path), free(w->e[i].link), free(w->e[i].uname);
		free(w->e[i].data), free(w->e[i].xname);
	}
	memset(w, 0, sizeof(*w));
}

/* Walks file (compression by magic) into w; returns the walk's result, *err on failure. */
static int walk_file(const char *name, struct walk *w, bool with_data, struct strata_err **err)
{
	cleanup_free char *path = xasprintf("%s/%s", tmp, name);
	struct overlay_source *src = overlay_source_file_open(path, err);
	if (!src)
		return -1;
	unsigned char magic[16] = {0};
	ssize_t n = overlay_source_pread(src, magic, sizeof(magic), 0, err);
	struct overlay_stream *st = n < 0 ? NULL
				   : overlay_stream_open(src, overlay_detect_compression(magic, (size_t)n), NULL, err);
	overlay_source_unref(src);
	if (!st)
		return -1;
	struct overlay_tar_callbacks cb = {.entry = on_entry, .data = with_data ? on_data : NULL, .entry_end = on_end};
	int rc = overlay_tar_walk(st, &cb, w, err);
	if (rc == 0)
		rc = overlay_stream_finish(st, err);
	overlay_stream_free(st);
	return rc;
}

static const struct seen *find(const struct walk *w, const char *suffix)
{
	size_t sl = strlen(suffix);
	for (size_t i = 0; i < w->n; i++) {
		size_t pl = strlen(w->e[i].path);
		if (pl >= sl && strcmp(w->e[i].path + pl - sl, suffix) == 0)
			return &w->e[i];
	}
	return NULL;
}

static char longname[151], longtarget[301];

/* Checks every entry of the walk of `archive` against the files in tmp/src. raw_tar: the
 * uncompressed archive for the data_offset check. */
static void check_walk(const char *archive, const char *raw_tar, bool has_xattr, bool has_dev)
{
	struct walk w = {0};
	cleanup_err struct strata_err *err = NULL;
	int rc = walk_file(archive, &w, true, &err);
	if (!ok(rc == 0, "%s: walk succeeds%s%s", archive, err ? ": " : "", err ? err->msg : ""))
		return;
	size_t tl = 0;
	cleanup_free char *tarbytes = NULL;
	{
		cleanup_free char *p = xasprintf("%s/%s", tmp, raw_tar);
		tarbytes = slurp(p, &tl);
	}
	size_t files = 0, bad_stat = 0, bad_data = 0, bad_off = 0;
	for (size_t i = 0; i < w.n; i++) {
		const struct seen *s = &w.e[i];
		cleanup_free char *p = xasprintf("%s/src/%s", tmp, s->path);
		struct stat st;
		if (lstat(p, &st) < 0) {
			bad_stat++;
			continue;
		}
		if (s->mode != (st.st_mode & 07777) || s->uid != st.st_uid || s->gid != st.st_gid ||
		    s->mtime != st.st_mtim.tv_sec)
			bad_stat++;
		if (s->type == OVERLAY_T_REG) {
			files++;
			size_t fl = 0;
			cleanup_free char *content = slurp(p, &fl);
			if (s->size != fl || s->data_len != fl || (fl && memcmp(s->data, content, fl) != 0))
				bad_data++;
			if (s->data_offset + fl > tl || (fl && memcmp(tarbytes + s->data_offset, content, fl) != 0))
				bad_off++;
		}
		if (!s->ended)
			bad_data++;
	}
	ok(bad_stat == 0, "%s: mode, uid, gid, mtime match lstat for all %zu entries", archive, w.n);
	ok(files >= 4 && bad_data == 0, "%s: data of %zu files streams as on disk", archive, files);
	ok(bad_off == 0, "%s: data at data_offset of the uncompressed tar equals each file", archive);

	const struct seen *ln = find(&w, longname);
	ok(ln && ln->type == OVERLAY_T_REG && ln->size == 6 && strlen(ln->path) >= 150,
	   "%s: 150-byte name kept whole", archive);
	const struct seen *sl = find(&w, "longlink");
	ok(sl && sl->type == OVERLAY_T_SYMLINK && sl->link && strcmp(sl->link, longtarget) == 0 && sl->size == 0,
	   "%s: 300-byte symlink target kept whole", archive);
	const struct seen *hl = find(&w, "hard");
	ok(hl && hl->type == OVERLAY_T_HARDLINK && hl->link && strstr(hl->link, "regular") && hl->size == 0,
	   "%s: hard link to regular, no data", archive);
	const struct seen *em = find(&w, "empty");
	ok(em && em->type == OVERLAY_T_REG && em->size == 0 && em->data_len == 0, "%s: empty file", archive);
	const struct seen *fi = find(&w, "fifo");
	ok(fi && fi->type == OVERLAY_T_FIFO, "%s: fifo", archive);
	const struct seen *su = find(&w, "suid");
	ok(su && su->mode == 04755, "%s: setuid bit kept (mode %o)", archive, su ? su->mode : 0);
	const struct seen *dir = find(&w, "sub/");
	ok(dir && dir->type == OVERLAY_T_DIR, "%s: directory", archive);
	const struct seen *reg = find(&w, "regular");
	ok(reg && reg->uname && strcmp(reg->uname, "root") == 0, "%s: uname root", archive);
	if (has_dev) {
		const struct seen *dv = find(&w, "null2");
		ok(dv && dv->type == OVERLAY_T_CHR && dv->devmajor == 1 && dv->devminor == 3,
		   "%s: char device 1,3", archive);
	} else {
		skip("%s: no device node (mknod not permitted)", archive);
	}
	if (has_xattr) {
		static const unsigned char cap[] = {1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
		const struct seen *cx = find(&w, "capfile");
		char hex[2 * sizeof(cx->xval) + 1] = "";
		if (cx)
			strata_hex((const unsigned char *)cx->xval, cx->xlen, hex);
		ok(cx && cx->xname && cx->xlen == sizeof(cap) && memcmp(cx->xval, cap, sizeof(cap)) == 0,
		   "%s: security.capability xattr (%s)", archive, hex);
	}
	walk_free(&w);
}

/* Sparse entries through sparse_data (issue 3): each block lands at its file offset and holds the
 * tar's bytes at its stream offset. */
struct sparse_walk {
	char *path;
	bool sparse;
	uint64_t real_size, size, got, file_end;
	unsigned char *content; /* real_size bytes: the blocks at their offsets, zeros elsewhere */
	const char *tar;
	size_t tar_len;
	size_t bad_order, bad_stream, data_calls;
};

static int sp_entry(void *ctx, const struct overlay_tar_entry *e, struct strata_err **err)
{
	(void)err;
	struct sparse_walk *w = ctx;
	if (e->type != OVERLAY_T_REG || strcmp(e->path, "./s") != 0)
		return 0;
	w->path = xstrdup(e->path);
	w->sparse = e->sparse, w->real_size = e->real_size, w->size = e->size;
	w->content = xcalloc(1, e->real_size + 1);
	return 0;
}

static int sp_data(void *ctx, const void *buf, size_t len, struct strata_err **err)
{
	(void)buf, (void)len, (void)err;
	((struct sparse_walk *)ctx)->data_calls++;
	return 0;
}

static int sp_sparse(void *ctx, uint64_t file_off, uint64_t stream_off, const void *buf, size_t len,
		     struct strata_err **err)
{
	(void)err;
	struct sparse_walk *w = ctx;
	if (!w->content || file_off < w->file_end || file_off + len > w->real_size) {
		w->bad_order++;
		return 0;
	}
	if (stream_off + len > w->tar_len || memcmp(w->tar + stream_off, buf, len) != 0)
		w->bad_stream++;
	memcpy(w->content + file_off, buf, len);
	w->file_end = file_off + len;
	w->got += len;
	return 0;
}

static void check_sparse(const char *label, const char *tar_args)
{
	cleanup_free char *name = xasprintf("sparse-%s.tar", label);
	if (!ok(sh("tar -S %s -cf %s -C sp ./s", tar_args, name) == 0, "%s: GNU tar -S builds it", label))
		return;
	size_t tl = 0, fl = 0;
	cleanup_free char *tp = xasprintf("%s/%s", tmp, name);
	cleanup_free char *fp = xasprintf("%s/sp/s", tmp);
	cleanup_free char *tarbytes = slurp(tp, &tl);
	cleanup_free char *file = slurp(fp, &fl);
	struct sparse_walk w = {.tar = tarbytes, .tar_len = tl};
	cleanup_err struct strata_err *err = NULL;
	struct overlay_source *src = overlay_source_file_open(tp, &err);
	struct overlay_stream *st = src ? overlay_stream_open(src, OVERLAY_COMP_NONE, NULL, &err) : NULL;
	overlay_source_unref(src);
	struct overlay_tar_callbacks cb = {.entry = sp_entry, .data = sp_data, .sparse_data = sp_sparse};
	int rc = st ? overlay_tar_walk(st, &cb, &w, &err) : -1;
	overlay_stream_free(st);
	ok(rc == 0 && w.path && w.sparse, "%s: walk succeeds, the file is flagged sparse%s%s", label, err ? ": " : "",
	   err ? err->msg : "");
	ok(w.real_size == fl && w.got == w.size && w.size < fl,
	   "%s: real_size %llu is the file's size, %llu bytes stored, all of them handed out", label,
	   (unsigned long long)w.real_size, (unsigned long long)w.size);
	ok(w.bad_order == 0 && w.bad_stream == 0 && w.data_calls == 0,
	   "%s: blocks in file order, each the tar's bytes at its stream offset, none to data", label);
	ok(w.content && fl == w.real_size && memcmp(w.content, file, fl) == 0,
	   "%s: blocks at their file offsets, zeros elsewhere, rebuild the file", label);
	free(w.path);
	free(w.content);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "%s/strata-tar-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	memset(longname, 'n', 150);
	longname[150] = '\0';
	for (int i = 0; i < 300; i++)
		longtarget[i] = "abcdefghij/"[i % 11];
	longtarget[300] = '\0';
	int rc = sh("umask 022 && mkdir -p src/sub && cd src && printf 'hello\\n' > regular && : > empty "
		    "&& printf 'longer\\n' | head -c 6 > sub/%s && ln -s '%s' longlink && ln regular hard "
		    "&& mkfifo fifo && printf 'x' > suid && chmod 4755 suid "
		    "&& head -c 200000 /dev/urandom > big && seq 1 20000 > sub/numbers "
		    "&& printf 'cap' > capfile",
		    longname, longtarget);
	if (rc != 0) {
		printf("Bail out! cannot build the test tree\n");
		return 1;
	}
	bool has_xattr = sh("setfattr -n security.capability -v 0sAQAAAgAgAAAAAAAAAAAAAAAAAAA= src/capfile") == 0;
	bool has_dev = sh("mknod src/null2 c 1 3") == 0;
	/* A device node is not a file; it must never be read as one. */
	ok(sh("tar --format=pax --xattrs --xattrs-include='*' -cf pax.tar -C src . && "
	      "tar --format=gnu -cf gnu.tar -C src . && gzip -9 -c pax.tar > pax.tar.gz && "
	      "zstd -q -c pax.tar > pax.tar.zst") == 0,
	   "GNU tar, gzip and zstd build the archives");
	if (!has_xattr)
		skip("setfattr security.capability not permitted here");

	check_walk("pax.tar", "pax.tar", has_xattr, has_dev);
	check_walk("gnu.tar", "gnu.tar", false, has_dev);
	check_walk("pax.tar.gz", "pax.tar", has_xattr, has_dev);
	check_walk("pax.tar.zst", "pax.tar", has_xattr, has_dev);

	/* Walk without a data callback: entries still come, with the same offsets. */
	{
		struct walk w = {0};
		cleanup_err struct strata_err *err = NULL;
		int r = walk_file("pax.tar.gz", &w, false, &err);
		const struct seen *big = find(&w, "big");
		ok(r == 0 && big && big->size == 200000 && big->data_len == 0 && big->ended,
		   "walk without data callback skips data");
		walk_free(&w);
	}

	/* Truncated inside the data of "big". */
	{
		struct walk w = {0};
		cleanup_err struct strata_err *err = NULL;
		walk_file("pax.tar", &w, false, &err);
		const struct seen *big = find(&w, "big");
		uint64_t cut = big ? big->data_offset + 1000 : 0;
		walk_free(&w);
		sh("head -c %llu pax.tar > trunc.tar", (unsigned long long)cut);
		int r = walk_file("trunc.tar", &w, true, &err);
		ok(r < 0 && err && err->code == STRATA_EFORMAT && strstr(err->msg, "truncated"),
		   "truncated archive: EFORMAT truncated (%s)", err ? err->msg : "no error");
		walk_free(&w);
	}

	/* A corrupt header after a good entry: EFORMAT naming the offset. */
	{
		struct walk w = {0};
		cleanup_err struct strata_err *err = NULL;
		sh("printf hi > one && printf yo > two && tar --format=ustar -cf two.tar one two && "
		   "printf 'garbage!' | dd of=two.tar bs=1 seek=1024 conv=notrunc");
		int r = walk_file("two.tar", &w, true, &err);
		ok(r < 0 && err && err->code == STRATA_EFORMAT && strstr(err->msg, "at offset 1024"),
		   "corrupt second header: EFORMAT at offset 1024 (%s)", err ? err->msg : "no error");
		ok(w.n == 1, "the entry before it was delivered");
		walk_free(&w);
	}

	/* Bytes after the end-of-archive blocks are left alone (estargz puts its TOC there). */
	{
		struct walk w = {0};
		cleanup_err struct strata_err *err = NULL;
		sh("tar --format=ustar -cf tail.tar one && head -c 5000 /dev/urandom >> tail.tar");
		int r = walk_file("tail.tar", &w, true, &err);
		ok(r == 0 && w.n == 1, "walk stops at the end-of-archive marker (%s)", err ? err->msg : "ok");
		walk_free(&w);
	}

	/* A non-UTF-8 name in a pax archive keeps its bytes. */
	{
		struct walk w = {0};
		cleanup_err struct strata_err *err = NULL;
		sh("mkdir -p raw && printf z > \"raw/$(printf 'caf\\351')\" && printf z > \"raw/$(printf 'na\\303\\257ve')\" && "
		   "tar --format=pax -cf raw.tar -C raw . && tar --format=gnu -cf rawgnu.tar -C raw .");
		int r = walk_file("raw.tar", &w, true, &err);
		ok(r == 0 && find(&w, "caf\xe9") != NULL, "pax: Latin-1 name byte for byte (%s)", err ? err->msg : "ok");
		ok(find(&w, "na\xc3\xafve") != NULL, "pax: UTF-8 name byte for byte");
		walk_free(&w);
		r = walk_file("rawgnu.tar", &w, true, &err);
		ok(r == 0 && find(&w, "caf\xe9") != NULL && find(&w, "na\xc3\xafve") != NULL,
		   "gnu: non-UTF-8 and UTF-8 names byte for byte");
		walk_free(&w);
		/* The same under a UTF-8 locale (the strata command may set one). */
		if (setlocale(LC_ALL, "C.UTF-8")) {
			r = walk_file("raw.tar", &w, true, &err);
			ok(r == 0 && find(&w, "caf\xe9") != NULL && find(&w, "na\xc3\xafve") != NULL,
			   "pax under C.UTF-8: names byte for byte");
			walk_free(&w);
			setlocale(LC_ALL, "C");
		} else {
			skip("no C.UTF-8 locale");
		}
	}

	/* An empty stream is an empty archive; two zero blocks too. */
	{
		struct walk w = {0};
		cleanup_err struct strata_err *err = NULL;
		sh(": > empty.tar && head -c 1024 /dev/zero > zeros.tar");
		ok(walk_file("empty.tar", &w, true, &err) == 0 && w.n == 0, "empty stream: no entries");
		ok(walk_file("zeros.tar", &w, true, &err) == 0 && w.n == 0, "end-of-archive only: no entries");
	}

	/* Sparse files: a leading hole, pieces at odd offsets, a trailing hole. */
	if (sh("mkdir -p sp && for o in 70000 300001 1048576; do head -c 5000 /dev/urandom | "
	       "dd of=sp/s bs=5000 seek=$o oflag=seek_bytes conv=notrunc status=none; done && "
	       "truncate -s 2000000 sp/s") == 0) {
		check_sparse("gnu", "--format=gnu");
		check_sparse("pax-0.0", "--format=pax --sparse-version=0.0");
		check_sparse("pax-0.1", "--format=pax --sparse-version=0.1");
		check_sparse("pax-1.0", "--format=pax --sparse-version=1.0");
	} else {
		skip("cannot make a sparse file");
	}

	cleanup_free char *rm = xasprintf("rm -rf '%s'", tmp);
	if (system(rm) != 0)
		return 1;
	return tap_done();
}
