/* tools/strata.c — the `strata` command: dispatch to subcommands. */
#include "tools.h"

#include <string.h>

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("strata %s (index schema %d)\n", STRATA_VERSION, INDEX_SCHEMA_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *usage;
} commands[] = {
	{"index", cmd_index, "index IMAGE [--index PATH] [--platform OS/ARCH[/VARIANT]] [--ref NAME] [-q] [--force] [--allow-digest-mismatch] [--span BYTES] [--jobs N] [--scanners LIST] [--secret-rules [+]FILE] [--secret-max-size N] [--secret-scan-binary]"},
	{"mount", cmd_mount, "mount [-f] [-d] [-o OPT,...] [--index PATH] [--platform ...] [--ref ...] [--trust-key PEM]... [--policy FILE] [--secret-rules [+]FILE] [--secret-max-size N] [--secret-scan-binary] IMAGE MOUNTPOINT"},
	{"umount", cmd_umount, "umount MOUNTPOINT"},
	{"ls", cmd_ls, "ls [--view N | --layer N] [--null] IMAGE|INDEX"},
	{"cat", cmd_cat, "cat [--view N] [--offset N] [--length N] IMAGE|INDEX PATH..."},
	{"sql", cmd_sql, "sql IMAGE|INDEX QUERY"},
	{"report", cmd_report, "report [--trust-key PEM]... [--policy FILE] IMAGE|INDEX FILE   (report --list: the files under /.audit)"},
	{"verify", cmd_verify, "verify [--index PATH] [--platform ...] [--ref ...] IMAGE   (recompute every blob digest; 1 when one differs)"},
	{"audit", cmd_audit, "audit [--policy FILE] [--tag REPO:TAG] [--format text|json|sarif|junit] [--fail-on warn] [--trust-key PEM]... [--secret-rules [+]FILE] [--secret-max-size N] [--secret-scan-binary] [--show-default-policy] IMAGE|INDEX   (exit 0 pass/warn, 1 fail, 2 error)"},
	{"version", cmd_version, "version"},
	{"help", cmd_help, "help"},
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: strata COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  strata %s\n", commands[i].usage);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(0, NULL);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cmd_version(0, NULL);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(0, NULL);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "strata: unknown command '%s' (try 'strata help')\n", argv[1]);
	return 2;
}
