# stated: Terraform/OpenTofu state server. GNU make; `make help` lists the targets.

CC      ?= cc
CSTD    := -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DH2O_USE_LIBUV=0
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wold-style-definition -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 \
           -Wundef -Wvla -Wno-unused-parameter
PKGS    := libh2o-evloop libcurl libpq jansson openssl
SAN     ?=
# One object tree per flavour, never mixed: release in build/, sanitizer builds in build/san/.
OUT     := build$(if $(SAN),/san)
OBJDIR  := $(OUT)/obj
BINDIR  := $(OUT)/bin
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# The release build is hardened as Debian builds its packages (fortified libc calls, stack
# protector, read-only relocations bound at start); sanitizer builds are not (FORTIFY and ASan
# instrument the same calls).
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection
CFLAGS  ?= $(if $(SAN),-O1 -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer,-O2 $(HARDEN))
CFLAGS  += $(CSTD) $(WARN) -g -MMD -MP -I. $(PKG_CFLAGS) $(if $(WERROR),-Werror) \
           $(if $(WCONV),-Wconversion -Wsign-conversion)
LDFLAGS += $(if $(SAN),-fsanitize=$(SAN),-Wl,-z,relro,-z,now)
LDLIBS  += $(PKG_LIBS) -lpthread -lm

