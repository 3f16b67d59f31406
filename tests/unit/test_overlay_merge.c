/* tests/unit/test_overlay_merge.c — path normalisation and the OCI layer merge (overlay/path.c,
 * overlay/merge.c, overlay/merge_tree.c). Each case builds layers the way an image would carry
 * them, visits the merged view and checks what `ls -liR` would show: which paths exist, their
 * type, which share an inode, link counts, and which entries were refused with what problem. */
#include "../../overlay/overlay.h"
#include "tap.h"

#include <string.h>
#include <time.h>

/* ---- helpers: a snapshot of one view and the problems of the last layer -------------------- */

struct rec {
	char *path;
	uint64_t ino, parent_ino;
	int64_t entry_id, data_entry_id;
	enum overlay_entry_type type;
	uint32_t nlink;
};

struct view {
	struct rec *r;
	size_t n, cap;
	bool order_ok;	/* preorder, siblings in byte order */
	bool parent_ok; /* every parent_ino was visited before */
	size_t max_path;
};

struct probs {
	int64_t id[64];
	char msg[64][80];
	size_t n;
};

/* Compares two paths component by component (the visit order). */
static int path_order(const char *a, const char *b)
{
	for (;;) {
		size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
		size_t l = la < lb ? la : lb;
		int c = memcmp(a, b, l);
		if (c)
			return c;
		if (la != lb)
			return la < lb ? -1 : 1;
		a += la;
		b += lb;
		if (!*a || !*b)
			return *a ? 1 : *b ? -1 : 0;
		a++;
		b++;
	}
}

static int view_cb(void *ctx, const struct overlay_merge_node *n)
{
	struct view *v = ctx;
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->r = realloc(v->r, v->cap * sizeof(*v->r));
	}
	if (v->n == 0) {
		v->order_ok = strcmp(n->path, "") == 0 && n->ino == 1 && n->parent_ino == 0;
		v->parent_ok = true;
	} else {
		if (path_order(v->r[v->n - 1].path, n->path) >= 0)
			v->order_ok = false;
		bool seen = false;
		for (size_t i = v->n; i-- > 0 && !seen;)
			seen = v->r[i].ino == n->parent_ino && v->r[i].type == OVERLAY_T_DIR;
		if (!seen)
			v->parent_ok = false;
	}
	size_t pl = strlen(n->path);
	if (pl > v->max_path)
		v->max_path = pl;
	v->r[v->n++] = (struct rec){strdup(n->path),  n->ino,  n->parent_ino, n->entry_id,
				    n->data_entry_id, n->type, n->nlink};
	return 0;
}

/* A cheap visitor for big trees: counts nodes and the longest path. */
static int count_cb(void *ctx, const struct overlay_merge_node *n)
{
	struct view *v = ctx;
	size_t pl = strlen(n->path);
	if (pl > v->max_path)
		v->max_path = pl;
	v->n++;
	return 0;
}

static void view_free(struct view *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->r[i].path);
	free(v->r);
	memset(v, 0, sizeof(*v));
}

static void snap(struct overlay_merge *m, struct view *v)
{
	view_free(v);
	overlay_merge_visit(m, view_cb, v);
}

static const struct rec *find(const struct view *v, const char *path)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->r[i].path, path) == 0)
			return &v->r[i];
	return NULL;
}

static void prob_cb(void *ctx, const struct overlay_merge_problem *p)
{
	struct probs *ps = ctx;
	if (ps->n < 64) {
		ps->id[ps->n] = p->entry_id;
		snprintf(ps->msg[ps->n], sizeof(ps->msg[0]), "%s", p->message);
		ps->n++;
	}
}

static bool has_prob(const struct probs *ps, int64_t id, const char *needle)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->id[i] == id && strstr(ps->msg[i], needle))
			return true;
	return false;
}

