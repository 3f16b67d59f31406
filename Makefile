# strata — build, test, install.
#   make              build/strata
#   make check        unit + integration tests, then the same suite under ASan+UBSan
#   make demo         build a demo image from real Debian packages, mount it, show it
#   make bench        benchmarks (not part of check)
#   make install PREFIX=/usr/local DESTDIR=
CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
BUILD ?= build
SAN ?=

PKGS_OVERLAY := libarchive libzstd zlib libcrypto jansson
PKGS_INDEX := sqlite3
PKGS_AUDIT := libhs libpcre2-8
PKGS_FS := fuse3
PKGS := $(PKGS_OVERLAY) $(PKGS_INDEX) $(PKGS_AUDIT) $(PKGS_FS)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wwrite-strings -Wvla -Wswitch-enum -Wno-format-nonliteral
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread \
	$(shell $(PKG_CONFIG) --cflags $(PKGS))
# ISA-L (libisal-dev) decodes gzip spans when serving (overlay/inflate_isal.c); Debian 12 ships
# libisal.pc, older packagings only the library.
ISAL_LIBS := $(shell $(PKG_CONFIG) --libs libisal 2>/dev/null || echo -lisal)
LDLIBS_ALL := $(shell $(PKG_CONFIG) --libs $(PKGS)) $(ISAL_LIBS) -pthread -lm
LDLIBS_NOFUSE := $(shell $(PKG_CONFIG) --libs $(PKGS_OVERLAY) $(PKGS_INDEX) $(PKGS_AUDIT)) $(ISAL_LIBS) -pthread -lm

ifeq ($(SAN),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -DSTRATA_DEBUG
LDFLAGS += -fsanitize=address,undefined
endif

# SAN=thread: ThreadSanitizer (with clang; see the tsan target).
ifeq ($(SAN),thread)
ALL_CFLAGS += -fsanitize=thread -fno-omit-frame-pointer -DSTRATA_DEBUG
LDFLAGS += -fsanitize=thread
endif

MODULES := overlay index audit policy fs
define module_objs
$(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c))
endef
OVERLAY_OBJS := $(call module_objs,overlay)
INDEX_OBJS := $(call module_objs,index)
AUDIT_OBJS := $(call module_objs,audit)
POLICY_OBJS := $(call module_objs,policy)
FS_OBJS := $(call module_objs,fs)
TOOLS_OBJS := $(call module_objs,tools)
LIB_OBJS := $(OVERLAY_OBJS) $(INDEX_OBJS) $(AUDIT_OBJS) $(POLICY_OBJS) $(FS_OBJS)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all check check-one unit integration asan tsan demo bench install clean format format-check deps-check fuzz fuzz-bins
all: $(BUILD)/strata

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# SPDX license ids (issue 4): a C table generated at build time from Debian's node-spdx-license-ids
# (licenses) and node-spdx-exceptions (exception ids after WITH).
SPDX_IDS_DIR ?= /usr/share/nodejs/spdx-license-ids
SPDX_EXC_DIR ?= /usr/share/nodejs/spdx-exceptions
$(BUILD)/gen/spdx_ids.inc: $(SPDX_IDS_DIR)/index.json $(SPDX_IDS_DIR)/deprecated.json $(SPDX_EXC_DIR)/index.json tools/gen_spdx_ids.sh
	@mkdir -p $(dir $@)
	sh tools/gen_spdx_ids.sh $(SPDX_IDS_DIR) $(SPDX_EXC_DIR) >$@.tmp && mv $@.tmp $@
$(BUILD)/audit/catalog_spdx.o: $(BUILD)/gen/spdx_ids.inc
$(BUILD)/audit/catalog_spdx.o: ALL_CFLAGS += -I$(BUILD)/gen

# Secret rules (issue 5): audit/secret_rules.json compiled in as a C byte array (od + sed).
$(BUILD)/gen/secret_rules.inc: audit/secret_rules.json
	@mkdir -p $(dir $@)
	od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g' >$@.tmp && mv $@.tmp $@
