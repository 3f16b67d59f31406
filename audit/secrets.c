/* audit/secrets.c — the secret scanner's part of the index pass (issue 5): runs the matcher
 * (audit/secrets_match.c) over every regular file's bytes of every layer as they stream, stores
 * each layer's findings in the `secret` table (rule, description, entry, layer, path, line, column,
 * sha256 fingerprint, 4-byte preview; never the secret) and per-layer counts in `secret_stats`
 * (files scanned, binary files skipped, files over the size limit skipped, bytes fed to the
 * scanner and the CPU time it spent on them). finish() scans the
 * image config's text (Env, Labels, Cmd, Entrypoint, history created_by: findings with no entry,
 * status 'image config') and decides each file finding's status from the merged views: 'visible'
 * when the image shows that entry, else 'deleted in layer N' (the first view after the entry's
 * layer that no longer shows it), or 'shadowed' (hidden within its own layer).
 * Rules: audit/secrets_rules.c (audit/secret_rules.json). */
#include "audit_int.h"

#include <jansson.h>
#include <sqlite3.h>
#include <string.h>
#include <time.h>

#define SECRETS_TABLES_SQL                                                                          \
	"CREATE TABLE secret(id INTEGER PRIMARY KEY, rule TEXT NOT NULL, description TEXT,"        \
	" entry INTEGER, layer INTEGER, path TEXT, line INTEGER, col INTEGER,"                     \
	" fingerprint TEXT NOT NULL, preview TEXT, status TEXT);"                                   \
	"CREATE TABLE secret_stats(layer INTEGER PRIMARY KEY, scanned INTEGER, binary INTEGER,"    \
	" too_large INTEGER, bytes INTEGER, cpu_ns INTEGER);"

#define SECRETS_DEFAULT_MAX (16u << 20)

struct secrets_ctx {
	struct secrets_engine *engine;
	uint64_t max_size;
	bool scan_binary;
	struct index_scanner_ops ops;
};

struct secrets_row {
	const struct secret_rule *rule;
	int64_t entry; /* -1: none (image config) */
	char *path;
	uint64_t line, column;
	uint64_t offset, length; /* where the secret is in the file (config text is masked with it) */
	char fingerprint[65];
	char preview[16];
};

/* Findings and counts of one layer (or of the image config, layer 0). */
struct secrets_layer {
	const struct secrets_ctx *c;
	int layer;
	struct secrets_stream *stream;
	int64_t entry;
	char *path;
	struct secrets_row *v;
	size_t n, cap;
	uint64_t scanned, binary, too_large;
	uint64_t file_bytes; /* bytes of the current file so far */
	uint64_t bytes;      /* bytes of the files scanned (binary files not counted) */
	/* This thread's CPU time inside the scanner (`make bench` reports MB/s per core), estimated
	 * from a systematic sample: reading a thread CPU clock is a system call (about a microsecond
	 * on a VM), so only every SECRETS_TIME_EVERY-th call into the matcher is timed and the sum is
	 * scaled by calls / timed calls when the layer ends. Data and end-of-file calls are sampled
	 * apart: a file that comes in one chunk makes them alternate, and one counter would then time
	 * only one kind (a small file's data call is a copy; its scan happens at the end). */
	struct secrets_timing {
		uint64_t calls, timed_calls, timed_ns;
	} t_data, t_end;
};

#define SECRETS_TIME_EVERY 16

static uint64_t secrets_thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start of a call into the matcher: 0 when this call is not in the sample. */
static uint64_t secrets_time_begin(struct secrets_timing *t)
{
	return t->calls++ % SECRETS_TIME_EVERY == 0 ? secrets_thread_ns() : 0;
}

static void secrets_time_end(struct secrets_timing *t, uint64_t t0)
{
	if (!t0)
		return;
	t->timed_ns += secrets_thread_ns() - t0;
	t->timed_calls++;
}

/* The estimated CPU time of every call of one kind so far. */
static double secrets_timing_ns(const struct secrets_timing *t)
{
	return t->timed_calls ? (double)t->timed_ns * (double)t->calls / (double)t->timed_calls : 0;
}

