/* tools/tools.h — the subcommands of the `strata` command; each lives in tools/cmd_<name>.c and
 * returns the process exit status (0 ok, 1 failed check, 2 error). Errors are printed once, here
 * at the top, as one line: "strata: <input>: <problem>". */
#ifndef STRATA_TOOLS_H
#define STRATA_TOOLS_H

#include "../policy/policy.h"

int cmd_index(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_audit(int argc, char **argv);

/* Prints "strata: <msg>" on stderr (one line). */
void tools_print_err(const struct strata_err *e);
/* Opens an index for IMAGE|INDEX: an SQLite file is opened as it is; anything else is an image,
 * indexed (or reused) at the default cache path (or idx_path when non-NULL) with progress on a
 * terminal unless quiet. Owned result or NULL with *err. */
struct index_db *tools_open_index(const char *arg, const char *idx_path, const struct overlay_select *sel,
				  bool quiet, struct strata_err **err);
/* Added for issue 5: the audit scanners' options, shared by index, mount and audit. Put
 * TOOLS_AUDIT_LONGOPTS in the getopt_long table and hand every option to tools_audit_option
 * first: --secret-rules FILE replaces the built-in secret rules, +FILE extends them;
 * --secret-max-size N skips larger files; --secret-scan-binary scans binary files too. Returns 1 when c was one of them (stored in *ao), 0 when
 * not, -1 on a bad value (message printed on stderr; exit 2). */
#define TOOLS_AUDIT_LONGOPTS \
	{"secret-rules", required_argument, NULL, 'R'}, {"secret-max-size", required_argument, NULL, 'M'}, \
		{"secret-scan-binary", no_argument, NULL, 'B'}
int tools_audit_option(int c, const char *arg, struct audit_options *ao);
/* tools_open_index with the audit scanners built from ao (NULL: defaults). */
struct index_db *tools_open_index_audit(const char *arg, const char *idx_path, const struct overlay_select *sel,
					const struct audit_options *ao, bool quiet, struct strata_err **err);
/* Progress bar on stderr when it is a terminal (bytes done of total, rate, time left). */
void tools_progress(void *ctx, const struct index_progress *p);

#endif
