/* overlay/overlay_int.h — internals shared by the files of overlay/. Never included from outside
 * overlay/ (checked by tests/check_deps.sh). Append only: several files own parts of it. */
#ifndef STRATA_OVERLAY_INT_H
#define STRATA_OVERLAY_INT_H

#include "overlay.h"

#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* ---- the layer merge tree (merge.c, merge_tree.c) ----------------------------------------- */

/* Shared by the paths of one hard-linked object; a node without one has nlink 1. */
struct merge_link {
	uint32_t npaths;
};

/* One path of the merged view. The tree is purely path-based: a node is found by (parent, name)
 * in the tree's hash table, never by following a symlink. Non-directory nodes are immutable
 * (replacing one creates a new node); a directory node keeps its ino when an upper layer's
 * directory merges into it. */
struct merge_node {
	struct merge_node *parent;  /* NULL for the root */
	struct merge_node *hnext;   /* hash chain */
	struct merge_node *first_child, *next_sib, *prev_sib; /* unsorted children */
	struct merge_link *link;    /* owned share (refcount npaths); NULL: not hard-linked */
	uint64_t ino;
	int64_t entry_id, data_entry_id;
	enum overlay_entry_type type; /* never OVERLAY_T_HARDLINK */
	size_t name_len;
	char name[];                /* NUL-terminated */
};

struct merge_tree {
	struct merge_node *root;
	struct merge_node **buckets;
	size_t nbuckets;           /* power of two */
	size_t nnodes;             /* including the root */
	uint64_t next_ino;
	struct merge_node **scratch; /* removal stack */
	size_t scratch_cap;
};

/* merge_tree.c: an empty tree holding only the root (ino 1, entry -1). */
void merge_tree_init(struct merge_tree *t);
void merge_tree_destroy(struct merge_tree *t);
/* The child of dir named name[0..len), or NULL. */
struct merge_node *merge_tree_child(const struct merge_tree *t, const struct merge_node *dir, const char *name,
				    size_t len);
/* A new child of dir (which has no child of that name) with a fresh ino, nlink share none. */
struct merge_node *merge_tree_add(struct merge_tree *t, struct merge_node *dir, const char *name, size_t len,
				  enum overlay_entry_type type, int64_t entry_id);
/* A new child of dir sharing the ino, type and data of target (a non-directory). */
struct merge_node *merge_tree_add_link(struct merge_tree *t, struct merge_node *dir, const char *name,
				       size_t len, struct merge_node *target, int64_t entry_id);
/* Removes n (not the root) and its whole subtree. */
void merge_tree_remove(struct merge_tree *t, struct merge_node *n);
/* Removes every child of dir (and their subtrees). */
void merge_tree_remove_children(struct merge_tree *t, struct merge_node *dir);
/* See overlay_merge_visit. */
int merge_tree_visit(const struct merge_tree *t, int (*cb)(void *ctx, const struct overlay_merge_node *n),
		     void *ctx);

#endif
