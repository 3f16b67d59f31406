/* audit/catalog_bdb.c — a reader for Berkeley DB hash databases (the rpm `Packages` file of
 * RHEL/CentOS 7 and older), written from the on-disk format, not the library:
 *   page 0   the hash meta page: generic DBMETA (magic 0x061561 at byte 12, page size at 20,
 *            encryption at 24, page type 8 at 25, flags at 26, last page number at 32);
 *   hash pages (type 13, or 2 unsorted): a 26-byte header (next page at 16, entry count at 20,
 *            type at 25), then the entry offsets (u16 each) of items stored from the page's end
 *            downwards; entries alternate key, data. An item starts with its type: 1 key/data
 *            (bytes follow, up to the previous item's start), 3 off-page (u32 first overflow page
 *            at +4, u32 total length at +8), 2/4 duplicates (not used by rpm; skipped);
 *   overflow pages (type 7): the header's u16 at 22 is the number of bytes on the page, the
 *            next page number chains them.
 * Integers are in the byte order of the machine that wrote the file: the meta page's magic says
 * which. Rather than following the bucket structure, every hash page is visited in page order
 * (what a database dump does), so a value is found whatever bucket it is in. Every offset, length
 * and page number is checked; an overflow chain is bounded by the page count (no loops). */
#include "audit_int.h"

#include <string.h>

#define BDB_HASH_MAGIC 0x061561u
#define BDB_PAGE_HDR 26u
#define BDB_P_HASH_UNSORTED 2
#define BDB_P_OVERFLOW 7
#define BDB_P_HASHMETA 8
#define BDB_P_HASH 13
#define BDB_H_KEYDATA 1
#define BDB_H_OFFPAGE 3
#define BDB_CHKSUM_FLAG 0x01
#define BDB_HMAC_SIZE 20u

struct bdb {
	const unsigned char *buf;
	size_t len;
	bool be;	   /* big-endian file */
	uint32_t pagesize; /* 512 … 65536 */
	uint32_t npages;   /* pages present in buf (≤ last_pgno + 1) */
	uint32_t overhead; /* page header, plus the checksum when the file has one */
	size_t budget;	   /* overflow bytes still allowed: items sharing a chain cost each time */
};

