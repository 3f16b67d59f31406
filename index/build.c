/* index/build.c — the index pass as a whole: where the index lives, whether an existing one can be
 * reused, building a new one in a temporary file with one worker per core and one writer, and
 * renaming it into place only when complete, so a killed run never leaves an index that a later
 * run trusts (a later run removes the dead run's temporary files). */
#include "index_int.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

void index_summary_clear(struct index_summary *s)
{
	free(s->layers);
	memset(s, 0, sizeof(*s));
}

static char *default_cache_dir(void)
{
	const char *x = getenv("XDG_CACHE_HOME");
	if (x && *x == '/')
		return xasprintf("%s/strata", x);
	const char *home = getenv("HOME");
	return xasprintf("%s/.cache/strata", home && *home ? home : "/tmp");
}

static int mkdir_p(const char *path, struct strata_err **err)
{
	cleanup_free char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return strata_err_sys(err, "%s", p);
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return strata_err_sys(err, "%s", p);
	return 0;
}

static void sha256_hex(const char *s, char out[65])
{
	unsigned char h[32];
	EVP_Digest(s, strlen(s), h, NULL, EVP_sha256(), NULL);
	strata_hex(h, 32, out);
}

char *index_default_path(const char *image_path, const struct overlay_select *sel, const char *cache_dir,
			 struct strata_err **err)
{
	char real[PATH_MAX];
	if (!realpath(image_path, real))
		return strata_err_sys(err, "%s", image_path), NULL;
	cleanup_free char *key = xasprintf("%s\n%s\n%s", real, sel && sel->platform ? sel->platform : "",
					   sel && sel->ref ? sel->ref : "");
	char hex[65];
	sha256_hex(key, hex);
	cleanup_free char *dir = cache_dir ? xstrdup(cache_dir) : default_cache_dir();
	return xasprintf("%s/%.32s.db", dir, hex);
}

/* What identifies the image file(s) as they were indexed: a change of any of these rebuilds. */
static char *image_identity(const char *path, const struct overlay_select *sel, struct strata_err **err)
{
	char real[PATH_MAX];
	struct stat st, st2;
	if (!realpath(path, real) || stat(real, &st) < 0)
		return strata_err_sys(err, "%s", path), NULL;
	memset(&st2, 0, sizeof(st2));
	if (S_ISDIR(st.st_mode)) {
		cleanup_free char *ij = xasprintf("%s/index.json", real);
		if (stat(ij, &st2) < 0)
			memset(&st2, 0, sizeof(st2));
	}
	return xasprintf("%s|%lld|%lld.%09ld|%llu|%llu|%lld|%lld.%09ld|%s|%s", real, (long long)st.st_size,
			 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)st.st_dev,
			 (unsigned long long)st.st_ino, (long long)st2.st_size, (long long)st2.st_mtim.tv_sec,
			 st2.st_mtim.tv_nsec, sel && sel->platform ? sel->platform : "", sel && sel->ref ? sel->ref : "");
}

