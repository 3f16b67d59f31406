/* tests/unit/test_version.c — policy/version.c against the real tools' verdicts: every pair of a
 * list of tricky dpkg versions is compared by `dpkg --compare-versions`, every pair of rpm
 * versions by rpm's own rpm.vercmp (one `rpm --eval` Lua run), and apk versions against test
 * vectors from apk-tools' test/version.data (a hand-checked table: apk itself is not packaged
 * for Debian). Skips a tool's part when the tool is missing. */
#include "../../policy/policy_int.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static bool have_tool(const char *name)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* dpkg --compare-versions a OP b, exit status 0 = true. */
static bool dpkg_says(const char *a, const char *op, const char *b)
{
	pid_t pid = fork();
	if (pid == 0) {
		execlp("dpkg", "dpkg", "--compare-versions", a, op, b, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static const char *const dpkg_versions[] = {
    "1.0",
    "1.0-0",
    "1.0-1",
    "1.0-1~bpo1",
    "1.0~rc1-1",
    "1.0~~",
    "1.0~",
    "1.0+b1",
    "1.0.0",
    "1.00",
    "1.0a",
    "1.0A",
    "1.0-1ubuntu1",
    "1:0.9",
    "0:1.0",
    "2:0",
    "1.0.1",
    "1.0-10",
    "1.0-9",
    "1.0-1.1",
    "1.0-1+deb11u1",
    "1.0-1+deb12u1",
    "10",
    "9.99",
    "1.2.3-4",
    "1.2.3a-4",
    "1.2.3.a",
    "1.2.3-4.1",
    "3.0.11-1~deb12u2",
    "3.0.11-1",
    "2.36-9+deb12u4",
    "2.36-9",
    "7.88.1-10+deb12u5",
    "1.0+dfsg-1",
    "1.0-a",
    "1.0-+",
    "1.0-.",
    "1.0--1",
};

static const char *const rpm_versions[] = {
    "1.0",   "1.0-1",	   "1.0-1.el9",	   "1.0-1.fc39",   "1.0-2.el9",	   "1.0~rc1-1",	     "1.0^git1-1",
    "1.0^",  "1.0~",	   "1.0.1",	   "1.0a",	   "1.a",	   "1.01",	     "1.001",
    "1:0.1", "0:1.0",	   "2.0-0.1.beta", "2.0-1",	   "1.0_1",	   "1.0.0",	     "10.0",
    "9.9",   "1.0-1^post", "1.0-1~pre",	   "3.0.7-27.el9", "3.0.7-24.el9", "2.34-100.el9_4", "2.34-83.el9",
    "abc",   "1.0+fix",	   "1.0.fix",	   "1..0",	   "1.0x",	   "1.0X",
};

/* (a, expected sign, b) from apk-tools' test/version.data. */
static const struct {
	const char *a;
	int cmp;
	const char *b;
} apk_vectors[] = {
    {"2.34", 1, "0.1.0_alpha"},
    {"0.1.0_alpha", 0, "0.1.0_alpha"},
    {"0.1.0_alpha", -1, "0.1.3_alpha"},
    {"0.1.0_alpha2", 1, "0.1.0_alpha"},
    {"1.0.4-r3", -1, "1.0.4-r4"},
    {"1.1", 1, "1.1_alpha1"},
    {"1.2.1", 1, "1.2"},
    {"1.2", -1, "1.3_alpha"},
    {"1.3_alpha2", -1, "1.3_alpha3"},
    {"0.7.0", -1, "0.8_beta1"},
    {"3.10.18-r1", 1, "2.3.0b-r1"},
    {"2.3.0b-r1", -1, "2.3.0b-r2"},
    {"0.12.3", 1, "0.12"},
    {"0.12", -1, "0.13_beta1"},
    {"1.2.11", -1, "1.2.12.1"},
    {"0.2.0-r1", -1, "3.1_p16"},
    {"3.1_p16", -1, "3.1_p17"},
    {"1.06-r6", -1, "006"},
    {"1.2.2-r1", 1, "1.2.2"},
    {"9.3.4-r2", 1, "9.3.4"},
    {"3.9.8-r5", 1, "2.01.01_alpha10"},
    {"1.0", 1, "0.99.3.20040818"},
    {"1.39", 1, "1.00_beta2"},
    {"4.2.52_p2-r1", -1, "4.2.52_p4-r2"},
    {"1.02.07", -1, "1.02.10-r1"},
    {"20060720", 1, "3.0.20060720"},
    {"2.5.1-r8", -1, "2.5.1a-r1"},
    {"1.3.5-r10", 1, "1.3.5-r8"},
    {"20040401", 1, "2.0.0_rc3-r1"},
    {"3.0.0-r2", -1, "021109-r3"},
    {"0.9.16-r1", -1, "3.9_pre20060124"},
    {"0.10.0", -1, "0.10.1_rc1"},
    {"1.8.5", -1, "1.8.5_p2"},
    {"0.20070118", -1, "0.20070207_rc1"},
    {"4.5_p1-r1", 1, "4.5_p1"},
    {"2.9.11_pre20051101-r3", 1, "2.9.11_pre20051101"},
    {"1.07-r1", -1, "1.07.5"},
    {"1.2.07.8", -1, "1.2.12.04"},
    {"0.9.28.1", -1, "087-r1"},
    {"104-r11", 1, "104-r9"},
    {"2.12r-r4", -1, "2.12r-r5"},
    {"7.0.17", -1, "7.0.174"},
    {"1.3-r0", -1, "1.3.1-r0"},
    {"1.3_pre1-r1", -1, "1.3.2"},
    {"1.0_p10-r0", 1, "1.0_p9-r0"},
    {"0.1.0_alpha_pre2", -1, "0.1.0_alpha"},
    {"1.0.0_pre20191002222144-r0", -1, "1.0.0_pre20210530193627-r0"},
    {"2.6.1.3-r1", 1, "2.6.1.3"},
    {"0.59s-r11", -1, "0.65"},
};

/* -1, 0 or 1 as `dpkg --compare-versions` orders a and b (one or two dpkg runs). */
static int dpkg_cmp(const char *a, const char *b)
{
	return dpkg_says(a, "lt", b) ? -1 : dpkg_says(a, "eq", b) ? 0 : 1;
}

static void test_dpkg(void)
{
	if (!have_tool("dpkg")) {
		skip("dpkg not installed");
		return;
	}
	/* dpkg's verdict on every pair, from dpkg's own order of the versions: each version is placed
	 * among the classes of equal versions placed before it by binary search with dpkg
	 * --compare-versions (about 150 comparisons instead of one or two dpkg runs for each of the
	 * 741 pairs: a dpkg run costs ~12 ms here). dpkg's comparison is a total preorder (a version
	 * sort), so a pair's verdict is the order of the two versions' classes. */
	enum { N = sizeof dpkg_versions / sizeof *dpkg_versions };
	size_t n = N, rep[N], same[N], rank[N], nclass = 0, runs = 0;
	for (size_t i = 0; i < n; i++) {
		size_t lo = 0, hi = nclass;
		same[i] = i; /* the first version of i's class */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = dpkg_cmp(dpkg_versions[i], dpkg_versions[rep[mid]]);
			runs++;
			if (c == 0) {
				same[i] = rep[mid];
				break;
			}
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
		if (same[i] == i) { /* a new class at lo: the classes after it move up */
			memmove(rep + lo + 1, rep + lo, (nclass - lo) * sizeof *rep);
			rep[lo] = i;
			nclass++;
		}
	}
	for (size_t k = 0; k < nclass; k++)
		rank[rep[k]] = k;
	for (size_t i = 0; i < n; i++)
		rank[i] = rank[same[i]];
	size_t pairs = 0, bad = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i; j < n; j++) {
			const char *a = dpkg_versions[i], *b = dpkg_versions[j];
			int want = rank[i] < rank[j] ? -1 : rank[i] == rank[j] ? 0 : 1;
			int got = sign(policy_version_cmp_dpkg(a, b));
			int back = sign(policy_version_cmp_dpkg(b, a));
			pairs++;
			if (got != want || back != -want) {
				bad++;
				ok(0, "dpkg: %s vs %s: dpkg says %d, strata %d (reverse %d)", a, b, want, got,
				   back);
			}
		}
	ok(bad == 0,
	   "dpkg: %zu pairs ordered as dpkg --compare-versions orders them (%zu classes, %zu comparisons)",
	   pairs, nclass, runs);
	ok(policy_version_cmp("deb", "1.0~rc1", "1.0") < 0,
	   "by type: deb uses dpkg ordering (~ before release)");
}

static void test_rpm(void)
{
	if (!have_tool("rpm")) {
		skip("rpm not installed (apt-get install rpm)");
		return;
	}
	size_t n = sizeof rpm_versions / sizeof *rpm_versions;
	/* One Lua program printing rpm.vercmp of every ordered pair, space-separated. */
	char prog[65536];
	size_t off = (size_t)snprintf(prog, sizeof prog, "%%{lua: ");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			off += (size_t)snprintf(prog + off, sizeof prog - off,
						"print(rpm.vercmp([[%s]],[[%s]])..' ') ", rpm_versions[i],
						rpm_versions[j]);
	snprintf(prog + off, sizeof prog - off, "}");
	int fds[2];
	if (pipe(fds) != 0) {
		ok(0, "pipe");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("rpm", "rpm", "--eval", prog, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "r");
	size_t pairs = 0, bad = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int want = 99;
			if (fscanf(f, "%d", &want) != 1) {
				ok(0, "rpm output ended early at %s vs %s", rpm_versions[i], rpm_versions[j]);
				fclose(f);
				waitpid(pid, NULL, 0);
				return;
			}
			int got = sign(policy_version_cmp_rpm(rpm_versions[i], rpm_versions[j]));
			pairs++;
			if (got != sign(want)) {
				bad++;
				ok(0, "rpm: %s vs %s: rpm says %d, strata %d", rpm_versions[i],
				   rpm_versions[j], want, got);
			}
		}
	fclose(f);
	waitpid(pid, NULL, 0);
	ok(bad == 0, "rpm: %zu ordered pairs as rpm.vercmp orders them", pairs);
	ok(policy_version_cmp("rpm", "1.0^git1", "1.0") > 0, "by type: rpm uses rpmvercmp (^ after release)");
}

static void test_apk(void)
{
	size_t n = sizeof apk_vectors / sizeof *apk_vectors, bad = 0;
	for (size_t i = 0; i < n; i++) {
		int got = sign(policy_version_cmp_apk(apk_vectors[i].a, apk_vectors[i].b));
		int back = sign(policy_version_cmp_apk(apk_vectors[i].b, apk_vectors[i].a));
		if (got != apk_vectors[i].cmp || back != -apk_vectors[i].cmp) {
			bad++;
			ok(0, "apk: %s vs %s: want %d, strata %d (reverse %d)", apk_vectors[i].a,
			   apk_vectors[i].b, apk_vectors[i].cmp, got, back);
		}
	}
	ok(bad == 0, "apk: %zu vectors of apk-tools' test/version.data", n);
	ok(policy_version_cmp("apk", "1.1_rc1", "1.1") < 0,
	   "by type: apk uses apk ordering (_rc before release)");
	ok(policy_version_cmp_apk("1.0", "1.0") == 0 && policy_version_cmp_dpkg(NULL, "") == 0,
	   "equal and NULL");
}

int main(void)
{
	test_dpkg();
	test_rpm();
	test_apk();
	return tap_done();
}