static void add(struct overlay_merge *m, int64_t id, const char *path, enum overlay_entry_type t,
		const char *tgt)
{
	struct overlay_merge_entry e = {id, path, t, tgt};
	overlay_merge_add(m, &e);
}
#define F(id, p) add(m, id, p, OVERLAY_T_REG, NULL)
#define D(id, p) add(m, id, p, OVERLAY_T_DIR, NULL)
#define S(id, p) add(m, id, p, OVERLAY_T_SYMLINK, NULL)
#define H(id, p, t) add(m, id, p, OVERLAY_T_HARDLINK, t)

static void end(struct overlay_merge *m, struct probs *ps)
{
	memset(ps, 0, sizeof(*ps));
	overlay_merge_end_layer(m, prob_cb, ps);
}

static bool view_sane(const struct view *v)
{
	return v->order_ok && v->parent_ok && v->n > 0;
}

/* ---- path normalisation ------------------------------------------------------------------- */

static void norm_case(const char *raw, const char *want)
{
	char *out = (char *)1;
	const char *problem = "unset";
	int rc = overlay_path_normalize(raw, &out, &problem);
	if (want)
		ok(rc == 0 && out && strcmp(out, want) == 0 && problem == NULL,
		   "normalize \"%.40s\" -> \"%.40s\" (got \"%.40s\")", raw, want, out ? out : "(null)");
	else
		ok(rc == 1 && out == NULL && problem && *problem, "normalize \"%.40s\" is hostile (%s)", raw,
		   problem ? problem : "no problem");
	free(rc == 0 ? out : NULL);
}

static void test_normalize(void)
{
	norm_case("./a//b/./c/", "a/b/c");
	norm_case("/etc/passwd", "etc/passwd");
	norm_case(".", "");
	norm_case("./", "");
	norm_case("/", "");
	norm_case("a/../b", NULL);
	norm_case("../x", NULL);
	norm_case("a/..", NULL);
	norm_case("..a/b..", "..a/b..");
	norm_case("a\nb/\xff\xfe", "a\nb/\xff\xfe");
	char big[400];
	memset(big, 'x', 300);
	big[300] = 0;
	norm_case(big, NULL);
	memset(big, 'y', 255);
	big[255] = 0;
	norm_case(big, big);
	char *longp = malloc(5000);
	for (int i = 0; i < 2500; i++)
		memcpy(longp + 2 * i, "a/", 2);
	longp[4999] = 0;
	norm_case(longp, NULL);
	free(longp);
	ok(strcmp(overlay_entry_type_name(OVERLAY_T_REG), "file") == 0 &&
	       strcmp(overlay_entry_type_name(OVERLAY_T_DIR), "dir") == 0 &&
	       strcmp(overlay_entry_type_name(OVERLAY_T_SYMLINK), "symlink") == 0 &&
	       strcmp(overlay_entry_type_name((enum overlay_entry_type)99), "unknown") == 0,
	   "entry type names");
}

/* ---- whiteouts and opaque directories ------------------------------------------------------ */

static void test_whiteouts(void)
{
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	struct view v = {0};
	overlay_merge_begin_layer(m);
	D(1, "a"), F(2, "a/f"), F(3, "a/g"), D(4, "d"), D(5, "d/x"), F(6, "d/x/y"), F(7, "e");
	end(m, &ps);
	snap(m, &v);
	uint64_t a_ino = find(&v, "a")->ino;
	ok(view_sane(&v) && v.n == 8 && ps.n == 0, "layer 1: 8 nodes, no problems");
	ok(find(&v, "d")->nlink == 3 && find(&v, "")->nlink == 4, "dir nlink = 2 + subdirs");

	overlay_merge_begin_layer(m);
	F(8, "a/.wh.f"), add(m, 9, ".wh.d", OVERLAY_T_DIR, NULL), F(10, ".wh.nothing"), F(11, "e"),
	    F(12, ".wh.e");
	end(m, &ps);
	snap(m, &v);
	ok(!find(&v, "a/f") && find(&v, "a/g") && find(&v, "a")->ino == a_ino,
	   "file whiteout removes a/f only");
	ok(!find(&v, "d") && !find(&v, "d/x/y"),
	   "directory whiteout (itself a dir entry) removes the subtree");
	ok(!find(&v, "a/.wh.f") && !find(&v, ".wh.d") && !find(&v, ".wh.nothing"), "whiteouts never shown");
	ok(find(&v, "e") && find(&v, "e")->entry_id == 11, "whiteout does not hide its own layer's entry");
	ok(ps.n == 0 && v.n == 4 && view_sane(&v), "whiteout of a missing path is a silent no-op");
	view_free(&v);
	overlay_merge_free(m);
}

