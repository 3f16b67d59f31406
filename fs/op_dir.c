/* fs/op_dir.c — directories: the listing of a directory (names and attributes, from the index or
 * the reserved trees), a small shared cache of recent listings, and readdir/readdirplus served
 * from a listing by position.
 *
 * A listing is a pure function of the directory inode (the image never changes), so the position
 * of an entry in it is a stable cookie: entry i carries offset i + 1 and a readdir at offset k
 * answers from entry k on, on any thread, at any time, whether or not the listing is still cached.
 * That is what lets the driver run without directory handles: when the kernel offers
 * FUSE_CAP_NO_OPENDIR_SUPPORT, opendir answers ENOSYS once and the kernel stops sending OPENDIR
 * and RELEASEDIR (two of the four requests a listed directory cost), keeps the listing in its
 * page cache as cache_readdir did, and readdir gets no handle: (inode, offset) is enough.
 * telldir/seekdir/rewinddir work because offsets are positions.
 *
 * A listed directory costs the kernel at least two READDIRPLUS requests (entries, then an empty
 * answer that ends it); the cache answers every request after the first from memory, without a
 * query. It holds the last FS_DIR_CACHE_SLOTS listings, at most FS_DIR_CACHE_BYTES together (the
 * newest one is kept whatever its size), and is shared by the worker threads under one mutex; a
 * listing is built outside the lock and replies are copied out under it.
 *
 * Listings in use are not evicted: a reply that stops before the end of its listing pins it for
 * FS_DIR_PIN_SECONDS (renewed by the next reply, dropped by the reply that reaches the end), and
 * the byte budget evicts pinned listings only once they hold more than FS_DIR_PIN_BYTES together.
 * Without that, two readers of directories that do not fit the budget together evicted each
 * other's listing at every request, and each request of ~22 entries rebuilt a whole listing (two
 * `ls -f` of 60,000 names: 1 min 45 s instead of 1 s). A cached listing holds exactly its entries
 * (no growth slack). The prefetcher does not list a dropped directory again while the cache is
 * over its budget (that listing would only evict another). */
#include "fs_int.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define FS_DIR_CACHE_SLOTS 16
#define FS_DIR_CACHE_BYTES ((size_t)16 << 20)
#define FS_DIR_PIN_BYTES ((size_t)64 << 20)
#define FS_DIR_PIN_SECONDS 5

struct fs_dirent {
	size_t name;  /* offset of the NUL-terminated name in fs_dir.names */
	int64_t data; /* the node's data entry (index_node.data_entry_id), 0: none or not an image node */
	struct stat st;
};

struct fs_dir {
	fuse_ino_t ino;
	size_t n, cap;
	struct fs_dirent *e;
	char *names;  /* every name, one after the other */
	size_t names_len, names_cap;
	uint64_t used; /* cache clock at the last use (LRU) */
	size_t seen;   /* position of the last file fs_dir_next_files found here (search hint) */
	size_t pushed; /* positions below this were handed to prefetch already (prefetch.c) */
	int64_t pin_until; /* a reader is part-way through: not evicted before this (dir_now) */
};

/* Parents of regular files seen in listings, for prefetch (fs_dir_next_files): a lossy table
 * indexed by a hash of the file's inode, the newest listing winning a slot (1 MiB). */
#define FS_DIR_PARENTS 65536

struct fs_dir_parent {
	fuse_ino_t ino, parent;
};

struct fs_dir_cache {
	pthread_mutex_t lock;
	uint64_t clock;
	size_t bytes; /* dir_bytes of the cached listings */
	struct fs_dir *slot[FS_DIR_CACHE_SLOTS];
	struct fs_dir_parent parents[FS_DIR_PARENTS];
};

static size_t parent_slot(fuse_ino_t ino)
{
	return (size_t)((ino * UINT64_C(0x9e3779b97f4a7c15)) >> 48) % FS_DIR_PARENTS;
}

static bool fs_no_opendir; /* atomic: set once by init */

void fs_dir_set_no_opendir(bool on)
{
	__atomic_store_n(&fs_no_opendir, on, __ATOMIC_RELEASE);
}

/* Seconds of a coarse monotonic clock, for pins. */
static int64_t dir_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (int64_t)t.tv_sec;
}

static void dir_free(struct fs_dir *d)
{
	if (!d)
		return;
	free(d->e);
	free(d->names);
	free(d);
}

/* Memory held by a listing. */
static size_t dir_bytes(const struct fs_dir *d)
{
	return sizeof(*d) + d->cap * sizeof(*d->e) + d->names_cap;
}

