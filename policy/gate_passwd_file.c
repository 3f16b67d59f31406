/* policy/gate_passwd_file.c — the `passwd_file` gate over the image's /etc/passwd (read through
 * the byte sources of the merged view): content_not_available, and strata's uid0_besides_root
 * (accounts with uid 0 other than root). Anchore's denylist_* triggers are not built yet. */
#include "policy_int.h"

#include <stdlib.h>
#include <string.h>

#define PASSWD_MAX (4u << 20)

/* The image's /etc/passwd: 1 with *out, 0 when absent, -1 with *err. */
static int passwd_read(struct policy_eval *ev, char **out, struct strata_err **err)
{
	size_t len;
	bool trunc;
	int view = index_db_view_merged(policy_eval_index(ev), index_db_layer_count(policy_eval_index(ev)));
	return policy_eval_file_content(ev, view, "/etc/passwd", PASSWD_MAX, out, &len, &trunc, err);
}

static int passwd_eval_not_available(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	cleanup_free char *pw = NULL;
	int have = passwd_read(ev, &pw, err);
	if (have < 0)
		return -1;
	if (have == 0) {
		const struct policy_match m = {.message = "Cannot locate /etc/passwd in image's file system",
					       .path = "/etc/passwd", .visible = -1};
		policy_eval_fire(ev, r, &m);
	}
	return 0;
}

/* uid0_besides_root: every line "name:x:0:…" whose name is not root. */
static int passwd_eval_uid0(struct policy_eval *ev, const struct policy_rule *r, struct strata_err **err)
{
	cleanup_free char *pw = NULL;
	int have = passwd_read(ev, &pw, err);
	if (have <= 0)
		return have;
	for (char *line = pw, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *f[4] = {line, NULL, NULL, NULL};
		for (int i = 1; i < 4 && f[i - 1]; i++) {
			char *colon = strchr(f[i - 1], ':');
			if (colon) {
				*colon = '\0';
				f[i] = colon + 1;
			}
		}
		if (!f[3] || line[0] == '#')
			continue;
		char *end;
		long uid = strtol(f[2], &end, 10);
		if (end == f[2] || uid != 0 || !strcmp(f[0], "root"))
			continue;
		cleanup_free char *msg = xasprintf("Account %s in /etc/passwd has uid 0 (only root should)", f[0]);
		const struct policy_match m = {.message = msg, .path = "/etc/passwd", .visible = 1};
		policy_eval_fire(ev, r, &m);
	}
	return 0;
}

static const struct policy_param_def passwd_no_params[] = {
    {NULL, POLICY_PARAM_STRING, false, NULL, NULL},
};

static const struct policy_trigger_def passwd_triggers[] = {
    {"content_not_available", NULL, "Triggers if the /etc/passwd file is not present in the image", passwd_no_params,
     NULL, passwd_eval_not_available},
    {"uid0_besides_root", NULL, "Triggers for every account other than root with uid 0 in /etc/passwd",
     passwd_no_params, NULL, passwd_eval_uid0},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

const struct policy_gate_def policy_gate_passwd_file = {"passwd_file", "Checks the image's /etc/passwd",
							 passwd_triggers};