static void opaque_case(bool marker_last, bool dir_entry)
{
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	struct view v = {0};
	D(1, "o"), F(2, "o/old"), D(3, "o/sub"), F(4, "o/sub/f"), F(5, "keep");
	end(m, &ps);
	snap(m, &v);
	uint64_t o_ino = find(&v, "o")->ino;
	if (!marker_last)
		F(10, "o/.wh..wh..opq");
	if (dir_entry)
		D(11, "o");
	F(12, "o/new"), D(13, "o/sub"), F(14, "o/sub/g");
	if (marker_last)
		F(10, "o/.wh..wh..opq");
	end(m, &ps);
	snap(m, &v);
	const char *how = marker_last ? "marker after entries" : "marker first";
	ok(find(&v, "o") && find(&v, "o")->ino == o_ino && find(&v, "o")->entry_id == (dir_entry ? 11 : 1),
	   "opaque (%s): directory stays, same ino", how);
	ok(!find(&v, "o/old") && !find(&v, "o/sub/f") && !find(&v, "o/.wh..wh..opq"),
	   "opaque (%s): lower content and marker hidden", how);
	ok(find(&v, "o/new") && find(&v, "o/sub/g") && find(&v, "keep") && ps.n == 0 && view_sane(&v),
	   "opaque (%s): this layer's entries kept", how);
	view_free(&v);
	overlay_merge_free(m);
}

static void test_opaque(void)
{
	opaque_case(true, false);
	opaque_case(false, false);
	opaque_case(true, true);
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	struct view v = {0};
	D(1, "a"), F(2, "a/b"), F(3, "c");
	end(m, &ps);
	F(4, "n"), F(5, ".wh..wh..opq");
	end(m, &ps);
	snap(m, &v);
	ok(v.n == 2 && find(&v, "n") && find(&v, "")->ino == 1, "opaque root hides all lower layers");
	view_free(&v);
	overlay_merge_free(m);
}

/* ---- replacement rules ----------------------------------------------------------------------- */

static void test_replace(void)
{
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	struct view v = {0};
	F(1, "p"), D(2, "d"), F(3, "d/a");
	end(m, &ps);
	snap(m, &v);
	uint64_t p1 = find(&v, "p")->ino, d1 = find(&v, "d")->ino;
	D(4, "p"), F(5, "p/c"), D(6, "d"), F(7, "d/b"), D(8, "d/s");
	end(m, &ps);
	snap(m, &v);
	const struct rec *p = find(&v, "p");
	ok(p && p->type == OVERLAY_T_DIR && p->ino != p1 && find(&v, "p/c"),
	   "dir over file: new dir, new ino");
	const struct rec *d = find(&v, "d");
	ok(d && d->ino == d1 && d->entry_id == 6 && d->data_entry_id == 6 && find(&v, "d/a") &&
	       find(&v, "d/b"),
	   "dir over dir merges: children kept, ino kept, upper attributes");
	ok(d && d->nlink == 3, "merged dir nlink counts its subdirectory");
	uint64_t p2 = p->ino;
	F(9, "p"), S(10, "d");
	end(m, &ps);
	snap(m, &v);
	p = find(&v, "p");
	ok(p && p->type == OVERLAY_T_REG && p->ino != p2 && p->ino != p1 && !find(&v, "p/c"),
	   "file over dir: subtree gone, new ino");
	ok(find(&v, "d")->type == OVERLAY_T_SYMLINK && !find(&v, "d/a") && v.n == 3 && view_sane(&v),
	   "symlink over dir replaces the subtree");
	uint64_t p3 = find(&v, "p")->ino;
	F(11, "p");
	end(m, &ps);
	snap(m, &v);
	ok(find(&v, "p")->ino != p3 && find(&v, "p")->entry_id == 11, "file over file: new object, new ino");
	ok(overlay_merge_node_count(m) == v.n, "node count matches the view");
	view_free(&v);
	overlay_merge_free(m);
}

