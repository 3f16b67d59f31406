/* overlay/merge_tree.c — the in-memory tree behind the layer merge: nodes, the (parent, name)
 * hash table, subtree removal and the deterministic visit.
 *
 * Invariants: every node but the root is in the hash table under (parent pointer, name) and in
 * its parent's child list; inode numbers come from one monotonic counter (root is 1) and are never
 * reused, so a path that still shows the same object keeps its number from view to view. Nothing
 * here recurses: removal and visit use explicit stacks so a 10 000-deep tree cannot exhaust the C
 * stack. Which layer rule applies when is merge.c's business; this file only keeps the tree.
 */
#include "overlay_int.h"

#include <string.h>

static uint64_t key_hash(const struct merge_node *parent, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ULL);
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return h;
}

static size_t node_bucket(const struct merge_tree *t, const struct merge_node *n)
{
	return (size_t)key_hash(n->parent, n->name, n->name_len) & (t->nbuckets - 1);
}

static struct merge_node *node_new(const char *name, size_t len, enum overlay_entry_type type,
				   int64_t entry_id)
{
	struct merge_node *n = xcalloc(1, sizeof(*n) + len + 1);
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	n->name_len = len;
	n->type = type;
	n->entry_id = entry_id;
	n->data_entry_id = entry_id;
	return n;
}

/* See overlay_int.h. */
void merge_tree_init(struct merge_tree *t)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = 1024;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	t->root = node_new("", 0, OVERLAY_T_DIR, -1);
	t->root->ino = 1;
	t->nnodes = 1;
	t->next_ino = 2;
}

/* See overlay_int.h. Frees every node through the hash table (no traversal needed). */
void merge_tree_destroy(struct merge_tree *t)
{
	if (!t->buckets)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct merge_node *n = t->buckets[i];
		while (n) {
			struct merge_node *next = n->hnext;
			if (n->link && --n->link->npaths == 0)
				free(n->link);
			free(n);
			n = next;
		}
	}
	free(t->buckets);
	free(t->root);
	free(t->scratch);
	memset(t, 0, sizeof(*t));
}

static void tree_grow(struct merge_tree *t)
{
	size_t old_n = t->nbuckets;
	struct merge_node **old = t->buckets;
	t->nbuckets = old_n * 2;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	for (size_t i = 0; i < old_n; i++) {
		struct merge_node *n = old[i];
		while (n) {
			struct merge_node *next = n->hnext;
			size_t b = node_bucket(t, n);
			n->hnext = t->buckets[b];
			t->buckets[b] = n;
			n = next;
		}
	}
	free(old);
}

