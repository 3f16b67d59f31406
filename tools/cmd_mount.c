/* tools/cmd_mount.c — `strata mount` and `strata umount`.
 *
 * mount: checks the mount point, builds or reuses the index (progress bar on a terminal), then
 * forks: the child detaches (setsid, stdio to /dev/null), reopens the index and serves;
 * it reports through a pipe once the kernel's INIT has been answered ("OK") or why it failed
 * ("ERR …"). The parent returns 0 only after "OK", so `strata mount img /mnt && ls /mnt` works.
 * With -f (or -d) the command serves in the foreground; SIGINT/SIGTERM unmount cleanly. */
#include "tools.h"
#include "../fs/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Decodes the octal escapes (\040 …) of a /proc/self/mountinfo field in place. */
static void mountinfo_unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* Whether path is a mount point; *fstype receives its type (owned) when it is. */
static bool mount_lookup(const char *path, char **fstype)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint options [optional…] - fstype source superopts */
		char *save = NULL, *mnt = NULL;
		char *tok = strtok_r(line, " ", &save);
		for (int i = 0; tok && i < 4; i++)
			tok = strtok_r(NULL, " ", &save);
		mnt = tok;
		if (!mnt)
			continue;
		mountinfo_unescape(mnt);
		if (strcmp(mnt, path))
			continue;
		while ((tok = strtok_r(NULL, " ", &save)) && strcmp(tok, "-"))
			;
		tok = tok ? strtok_r(NULL, " ", &save) : NULL;
		if (fstype) {
			free(*fstype);
			*fstype = xstrdup(tok ? tok : "");
		}
		found = true; /* the last match is the mount on top */
	}
	free(line);
	return found;
}

/* A missing, non-directory, mounted or non-empty mount point is an error. *abs gets its real path. */
static int mountpoint_check(const char *mnt, char **abs, struct strata_err **err)
{
	struct stat st;
	if (stat(mnt, &st) < 0) {
		if (errno == ENOTCONN)
			return strata_err_set(err, STRATA_EUSAGE,
					      "%s: a dead FUSE mount is still there (run: strata umount %s)", mnt, mnt);
		return strata_err_sys(err, "mount point %s", mnt);
	}
	if (!S_ISDIR(st.st_mode))
		return strata_err_set(err, STRATA_EUSAGE, "mount point %s: not a directory", mnt);
	char *real = realpath(mnt, NULL);
	if (!real)
		return strata_err_sys(err, "mount point %s", mnt);
	*abs = real;
	if (mount_lookup(real, NULL))
		return strata_err_set(err, STRATA_EUSAGE, "mount point %s: already a mount point", mnt);
	DIR *d = opendir(real);
	if (!d)
		return strata_err_sys(err, "mount point %s", mnt);
	struct dirent *de;
	bool empty = true;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	if (!empty)
		return strata_err_set(err, STRATA_EUSAGE, "mount point %s: not empty", mnt);
	return 0;
}

static void usage_mount(void)
{
	fprintf(stderr, "usage: strata mount [-f] [-d] [-o OPT,...] [--index PATH] [--platform OS/ARCH[/VARIANT]] "
			"[--ref NAME] [--trust-key PEM]... [--policy FILE]\n"
			"                    [--secret-rules [+]FILE] [--secret-max-size N] [--secret-scan-binary] IMAGE MOUNTPOINT\n");
}

/* The child: detach, serve, report through fd. Never returns. */
static void mount_child(int fd, const char *index_path, struct fs_options *o)
{
	/* The index path is absolute and so are the blob paths it stores: leave the caller's
	 * working directory so the daemon does not keep it busy. */
	setsid();
	if (chdir("/") < 0) {
		/* "/" always exists; nothing to do */
	}
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	cleanup_err struct strata_err *err = NULL;
	struct index_db *db = index_db_open(index_path, &err);
	if (!db) {
		cleanup_free char *line = xasprintf("ERR %s\n", err->msg);
		if (write(fd, line, strlen(line)) < 0) {
			/* the parent is gone; nothing to tell */
		}
		_exit(2);
	}
	o->ready_fd = fd;
	int rc = fs_main(o, db, &err);
	index_db_close(db);
	_exit(rc < 0 ? 2 : 0);
}