static void test_parents(void)
{
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	struct view v = {0};
	F(1, "a/b/c/file"), S(2, "s"), F(3, "s/x"), F(4, "f"), F(5, "f/x/y");
	end(m, &ps);
	snap(m, &v);
	const struct rec *a = find(&v, "a"), *b = find(&v, "a/b"), *c = find(&v, "a/b/c");
	ok(a && b && c && a->entry_id == -1 && c->entry_id == -1 && a->type == OVERLAY_T_DIR &&
	       a->ino != b->ino && b->ino != c->ino && c->ino == find(&v, "a/b/c/file")->parent_ino,
	   "missing parents synthesised (entry -1, own inos)");
	ok(!find(&v, "s/x") && has_prob(&ps, 3, "parent is not a directory"),
	   "entry under a symlink refused");
	ok(!find(&v, "f/x") && has_prob(&ps, 5, "parent is not a directory") && ps.n == 2,
	   "entry under a file refused, nothing synthesised below it");
	uint64_t a_ino = a->ino;
	D(6, "a"), F(7, "s/y");
	end(m, &ps);
	snap(m, &v);
	ok(find(&v, "a")->entry_id == 6 && find(&v, "a")->ino == a_ino,
	   "real dir entry later takes the synthesised dir");
	ok(has_prob(&ps, 7, "parent is not a directory") && view_sane(&v),
	   "symlink parent refused in an upper layer too");
	view_free(&v);
	overlay_merge_free(m);
}

/* ---- hard links --------------------------------------------------------------------------- */

static void test_hardlinks(void)
{
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	struct view v = {0};
	F(1, "f"), H(2, "h", "f"), H(3, "h2", "h"), D(4, "dir"), H(5, "x", "nope"), H(6, "y", "dir"),
	    H(7, "z", "z"), F(8, "w"), H(9, "w", "w"), add(m, 10, "q", OVERLAY_T_HARDLINK, NULL);
	end(m, &ps);
	snap(m, &v);
	const struct rec *f = find(&v, "f"), *h = find(&v, "h"), *h2 = find(&v, "h2");
	ok(f && h && f->ino == h->ino && h->type == OVERLAY_T_REG && h->entry_id == 2 &&
	       h->data_entry_id == 1,
	   "hard link shares the target's ino, type and data");
	ok(h2 && h2->ino == f->ino && h2->data_entry_id == 1 && h2->entry_id == 3 && f->nlink == 3 &&
	       h2->nlink == 3,
	   "chain of hard links resolves to the real file, nlink 3");
	ok(!find(&v, "x") && has_prob(&ps, 5, "missing"), "link to a missing target refused");
	ok(!find(&v, "y") && has_prob(&ps, 6, "directory"), "link to a directory refused");
	ok(!find(&v, "z") && has_prob(&ps, 7, "missing"), "link to itself (not yet present) refused");
	ok(find(&v, "w") && find(&v, "w")->entry_id == 8 && has_prob(&ps, 9, "itself"),
	   "link to itself over an existing file refused, file kept");
	ok(!find(&v, "q") && has_prob(&ps, 10, "without a target") && ps.n == 5,
	   "link without target refused");

	/* Replacing the target path: the link keeps the old object. */
	uint64_t old = f->ino;
	F(11, "f");
	end(m, &ps);
	snap(m, &v);
	f = find(&v, "f"), h = find(&v, "h");
	ok(f->ino != old && f->nlink == 1 && h->ino == old && h->data_entry_id == 1 && h->nlink == 2,
	   "replaced target: new ino for the path, link keeps old ino and data");
	F(12, ".wh.h2");
	end(m, &ps);
	snap(m, &v);
	ok(find(&v, "h")->nlink == 1 && !find(&v, "h2"), "whiteout of one link lowers nlink");

	/* A link whose target lies inside the directory it replaces. */
	D(13, "k"), F(14, "k/t");
	end(m, &ps);
	H(15, "k", "k/t");
	end(m, &ps);
	snap(m, &v);
	const struct rec *k = find(&v, "k");
	ok(k && k->type == OVERLAY_T_REG && k->nlink == 1 && k->data_entry_id == 14 && !find(&v, "k/t"),
	   "link replacing the directory that held its target");
	ok(view_sane(&v) && overlay_merge_node_count(m) == v.n, "view sane after link churn");
	view_free(&v);
	overlay_merge_free(m);
}

