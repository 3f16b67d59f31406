/* fs/prefetch.c — pushing the next small files of a directory into the kernel's page cache.
 *
 * A reader that copies a tree (tar -c, cp -r) reads the files of a directory in listing order,
 * and every small file costs it a READ round trip, most of it spent waking threads. When a READ
 * at offset 0 of a regular file is answered, fs_prefetch_kick queues the file; one worker thread
 * then finds the next small regular files after it in its directory's listing (op_dir.c lists
 * the directory again if it left the cache; at most PREFETCH_FILES files of at most
 * PREFETCH_MAX_SIZE bytes, PREFETCH_MAX_BYTES together; a cursor per listing keeps a file from
 * being pushed twice), reads each whole and stores it at offset 0 with
 * fuse_lowlevel_notify_store, so the reader's next opens find their pages cached and send no READ.
 *
 * Bounds and safety: the queue holds PREFETCH_QUEUE kicks; a kick that finds it full is dropped.
 * The worker holds no lock that a request handler takes while it reads or stores (the store may
 * wait on a page the kernel has locked for a READ another worker thread answers). The kernel
 * answers -ENOENT for an inode it forgot (or never saw): ignored. fs_prefetch_stop joins the
 * worker before the session is destroyed, dropping whatever is still queued; at a signal the
 * request loop runs fs_prefetch_halt first, while its workers still answer the READ a store may be
 * waiting for. */
#include "fs_int.h"

#include <errno.h>
#include <string.h>

#define PREFETCH_FILES 16
#define PREFETCH_MAX_SIZE ((uint64_t)128 << 10)
#define PREFETCH_MAX_BYTES ((uint64_t)1 << 20)
#define PREFETCH_QUEUE 16

struct fs_prefetch {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool stop;
	bool joined; /* the worker is joined (fs_prefetch_halt) */
	struct fuse_session *se; /* the pages are stored through it */
	size_t head, count; /* ring of the files whose READ kicked */
	fuse_ino_t q[PREFETCH_QUEUE];
};

/* Reads regular file f whole (its size as listed) and stores it in the kernel's page cache. */
static void prefetch_one(struct fs_mount *m, const struct fs_dir_file *f, char *buf)
{
	cleanup_err struct strata_err *err = NULL;
	if (index_db_read(m->db, f->data, buf, (size_t)f->size, 0, &err) != (ssize_t)f->size)
		return; /* the READ that follows reports the error */
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT((size_t)f->size);
	bv.buf[0].mem = buf;
	(void)fuse_lowlevel_notify_store(m->prefetch->se, f->ino, 0, &bv, 0);
}

static void *prefetch_main(void *arg)
{
	struct fs_mount *m = arg;
	struct fs_prefetch *p = m->prefetch;
	char *buf = xmalloc(PREFETCH_MAX_SIZE);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && p->count == 0)
			pthread_cond_wait(&p->wake, &p->lock);
		if (p->stop)
			break;
		fuse_ino_t ino = p->q[p->head];
		p->head = (p->head + 1) % PREFETCH_QUEUE;
		p->count--;
		pthread_mutex_unlock(&p->lock);
		struct fs_dir_file next[PREFETCH_FILES];
		size_t n =
		    fs_dir_next_files(m, ino, next, PREFETCH_FILES, PREFETCH_MAX_SIZE, PREFETCH_MAX_BYTES);
		for (size_t i = 0; i < n && !__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE); i++)
			prefetch_one(m, &next[i], buf);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	free(buf);
	return NULL;
}

void fs_prefetch_start(struct fs_mount *m, struct fuse_session *se)
{
	struct fs_prefetch *p = xcalloc(1, sizeof(*p));
	p->se = se;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	m->prefetch = p;
	if (pthread_create(&p->thread, NULL, prefetch_main, m) != 0) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		free(p);
		m->prefetch = NULL;
	}
}

void fs_prefetch_halt(struct fs_mount *m)
{
	struct fs_prefetch *p = m->prefetch;
	if (!p || p->joined)
		return;
	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->stop, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->joined = true;
}

void fs_prefetch_stop(struct fs_mount *m)
{
	struct fs_prefetch *p = m->prefetch;
	if (!p)
		return;
	fs_prefetch_halt(m);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
	m->prefetch = NULL;
}

void fs_prefetch_kick(struct fs_mount *m, fuse_ino_t ino)
{
	struct fs_prefetch *p = m->prefetch;
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->count < PREFETCH_QUEUE) { /* else dropped: the worker is behind */
		p->q[(p->head + p->count) % PREFETCH_QUEUE] = ino;
		p->count++;
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->lock);
}
