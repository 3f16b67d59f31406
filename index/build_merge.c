/* index/build_merge.c — computes the views of the image from the entry rows and stores them as
 * node rows: the merged tree after each layer (views 1..L, view L being the image) and each layer's
 * own changeset (views L+1..2L). Layer k's views are computed as soon as layers 1..k are all in the
 * database (in the writer thread, while later layers are still being read, so that part of the work
 * leaves the serial end of the pass), reading the entries back in tar order, so the merge never
 * needs all entries in memory at once. A merge problem is stored as it is found (never held in
 * memory: a hostile layer can have any number of rejected entries), so problem row ids follow the
 * order in which the writer stores layers and views; nothing reads them in id order.
 *
 * A hard link in layer k whose target is a file of a lower layer is part of layer k's own view
 * too (it is in the layer's tar): the literal merge asks link_resolve what the target path shows
 * in view k, which is stored by then, and shows the link as a file backed by that entry. */
#include "index_int.h"

#include <string.h>

struct view_writer {
	sqlite3 *db;
	sqlite3_stmt *ins;
	int view;
	uint64_t count;
	struct strata_err *err;
};

static int node_cb(void *ctx, const struct overlay_merge_node *n)
{
	struct view_writer *vw = ctx;
	sqlite3_stmt *st = vw->ins;
	sqlite3_bind_int(st, 1, vw->view);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)n->parent_ino);
	sqlite3_bind_text(st, 3, n->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)n->ino);
	sqlite3_bind_text(st, 5, n->path, -1, SQLITE_STATIC);
	if (n->entry_id >= 0)
		sqlite3_bind_int64(st, 6, n->entry_id);
	if (n->data_entry_id >= 0)
		sqlite3_bind_int64(st, 7, n->data_entry_id);
	sqlite3_bind_text(st, 8, overlay_entry_type_name(n->type), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, n->nlink);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		strata_err_set(&vw->err, STRATA_EIO, "sqlite: %s", sqlite3_errmsg(vw->db));
		return 1;
	}
	vw->count++;
	return 0;
}

/* The views computed so far and what the next layer's need (index_build.merger). */
struct index_merger {
	sqlite3_stmt *sel, *ins_node, *ins_view, *ins_problem;
	sqlite3_stmt *child; /* a node of a stored view by (view, parent, name), for link_resolve */
	struct overlay_merge *m; /* merged tree after layer next - 1 */
	int next;                /* the next layer whose views are computed */
	bool *stored;            /* [1..L]: the layer's entry rows are all in the database */
	struct index_build *b;   /* for problem_cb: its problem count (the writer thread's) */
	int layer;               /* layer being merged, for problem_cb */
};

static void problem_cb(void *ctx, const struct overlay_merge_problem *p)
{
	struct index_merger *mg = ctx;
	sqlite3_stmt *st = mg->ins_problem;
	sqlite3_bind_int(st, 1, mg->layer);
	sqlite3_bind_int64(st, 2, p->entry_id);
	sqlite3_bind_text(st, 3, p->path ? p->path : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, "merge", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->message, -1, SQLITE_STATIC);
	sqlite3_step(st); /* as before: a problem row that cannot be stored does not stop the index */
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	mg->b->problems++;
}

static int store_view(sqlite3 *db, sqlite3_stmt *ins_view, sqlite3_stmt *ins_node, struct overlay_merge *m,
		      int view, const char *kind, int layer, uint64_t *count, struct strata_err **err)
{
	sqlite3_bind_int(ins_view, 1, view);
	sqlite3_bind_text(ins_view, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int(ins_view, 3, layer);
	int rc = sqlite3_step(ins_view);
	sqlite3_reset(ins_view);
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "sqlite: %s", sqlite3_errmsg(db));
	struct view_writer vw = {.db = db, .ins = ins_node, .view = view};
	if (overlay_merge_visit(m, node_cb, &vw) != 0) {
		if (err && !*err)
			*err = steal_pointer(&vw.err);
		strata_err_free(vw.err);
		return -1;
	}
	if (count)
		*count = vw.count;
	return 0;
}

