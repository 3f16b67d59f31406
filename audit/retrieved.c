/* audit/retrieved.c — retrieved-file capture (issue 5): during the index pass, the bytes of every
 * regular file of every layer whose path is in a fixed list of configuration files (accounts,
 * sshd, sudo, PAM, cron, os-release, web server, database and container daemon configuration)
 * are kept, at most RETRIEVED_MAX each (a truncated flag and the full size are stored), and
 * written to the `retrieved_file` table at the end of the layer:
 *   retrieved_file(entry PRIMARY KEY, layer, path "/etc/passwd", size, truncated, content BLOB).
 * The password field of /etc/shadow, /etc/gshadow, /etc/passwd and /etc/group is redacted before
 * anything is stored: a hash becomes "<hash>" behind its lock marks ("!", "*"), so the checks can
 * still tell a usable hash from a locked or empty one but the index never holds a hash. The list and the bound are
 * the scanner's identity (part of the rules hash), so changing them re-indexes. */
#include "audit_int.h"

#include <fnmatch.h>
#include <sqlite3.h>
#include <string.h>

/* Largest content kept per file. */
#define RETRIEVED_MAX (256u << 10)

/* Paths without the leading slash (fnmatch, FNM_PATHNAME: '*' stays inside one directory). */
static const char *const retrieved_patterns[] = {
	"etc/passwd", "etc/shadow", "etc/group", "etc/gshadow", "etc/login.defs",
	"etc/sudoers", "etc/sudoers.d/*",
	"etc/ssh/sshd_config", "etc/ssh/sshd_config.d/*",
	"etc/pam.d/*",
	"etc/crontab", "etc/cron.d/*", "var/spool/cron/crontabs/*",
	"etc/os-release", "usr/lib/os-release",
	"etc/nginx/nginx.conf", "etc/nginx/conf.d/*", "etc/nginx/sites-enabled/*", "etc/nginx/sites-available/*",
	"etc/apache2/apache2.conf", "etc/apache2/ports.conf", "etc/apache2/conf-enabled/*",
	"etc/apache2/sites-enabled/*", "etc/apache2/sites-available/*",
	"etc/httpd/conf/httpd.conf", "etc/httpd/conf.d/*", "usr/local/apache2/conf/httpd.conf",
	"etc/my.cnf", "etc/my.cnf.d/*", "etc/mysql/my.cnf", "etc/mysql/conf.d/*", "etc/mysql/mysql.conf.d/*",
	"etc/mysql/mariadb.conf.d/*",
	"etc/postgresql/*/main/postgresql.conf", "etc/postgresql/*/main/pg_hba.conf",
	"var/lib/postgresql/data/postgresql.conf", "var/lib/postgresql/data/pg_hba.conf",
	"etc/redis/redis.conf", "etc/redis.conf", "usr/local/etc/redis/redis.conf",
	"etc/mongod.conf",
	"etc/docker/daemon.json", "etc/containerd/config.toml",
	NULL,
};

/* True when the regular file at path (leading slashes ignored) is retrieved. */
static bool retrieved_path_wanted(const char *path)
{
	while (*path == '/')
		path++;
	for (size_t i = 0; retrieved_patterns[i]; i++)
		if (!fnmatch(retrieved_patterns[i], path, FNM_PATHNAME | FNM_PERIOD))
			return true;
	return false;
}

struct retrieved_file {
	int64_t entry;
	char *path;      /* "/etc/passwd" */
	uint64_t size;   /* the file's full size */
	bool truncated;
	char *data;
	size_t len, cap;
};

struct retrieved_layer {
	int layer;
	struct retrieved_file *v;
	size_t n, cap;
	struct retrieved_file *cur;
};

static void *retrieved_layer_begin(void *ctx, int layer)
{
	(void)ctx;
	struct retrieved_layer *rl = xcalloc(1, sizeof(*rl));
	rl->layer = layer;
	return rl;
}

static int retrieved_file_begin(void *state, const struct index_scan_entry *e)
{
	struct retrieved_layer *rl = state;
	rl->cur = NULL;
	if (!retrieved_path_wanted(e->path))
		return 0;
	if (rl->n == rl->cap) {
		rl->cap = rl->cap ? 2 * rl->cap : 8;
		rl->v = xrealloc(rl->v, rl->cap * sizeof(*rl->v));
	}
	const char *p = e->path;
	while (*p == '/')
		p++;
	rl->cur = &rl->v[rl->n++];
	*rl->cur = (struct retrieved_file){.entry = e->entry_id, .path = xasprintf("/%s", p), .size = e->size};
	return 1;
}

static void retrieved_file_data(void *state, const void *buf, size_t len)
{
	struct retrieved_layer *rl = state;
	struct retrieved_file *f = rl->cur;
	if (!f)
		return;
	if (f->len + len > RETRIEVED_MAX) {
		len = RETRIEVED_MAX - f->len;
		f->truncated = true;
	}
	if (!len)
		return;
	if (f->len + len > f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 4096;
		while (cap < f->len + len)
			cap *= 2;
		f->data = xrealloc(f->data, cap > RETRIEVED_MAX ? RETRIEVED_MAX : cap);
		f->cap = cap > RETRIEVED_MAX ? RETRIEVED_MAX : cap;
	}
	memcpy(f->data + f->len, buf, len);
	f->len += len;
}