static int dir_add(void *ctx, const char *name, const struct stat *st)
{
	struct fs_dir *d = ctx;
	size_t len = strlen(name) + 1;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 32;
		d->e = xrealloc(d->e, d->cap * sizeof(*d->e));
	}
	if (d->names_cap - d->names_len < len) {
		while (d->names_cap - d->names_len < len)
			d->names_cap = d->names_cap ? d->names_cap * 2 : 512;
		d->names = xrealloc(d->names, d->names_cap);
	}
	memcpy(d->names + d->names_len, name, len);
	d->e[d->n].name = d->names_len;
	d->e[d->n].data = 0;
	d->e[d->n].st = *st;
	d->names_len += len;
	d->n++;
	return 0;
}

struct dir_fill {
	struct fs_mount *m;
	unsigned tag;
	struct fs_dir *d;
};

static int dir_add_node(void *ctx, const char *name, const struct index_node *n, int64_t cookie)
{
	(void)cookie;
	struct dir_fill *f = ctx;
	struct stat st;
	fs_stat_from_node(f->m, f->tag, n, &st);
	int rc = dir_add(f->d, name, &st);
	if (rc == 0)
		f->d->e[f->d->n - 1].data = n->data_entry_id;
	return rc;
}

/* Builds the listing of directory ino: ".", "..", then the children in the index's order (byte
 * order of name), then at the image root the reserved names. Owned into *out, or an errno.
 * The kernel only lists inodes it knows as directories (opendir checked them when it is sent),
 * so "." and ".." need no query: they carry the inode and the type, which is all a dirent shows
 * (readdirplus gives no attributes for them). */
