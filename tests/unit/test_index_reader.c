/* tests/unit/test_index_reader.c — the read side of the index against a tiny index written here by
 * hand with sqlite3 (schema from index_int.h), over a real tar made by `tar` and gzipped by
 * `gzip`, so it does not depend on the builder. Layer 1 is the raw tar, layer 2 the same tar
 * gzipped (a decomp source with one access point at the member start). */
#include "../../index/index_int.h"
#include "../../index/reader_int.h"
#include "tap.h"

#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

static char dir[64];

static int run(const char *cmd)
{
	int rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

/* Offsets of data of each member of a ustar archive, by name. */
struct member {
	char name[101];
	uint64_t off, size;
};
static int tar_members(const char *path, struct member *m, int max)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	unsigned char h[512];
	uint64_t pos = 0;
	int n = 0;
	while (n < max && fread(h, 1, 512, f) == 512 && h[0]) {
		memcpy(m[n].name, h, 100);
		m[n].name[100] = 0;
		m[n].size = strtoull((const char *)h + 124, NULL, 8);
		m[n].off = pos + 512;
		pos += 512 + (m[n].size + 511) / 512 * 512;
		fseek(f, (long)pos, SEEK_SET);
		n++;
	}
	fclose(f);
	return n;
}
static const struct member *member(const struct member *m, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(m[i].name, name))
			return &m[i];
	return NULL;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *e = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK) {
		fprintf(stderr, "sql: %s: %s\n", sql, e);
		exit(1);
	}
}

/* entry ids: layer*10 + k: k=1 a, 2 hello, 3 big, 4 link, 5 hard */
static void add_entries(sqlite3 *db, int layer, const struct member *m, int n)
{
	const struct member *hello = member(m, n, "a/hello.txt"), *big = member(m, n, "a/big.bin");
	char *sql = sqlite3_mprintf(
		"INSERT INTO entry(id,layer,seq,path,raw_path,type,mode,uid,gid,size,mtime,mtime_nsec,link_target,data_offset,sha256) VALUES"
		"(%d,%d,1,'a','a/','dir',488,0,0,0,1000,0,NULL,0,NULL),"
		"(%d,%d,2,'a/hello.txt','a/hello.txt','file',416,1000,1001,%llu,2000,5,NULL,%llu,'%s'),"
		"(%d,%d,3,'a/big.bin','a/big.bin','file',420,0,0,%llu,3000,0,NULL,%llu,NULL),"
		"(%d,%d,4,'link','link','symlink',511,0,0,0,4000,0,'a/hello.txt',0,NULL),"
		"(%d,%d,5,'a/hard','a/hard','hardlink',416,0,0,0,2000,0,'a/hello.txt',0,NULL);",
		layer * 10 + 1, layer, layer * 10 + 2, layer, (unsigned long long)hello->size,
		(unsigned long long)hello->off, "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447",
		layer * 10 + 3, layer, (unsigned long long)big->size, (unsigned long long)big->off, layer * 10 + 4,
		layer, layer * 10 + 5, layer);
	exec_sql(db, sql);
	sqlite3_free(sql);
	sql = sqlite3_mprintf("INSERT INTO node VALUES"
			      "(%d,0,'',1,'',NULL,NULL,'dir',3),"
			      "(%d,1,'a',2,'a',%d,%d,'dir',2),"
			      "(%d,2,'hello.txt',3,'a/hello.txt',%d,%d,'file',2),"
			      "(%d,2,'hard',3,'a/hard',%d,%d,'file',2),"
			      "(%d,2,'big.bin',4,'a/big.bin',%d,%d,'file',1),"
			      "(%d,1,'link',5,'link',%d,%d,'symlink',1);",
			      layer, layer, layer * 10 + 1, layer * 10 + 1, layer, layer * 10 + 2, layer * 10 + 2,
			      layer, layer * 10 + 5, layer * 10 + 2, layer, layer * 10 + 3, layer * 10 + 3, layer,
			      layer * 10 + 4, layer * 10 + 4);
	exec_sql(db, sql);
	sqlite3_free(sql);
}

static char idx_path[128], tar_path[128], gz_path[128];