/* Feeds one layer's placeable entries (tar order) to a merge. The layer's rows are one range of
 * the rowid (ids are (layer << 32) | seq): a range read, not a scan of every layer's entries (the
 * entry indexes do not exist yet when the views are computed). */
static int feed_layer(sqlite3 *db, sqlite3_stmt *sel, struct overlay_merge *m, int layer, struct strata_err **err)
{
	sqlite3_bind_int64(sel, 1, INDEX_ENTRY_ID(layer, 0));
	sqlite3_bind_int64(sel, 2, INDEX_ENTRY_ID(layer + 1, 0));
	int rc;
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		struct overlay_merge_entry me = {
			.id = sqlite3_column_int64(sel, 0),
			.path = (const char *)sqlite3_column_text(sel, 1),
		};
		const char *type = (const char *)sqlite3_column_text(sel, 2);
		const char *target = (const char *)sqlite3_column_text(sel, 3);
		cleanup_free char *norm_target = NULL;
		me.type = OVERLAY_T_REG;
		for (int t = OVERLAY_T_REG; t <= OVERLAY_T_SOCK; t++)
			if (!strcmp(type, overlay_entry_type_name((enum overlay_entry_type)t)))
				me.type = (enum overlay_entry_type)t;
		if (me.type == OVERLAY_T_HARDLINK) {
			const char *problem = NULL;
			if (!target || overlay_path_normalize(target, &norm_target, &problem) != 0)
				norm_target = xstrdup("..invalid");
			me.hardlink_target = norm_target;
		}
		overlay_merge_add(m, &me);
	}
	sqlite3_reset(sel);
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "sqlite: %s", sqlite3_errmsg(db));
	return 0;
}

void index_merger_free(struct index_merger *mg)
{
	if (!mg)
		return;
	sqlite3_finalize(mg->sel);
	sqlite3_finalize(mg->ins_node);
	sqlite3_finalize(mg->ins_view);
	sqlite3_finalize(mg->ins_problem);
	sqlite3_finalize(mg->child);
	overlay_merge_free(mg->m);
	free(mg->stored);
	free(mg);
}

static struct index_merger *merger_get(struct index_build *b, struct strata_err **err)
{
	if (b->merger)
		return b->merger;
	sqlite3 *db = b->db;
	struct index_merger *mg = xcalloc(1, sizeof(*mg));
	if (index_sql_prepare(db, "SELECT id, path, type, link_target FROM entry WHERE id >= ? AND id < ?"
				  " AND path IS NOT NULL ORDER BY id", &mg->sel, err) < 0 ||
	    index_sql_prepare(db, "INSERT OR REPLACE INTO node VALUES(?,?,?,?,?,?,?,?,?)", &mg->ins_node, err) < 0 ||
	    index_sql_prepare(db, "INSERT INTO view VALUES(?,?,?)", &mg->ins_view, err) < 0 ||
	    index_sql_prepare(db, "INSERT INTO problem(layer, entry, path, kind, message) VALUES(?,?,?,?,?)",
			      &mg->ins_problem, err) < 0 ||
	    index_sql_prepare(db, "SELECT ino, data_entry, type FROM node WHERE view = ? AND parent = ? AND name = ?",
			      &mg->child, err) < 0) {
		index_merger_free(mg);
		return NULL;
	}
	mg->m = overlay_merge_new(OVERLAY_MERGE_OCI);
	mg->next = 1;
	mg->stored = xcalloc(b->nlayers + 1, sizeof(*mg->stored));
	mg->b = b;
	b->merger = mg;
	return mg;
}

/* overlay_merge_resolve_fn for layer mg->layer's own view: what target (a normalised path) shows
 * in the merged view of the same layer, walked one component at a time through the node key. */
