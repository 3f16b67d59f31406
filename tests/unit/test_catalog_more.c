/* tests/unit/test_catalog_more.c — the Go build info probe of the capture scanner
 * (audit/catalog.c) and the parsers it feeds (audit/catalog_go.c):
 *  - a Go binary's bytes streamed through the catalog scanner in chunks of many sizes (1 byte
 *    up to 64 KiB, so the magic straddles chunk boundaries at every position) are captured from
 *    the (16-byte aligned) magic on, exactly as the binary holds them, and parse into the same packages as
 * the whole binary does. Binaries: the Go toolchain's own (gofmt, go) when golang-go is installed, and an ELF
 * file made here with a build info in Go's layout placed at several offsets;
 *  - unaligned copies of the magic before the build info are passed over;
 *  - a file that is not ELF is not captured even when it holds the magic;
 *  - a file of the Go toolchain parsed whole names the toolchain version `go version` prints
 *    (checked when both are installed). */
#include "catalog_test.h"
#include "tap.h"

#include <glob.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* Streams buf through a fresh catalog scanner as one file in chunks of `chunk` bytes; returns the
 * captured bytes (owned, *n set) or NULL when nothing was captured. */
static char *stream_capture(const char *buf, size_t len, size_t chunk, size_t *n)
{
	char *identity = NULL;
	struct strata_err *err = NULL;
	struct index_scanner_ops *ops = catalog_new_ops(NULL, &identity, &err);
	sqlite3 *db = NULL;
	sqlite3_open(":memory:", &db);
	char *out = NULL;
	*n = 0;
	if (ops->init(ops->ctx, db, &err) == 0) {
		void *st = ops->layer_begin(ops->ctx, 1);
		struct index_scan_entry e = {.layer = 1,
					     .entry_id = (1ll << 32) | 1,
					     .path = "usr/bin/app",
					     .type = OVERLAY_T_REG,
					     .size = len};
		if (ops->file_begin(st, &e))
			for (size_t off = 0; off < len; off += chunk)
				ops->file_data(st, buf + off, len - off < chunk ? len - off : chunk);
		ops->file_end(st);
		if (ops->layer_end(st, db, &err) == 0) {
			sqlite3_stmt *q = NULL;
			sqlite3_prepare_v2(db, "SELECT data FROM captured", -1, &q, NULL);
			if (sqlite3_step(q) == SQLITE_ROW) {
				*n = (size_t)sqlite3_column_bytes(q, 0);
				out = xmalloc(*n + 1);
				memcpy(out, sqlite3_column_blob(q, 0), *n);
			}
			sqlite3_finalize(q);
		}
		ops->layer_free(st);
	}
	strata_err_free(err);
	sqlite3_close(db);
	catalog_free_ops(ops);
	free(identity);
	return out;
}

/* "name version" lines of the packages, sorted by parse order; owned. */
static char *pkgs_text(const char *buf, size_t len)
{
	struct catalog_set s = {0};
	catalog_go_buildinfo(&s, buf, len, "/usr/bin/app");
	char *t = xstrdup("");
	for (size_t i = 0; i < s.n; i++) {
		char *u = xasprintf("%s%s %s\n", t, s.v[i].name, s.v[i].version ? s.v[i].version : "-");
		free(t);
		t = u;
	}
	catalog_set_clear(&s);
	return t;
}

static const size_t chunks[] = {1, 3, 7, 13, 14, 15, 4096, 65536};

/* Checks one binary at every chunk size. */
static void check_binary(const char *what, const char *buf, size_t len)
{
	/* The expected start: the first 16-byte aligned magic (the section's alignment). */
	long at = -1;
	for (size_t from = 0; from < len;) {
		long j = catalog_go_find_magic(buf + from, len - from);
		if (j < 0)
			break;
		if ((from + (size_t)j) % 16 == 0) {
			at = (long)(from + (size_t)j);
			break;
		}
		from += (size_t)j + 1;
	}
	if (!ok(at >= 0, "%s: has a build info", what))
		return;
	char *whole = pkgs_text(buf, len);
	ok(whole[0] != '\0', "%s parsed whole: %.*s…", what, (int)strcspn(whole, "\n"), whole);
	size_t want = len - (size_t)at < CATALOG_MAX_GOINFO ? len - (size_t)at : CATALOG_MAX_GOINFO;
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		if (chunks[i] < 64 && len > (4u << 20))
			continue; /* byte-sized chunks of a big binary take too long */
		size_t n = 0;
		char *cap = stream_capture(buf, len, chunks[i], &n);
		bool same = cap && n == want && !memcmp(cap, buf + at, n);
		char *streamed = cap ? pkgs_text(cap, n) : xstrdup("");
		ok(same && !strcmp(streamed, whole),
		   "%s in %zu-byte chunks: %zu bytes captured from the magic at %ld, same packages", what,
		   chunks[i], n, at);
		free(streamed);
		free(cap);
	}
	free(whole);
}

static void put_uvarint(char *b, size_t *o, size_t v)
{
	while (v >= 0x80) {
		b[(*o)++] = (char)(v | 0x80);
		v >>= 7;
	}
	b[(*o)++] = (char)v;
}