$(BUILD)/audit/secrets_rules.o: $(BUILD)/gen/secret_rules.inc
$(BUILD)/audit/secrets_rules.o: ALL_CFLAGS += -I$(BUILD)/gen

# The built-in policy bundle (issue 6): policy/default_bundle.json compiled in the same way.
$(BUILD)/gen/default_bundle.inc: policy/default_bundle.json
	@mkdir -p $(dir $@)
	od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g' >$@.tmp && mv $@.tmp $@
$(BUILD)/policy/policy_bundle.o: $(BUILD)/gen/default_bundle.inc
$(BUILD)/policy/policy_bundle.o: ALL_CFLAGS += -I$(BUILD)/gen

$(BUILD)/strata: $(TOOLS_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# Unit tests link every module except fs (which needs libfuse) unless they test fs.
$(BUILD)/tests/test_fs%: $(BUILD)/tests/unit/test_fs%.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(OVERLAY_OBJS) $(INDEX_OBJS) $(AUDIT_OBJS) $(POLICY_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_NOFUSE)

unit: $(UNIT_BINS)

# Fuzz targets (tests/fuzz/<name>.c, libFuzzer's LLVMFuzzerTestOneInput). In check they are linked
# with tests/fuzz/replay.c (a main() that runs each file of the seed corpus once, printing TAP), so
# the SAN=1 pass replays the corpora under ASan+UBSan; `make fuzz` builds them with clang's
# -fsanitize=fuzzer and runs each for $(FUZZ_SECONDS) on a copy of its corpus (build/fuzz/corpus/).
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(filter-out tests/fuzz/replay.c,$(wildcard tests/fuzz/*.c)))
FUZZ_BINS := $(patsubst %,$(BUILD)/tests/fuzz_%,$(FUZZ_NAMES))
FUZZ_SECONDS ?= 60
$(BUILD)/tests/fuzz/%.o: ALL_CFLAGS += -Ioverlay
.SECONDARY: $(patsubst %,$(BUILD)/tests/fuzz/%.o,$(FUZZ_NAMES) replay)
$(BUILD)/tests/fuzz_%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(OVERLAY_OBJS) $(INDEX_OBJS) $(AUDIT_OBJS) $(POLICY_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_NOFUSE)
$(BUILD)/tests/fuzzer_%: $(BUILD)/tests/fuzz/%.o $(OVERLAY_OBJS) $(INDEX_OBJS) $(AUDIT_OBJS) $(POLICY_OBJS)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_NOFUSE)
fuzz-bins: $(patsubst %,$(BUILD)/tests/fuzzer_%,$(FUZZ_NAMES))
fuzz:
	@$(MAKE) --no-print-directory BUILD=build/fuzz SAN=1 CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" fuzz-bins
	@set -e; for n in $(FUZZ_NAMES); do \
		mkdir -p build/fuzz/corpus/$$n build/fuzz/crashes; cp -n tests/fuzz/corpus/$$n/* build/fuzz/corpus/$$n/ 2>/dev/null || true; \
		echo "fuzz $$n for $(FUZZ_SECONDS) s"; \
		build/fuzz/tests/fuzzer_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=build/fuzz/crashes/$$n- build/fuzz/corpus/$$n 2>build/fuzz/$$n.log || \
			{ tail -40 build/fuzz/$$n.log; exit 1; }; \
		grep -E '^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units' build/fuzz/$$n.log | tail -2; \
	done

# One pass of the whole suite in $(BUILD). The sanitizer pass outlasts the plain pass beside it in
# `make check`, so its tests that keep both cores busy (parallel jobs, concurrent readers) run
# last, once the plain pass has ended: a single-process test there would leave a core idle.
CHECK_TAIL := tests/integration/mount_bigdir_compete.sh tests/integration/mount_concurrent.sh \
	tests/integration/index_forms.sh
check_order = $(if $(SAN),$(filter-out $(CHECK_TAIL),$(1)) $(filter $(CHECK_TAIL),$(1)),$(1))
check-one: $(BUILD)/strata $(UNIT_BINS) $(FUZZ_BINS) deps-check
	@BUILD=$(BUILD) STRATA=$(abspath $(BUILD)/strata) sh tests/run.sh \
		$(call check_order,$(UNIT_BINS) $(wildcard tests/integration/*.sh))

# The README's test command: the suite, and the same suite under ASan+UBSan. The two passes run
# side by side (each test stays sequential within its pass; every test works in its own temporary
# directory and the shared fixtures are built under a lock), which keeps CI under its time budget
# on a 2-core machine: the plain pass prints as it goes, the sanitizer pass's output follows it.
check:
	@mkdir -p build
	@$(MAKE) --no-print-directory check-one BUILD=build/asan SAN=1 CFLAGS="-O1 -g" >build/check-asan.log 2>&1 & \
	asan=$$!; \
	$(MAKE) --no-print-directory check-one; plain=$$?; \
	wait $$asan; san=$$?; \
	echo "== the same suite under ASan+UBSan"; cat build/check-asan.log; \
	[ $$plain = 0 ] && [ $$san = 0 ]

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 CFLAGS="-O1 -g"

# ThreadSanitizer (issue 8): strata and the threaded byte-source/reader unit tests built with clang
# -fsanitize=thread in build/tsan, then those tests and mount_concurrent.sh (16 parallel readers
# mixing find, cat, getfattr and /.audit reads) and zstd_lazy_copy.sh (concurrent first readers of
# a single-frame zstd layer waiting for one build of its seekable copy; the index pass decoding
# ahead on its own thread). Every process (the daemonised mount too, whose stderr is /dev/null) writes its reports to build/tsan/tsan-report.<pid>: any such file fails
# the run. tests/tsan.supp says why each suppression is there. Not part of check (see README).
TSAN_TESTS := test_overlay_source test_index_reader test_zstd_lazy test_stream_ahead test_stream_lend
tsan:
	@$(MAKE) --no-print-directory BUILD=build/tsan SAN=thread CC=clang CFLAGS="-O1 -g" \
		build/tsan/strata $(patsubst %,build/tsan/tests/%,$(TSAN_TESTS))
	@rm -f build/tsan/tsan-report.*
	@TSAN_OPTIONS="log_path=$(abspath build/tsan/tsan-report) suppressions=$(abspath tests/tsan.supp) second_deadlock_stack=1 history_size=4" \
		BUILD=build/tsan STRATA=$(abspath build/tsan/strata) sh tests/run.sh \
		$(patsubst %,build/tsan/tests/%,$(TSAN_TESTS)) tests/integration/mount_concurrent.sh \
		tests/integration/zstd_lazy_copy.sh; rc=$$?; \
	if ls build/tsan/tsan-report.* >/dev/null 2>&1; then \
		echo "ThreadSanitizer reports:"; head -60 build/tsan/tsan-report.*; exit 1; fi; \
	echo "no ThreadSanitizer report"; exit $$rc

# Module boundaries: other modules include only a module's public header; *_int.h stays inside.
deps-check:
	@sh tests/check_deps.sh

demo: $(BUILD)/strata
	@sh tools/demo.sh $(abspath $(BUILD)/strata)

bench: $(BUILD)/strata
	@sh tools/bench.sh $(abspath $(BUILD)/strata)

install: $(BUILD)/strata
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/strata $(DESTDIR)$(PREFIX)/bin/strata

format:
	clang-format -i $(wildcard */*.c */*.h tests/*/*.c)
format-check:
	clang-format --dry-run --Werror $(wildcard */*.c */*.h tests/*/*.c)

clean:
	rm -rf build
