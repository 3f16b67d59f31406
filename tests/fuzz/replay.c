/* tests/fuzz/replay.c — a main() for the libFuzzer targets in tests/fuzz/ so their corpora run in
 * `make check` without libFuzzer: every regular file in the directories (or the files) named on
 * the command line is fed once to LLVMFuzzerTestOneInput, in name order, printing TAP
 * "ok N - <file>". A target reports a bug by crashing or aborting (and, in the SAN=1 build, by
 * ASan/UBSan stopping the process), which the runner counts as a failure. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int tests;

/* Reads path whole into a malloc'd buffer (one spare byte, never NULL). Returns 0, or -1. */
static int replay_read(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			fclose(f);
			return -1;
		}
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		cap *= 2;
		uint8_t *nb = realloc(buf, cap);
		if (!nb)
			free(buf);
		buf = nb;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return -1;
	}
	/* An exact-size copy so ASan sees reads past the input's end. */
	uint8_t *exact = malloc(n ? n : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, n);
	free(buf);
	*out = exact, *len = n;
	return 0;
}

static int replay_file(const char *path)
{
	uint8_t *data;
	size_t len;
	if (replay_read(path, &data, &len) < 0) {
		printf("not ok %d - %s: %s\n", ++tests, path, strerror(errno));
		return -1;
	}
	fflush(stdout);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	printf("ok %d - %s (%zu bytes)\n", ++tests, path, len);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("not ok %d - %s: %s\n", ++tests, dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
			continue;
		char **nn = realloc(names, (n + 1) * sizeof *names);
		if (!nn)
			abort();
		names = nn;
		if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0)
			abort();
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, name_cmp);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) && replay_file(names[i]) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			rc |= replay_dir(argv[i]);
		else
			rc |= replay_file(argv[i]);
	}
	if (tests == 0)
		printf("not ok 1 - no corpus files given\n"), tests = 1, rc = -1;
	printf("1..%d\n", tests);
	return rc ? 1 : 0;
}