/* An ELF-looking file of len bytes with a build info in Go 1.18+'s inline layout at `at`. */
static char *make_binary(size_t len, size_t at)
{
	char *b = xmalloc(len);
	unsigned x = 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (char)(x >> 16);
	}
	memcpy(b,
	       "\x7f"
	       "ELF",
	       4);
	static const char ver[] = "go1.21.4";
	static const char mod[] =
	    "path\texample.com/tool\nmod\texample.com/tool\tv1.2.3\th1:abc=\n"
	    "dep\tgolang.org/x/sys\tv0.15.0\th1:def=\n=>\tgithub.com/fork/sys\tv0.15.1\th1:ghi=\n"
	    "build\tGOOS=linux\n";
	char info[512];
	size_t o = 0;
	memcpy(info, "\xff Go buildinf:", 14);
	info[14] = 8;
	info[15] = 2;
	memset(info + 16, 0, 16);
	o = 32;
	put_uvarint(info, &o, sizeof(ver) - 1);
	memcpy(info + o, ver, sizeof(ver) - 1);
	o += sizeof(ver) - 1;
	put_uvarint(info, &o, sizeof(mod) - 1 + 32);
	memcpy(info + o, "0123456789abcdef", 16); /* sentinels: the parser strips 16 bytes each side */
	o += 16;
	memcpy(info + o, mod, sizeof(mod) - 1);
	o += sizeof(mod) - 1;
	memcpy(info + o, "\n123456789abcdef", 16);
	o += 16;
	memcpy(b + at, info, o);
	return b;
}

/* catalog_go_find_aligned_magic against a plain search: random bytes with magics (and bare 0xff
 * bytes) planted at random places, for every phase of the buffer in its file. */
static void check_aligned_finder(void)
{
	static const char magic[] = "\xff Go buildinf:";
	unsigned char buf[4096];
	uint32_t r = 12345;
	int bad = 0, found = 0;
	for (int t = 0; t < 400; t++) {
		size_t len = 1 + (size_t)(t * 37 % (int)sizeof(buf));
		for (size_t i = 0; i < len; i++) {
			r = r * 1103515245u + 12345u;
			buf[i] = (r >> 16) % 7 == 0 ? 0xff : (unsigned char)(r >> 8);
		}
		for (int k = 0; k < t % 4; k++) {
			r = r * 1103515245u + 12345u;
			size_t at = (r >> 8) % len;
			size_t n = len - at < 14 ? len - at : 14;
			memcpy(buf + at, magic, n);
		}
		uint64_t file_off = (uint64_t)t * 7;
		long want = -1;
		for (size_t i = 0; i + 14 <= len; i++)
			if ((file_off + i) % 16 == 0 && !memcmp(buf + i, magic, 14)) {
				want = (long)i;
				break;
			}
		found += want >= 0;
		bad += catalog_go_find_aligned_magic(buf, len, file_off) != want;
	}
	ok(bad == 0 && found > 20,
	   "aligned magic finder: the plain search's answer in 400 buffers (%d with a hit, %d differ)", found,
	   bad);
}

int main(void)
{
	check_aligned_finder();
	/* Synthetic binaries: the magic at offsets around chunk boundaries. */
	static const size_t offsets[] = {96, 4080, 65520, 65536 * 3 - 16};
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		size_t len = 300000;
		char *b = make_binary(len, offsets[i]);
		char what[64];
		snprintf(what, sizeof(what), "synthetic (magic at %zu)", offsets[i]);
		check_binary(what, b, len);
		char *t = pkgs_text(b, len);
		ok(!strcmp(t, "example.com/tool v1.2.3\ngithub.com/fork/sys v0.15.1\nstdlib 1.21.4\n"),
		   "%s: main module, replaced dependency, stdlib", what);
		free(t);
		free(b);
	}
	/* A copy of the magic before the section (unaligned, as debug/buildinfo's variable would be)
	 * is passed over: the capture starts at the aligned build info. */
	{
		size_t len = 300000;
		char *b = make_binary(len, 65536 + 32);
		memcpy(b + 1000 + 5, "\xff Go buildinf:", 14);
		memcpy(b + 65536 - 6, "\xff Go buildinf:", 14);
		check_binary("synthetic with unaligned magic copies before it", b, len);
		size_t n = 0;
		char *cap = stream_capture(b, len, 4096, &n);
		ok(cap && n > 32 && !memcmp(cap, b + 65536 + 32, 32),
		   "the capture starts at the aligned build info");
		free(cap);
		free(b);
	}
	/* Not ELF: not captured, even with a build info inside. */
	{
		char *b = make_binary(200000, 5000);
		b[0] = 'X';
		size_t n = 0;
		char *cap = stream_capture(b, 200000, 4096, &n);
		ok(cap == NULL, "a file without the ELF magic is not captured");
		free(cap);
		free(b);
	}
	/* The Go toolchain's own binaries, when golang-go is installed. */
	glob_t g = {0};
	if (glob("/usr/lib/go-*/bin/gofmt", 0, NULL, &g) == 0 && g.gl_pathc) {
		size_t len = 0;
		char *b = catalog_test_slurp(g.gl_pathv[0], &len);
		if (b) {
			check_binary(g.gl_pathv[0], b, len);
			/* `go version FILE` prints "FILE: go1.19.8". */
			char *cmd = xasprintf("go version %s 2>/dev/null", g.gl_pathv[0]);
			FILE *p = popen(cmd, "r");
			char line[512] = "";
			if (p && fgets(line, sizeof(line), p)) {
				char *v = strstr(line, ": go");
				char *t = pkgs_text(b, len);
				if (v) {
					v[strcspn(v, "\n")] = '\0';
					char *want = xasprintf("stdlib %s\n", v + 4);
					ok(strstr(t, want) != NULL,
					   "%s: stdlib version as `go version` prints (%s)", g.gl_pathv[0],
					   v + 2);
					free(want);
				}
				free(t);
			} else {
				skip("go version not runnable");
			}
			if (p)
				pclose(p);
			free(cmd);
			free(b);
		}
	} else {
		skip("no Go toolchain binary (/usr/lib/go-*/bin/gofmt): apt-get install golang-go");
	}
	globfree(&g);
	return tap_done();
}