static char *meta_get(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st = NULL;
	char *v = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

static bool meta_is(sqlite3 *db, const char *key, const char *want)
{
	cleanup_free char *v = meta_get(db, key);
	return v && !strcmp(v, want);
}

/* Fills the summary from a complete index. */
static void summary_from_db(sqlite3 *db, struct index_summary *sum)
{
	cleanup_free char *digest = meta_get(db, "image_digest");
	cleanup_free char *format = meta_get(db, "format");
	snprintf(sum->image_digest, sizeof(sum->image_digest), "%s", digest ? digest : "");
	snprintf(sum->format, sizeof(sum->format), "%s", format ? format : "");
	const char *keys[] = {"entries", "nodes", "problems"};
	uint64_t *vals[] = {&sum->entries, &sum->nodes, &sum->problems};
	for (size_t i = 0; i < 3; i++) {
		cleanup_free char *v = meta_get(db, keys[i]);
		*vals[i] = v ? strtoull(v, NULL, 10) : 0;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT coalesce(digest, tar_sha256), compression, compressed_size, size, entries"
				   " FROM layer ORDER BY position", -1, &st, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		sum->layers = xrealloc(sum->layers, (sum->nlayers + 1) * sizeof(*sum->layers));
		struct index_layer_summary *l = &sum->layers[sum->nlayers++];
		memset(l, 0, sizeof(*l));
		snprintf(l->digest, sizeof(l->digest), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(l->compression, sizeof(l->compression), "%s", (const char *)sqlite3_column_text(st, 1));
		l->compressed_size = (uint64_t)sqlite3_column_int64(st, 2);
		l->size = (uint64_t)sqlite3_column_int64(st, 3);
		l->entries = (uint64_t)sqlite3_column_int64(st, 4);
	}
	sqlite3_finalize(st);
}

/* True when the index at path is complete, of this schema and strata version, for this image
 * identity and rules, and every seekable copy it relies on is still there. */
static bool index_reusable(const char *path, const char *identity, const char *rules, struct index_summary *sum)
{
	sqlite3 *db = NULL;
	bool ok = false;
	/* A reader found a blob changed after indexing (issue 8): never reuse, rebuild. */
	cleanup_free char *mark = xasprintf("%s%s", path, INDEX_STALE_SUFFIX);
	if (access(mark, F_OK) == 0)
		return false;
	if (access(path, R_OK) < 0 || sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		goto out;
	char ver[16];
	snprintf(ver, sizeof(ver), "%d", INDEX_SCHEMA_VERSION);
	if (!meta_is(db, "complete", "1") || !meta_is(db, "schema_version", ver) ||
	    !meta_is(db, "strata_version", STRATA_VERSION) || !meta_is(db, "identity", identity) ||
	    !meta_is(db, "rules_hash", rules))
		goto out;
	sqlite3_stmt *st = NULL;
	ok = true;
	/* Every blob still readable and (when recorded) the size it had when indexed. */
	if (sqlite3_prepare_v2(db, "SELECT path, len FROM source WHERE kind = 'file'", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *p = (const char *)sqlite3_column_text(st, 0);
			struct stat bst;
			if (!p || access(p, R_OK) < 0 || stat(p, &bst) < 0 ||
			    (sqlite3_column_type(st, 1) != SQLITE_NULL &&
			     (uint64_t)bst.st_size != (uint64_t)sqlite3_column_int64(st, 1)))
				ok = false;
		}
		sqlite3_finalize(st);
	}
	if (ok)
		summary_from_db(db, sum);
out:
	sqlite3_close(db);
	return ok;
}

static int meta_put(sqlite3 *db, const char *key, const char *value, struct strata_err **err)
{
	cleanup_stmt sqlite3_stmt *st = NULL;
	if (index_sql_prepare(db, "INSERT OR REPLACE INTO meta VALUES(?, ?)", &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value ? value : "", -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "sqlite: %s", sqlite3_errmsg(db));
	return 0;
}

static int meta_put_u64(sqlite3 *db, const char *key, uint64_t v, struct strata_err **err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return meta_put(db, key, buf, err);
}

static int write_image_row(struct index_build *b, const char *image_path, struct strata_err **err)
{
	cleanup_stmt sqlite3_stmt *st = NULL;
	if (index_sql_prepare(b->db, "INSERT INTO image VALUES(1,?,?,?,?,?,?,?,?,?,?,?)", &st, err) < 0)
		return -1;
	char real[PATH_MAX];
	struct stat sb;
	if (!realpath(image_path, real) || stat(real, &sb) < 0)
		return strata_err_sys(err, "%s", image_path);
	size_t mlen = 0, clen = 0;
	const char *manifest = overlay_image_manifest_json(b->img, &mlen);
	const char *config = overlay_image_config_json(b->img, &clen);
	sqlite3_bind_text(st, 1, real, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, overlay_image_format_name(overlay_image_format(b->img)), -1, SQLITE_STATIC);
	const char *digest = overlay_image_digest(b->img), *cdigest = overlay_image_config_digest(b->img);
	const char *ref = overlay_image_ref(b->img), *platform = overlay_image_platform(b->img);
	if (digest)
		sqlite3_bind_text(st, 3, digest, -1, SQLITE_STATIC);
	if (cdigest)
		sqlite3_bind_text(st, 4, cdigest, -1, SQLITE_STATIC);
	if (ref)
		sqlite3_bind_text(st, 5, ref, -1, SQLITE_STATIC);
	if (platform)
		sqlite3_bind_text(st, 6, platform, -1, SQLITE_STATIC);
	if (manifest)
		sqlite3_bind_blob(st, 7, manifest, (int)mlen, SQLITE_STATIC);
	if (config)
		sqlite3_bind_blob(st, 8, config, (int)clen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)b->nlayers);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)sb.st_size);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec);
	if (sqlite3_step(st) != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "sqlite: %s", sqlite3_errmsg(b->db));
	return 0;
}

