/* audit/catalog_build.c — the catalog's finish(): turns the captured evidence files into the
 * package, package_file, package_change, license and os tables.
 *
 * For every merged view N (1..L) the captures visible in that view are the ones some node of view
 * N shows (node.data_entry = captured.entry): a database file deleted or shadowed by a later
 * layer is not visible, a hard link to one is. Each view's copy of every database is parsed into
 * a package set; consecutive sets are compared for package_change (added, removed, upgraded,
 * downgraded) and the final view's set is the catalog. A package's layer is the lowest N from
 * which every view up to L holds the same package at the same version.
 *
 * A language or binary package (Python, npm, Java, Go, Ruby) whose evidence file an OS package
 * (deb, apk, rpm) owns is the OS package's and is not reported again (for a nested Java archive
 * the evidence is the outer archive). */
#include "audit_int.h"

#include <ctype.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>


static void vis_clear(struct vis_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].data);
	}
	free(l->v);
	*l = (struct vis_list){0};
}

static int vis_load(sqlite3 *db, int view, struct vis_list *l, struct strata_err **err)
{
	sqlite3_stmt *st = NULL;
	/* CROSS JOIN keeps the view's node rows as the outer loop (node has no index on data_entry).
	 * No ORDER BY: the caller sorts the list by path (unique in a view), and an SQL sort would
	 * copy every captured file's bytes through the sorter. */
	if (sqlite3_prepare_v2(db,
			       "SELECT nd.path, c.data, c.layer FROM node nd CROSS JOIN captured c"
			       " ON c.entry = nd.data_entry WHERE nd.view = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "catalog: %s", sqlite3_errmsg(db));
	sqlite3_bind_int(st, 1, view);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 64;
			l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
		}
		struct vis *v = &l->v[l->n++];
		const char *p = (const char *)sqlite3_column_text(st, 0);
		v->path = xstrdup(p && p[0] == '/' ? p + 1 : p ? p : "");
		v->len = (size_t)sqlite3_column_bytes(st, 1);
		v->data = xmalloc(v->len + 1);
		if (v->len)
			memcpy(v->data, sqlite3_column_blob(st, 1), v->len);
		v->data[v->len] = '\0';
		v->layer = sqlite3_column_int(st, 2);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EIO, "catalog: reading view %d: %s", view, sqlite3_errmsg(db));
	return 0;
}

static int vis_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vis *)a)->path, ((const struct vis *)b)->path);
}

const struct vis *vis_find(const struct vis_list *l, const char *path)
{
	struct vis key = {.path = (char *)path};
	return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), vis_cmp) : NULL;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

/* ---- dpkg files ------------------------------------------------------------------------ */

struct md5_ent {
	const char *path; /* without leading slash */
	const char *md5;
};
static int md5_cmp(const void *a, const void *b)
{
	return strcmp(((const struct md5_ent *)a)->path, ((const struct md5_ent *)b)->path);
}

/* Splits an md5sums file ("MD5  relative/path" lines) into a sorted array pointing into text
 * (which it modifies). */
static struct md5_ent *md5sums_split(char *text, size_t *n)
{
	struct md5_ent *v = NULL;
	size_t cap = 0;
	*n = 0;
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		char *p = sp + 1;
		while (*p == ' ' || *p == '*')
			p++;
		while (*p == '/')
			p++;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[(*n)++] = (struct md5_ent){p, l};
	}
	if (*n)
		qsort(v, *n, sizeof(*v), md5_cmp);
	return v;
}

static const char *md5_lookup(const struct md5_ent *v, size_t n, const char *abs)
{
	struct md5_ent key = {abs[0] == '/' ? abs + 1 : abs, NULL};
	const struct md5_ent *e = n ? bsearch(&key, v, n, sizeof(*v), md5_cmp) : NULL;
	return e ? e->md5 : NULL;
}

static bool pkg_has_file(const struct catalog_pkg *p, size_t upto, const char *path)
{
	for (size_t i = 0; i < upto; i++)
		if (!strcmp(p->files[i], path))
			return true;
	return false;
}

/* Attaches a deb package's files: info/NAME[:ARCH].list (with md5sums digests), or for a
 * status.d stanza file, its status.d/X.md5sums. */