static int make_index(const char *path, const char *complete)
{
	struct member m[16];
	int n = tar_members(tar_path, m, 16);
	if (n < 3)
		return -1;
	struct stat st_tar, st_gz;
	stat(tar_path, &st_tar);
	stat(gz_path, &st_gz);
	sqlite3 *db;
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	exec_sql(db, INDEX_SCHEMA_SQL);
	char *sql = sqlite3_mprintf(
		"INSERT INTO meta VALUES('schema_version','%d'),('complete','%q');"
		"INSERT INTO image(id,path,format,digest,manifest,config,layers) VALUES(1,'img.tar','oci-dir','sha256:feed',"
		"'{\"schemaVersion\":2}','{\"architecture\":\"amd64\"}',2);"
		"INSERT INTO source VALUES(1,'file',NULL,'%q',NULL,NULL,NULL,NULL,NULL),"
		"(2,'file',NULL,'%q',NULL,NULL,NULL,NULL,NULL),"
		"(3,'range',2,NULL,0,%lld,NULL,NULL,NULL),"
		"(4,'decomp',3,NULL,NULL,NULL,'gzip',%lld,%lld);"
		"INSERT INTO checkpoint VALUES(4,0,0,0,0,NULL);"
		"INSERT INTO layer(position,digest,diff_id,compression,tar_source,digest_ok,diff_id_ok) VALUES"
		"(1,'sha256:aaa','sha256:aaa','raw',1,1,1),(2,NULL,'sha256:bbb','gzip',4,NULL,0);"
		"INSERT INTO view VALUES(0,'empty',NULL),(1,'merged',1),(2,'merged',2),(3,'layer',1),(4,'layer',2);"
		"INSERT INTO xattr VALUES(22,'security.capability',x'0100000200200000');",
		INDEX_SCHEMA_VERSION, complete, tar_path, gz_path, (long long)st_gz.st_size, (long long)st_tar.st_size,
		(long long)st_gz.st_size);
	exec_sql(db, sql);
	sqlite3_free(sql);
	add_entries(db, 1, m, n);
	add_entries(db, 2, m, n);
	exec_sql(db, "INSERT INTO node VALUES(2,1,'syn',6,'syn',NULL,NULL,'dir',2);");
	exec_sql(db, INDEX_SCHEMA_INDEXES_SQL);
	sqlite3_close(db);
	return 0;
}

struct names {
	char buf[256];
	int count;
	int stop_after;
	int64_t last_cookie;
};
static int collect(void *ctx, const char *name, const struct index_node *n, int64_t cookie)
{
	(void)n;
	struct names *c = ctx;
	strcat(c->buf, name);
	strcat(c->buf, " ");
	c->last_cookie = cookie;
	return ++c->count == c->stop_after;
}

static int xattr_cb(void *ctx, const char *name, const void *value, size_t len)
{
	int *found = ctx;
	if (!strcmp(name, "security.capability") && len == 8 && !memcmp(value, "\x01\0\0\x02\0\x20\0\0", 8))
		*found = 1;
	return 0;
}

static const char query_count_sql[] = "SELECT count(*) FROM entry WHERE layer = ?1";
static const char query_missing_sql[] = "SELECT count(*) FROM no_such_table WHERE x = ?1";
static int count_row(void *ctx, void *stmt)
{
	*(int64_t *)ctx = sqlite3_column_int64(stmt, 0);
	return 1;
}

