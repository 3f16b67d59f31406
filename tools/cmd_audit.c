/* tools/cmd_audit.c — `strata audit`: evaluates a policy bundle (--policy FILE, the built-in
 * default otherwise) on an image or index and prints the result as text, JSON (report.json),
 * SARIF 2.1.0 or JUnit XML. Exit status: 0 pass (and warn unless --fail-on warn), 1 fail, 2 error
 * (an invalid bundle prints every problem on stderr, one line each, and is not evaluated). */
#include "tools.h"

#include <getopt.h>
#include <string.h>

static void usage_audit(FILE *f)
{
	fprintf(f, "usage: strata audit [--policy FILE] [--tag REPO:TAG] [--format text|json|sarif|junit] "
		   "[--fail-on warn|fail]\n"
		   "                    [--index PATH] [--platform OS/ARCH] [--ref NAME] [--trust-key "
		   "PEM]... [-q]\n"
		   "                    [--secret-rules [+]FILE] [--secret-max-size N] [--secret-scan-binary] IMAGE|INDEX\n"
		   "       strata audit --show-default-policy\n");
}

/* Prints one validation problem of the bundle named ctx on stderr. */
static void audit_problem(void *ctx, const char *line)
{
	fprintf(stderr, "strata: %s: %s\n", (const char *)ctx, line);
}

int cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"policy", required_argument, NULL, 'P'},
	    {"tag", required_argument, NULL, 't'},
	    {"format", required_argument, NULL, 'F'},
	    {"fail-on", required_argument, NULL, 'W'},
	    {"show-default-policy", no_argument, NULL, 'S'},
	    {"index", required_argument, NULL, 'i'},
	    {"platform", required_argument, NULL, 'p'},
	    {"ref", required_argument, NULL, 'r'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"trust-key", required_argument, NULL, 'K'},
	    TOOLS_AUDIT_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	const char *policy = NULL, *tag = NULL, *format = "text", *idx_path = NULL;
	bool fail_on_warn = false, show_default = false, quiet = false;
	struct overlay_select sel = {0};
	int c;
	optind = 1;
	struct audit_options ao = {0};
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		int a = tools_audit_option(c, optarg, &ao);
		if (a < 0)
			return 2;
		if (a > 0)
			continue;
		switch (c) {
		case 'P':
			policy = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case 'W':
			if (strcmp(optarg, "warn") && strcmp(optarg, "fail")) {
				fprintf(stderr, "strata: --fail-on takes warn or fail\n");
				return 2;
			}
			fail_on_warn = !strcmp(optarg, "warn");
			break;
		case 'S':
			show_default = true;
			break;
		case 'i':
			idx_path = optarg;
			break;
		case 'p':
			sel.platform = optarg;
			break;
		case 'r':
			sel.ref = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'K': { /* issue 9: keys for the attestation gate and attestations.json */
			cleanup_err struct strata_err *kerr = NULL;
			if (policy_trust_key_add(optarg, &kerr) < 0) {
				tools_print_err(kerr);
				return 2;
			}
			break;
		}
		case 'h':
			usage_audit(stdout);
			return 0;
		default:
			usage_audit(stderr);
			return 2;
		}
	}
	if (show_default) {
		size_t n;
		const char *t = policy_default_bundle_text(&n);
		fwrite(t, 1, n, stdout);
		return fflush(stdout) ? 2 : 0;
	}
	if (argc - optind != 1) {
		usage_audit(stderr);
		return 2;
	}
	if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "sarif") &&
	    strcmp(format, "junit")) {
		fprintf(stderr, "strata: --format: '%s' is not one of text, json, sarif, junit\n", format);
		return 2;
	}
	cleanup_err struct strata_err *err = NULL;
	int np = policy_bundle_check_file(policy, audit_problem, (void *)(policy ? policy : "default policy"),
					  &err);
	if (np != 0) {
		if (np < 0)
			tools_print_err(err);
		return 2;
	}
	struct index_db *db = tools_open_index_audit(argv[optind], idx_path, &sel, &ao, quiet, &err);
	if (!db) {
		tools_print_err(err);
		return 2;
	}
	size_t len = 0;
	cleanup_free char *out = NULL;
	int action = policy_audit_run(db, policy, tag, format, &out, &len, &err);
	index_db_close(db);
	if (action < 0) {
		tools_print_err(err);
		return 2;
	}
	if (fwrite(out, 1, len, stdout) != len || fflush(stdout)) {
		fprintf(stderr, "strata: writing the report: failed\n");
		return 2;
	}
	if (action == 2)
		return 1;
	return action == 1 && fail_on_warn ? 1 : 0;
}