/* ---- duplicates, odd whiteouts, root, literal mode ------------------------------------------- */

static void test_duplicates(void)
{
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	struct view v = {0};
	F(1, "d"), F(2, "d"), D(3, "x"), F(4, "x/c"), F(5, "x"), F(6, "t"), H(7, "l", "t"), F(8, "t");
	end(m, &ps);
	snap(m, &v);
	ok(find(&v, "d")->entry_id == 2 && v.n == 5, "duplicate: the last one wins, one node");
	ok(find(&v, "x")->type == OVERLAY_T_REG && !find(&v, "x/c"),
	   "file after dir in one layer replaces it");
	ok(find(&v, "l")->ino != find(&v, "t")->ino && find(&v, "l")->data_entry_id == 6 &&
	       find(&v, "t")->entry_id == 8,
	   "link to an earlier duplicate keeps that object");
	view_free(&v);
	overlay_merge_free(m);
}

static void test_odd_whiteouts(void)
{
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	struct view v = {0};
	D(1, "a"), F(2, "a/b"), F(3, "f");
	end(m, &ps);
	char *n = NULL;
	const char *pr = NULL;
	ok(overlay_path_normalize("/.wh.", &n, &pr) == 0 && strcmp(n, ".wh.") == 0,
	   "\"/.wh.\" normalises to \".wh.\"");
	F(4, n), F(5, "a/.wh."), F(6, ".wh.."), add(m, 7, ".wh.f", OVERLAY_T_HARDLINK, "zzz"),
	    F(8, ".wh.x/y"), F(9, "a/.wh..wh.plnk"), D(10, ""), F(11, "./bad"), F(12, "a//b");
	free(n);
	end(m, &ps);
	snap(m, &v);
	ok(find(&v, "") && find(&v, "a/b") && has_prob(&ps, 4, "root"),
	   "\".wh.\" in root: problem, root survives");
	ok(has_prob(&ps, 5, "names nothing") && has_prob(&ps, 6, "invalid"),
	   "\".wh.\" alone and \".wh..\" are problems");
	ok(!find(&v, "f") && !has_prob(&ps, 7, ""), "hard-link-typed whiteout acts by name");
	ok(!find(&v, ".wh.x") && !find(&v, ".wh.x/y") && has_prob(&ps, 8, "below a whiteout"),
	   "entry inside a whiteout");
	ok(has_prob(&ps, 9, "metadata") && !find(&v, "a/.wh..wh.plnk"),
	   "aufs metadata ignored with a problem");
	ok(find(&v, "")->entry_id == 10 && find(&v, "")->ino == 1,
	   "root entry (\"./\" normalised) gives the root its entry");
	ok(has_prob(&ps, 11, "normalised") && has_prob(&ps, 12, "normalised") && ps.n == 7,
	   "unnormalised paths refused");
	F(13, "");
	end(m, &ps);
	snap(m, &v);
	ok(has_prob(&ps, 13, "root is not a directory") && find(&v, "")->type == OVERLAY_T_DIR &&
	       view_sane(&v),
	   "file entry for the root refused");
	view_free(&v);
	overlay_merge_free(m);
}

static void test_literal(void)
{
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_LITERAL);
	struct probs ps;
	struct view v = {0};
	F(1, ".wh.x"), D(2, "d"), F(3, "d/.wh..wh..opq"), add(m, 4, ".wh.dir", OVERLAY_T_DIR, NULL),
	    F(5, ".wh.dir/y");
	end(m, &ps);
	snap(m, &v);
	ok(find(&v, ".wh.x") && find(&v, ".wh.x")->type == OVERLAY_T_REG && find(&v, "d/.wh..wh..opq") &&
	       find(&v, ".wh.dir/y") && ps.n == 0 && v.n == 6 && view_sane(&v),
	   "literal mode shows whiteout entries as ordinary files");
	view_free(&v);
	overlay_merge_free(m);
}