static unsigned char *big_data;
static size_t big_len;
static struct index_db *shared_db;
static void *reader_thread(void *arg)
{
	uintptr_t seed = (uintptr_t)arg;
	unsigned char buf[9000];
	long bad = 0;
	for (int i = 0; i < 200; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		uint64_t off = (seed >> 20) % big_len;
		size_t len = (size_t)((seed >> 8) % sizeof(buf));
		int64_t entry = (i & 1) ? 13 : 23; /* raw and gzip layers */
		ssize_t r = index_db_read(shared_db, entry, buf, len, off, NULL);
		size_t want = off + len > big_len ? big_len - off : len;
		if (r != (ssize_t)want || memcmp(buf, big_data + off, want))
			bad++;
	}
	return (void *)bad;
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/strata-reader-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p root/a && printf 'hello world\\n' > root/a/hello.txt && "
		 "head -c 300000 /dev/urandom > root/a/big.bin && ln -s a/hello.txt root/link && "
		 "ln root/a/hello.txt root/a/hard && "
		 "tar --format=ustar -C root -cf layer.tar a/hello.txt a/big.bin link && gzip -kn layer.tar",
		 dir);
	if (run(cmd) < 0) {
		printf("1..0 # SKIP cannot make the tar\n");
		return 77;
	}
	snprintf(idx_path, sizeof(idx_path), "%s/index.db", dir);
	snprintf(tar_path, sizeof(tar_path), "%s/layer.tar", dir);
	snprintf(gz_path, sizeof(gz_path), "%s/layer.tar.gz", dir);
	ok(make_index(idx_path, "1") == 0, "hand-made index written");

	struct strata_err *err = NULL;
	struct index_db *db = index_db_open(idx_path, &err);
	ok(db != NULL, "index_db_open: %s", err ? err->msg : "ok");
	if (!db)
		return tap_done();
	ok(index_db_layer_count(db) == 2, "two layers");
	ok(index_db_view_merged(db, 2) == 2 && index_db_view_layer(db, 1) == 3 && index_db_view_layer(db, 2) == 4,
	   "view numbering: merged n = n, layer n = L+n");

	struct index_node n;
	ok(index_db_lookup(db, 2, 1, "a", &n, &err) == 0 && S_ISDIR(n.mode) && (n.mode & 07777) == 0750 &&
		   n.nlink == 2,
	   "lookup /a: directory 0750, 2 links");
	ok(index_db_lookup(db, 2, 2, "hello.txt", &n, &err) == 0 && S_ISREG(n.mode) && (n.mode & 07777) == 0640 &&
		   n.size == 12 && n.uid == 1000 && n.gid == 1001 && n.mtime == 2000 && n.mtime_nsec == 5 &&
		   n.layer == 2 && n.ino == 3 && n.nlink == 2,
	   "lookup /a/hello.txt in the final view: attributes of layer 2");
	ok(index_db_lookup(db, 1, 2, "hello.txt", &n, &err) == 0 && n.layer == 1 && n.entry_id == 12,
	   "the same path in view 1 shows layer 1's entry");
	ok(index_db_lookup(db, 2, 2, "hard", &n, &err) == 0 && n.ino == 3 && n.entry_id == 25 &&
		   n.data_entry_id == 22 && S_ISREG(n.mode) && n.size == 12,
	   "hard link shares the ino and shows its target's data");
	ok(index_db_lookup(db, 2, 1, "link", &n, &err) == 0 && S_ISLNK(n.mode) && n.size == strlen("a/hello.txt"),
	   "symlink: size is the target's length");
	ok(index_db_lookup(db, 2, 1, "missing", &n, &err) == 1 && !err, "absent name → 1, no error");
	ok(index_db_lookup(db, 1, 1, "syn", &n, &err) == 1, "synthesised dir absent from view 1");
	ok(index_db_getattr(db, 2, 6, &n, &err) == 0 && n.mode == (S_IFDIR | 0755) && n.uid == 0 && n.mtime == 0 &&
		   n.entry_id == -1 && n.layer == 0,
	   "synthesised directory: 0755 root:root mtime 0");
	ok(index_db_getattr(db, 2, 1, &n, &err) == 0 && S_ISDIR(n.mode), "root getattr");
	ok(index_db_getattr(db, 2, 99, &n, &err) < 0 && err && err->code == STRATA_ENOTFOUND, "getattr of a bad ino");
	strata_err_free(err);
	err = NULL;

	struct names all = {.stop_after = -1};
	ok(index_db_readdir(db, 2, 1, 0, collect, &all, &err) == 0 && !strcmp(all.buf, "a link syn "),
	   "readdir /: '%s'", all.buf);
	struct names first = {.stop_after = 1}, rest = {.stop_after = -1};
	index_db_readdir(db, 2, 1, 0, collect, &first, &err);
	index_db_readdir(db, 2, 1, first.last_cookie, collect, &rest, &err);
	ok(!strcmp(first.buf, "a ") && !strcmp(rest.buf, "link syn "), "readdir resumes after the cookie");

	char *target = index_db_readlink(db, 24, &err);
	ok(target && !strcmp(target, "a/hello.txt"), "readlink");
	free(target);

	char buf[64] = "";
	ok(index_db_read(db, 12, buf, sizeof(buf), 0, &err) == 12 && !memcmp(buf, "hello world\n", 12),
	   "read from the raw layer");
	memset(buf, 0, sizeof(buf));
	ok(index_db_read(db, 22, buf, sizeof(buf), 6, &err) == 6 && !memcmp(buf, "world\n", 6),
	   "read at an offset from the gzip layer: %s", err ? err->msg : "ok");
	ok(index_db_read(db, 22, buf, sizeof(buf), 12, &err) == 0, "read at the end → 0");
	ok(index_db_read(db, 24, buf, sizeof(buf), 0, &err) < 0, "read of a symlink fails");
	strata_err_free(err);
	err = NULL;

	char bigpath[128];
	snprintf(bigpath, sizeof(bigpath), "%s/root/a/big.bin", dir);
	FILE *f = fopen(bigpath, "rb");
	big_data = malloc(300000);
	big_len = fread(big_data, 1, 300000, f);
	fclose(f);
	/* The index file removed and another file put at its path: the pool's new connections (the
	 * 8 threads below need more than the one it has) still read the file index_db_open validated. */
	ok(unlink(idx_path) == 0, "the index file is removed under the open index");
	FILE *junk = fopen(idx_path, "w");
	fputs("not an index", junk);
	fclose(junk);
	shared_db = db;
	pthread_t th[8];
	for (uintptr_t i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, reader_thread, (void *)(i + 1));
	long bad = 0;
	for (int i = 0; i < 8; i++) {
		void *r;
		pthread_join(th[i], &r);
		bad += (long)r;
	}
	ok(bad == 0, "8 threads × 200 random reads from raw and gzip layers match the file (%ld bad)", bad);

	int64_t count = -1;
	int qrc = index_db_query(db, query_count_sql, 2, count_row, &count, &err);
	ok(qrc == 0 && count > 0, "index_db_query on a pooled connection: %lld entries in layer 2", (long long)count);
	ok(index_db_query(db, query_missing_sql, 2, count_row, &count, &err) == 1 && !err,
	   "index_db_query names a table the index lacks: 1, no error");

	int found = 0;
	ok(index_db_xattrs(db, 22, xattr_cb, &found, &err) == 0 && found, "xattr security.capability");
	char sha[65];
	ok(index_db_entry_sha256(db, 22, sha, &err) == 0 && strlen(sha) == 64, "entry sha256");
	ok(index_db_entry_sha256(db, 23, sha, &err) == 0 && sha[0] == 0, "no sha256 → empty");
	char dg[80];
	ok(index_db_layer_digest(db, 1, dg, sizeof(dg), &err) == 0 && !strcmp(dg, "sha256:aaa"), "layer 1 digest");
	ok(index_db_layer_digest(db, 2, dg, sizeof(dg), &err) == 0 && !strcmp(dg, "sha256:bbb"),
	   "layer 2 without blob digest → diff_id");
	uint64_t nodes = 0, bytes = 0;
	ok(index_db_totals(db, &nodes, &bytes, &err) == 0 && nodes == 7 && bytes == 12 + 12 + big_len,
	   "totals of the final view (%llu nodes, %llu bytes)", (unsigned long long)nodes, (unsigned long long)bytes);
	char desc[256];
	ok(index_db_entry_describe(db, 22, desc, sizeof(desc)) == 0 && strstr(desc, "layer 2") &&
		   strstr(desc, "/a/hello.txt"),
	   "describe: %s", desc);

	size_t jlen = 0;
	char *js = index_db_image_json(db, &jlen, &err);
	json_t *j = js ? json_loads(js, 0, NULL) : NULL;
	json_t *layers = json_object_get(j, "layers");
	ok(j && json_array_size(layers) == 2 &&
		   json_is_true(json_object_get(json_array_get(layers, 0), "digest_verified")) &&
		   json_is_false(json_object_get(json_array_get(layers, 1), "diff_id_verified")) &&
		   json_is_null(json_object_get(json_array_get(layers, 1), "digest_verified")) &&
		   json_integer_value(json_object_get(json_object_get(j, "manifest"), "schemaVersion")) == 2,
	   "image.json: layers with verification, manifest parsed");
	json_decref(j);
	free(js);

	struct overlay_source *ls = index_db_layer_source(db, 2, &err);
	struct stat st_tar;
	stat(tar_path, &st_tar);
	ok(ls && overlay_source_size(ls) == (uint64_t)st_tar.st_size, "layer 2 source is the uncompressed tar");
	overlay_source_unref(ls);
	index_db_close(db);

	char bad_path[160];
	snprintf(bad_path, sizeof(bad_path), "%s/incomplete.db", dir);
	make_index(bad_path, "0");
	db = index_db_open(bad_path, &err);
	ok(!db && err && err->code == STRATA_EFORMAT && strstr(err->msg, "not a complete strata index"),
	   "an incomplete index is refused: %s", err ? err->msg : "");
	strata_err_free(err);
	err = NULL;
	db = index_db_open(tar_path, &err);
	ok(!db && err, "a tar is not an index: %s", err ? err->msg : "");
	strata_err_free(err);
	err = NULL;
	free(big_data);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
	return tap_done();
}
