/* tests/fuzz/merge.c — libFuzzer target for path normalisation and the layer merge.
 *
 * Input: lines. "L" starts a new layer (the previous one is applied and its view visited);
 * "M" as the very first line selects LITERAL mode; any other line is "<type> <path>[ -> target]"
 * where type is one of f d l h c b p s (file, dir, symlink, hard link, char, block, fifo, socket).
 * A lowercase type sends the path (and target) through overlay_path_normalize first and drops the
 * entry when it is hostile; an uppercase type hands the raw path to the merge unchanged, which must
 * refuse it cleanly when it is not normalised. Any other type byte becomes an invalid type value.
 *
 * After every layer the view is visited and its invariants checked (preorder with byte-sorted
 * siblings, parents before children, no hard-link type, nlink of directories and of shared inos,
 * node count); a violation aborts so the fuzzer reports it.
 */
#include "overlay.h"

#include <string.h>

struct seen {
	uint64_t ino, parent_ino;
	int64_t data_entry_id;
	enum overlay_entry_type type;
	uint32_t nlink;
};

struct check {
	struct seen *s;
	size_t n, cap;
	char *prev;	       /* previous path */
	unsigned char *is_dir; /* by ino: visited as a directory */
	size_t is_dir_cap;
	size_t stop_at; /* 0: never stop early */
};

static void fail(const char *what)
{
	fprintf(stderr, "merge fuzz: invariant broken: %s\n", what);
	abort();
}

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

static int visit_cb(void *ctx, const struct overlay_merge_node *n)
{
	struct check *c = ctx;
	if (c->n == 0) {
		if (n->ino != 1 || n->parent_ino != 0 || n->path[0] || n->type != OVERLAY_T_DIR)
			fail("root");
	} else {
		if (!n->name[0] || strchr(n->name, '/'))
			fail("name empty or with a slash");
		if (path_order(c->prev, n->path) >= 0)
			fail("order");
		if (n->parent_ino >= c->is_dir_cap || !c->is_dir[n->parent_ino])
			fail("parent not visited before child");
	}
	if (n->type == OVERLAY_T_HARDLINK)
		fail("hard link type in the view");
	if (n->ino >= c->is_dir_cap) {
		size_t cap = c->is_dir_cap ? c->is_dir_cap : 64;
		while (cap <= n->ino)
			cap *= 2;
		c->is_dir = xrealloc(c->is_dir, cap);
		memset(c->is_dir + c->is_dir_cap, 0, cap - c->is_dir_cap);
		c->is_dir_cap = cap;
	}
	if (n->type == OVERLAY_T_DIR) {
		if (c->is_dir[n->ino])
			fail("directory ino seen twice");
		c->is_dir[n->ino] = 1;
	}
	free(c->prev);
	c->prev = xstrdup(n->path);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->s = xrealloc(c->s, c->cap * sizeof(*c->s));
	}
	c->s[c->n++] = (struct seen){n->ino, n->parent_ino, n->data_entry_id, n->type, n->nlink};
	return c->stop_at && c->n == c->stop_at ? 7 : 0;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct seen *x = a, *y = b;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void check_view(struct overlay_merge *m)
{
	struct check c = {0};
	if (overlay_merge_visit(m, visit_cb, &c) != 0)
		fail("visit returned non-zero");
	if (c.n != overlay_merge_node_count(m))
		fail("node count");
	/* Directory nlink: 2 + child directories. */
	uint32_t *subdirs = xcalloc(c.is_dir_cap, sizeof(*subdirs));
	for (size_t i = 1; i < c.n; i++)
		if (c.s[i].type == OVERLAY_T_DIR)
			subdirs[c.s[i].parent_ino]++;
	for (size_t i = 0; i < c.n; i++)
		if (c.s[i].type == OVERLAY_T_DIR && c.s[i].nlink != 2 + subdirs[c.s[i].ino])
			fail("directory nlink");
	free(subdirs);
	/* Non-directories: nlink = paths sharing the ino, and they agree on type and data. */
	qsort(c.s, c.n, sizeof(*c.s), cmp_ino);
	for (size_t i = 0; i < c.n;) {
		size_t j = i;
		while (j < c.n && c.s[j].ino == c.s[i].ino)
			j++;
		for (size_t k = i; k < j; k++) {
			if (c.s[k].type == OVERLAY_T_DIR && j - i != 1)
				fail("directory shares its ino");
			if (c.s[k].type != OVERLAY_T_DIR && c.s[k].nlink != j - i)
				fail("nlink of a shared ino");
			if (c.s[k].type != c.s[i].type || c.s[k].data_entry_id != c.s[i].data_entry_id)
				fail("paths sharing an ino disagree");
		}
		i = j;
	}
	/* Early stop is honoured. */
	if (c.n > 1) {
		struct check c2 = {.stop_at = c.n / 2 + 1};
		if (overlay_merge_visit(m, visit_cb, &c2) != 7 || c2.n != c.n / 2 + 1)
			fail("early stop");
		free(c2.s);
		free(c2.prev);
		free(c2.is_dir);
	}
	free(c.s);
	free(c.prev);
	free(c.is_dir);
}

