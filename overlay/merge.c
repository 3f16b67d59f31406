/* overlay/merge.c — the OCI layer merge rules over the tree of merge_tree.c.
 *
 * Owns the changeset semantics: entries of a layer are staged by overlay_merge_add and applied
 * by overlay_merge_end_layer in two phases. Phase 1 applies every whiteout (".wh.NAME") and opaque
 * marker (".wh..wh..opq") of the layer to the tree as it stands, i.e. to the lower layers only, so
 * a whiteout never hides an entry of its own layer whatever the order inside the tar. Phase 2
 * applies the other entries in order: missing parents are synthesised (entry -1), an entry under a
 * non-directory is refused (the tree is path-based, symlinks are never followed), a directory
 * merges into a directory, anything else replaces what was there with a new object (new ino), and
 * a hard link shares the ino and data of the object its target path shows at that moment.
 *
 * In literal mode (one layer's own view) a hard link may name a file of a lower layer, which the
 * layer's tree does not hold: with a resolver (overlay_merge_set_resolver) it is placed as a file
 * of its own backed by what the caller's merged view shows at the target path, as `tar -x` of the
 * layers 1..N onto one tree gives for that path; further links of the layer to the same target
 * share its ino.
 *
 * Entries that cannot be placed are reported through the problem callback, never fatal. Paths
 * must be normalised (overlay_path_normalize); one that is not is reported, not placed.
 */
#include "overlay_int.h"

#include <string.h>

#define WH_PREFIX ".wh."
#define WH_PREFIX_LEN 4
#define WH_META_PREFIX ".wh..wh."
#define WH_META_PREFIX_LEN 8
#define WH_OPAQUE ".wh..wh..opq"
#define WH_OPAQUE_LEN 12
#define NO_TARGET SIZE_MAX

/* What an entry is for, decided once per entry before the phases. */
enum staged_kind {
	STAGED_PLACE = 0, /* an ordinary entry */
	STAGED_WHITEOUT,  /* removes dir/name from the lower layers */
	STAGED_OPAQUE,	  /* hides the lower content of its directory */
	STAGED_PROBLEM,	  /* reported in phase 2, not placed */
};

struct staged_entry {
	int64_t id;
	/* Offsets of NUL-terminated strings in the layer's string arena (lengths are taken with
	 * strlen when used: 32 bytes per staged entry, not 48, for layers of millions of entries). */
	size_t path_off;
	size_t target_off; /* NO_TARGET: none */
	enum overlay_entry_type type;
};

struct overlay_merge {
	enum overlay_merge_mode mode;
	struct merge_tree tree;

	/* the current layer: entries and one arena for their strings (offsets, since it grows) */
	struct staged_entry *ents;
	size_t nents, ents_cap;
	char *arena;
	size_t arena_len, arena_cap;

	/* the last directory walked to in phase 2: a tar lists a directory's entries together, so
	 * most parents are found without walking from the root. Pointers into the arena, valid only
	 * inside overlay_merge_end_layer; invalid whenever a directory node is removed. */
	const char *cache_path;
	size_t cache_len;
	struct merge_node *cache_node;

	void (*cb)(void *ctx, const struct overlay_merge_problem *p);
	void *cb_ctx;

	/* literal mode: links whose target is below the layer (overlay_merge_set_resolver) */
	overlay_merge_resolve_fn resolve;
	void *resolve_ctx;
	struct foreign_link *foreign; /* per lower target, the latest such link of the current layer */
	size_t nforeign, foreign_cap;
	size_t *fslots; /* open addressing over foreign by target: index + 1, 0 empty */
	size_t nfslots;  /* power of two, or 0 */
};

/* The latest link of the current layer to a target below it (placed through the resolver, or
 * sharing an earlier one): arena offsets of the target and of the link's own path, and its entry
 * (to tell it from a later entry at the same path). */
struct foreign_link {
	size_t target_off, path_off;
	int64_t id;
};

/* See overlay.h. Owned result, free with overlay_merge_free. */
struct overlay_merge *overlay_merge_new(enum overlay_merge_mode mode)
{
	struct overlay_merge *m = xcalloc(1, sizeof(*m));
	m->mode = mode;
	merge_tree_init(&m->tree);
	return m;
}

/* See overlay.h. Accepts NULL; staged entries of an unfinished layer are dropped. */
void overlay_merge_free(struct overlay_merge *m)
{
	if (!m)
		return;
	merge_tree_destroy(&m->tree);
	free(m->foreign);
	free(m->fslots);
	free(m->ents);
	free(m->arena);
	free(m);
}