/* See overlay_int.h. */
struct merge_node *merge_tree_child(const struct merge_tree *t, const struct merge_node *dir,
				    const char *name, size_t len)
{
	size_t b = (size_t)key_hash(dir, name, len) & (t->nbuckets - 1);
	for (struct merge_node *n = t->buckets[b]; n; n = n->hnext)
		if (n->parent == dir && n->name_len == len && memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

static void tree_insert(struct merge_tree *t, struct merge_node *dir, struct merge_node *n)
{
	if (t->nnodes >= t->nbuckets)
		tree_grow(t);
	n->parent = dir;
	size_t b = node_bucket(t, n);
	n->hnext = t->buckets[b];
	t->buckets[b] = n;
	n->next_sib = dir->first_child;
	if (dir->first_child)
		dir->first_child->prev_sib = n;
	dir->first_child = n;
	t->nnodes++;
}

/* See overlay_int.h. */
struct merge_node *merge_tree_add(struct merge_tree *t, struct merge_node *dir, const char *name, size_t len,
				  enum overlay_entry_type type, int64_t entry_id)
{
	struct merge_node *n = node_new(name, len, type, entry_id);
	n->ino = t->next_ino++;
	tree_insert(t, dir, n);
	return n;
}

/* See overlay_int.h. */
struct merge_node *merge_tree_add_link(struct merge_tree *t, struct merge_node *dir, const char *name,
				       size_t len, struct merge_node *target, int64_t entry_id)
{
	struct merge_node *n = node_new(name, len, target->type, entry_id);
	n->ino = target->ino;
	n->data_entry_id = target->data_entry_id;
	if (!target->link) {
		target->link = xcalloc(1, sizeof(*target->link));
		target->link->npaths = 1;
	}
	n->link = target->link;
	n->link->npaths++;
	tree_insert(t, dir, n);
	return n;
}

/* Takes n out of the hash table (its parent pointer is still valid: children are unhashed
 * before their parent is freed). */
static void tree_unhash(struct merge_tree *t, struct merge_node *n)
{
	struct merge_node **pp = &t->buckets[node_bucket(t, n)];
	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
	n->hnext = NULL;
}

static void tree_unlink_sibling(struct merge_node *n)
{
	if (n->prev_sib)
		n->prev_sib->next_sib = n->next_sib;
	else if (n->parent)
		n->parent->first_child = n->next_sib;
	if (n->next_sib)
		n->next_sib->prev_sib = n->prev_sib;
	n->prev_sib = n->next_sib = NULL;
}

static void scratch_push(struct merge_tree *t, size_t *len, struct merge_node *n)
{
	if (*len == t->scratch_cap) {
		t->scratch_cap = t->scratch_cap ? t->scratch_cap * 2 : 64;
		t->scratch = xrealloc(t->scratch, t->scratch_cap * sizeof(*t->scratch));
	}
	t->scratch[(*len)++] = n;
}

/* Frees the nodes on the scratch stack (already unhashed and detached) and their subtrees.
 * Iterative: each popped node unhashes its children, pushes them, then is freed. */
static void tree_drain(struct merge_tree *t, size_t len)
{
	while (len > 0) {
		struct merge_node *cur = t->scratch[--len];
		for (struct merge_node *c = cur->first_child; c; c = c->next_sib) {
			tree_unhash(t, c);
			scratch_push(t, &len, c);
		}
		if (cur->link && --cur->link->npaths == 0)
			free(cur->link);
		free(cur);
		t->nnodes--;
	}
}

/* See overlay_int.h. */
void merge_tree_remove(struct merge_tree *t, struct merge_node *n)
{
	if (!n || n == t->root)
		return;
	tree_unlink_sibling(n);
	tree_unhash(t, n);
	size_t len = 0;
	scratch_push(t, &len, n);
	tree_drain(t, len);
}

/* See overlay_int.h. */
void merge_tree_remove_children(struct merge_tree *t, struct merge_node *dir)
{
	size_t len = 0;
	for (struct merge_node *c = dir->first_child; c; c = c->next_sib) {
		tree_unhash(t, c);
		scratch_push(t, &len, c);
	}
	dir->first_child = NULL;
	tree_drain(t, len);
}

/* ---- visit ----------------------------------------------------------------------------------- */

struct visit_item {
	const struct merge_node *n;
	size_t plen; /* length of the parent's path in the path buffer */
};

static int node_name_cmp(const void *a, const void *b)
{
	const struct merge_node *x = *(const struct merge_node *const *)a;
	const struct merge_node *y = *(const struct merge_node *const *)b;
	size_t l = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, l);
	if (c)
		return c;
	return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

struct visit_state {
	struct visit_item *stack;
	size_t slen, scap;
	const struct merge_node **kids;
	size_t kcap;
	char *path;
	size_t pcap;
};

static void visit_state_free(struct visit_state *v)
{
	free(v->stack);
	free(v->kids);
	free(v->path);
}

/* Writes n's path into v->path after its parent's path (plen bytes). Returns its length. */
static size_t visit_build_path(struct visit_state *v, const struct merge_node *n, size_t plen,
			       size_t *name_off)
{
	size_t need = plen + 1 + n->name_len + 1;
	if (need > v->pcap) {
		v->pcap = need * 2;
		v->path = xrealloc(v->path, v->pcap);
	}
	size_t pos = plen;
	if (n->parent && plen > 0)
		v->path[pos++] = '/';
	*name_off = pos;
	memcpy(v->path + pos, n->name, n->name_len);
	pos += n->name_len;
	v->path[pos] = '\0';
	return pos;
}

/* See overlay_merge_visit (overlay.h): preorder, children sorted by name bytes. */
int merge_tree_visit(const struct merge_tree *t, int (*cb)(void *ctx, const struct overlay_merge_node *n),
		     void *ctx)
{
	struct visit_state v = {0};
	int rc = 0;
	v.scap = 64;
	v.stack = xmalloc(v.scap * sizeof(*v.stack));
	v.stack[v.slen++] = (struct visit_item){t->root, 0};
	while (v.slen > 0 && rc == 0) {
		struct visit_item it = v.stack[--v.slen];
		const struct merge_node *n = it.n;
		size_t name_off = 0;
		size_t pathlen = visit_build_path(&v, n, it.plen, &name_off);

		size_t nk = 0, ndirs = 0;
		for (const struct merge_node *c = n->first_child; c; c = c->next_sib) {
			if (nk == v.kcap) {
				v.kcap = v.kcap ? v.kcap * 2 : 64;
				v.kids = xrealloc(v.kids, v.kcap * sizeof(*v.kids));
			}
			v.kids[nk++] = c;
			if (c->type == OVERLAY_T_DIR)
				ndirs++;
		}

		struct overlay_merge_node out = {
		    .ino = n->ino,
		    .parent_ino = n->parent ? n->parent->ino : 0,
		    .name = v.path + name_off,
		    .path = v.path,
		    .entry_id = n->entry_id,
		    .data_entry_id = n->data_entry_id,
		    .type = n->type,
		};
		if (n->type == OVERLAY_T_DIR)
			out.nlink = (uint32_t)(2 + ndirs);
		else
			out.nlink = n->link ? n->link->npaths : 1;
		rc = cb(ctx, &out);
		if (rc != 0 || nk == 0)
			continue;

		if (nk > 1)
			qsort(v.kids, nk, sizeof(*v.kids), node_name_cmp);
		if (v.slen + nk > v.scap) {
			while (v.slen + nk > v.scap)
				v.scap *= 2;
			v.stack = xrealloc(v.stack, v.scap * sizeof(*v.stack));
		}
		for (size_t i = nk; i-- > 0;)
			v.stack[v.slen++] = (struct visit_item){v.kids[i], pathlen};
	}
	visit_state_free(&v);
	return rc;
}
