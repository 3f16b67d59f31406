/* fs/fs_main.c — one mount's life: options, the FUSE session, signals, the multithreaded loop,
 * readiness reporting to a waiting parent, the mount's log, and the table of operations.
 *
 * The log: error lines of fs/ go to m->log, each distinct line once (fs_log_line_once). With
 * -o log=PATH the serving process's stderr is that file too while the mount serves, so what the
 * index and overlay modules say on stderr (a blob changed after indexing, a seekable copy that
 * cannot be written) reaches the log instead of the /dev/null of a daemonised mount. */
#include "fs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Tells the waiting parent (once) how the mount went. */
static void ready_report(struct fs_mount *m, const char *msg)
{
	if (m->ready_fd < 0)
		return;
	cleanup_free char *line = msg ? xasprintf("ERR %s\n", msg) : xstrdup("OK\n");
	size_t len = strlen(line), done = 0;
	while (done < len) {
		ssize_t w = write(m->ready_fd, line + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	close(m->ready_fd);
	m->ready_fd = -1;
}

/* See fs_int.h. FNV-1a of the line picks a slot; a slot holding the same hash means written. */
void fs_log_line_once(struct fs_mount *m, const char *line)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const char *p = line; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	pthread_mutex_lock(&m->log_lock);
	uint64_t *slot = &m->log_seen[h % FS_LOG_SEEN]; /* the slot from the hash as computed */
	h |= 1;                                           /* what is stored is never 0 (an empty slot) */
	if (*slot != h) {
		*slot = h;
		fprintf(m->log, "%s\n", line);
		fflush(m->log);
	}
	pthread_mutex_unlock(&m->log_lock);
}

static bool fs_init_answered; /* atomic: set by fs_op_init */

/* Called in the loop once the kernel's INIT is answered: from here on the mount answers. */
static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	/* readdirplus for every chunk of a listing, not only the first (the "auto" mode sends plain
	 * readdir for later chunks, then one LOOKUP per entry there when find or ls needs attributes) */
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	fs_read_set_no_open((conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) != 0);
	fs_dir_set_no_opendir((conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) != 0);
	/* fs_serve reports readiness once this INIT is answered (serve_init.c) */
	__atomic_store_n(&fs_init_answered, true, __ATOMIC_RELEASE);
}


static struct fuse_lowlevel_ops fs_ops_table;
static void fs_ops_fill(void)
{
	struct fuse_lowlevel_ops *o = &fs_ops_table;
	o->init = fs_op_init;
	o->lookup = fs_op_lookup;
	o->forget = fs_op_forget;
	o->forget_multi = fs_op_forget_multi;
	o->getattr = fs_op_getattr;
	o->statfs = fs_op_statfs;
	o->opendir = fs_op_opendir;
	o->readdir = fs_op_readdir;
	o->readdirplus = fs_op_readdirplus;
	/* release and releasedir stay NULL: libfuse then answers 0 itself, which is all they did */
	o->open = fs_op_open;
	o->read = fs_op_read;
	o->readlink = fs_op_readlink;
	o->getxattr = fs_op_getxattr;
	o->listxattr = fs_op_listxattr;
	fs_ops_set_readonly(o);
}

/* Splits the comma-separated options into strata's own (into m) and FUSE's (returned, owned,
 * always starting with "ro,fsname=strata,subtype=strata"). */
static char *options_parse(struct fs_mount *m, const char *opts, char **log_path, struct strata_err **err)
{
	cleanup_free char *fuse = xstrdup("ro,fsname=strata,subtype=strata");
	cleanup_free char *copy = xstrdup(opts ? opts : "");
	char *save = NULL;
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strncmp(o, "meta=", 5)) {
			const char *name = o + 5;
			if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
				strata_err_set(err, STRATA_EUSAGE, "-o meta=%s: not a file name", name);
				return NULL;
			}
			free(m->meta_name);
			m->meta_name = xstrdup(name);
		} else if (!strcmp(o, "hide_meta")) {
			m->hide_meta = true;
		} else if (!strncmp(o, "log=", 4)) {
			free(*log_path);
			*log_path = xstrdup(o + 4);
		} else if (!strcmp(o, "ro") || !strcmp(o, "rw")) {
			if (!strcmp(o, "rw")) {
				strata_err_set(err, STRATA_EUSAGE, "-o rw: strata mounts are read-only");
				return NULL;
			}
		} else {
			char *n = xasprintf("%s,%s", fuse, o);
			free(fuse);
			fuse = n;
		}
	}
	return steal_pointer(&fuse);
}

/* At SIGINT/SIGTERM/SIGHUP, before the request loop stops answering: the prefetcher may be
 * waiting in notify_store for a READ to be answered. */
static void serve_on_exit(void *ctx)
{
	fs_prefetch_halt(ctx);
}