/* See overlay.h. */
void overlay_merge_set_resolver(struct overlay_merge *m, overlay_merge_resolve_fn fn, void *ctx)
{
	m->resolve = fn;
	m->resolve_ctx = fn ? ctx : NULL;
}

/* See overlay.h. A layer still staged (add without end_layer) is applied first, without a
 * problem callback. */
void overlay_merge_begin_layer(struct overlay_merge *m)
{
	if (m->nents > 0)
		overlay_merge_end_layer(m, NULL, NULL);
}

static size_t arena_put(struct overlay_merge *m, const char *s)
{
	size_t len = strlen(s);
	if (m->arena_len + len + 1 > m->arena_cap) {
		size_t cap = m->arena_cap ? m->arena_cap : 4096;
		while (m->arena_len + len + 1 > cap)
			cap *= 2;
		m->arena = xrealloc(m->arena, cap);
		m->arena_cap = cap;
	}
	size_t off = m->arena_len;
	memcpy(m->arena + off, s, len + 1);
	m->arena_len += len + 1;
	return off;
}

/* See overlay.h. Copies the strings; a NULL path is staged as a problem entry. */
void overlay_merge_add(struct overlay_merge *m, const struct overlay_merge_entry *e)
{
	if (m->nents == m->ents_cap) {
		m->ents_cap = m->ents_cap ? m->ents_cap * 2 : 256;
		m->ents = xrealloc(m->ents, m->ents_cap * sizeof(*m->ents));
	}
	struct staged_entry *s = &m->ents[m->nents++];
	s->id = e->id;
	s->type = e->type;
	s->path_off = arena_put(m, e->path ? e->path : "");
	s->target_off = NO_TARGET;
	if (e->type == OVERLAY_T_HARDLINK && e->hardlink_target)
		s->target_off = arena_put(m, e->hardlink_target);
}

/* A normalised path: "" or components joined by single "/", none empty, "." or "..". */
static bool path_is_clean(const char *p, size_t len)
{
	if (len == 0)
		return true;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		size_t clen = i - start;
		if (clen == 0)
			return false;
		if (p[start] == '.' && (clen == 1 || (clen == 2 && p[start + 1] == '.')))
			return false;
		start = i + 1;
	}
	return true;
}

static size_t path_base_off(const char *p, size_t len)
{
	const char *slash = memrchr(p, '/', len);
	return slash ? (size_t)(slash - p) + 1 : 0;
}

static bool has_prefix(const char *s, size_t len, const char *prefix, size_t plen)
{
	return len >= plen && memcmp(s, prefix, plen) == 0;
}

/* Sorts an entry into a kind; *problem is the message for STAGED_PROBLEM. */
static enum staged_kind entry_classify(const struct overlay_merge *m, const struct staged_entry *s,
				       const char **problem)
{
	const char *p = m->arena + s->path_off;
	size_t plen = strlen(p);
	*problem = NULL;
	if (!path_is_clean(p, plen)) {
		*problem = "path is not normalised";
		return STAGED_PROBLEM;
	}
	if ((int)s->type < (int)OVERLAY_T_REG || (int)s->type > (int)OVERLAY_T_SOCK) {
		*problem = "unknown entry type";
		return STAGED_PROBLEM;
	}
	if (m->mode == OVERLAY_MERGE_LITERAL)
		return STAGED_PLACE;
	size_t base = path_base_off(p, plen);
	/* A ".wh." component above the last one: the entry lives inside a whiteout. */
	for (size_t start = 0; start < base;) {
		const char *slash = memchr(p + start, '/', base - start);
		size_t end = (size_t)(slash - p);
		if (has_prefix(p + start, end - start, WH_PREFIX, WH_PREFIX_LEN)) {
			*problem = "path is below a whiteout entry";
			return STAGED_PROBLEM;
		}
		start = end + 1;
	}
	const char *name = p + base;
	size_t nlen = plen - base;
	if (nlen == WH_OPAQUE_LEN && memcmp(name, WH_OPAQUE, WH_OPAQUE_LEN) == 0)
		return STAGED_OPAQUE;
	if (has_prefix(name, nlen, WH_META_PREFIX, WH_META_PREFIX_LEN)) {
		*problem = "unknown whiteout metadata entry ignored";
		return STAGED_PROBLEM;
	}
	if (!has_prefix(name, nlen, WH_PREFIX, WH_PREFIX_LEN))
		return STAGED_PLACE;
	const char *target = name + WH_PREFIX_LEN;
	size_t tlen = nlen - WH_PREFIX_LEN;
	if (tlen == 0) {
		*problem = base == 0 ? "whiteout of the root directory ignored" : "whiteout names nothing";
		return STAGED_PROBLEM;
	}
	if (target[0] == '.' && (tlen == 1 || (tlen == 2 && target[1] == '.'))) {
		*problem = "whiteout names an invalid name";
		return STAGED_PROBLEM;
	}
	return STAGED_WHITEOUT;
}