static int dir_build(struct fs_mount *m, fuse_ino_t ino, struct fs_dir **out)
{
	int rc = 0;
	struct stat self = {.st_ino = ino, .st_mode = S_IFDIR | 0755};
	struct fs_dir *d = xcalloc(1, sizeof(*d));
	d->ino = ino;
	dir_add(d, ".", &self);
	dir_add(d, "..", &self);
	unsigned tag = fs_ino_tag(ino);
	if (!fs_tag_valid(m, tag)) {
		rc = ENOENT;
	} else if (tag == FS_TAG_META) {
		rc = fs_meta_list(m, fs_ino_index(ino), dir_add, d);
	} else {
		cleanup_err struct strata_err *err = NULL;
		struct dir_fill f = {m, tag, d};
		if (index_db_readdir(m->db, fs_tag_view(m, tag), fs_ino_index(ino), 0, dir_add_node, &f, &err) < 0)
			rc = fs_errno_of(m, -1, "readdir", err);
		else if (ino == FUSE_ROOT_ID)
			rc = fs_meta_list(m, 0, dir_add, d);
	}
	if (rc) {
		dir_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void fs_dir_init(struct fs_mount *m)
{
	m->dirs = xcalloc(1, sizeof(*m->dirs));
	pthread_mutex_init(&m->dirs->lock, NULL);
}

void fs_dir_fini(struct fs_mount *m)
{
	if (!m->dirs)
		return;
	for (size_t i = 0; i < FS_DIR_CACHE_SLOTS; i++)
		dir_free(m->dirs->slot[i]);
	pthread_mutex_destroy(&m->dirs->lock);
	free(m->dirs);
	m->dirs = NULL;
}

/* The cached listing of ino, marked used, or NULL. Call with the lock held. */
static struct fs_dir *cache_find_locked(struct fs_dir_cache *c, fuse_ino_t ino)
{
	for (size_t i = 0; i < FS_DIR_CACHE_SLOTS; i++)
		if (c->slot[i] && c->slot[i]->ino == ino) {
			c->slot[i]->used = ++c->clock;
			return c->slot[i];
		}
	return NULL;
}

/* The slot of the least recently used listing that is not pinned at now (any, with pinned_too),
 * or FS_DIR_CACHE_SLOTS when there is none. Lock held. */
static size_t cache_victim_locked(const struct fs_dir_cache *c, int64_t now, bool pinned_too)
{
	size_t victim = FS_DIR_CACHE_SLOTS;
	for (size_t i = 0; i < FS_DIR_CACHE_SLOTS; i++) {
		const struct fs_dir *d = c->slot[i];
		if (!d || (!pinned_too && d->pin_until > now))
			continue;
		if (victim == FS_DIR_CACHE_SLOTS || d->used < c->slot[victim]->used)
			victim = i;
	}
	return victim;
}

/* A free slot, else the least recently used listing not pinned, else the least recently used. */
static size_t cache_slot_locked(const struct fs_dir_cache *c, int64_t now)
{
	for (size_t i = 0; i < FS_DIR_CACHE_SLOTS; i++)
		if (!c->slot[i])
			return i;
	size_t victim = cache_victim_locked(c, now, false);
	return victim < FS_DIR_CACHE_SLOTS ? victim : cache_victim_locked(c, now, true);
}

/* Pins d when a reply of it stopped at position next before its end, unpins it at the end. */
static void dir_pin_locked(struct fs_dir *d, size_t next)
{
	d->pin_until = next < d->n ? dir_now() + FS_DIR_PIN_SECONDS : 0;
}

static void cache_drop_locked(struct fs_dir_cache *c, size_t i)
{
	c->bytes -= dir_bytes(c->slot[i]);
	dir_free(c->slot[i]);
	c->slot[i] = NULL;
}

/* Puts d (owned) into the cache in place of the least recently used listing that is not pinned
 * (and of more, while the cache would exceed its byte budget; pinned ones only while they would
 * exceed FS_DIR_PIN_BYTES) and returns it; if another thread cached the same directory meanwhile,
 * frees d and returns that one. Lock held. */
static struct fs_dir *cache_insert_locked(struct fs_dir_cache *c, struct fs_dir *d)
{
	struct fs_dir *have = cache_find_locked(c, d->ino);
	if (have) {
		dir_free(d);
		return have;
	}
	/* exactly its entries: the doubling slack would be up to half of a large listing */
	d->cap = d->n;
	d->e = xrealloc(d->e, (d->n ? d->n : 1) * sizeof(*d->e));
	d->names_cap = d->names_len;
	d->names = xrealloc(d->names, d->names_len ? d->names_len : 1);
	int64_t now = dir_now();
	size_t bytes = dir_bytes(d), victim;
	while (c->bytes + bytes > FS_DIR_CACHE_BYTES &&
	       (victim = cache_victim_locked(c, now, c->bytes + bytes > FS_DIR_PIN_BYTES)) < FS_DIR_CACHE_SLOTS)
		cache_drop_locked(c, victim);
	victim = cache_slot_locked(c, now);
	if (c->slot[victim])
		cache_drop_locked(c, victim);
	for (size_t i = 2; i < d->n; i++)
		if (S_ISREG(d->e[i].st.st_mode))
			c->parents[parent_slot(d->e[i].st.st_ino)] =
				(struct fs_dir_parent){d->e[i].st.st_ino, d->ino};
	d->used = ++c->clock;
	c->slot[victim] = d;
	c->bytes += bytes;
	return d;
}

/* Formats the entries of d from position off on into buf (at most size bytes); returns the length
 * and the position after the last entry formatted in *next. */
static size_t dir_format(fuse_req_t req, const struct fs_dir *d, char *buf, size_t size, off_t off, bool plus,
			 size_t *next)
{
	size_t pos = 0, i;
	for (i = off < 0 ? 0 : (size_t)off; i < d->n; i++) {
		const struct fs_dirent *e = &d->e[i];
		const char *name = d->names + e->name;
		size_t need;
		if (plus) {
			struct fuse_entry_param ep;
			fs_entry_param(&ep, &e->st);
			if (i < 2) /* "." and "..": no lookup reference is taken for them */
				ep.ino = 0;
			need = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &ep, (off_t)(i + 1));
		} else {
			need = fuse_add_direntry(req, buf + pos, size - pos, name, &e->st, (off_t)(i + 1));
		}
		if (need > size - pos)
			break;
		pos += need;
	}
	*next = i;
	return pos;
}

/* Fills buf with the entries of directory ino from position off on: from the cache, else from a
 * listing built now (and cached). *len gets the length; returns 0 or an errno. */
static int fs_do_readdir(struct fs_mount *m, fuse_req_t req, fuse_ino_t ino, char *buf, size_t size, off_t off,
			 bool plus, size_t *len)
{
	struct fs_dir_cache *c = m->dirs;
	size_t next;
	pthread_mutex_lock(&c->lock);
	struct fs_dir *d = cache_find_locked(c, ino);
	if (d) {
		*len = dir_format(req, d, buf, size, off, plus, &next);
		dir_pin_locked(d, next);
	}
	pthread_mutex_unlock(&c->lock);
	if (d)
		return 0;
	struct fs_dir *built = NULL;
	int rc = dir_build(m, ino, &built);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->lock);
	d = cache_insert_locked(c, built);
	*len = dir_format(req, d, buf, size, off, plus, &next);
	dir_pin_locked(d, next);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (__atomic_load_n(&fs_no_opendir, __ATOMIC_ACQUIRE)) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	/* Without no-opendir support: a handle-less open that only checks the inode. */
	struct stat st;
	int rc = fs_do_getattr(fs_req_mount(req), ino, &st, NULL);
	if (!rc && !S_ISDIR(st.st_mode))
		rc = ENOTDIR;
	if (rc) {
		fuse_reply_err(req, rc);
		return;
	}
	fi->fh = 0;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

static void fs_readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	cleanup_free char *buf = xmalloc(size ? size : 1);
	size_t len = 0;
	int rc = fs_do_readdir(fs_req_mount(req), req, ino, buf, size, off, plus, &len);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_buf(req, buf, len);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	fs_readdir_common(req, ino, size, off, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	fs_readdir_common(req, ino, size, off, true);
}

/* Position of regular file ino in d, looked for near d->seen first (a reader goes down a listing
 * in order), then everywhere; d->n when absent. Lock held. */
static size_t dir_find_locked(const struct fs_dir *d, fuse_ino_t ino)
{
	size_t from = d->seen < d->n ? d->seen : 0;
	for (size_t i = from, k = 0; i < d->n && k < 64; i++, k++)
		if (d->e[i].st.st_ino == ino)
			return i;
	for (size_t i = 2; i < d->n; i++)
		if (d->e[i].st.st_ino == ino)
			return i;
	return d->n;
}

/* The directory that listed regular file ino last (0: unknown). Lock held. */
static fuse_ino_t parent_of_locked(const struct fs_dir_cache *c, fuse_ino_t ino)
{
	const struct fs_dir_parent *p = &c->parents[parent_slot(ino)];
	return p->ino == ino ? p->parent : 0;
}

/* The cached listing of parent holding regular file ino into *pos, or NULL. Lock held. */
static struct fs_dir *cache_find_file_locked(struct fs_dir_cache *c, fuse_ino_t parent, fuse_ino_t ino, size_t *pos)
{
	for (size_t i = 0; parent && i < FS_DIR_CACHE_SLOTS; i++)
		if (c->slot[i] && c->slot[i]->ino == parent)
			return (*pos = dir_find_locked(c->slot[i], ino)) < c->slot[i]->n ? c->slot[i] : NULL;
	return NULL;
}

size_t fs_dir_next_files(struct fs_mount *m, fuse_ino_t ino, struct fs_dir_file *out, size_t max,
			 uint64_t max_size, uint64_t max_bytes)
{
	struct fs_dir_cache *c = m->dirs;
	size_t got = 0, pos = 0;
	pthread_mutex_lock(&c->lock);
	fuse_ino_t parent = parent_of_locked(c, ino);
	struct fs_dir *d = cache_find_file_locked(c, parent, ino, &pos);
	if (!d) { /* listed once, since dropped from the cache: list it again (outside the lock) */
		bool full = c->bytes >= FS_DIR_CACHE_BYTES;
		pthread_mutex_unlock(&c->lock);
		if (full) /* listings in use fill the cache: this one would only evict another */
			return 0;
		struct fs_dir *built = NULL;
		if (!parent || dir_build(m, parent, &built))
			return 0;
		pthread_mutex_lock(&c->lock);
		d = cache_insert_locked(c, built); /* or the listing another thread inserted meanwhile */
		if ((pos = dir_find_locked(d, ino)) == d->n) {
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
	}
	d->seen = pos;
	size_t i = pos + 1 > d->pushed ? pos + 1 : d->pushed;
	uint64_t bytes = 0;
	if (i > pos + 1 + 4 * max) /* the cursor is far ahead of this reader already */
		i = d->n;
	for (size_t k = 0; i < d->n && k < 4 * max && got < max; i++, k++) {
		const struct fs_dirent *de = &d->e[i];
		if (!S_ISREG(de->st.st_mode) || de->data <= 0 || de->st.st_size <= 0 ||
		    (uint64_t)de->st.st_size > max_size)
			continue;
		if (bytes + (uint64_t)de->st.st_size > max_bytes)
			break;
		bytes += (uint64_t)de->st.st_size;
		out[got].ino = de->st.st_ino;
		out[got].data = de->data;
		out[got].size = (uint64_t)de->st.st_size;
		got++;
	}
	if (i > d->pushed)
		d->pushed = i;
	pthread_mutex_unlock(&c->lock);
	return got;
}
