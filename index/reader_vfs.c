/* index/reader_vfs.c — "strata-fd", a read-only SQLite VFS that reads an index through a file
 * descriptor the reader already holds, so that every connection of one index_db reads the very
 * file index_db_open validated, whatever later happens to its path: deleted (the inode lives on
 * while the descriptor is open), or replaced by a rename (a new index by the next build) — a
 * mount never mixes two indexes and never fails because its index path went away.
 *
 * Why a VFS: SQLite's unix VFS opens by path and resolves symlinks itself, so
 * "/proc/self/fd/N" would be turned back into the index's (possibly deleted or replaced) path.
 * Here the main database "file" is named READER_VFS_PREFIX "<fd>"; opening it duplicates that
 * descriptor, reads with pread, and maps the file for SQLite's memory-mapped reads. The file is
 * declared immutable (SQLITE_IOCAP_IMMUTABLE): an index is written once into a temporary file and
 * renamed into place, never changed in place, so SQLite takes no locks and looks for no journal.
 * Every other file SQLite may want (temporary b-trees for sorting) is delegated to the default
 * VFS, as are time, randomness and sleeping. */
#include "reader_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct vfs_file {
	sqlite3_file base;
	int fd;			/* our own duplicate of the index_db's descriptor */
	sqlite3_int64 size;	/* fixed: the file is immutable */
	sqlite3_int64 mmap_max; /* SQLITE_FCNTL_MMAP_SIZE (PRAGMA mmap_size) */
	void *map;		/* whole-file read-only mapping, made on the first fetch */
	size_t map_len;
};

static sqlite3_vfs *vfs_base(sqlite3_vfs *v)
{
	return v->pAppData;
}

static int vfs_close(sqlite3_file *f)
{
	struct vfs_file *p = (struct vfs_file *)f;
	if (p->map)
		munmap(p->map, p->map_len);
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->map = NULL;
	return SQLITE_OK;
}

static int vfs_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	struct vfs_file *p = (struct vfs_file *)f;
	size_t got = 0;
	while (got < (size_t)amt) {
		ssize_t n =
		    pread(p->fd, (char *)buf + got, (size_t)amt - got, (off_t)(off + (sqlite3_int64)got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return SQLITE_IOERR_READ;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got < (size_t)amt) {
		/* SQLite's contract: a short read zero-fills the rest. */
		memset((char *)buf + got, 0, (size_t)amt - got);
		return SQLITE_IOERR_SHORT_READ;
	}
	return SQLITE_OK;
}

static int vfs_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	(void)f, (void)buf, (void)amt, (void)off;
	return SQLITE_READONLY;
}

static int vfs_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	(void)f, (void)size;
	return SQLITE_READONLY;
}

static int vfs_sync(sqlite3_file *f, int flags)
{
	(void)f, (void)flags;
	return SQLITE_OK;
}

static int vfs_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	*size = ((struct vfs_file *)f)->size;
	return SQLITE_OK;
}

static int vfs_lock(sqlite3_file *f, int level)
{
	(void)f, (void)level;
	return SQLITE_OK;
}

static int vfs_check_reserved(sqlite3_file *f, int *out)
{
	(void)f;
	*out = 0;
	return SQLITE_OK;
}

static int vfs_file_control(sqlite3_file *f, int op, void *arg)
{
	struct vfs_file *p = (struct vfs_file *)f;
	if (op == SQLITE_FCNTL_MMAP_SIZE) {
		sqlite3_int64 want = *(sqlite3_int64 *)arg;
		*(sqlite3_int64 *)arg = p->mmap_max;
		if (want >= 0)
			p->mmap_max = want;
		return SQLITE_OK;
	}
	return SQLITE_NOTFOUND;
}

static int vfs_sector_size(sqlite3_file *f)
{
	(void)f;
	return 4096;
}

static int vfs_device_characteristics(sqlite3_file *f)
{
	(void)f;
	return SQLITE_IOCAP_IMMUTABLE;
}

/* Pages within the mapping limit come straight from a read-only mapping of the whole file (made
 * once per connection; the kernel shares its pages between connections). NULL otherwise: SQLite
 * then reads with xRead. */
static int vfs_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	struct vfs_file *p = (struct vfs_file *)f;
	*pp = NULL;
	sqlite3_int64 limit = p->mmap_max < p->size ? p->mmap_max : p->size;
	if (off < 0 || amt <= 0 || off + amt > limit)
		return SQLITE_OK;
	if (!p->map) {
		void *m = mmap(NULL, (size_t)limit, PROT_READ, MAP_SHARED, p->fd, 0);
		if (m == MAP_FAILED)
			return SQLITE_OK; /* fall back to reads */
		p->map = m;
		p->map_len = (size_t)limit;
	}
	if (off + amt > (sqlite3_int64)p->map_len)
		return SQLITE_OK;
	*pp = (char *)p->map + off;
	return SQLITE_OK;
}

static int vfs_unfetch(sqlite3_file *f, sqlite3_int64 off, void *page)
{
	(void)f, (void)off, (void)page;
	return SQLITE_OK;
}

static const sqlite3_io_methods vfs_io = {
    .iVersion = 3,
    .xClose = vfs_close,
    .xRead = vfs_read,
    .xWrite = vfs_write,
    .xTruncate = vfs_truncate,
    .xSync = vfs_sync,
    .xFileSize = vfs_file_size,
    .xLock = vfs_lock,
    .xUnlock = vfs_lock,
    .xCheckReservedLock = vfs_check_reserved,
    .xFileControl = vfs_file_control,
    .xSectorSize = vfs_sector_size,
    .xDeviceCharacteristics = vfs_device_characteristics,
    .xFetch = vfs_fetch,
    .xUnfetch = vfs_unfetch,
};

