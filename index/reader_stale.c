/* index/reader_stale.c — the stale mark of an index (issue 8): when the read side finds a blob
 * that no longer matches what the index recorded (unreadable, a different size, or its bytes end
 * early or no longer decompress), it creates the sidecar file "<index>" INDEX_STALE_SUFFIX next
 * to the index and says so on stderr, once per blob per process. The serving path stays
 * read-only on the index itself: the mark is a separate small file, which index_build treats as
 * "not reusable" and removes after a successful rebuild. A damaged zstd seekable copy (a cache file,
 * not the blob) is removed instead, so the next reader rebuilds it; the index stays valid. */
#include "reader_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Blobs already reported by this process (a handful at most), under stale_lock. */
static pthread_mutex_t stale_lock = PTHREAD_MUTEX_INITIALIZER;
static char **stale_seen;
static size_t stale_nseen;

/* true the first time path is seen (and remembers it). Caller holds stale_lock. */
static bool stale_first_time(const char *path)
{
	for (size_t i = 0; i < stale_nseen; i++)
		if (!strcmp(stale_seen[i], path))
			return false;
	stale_seen = xrealloc(stale_seen, (stale_nseen + 1) * sizeof(*stale_seen));
	stale_seen[stale_nseen++] = xstrdup(path);
	return true;
}

/* The image path the index was built from (image.path), owned; "?" when unknown. */
static char *stale_image_path(struct index_conn *c)
{
	sqlite3_stmt *st = NULL;
	char *p = NULL;
	if (c && sqlite3_prepare_v2(c->db, "SELECT path FROM image WHERE id = 1", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		p = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return p ? p : xstrdup("?");
}

void reader_stale_mark(struct index_db *db, struct index_conn *c, const char *blob, const char *why)
{
	if (!blob)
		blob = "?";
	pthread_mutex_lock(&stale_lock);
	bool first = stale_first_time(blob);
	pthread_mutex_unlock(&stale_lock);
	if (!first)
		return;
	cleanup_free char *image = stale_image_path(c);
	cleanup_free char *mark = xasprintf("%s%s", db->path, INDEX_STALE_SUFFIX);
	/* The mark is only for the index this reader uses: when its path was removed or now names
	 * another file (a rebuild renamed a new index over it), that one is not ours to judge. */
	struct stat st;
	if (stat(db->path, &st) < 0 || st.st_dev != db->dev || st.st_ino != db->ino) {
		fprintf(stderr, "strata: %s: blob %s changed after indexing (%s); the index file %s was removed or "
				"replaced since it was opened, not marking it\n",
			image, blob, why ? why : "unreadable", db->path);
		return;
	}
	/* O_NOFOLLOW: the mark never writes through a symlink planted next to the index. */
	int fd = open(mark, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	bool marked = fd >= 0;
	if (marked) {
		dprintf(fd, "%s\t%s\n", blob, why ? why : "");
		close(fd);
	}
	fprintf(stderr, "strata: %s: blob %s changed after indexing (%s); %s %s\n", image, blob,
		why ? why : "unreadable", marked ? "marked the index stale, the next index or mount rebuilds it:" :
						   "cannot mark the index stale:",
		marked ? mark : strerror(errno));
}

/* The FILE source at the bottom of s's stack (borrowed), or NULL. */
static const struct overlay_source *stale_file_of(const struct overlay_source *s)
{
	while (s && overlay_source_kind(s) != OVERLAY_SRC_FILE)
		s = overlay_source_base(s);
	return s;
}

void reader_stale_check_read(struct index_db *db, struct index_conn *c, const struct overlay_source *src,
			     int code, const char *why)
{
	const struct overlay_source *f = stale_file_of(src);
	const char *path = f ? overlay_source_path(f) : NULL;
	if (!f || !overlay_source_is_cache_copy(f)) {
		reader_stale_mark(db, c, path, why);
		return;
	}
	/* The copy, not the blob, failed: the index is fine. A malformed copy (its seek table was
	 * right, a frame is not) is removed so that the next reader rebuilds it; a read error leaves
	 * it alone (it fails this read only). Said once per copy per process. */
	pthread_mutex_lock(&stale_lock);
	bool first = stale_first_time(path);
	pthread_mutex_unlock(&stale_lock);
	bool malformed = code == STRATA_EFORMAT;
	bool removed = malformed && unlink(path) == 0;
	if (!first)
		return;
	cleanup_free char *image = stale_image_path(c);
	fprintf(stderr, "strata: %s: seekable copy %s %s (%s); %s\n", image, path,
		malformed ? "is damaged" : "could not be read", why ? why : "unreadable",
		!malformed ? "left in place" : removed ? "removed it, the next mount or reader rebuilds it" :
							 "cannot remove it");
}
