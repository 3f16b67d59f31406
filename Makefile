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
LDLIBS_ALL := $(shell $(PKG_CONFIG) --libs $(PKGS)) -pthread -lm
LDLIBS_NOFUSE := $(shell $(PKG_CONFIG) --libs $(PKGS_OVERLAY) $(PKGS_INDEX) $(PKGS_AUDIT)) -pthread -lm

ifeq ($(SAN),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -DSTRATA_DEBUG
LDFLAGS += -fsanitize=address,undefined
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

.PHONY: all check check-one unit integration asan demo bench install clean format format-check deps-check
all: $(BUILD)/strata

$(BUILD)/%.o: %.c $(wildcard */*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# SPDX license ids (issue 4): a C table generated at build time from Debian's node-spdx-license-ids.
SPDX_IDS_DIR ?= /usr/share/nodejs/spdx-license-ids
$(BUILD)/gen/spdx_ids.inc: $(SPDX_IDS_DIR)/index.json $(SPDX_IDS_DIR)/deprecated.json tools/gen_spdx_ids.sh
	@mkdir -p $(dir $@)
	sh tools/gen_spdx_ids.sh $(SPDX_IDS_DIR) >$@.tmp && mv $@.tmp $@
$(BUILD)/audit/catalog_spdx.o: $(BUILD)/gen/spdx_ids.inc
$(BUILD)/audit/catalog_spdx.o: ALL_CFLAGS += -I$(BUILD)/gen

# Secret rules (issue 5): audit/secret_rules.json compiled in as a C byte array (od + sed).
$(BUILD)/gen/secret_rules.inc: audit/secret_rules.json
	@mkdir -p $(dir $@)
	od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g' >$@.tmp && mv $@.tmp $@
$(BUILD)/audit/secrets_rules.o: $(BUILD)/gen/secret_rules.inc
$(BUILD)/audit/secrets_rules.o: ALL_CFLAGS += -I$(BUILD)/gen

$(BUILD)/strata: $(TOOLS_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# Unit tests link every module except fs (which needs libfuse) unless they test fs.
$(BUILD)/tests/test_fs%: $(BUILD)/tests/unit/test_fs%.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(OVERLAY_OBJS) $(INDEX_OBJS) $(AUDIT_OBJS) $(POLICY_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_NOFUSE)

unit: $(UNIT_BINS)

# One pass of the whole suite in $(BUILD).
check-one: $(BUILD)/strata $(UNIT_BINS) deps-check
	@BUILD=$(BUILD) STRATA=$(abspath $(BUILD)/strata) sh tests/run.sh $(UNIT_BINS) $(wildcard tests/integration/*.sh)

# The README's test command: the suite, then the same suite under ASan+UBSan.
check:
	@$(MAKE) --no-print-directory check-one
	@$(MAKE) --no-print-directory check-one BUILD=build/asan SAN=1 CFLAGS="-O1 -g"

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 CFLAGS="-O1 -g"

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