/* The parent: waits for the child's verdict. Returns the exit status. */
static int mount_wait(int fd, pid_t pid)
{
	char buf[4096];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == sizeof(buf) - 1)
			break;
	}
	close(fd);
	buf[n] = '\0';
	if (!strncmp(buf, "OK", 2))
		return 0;
	int status = 0;
	waitpid(pid, &status, 0);
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	if (!strncmp(buf, "ERR ", 4))
		fprintf(stderr, "strata: %s\n", buf + 4);
	else
		fprintf(stderr, "strata: the mount process ended before the mount answered (status %d)\n", status);
	return 2;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"index", required_argument, NULL, 'i'},    {"platform", required_argument, NULL, 'p'},
		{"ref", required_argument, NULL, 'r'},      {"foreground", no_argument, NULL, 'f'},
		{"debug", no_argument, NULL, 'd'},          {"help", no_argument, NULL, 'h'},
		{"trust-key", required_argument, NULL, 'K'},
		{"policy", required_argument, NULL, 'P'},
		TOOLS_AUDIT_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	bool foreground = false, debug = false;
	const char *idx_path = NULL;
	struct overlay_select sel = {0};
	cleanup_free char *opts = NULL;
	int c;
	optind = 1;
	struct audit_options ao = {0};
	while ((c = getopt_long(argc, argv, "fdo:i:h", longopts, NULL)) != -1) {
		int a = tools_audit_option(c, optarg, &ao);
		if (a < 0)
			return 2;
		if (a > 0)
			continue;
		switch (c) {
		case 'f': foreground = true; break;
		case 'd': debug = foreground = true; break;
		case 'o': {
			char *n = opts ? xasprintf("%s,%s", opts, optarg) : xstrdup(optarg);
			free(opts);
			opts = n;
			break;
		}
		case 'i': idx_path = optarg; break;
		case 'p': sel.platform = optarg; break;
		case 'r': sel.ref = optarg; break;
		case 'K': { /* issue 9: keys trusted by /.audit/attestations.json */
			cleanup_err struct strata_err *kerr = NULL;
			if (policy_trust_key_add(optarg, &kerr) < 0) {
				tools_print_err(kerr);
				return 2;
			}
			break;
		}
		case 'P': { /* issue 6: the bundle /.audit/verdict, report.json, … evaluate */
			cleanup_err struct strata_err *perr = NULL;
			if (policy_use_bundle(optarg, &perr) < 0) {
				tools_print_err(perr);
				return 2;
			}
			break;
		}
		case 'h': usage_mount(); return 0;
		default: usage_mount(); return 2;
		}
	}
	if (argc - optind != 2) {
		usage_mount();
		return 2;
	}
	const char *image = argv[optind], *mnt = argv[optind + 1];
	cleanup_err struct strata_err *err = NULL;
	cleanup_free char *abs_mnt = NULL;
	if (mountpoint_check(mnt, &abs_mnt, &err) < 0) {
		tools_print_err(err);
		return 2;
	}
	struct index_db *db = tools_open_index_audit(image, idx_path, &sel, &ao, false, &err);
	if (!db) {
		tools_print_err(err);
		return 2;
	}
	struct fs_options o = {.mountpoint = abs_mnt, .image_name = image, .mount_opts = opts, .debug = debug,
			       .ready_fd = -1};
	if (foreground) {
		int rc = fs_main(&o, db, &err);
		index_db_close(db);
		if (rc < 0) {
			tools_print_err(err);
			return 2;
		}
		return 0;
	}
	/* SQLite connections must not cross fork: the child reopens the index by its path. */
	cleanup_free char *index_path = realpath(index_db_path(db), NULL);
	if (!index_path)
		index_path = xstrdup(index_db_path(db));
	index_db_close(db);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		strata_err_sys(&err, "pipe");
		tools_print_err(err);
		return 2;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		strata_err_sys(&err, "fork");
		tools_print_err(err);
		return 2;
	}
	if (pid == 0) {
		close(pfd[0]);
		mount_child(pfd[1], index_path, &o);
	}
	close(pfd[1]);
	return mount_wait(pfd[0], pid);
}

int cmd_umount(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: strata umount MOUNTPOINT\n");
		return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	const char *mnt = argv[1];
	char *real = realpath(mnt, NULL);
	cleanup_free char *path = real ? real : xstrdup(mnt); /* a dead mount may not resolve */
	cleanup_free char *fstype = NULL;
	if (!mount_lookup(path, &fstype)) {
		fprintf(stderr, "strata: %s: not a mount point\n", mnt);
		return 2;
	}
	if (strcmp(fstype, "fuse.strata")) {
		fprintf(stderr, "strata: %s: not a strata mount (it is %s)\n", mnt, fstype);
		return 2;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", path, (char *)NULL);
		_exit(127);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (umount2(path, 0) == 0)
			return 0;
		fprintf(stderr, "strata: %s: cannot unmount: %s\n", mnt, strerror(errno));
		return 2;
	}
	return 0;
}
