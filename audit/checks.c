/* audit/checks.c — the file, account and configuration checks (issue 5). Each check is one SQL
 * query over the index, returning rows (path, layer, detail): file checks read the merged
 * image's nodes (view L) joined to the entry holding their attributes; account and sshd checks
 * read the retrieved_file rows (audit/retrieved.c) of the files the merged image shows, split
 * into lines and fields with the helpers of audit/checks_sql.c; image checks read the image
 * config (image.config). The table below is the whole list: id, severity, query.
 *
 * sshd: the effective value of a keyword is the first one obtained (sshd's rule) in file order
 * with Include expanded in place (each glob of the line, relative to /etc/ssh, matching files in
 * path order, 8 levels at most); directives after the first Match line are conditional and do
 * not count. Only explicit values fire: OpenSSH's compiled-in defaults are not assumed. */
#include "audit_int.h"

#include <sqlite3.h>
#include <string.h>

#define V_MERGED "(SELECT layers FROM image WHERE id = 1)"

/* The retrieved files the merged image shows (content as text). */
#define CTE_RF                                                                                       \
	"rf(path, layer, content) AS MATERIALIZED (SELECT r.path, r.layer, CAST(r.content AS TEXT)"  \
	" FROM node n JOIN retrieved_file r ON r.entry = n.data_entry"                              \
	" WHERE n.view = " V_MERGED " AND n.type = 'file')"
/* Accounts: /etc/passwd lines, their /etc/shadow password when passwd says "x". Passwords are
 * never selected out of these CTEs: the queries only test them (and the index holds only
 * "<hash>" for a hash anyway: audit/retrieved.c redacts). */
#define CTE_ACCOUNTS                                                                                 \
	CTE_RF ","                                                                                   \
	"pw(name, pass, uid, shell, layer) AS MATERIALIZED (SELECT split_part(l.part, ':', 1),"      \
	" coalesce(split_part(l.part, ':', 2), ''), split_part(l.part, ':', 3),"                     \
	" coalesce(split_part(l.part, ':', 7), ''), rf.layer FROM rf, split(rf.content, char(10)) l" \
	" WHERE rf.path = '/etc/passwd' AND l.part LIKE '%:%' AND l.part NOT LIKE '#%'),"             \
	"sh(name, pass, layer) AS MATERIALIZED (SELECT split_part(l.part, ':', 1),"                  \
	" coalesce(split_part(l.part, ':', 2), ''), rf.layer FROM rf, split(rf.content, char(10)) l" \
	" WHERE rf.path = '/etc/shadow' AND l.part LIKE '%:%' AND l.part NOT LIKE '#%'),"             \
	"acct(name, uid, shell, pass, path, layer) AS (SELECT pw.name, pw.uid, pw.shell,"            \
	" CASE WHEN pw.pass = 'x' AND sh.name IS NOT NULL THEN sh.pass ELSE pw.pass END,"            \
	" CASE WHEN pw.pass = 'x' AND sh.name IS NOT NULL THEN '/etc/shadow' ELSE '/etc/passwd' END," \
	" CASE WHEN pw.pass = 'x' AND sh.name IS NOT NULL THEN sh.layer ELSE pw.layer END"           \
	" FROM pw LEFT JOIN sh ON sh.name = pw.name)"
#define WITH_ACCOUNTS "WITH " CTE_ACCOUNTS " "

/* sshd_config lines with Include expanded: ord sorts them in sshd's reading order (char(1) joins
 * the parts, so "a.conf" sorts before "a.conf.conf" as glob(3) returns them). */