static void dpkg_attach_files(struct catalog_pkg *p, const struct vis_list *vl)
{
	const struct vis *list = NULL, *sums = NULL;
	char path[1024];
	bool distroless = !strncmp(p->path, "/var/lib/dpkg/status.d/", 23);
	if (distroless) {
		snprintf(path, sizeof(path), "%s.md5sums", p->path + 1);
		sums = vis_find(vl, path);
	} else {
		const char *names[2] = {NULL, p->name};
		char qual[512];
		if (p->arch) {
			snprintf(qual, sizeof(qual), "%s:%s", p->name, p->arch);
			names[0] = qual;
		}
		for (int i = 0; i < 2 && !list; i++) {
			if (!names[i])
				continue;
			snprintf(path, sizeof(path), "var/lib/dpkg/info/%s.list", names[i]);
			list = vis_find(vl, path);
			if (list) {
				snprintf(path, sizeof(path), "var/lib/dpkg/info/%s.md5sums", names[i]);
				sums = vis_find(vl, path);
			}
		}
	}
	size_t nsums = 0;
	cleanup_free char *sums_text = sums ? xstrndup(sums->data, sums->len) : NULL;
	cleanup_free struct md5_ent *md5 = sums_text ? md5sums_split(sums_text, &nsums) : NULL;
	size_t nconf = p->nfiles; /* conffiles from the status stanza come first */
	if (list) {
		cleanup_free char *text = xstrndup(list->data, list->len);
		char *save = NULL;
		for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			if (l[0] != '/' || pkg_has_file(p, nconf, l))
				continue;
			const char *m = md5_lookup(md5, nsums, l);
			cleanup_free char *dig = m ? xasprintf("md5:%s", m) : NULL;
			catalog_pkg_add_file(p, l, dig, NULL);
		}
	} else if (distroless) {
		for (size_t i = 0; i < nsums; i++) {
			cleanup_free char *dig = xasprintf("md5:%s", md5[i].md5);
			catalog_pkg_add_file(p, md5[i].path, dig, NULL);
		}
	}
	/* Conffiles' digests come from the status stanza; fill from md5sums otherwise. */
	for (size_t i = 0; i < nconf; i++)
		if (!p->digests[i]) {
			const char *m = md5_lookup(md5, nsums, p->files[i]);
			if (m)
				p->digests[i] = xasprintf("md5:%s", m);
		}
}

/* ---- one view -------------------------------------------------------------------------- */

static int pkg_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct catalog_pkg *)a)->key, ((const struct catalog_pkg *)b)->key);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parses every database visible in vl into s (keys set, sorted by key). */
static void catalog_view_parse(const struct vis_list *vl, struct catalog_set *s)
{
	const struct vis *st = vis_find(vl, "var/lib/dpkg/status");
	if (st)
		catalog_dpkg_status(s, st->data, st->len, "/var/lib/dpkg/status");
	for (size_t i = 0; i < vl->n; i++) {
		const char *p = vl->v[i].path;
		if (!strncmp(p, "var/lib/dpkg/status.d/", 22) && !has_suffix(p, ".md5sums") && !strchr(p + 22, '/')) {
			cleanup_free char *abs = xasprintf("/%s", p);
			catalog_dpkg_status(s, vl->v[i].data, vl->v[i].len, abs);
		}
	}
	for (size_t i = 0; i < s->n; i++)
		dpkg_attach_files(&s->v[i], vl);
	const struct vis *apk = vis_find(vl, "lib/apk/db/installed");
	if (apk)
		catalog_apk_installed(s, apk->data, apk->len, "/lib/apk/db/installed");
	catalog_more_os(vl, s);
	size_t nos = s->n;
	for (size_t i = 0; i < vl->n; i++) {
		const char *p = vl->v[i].path;
		cleanup_free char *abs = xasprintf("/%s", p);
		size_t before = s->n;
		if (has_suffix(p, ".dist-info/METADATA") || has_suffix(p, ".egg-info/PKG-INFO")) {
			catalog_python_metadata(s, vl->v[i].data, vl->v[i].len, abs);
			if (s->n > before && has_suffix(p, "/METADATA")) {
				cleanup_free char *rec = xstrdup(p);
				strcpy(rec + strlen(rec) - 8, "RECORD");
				const struct vis *r = vis_find(vl, rec);
				if (r)
					catalog_python_record(&s->v[before], r->data, r->len, abs + 1);
			}
		} else if (has_suffix(p, "/package.json")) {
			catalog_npm_package(s, vl->v[i].data, vl->v[i].len, abs);
		}
	}
	catalog_more_lang(vl, s);
	/* Language packages whose evidence an OS package owns are the OS package's. */
	size_t nowned = 0;
	for (size_t i = 0; i < nos; i++)
		nowned += s->v[i].nfiles;
	cleanup_free char **owned = xmalloc((nowned + 1) * sizeof(*owned));
	nowned = 0;
	for (size_t i = 0; i < nos; i++)
		for (size_t j = 0; j < s->v[i].nfiles; j++)
			owned[nowned++] = s->v[i].files[j];
	if (nowned)
		qsort(owned, nowned, sizeof(*owned), str_cmp);
	size_t o = nos;
	for (size_t i = nos; i < s->n; i++) {
		struct catalog_pkg *p = &s->v[i];
		/* A nested Java archive ("/a.war!/WEB-INF/lib/b.jar") is evidenced by the outer file. */
		cleanup_free char *evidence = xstrndup(p->path, strcspn(p->path, "!"));
		if (nowned && bsearch(&evidence, owned, nowned, sizeof(*owned), str_cmp)) {
			struct catalog_set one = {.v = xmalloc(sizeof(*p)), .n = 1};
			one.v[0] = *p;
			catalog_set_clear(&one);
			continue;
		}
		s->v[o++] = *p;
	}
	s->n = o;
	/* Keys: deb/apk by name (and arch), language packages by where they live. */
	for (size_t i = 0; i < s->n; i++) {
		struct catalog_pkg *p = &s->v[i];
		if ((p->key = catalog_more_key(p)))
			continue;
		if (!strcmp(p->type, "deb"))
			p->key = xasprintf("deb/%s:%s", p->name, p->arch ? p->arch : "");
		else if (!strcmp(p->type, "apk"))
			p->key = xasprintf("apk/%s", p->name);
		else {
			cleanup_free char *dir = xstrdup(p->path);
			char *slash = strrchr(dir, '/');
			if (slash)
				*slash = '\0';
			if (!strcmp(p->type, "python") && (slash = strrchr(dir, '/')))
				*slash = '\0'; /* the site directory: the dist-info name carries the version */
			p->key = xasprintf("%s/%s/%s", p->type, dir, p->name);
		}
	}
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), pkg_key_cmp);
}

