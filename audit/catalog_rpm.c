/* audit/catalog_rpm.c — the rpm cataloger: the rpm header blob parser (index entries + data
 * store) and the two database readers that hand it blobs: rpmdb.sqlite (opened in memory with
 * sqlite3_deserialize, read-only and defensive) and the Berkeley DB hash `Packages` file of older
 * RHEL/CentOS (pages walked by audit/catalog_bdb.c).
 *
 * A header blob as rpmdb stores it: be32 il (index entries), be32 dl (data bytes), il entries of
 * 16 bytes {be32 tag, type, offset, count}, then dl bytes of data. Every offset, count and string
 * is checked against the blob: these are untrusted bytes from an image. */
#include "audit_int.h"

#include <sqlite3.h>
#include <string.h>

enum {
	RPM_T_CHAR = 1,
	RPM_T_INT8 = 2,
	RPM_T_INT16 = 3,
	RPM_T_INT32 = 4,
	RPM_T_INT64 = 5,
	RPM_T_STRING = 6,
	RPM_T_BIN = 7,
	RPM_T_STRING_ARRAY = 8,
	RPM_T_I18NSTRING = 9,
};
enum {
	RPMTAG_NAME = 1000,
	RPMTAG_VERSION = 1001,
	RPMTAG_RELEASE = 1002,
	RPMTAG_EPOCH = 1003,
	RPMTAG_VENDOR = 1011,
	RPMTAG_LICENSE = 1014,
	RPMTAG_ARCH = 1022,
	RPMTAG_FILEDIGESTS = 1035,
	RPMTAG_FILEFLAGS = 1037,
	RPMTAG_SOURCERPM = 1044,
	RPMTAG_DIRINDEXES = 1116,
	RPMTAG_BASENAMES = 1117,
	RPMTAG_DIRNAMES = 1118,
	RPMTAG_FILEDIGESTALGO = 5011,
};
#define RPMFILE_CONFIG 1u
/* rpm's own limits (hdrchkTags, hdrchkData). */
#define RPM_MAX_TAGS 0xffffu
#define RPM_MAX_DATA (256u << 20)

struct rpm_hdr {
	const unsigned char *idx;
	const unsigned char *data;
	uint32_t il, dl;
};