static void report(struct overlay_merge *m, const struct staged_entry *s, const char *message)
{
	if (!m->cb)
		return;
	struct overlay_merge_problem p = {
	    .entry_id = s->id, .path = m->arena + s->path_off, .message = message};
	m->cb(m->cb_ctx, &p);
}

/* Walks to the directory p[0..len) ("" is the root), starting from the cached directory when it is
 * a prefix. create: synthesise missing directories. Returns NULL when a component is missing
 * (create false) or is not a directory (*not_dir set). */
static struct merge_node *walk_dir(struct overlay_merge *m, const char *p, size_t len, bool create,
				   bool *not_dir)
{
	struct merge_tree *t = &m->tree;
	struct merge_node *n = t->root;
	size_t pos = 0;
	*not_dir = false;
	if (len == 0)
		return n;
	if (m->cache_node && m->cache_len <= len && memcmp(m->cache_path, p, m->cache_len) == 0 &&
	    (m->cache_len == len || p[m->cache_len] == '/')) {
		n = m->cache_node;
		pos = m->cache_len == len ? len : m->cache_len + 1;
	}
	while (pos < len) {
		const char *slash = memchr(p + pos, '/', len - pos);
		size_t end = slash ? (size_t)(slash - p) : len;
		struct merge_node *c = merge_tree_child(t, n, p + pos, end - pos);
		if (!c) {
			if (!create)
				return NULL;
			c = merge_tree_add(t, n, p + pos, end - pos, OVERLAY_T_DIR, -1);
		} else if (c->type != OVERLAY_T_DIR) {
			*not_dir = true;
			return NULL;
		}
		n = c;
		pos = end + 1;
	}
	m->cache_path = p;
	m->cache_len = len;
	m->cache_node = n;
	return n;
}

/* Removes a node, dropping the parent cache when a directory (which may hold it) goes. */
static void merge_remove(struct overlay_merge *m, struct merge_node *n)
{
	if (n->type == OVERLAY_T_DIR)
		m->cache_node = NULL;
	merge_tree_remove(&m->tree, n);
}

/* The node at a full path, or NULL (never creates). */
static struct merge_node *lookup_path(struct overlay_merge *m, const char *p, size_t len)
{
	if (len == 0)
		return m->tree.root;
	size_t base = path_base_off(p, len);
	bool not_dir;
	struct merge_node *dir = walk_dir(m, p, base ? base - 1 : 0, false, &not_dir);
	if (!dir)
		return NULL;
	return merge_tree_child(&m->tree, dir, p + base, len - base);
}

/* Phase 1: one whiteout or opaque marker against the tree as the lower layers left it. */
static void apply_whiteout(struct overlay_merge *m, const struct staged_entry *s, enum staged_kind kind)
{
	const char *p = m->arena + s->path_off;
	size_t plen = strlen(p);
	size_t base = path_base_off(p, plen);
	bool not_dir;
	struct merge_node *dir = walk_dir(m, p, base ? base - 1 : 0, false, &not_dir);
	if (!dir)
		return; /* the directory does not exist below: nothing to hide */
	if (kind == STAGED_OPAQUE) {
		m->cache_node = NULL;
		merge_tree_remove_children(&m->tree, dir);
		return;
	}
	const char *name = p + base + WH_PREFIX_LEN;
	size_t nlen = plen - base - WH_PREFIX_LEN;
	struct merge_node *victim = merge_tree_child(&m->tree, dir, name, nlen);
	if (victim)
		merge_remove(m, victim);
}