static int fs_serve(struct fs_mount *m, const struct fs_options *o, const char *fuse_opts, struct strata_err **err)
{
	char *argv[] = {(char *)"strata", (char *)"-o", (char *)fuse_opts, (char *)"-d", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 4 : 3, argv);
	fs_ops_fill();
	struct fuse_session *se = fuse_session_new(&args, &fs_ops_table, sizeof(fs_ops_table), m);
	if (!se) {
		fuse_opt_free_args(&args);
		return strata_err_set(err, STRATA_EUSAGE, "%s: cannot start FUSE (bad -o option? see above): -o %s",
				      o->mountpoint, fuse_opts);
	}
	int rc = -1;
	if (fuse_set_signal_handlers(se) != 0) {
		strata_err_set(err, STRATA_EIO, "cannot install signal handlers");
		goto out;
	}
	if (fuse_session_mount(se, o->mountpoint) != 0) {
		strata_err_set(err, STRATA_EIO, "%s: mount failed (is /dev/fuse usable?)", o->mountpoint);
		goto out_signals;
	}
	/* INIT on this thread, then 1 MiB read-ahead (serve_init.c), then the mount answers */
	if (fs_serve_until_init(se, &fs_init_answered) == 0 && __atomic_load_n(&fs_init_answered, __ATOMIC_ACQUIRE)) {
		fs_bdi_set_readahead(o->mountpoint, FS_READ_AHEAD_KB);
		ready_report(m, NULL);
	}
	fs_prefetch_start(m, se);
	/* one hot reader thread for serial walks, more only while READs run (serve_loop.c) */
	int lrc = fs_serve_loop(se, 16, serve_on_exit, m);
	fs_prefetch_stop(m);
	fuse_session_unmount(se);
	if (lrc != 0 && m->ready_fd >= 0)
		strata_err_set(err, STRATA_EIO, "%s: the FUSE loop failed before the mount answered", o->mountpoint);
	else
		rc = 0;
out_signals:
	fuse_remove_signal_handlers(se);
out:
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	return rc;
}

int fs_main(const struct fs_options *o, struct index_db *db, struct strata_err **err)
{
	/* One glibc arena per FUSE worker thread kept freed span buffers resident in each (serving RSS
	 * 176 MB on the 300 MB bench image); two arenas are enough for the few concurrent requests. */
	mallopt(M_ARENA_MAX, 2);
	/* 32 MiB for all span buffers (cached, in flight, pooled): spans read to their end are evicted
	 * first (source_decomp.c), so a tar of the gzip bench image decodes 137 spans for 129; the
	 * whole-root find + tar (reserved trees included) peaks at ~91 MB instead of 125. */
	overlay_cache_set_budget((size_t)32 << 20);
	/* Decode the next spans of a layer on other threads while a reader copies the current one. */
	overlay_readahead_start();
	struct fs_mount m = {.db = db, .nlayers = index_db_layer_count(db), .image_name = o->image_name,
			     .index_fd = -1, .log = stderr, .ready_fd = o->ready_fd};
	pthread_mutex_init(&m.log_lock, NULL);
	clock_gettime(CLOCK_REALTIME, &m.mounted_at);
	cleanup_free char *log_path = NULL;
	int saved_stderr = -1;
	cleanup_free char *fuse_opts = options_parse(&m, o->mount_opts, &log_path, err);
	int rc = -1;
	if (!fuse_opts)
		goto out;
	if (log_path && !(m.log = fopen(log_path, "ae"))) {
		m.log = stderr;
		strata_err_sys(err, "-o log=%s", log_path);
		goto out;
	}
	/* the modules below fs/ write their few messages to stderr: to the log while serving */
	if (m.log != stderr) {
		fflush(stderr);
		saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (saved_stderr >= 0 && dup2(fileno(m.log), STDERR_FILENO) < 0) {
			close(saved_stderr);
			saved_stderr = -1;
		}
	}
	if (m.nlayers >= (int)FS_TAG_META / 2) {
		strata_err_set(err, STRATA_ELIMIT, "%d layers: at most %u can be mounted", m.nlayers, FS_TAG_META / 2 - 1);
		goto out;
	}
	fs_dir_init(&m);
	if (fs_meta_init(&m, err) < 0)
		goto out;
	rc = fs_serve(&m, o, fuse_opts, err);
out:
	if (rc < 0 && err && *err)
		ready_report(&m, (*err)->msg);
	else if (rc < 0)
		ready_report(&m, "mount failed");
	else if (m.ready_fd >= 0)
		ready_report(&m, "unmounted before it answered");
	fs_meta_fini(&m);
	fs_dir_fini(&m);
	if (saved_stderr >= 0) {
		fflush(stderr);
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
	}
	if (m.log != stderr)
		fclose(m.log);
	free(m.meta_name);
	pthread_mutex_destroy(&m.log_lock);
	return rc;
}