# Every part's sources are found by wildcard; each program's main lives in its own main.c.
LIB_SRC  := $(wildcard common/*.c store/*.c s3/*.c pg/*.c lock/*.c audit/*.c auth/*.c) \
            $(filter-out backend/main.c,$(wildcard backend/*.c)) \
            $(filter-out statectl/main.c,$(wildcard statectl/*.c)) \
            $(filter-out module/gen/main.c,$(wildcard module/gen/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(OBJDIR)/%.o) $(OBJDIR)/gen/ui_assets.o
LIB      := $(OBJDIR)/libstated.a
PROGRAMS := $(BINDIR)/stated $(BINDIR)/statectl $(BINDIR)/stackgen
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BINDIR)/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BINDIR)/replay_%)

.PHONY: all programs run test unit unit-bins bench deps lint cppcheck format format-check fuzz fuzz-run \
        clean help install check-deps golden-update memcheck deb
.DEFAULT_GOAL := all
# Keep intermediate objects of test binaries (they are reused by the next build).
.SECONDARY:

# Every target that compiles checks the dependencies first and then builds in a sub-make: the
# compiler flags come from pkg-config, which on a fresh machine answers only once the
# dependencies are installed, and under -j nothing may compile before that (a prerequisite
# list would let the compiler race the installer).
all: check-deps
	@$(MAKE) --no-print-directory programs

programs: $(PROGRAMS)

help:
	@echo "make            build build/bin/stated, statectl and stackgen"
	@echo "make run        build and start stated on 127.0.0.1:8080 in embedded mode (./data)"
	@echo "make test       every test: ASan/UBSan unit tests, fuzz corpus replay, golden files,"
	@echo "                protocol, end-to-end (terraform), PostgreSQL and Ceph RGW integration"
	@echo "make unit       only the unit tests, under ASan+UBSan"
	@echo "make bench      wrk/pgbench/curl benchmarks on loopback (bounded in time)"
	@echo "make fuzz       libFuzzer on each tests/fuzz target for FUZZ_SECS (default 60)"
	@echo "make lint       format-check + cppcheck"
	@echo "make deps       apt-get install the build and test dependencies (root)"
	@echo "make install    PREFIX=/usr/local DESTDIR="
	@echo "make deb        build/stated_VERSION_ARCH.deb, a Debian package (docs/packaging.md)"

# A missing library makes the build install the dependencies itself (run/test/all on a fresh
# machine); an explicit `make deps` always runs the installer.
check-deps:
	@pkg-config --exists $(PKGS) 2>/dev/null || $(MAKE) --no-print-directory deps
	@pkg-config --exists $(PKGS) || { echo "missing libraries: $(PKGS); run make deps as root" >&2; exit 1; }

# What `deps` runs; tests/suites/01-build.sh replaces it to play a fresh machine.
INSTALL_DEPS ?= tests/env/install-deps.sh
deps:
	$(INSTALL_DEPS)

$(OBJDIR)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# The console's pages (every file under ui/) compiled in by tools/embed.c: the generated C is
# remade when a file changes, or when one is added or removed (the directories' times change).
UI_FILES := $(sort $(shell find ui -type f 2>/dev/null))
UI_DIRS  := $(sort $(shell find ui -type d 2>/dev/null))
$(OUT)/tools/embed: tools/embed.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
$(OUT)/gen/ui_assets.c: $(OUT)/tools/embed $(UI_FILES) $(UI_DIRS)
	@mkdir -p $(@D)
	$(OUT)/tools/embed $@ ui $(UI_FILES)
$(OBJDIR)/gen/ui_assets.o: $(OUT)/gen/ui_assets.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BINDIR)/stated: $(OBJDIR)/backend/main.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BINDIR)/statectl: $(OBJDIR)/statectl/main.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BINDIR)/stackgen: $(OBJDIR)/module/gen/main.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BINDIR)/test_%: $(OBJDIR)/tests/unit/test_%.o $(OBJDIR)/tests/unit/t.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BINDIR)/replay_%: $(OBJDIR)/tests/fuzz/%.o $(OBJDIR)/tests/fuzz/replay.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests and corpus replay under ASan+UBSan; library globals suppressed in tests/lsan.supp.
SAN_ENV := ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
           UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
           LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0

unit-bins: $(UNIT_BIN) $(FUZZ_REPLAY)

# Test builds treat warnings as errors: a test that compiles with a warning may test nothing.
unit: check-deps
	@$(MAKE) --no-print-directory SAN=address,undefined WERROR=1 unit-bins
	@$(SAN_ENV) tests/run-unit.sh build/san/bin

run: all
	backend/run.sh

# The test services (PostgreSQL, Ceph RGW, awscli, wrk) are installed too, not only libraries:
# as root the installer adds whatever is missing; otherwise the suites report what they lack.
test: check-deps
	@tests/env/install-deps.sh || echo "make test: some test tools are missing (see above); their suites will say SKIPPED" >&2
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SAN=address,undefined WERROR=1 unit-bins
	@$(SAN_ENV) tests/run-all.sh

bench: all
	tests/bench/run.sh

golden-update: all
	tests/golden/run.sh --update

FUZZ_SECS ?= 60
fuzz: check-deps
	@$(MAKE) --no-print-directory fuzz-run
fuzz-run:
	@for f in $(FUZZ_SRC); do \
	  n=$$(basename $$f .c); mkdir -p build/fuzz tests/fuzz/corpus/$$n; \
	  clang $(CSTD) -I. $(PKG_CFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -o build/fuzz/$$n $$f \
	    $(filter-out $(OBJDIR)/backend/%,$(LIB_SRC)) $(LDLIBS) || exit 1; \
	  build/fuzz/$$n -max_total_time=$(FUZZ_SECS) -dict=tests/fuzz/$$n.dict tests/fuzz/corpus/$$n 2>&1 | tail -3 || exit 1; \
	done

memcheck: check-deps
	@$(MAKE) --no-print-directory unit-bins
	@for t in $(UNIT_BIN); do valgrind -q --error-exitcode=1 --leak-check=full $$t || exit 1; done

FORMAT_FILES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)
lint: format-check cppcheck
cppcheck:
	cppcheck --enable=warning,style,performance,portability --std=c11 --inline-suppr \
	  --error-exitcode=1 --suppress=missingIncludeSystem -q -I. common store s3 pg lock audit auth backend statectl module/gen tools

PREFIX  ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/stated
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	cp -r module/scaleway $(DESTDIR)$(PREFIX)/share/stated/

# The Debian package of the release build (packaging/debian/).
deb: all
	packaging/debian/build-deb.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