/* Places dir/name as a link to the node target (in the tree). */
static void link_to(struct overlay_merge *m, const struct staged_entry *s, struct merge_node *dir,
		    const char *name, size_t nlen, struct merge_node *target)
{
	if (target->type == OVERLAY_T_DIR) {
		report(m, s, "hard link target is a directory");
		return;
	}
	struct merge_node *old = merge_tree_child(&m->tree, dir, name, nlen);
	if (old == target) {
		report(m, s, "hard link target is the link itself");
		return;
	}
	if (!old) {
		merge_tree_add_link(&m->tree, dir, name, nlen, target, s->id);
		return;
	}
	/* The target may lie inside the subtree being replaced: hold its share while old goes. */
	struct merge_node proto = *target;
	if (!target->link) {
		target->link = xcalloc(1, sizeof(*target->link));
		target->link->npaths = 1;
	}
	proto.link = target->link;
	proto.link->npaths++;
	merge_remove(m, old);
	struct merge_node *n = merge_tree_add_link(&m->tree, dir, name, nlen, &proto, s->id);
	n->link->npaths--; /* the hold taken above */
}

static size_t foreign_hash(const char *tp)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *tp; tp++)
		h = (h ^ (unsigned char)*tp) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The latest link of the layer to lower target tp, or NULL. */
static struct foreign_link *foreign_find(struct overlay_merge *m, const char *tp)
{
	if (!m->nfslots)
		return NULL;
	for (size_t i = foreign_hash(tp) & (m->nfslots - 1); m->fslots[i]; i = (i + 1) & (m->nfslots - 1)) {
		struct foreign_link *f = &m->foreign[m->fslots[i] - 1];
		if (!strcmp(m->arena + f->target_off, tp))
			return f;
	}
	return NULL;
}

static void foreign_slot_put(struct overlay_merge *m, size_t idx)
{
	size_t i = foreign_hash(m->arena + m->foreign[idx].target_off) & (m->nfslots - 1);
	while (m->fslots[i])
		i = (i + 1) & (m->nfslots - 1);
	m->fslots[i] = idx + 1;
}

/* Records the first link of the layer to a target not yet in the table. */
static void foreign_add(struct overlay_merge *m, struct foreign_link f)
{
	if (m->nforeign == m->foreign_cap) {
		m->foreign_cap = m->foreign_cap ? m->foreign_cap * 2 : 16;
		m->foreign = xrealloc(m->foreign, m->foreign_cap * sizeof(*m->foreign));
	}
	m->foreign[m->nforeign++] = f;
	if (2 * m->nforeign > m->nfslots) { /* at most half full: rehash into twice the slots */
		free(m->fslots);
		m->nfslots = m->nfslots ? m->nfslots * 2 : 32;
		m->fslots = xcalloc(m->nfslots, sizeof(*m->fslots));
		for (size_t i = 0; i < m->nforeign; i++)
			foreign_slot_put(m, i);
	} else {
		foreign_slot_put(m, m->nforeign - 1);
	}
}

/* Literal mode: a link whose target tp is not in the layer. Shares the ino of the latest link of
 * the layer to the same target when that one is still in place; otherwise asks the resolver what
 * the target shows below and places a file of its own backed by that data. One table lookup per
 * link (a hostile layer may hold any number of them). */
static void apply_foreign_link(struct overlay_merge *m, const struct staged_entry *s, struct merge_node *dir,
			       const char *name, size_t nlen, const char *tp)
{
	struct merge_node *old = merge_tree_child(&m->tree, dir, name, nlen);
	struct foreign_link *f = foreign_find(m, tp);
	if (f) {
		const char *lp = m->arena + f->path_off;
		struct merge_node *prev = lookup_path(m, lp, strlen(lp));
		if (prev && prev->entry_id == f->id && prev != old) {
			link_to(m, s, dir, name, nlen, prev);
			*f = (struct foreign_link){s->target_off, s->path_off, s->id};
			return;
		}
	}
	int64_t data = -1;
	enum overlay_entry_type type = OVERLAY_T_REG;
	if (m->resolve(m->resolve_ctx, tp, &data, &type) != 0 || type == OVERLAY_T_DIR ||
	    type == OVERLAY_T_HARDLINK || data < 0) {
		report(m, s, "hard link target missing");
		return;
	}
	if (old)
		merge_remove(m, old);
	struct merge_node *n = merge_tree_add(&m->tree, dir, name, nlen, type, s->id);
	n->data_entry_id = data;
	if (f)
		*f = (struct foreign_link){s->target_off, s->path_off, s->id};
	else
		foreign_add(m, (struct foreign_link){s->target_off, s->path_off, s->id});
}