static uint32_t bdb_u32(const struct bdb *d, const unsigned char *p)
{
	return d->be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
		     : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint16_t bdb_u16(const struct bdb *d, const unsigned char *p)
{
	return d->be ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static const unsigned char *bdb_page(const struct bdb *d, uint32_t pgno)
{
	return d->buf + (size_t)pgno * d->pagesize;
}

static int bdb_open(struct bdb *d, const unsigned char *buf, size_t len, struct strata_err **err)
{
	STRATA_CHECK(len >= 512, err, STRATA_EFORMAT, "Berkeley DB: %zu bytes is too short", len);
	d->buf = buf;
	d->len = len;
	d->be = false;
	if (bdb_u32(d, buf + 12) != BDB_HASH_MAGIC) {
		d->be = true;
		STRATA_CHECK(bdb_u32(d, buf + 12) == BDB_HASH_MAGIC, err, STRATA_EFORMAT,
			     "Berkeley DB: not a hash database");
	}
	d->pagesize = bdb_u32(d, buf + 20);
	STRATA_CHECK(d->pagesize >= 512 && d->pagesize <= 65536 && !(d->pagesize & (d->pagesize - 1)), err,
		     STRATA_EFORMAT, "Berkeley DB: page size %u", d->pagesize);
	STRATA_CHECK(buf[24] == 0, err, STRATA_EUNSUPPORTED, "Berkeley DB: encrypted");
	STRATA_CHECK(buf[25] == BDB_P_HASHMETA, err, STRATA_EFORMAT, "Berkeley DB: meta page type %u",
		     buf[25]);
	uint32_t last = bdb_u32(d, buf + 32);
	size_t have = len / d->pagesize;
	d->npages = (uint32_t)(have < (size_t)last + 1 ? have : (size_t)last + 1);
	d->overhead = BDB_PAGE_HDR + ((buf[26] & BDB_CHKSUM_FLAG) ? BDB_HMAC_SIZE : 0);
	d->budget = 4 * len; /* a real database stores each value once */
	return 0;
}

/* Assembles an off-page value: tlen bytes from the overflow chain starting at pgno. *out owned. */
static int bdb_overflow(struct bdb *d, uint32_t pgno, uint32_t tlen, unsigned char **out,
			struct strata_err **err)
{
	STRATA_CHECK(tlen <= d->len, err, STRATA_EFORMAT, "Berkeley DB: overflow item of %u bytes", tlen);
	STRATA_CHECK(tlen <= d->budget, err, STRATA_ELIMIT,
		     "Berkeley DB: overflow items add up to more than 4 times the file");
	d->budget -= tlen;
	cleanup_free unsigned char *v = xmalloc(tlen ? tlen : 1);
	size_t got = 0;
	for (uint32_t hops = 0; got < tlen; hops++) {
		STRATA_CHECK(hops < d->npages && pgno > 0 && pgno < d->npages, err, STRATA_EFORMAT,
			     "Berkeley DB: overflow chain broken at page %u", pgno);
		const unsigned char *pg = bdb_page(d, pgno);
		STRATA_CHECK(pg[25] == BDB_P_OVERFLOW, err, STRATA_EFORMAT,
			     "Berkeley DB: page %u in an overflow chain has type %u", pgno, pg[25]);
		uint32_t n = bdb_u16(d, pg + 22);
		STRATA_CHECK(n <= d->pagesize - d->overhead && n <= tlen - got && n > 0, err, STRATA_EFORMAT,
			     "Berkeley DB: overflow page %u holds %u bytes", pgno, n);
		memcpy(v + got, pg + d->overhead, n);
		got += n;
		pgno = bdb_u32(d, pg + 16);
	}
	*out = steal_pointer(&v);
	return 0;
}

/* Visits the data items of one hash page. Returns the number passed to cb, or -1 with *err;
 * *stop set when cb asked to stop. */
static int bdb_hash_page(struct bdb *d, uint32_t pgno, catalog_bdb_cb cb, void *ctx, bool *stop,
			 struct strata_err **err)
{
	const unsigned char *pg = bdb_page(d, pgno);
	uint32_t entries = bdb_u16(d, pg + 20);
	STRATA_CHECK((size_t)d->overhead + (size_t)entries * 2 <= d->pagesize, err, STRATA_EFORMAT,
		     "Berkeley DB: page %u claims %u entries", pgno, entries);
	uint32_t floor = d->overhead + entries * 2;
	int n = 0;
	for (uint32_t i = 1; i < entries && !*stop; i += 2) { /* odd entries: data */
		uint32_t off = bdb_u16(d, pg + d->overhead + (size_t)i * 2);
		uint32_t end = bdb_u16(d, pg + d->overhead + (size_t)(i - 1) * 2); /* the key before it */
		STRATA_CHECK(off >= floor && off < end && end <= d->pagesize, err, STRATA_EFORMAT,
			     "Berkeley DB: page %u entry %u at %u..%u", pgno, i, off, end);
		const unsigned char *item = pg + off;
		size_t ilen = end - off;
		if (item[0] == BDB_H_KEYDATA) {
			*stop = cb(ctx, item + 1, ilen - 1) != 0;
			n++;
		} else if (item[0] == BDB_H_OFFPAGE) {
			STRATA_CHECK(ilen >= 12, err, STRATA_EFORMAT,
				     "Berkeley DB: page %u: short off-page item", pgno);
			cleanup_free unsigned char *v = NULL;
			uint32_t tlen = bdb_u32(d, item + 8);
			if (bdb_overflow(d, bdb_u32(d, item + 4), tlen, &v, err) < 0)
				return -1;
			*stop = cb(ctx, v, tlen) != 0;
			n++;
		}
	}
	return n;
}

int catalog_bdb_hash_values(const unsigned char *buf, size_t len, catalog_bdb_cb cb, void *ctx,
			    struct strata_err **err)
{
	struct bdb d = {0};
	if (bdb_open(&d, buf, len, err) < 0)
		return -1;
	int total = 0;
	bool stop = false;
	cleanup_err struct strata_err *first = NULL;
	for (uint32_t p = 1; p < d.npages && !stop; p++) {
		const unsigned char *pg = bdb_page(&d, p);
		if (pg[25] != BDB_P_HASH && pg[25] != BDB_P_HASH_UNSORTED)
			continue;
		/* A page whose number field disagrees is free or stale space, not part of the table. */
		if (bdb_u32(&d, pg + 8) != p)
			continue;
		/* A damaged page costs its own values, not the database's. */
		cleanup_err struct strata_err *e1 = NULL;
		int n = bdb_hash_page(&d, p, cb, ctx, &stop, &e1);
		if (n < 0 && !first) {
			first = steal_pointer(&e1);
			continue;
		}
		total += n > 0 ? n : 0;
	}
	if (total == 0 && first)
		return strata_err_set(err, first->code, "%s", first->msg);
	return total;
}
