/* tools/cmd_index.c — `strata index`, `ls`, `cat`, `sql`, and the shared helpers of the command:
 * opening an index for an IMAGE|INDEX argument, the progress bar, error printing. */
#include "tools.h"

#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

void tools_print_err(const struct strata_err *e)
{
	fprintf(stderr, "strata: %s\n", e && e->msg ? e->msg : "unknown error");
}

void tools_progress(void *ctx, const struct index_progress *p)
{
	(void)ctx;
	double mb = (double)p->done / 1e6, total = (double)p->total / 1e6;
	double rate = p->seconds > 0 ? mb / p->seconds : 0;
	double frac = p->total ? (double)p->done / (double)p->total : 0;
	if (frac > 1)
		frac = 1;
	int width = 30, fill = (int)(frac * width);
	char bar[64];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
	bar[width] = '\0';
	double left = rate > 0 ? (total - mb) / rate : 0;
	fprintf(stderr, "\r[%s] %3.0f%% %.1f/%.1f MB %.0f MB/s %.0fs left  ", bar, frac * 100, mb, total, rate,
		left < 0 ? 0 : left);
	fflush(stderr);
}

static bool is_index_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	char magic[16] = {0};
	size_t n = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	return n == 16 && !memcmp(magic, "SQLite format 3", 16);
}

/* ao: the audit scanners' options (NULL: defaults, every scanner). */
static int build(const char *image, const struct index_build_opts *o, const struct audit_options *ao, bool quiet,
		 struct index_summary *sum, struct strata_err **err)
{
	struct index_build_opts opts = *o;
	struct audit_scanner *scanner = audit_scanner_new(ao, err);
	if (!scanner)
		return -1;
	opts.scanner = audit_scanner_ops(scanner);
	opts.rules_hash = audit_scanner_rules_hash(scanner);
	bool bar = !quiet && isatty(2);
	if (bar)
		opts.progress = tools_progress;
	int rc = index_build(image, &opts, sum, err);
	if (bar)
		fputs("\r\033[K", stderr);
	audit_scanner_free(scanner);
	return rc;
}

struct index_db *tools_open_index(const char *arg, const char *idx_path, const struct overlay_select *sel,
				  bool quiet, struct strata_err **err)
{
	return tools_open_index_audit(arg, idx_path, sel, NULL, quiet, err);
}

struct index_db *tools_open_index_audit(const char *arg, const char *idx_path, const struct overlay_select *sel,
					const struct audit_options *ao, bool quiet, struct strata_err **err)
{
	struct stat st;
	if (stat(arg, &st) < 0)
		return strata_err_sys(err, "%s", arg), NULL;
	if (S_ISREG(st.st_mode) && is_index_file(arg))
		return index_db_open(arg, err);
	struct index_build_opts o = {.index_path = idx_path, .select = *sel};
	struct index_summary sum;
	if (build(arg, &o, ao, quiet, &sum, err) < 0)
		return NULL;
	struct index_db *db = index_db_open(sum.path, err);
	index_summary_clear(&sum);
	return db;
}

static void print_size(FILE *f, uint64_t n)
{
	if (n >= 10000000)
		fprintf(f, "%.1f MB", (double)n / 1e6);
	else if (n >= 10000)
		fprintf(f, "%.1f kB", (double)n / 1e3);
	else
		fprintf(f, "%llu B", (unsigned long long)n);
}

static void print_summary(const char *image, const struct index_summary *s)
{
	printf("image     %s (%s)\n", image, s->format);
	printf("digest    %s\n", s->image_digest[0] ? s->image_digest : "(none: plain rootfs tar)");
	printf("index     %s (%s)\n", s->path, s->reused ? "reused" : "built");
	printf("layers    %zu\n", s->nlayers);
	for (size_t i = 0; i < s->nlayers; i++) {
		const struct index_layer_summary *l = &s->layers[i];
		printf("  %2zu  %.19s…  %-4s  ", i + 1, l->digest, l->compression);
		print_size(stdout, l->compressed_size);
		printf(" → ");
		print_size(stdout, l->size);
		printf("  %llu entries\n", (unsigned long long)l->entries);
	}
	printf("entries   %llu\n", (unsigned long long)s->entries);
	printf("nodes     %llu (merged view)\n", (unsigned long long)s->nodes);
	printf("problems  %llu\n", (unsigned long long)s->problems);
	if (!s->reused) {
		printf("read      ");
		print_size(stdout, s->bytes_read);
		printf(" in %.2f s (%.1f MB/s)\n", s->seconds, s->seconds > 0 ? (double)s->bytes_read / 1e6 / s->seconds : 0);
	} else {
		printf("time      %.3f s\n", s->seconds);
	}
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || !end || *end || *s == '-')
		return -1;
	*out = v;
	return 0;
}