#define SSHD_T "trim(replace(replace(l.part, char(9), ' '), char(13), ''))"
#define SSHD_KW "lower(split_part(replace(" SSHD_T ", '=', ' ') || ' ', ' ', 1))"
#define SSHD_VAL "trim(substr(" SSHD_T ", length(" SSHD_KW ") + 1), ' =')"
#define WITH_SSHD                                                                                     \
	"WITH RECURSIVE " CTE_RF ","                                                                  \
	"ln(ord, depth, path, layer, lineno, kw, val) AS ("                                           \
	" SELECT printf('%08d', l.n), 0, rf.path, rf.layer, l.n, " SSHD_KW ", " SSHD_VAL               \
	" FROM rf, split(rf.content, char(10)) l WHERE rf.path = '/etc/ssh/sshd_config'"              \
	" UNION ALL"                                                                                  \
	" SELECT ln.ord || char(1) || printf('%04d', g.n) || f.path || char(1) || printf('%08d', l.n),"      \
	" ln.depth + 1, f.path, f.layer, l.n, " SSHD_KW ", " SSHD_VAL                                  \
	" FROM ln, split(ln.val, ' ') g, rf f, split(f.content, char(10)) l"                          \
	" WHERE ln.kw = 'include' AND ln.depth < 8 AND g.part <> ''"                                  \
	" AND fnmatch(CASE WHEN g.part LIKE '/%' THEN g.part ELSE '/etc/ssh/' || g.part END, f.path)" \
	" AND f.path GLOB '/etc/ssh/*'),"                                                             \
	"d AS (SELECT * FROM ln WHERE kw <> '' AND kw NOT LIKE '#%'"                                   \
	" AND ord < (SELECT coalesce(min(ord), '~') FROM ln WHERE kw = 'match')) "
/* The check on keyword kw (lower case): fires when its effective value is yes. */
#define SSHD_CHECK(kw, name)                                                                         \
	WITH_SSHD "SELECT path, layer, printf('" name " yes (line %d of %s)', lineno, path)"          \
		  " FROM (SELECT * FROM d WHERE kw = '" kw "' ORDER BY ord LIMIT 1) WHERE lower(val) = 'yes'"

/* The image config, when the image has one that is JSON. */
#define WITH_CONFIG                                                                                   \
	"WITH cfg(j) AS MATERIALIZED (SELECT CAST(config AS TEXT) FROM image WHERE id = 1"            \
	" AND config IS NOT NULL AND json_valid(CAST(config AS TEXT))) "

#define NODES "FROM node n JOIN entry e ON e.id = n.data_entry WHERE n.view = " V_MERGED " AND n.path <> '' AND "

struct check_def {
	const char *id;
	const char *severity;
	const char *sql; /* columns: path, layer, detail */
};

static const struct check_def checks[] = {
	{"setuid_setgid", "medium",
	 "SELECT '/' || n.path, e.layer, printf('%s file, mode %04o, owner uid %d',"
	 " CASE WHEN (e.mode & 3072) = 3072 THEN 'setuid and setgid' WHEN e.mode & 2048 THEN 'setuid' ELSE 'setgid' END,"
	 " e.mode & 4095, e.uid) " NODES "n.type = 'file' AND (e.mode & 3072) != 0 ORDER BY n.path"},
	{"world_writable", "medium",
	 "SELECT '/' || n.path, e.layer, printf('world-writable %s, mode %04o',"
	 " CASE n.type WHEN 'dir' THEN 'directory without the sticky bit' ELSE n.type END, e.mode & 4095) " NODES
	 "n.type <> 'symlink' AND (e.mode & 2) != 0 AND NOT (n.type = 'dir' AND (e.mode & 512) != 0) ORDER BY n.path"},
	{"device_outside_dev", "medium",
	 "SELECT '/' || n.path, e.layer, printf('%s device %d:%d outside /dev',"
	 " CASE n.type WHEN 'chardev' THEN 'character' ELSE 'block' END, e.devmajor, e.devminor) " NODES
	 "n.type IN ('chardev', 'blockdev') AND n.path NOT LIKE 'dev/%' ORDER BY n.path"},
	{"unowned_uid", "low",
	 WITH_ACCOUNTS "SELECT '/' || n.path, e.layer, printf('owner uid %d has no account in /etc/passwd', e.uid) " NODES
	 "EXISTS (SELECT 1 FROM pw) AND e.uid NOT IN (SELECT CAST(uid AS INTEGER) FROM pw WHERE uid GLOB '[0-9]*')"
	 " ORDER BY n.path"},
	{"uid0_besides_root", "high",
	 WITH_ACCOUNTS "SELECT '/etc/passwd', layer, printf('account %s has uid 0', name) FROM pw"
	 " WHERE uid = '0' AND name <> 'root' ORDER BY name"},
	{"login_with_password", "medium",
	 WITH_ACCOUNTS "SELECT path, layer, printf('account %s has a login shell (%s) and a usable password hash', name,"
	 " CASE shell WHEN '' THEN '/bin/sh by default' ELSE shell END) FROM acct"
	 " WHERE pass <> '' AND pass <> 'x' AND substr(pass, 1, 1) NOT IN ('!', '*')"
	 " AND shell NOT LIKE '%/nologin' AND shell NOT LIKE '%/false' ORDER BY name"},
	{"empty_password", "high",
	 WITH_ACCOUNTS "SELECT path, layer, printf('account %s has an empty password field: no password is needed', name)"
	 " FROM acct WHERE pass = '' ORDER BY name"},
	{"duplicate_uid", "medium",
	 WITH_ACCOUNTS "SELECT '/etc/passwd', min(layer), printf('uid %s is shared by %d accounts: %s', uid, count(*),"
	 " group_concat(name, ', ')) FROM pw WHERE uid <> '' GROUP BY uid HAVING count(*) > 1"
	 " ORDER BY CAST(uid AS INTEGER)"},
	{"sshd_permit_root_login", "high", SSHD_CHECK("permitrootlogin", "PermitRootLogin")},
	{"sshd_password_authentication", "medium", SSHD_CHECK("passwordauthentication", "PasswordAuthentication")},
	{"sshd_permit_empty_passwords", "high", SSHD_CHECK("permitemptypasswords", "PermitEmptyPasswords")},
	{"runs_as_root", "medium",
	 WITH_CONFIG "SELECT NULL, 0, CASE WHEN coalesce(json_extract(j, '$.config.User'), '') = ''"
	 " THEN 'the config sets no User: the container runs as root'"
	 " ELSE printf('the config''s User is %s: the container runs as root', json_extract(j, '$.config.User')) END"
	 " FROM cfg WHERE coalesce(json_extract(j, '$.config.User'), '') IN ('', '0', 'root')"
	 " OR json_extract(j, '$.config.User') LIKE 'root:%' OR json_extract(j, '$.config.User') LIKE '0:%'"},
	{"exposed_port", "low",
	 WITH_CONFIG "SELECT NULL, 0, printf('port %s exposed', p.key) FROM cfg, json_each(cfg.j, '$.config.ExposedPorts') p"
	 " ORDER BY p.key"},
	{"no_healthcheck", "low",
	 WITH_CONFIG "SELECT NULL, 0, CASE WHEN json_extract(j, '$.config.Healthcheck') IS NULL"
	 " THEN 'the config has no Healthcheck' ELSE 'the config''s Healthcheck is NONE (disabled)' END FROM cfg"
	 " WHERE json_extract(j, '$.config.Healthcheck') IS NULL"
	 " OR json_extract(j, '$.config.Healthcheck.Test[0]') = 'NONE'"},
};