static void apply_hardlink(struct overlay_merge *m, const struct staged_entry *s, struct merge_node *dir,
			   const char *name, size_t nlen)
{
	if (s->target_off == NO_TARGET) {
		report(m, s, "hard link without a target");
		return;
	}
	const char *tp = m->arena + s->target_off;
	size_t tlen = strlen(tp);
	if (!path_is_clean(tp, tlen)) {
		report(m, s, "hard link target is not normalised");
		return;
	}
	struct merge_node *target = lookup_path(m, tp, tlen);
	if (!target && m->mode == OVERLAY_MERGE_LITERAL && m->resolve) {
		apply_foreign_link(m, s, dir, name, nlen, tp);
		return;
	}
	if (!target) {
		report(m, s, "hard link target missing");
		return;
	}
	link_to(m, s, dir, name, nlen, target);
}

/* Phase 2: one ordinary entry. */
static void apply_entry(struct overlay_merge *m, const struct staged_entry *s)
{
	struct merge_tree *t = &m->tree;
	const char *p = m->arena + s->path_off;
	size_t plen = strlen(p);
	if (plen == 0) {
		if (s->type != OVERLAY_T_DIR) {
			report(m, s, "root is not a directory");
			return;
		}
		t->root->entry_id = s->id;
		t->root->data_entry_id = s->id;
		return;
	}
	size_t base = path_base_off(p, plen);
	bool not_dir;
	struct merge_node *dir = walk_dir(m, p, base ? base - 1 : 0, true, &not_dir);
	if (!dir) {
		report(m, s, "parent is not a directory");
		return;
	}
	const char *name = p + base;
	size_t nlen = plen - base;
	if (s->type == OVERLAY_T_HARDLINK) {
		apply_hardlink(m, s, dir, name, nlen);
		return;
	}

	struct merge_node *old = merge_tree_child(t, dir, name, nlen);
	if (old && old->type == OVERLAY_T_DIR && s->type == OVERLAY_T_DIR) {
		old->entry_id = s->id;
		old->data_entry_id = s->id;
		return;
	}
	if (old)
		merge_remove(m, old);
	merge_tree_add(t, dir, name, nlen, s->type, s->id);
}

/* See overlay.h. */
void overlay_merge_end_layer(struct overlay_merge *m,
			     void (*cb)(void *ctx, const struct overlay_merge_problem *p), void *ctx)
{
	m->cb = cb;
	m->cb_ctx = ctx;
	m->cache_node = NULL;

	/* Kinds are computed once into a side array (phase 1 and 2 both need them). */
	unsigned char *kinds = xmalloc(m->nents ? m->nents : 1);
	for (size_t i = 0; i < m->nents; i++) {
		const char *problem;
		kinds[i] = (unsigned char)entry_classify(m, &m->ents[i], &problem);
	}
	for (size_t i = 0; i < m->nents; i++)
		if (kinds[i] == STAGED_WHITEOUT || kinds[i] == STAGED_OPAQUE)
			apply_whiteout(m, &m->ents[i], (enum staged_kind)kinds[i]);
	m->cache_node = NULL;
	for (size_t i = 0; i < m->nents; i++) {
		const char *problem = NULL;
		switch ((enum staged_kind)kinds[i]) {
		case STAGED_PLACE:
			apply_entry(m, &m->ents[i]);
			break;
		case STAGED_PROBLEM:
			entry_classify(m, &m->ents[i], &problem);
			report(m, &m->ents[i], problem);
			break;
		case STAGED_WHITEOUT:
		case STAGED_OPAQUE:
			break;
		}
	}
	free(kinds);
	free(m->foreign);
	free(m->fslots);
	m->foreign = NULL;
	m->fslots = NULL;
	m->nforeign = m->foreign_cap = m->nfslots = 0;
	m->cache_node = NULL;
	m->cb = NULL;
	m->cb_ctx = NULL;
	/* Applied: the staged entries and their strings are dropped, not kept for the next layer
	 * (a layer of a million entries would otherwise pin ~70 MB for the rest of the pass). */
	free(m->ents);
	free(m->arena);
	m->ents = NULL;
	m->arena = NULL;
	m->nents = m->ents_cap = 0;
	m->arena_len = m->arena_cap = 0;
}

/* See overlay.h. */
int overlay_merge_visit(struct overlay_merge *m, int (*cb)(void *ctx, const struct overlay_merge_node *n),
			void *ctx)
{
	return merge_tree_visit(&m->tree, cb, ctx);
}

/* See overlay.h. Counts the root. */
size_t overlay_merge_node_count(const struct overlay_merge *m)
{
	return m->tree.nnodes;
}