int tools_audit_option(int c, const char *arg, struct audit_options *ao)
{
	uint64_t v;
	switch (c) {
	case 'R': /* --secret-rules FILE replaces the built-in rules, +FILE extends them */
		ao->secret_rules_extend = arg[0] == '+';
		ao->secret_rules = arg + (arg[0] == '+');
		return 1;
	case 'M':
		if (parse_u64(arg, &v) < 0 || v == 0) {
			fprintf(stderr, "strata: --secret-max-size: expected a byte count, got '%s'\n", arg);
			return -1;
		}
		ao->max_scan_size = v;
		return 1;
	case 'B': /* --secret-scan-binary: files with a NUL byte are scanned too */
		ao->scan_binary = true;
		return 1;
	default: return 0;
	}
}

int cmd_index(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"index", required_argument, NULL, 'i'}, {"platform", required_argument, NULL, 'p'},
		{"ref", required_argument, NULL, 'r'},   {"quiet", no_argument, NULL, 'q'},
		{"force", no_argument, NULL, 'F'},       {"allow-digest-mismatch", no_argument, NULL, 'A'},
		{"span", required_argument, NULL, 's'},  {"jobs", required_argument, NULL, 'j'},
		{"scanners", required_argument, NULL, 'S'},
		TOOLS_AUDIT_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct index_build_opts o = {0};
	struct audit_options ao = {0};
	bool quiet = false;
	uint64_t v;
	int c;
	while ((c = getopt_long(argc, argv, "qi:", longopts, NULL)) != -1) {
		int a = tools_audit_option(c, optarg, &ao);
		if (a < 0)
			return 2;
		if (a > 0)
			continue;
		switch (c) {
		case 'i': o.index_path = optarg; break;
		case 'p': o.select.platform = optarg; break;
		case 'r': o.select.ref = optarg; break;
		case 'q': quiet = true; break;
		case 'F': o.force = true; break;
		case 'A': o.allow_digest_mismatch = true; break;
		case 'S': ao.scanners = optarg; break;
		case 's':
			if (parse_u64(optarg, &v) < 0 || v < 65536) {
				fprintf(stderr, "strata: --span: expected a byte count of at least 65536, got '%s'\n", optarg);
				return 2;
			}
			o.span = v;
			break;
		case 'j':
			if (parse_u64(optarg, &v) < 0 || v > 1024) {
				fprintf(stderr, "strata: --jobs: expected a number, got '%s'\n", optarg);
				return 2;
			}
			o.jobs = (int)v;
			break;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "strata: usage: strata index IMAGE [--index PATH] [--platform OS/ARCH[/VARIANT]] [--ref NAME] [-q]\n");
		return 2;
	}
	const char *image = argv[optind];
	cleanup_err struct strata_err *err = NULL;
	struct index_summary sum;
	if (build(image, &o, &ao, quiet, &sum, &err) < 0) {
		tools_print_err(err);
		return 2;
	}
	print_summary(image, &sum);
	index_summary_clear(&sum);
	return 0;
}

/* Options shared by ls and cat: which view, and the image selection. */
struct view_opts {
	const char *index_path;
	struct overlay_select sel;
	long view, layer;
	bool null;
	uint64_t offset, length;
};