/* True when the index has the table (an index built without the retrieved scanner has none). */
static bool checks_has_table(sqlite3 *c, const char *name)
{
	sqlite3_stmt *st = NULL;
	bool has = false;
	if (sqlite3_prepare_v2(c, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		has = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return has;
}

/* Runs one check; returns its number of findings or -1 with *err. */
static int checks_run_one(sqlite3 *c, const struct check_def *d, audit_check_cb cb, void *ctx, struct strata_err **err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(c, d->sql, -1, &st, NULL) != SQLITE_OK) {
		strata_err_set(err, STRATA_EIO, "check %s: %s", d->id, sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return -1;
	}
	int n = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const struct audit_check_finding f = {
			.check = d->id,
			.severity = d->severity,
			.path = (const char *)sqlite3_column_text(st, 0),
			.layer = sqlite3_column_int(st, 1),
			.detail = (const char *)sqlite3_column_text(st, 2),
		};
		cb(ctx, &f);
		n++;
	}
	if (rc != SQLITE_DONE) {
		strata_err_set(err, STRATA_EIO, "check %s: %s", d->id, sqlite3_errmsg(c));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return n;
}

int audit_checks_run(struct index_db *db, audit_check_cb cb, void *ctx, struct strata_err **err)
{
	sqlite3 *c = NULL;
	if (index_db_connect(db, &c, err) < 0)
		return strata_err_wrap(err, "checks");
	if (checks_sql_register(c, err) < 0) {
		sqlite3_close(c);
		return -1;
	}
	bool retrieved = checks_has_table(c, "retrieved_file");
	int total = 0;
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (!retrieved && strstr(checks[i].sql, "retrieved_file"))
			continue; /* an index built without the retrieved scanner: file and config checks only */
		int n = checks_run_one(c, &checks[i], cb, ctx, err);
		if (n < 0) {
			sqlite3_close(c);
			return -1;
		}
		total += n;
	}
	sqlite3_close(c);
	return total;
}