static uint64_t secrets_cpu_ns(const struct secrets_layer *sl)
{
	return (uint64_t)(secrets_timing_ns(&sl->t_data) + secrets_timing_ns(&sl->t_end));
}

static void *secrets_layer_begin(void *ctx, int layer)
{
	const struct secrets_ctx *c = ctx;
	cleanup_err struct strata_err *err = NULL;
	struct secrets_stream *st = secrets_stream_new(c->engine, &err);
	if (!st)
		return NULL; /* out of memory in Vectorscan: the composite skips this scanner for the layer */
	secrets_stream_scan_binary(st, c->scan_binary);
	struct secrets_layer *sl = xcalloc(1, sizeof(*sl));
	sl->c = c;
	sl->layer = layer;
	sl->stream = st;
	return sl;
}

static void secrets_start(struct secrets_layer *sl, int64_t entry, const char *path)
{
	free(sl->path);
	sl->path = xstrdup(path);
	sl->entry = entry;
	secrets_stream_begin(sl->stream, path);
}

static int secrets_file_begin(void *state, const struct index_scan_entry *e)
{
	struct secrets_layer *sl = state;
	if (e->type != OVERLAY_T_REG || !e->path)
		return 0;
	if (e->size > sl->c->max_size) {
		sl->too_large++;
		return 0;
	}
	const char *p = e->path;
	while (*p == '/')
		p++;
	cleanup_free char *abs = xasprintf("/%s", p);
	secrets_start(sl, e->entry_id, abs);
	return 1;
}

static void secrets_file_data(void *state, const void *buf, size_t len)
{
	struct secrets_layer *sl = state;
	uint64_t t0 = secrets_time_begin(&sl->t_data);
	secrets_stream_feed(sl->stream, buf, len);
	sl->file_bytes += len;
	secrets_time_end(&sl->t_data, t0);
}

static void secrets_file_end(void *state)
{
	struct secrets_layer *sl = state;
	const struct secret_hit *hits;
	size_t n;
	uint64_t t0 = secrets_time_begin(&sl->t_end);
	int skipped = secrets_stream_end(sl->stream, &hits, &n);
	secrets_time_end(&sl->t_end, t0);
	uint64_t fb = sl->file_bytes;
	sl->file_bytes = 0;
	if (skipped) {
		sl->binary++;
		return;
	}
	sl->scanned++;
	sl->bytes += fb;
	for (size_t i = 0; i < n; i++) {
		if (sl->n == sl->cap) {
			sl->cap = sl->cap ? 2 * sl->cap : 8;
			sl->v = xrealloc(sl->v, sl->cap * sizeof(*sl->v));
		}
		struct secrets_row *r = &sl->v[sl->n++];
		r->rule = hits[i].rule;
		r->entry = sl->entry;
		r->path = xstrdup(sl->path);
		r->line = hits[i].line;
		r->column = hits[i].column;
		r->offset = hits[i].offset;
		r->length = hits[i].length;
		memcpy(r->fingerprint, hits[i].fingerprint, sizeof(r->fingerprint));
		memcpy(r->preview, hits[i].preview, sizeof(r->preview));
	}
}

