/* fs/serve_loop.c — the request loop: worker threads passing one "reader" role between them.
 *
 * libfuse's multithreaded loop keeps every idle thread blocked in read() on /dev/fuse; the kernel
 * wakes them in turn, so consecutive requests of a serial walk (find: READDIRPLUS, then the empty
 * one that ends the listing, then the next directory) each wake a different, cold thread, often
 * on the other CPU. Here only the thread holding the reader role reads. A request that answers
 * from memory or the index (everything but READ) is processed by the reader itself, which then
 * reads the next one: a serial walk is served by one hot thread. Before processing a READ (which
 * may decompress for a while) or a request on a reserved-tree inode (a report rendered on first
 * use) the reader hands the role to an idle thread, or starts one (up to max_threads), so
 * concurrent readers are still served in parallel.
 *
 * The loop ends when the kernel ends the session (unmount) or a signal handler installed by
 * fuse_set_signal_handlers marks the session exited: worker threads block those signals, the
 * calling thread notices the flag, runs the caller's on_exit while the workers still answer
 * requests, then cancels the reader's read() and joins every worker. on_exit stops the threads
 * that may wait for an answer from this loop: the prefetcher's notify_store waits for a page the
 * kernel keeps locked until a READ is answered, so stopping it once no worker answers any more
 * could wait for ever (SIGTERM hung the daemon). */
#include "fs_int.h"

#include <errno.h>
#include <linux/fuse.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#define FS_LOOP_MAX_THREADS 64

struct fs_loop {
	struct fuse_session *se;
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* the reader role is free, or the loop ends */
	pthread_cond_t ended; /* signalled to the caller when the loop ends */
	bool role_free, exiting;
	unsigned waiting, nthreads, max_threads;
	pthread_t threads[FS_LOOP_MAX_THREADS];
};

static void *loop_worker(void *arg);

/* Starts one more worker (lock held); false when at the limit or it cannot be started. */
static bool loop_spawn_locked(struct fs_loop *l)
{
	if (l->nthreads >= l->max_threads || l->exiting)
		return false;
	if (pthread_create(&l->threads[l->nthreads], NULL, loop_worker, l) != 0)
		return false;
	l->nthreads++;
	return true;
}

/* Ends the loop (lock held): wakes every worker and the caller. */
static void loop_end_locked(struct fs_loop *l)
{
	l->exiting = true;
	pthread_cond_broadcast(&l->cond);
	pthread_cond_signal(&l->ended);
}

static void loop_buf_free(void *arg)
{
	struct fuse_buf *buf = arg;
	free(buf->mem);
	buf->mem = NULL;
}

static void *loop_worker(void *arg)
{
	struct fs_loop *l = arg;
	struct fuse_buf buf;
	memset(&buf, 0, sizeof(buf));
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (!l->role_free && !l->exiting) {
			l->waiting++;
			pthread_cond_wait(&l->cond, &l->lock);
			l->waiting--;
		}
		if (l->exiting)
			break;
		l->role_free = false;
		pthread_mutex_unlock(&l->lock);
		/* the only cancellation point: the caller cancels a reader blocked here at the end */
		int res;
		pthread_cleanup_push(loop_buf_free, &buf);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		res = fuse_session_receive_buf(l->se, &buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_cleanup_pop(0);
		pthread_mutex_lock(&l->lock);
		if (res == -EINTR || res == -EAGAIN) {
			l->role_free = true;
			continue;
		}
		if (res <= 0) { /* the kernel ended the session (or reading failed) */
			loop_end_locked(l);
			break;
		}
		/* a request read after the exit flag is still answered: the loop ends when the caller
		 * has run on_exit (fs_serve_loop) */
		const struct fuse_in_header *in = buf.mem;
		/* Slow: a READ (may inflate spans) or any request on a reserved-tree inode (the /.audit
		 * reports are rendered on their first lookup, getattr or listing, which can take seconds). */
		bool slow = !(buf.flags & FUSE_BUF_IS_FD) && (size_t)res >= sizeof(*in) &&
			    (in->opcode == FUSE_READ || fs_ino_tag(in->nodeid) == FS_TAG_META);
		if (slow) { /* let another thread read the next request meanwhile */
			l->role_free = true;
			if (l->waiting)
				pthread_cond_signal(&l->cond);
			else
				loop_spawn_locked(l);
		}
		pthread_mutex_unlock(&l->lock);
		fuse_session_process_buf(l->se, &buf);
		pthread_mutex_lock(&l->lock);
		if (!slow)
			l->role_free = true; /* and this thread takes it again at once */
	}
	pthread_mutex_unlock(&l->lock);
	free(buf.mem);
	return NULL;
}

int fs_serve_loop(struct fuse_session *se, unsigned max_threads, void (*on_exit)(void *ctx), void *ctx)
{
	struct fs_loop *l = xcalloc(1, sizeof(*l));
	l->se = se;
	l->max_threads = max_threads < 1 ? 1 : max_threads > FS_LOOP_MAX_THREADS ? FS_LOOP_MAX_THREADS : max_threads;
	l->role_free = true;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	pthread_cond_init(&l->ended, NULL);
	/* workers inherit a mask without the signals the session handles: they reach this thread */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	pthread_mutex_lock(&l->lock);
	bool started = loop_spawn_locked(l);
	pthread_mutex_unlock(&l->lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	int rc = started ? 0 : -1;
	pthread_mutex_lock(&l->lock);
	while (started && !l->exiting) {
		/* a signal handler only sets the session's exit flag: look at it now and then */
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += 200 * 1000 * 1000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&l->ended, &l->lock, &t);
		if (!l->exiting && fuse_session_exited(se)) {
			if (on_exit) { /* the workers go on answering meanwhile */
				pthread_mutex_unlock(&l->lock);
				on_exit(ctx);
				on_exit = NULL;
				pthread_mutex_lock(&l->lock);
			}
			loop_end_locked(l);
		}
	}
	unsigned n = l->nthreads;
	pthread_mutex_unlock(&l->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_cancel(l->threads[i]); /* only a thread blocked in read() acts on it */
	for (unsigned i = 0; i < n; i++)
		pthread_join(l->threads[i], NULL);
	pthread_cond_destroy(&l->ended);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
	return rc;
}
