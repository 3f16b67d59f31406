/* tests/unit/test_checks_sql.c — the checks' SQL helpers (audit/checks_sql.c) against the real
 * tools: split(text, char(10)) gives the lines `awk '{print NR ":" $0}'` prints for the same
 * bytes, and split_part(line, ':', n) the field `cut -d: -fN` prints (for lines that have the
 * separator; cut prints a line without one whole, split_part gives it only as field 1). */
#include "../../audit/audit_int.h"
#include "tap.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs cmd with text on its stdin (through a temporary file); owned stdout. */
static char *run_tool(const char *cmd, const char *text, size_t len)
{
	char path[] = "/tmp/strata-checks-sql.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		return NULL;
	close(fd);
	char *full = xasprintf("(%s) <%s", cmd, path);
	FILE *p = popen(full, "r");
	free(full);
	char *out = xcalloc(1, 65536);
	size_t n = p ? fread(out, 1, 65535, p) : 0;
	out[n] = 0;
	if (p)
		pclose(p);
	unlink(path);
	return out;
}

/* The rows of sql (one text column per row), each followed by "\n". Owned. */
static char *rows(sqlite3 *db, const char *sql, const char *bind, size_t bind_len)
{
	sqlite3_stmt *st = NULL;
	char *out = xcalloc(1, 65536);
	size_t n = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(out, 65536, "SQL error: %s", sqlite3_errmsg(db));
		return out;
	}
	if (bind)
		sqlite3_bind_blob(st, 1, bind, (int)bind_len, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && n < 65000)
		n += (size_t)snprintf(out + n, 65536 - n, "%s\n", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

int main(void)
{
	sqlite3 *db = NULL;
	struct strata_err *err = NULL;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK || checks_sql_register(db, &err) < 0) {
		printf("Bail out! sqlite\n");
		return 1;
	}
	static const char *const texts[] = {
		"root:x:0:0:root:/root:/bin/bash\nbin:x:2:2::/bin:/usr/sbin/nologin\n",
		"no trailing newline\nsecond",
		"\n\nblank lines\n\n",
		"a:b::d:\n::\n:\n",
		"single",
		"crlf:line\r\nnext:x\r\n",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *t = texts[i];
		char *want = run_tool("awk '{print NR \":\" $0}'", t, strlen(t));
		char *got = rows(db, "SELECT n || ':' || part FROM split(?1, char(10))", t, strlen(t));
		ok(want && !strcmp(want, got), "split: text %zu gives awk's lines", i);
		if (want && strcmp(want, got))
			printf("# awk:\n%s# split:\n%s", want, got);
		free(want);
		free(got);
		for (int f = 1; f <= 5; f++) {
			char cmd[96];
			snprintf(cmd, sizeof cmd, "grep ':' | cut -d: -f%d", f);
			want = run_tool(cmd, t, strlen(t));
			char *sql = xasprintf("SELECT coalesce(split_part(part, ':', %d), '') FROM split(?1, char(10))"
					      " WHERE part LIKE '%%:%%'", f);
			got = rows(db, sql, t, strlen(t));
			ok(want && !strcmp(want, got), "split_part: text %zu field %d is cut's", i, f);
			if (want && strcmp(want, got))
				printf("# cut:\n%s# split_part:\n%s", want, got);
			free(sql);
			free(want);
			free(got);
		}
	}
	char *got = rows(db, "SELECT count(*) FROM split(NULL)", NULL, 0);
	ok(!strcmp(got, "0\n"), "split(NULL): no rows");
	free(got);
	got = rows(db, "SELECT group_concat(part, '|') FROM split('a, b,, c', ', ')", NULL, 0);
	ok(!strcmp(got, "a|b,|c\n"), "split with a two-byte separator (got %.*s)", (int)strcspn(got, "\n"), got);
	free(got);
	got = rows(db, "SELECT fnmatch('/etc/ssh/sshd_config.d/*.conf', '/etc/ssh/sshd_config.d/a.conf') || "
		       "fnmatch('/etc/ssh/sshd_config.d/*.conf', '/etc/ssh/sshd_config.d/x/a.conf') || "
		       "fnmatch('/etc/ssh/sshd_config.d/*.conf', '/etc/ssh/sshd_config.d/README')", NULL, 0);
	ok(!strcmp(got, "100\n"), "fnmatch: * stays inside one directory (got %.*s)", (int)strcspn(got, "\n"), got);
	free(got);
	sqlite3_close(db);
	return tap_done();
}