/* Rewrites passwd/shadow-format text (name:password:…) into a new buffer: the second field of
 * every line keeps its leading '!' and '*' marks and any further bytes become "<hash>" (a lone
 * "x", passwd's "see the shadow file", stays). The old buffer is wiped. */
static void retrieved_redact_shadow(struct retrieved_file *f)
{
	if (!f->data)
		return;
	char *out = xmalloc(7 * f->len + 8); /* each line grows by 5 bytes at most ("x" → "<hash>") */
	size_t o = 0;
	for (size_t i = 0; i < f->len;) {
		size_t end = i;
		while (end < f->len && f->data[end] != '\n')
			end++;
		const char *c1 = memchr(f->data + i, ':', end - i);
		if (!c1) { /* no password field: the line as it is */
			memcpy(out + o, f->data + i, end - i);
			o += end - i;
		} else {
			size_t p = (size_t)(c1 - f->data) + 1;
			memcpy(out + o, f->data + i, p - i);
			o += p - i;
			size_t q = p;
			while (q < end && (f->data[q] == '!' || f->data[q] == '*'))
				out[o++] = f->data[q++];
			size_t r = q;
			while (r < end && f->data[r] != ':')
				r++;
			if (r - q == 1 && q == p && f->data[q] == 'x') { /* passwd's "see the shadow file" */
				out[o++] = 'x';
			} else if (r > q) {
				memcpy(out + o, "<hash>", 6);
				o += 6;
			}
			memcpy(out + o, f->data + r, end - r);
			o += end - r;
		}
		if (end < f->len)
			out[o++] = '\n';
		i = end + 1;
	}
	explicit_bzero(f->data, f->cap);
	free(f->data);
	f->data = out;
	f->len = o;
	f->cap = o;
}

static void retrieved_file_end(void *state)
{
	struct retrieved_layer *rl = state;
	struct retrieved_file *f = rl->cur;
	rl->cur = NULL;
	if (f && (!strcmp(f->path, "/etc/shadow") || !strcmp(f->path, "/etc/gshadow") || !strcmp(f->path, "/etc/passwd") ||
		  !strcmp(f->path, "/etc/group")))
		retrieved_redact_shadow(f);
}

static int retrieved_layer_end(void *state, void *sqlite_db, struct strata_err **err)
{
	struct retrieved_layer *rl = state;
	sqlite3 *db = sqlite_db;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO retrieved_file(entry, layer, path, size, truncated, content)"
				   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "retrieved: %s", sqlite3_errmsg(db));
	for (size_t i = 0; i < rl->n; i++) {
		const struct retrieved_file *f = &rl->v[i];
		sqlite3_bind_int64(st, 1, f->entry);
		sqlite3_bind_int(st, 2, rl->layer);
		sqlite3_bind_text(st, 3, f->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)f->size);
		sqlite3_bind_int(st, 5, f->truncated);
		sqlite3_bind_blob(st, 6, f->data ? f->data : "", (int)f->len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			strata_err_set(err, STRATA_EIO, "retrieved: storing %s: %s", f->path, sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return 0;
}

static void retrieved_layer_free(void *state)
{
	struct retrieved_layer *rl = state;
	if (!rl)
		return;
	for (size_t i = 0; i < rl->n; i++) {
		if (rl->v[i].data)
			explicit_bzero(rl->v[i].data, rl->v[i].cap);
		free(rl->v[i].path);
		free(rl->v[i].data);
	}
	free(rl->v);
	free(rl);
}

static int retrieved_init(void *ctx, void *sqlite_db, struct strata_err **err)
{
	(void)ctx;
	char *msg = NULL;
	if (sqlite3_exec(sqlite_db,
			 "CREATE TABLE retrieved_file(entry INTEGER PRIMARY KEY, layer INTEGER NOT NULL,"
			 " path TEXT NOT NULL, size INTEGER NOT NULL, truncated INTEGER NOT NULL, content BLOB);"
			 "CREATE INDEX retrieved_file_path ON retrieved_file(path);",
			 NULL, NULL, &msg) != SQLITE_OK) {
		strata_err_set(err, STRATA_EIO, "retrieved: creating table: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

struct index_scanner_ops *retrieved_new_ops(const struct audit_options *o, char **identity, struct strata_err **err)
{
	(void)o;
	(void)err;
	struct index_scanner_ops *ops = xcalloc(1, sizeof(*ops));
	*ops = (struct index_scanner_ops){
		.init = retrieved_init,
		.layer_begin = retrieved_layer_begin,
		.file_begin = retrieved_file_begin,
		.file_data = retrieved_file_data,
		.file_end = retrieved_file_end,
		.layer_end = retrieved_layer_end,
		.layer_free = retrieved_layer_free,
	};
	size_t n = 64;
	for (size_t i = 0; retrieved_patterns[i]; i++)
		n += strlen(retrieved_patterns[i]) + 1;
	char *id = xmalloc(n);
	int k = snprintf(id, n, "retrieved 1: max %u; passwd/shadow/group/gshadow hashes redacted;", RETRIEVED_MAX);
	for (size_t i = 0; retrieved_patterns[i]; i++)
		k += snprintf(id + k, n - (size_t)k, " %s", retrieved_patterns[i]);
	*identity = id;
	return ops;
}

void retrieved_free_ops(struct index_scanner_ops *ops)
{
	free(ops);
}