struct rpm_ent {
	uint32_t type, off, count;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Validates the blob's frame: the index and the data store fit inside len. */
static int rpm_hdr_open(struct rpm_hdr *h, const unsigned char *b, size_t len, struct strata_err **err)
{
	if (len >= 8 && b[0] == 0x8e && b[1] == 0xad && b[2] == 0xe8 && b[3] == 0x01)
		b += 8, len -= 8; /* magic, version and 4 reserved bytes */
	STRATA_CHECK(len >= 8, err, STRATA_EFORMAT, "rpm header: %zu bytes", len);
	h->il = be32(b);
	h->dl = be32(b + 4);
	STRATA_CHECK(h->il >= 1 && h->il <= RPM_MAX_TAGS, err, STRATA_EFORMAT, "rpm header: %u tags", h->il);
	STRATA_CHECK(h->dl <= RPM_MAX_DATA, err, STRATA_EFORMAT, "rpm header: %u data bytes", h->dl);
	STRATA_CHECK((uint64_t)h->il * 16 + h->dl <= len - 8, err, STRATA_EFORMAT,
		     "rpm header: %u tags and %u data bytes overrun the %zu-byte blob", h->il, h->dl, len);
	h->idx = b + 8;
	h->data = h->idx + (size_t)h->il * 16;
	return 0;
}

/* The entry of tag, checked: its count elements of its type lie inside the data store (strings:
 * the first one's terminator at least; arrays are re-checked element by element). */
static bool rpm_hdr_find(const struct rpm_hdr *h, uint32_t tag, struct rpm_ent *e)
{
	for (uint32_t i = 0; i < h->il; i++) {
		const unsigned char *p = h->idx + (size_t)i * 16;
		if (be32(p) != tag)
			continue;
		e->type = be32(p + 4);
		e->off = be32(p + 8);
		e->count = be32(p + 12);
		if (e->off >= h->dl || e->count == 0 || e->count > h->dl)
			return false;
		uint64_t sz = 0;
		switch (e->type) {
		case RPM_T_CHAR:
		case RPM_T_INT8:
		case RPM_T_BIN:
			sz = 1;
			break;
		case RPM_T_INT16:
			sz = 2;
			break;
		case RPM_T_INT32:
			sz = 4;
			break;
		case RPM_T_INT64:
			sz = 8;
			break;
		case RPM_T_STRING:
		case RPM_T_STRING_ARRAY:
		case RPM_T_I18NSTRING:
			return memchr(h->data + e->off, '\0', h->dl - e->off) != NULL;
		default:
			return false;
		}
		return sz * e->count <= h->dl - e->off;
	}
	return false;
}

/* The tag's string (the first of an array or i18n table), owned, or NULL. */
static char *rpm_hdr_string(const struct rpm_hdr *h, uint32_t tag)
{
	struct rpm_ent e;
	if (!rpm_hdr_find(h, tag, &e) ||
	    (e.type != RPM_T_STRING && e.type != RPM_T_STRING_ARRAY && e.type != RPM_T_I18NSTRING))
		return NULL;
	return xstrdup((const char *)h->data + e.off); /* terminated: checked by rpm_hdr_find */
}

/* The tag's strings as pointers into the data store (each checked to end inside it); owned
 * array of *n pointers, or NULL. */
static const char **rpm_hdr_strings(const struct rpm_hdr *h, uint32_t tag, uint32_t *n)
{
	struct rpm_ent e;
	*n = 0;
	if (!rpm_hdr_find(h, tag, &e) || e.type != RPM_T_STRING_ARRAY)
		return NULL;
	const char **v = xmalloc((size_t)e.count * sizeof(*v));
	size_t off = e.off;
	for (uint32_t i = 0; i < e.count; i++) {
		const char *z = off < h->dl ? memchr(h->data + off, '\0', h->dl - off) : NULL;
		if (!z) {
			free(v);
			return NULL;
		}
		v[i] = (const char *)h->data + off;
		off = (size_t)((const unsigned char *)z - h->data) + 1;
	}
	*n = e.count;
	return v;
}

/* The tag's INT32 array (pointer into the data store, *n elements), or NULL. */
static const unsigned char *rpm_hdr_int32s(const struct rpm_hdr *h, uint32_t tag, uint32_t *n)
{
	struct rpm_ent e;
	*n = 0;
	if (!rpm_hdr_find(h, tag, &e) || e.type != RPM_T_INT32)
		return NULL;
	*n = e.count;
	return h->data + e.off;
}

static const char *digest_algo_name(uint32_t algo)
{
	switch (algo) {
	case 1:
		return "md5";
	case 2:
		return "sha1";
	case 8:
		return "sha256";
	case 9:
		return "sha384";
	case 10:
		return "sha512";
	default:
		return "digest";
	}
}

/* Files: DIRNAMES[DIRINDEXES[i]] + BASENAMES[i], with FILEDIGESTS and FILEFLAGS when they have
 * one element per file. */
static void rpm_add_files(struct catalog_pkg *p, const struct rpm_hdr *h)
{
	uint32_t nb = 0, nd = 0, ni = 0, ndig = 0, nflags = 0, nalgo = 0;
	cleanup_free const char **base = rpm_hdr_strings(h, RPMTAG_BASENAMES, &nb);
	cleanup_free const char **dirs = rpm_hdr_strings(h, RPMTAG_DIRNAMES, &nd);
	const unsigned char *di = rpm_hdr_int32s(h, RPMTAG_DIRINDEXES, &ni);
	cleanup_free const char **dig = rpm_hdr_strings(h, RPMTAG_FILEDIGESTS, &ndig);
	const unsigned char *flags = rpm_hdr_int32s(h, RPMTAG_FILEFLAGS, &nflags);
	const unsigned char *algo = rpm_hdr_int32s(h, RPMTAG_FILEDIGESTALGO, &nalgo);
	if (!base || !dirs || !di || ni != nb)
		return;
	const char *aname = digest_algo_name(algo ? be32(algo) : 1);
	for (uint32_t i = 0; i < nb; i++) {
		uint32_t d = be32(di + (size_t)i * 4);
		if (d >= nd)
			continue;
		cleanup_free char *path = xasprintf("%s%s", dirs[d], base[i]);
		if (path[0] != '/')
			continue;
		cleanup_free char *digest =
		    dig && ndig == nb && dig[i][0] ? xasprintf("%s:%s", aname, dig[i]) : NULL;
		bool conf = flags && nflags == nb && (be32(flags + (size_t)i * 4) & RPMFILE_CONFIG);
		catalog_pkg_add_file(p, path, digest, conf ? "conffile" : NULL);
	}
}

int catalog_rpm_header(struct catalog_set *s, const unsigned char *blob, size_t len, const char *path,
		       struct strata_err **err)
{
	struct rpm_hdr h = {0};
	if (rpm_hdr_open(&h, blob, len, err) < 0)
		return -1;
	cleanup_free char *name = rpm_hdr_string(&h, RPMTAG_NAME);
	cleanup_free char *version = rpm_hdr_string(&h, RPMTAG_VERSION);
	cleanup_free char *release = rpm_hdr_string(&h, RPMTAG_RELEASE);
	STRATA_CHECK(name && name[0] && version, err, STRATA_EFORMAT, "rpm header: no name or version");
	uint32_t ne = 0;
	const unsigned char *epoch = rpm_hdr_int32s(&h, RPMTAG_EPOCH, &ne);
	struct catalog_pkg *p = catalog_set_add(s, "rpm", name);
	cleanup_free char *vr = release ? xasprintf("%s-%s", version, release) : xstrdup(version);
	p->version = epoch ? xasprintf("%u:%s", be32(epoch), vr) : steal_pointer(&vr);
	p->arch = rpm_hdr_string(&h, RPMTAG_ARCH);
	p->license = rpm_hdr_string(&h, RPMTAG_LICENSE);
	p->vendor = rpm_hdr_string(&h, RPMTAG_VENDOR);
	p->path = xstrdup(path);
	/* SOURCERPM "NAME-VERSION-RELEASE.src.rpm" → source NAME, source_version VERSION-RELEASE. */
	cleanup_free char *srpm = rpm_hdr_string(&h, RPMTAG_SOURCERPM);
	size_t sl = srpm ? strlen(srpm) : 0;
	size_t cut = sl > 8 && !strcmp(srpm + sl - 8, ".src.rpm")	? 8
		     : sl > 10 && !strcmp(srpm + sl - 10, ".nosrc.rpm") ? 10
									: 0;
	if (cut) {
		srpm[sl - cut] = '\0';
		char *r = strrchr(srpm, '-');
		char *v = r ? memrchr(srpm, '-', (size_t)(r - srpm)) : NULL;
		if (v) {
			p->source_version = xstrdup(v + 1);
			*v = '\0';
			p->source = xstrdup(srpm);
		}
	}
	rpm_add_files(p, &h);
	return 0;
}

/* ---- rpmdb.sqlite ----------------------------------------------------------------------- */

static void sqlite3_closep(sqlite3 **db)
{
	if (*db)
		sqlite3_close(*db);
}
#define cleanup_sqlite __attribute__((cleanup(sqlite3_closep)))
static void sqlite3_finalizep(sqlite3_stmt **st)
{
	if (*st)
		sqlite3_finalize(*st);
}
#define cleanup_stmt __attribute__((cleanup(sqlite3_finalizep)))

int catalog_rpm_sqlite(struct catalog_set *s, const void *buf, size_t len, const char *path,
		       struct strata_err **err)
{
	STRATA_CHECK(len >= 100 && !memcmp(buf, "SQLite format 3", 16), err, STRATA_EFORMAT,
		     "%s: not an SQLite database", path);
	cleanup_sqlite sqlite3 *db = NULL;
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "%s: sqlite: out of memory", path);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
	/* A copy SQLite owns; a WAL-mode header (read/write versions 2) is read as a rollback
	 * journal database: an in-memory database has no -wal file (rpm checkpoints on close). */
	unsigned char *copy = sqlite3_malloc64(len);
	if (!copy)
		return strata_err_set(err, STRATA_EIO, "%s: sqlite: out of memory", path);
	memcpy(copy, buf, len);
	if (copy[18] == 2)
		copy[18] = 1;
	if (copy[19] == 2)
		copy[19] = 1;
	if (sqlite3_deserialize(db, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
				SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) != SQLITE_OK)
		return strata_err_set(err, STRATA_EFORMAT, "%s: sqlite: %s", path, sqlite3_errmsg(db));
	cleanup_stmt sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "SELECT blob FROM Packages ORDER BY hnum", -1, &st, NULL) != SQLITE_OK)
		return strata_err_set(err, STRATA_EFORMAT, "%s: sqlite: %s", path, sqlite3_errmsg(db));
	int n = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(st, 0);
		int bl = sqlite3_column_bytes(st, 0);
		cleanup_err struct strata_err *e1 = NULL;
		if (b && bl > 0 && catalog_rpm_header(s, b, (size_t)bl, path, &e1) == 0)
			n++;
	}
	if (rc != SQLITE_DONE)
		return strata_err_set(err, STRATA_EFORMAT, "%s: sqlite: %s", path, sqlite3_errmsg(db));
	return n;
}

/* ---- Berkeley DB Packages ----------------------------------------------------------------- */

struct bdb_ctx {
	struct catalog_set *s;
	const char *path;
	int n;
};

static int bdb_value(void *ctx, const unsigned char *val, size_t len)
{
	struct bdb_ctx *c = ctx;
	cleanup_err struct strata_err *e1 = NULL;
	/* Packages also holds key 0 → the next instance number (4 bytes): not a header. */
	if (len > 16 && catalog_rpm_header(c->s, val, len, c->path, &e1) == 0)
		c->n++;
	return 0;
}

int catalog_rpm_bdb(struct catalog_set *s, const void *buf, size_t len, const char *path,
		    struct strata_err **err)
{
	struct bdb_ctx c = {s, path, 0};
	if (catalog_bdb_hash_values(buf, len, bdb_value, &c, err) < 0)
		return strata_err_set(err, STRATA_EFORMAT, "%s", path);
	return c.n;
}