static int link_resolve(void *ctx, const char *target, int64_t *data_entry_id, enum overlay_entry_type *type)
{
	struct index_merger *mg = ctx;
	sqlite3_stmt *st = mg->child;
	int64_t ino = 1; /* the root */
	const char *p = target;
	int found = -1;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		sqlite3_bind_int(st, 1, mg->layer);
		sqlite3_bind_int64(st, 2, ino);
		sqlite3_bind_text(st, 3, p, (int)len, SQLITE_STATIC);
		found = -1;
		if (sqlite3_step(st) == SQLITE_ROW) {
			ino = sqlite3_column_int64(st, 0);
			*data_entry_id = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
			const char *t = (const char *)sqlite3_column_text(st, 2);
			*type = OVERLAY_T_DIR;
			for (int k = OVERLAY_T_REG; t && k <= OVERLAY_T_SOCK; k++)
				if (!strcmp(t, overlay_entry_type_name((enum overlay_entry_type)k)))
					*type = (enum overlay_entry_type)k;
			found = 0;
		}
		sqlite3_reset(st);
		if (found < 0)
			return -1;
		p += len;
		if (*p == '/')
			p++;
	}
	return found;
}

/* Views k (merged after layer k) and L + k (layer k on its own); layers below k are merged. */
static int merge_layer(struct index_build *b, struct index_merger *mg, int k, struct strata_err **err)
{
	sqlite3 *db = b->db;
	int L = (int)b->nlayers;
	overlay_merge_begin_layer(mg->m);
	if (feed_layer(db, mg->sel, mg->m, k, err) < 0)
		return -1;
	mg->layer = k;
	overlay_merge_end_layer(mg->m, problem_cb, mg);
	if (store_view(db, mg->ins_view, mg->ins_node, mg->m, k, "merged", k, k == L ? &b->nodes : NULL, err) < 0)
		return -1;
	/* The image's view is stored: drop its tree before building the last layer's own one, so the
	 * two largest trees are never in memory together. */
	if (k == L) {
		overlay_merge_free(mg->m);
		mg->m = NULL;
	}
	/* Layer k on its own: whiteouts shown as the files they are in the tar. */
	struct overlay_merge *lit = overlay_merge_new(OVERLAY_MERGE_LITERAL);
	overlay_merge_set_resolver(lit, link_resolve, mg);
	overlay_merge_begin_layer(lit);
	int rc = feed_layer(db, mg->sel, lit, k, err);
	if (rc == 0) {
		overlay_merge_end_layer(lit, NULL, NULL);
		rc = store_view(db, mg->ins_view, mg->ins_node, lit, L + k, "layer", k, NULL, err);
	}
	overlay_merge_free(lit);
	return rc;
}

/* Computes the views of every layer that is stored with all layers below it. */
static int merge_ready(struct index_build *b, struct index_merger *mg, struct strata_err **err)
{
	while ((size_t)mg->next <= b->nlayers && mg->stored[mg->next]) {
		if (merge_layer(b, mg, mg->next, err) < 0)
			return -1;
		mg->next++;
	}
	return 0;
}

int index_merge_layer_stored(struct index_build *b, int layer, struct strata_err **err)
{
	struct index_merger *mg = merger_get(b, err);
	if (!mg)
		return -1;
	mg->stored[layer] = true;
	return merge_ready(b, mg, err);
}

int index_merge_views(struct index_build *b, struct strata_err **err)
{
	struct index_merger *mg = merger_get(b, err);
	if (!mg)
		return -1;
	int L = (int)b->nlayers;
	if (L == 0 && store_view(b->db, mg->ins_view, mg->ins_node, mg->m, 0, "empty", 0, &b->nodes, err) < 0)
		return -1; /* an image without layers is an empty root */
	for (int k = 1; k <= L; k++)
		mg->stored[k] = true;
	if (merge_ready(b, mg, err) < 0)
		return -1;
	b->merger = NULL; /* freed now, not at the end of the build: its memory goes before the indexes */
	index_merger_free(mg);
	return 0;
}