/* A resolver standing for the merged view below: "lower/a" is file entry 100, "lower/s" a symlink
 * (entry 101), "lower" a directory; anything else is missing. Counts its calls. */
static int resolve_calls;
static int lower_resolve(void *ctx, const char *target, int64_t *data, enum overlay_entry_type *type)
{
	(void)ctx;
	resolve_calls++;
	if (!strcmp(target, "lower/a"))
		*data = 100, *type = OVERLAY_T_REG;
	else if (!strcmp(target, "lower/s"))
		*data = 101, *type = OVERLAY_T_SYMLINK;
	else if (!strcmp(target, "lower"))
		*data = 102, *type = OVERLAY_T_DIR;
	else
		return -1;
	return 0;
}

static void test_literal_lower_links(void)
{
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_LITERAL);
	overlay_merge_set_resolver(m, lower_resolve, NULL);
	struct probs ps;
	struct view v = {0};
	resolve_calls = 0;
	H(1, "b", "lower/a"), H(2, "d/e", "lower/a"), H(3, "b2", "b"), F(4, "c"), H(5, "c2", "c"),
	    H(6, "s", "lower/s"), H(7, "gone", "lower/none"), H(8, "dir", "lower"), F(9, "r"), H(10, "r", "lower/a"),
	    H(11, "b", "lower/a");
	end(m, &ps);
	snap(m, &v);
	const struct rec *b = find(&v, "b"), *e = find(&v, "d/e"), *b2 = find(&v, "b2"), *r = find(&v, "r");
	const struct rec *c = find(&v, "c"), *c2 = find(&v, "c2"), *sl = find(&v, "s");
	ok(b && e && b2 && r && b->data_entry_id == 100 && b->type == OVERLAY_T_REG && b->entry_id == 11 &&
	       e->ino == b->ino && b2->ino == b->ino && r->ino == b->ino && e->data_entry_id == 100 &&
	       b2->data_entry_id == 100 && r->entry_id == 10 && b->nlink == 4,
	   "literal: links to a lower file are files backed by it, sharing one ino (4 links)");
	ok(c && c2 && c->ino == c2->ino && c->ino != b->ino && c2->data_entry_id == 4 && sl &&
	       sl->type == OVERLAY_T_SYMLINK && sl->data_entry_id == 101 && sl->ino != b->ino,
	   "literal: links inside the layer as before; a link to a lower symlink shows the symlink");
	ok(!find(&v, "gone") && !find(&v, "dir") && has_prob(&ps, 7, "target missing") &&
	       has_prob(&ps, 8, "target missing") && ps.n == 2 && view_sane(&v),
	   "literal: a target the lower view lacks, or a lower directory, is reported, not placed");
	view_free(&v);
	overlay_merge_free(m);

	/* without a resolver (and in OCI mode) the link is reported as before */
	m = overlay_merge_new(OVERLAY_MERGE_LITERAL);
	H(1, "b", "lower/a");
	end(m, &ps);
	snap(m, &v);
	ok(!find(&v, "b") && has_prob(&ps, 1, "target missing"), "literal without a resolver: reported");
	view_free(&v);
	overlay_merge_free(m);
	m = overlay_merge_new(OVERLAY_MERGE_OCI);
	overlay_merge_set_resolver(m, lower_resolve, NULL);
	resolve_calls = 0;
	H(1, "b", "lower/a");
	end(m, &ps);
	snap(m, &v);
	ok(!find(&v, "b") && has_prob(&ps, 1, "target missing") && resolve_calls == 0,
	   "OCI mode never asks the resolver");
	view_free(&v);
	overlay_merge_free(m);
}

/* ---- stability, depth, scale ----------------------------------------------------------------- */