static int secrets_store(const struct secrets_layer *sl, sqlite3 *db, struct strata_err **err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO secret(rule, description, entry, layer, path, line, col, fingerprint,"
			       " preview, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
			       -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "secrets: %s", sqlite3_errmsg(db));
	for (size_t i = 0; i < sl->n; i++) {
		const struct secrets_row *r = &sl->v[i];
		sqlite3_bind_text(st, 1, r->rule->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->rule->description, -1, SQLITE_STATIC);
		if (r->entry >= 0) {
			sqlite3_bind_int64(st, 3, r->entry);
			sqlite3_bind_int(st, 4, sl->layer);
			sqlite3_bind_null(st, 10);
		} else {
			sqlite3_bind_null(st, 3);
			sqlite3_bind_null(st, 4);
			sqlite3_bind_text(st, 10, "image config", -1, SQLITE_STATIC);
		}
		sqlite3_bind_text(st, 5, r->path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, (sqlite3_int64)r->line);
		sqlite3_bind_int64(st, 7, (sqlite3_int64)r->column);
		sqlite3_bind_text(st, 8, r->fingerprint, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, r->preview, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			strata_err_set(err, STRATA_EIO, "secrets: storing a finding of %s: %s", r->path, sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return 0;
}

static int secrets_layer_end(void *state, void *sqlite_db, struct strata_err **err)
{
	struct secrets_layer *sl = state;
	sqlite3 *db = sqlite_db;
	if (secrets_store(sl, db, err) < 0)
		return -1;
	char sql[256];
	snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO secret_stats VALUES (%d, %llu, %llu, %llu, %llu, %llu)",
		 sl->layer, (unsigned long long)sl->scanned, (unsigned long long)sl->binary,
		 (unsigned long long)sl->too_large, (unsigned long long)sl->bytes, (unsigned long long)secrets_cpu_ns(sl));
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		strata_err_set(err, STRATA_EIO, "secrets: storing counts: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static void secrets_layer_free(void *state)
{
	struct secrets_layer *sl = state;
	if (!sl)
		return;
	for (size_t i = 0; i < sl->n; i++)
		free(sl->v[i].path);
	free(sl->v);
	free(sl->path);
	secrets_stream_free(sl->stream);
	free(sl);
}

static int secrets_init(void *ctx, void *sqlite_db, struct strata_err **err)
{
	(void)ctx;
	char *msg = NULL;
	if (sqlite3_exec(sqlite_db, SECRETS_TABLES_SQL, NULL, NULL, &msg) != SQLITE_OK) {
		strata_err_set(err, STRATA_EIO, "secrets: creating tables: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Masks in text (len bytes, changed in place) the part of every secret of v[from..to) that lies in
 * it, text being the bytes at offset shift of the scanned file: a secret keeps its first 4 bytes
 * when they are printable ASCII (as the finding's preview shows them) and the rest becomes '*';
 * a UTF-8 sequence cut by the mask is masked whole, so the text stays valid UTF-8. Returns
 * whether text changed. */
static bool secrets_mask(char *text, size_t len, uint64_t shift, const struct secrets_row *v, size_t from, size_t to)
{
	bool changed = false;
	for (size_t i = from; i < to; i++) {
		if (v[i].offset + v[i].length <= shift || v[i].offset >= shift + len)
			continue;
		size_t a = v[i].offset > shift ? (size_t)(v[i].offset - shift) : 0;
		size_t e = (size_t)(v[i].offset + v[i].length - shift);
		if (e > len)
			e = len;
		for (int k = 0; k < 4 && v[i].offset >= shift && a < e && text[a] > 0x20 && text[a] < 0x7f; k++)
			a++;
		while (a > 0 && ((unsigned char)text[a] & 0xc0) == 0x80)
			a--;
		while (e < len && ((unsigned char)text[e] & 0xc0) == 0x80)
			e++;
		for (; a < e; a++) {
			text[a] = '*';
			changed = true;
		}
	}
	return changed;
}

/* Scans one piece of config text as a file named path (its findings get line = line) and masks
 * the secrets found in it, in place. Returns whether text changed. */
static bool secrets_config_text(struct secrets_layer *sl, const char *path, char *text, uint64_t line)
{
	size_t before = sl->n, len = strlen(text);
	secrets_start(sl, -1, path);
	secrets_stream_feed(sl->stream, text, len);
	secrets_file_end(sl);
	for (size_t i = before; i < sl->n; i++)
		sl->v[i].line = line;
	return secrets_mask(text, len, 0, sl->v, before, sl->n);
}

/* Joins a JSON array of strings with spaces (owned), or NULL when it is not one. */
static char *secrets_join(const json_t *a)
{
	if (!json_is_array(a))
		return NULL;
	size_t n = 1;
	for (size_t i = 0; i < json_array_size(a); i++)
		n += (json_string_value(json_array_get(a, i)) ? strlen(json_string_value(json_array_get(a, i))) : 0) + 1;
	char *s = xcalloc(1, n);
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *t = json_string_value(json_array_get(a, i));
		if (i)
			strcat(s, " ");
		strcat(s, t ? t : "");
	}
	return s;
}

/* A JSON string of n bytes of s; a run of '*' if they are not UTF-8 (never the clear bytes). */
static json_t *secrets_masked_string(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);
	if (j)
		return j;
	cleanup_free char *stars = xcalloc(1, n + 1);
	memset(stars, '*', n);
	return json_stringn(stars, n);
}

/* Scans a config string (masked in place in the JSON when a secret is found). */
static bool secrets_config_string(struct secrets_layer *sl, const char *path, json_t *str, uint64_t line,
				  json_t *parent_array, size_t index, json_t *parent_object, const char *key)
{
	cleanup_free char *t = xstrdup(json_string_value(str));
	if (!secrets_config_text(sl, path, t, line))
		return false;
	json_t *m = secrets_masked_string(t, strlen(t));
	if (parent_array)
		json_array_set_new(parent_array, index, m);
	else
		json_object_set_new(parent_object, key, m);
	return true;
}

/* Labels, scanned as "key=value" lines; a secret in a key or value is masked there (the object is
 * rebuilt in order when anything changed). */
static bool secrets_config_labels(struct secrets_layer *sl, json_t *cc)
{
	json_t *labels = json_object_get(cc, "Labels");
	if (!json_is_object(labels))
		return false;
	json_t *out = json_object();
	bool changed = false;
	const char *k;
	json_t *v;
	size_t li = 0;
	json_object_foreach(labels, k, v) {
		const char *val = json_string_value(v);
		cleanup_free char *kv = xasprintf("%s=%s", k, val ? val : "");
		if (secrets_config_text(sl, "image-config:Labels", kv, ++li) && val) {
			changed = true;
			size_t kl = strlen(k);
			kv[kl] = '\0';
			json_t *mv = secrets_masked_string(kv + kl + 1, strlen(kv + kl + 1));
			json_t *mk = secrets_masked_string(kv, kl);
			json_object_set_new(out, json_string_value(mk), mv);
			json_decref(mk);
		} else {
			json_object_set(out, k, v);
		}
	}
	if (changed)
		json_object_set_new(cc, "Labels", out);
	else
		json_decref(out);
	return changed;
}

/* Cmd or Entrypoint, scanned as one line (the words joined by spaces); masked word by word. */
static bool secrets_config_words(struct secrets_layer *sl, json_t *cc, const char *name)
{
	json_t *a = json_object_get(cc, name);
	cleanup_free char *t = secrets_join(a);
	cleanup_free char *path = xasprintf("image-config:%s", name);
	if (!t || !secrets_config_text(sl, path, t, 1))
		return false;
	size_t pos = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *w = json_string_value(json_array_get(a, i));
		size_t wl = w ? strlen(w) : 0;
		if (w && memcmp(w, t + pos, wl) != 0)
			json_array_set_new(a, i, secrets_masked_string(t + pos, wl));
		pos += wl + 1;
	}
	return true;
}

/* The image config's text: Env, Labels, Cmd, Entrypoint and history created_by. Every secret
 * found there is also masked in the index's copy of the config (image.config), which image.json,
 * layers.tsv and the dockerfile gate read: the index never holds a secret in clear. */
static int secrets_scan_config(const struct secrets_ctx *c, sqlite3 *db, struct strata_err **err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT config FROM image", -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "secrets: %s", sqlite3_errmsg(db));
	json_t *cfg = NULL;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) > 0)
		cfg = json_loadb(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), 0, NULL);
	sqlite3_finalize(st);
	if (!cfg)
		return 0;
	struct secrets_layer *sl = secrets_layer_begin((void *)c, 0);
	if (!sl) {
		json_decref(cfg);
		return strata_err_set(err, STRATA_EIO, "secrets: cannot allocate a scanner for the image config");
	}
	bool changed = false;
	json_t *cc = json_object_get(cfg, "config");
	json_t *env = json_object_get(cc, "Env");
	for (size_t i = 0; i < json_array_size(env); i++)
		if (json_is_string(json_array_get(env, i)))
			changed |= secrets_config_string(sl, "image-config:Env", json_array_get(env, i), i + 1, env, i,
							 NULL, NULL);
	changed |= secrets_config_labels(sl, cc);
	changed |= secrets_config_words(sl, cc, "Cmd");
	changed |= secrets_config_words(sl, cc, "Entrypoint");
	json_t *hist = json_object_get(cfg, "history");
	for (size_t i = 0; i < json_array_size(hist); i++) {
		json_t *h = json_array_get(hist, i), *cb = json_object_get(h, "created_by");
		if (json_is_string(cb))
			changed |= secrets_config_string(sl, "image-config:history", cb, i + 1, NULL, 0, h, "created_by");
	}
	int rc = secrets_store(sl, db, err);
	secrets_layer_free(sl);
	if (rc == 0 && changed) {
		cleanup_free char *text = json_dumps(cfg, JSON_COMPACT);
		/* secure_delete: the overwritten clear text must not stay behind in a free page. */
		if (!text || sqlite3_exec(db, "PRAGMA secure_delete = ON", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "UPDATE image SET config = ?1", -1, &st, NULL) != SQLITE_OK)
			rc = strata_err_set(err, STRATA_EIO, "secrets: masking the config: %s", sqlite3_errmsg(db));
		else {
			sqlite3_bind_blob(st, 1, text, (int)strlen(text), SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = strata_err_set(err, STRATA_EIO, "secrets: masking the config: %s", sqlite3_errmsg(db));
			sqlite3_finalize(st);
		}
	}
	json_decref(cfg);
	return rc;
}

/* Status of every file finding from the merged views (view N = the image after N layers). */
static int secrets_finish(void *ctx, void *sqlite_db, struct strata_err **err)
{
	static const char sql[] =
		"CREATE TEMP TABLE secret_seen(view INTEGER, entry INTEGER, PRIMARY KEY(view, entry)) WITHOUT ROWID;"
		"INSERT OR IGNORE INTO secret_seen SELECT n.view, n.data_entry FROM node n"
		" WHERE n.view <= (SELECT layers FROM image) AND n.data_entry IN (SELECT entry FROM secret);"
		"UPDATE secret SET status = CASE"
		" WHEN EXISTS (SELECT 1 FROM secret_seen s WHERE s.view = (SELECT layers FROM image)"
		"  AND s.entry = secret.entry) THEN 'visible'"
		" ELSE coalesce((SELECT CASE WHEN min(v.id) > secret.layer THEN 'deleted in layer ' || min(v.id)"
		"  ELSE 'shadowed' END FROM view v WHERE v.id >= secret.layer AND v.id <= (SELECT layers FROM image)"
		"  AND NOT EXISTS (SELECT 1 FROM secret_seen s WHERE s.view = v.id AND s.entry = secret.entry)),"
		"  'shadowed') END WHERE entry IS NOT NULL;"
		"DROP TABLE secret_seen;";
	char *msg = NULL;
	if (sqlite3_exec(sqlite_db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		strata_err_set(err, STRATA_EIO, "secrets: computing statuses: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return secrets_scan_config(ctx, sqlite_db, err);
}

struct index_scanner_ops *secrets_new_ops(const struct audit_options *o, char **identity, struct strata_err **err)
{
	struct secret_ruleset *rs = secrets_rules_load(o->secret_rules, o->secret_rules_extend, err);
	if (!rs)
		return NULL;
	struct secrets_ctx *c = xcalloc(1, sizeof(*c));
	c->engine = secrets_engine_new(rs, err);
	if (!c->engine) {
		free(c);
		return NULL;
	}
	c->max_size = o->max_scan_size ? o->max_scan_size : SECRETS_DEFAULT_MAX;
	c->scan_binary = o->scan_binary;
	*identity = xasprintf("%s\nmax %llu\nstats 2\nconfig masked 1\n%s", secrets_engine_rules(c->engine)->identity,
			      (unsigned long long)c->max_size, c->scan_binary ? "binary scanned\n" : "");
	c->ops = (struct index_scanner_ops){
		.init = secrets_init,
		.finish = secrets_finish,
		.layer_begin = secrets_layer_begin,
		.file_begin = secrets_file_begin,
		.file_data = secrets_file_data,
		.file_end = secrets_file_end,
		.layer_end = secrets_layer_end,
		.layer_free = secrets_layer_free,
		.ctx = c,
	};
	return &c->ops;
}

void secrets_free_ops(struct index_scanner_ops *ops)
{
	if (!ops)
		return;
	struct secrets_ctx *c = ops->ctx;
	secrets_engine_free(c->engine);
	free(c);
}
