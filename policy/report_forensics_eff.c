/* policy/report_forensics_eff.c — efficiency.json: wasted bytes and efficiency of the image, computed
 * the way dive (github.com/wagoodman/dive) computes them, so the figures agree with dive's:
 *   - each layer is a tree of its tar entries (".wh..wh..opq" markers are not added; a ".wh.NAME"
 *     entry is a node whose path is NAME); the size of a node is its tar header size;
 *   - the leaves of every layer, children before parents in byte order of names, add their size to
 *     their path's record; a whiteout adds, when the path is a directory in the image stacked from
 *     the layers below, the sizes of everything under it (0 otherwise); a whiteout whose path the
 *     lower stack lacks ends that layer's walk, as in dive;
 *   - efficiency = sum over paths of the smallest size seen / sum of all sizes seen;
 *   - wasted = sum of all sizes seen of the paths seen more than once; size = sum of every entry's
 *     size, user size = the same without the first layer.
 * Written from dive's documented behaviour (read, not copied). */
#include "policy_int.h"

#include <math.h>
#include <string.h>

struct eff_node {
	char *name;
	struct eff_node *parent;
	struct eff_node **kids; /* sorted by name (byte order) */
	size_t nkids, cap;
	int64_t size;
	bool isdir;
};

static struct eff_node *eff_node_new(struct eff_node *parent, const char *name)
{
	struct eff_node *n = xcalloc(1, sizeof(*n));
	n->name = xstrdup(name);
	n->parent = parent;
	return n;
}

static void eff_node_free(struct eff_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		eff_node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n);
}