static void problem_cb(void *ctx, const struct overlay_merge_problem *p)
{
	size_t *count = ctx;
	if (!p->message || !p->message[0] || !p->path)
		fail("problem without message or path");
	(*count)++;
}

static int type_of(unsigned char ch, int *type)
{
	static const char types[] = "fdlhcbps";
	const char *p = strchr(types, ch | 0x20);
	if (ch && p) {
		*type = (int)(p - types);
		return ch >= 'a';
	}
	*type = 40 + ch % 8; /* not an entry type */
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	enum overlay_merge_mode mode = OVERLAY_MERGE_OCI;
	if (n >= 2 && d[0] == 'M' && d[1] == '\n')
		mode = OVERLAY_MERGE_LITERAL;
	struct overlay_merge *m = overlay_merge_new(mode);
	size_t problems = 0;
	int64_t id = 0;
	overlay_merge_begin_layer(m);
	for (size_t pos = 0; pos < n;) {
		const uint8_t *nl = memchr(d + pos, '\n', n - pos);
		size_t end = nl ? (size_t)(nl - d) : n;
		char *line = xstrndup((const char *)d + pos, end - pos); /* stops at a NUL byte */
		pos = end + 1;
		size_t len = strlen(line);
		if (len == 1 && (line[0] == 'L' || line[0] == 'M')) {
			overlay_merge_end_layer(m, problem_cb, &problems);
			check_view(m);
			overlay_merge_begin_layer(m);
		} else if (len >= 2) {
			int type;
			int normalise = type_of((unsigned char)line[0], &type);
			char *path = line + 2;
			char *target = NULL;
			char *arrow = strstr(path, " -> ");
			if (arrow) {
				*arrow = '\0';
				target = arrow + 4;
			}
			char *npath = NULL, *ntarget = NULL;
			const char *problem = NULL;
			bool place = true;
			if (normalise) {
				int rc = overlay_path_normalize(path, &npath, &problem);
				if (rc != 0 && (npath || !problem))
					fail("normalize: hostile without problem or with output");
				if (rc == 0 && (problem || !npath || strstr(npath, "//") || npath[0] == '/'))
					fail("normalize: bad output");
				place = rc == 0;
				if (target && overlay_path_normalize(target, &ntarget, &problem) != 0)
					ntarget = NULL;
			}
			if (place) {
				struct overlay_merge_entry e = {
				    .id = id++,
				    .path = normalise ? npath : path,
				    .type = (enum overlay_entry_type)type,
				    .hardlink_target = normalise ? ntarget : target,
				};
				overlay_merge_add(m, &e);
			}
			free(npath);
			free(ntarget);
		}
		free(line);
	}
	overlay_merge_end_layer(m, problem_cb, &problems);
	check_view(m);
	overlay_merge_free(m);
	return 0;
}