static int parse_view_opts(int argc, char **argv, struct view_opts *vo, bool for_cat)
{
	static const struct option longopts[] = {
		{"index", required_argument, NULL, 'i'}, {"platform", required_argument, NULL, 'p'},
		{"ref", required_argument, NULL, 'r'},   {"view", required_argument, NULL, 'v'},
		{"layer", required_argument, NULL, 'l'}, {"null", no_argument, NULL, '0'},
		{"offset", required_argument, NULL, 'o'}, {"length", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0},
	};
	memset(vo, 0, sizeof(*vo));
	vo->view = vo->layer = -1;
	vo->length = UINT64_MAX;
	uint64_t v;
	int c;
	while ((c = getopt_long(argc, argv, "0", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': vo->index_path = optarg; break;
		case 'p': vo->sel.platform = optarg; break;
		case 'r': vo->sel.ref = optarg; break;
		case '0': vo->null = true; break;
		case 'v':
		case 'l':
		case 'o':
		case 'n':
			if (parse_u64(optarg, &v) < 0) {
				fprintf(stderr, "strata: expected a number, got '%s'\n", optarg);
				return -1;
			}
			if (c == 'v')
				vo->view = (long)v;
			else if (c == 'l')
				vo->layer = (long)v;
			else if (c == 'o')
				vo->offset = v;
			else
				vo->length = v;
			break;
		default: return -1;
		}
	}
	if (for_cat ? argc - optind < 2 : argc - optind != 1) {
		fprintf(stderr, "strata: usage: strata %s\n",
			for_cat ? "cat [--view N|--layer N] [--offset N] [--length N] IMAGE|INDEX PATH..."
				: "ls [--view N|--layer N] [--null] IMAGE|INDEX");
		return -1;
	}
	return 0;
}

static int pick_view(struct index_db *db, const struct view_opts *vo, struct strata_err **err)
{
	int L = index_db_layer_count(db);
	if (vo->layer >= 0) {
		if (vo->layer < 1 || vo->layer > L)
			return strata_err_set(err, STRATA_EUSAGE, "--layer %ld: the image has %d layers", vo->layer, L);
		return index_db_view_layer(db, (int)vo->layer);
	}
	if (vo->view >= 0) {
		if (vo->view > L)
			return strata_err_set(err, STRATA_EUSAGE, "--view %ld: the image has %d layers", vo->view, L);
		return index_db_view_merged(db, (int)vo->view);
	}
	return index_db_view_merged(db, L);
}

static char type_char(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFCHR: return 'c';
	case S_IFBLK: return 'b';
	case S_IFIFO: return 'p';
	case S_IFSOCK: return 's';
	default: return 'f';
	}
}

static int ls_cb(void *ctx, const char *path, const struct index_node *n, const char *target)
{
	const struct view_opts *vo = ctx;
	uint64_t size = S_ISREG(n->mode) ? n->size : (S_ISLNK(n->mode) && target ? strlen(target) : 0);
	printf("%s\t%c\t%o\t%llu\t%llu\t%llu\t%s%c", path, type_char(n->mode), n->mode & 07777,
	       (unsigned long long)n->uid, (unsigned long long)n->gid, (unsigned long long)size, target ? target : "",
	       vo->null ? '\0' : '\n');
	return 0;
}

int cmd_ls(int argc, char **argv)
{
	struct view_opts vo;
	if (parse_view_opts(argc, argv, &vo, false) < 0)
		return 2;
	const char *arg = argv[optind];
	cleanup_err struct strata_err *err = NULL;
	struct index_db *db = tools_open_index(arg, vo.index_path, &vo.sel, false, &err);
	int view = db ? pick_view(db, &vo, &err) : -1;
	int rc = view >= 0 ? index_db_walk(db, view, ls_cb, &vo, &err) : -1;
	index_db_close(db);
	if (rc < 0) {
		tools_print_err(err);
		return 2;
	}
	return 0;
}

/* Resolves a path in a view component by component (symlinks are not followed). */
static int resolve(struct index_db *db, int view, const char *path, struct index_node *out, struct strata_err **err)
{
	if (index_db_getattr(db, view, 1, out, err) < 0)
		return -1;
	cleanup_free char *copy = xstrdup(path);
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		int r = index_db_lookup(db, view, out->ino, c, out, err);
		if (r < 0)
			return -1;
		if (r > 0)
			return strata_err_set(err, STRATA_ENOTFOUND, "%s: no such file in the image", path);
	}
	return 0;
}

/* Writes the bytes [vo->offset, vo->offset + vo->length) of one regular file to stdout.
 * Returns -1 with *err set; *out_failed tells a stdout failure (which ends the command) apart
 * from a problem with this path (after which cat goes on with the next, as cat(1) does). */
static int cat_one(struct index_db *db, int view, const struct view_opts *vo, const char *path,
		   bool *out_failed, struct strata_err **err)
{
	static char buf[1 << 20];
	struct index_node n;
	*out_failed = false;
	if (resolve(db, view, path, &n, err) < 0)
		return -1;
	if (!S_ISREG(n.mode))
		return strata_err_set(err, STRATA_EUSAGE, "%s: not a regular file", path);
	uint64_t off = vo->offset, left = vo->length;
	while (left > 0) {
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t got = index_db_read(db, n.data_entry_id, buf, want, off, err);
		if (got < 0)
			return strata_err_wrap(err, "%s", path);
		if (got == 0)
			break;
		if (fwrite(buf, 1, (size_t)got, stdout) != (size_t)got) {
			*out_failed = true;
			return strata_err_sys(err, "stdout");
		}
		off += (uint64_t)got;
		left -= (uint64_t)got;
	}
	return 0;
}

/* strata cat IMAGE|INDEX PATH...: the files' contents one after another, as cat(1) writes them;
 * --offset/--length select the same range of each. A path that cannot be read is reported and
 * skipped, and the exit status is then 2. */