static size_t eff_find(const struct eff_node *n, const char *name, bool *found)
{
	size_t lo = 0, hi = n->nkids;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(n->kids[mid]->name, name);
		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct eff_node *eff_child(struct eff_node *n, const char *name, bool create)
{
	bool found;
	size_t i = eff_find(n, name, &found);
	if (found)
		return n->kids[i];
	if (!create)
		return NULL;
	if (n->nkids == n->cap) {
		n->cap = n->cap ? n->cap * 2 : 4;
		n->kids = xrealloc(n->kids, n->cap * sizeof(*n->kids));
	}
	memmove(n->kids + i + 1, n->kids + i, (n->nkids - i) * sizeof(*n->kids));
	n->kids[i] = eff_node_new(n, name);
	n->nkids++;
	return n->kids[i];
}

/* dive's AddPath: intermediate nodes get an empty payload; a ".wh..wh.." component not already
 * present stops the add. */
static void eff_add(struct eff_node *root, const char *path, int64_t size, bool isdir)
{
	cleanup_free char *p = xstrdup(path);
	struct eff_node *n = root;
	char *save = NULL;
	for (char *c = strtok_r(p, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		struct eff_node *k = eff_child(n, c, false);
		if (!k) {
			if (!strncmp(c, ".wh..wh..", 9))
				return;
			k = eff_child(n, c, true);
		}
		n = k;
	}
	if (n != root)
		n->size = size, n->isdir = isdir;
}

static struct eff_node *eff_get(struct eff_node *root, const char *path)
{
	cleanup_free char *p = xstrdup(path);
	struct eff_node *n = root;
	char *save = NULL;
	for (char *c = strtok_r(p, "/", &save); c && n; c = strtok_r(NULL, "/", &save))
		n = eff_child(n, c, false);
	return n;
}

static void eff_remove(struct eff_node *root, const char *path)
{
	struct eff_node *n = eff_get(root, path);
	if (!n || n == root)
		return;
	bool found;
	size_t i = eff_find(n->parent, n->name, &found);
	struct eff_node *par = n->parent;
	memmove(par->kids + i, par->kids + i + 1, (par->nkids - i - 1) * sizeof(*par->kids));
	par->nkids--;
	eff_node_free(n);
}

static bool eff_is_whiteout(const struct eff_node *n)
{
	return !strncmp(n->name, ".wh.", 4);
}

/* Path of n with a whiteout prefix on n itself removed ("/a/b"). Owned. */
static char *eff_path(const struct eff_node *n)
{
	size_t len = 0;
	for (const struct eff_node *k = n; k->parent; k = k->parent)
		len += strlen(k->name) + 1;
	char *s = xmalloc(len + 1);
	size_t at = len;
	s[at] = '\0';
	for (const struct eff_node *k = n; k->parent; k = k->parent) {
		const char *nm = k->name;
		if (k == n && eff_is_whiteout(k))
			nm += 4;
		size_t l = strlen(nm);
		at -= l;
		memcpy(s + at, nm, l);
		if (at > 0)
			s[--at] = '/';
	}
	char *r = xstrdup(s + at);
	free(s);
	return r;
}

/* Stacks upper onto lower the way dive does (children first, whiteouts remove). */
static void eff_stack(struct eff_node *lower, const struct eff_node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		eff_stack(lower, n->kids[i]);
	if (!n->parent)
		return;
	cleanup_free char *p = eff_path(n);
	if (eff_is_whiteout(n))
		eff_remove(lower, p);
	else
		eff_add(lower, p, n->size, n->isdir);
}

static struct eff_node *eff_copy(const struct eff_node *n, struct eff_node *parent)
{
	struct eff_node *c = eff_node_new(parent, n->name);
	c->size = n->size, c->isdir = n->isdir;
	c->cap = c->nkids = n->nkids;
	c->kids = n->nkids ? xcalloc(n->nkids, sizeof(*c->kids)) : NULL;
	for (size_t i = 0; i < n->nkids; i++)
		c->kids[i] = eff_copy(n->kids[i], c);
	return c;
}

static int64_t eff_subtree_size(const struct eff_node *n)
{
	int64_t s = n->size;
	for (size_t i = 0; i < n->nkids; i++)
		s += eff_subtree_size(n->kids[i]);
	return s;
}

/* One path's record. */
struct eff_rec {
	char *path;
	int64_t cumulative, min;
	int64_t count;
};

struct eff_state {
	sqlite3 *c;
	struct eff_rec *recs;
	size_t n, cap;
	sqlite3_stmt *find, *ins; /* temp table path → record index */
	const struct eff_node *stacked;
};

static struct eff_rec *eff_rec_of(struct eff_state *s, const char *path)
{
	sqlite3_reset(s->find);
	sqlite3_bind_text(s->find, 1, path, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s->find) == SQLITE_ROW)
		return &s->recs[sqlite3_column_int64(s->find, 0)];
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->recs = xrealloc(s->recs, s->cap * sizeof(*s->recs));
	}
	s->recs[s->n] = (struct eff_rec){.path = xstrdup(path), .min = -1};
	sqlite3_reset(s->ins);
	sqlite3_bind_text(s->ins, 1, path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s->ins, 2, (int64_t)s->n);
	sqlite3_step(s->ins);
	return &s->recs[s->n++];
}

/* Visits the leaves of a layer tree children first; returns -1 to end the walk (dive's error). */
static int eff_visit(struct eff_state *s, const struct eff_node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		if (eff_visit(s, n->kids[i]) < 0)
			return -1;
	if (!n->parent || n->nkids)
		return 0;
	cleanup_free char *p = eff_path(n);
	int64_t size = 0;
	if (eff_is_whiteout(n)) {
		const struct eff_node *prev = eff_get((struct eff_node *)s->stacked, p);
		if (!prev)
			return -1;
		if (prev->isdir)
			size = eff_subtree_size(prev);
	} else {
		size = n->size;
	}
	struct eff_rec *r = eff_rec_of(s, p);
	r->cumulative += size;
	if (r->min < 0 || size < r->min)
		r->min = size;
	r->count++;
	return 0;
}

static int eff_cmp(const void *a, const void *b)
{
	const struct eff_rec *x = a, *y = b;
	if (x->cumulative != y->cumulative)
		return x->cumulative < y->cumulative ? 1 : -1;
	return strcmp(x->path, y->path);
}

/* Shortest decimal that reads back as the same double (what Go prints). */
static void eff_print_double(struct forensics_buf *b, double v)
{
	if (!isfinite(v)) {
		forensics_buf_printf(b, "null");
		return;
	}
	char tmp[64];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	forensics_buf_printf(b, "%s", tmp);
}

static void eff_json_str(struct forensics_buf *b, const char *s)
{
	forensics_buf_printf(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			forensics_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			forensics_buf_printf(b, "\\u%04x", *p);
		else
			forensics_buf_printf(b, "%c", *p);
	}
	forensics_buf_printf(b, "\"");
}