/* Sorts a view's captures by path and parses them into s. */
static void view_parse_sort(struct vis_list *vl, struct catalog_set *s)
{
	if (vl->n) /* qsort(NULL, 0, …) is undefined */
		qsort(vl->v, vl->n, sizeof(*vl->v), vis_cmp);
	catalog_view_parse(vl, s);
}

/* One view parsed on a helper thread: the list and the set are the thread's until joined. */
struct view_parse {
	pthread_t th;
	struct vis_list vl;
	struct catalog_set *set;
};

static void *view_parse_main(void *arg)
{
	struct view_parse *j = arg;
	view_parse_sort(&j->vl, j->set);
	return NULL;
}

/* Waits for j's thread, then frees the captured files it parsed. */
static void view_parse_finish(struct view_parse *j)
{
	pthread_join(j->th, NULL);
	vis_clear(&j->vl);
}

static const struct catalog_pkg *set_find(const struct catalog_set *s, const char *key)
{
	struct catalog_pkg k = {.key = (char *)key};
	return s->n ? bsearch(&k, s->v, s->n, sizeof(*s->v), pkg_key_cmp) : NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* ---- writing --------------------------------------------------------------------------- */

int catalog_build(void *sqlite_db, struct strata_err **err)
{
	sqlite3 *db = sqlite_db;
	sqlite3_stmt *st = NULL;
	int L = 0;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM layer", -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "catalog: %s", sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		L = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (L <= 0)
		return 0;
	struct catalog_set *sets = xcalloc((size_t)L + 1, sizeof(*sets));
	struct vis_list final = {0};
	int rc = 0;
	/* View v is parsed on a helper thread while view v + 1 is read from the database and (the
	 * last view) parsed on this thread, which alone uses the connection; at most one helper at a
	 * time. Every set is the same as when parsed one after the other (a view's parse reads only
	 * its own list). */
	struct view_parse job = {0}, *running = NULL;
	for (int v = 1; v <= L && rc == 0; v++) {
		struct vis_list vl = {0};
		rc = vis_load(db, v, &vl, err);
		if (rc < 0) {
			vis_clear(&vl);
			break;
		}
		if (v == L) { /* the last one here: its list is kept for catalog_write */
			view_parse_sort(&vl, &sets[v]);
			final = vl;
			break;
		}
		if (running) {
			view_parse_finish(running);
			running = NULL;
		}
		job = (struct view_parse){.vl = vl, .set = &sets[v]};
		if (pthread_create(&job.th, NULL, view_parse_main, &job) == 0) {
			running = &job;
		} else { /* no thread: parse here */
			view_parse_sort(&job.vl, job.set);
			vis_clear(&job.vl);
		}
	}
	if (running)
		view_parse_finish(running);
	if (rc == 0) {
		/* Layer that introduced each final package: lowest N with the same version up to L. */
		for (size_t i = 0; i < sets[L].n; i++) {
			struct catalog_pkg *p = &sets[L].v[i];
			int n = L;
			while (n > 1) {
				const struct catalog_pkg *q = set_find(&sets[n - 1], p->key);
				if (!q || !str_eq(q->version, p->version))
					break;
				n--;
			}
			p->layer = n;
		}
		rc = catalog_write(db, sets, L, &final, err);
	}
	vis_clear(&final);
	for (int v = 0; v <= L; v++)
		catalog_set_clear(&sets[v]);
	free(sets);
	return rc;
}