int cmd_cat(int argc, char **argv)
{
	struct view_opts vo;
	if (parse_view_opts(argc, argv, &vo, true) < 0)
		return 2;
	const char *arg = argv[optind];
	cleanup_err struct strata_err *err = NULL;
	struct index_db *db = tools_open_index(arg, vo.index_path, &vo.sel, false, &err);
	int view = db ? pick_view(db, &vo, &err) : -1;
	int status = view >= 0 ? 0 : 2;
	if (view < 0)
		tools_print_err(err);
	for (int i = optind + 1; view >= 0 && i < argc; i++) {
		cleanup_err struct strata_err *perr = NULL;
		bool out_failed;
		if (cat_one(db, view, &vo, argv[i], &out_failed, &perr) == 0)
			continue;
		tools_print_err(perr);
		status = 2;
		if (out_failed)
			break;
	}
	index_db_close(db);
	if (fflush(stdout) != 0) { /* also after a path failed: what is still buffered may be lost */
		cleanup_err struct strata_err *ferr = NULL;
		strata_err_sys(&ferr, "stdout");
		tools_print_err(ferr);
		status = 2;
	}
	return status;
}

int cmd_sql(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "strata: usage: strata sql IMAGE|INDEX QUERY\n");
		return 2;
	}
	cleanup_err struct strata_err *err = NULL;
	struct overlay_select sel = {0};
	struct index_db *db = tools_open_index(argv[1], NULL, &sel, false, &err);
	if (!db) {
		tools_print_err(err);
		return 2;
	}
	sqlite3 *sq = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (index_db_connect(db, &sq, &err) < 0) {
		tools_print_err(err);
		index_db_close(db);
		return 2;
	}
	if (sqlite3_prepare_v2(sq, argv[2], -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "strata: %s: sql: %s\n", argv[1], sqlite3_errmsg(sq));
		rc = 2;
	}
	int r = SQLITE_DONE;
	while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_count(st);
		for (int i = 0; i < n; i++) {
			if (i)
				putchar('\t');
			if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
				const unsigned char *b = sqlite3_column_blob(st, i);
				int len = sqlite3_column_bytes(st, i);
				for (int k = 0; k < len; k++)
					printf("%02x", b[k]);
			} else if (sqlite3_column_type(st, i) != SQLITE_NULL) {
				fputs((const char *)sqlite3_column_text(st, i), stdout);
			}
		}
		putchar('\n');
	}
	if (!rc && r != SQLITE_DONE) {
		fprintf(stderr, "strata: %s: sql: %s\n", argv[1], sqlite3_errmsg(sq));
		rc = 2;
	}
	sqlite3_finalize(st);
	sqlite3_close(sq);
	index_db_close(db);
	return rc;
}

int cmd_report(int argc, char **argv)
{
	/* --trust-key FILE (repeatable, before the operands): keys for attestations.json (issue 9) */
	/* --policy FILE: the bundle verdict, report.json, … evaluate (issue 6; default otherwise) */
	while (argc >= 3 && (!strcmp(argv[1], "--trust-key") || !strcmp(argv[1], "--policy"))) {
		cleanup_err struct strata_err *kerr = NULL;
		if (!strcmp(argv[1], "--policy") ? policy_use_bundle(argv[2], &kerr) < 0
						 : policy_trust_key_add(argv[2], &kerr) < 0) {
			tools_print_err(kerr);
			return 2;
		}
		argv[2] = argv[0];
		argc -= 2;
		argv += 2;
	}
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		printf("image.json\tmanifest, config, layers, digests and whether each verified\n");
		for (size_t i = 0; i < policy_report_count(); i++)
			printf("%s\t%s\n", policy_report_get(i)->name, policy_report_get(i)->description);
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "strata: usage: strata report IMAGE|INDEX FILE (strata report --list shows the files)\n");
		return 2;
	}
	const char *name = argv[2];
	const struct policy_report *r = policy_report_find(name);
	if (!r && strcmp(name, "image.json")) {
		fprintf(stderr, "strata: %s: no such report (strata report --list shows them)\n", name);
		return 2;
	}
	cleanup_err struct strata_err *err = NULL;
	struct overlay_select sel = {0};
	struct index_db *db = tools_open_index(argv[1], NULL, &sel, false, &err);
	char *out = NULL;
	size_t len = 0;
	int rc = -1;
	if (db && r)
		rc = r->render(db, &out, &len, &err);
	else if (db && (out = index_db_image_json(db, &len, &err)))
		rc = 0;
	index_db_close(db);
	if (rc < 0) {
		tools_print_err(err);
		return 2;
	}
	if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) {
		free(out);
		fprintf(stderr, "strata: stdout: write failed\n");
		return 2;
	}
	free(out);
	return 0;
}