/* The descriptor named by a main-database file name, or -1 when the name is not ours. */
static int vfs_name_fd(const char *name)
{
	size_t plen = strlen(READER_VFS_PREFIX);
	if (!name || strncmp(name, READER_VFS_PREFIX, plen))
		return -1;
	char *end = NULL;
	errno = 0;
	long fd = strtol(name + plen, &end, 10);
	if (errno || end == name + plen || *end || fd < 0 || fd > 0x7fffffff)
		return -1;
	return (int)fd;
}

static int vfs_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	memset(f, 0, sizeof(struct vfs_file));
	if (!(flags & SQLITE_OPEN_MAIN_DB))
		return vfs_base(v)->xOpen(vfs_base(v), name, f, flags, out_flags);
	int src = vfs_name_fd(name);
	if (src < 0 || (flags & (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)))
		return SQLITE_CANTOPEN;
	struct vfs_file *p = (struct vfs_file *)f;
	p->fd = fcntl(src, F_DUPFD_CLOEXEC, 3);
	if (p->fd < 0)
		return SQLITE_CANTOPEN;
	struct stat st;
	if (fstat(p->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(p->fd);
		return SQLITE_CANTOPEN;
	}
	p->size = st.st_size;
	p->base.pMethods = &vfs_io;
	if (out_flags)
		*out_flags = SQLITE_OPEN_READONLY;
	return SQLITE_OK;
}

static int vfs_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
	if (vfs_name_fd(name) >= 0)
		return SQLITE_READONLY;
	return vfs_base(v)->xDelete(vfs_base(v), name, sync_dir);
}

static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	if (vfs_name_fd(name) >= 0) {
		*out = flags != SQLITE_ACCESS_READWRITE;
		return SQLITE_OK;
	}
	return vfs_base(v)->xAccess(vfs_base(v), name, flags, out);
}

static int vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	if (vfs_name_fd(name) < 0)
		return vfs_base(v)->xFullPathname(vfs_base(v), name, n, out);
	if ((int)strlen(name) >= n)
		return SQLITE_CANTOPEN;
	strcpy(out, name);
	return SQLITE_OK;
}

static void *vfs_dl_open(sqlite3_vfs *v, const char *name)
{
	return vfs_base(v)->xDlOpen(vfs_base(v), name);
}
static void vfs_dl_error(sqlite3_vfs *v, int n, char *msg)
{
	vfs_base(v)->xDlError(vfs_base(v), n, msg);
}
static void (*vfs_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	return vfs_base(v)->xDlSym(vfs_base(v), h, sym);
}
static void vfs_dl_close(sqlite3_vfs *v, void *h)
{
	vfs_base(v)->xDlClose(vfs_base(v), h);
}
static int vfs_randomness(sqlite3_vfs *v, int n, char *out)
{
	return vfs_base(v)->xRandomness(vfs_base(v), n, out);
}
static int vfs_sleep(sqlite3_vfs *v, int us)
{
	return vfs_base(v)->xSleep(vfs_base(v), us);
}
static int vfs_current_time(sqlite3_vfs *v, double *t)
{
	return vfs_base(v)->xCurrentTime(vfs_base(v), t);
}
static int vfs_last_error(sqlite3_vfs *v, int n, char *msg)
{
	return vfs_base(v)->xGetLastError(vfs_base(v), n, msg);
}
static int vfs_current_time64(sqlite3_vfs *v, sqlite3_int64 *t)
{
	sqlite3_vfs *b = vfs_base(v);
	if (b->iVersion >= 2 && b->xCurrentTimeInt64)
		return b->xCurrentTimeInt64(b, t);
	double d;
	int rc = b->xCurrentTime(b, &d);
	*t = (sqlite3_int64)(d * 86400000.0);
	return rc;
}

static sqlite3_vfs vfs = {
    .iVersion = 2,
    .zName = READER_VFS_NAME,
    .xOpen = vfs_open,
    .xDelete = vfs_delete,
    .xAccess = vfs_access,
    .xFullPathname = vfs_full_pathname,
    .xDlOpen = vfs_dl_open,
    .xDlError = vfs_dl_error,
    .xDlSym = vfs_dl_sym,
    .xDlClose = vfs_dl_close,
    .xRandomness = vfs_randomness,
    .xSleep = vfs_sleep,
    .xCurrentTime = vfs_current_time,
    .xGetLastError = vfs_last_error,
    .xCurrentTimeInt64 = vfs_current_time64,
};
static int vfs_register_rc = SQLITE_ERROR;

static void vfs_register_once(void)
{
	sqlite3_vfs *base = sqlite3_vfs_find(NULL);
	if (!base)
		return;
	vfs.pAppData = base;
	vfs.mxPathname = base->mxPathname;
	vfs.szOsFile =
	    base->szOsFile > (int)sizeof(struct vfs_file) ? base->szOsFile : (int)sizeof(struct vfs_file);
	vfs_register_rc = sqlite3_vfs_register(&vfs, 0);
}

int reader_vfs_register(struct strata_err **err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, vfs_register_once);
	if (vfs_register_rc != SQLITE_OK)
		return strata_err_set(err, STRATA_EIO, "index: cannot register the SQLite VFS %s: %s",
				      READER_VFS_NAME, sqlite3_errstr(vfs_register_rc));
	return 0;
}