static void test_stability(void)
{
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	struct view v1 = {0}, v2 = {0};
	D(1, "a"), F(2, "a/f"), F(3, "b"), S(4, "l");
	end(m, &ps);
	snap(m, &v1);
	F(5, "c"), D(6, "a");
	end(m, &ps);
	snap(m, &v2);
	bool same = true;
	uint64_t max1 = 0;
	for (size_t i = 0; i < v1.n; i++) {
		const struct rec *r = find(&v2, v1.r[i].path);
		same = same && r && r->ino == v1.r[i].ino;
		max1 = v1.r[i].ino > max1 ? v1.r[i].ino : max1;
	}
	ok(same && find(&v2, "c")->ino > max1, "inos stable across layers, new objects get new inos");
	bool distinct = true;
	for (size_t i = 0; i < v2.n; i++)
		for (size_t j = i + 1; j < v2.n; j++)
			distinct = distinct && v2.r[i].ino != v2.r[j].ino;
	ok(distinct, "distinct objects have distinct inos");
	view_free(&v1);
	view_free(&v2);
	overlay_merge_free(m);
}

static void test_deep(void)
{
	enum { DEPTH = 10000 };
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	char *p = malloc(2 * DEPTH + 8);
	size_t len = 0;
	for (int i = 0; i < DEPTH; i++) {
		if (i)
			p[len++] = '/';
		p[len++] = 'd';
		p[len] = 0;
		D(i + 1, p);
	}
	memcpy(p + len, "/file", 6);
	F(DEPTH + 1, p);
	end(m, &ps);
	struct view v = {0};
	overlay_merge_visit(m, count_cb, &v);
	ok(v.n == DEPTH + 2 && v.max_path == len + 5 && ps.n == 0, "10000-deep path: all %d nodes visited",
	   DEPTH + 2);
	/* Only the file, under synthesised parents, in a fresh merge. */
	struct overlay_merge *m2 = overlay_merge_new(OVERLAY_MERGE_OCI);
	add(m2, 1, p, OVERLAY_T_REG, NULL);
	overlay_merge_end_layer(m2, NULL, NULL);
	ok(overlay_merge_node_count(m2) == DEPTH + 2, "10000 parents synthesised");
	overlay_merge_free(m2);
	F(DEPTH + 2, ".wh.d");
	end(m, &ps);
	ok(overlay_merge_node_count(m) == 1, "whiteout removes the 10000-deep tree");
	free(p);
	overlay_merge_free(m);
}

static void test_scale(void)
{
	enum { NDIR = 200, NFILE = 1000 };
	struct overlay_merge *m = overlay_merge_new(OVERLAY_MERGE_OCI);
	struct probs ps;
	char path[64];
	clock_t t0 = clock();
	int64_t id = 1;
	for (int d = 0; d < NDIR; d++) {
		snprintf(path, sizeof(path), "usr/d%03d", d);
		D(id++, path);
		for (int f = 0; f < NFILE; f++) {
			snprintf(path, sizeof(path), "usr/d%03d/f%04d", d, f);
			F(id++, path);
		}
	}
	end(m, &ps);
	struct view v = {0};
	overlay_merge_visit(m, count_cb, &v);
	ok(v.n == 1 + 1 + NDIR + NDIR * NFILE && ps.n == 0, "200 000 files in one layer: %zu nodes", v.n);
	for (int d = 0; d < NDIR; d += 2) {
		snprintf(path, sizeof(path), "usr/d%03d", d);
		F(id++, path);
	}
	end(m, &ps);
	ok(overlay_merge_node_count(m) == 2 + NDIR + NDIR * NFILE / 2, "half the dirs replaced by files");
	printf("# scale: %.2f s cpu\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
	overlay_merge_free(m);
}

int main(void)
{
	test_normalize();
	test_whiteouts();
	test_opaque();
	test_replace();
	test_parents();
	test_hardlinks();
	test_duplicates();
	test_odd_whiteouts();
	test_literal();
	test_literal_lower_links();
	test_stability();
	test_deep();
	test_scale();
	return tap_done();
}