int forensics_render_efficiency(struct index_db *db, char **out, size_t *len, struct strata_err **err)
{
	cleanup_sqlite sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return -1;
	int L = index_db_layer_count(db);
	char *msg = NULL;
	if (sqlite3_exec(c, "CREATE TEMP TABLE effp(path TEXT PRIMARY KEY, i INTEGER) WITHOUT ROWID;", NULL, NULL, &msg) !=
	    SQLITE_OK) {
		strata_err_set(err, STRATA_EFORMAT, "efficiency.json: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	cleanup_sqlstmt sqlite3_stmt *st = NULL, *find = NULL, *ins = NULL;
	if (forensics_prepare(c, "SELECT path, size, type FROM entry WHERE layer = ? AND path IS NOT NULL AND path <> ''"
				 " ORDER BY id", &st, err) < 0 ||
	    forensics_prepare(c, "SELECT i FROM effp WHERE path = ?", &find, err) < 0 ||
	    forensics_prepare(c, "INSERT INTO effp VALUES(?, ?)", &ins, err) < 0)
		return strata_err_wrap(err, "efficiency.json");
	struct eff_state s = {.c = c, .find = find, .ins = ins};
	struct eff_node *stacked = NULL;
	uint64_t total = 0, user = 0;
	for (int k = 1; k <= L; k++) {
		struct eff_node *tree = eff_node_new(NULL, "");
		uint64_t fsize = 0;
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, k);
		while (sqlite3_step(st) == SQLITE_ROW) {
			int64_t size = sqlite3_column_int64(st, 1);
			const char *type = (const char *)sqlite3_column_text(st, 2);
			fsize += (uint64_t)size;
			eff_add(tree, (const char *)sqlite3_column_text(st, 0), size, type && !strcmp(type, "dir"));
		}
		total += fsize;
		if (k > 1)
			user += fsize;
		if (!stacked)
			stacked = eff_copy(tree, NULL);
		s.stacked = stacked;
		eff_visit(&s, tree);
		eff_stack(stacked, tree);
		eff_node_free(tree);
	}
	eff_node_free(stacked);
	int64_t minsum = 0, cumsum = 0;
	uint64_t wasted = 0;
	size_t nineff = 0;
	for (size_t i = 0; i < s.n; i++) {
		minsum += s.recs[i].min;
		cumsum += s.recs[i].cumulative;
		if (s.recs[i].count >= 2) {
			wasted += (uint64_t)s.recs[i].cumulative;
			s.recs[nineff++] = s.recs[i];
		} else
			free(s.recs[i].path);
	}
	qsort(s.recs, nineff, sizeof(*s.recs), eff_cmp);
	struct forensics_buf b = {0};
	forensics_buf_printf(&b, "{\n  \"method\": \"dive\",\n  \"efficiency\": ");
	eff_print_double(&b, cumsum == 0 ? 1.0 : (double)minsum / (double)cumsum);
	forensics_buf_printf(&b, ",\n  \"size_bytes\": %llu,\n  \"user_size_bytes\": %llu,\n  \"wasted_bytes\": %llu,\n"
				 "  \"wasted_user_percent\": ",
			     (unsigned long long)total, (unsigned long long)user, (unsigned long long)wasted);
	eff_print_double(&b, user ? (double)wasted / (double)user : NAN);
	forensics_buf_printf(&b, ",\n  \"inefficiencies\": [");
	for (size_t i = 0; i < nineff; i++) {
		forensics_buf_printf(&b, "%s\n    {\"path\": ", i ? "," : "");
		eff_json_str(&b, s.recs[i].path); /* "/a/b", as dive prints it */
		forensics_buf_printf(&b, ", \"count\": %lld, \"cumulative_size\": %lld, \"minimum_size\": %lld}",
				     (long long)s.recs[i].count, (long long)s.recs[i].cumulative, (long long)s.recs[i].min);
		free(s.recs[i].path);
	}
	forensics_buf_printf(&b, "%s]\n}\n", nineff ? "\n  " : "");
	free(s.recs);
	forensics_buf_take(&b, out, len);
	return 0;
}