/* Runs the statements of INDEX_SCHEMA_INDEXES_SQL that index table (" ON table(" in their text),
 * in their order there. (Its statements hold no ';' but their ends.) */
static int index_create_on(sqlite3 *db, const char *table, struct strata_err **err)
{
	char on[64];
	snprintf(on, sizeof(on), " ON %s(", table);
	for (const char *sql = INDEX_SCHEMA_INDEXES_SQL; *sql;) {
		size_t n = strcspn(sql, ";");
		cleanup_free char *one = xstrndup(sql, n);
		if (strstr(one, on) && index_sql_exec(db, one, err) < 0)
			return -1;
		sql += n + (sql[n] == ';');
	}
	return 0;
}

/* The writer's heap in huge pages. The thread that runs the pass allocates SQLite's page cache
 * (the whole index: 14 MB for the zstd bench image), the views' trees and the catalog's lists
 * from its heap, 4 KiB page by 4 KiB page; a page fault costs about 11 µs on this VM, and these
 * were about 4,500 of a run's 8,900 faults, most of them at the serial end of the pass.
 * heap_reserve_begin takes HEAP_RESERVE in pieces below malloc's mmap threshold (so from the
 * heap), asks for huge pages over them (MADV_HUGEPAGE; this kernel gives them on madvise only)
 * and frees all but the highest, the guard: the others coalesce into one free block that the
 * guard keeps away from the heap's top (glibc trims only the top). malloc_trim then returns the
 * block's pages (the pieces' headers had faulted some in, and a 2 MiB range with any 4 KiB page
 * mapped gets no huge page), and the pass's allocations are cut from the block, faulting in
 * 2 MiB at a time. heap_reserve_end frees the guard (glibc may trim as usual). No malloc setting
 * changes. Only a hint: when the pieces are not contiguous, nothing is asked. */
#define HEAP_RESERVE (32u << 20)
#define HEAP_PIECE (64u << 10)
#define HEAP_PIECES (HEAP_RESERVE / HEAP_PIECE)

static void *heap_reserve_begin(void)
{
	const uintptr_t huge = 2u << 20;
	char **piece = malloc(HEAP_PIECES * sizeof(*piece));
	if (!piece)
		return NULL;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	size_t top = 0; /* the highest piece: kept as the guard */
	for (size_t i = 0; i < HEAP_PIECES; i++) {
		piece[i] = malloc(HEAP_PIECE);
		if (piece[i] && (uintptr_t)piece[i] < lo)
			lo = (uintptr_t)piece[i];
		if (piece[i] && (uintptr_t)piece[i] > hi) {
			hi = (uintptr_t)piece[i];
			top = i;
		}
	}
	void *guard = piece[top];
	uintptr_t a = (lo + huge - 1) & ~(huge - 1), e = hi & ~(huge - 1);
	if (hi > lo && hi - lo <= HEAP_RESERVE + HEAP_RESERVE / 8 && e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
	for (size_t i = 0; i < HEAP_PIECES; i++)
		if (i != top)
			free(piece[i]);
	free(piece);
	malloc_trim(0); /* drops the pieces' 4 KiB pages (their headers) so 2 MiB ones fault in */
	return guard;
}

static void heap_reserve_end(void *guard)
{
	free(guard);
}

static double now_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs the pass into the open temporary database. */
static int build_into(struct index_build *b, const char *image_path, const char *identity, struct strata_err **err)
{
	const struct index_build_opts *o = b->opts;
	char ver[16];
	snprintf(ver, sizeof(ver), "%d", INDEX_SCHEMA_VERSION);
	/* 16 KiB pages: a quarter of the B-tree pages and page writes of the default 4 KiB for the
	 * pass's bulk inserts (zstd bench image: paired A/B, median of 11, wall 0.95x, CPU 0.97x; the
	 * file grows 5%); point lookups through the mount's mmap touch only the cache lines they read. */
	if (index_sql_exec(b->db, "PRAGMA page_size=16384; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
				  " PRAGMA locking_mode=EXCLUSIVE;"
				  " PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY;", err) < 0 ||
	    index_sql_exec(b->db, INDEX_SCHEMA_SQL, err) < 0 || index_sql_exec(b->db, "BEGIN", err) < 0 ||
	    meta_put(b->db, "schema_version", ver, err) < 0 || meta_put(b->db, "strata_version", STRATA_VERSION, err) < 0 ||
	    meta_put(b->db, "identity", identity, err) < 0 ||
	    meta_put(b->db, "rules_hash", o->rules_hash ? o->rules_hash : "", err) < 0 ||
	    write_image_row(b, image_path, err) < 0 || index_attest_store(b->db, image_path, b->img, err) < 0)
		return -1;
	const struct index_scanner_ops *sc = o->scanner;
	if (sc && sc->init && sc->init(sc->ctx, b->db, err) < 0)
		return strata_err_wrap(err, "scanner");
	/* The entry indexes exist before the first entry row: the writer keeps them up to date as
	 * layers arrive, while a core is idle, instead of sorting every row at the serial end. The
	 * node index is made after the views (kept up to date, it costs the view inserts as much as
	 * building it does). Same indexes, same order in the schema, same rows. */
	if (index_create_on(b->db, "entry", err) < 0)
		return -1;

	int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (jobs < 1)
		jobs = 1;
	if ((size_t)jobs > b->nlayers)
		jobs = (int)(b->nlayers ? b->nlayers : 1);
	b->workers_running = jobs;
	pthread_t *th = xcalloc((size_t)jobs, sizeof(*th));
	int started = 0;
	for (; started < jobs; started++)
		if (pthread_create(&th[started], NULL, index_layer_worker, b) != 0)
			break;
	if (started < jobs) {
		pthread_mutex_lock(&b->lock);
		b->workers_running -= jobs - started;
		pthread_mutex_unlock(&b->lock);
		if (started == 0) {
			free(th);
			return strata_err_set(err, STRATA_EIO, "cannot start worker threads");
		}
	}
	int rc = index_writer_run(b, err);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	if (atomic_load(&b->failed) || rc < 0) {
		if (b->err) {
			strata_err_free(err ? *err : NULL);
			if (err)
				*err = steal_pointer(&b->err);
		}
		return -1;
	}
	if (index_merge_views(b, err) < 0 || index_create_on(b->db, "node", err) < 0)
		return -1;
	if (sc && sc->finish && sc->finish(sc->ctx, b->db, err) < 0)
		return strata_err_wrap(err, "scanner");
	/* Statistics for the query planner: the mount's queries are point lookups and must use the
	 * indexes, whatever the shape of the image. */
	if (index_sql_exec(b->db, "ANALYZE", err) < 0)
		return -1;
	const char *digest = overlay_image_digest(b->img);
	if (meta_put(b->db, "image_digest", digest ? digest : "", err) < 0 ||
	    meta_put(b->db, "format", overlay_image_format_name(overlay_image_format(b->img)), err) < 0 ||
	    meta_put_u64(b->db, "entries", b->entries, err) < 0 || meta_put_u64(b->db, "nodes", b->nodes, err) < 0 ||
	    meta_put_u64(b->db, "problems", b->problems, err) < 0 || meta_put(b->db, "complete", "1", err) < 0)
		return -1;
	return index_sql_exec(b->db, "COMMIT", err);
}

int index_build(const char *image_path, const struct index_build_opts *opts, struct index_summary *sum,
		struct strata_err **err)
{
	double t0 = now_seconds();
	memset(sum, 0, sizeof(*sum));
	cleanup_free char *cache_dir = opts->cache_dir ? xstrdup(opts->cache_dir) : default_cache_dir();
	cleanup_free char *path = opts->index_path ? xstrdup(opts->index_path)
						   : index_default_path(image_path, &opts->select, cache_dir, err);
	if (!path)
		return strata_err_wrap(err, "%s", image_path);
	cleanup_free char *identity = image_identity(image_path, &opts->select, err);
	if (!identity)
		return -1;
	snprintf(sum->path, sizeof(sum->path), "%s", path);
	cleanup_free char *seek_dir = xasprintf("%s/seekable", cache_dir);
	cleanup_free char *idx_dir = xstrdup(path);
	char *slash = strrchr(idx_dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(idx_dir, ".");
	if (!opts->force && index_reusable(path, identity, opts->rules_hash ? opts->rules_hash : "", sum)) {
		/* A run killed while rebuilding left its temporary behind: reuse removes it too. */
		strata_remove_dead_temps(idx_dir, NULL);
		sum->reused = true;
		sum->seconds = now_seconds() - t0;
		return 0;
	}
	if ((slash && mkdir_p(idx_dir, err) < 0) || mkdir_p(seek_dir, err) < 0)
		return strata_err_wrap(err, "cache");
	strata_remove_dead_temps(idx_dir, NULL);
	strata_remove_dead_temps(seek_dir, NULL);

	struct overlay_image *img = overlay_image_open(image_path, &opts->select, err);
	if (!img)
		return -1;
	void *heap_guard = heap_reserve_begin();
	struct index_build b = {.opts = opts, .img = img, .image_path = image_path, .cache_dir = cache_dir};
	b.nlayers = overlay_image_layer_count(img);
	b.streams = xcalloc(b.nlayers + 1, sizeof(*b.streams));
	b.layer_sums = xcalloc(b.nlayers + 1, sizeof(*b.layer_sums));
	for (size_t i = 0; i < b.nlayers; i++)
		b.total_compressed += overlay_image_layer(img, i)->compressed_size;
	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.cond_nonempty, NULL);
	pthread_cond_init(&b.cond_space, NULL);

	cleanup_free char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	unlink(tmp);
	int rc = -1;
	if (sqlite3_open_v2(tmp, &b.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		strata_err_set(err, STRATA_EIO, "%s: cannot create index: %s", tmp, sqlite3_errmsg(b.db));
	} else {
		rc = build_into(&b, image_path, identity, err);
	}
	index_merger_free(b.merger); /* a failed pass: its statements go before the connection */
	b.merger = NULL;
	if (sqlite3_close(b.db) != SQLITE_OK && rc == 0)
		rc = strata_err_set(err, STRATA_EIO, "%s: cannot close index", tmp);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = strata_err_sys(err, "%s", path);
	if (rc == 0) { /* the new index matches the blobs as they are now */
		cleanup_free char *mark = xasprintf("%s%s", path, INDEX_STALE_SUFFIX);
		unlink(mark);
	}
	if (rc < 0) {
		unlink(tmp);
		strata_err_wrap(err, "%s", image_path);
	} else {
		snprintf(sum->image_digest, sizeof(sum->image_digest), "%s",
			 overlay_image_digest(img) ? overlay_image_digest(img) : "");
		snprintf(sum->format, sizeof(sum->format), "%s", overlay_image_format_name(overlay_image_format(img)));
		sum->nlayers = b.nlayers;
		sum->layers = steal_pointer(&b.layer_sums);
		sum->entries = b.entries;
		sum->nodes = b.nodes;
		sum->problems = b.problems;
		sum->bytes_read = b.total_compressed + overlay_image_scan_bytes(img);
		sum->seconds = now_seconds() - t0;
	}
	while (b.head) {
		struct index_batch *n = b.head->next;
		index_batch_free(b.head);
		b.head = n;
	}
	strata_err_free(b.err);
	free(b.layer_sums);
	free(b.streams);
	pthread_mutex_destroy(&b.lock);
	pthread_cond_destroy(&b.cond_nonempty);
	pthread_cond_destroy(&b.cond_space);
	overlay_image_free(img);
	heap_reserve_end(heap_guard);
	return rc;
}
