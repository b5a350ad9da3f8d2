# pxfs - a proxy store with a filesystem face.  See README.md.
#
#   make            build store/libstore.a, fs/ and tools/pxfs (in $(O)/)
#   make check      build and run every test (unit suites, then it_*.sh)
#   make asan       the same under ASan+UBSan, in build-asan/
#   make tsan       the same under TSan, in build-tsan/
#   make fuzz       build the libFuzzer targets with clang in build-fuzz/
#                   and run each for FUZZ_SECONDS (60) on a copy of its
#                   corpus; fuzz-smoke runs each a few seconds and replays
#                   every regression input (CI); fuzz-seeds remakes the
#                   seed corpora
#   make tsan-smoke the concurrency tests (threads, single flight, many
#                   readers and writers) under TSan, in build-tsan/
#   make test       install the Debian packages, then check, asan,
#                   tsan-smoke and fuzz-smoke
#   make demo       install the Debian packages, build, run the demo
#   make crash      the crash-consistency test, CRASH_ITERS (400)
#                   iterations with a random seed (CRASH_SEED to replay)
#   make load       the load test for LOAD_SECONDS (60) over LOAD_FILES
#                   (10000): 64 readers, 8 writers
#   make bench      install the Debian packages and the peers, build, run
#                   the benchmarks (ratios against references in one run;
#                   BENCH_* knobs in tests/bench/run.sh)

CC     ?= cc
CFLAGS ?= -O2 -g
O      ?= build
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wvla -Wwrite-strings -Wpointer-arith -Wcast-qual \
	-Wswitch-enum -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARN += -Werror
endif
ifeq ($(SAN),1)
SANFL := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
endif

STORE_PKGS := sqlite3 libzstd libcrypto libmagic hiredis
FS_PKGS    := fuse3
TEST_PKGS  := check

pkgcflags = $(shell pkg-config --cflags $(1))
pkglibs   = $(shell pkg-config --libs $(1))

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread \
	$(WARN) $(SANFL) $(PKG_CFLAGS) $(CFLAGS)

STORE_SRC := $(sort $(wildcard store/*.c))
FS_SRC    := $(sort $(wildcard fs/*.c))
TOOLS_SRC := $(sort $(wildcard tools/*.c))
CHECK_SRC := $(sort $(wildcard tests/check_*.c))
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZLIB_SRC := $(sort $(wildcard tests/fuzz/fuzzlib*.c))
POSIX_SRC := $(sort $(wildcard tests/posix/*.c))

STORE_OBJ := $(STORE_SRC:%.c=$(O)/%.o)
FS_OBJ    := $(FS_SRC:%.c=$(O)/%.o)
TOOLS_OBJ := $(TOOLS_SRC:%.c=$(O)/%.o)
CHECKS    := $(CHECK_SRC:tests/%.c=$(O)/tests/%)
FUZZLIB_OBJ := $(FUZZLIB_SRC:%.c=$(O)/%.o)
FUZZERS   := $(FUZZ_SRC:tests/%.c=$(O)/tests/%)
POSIX     := $(POSIX_SRC:tests/%.c=$(O)/tests/%)

LIBSTORE := $(O)/store/libstore.a
LIBFS    := $(O)/fs/libfs.a
LIBFUZZ  := $(O)/tests/fuzz/libfuzzlib.a
PXFS     := $(O)/pxfs

.PHONY: all check unit integration asan tsan test demo bench deps clean \
	install uninstall fuzz fuzz-smoke fuzz-seeds fuzz-build crash \
	tsan-smoke load

all: $(PXFS) $(CHECKS) $(POSIX)

$(O)/store/%.o: PKG_CFLAGS = $(call pkgcflags,$(STORE_PKGS))
$(O)/fs/%.o:    PKG_CFLAGS = $(call pkgcflags,$(FS_PKGS)) -Istore
$(O)/tools/%.o: PKG_CFLAGS = $(call pkgcflags,$(FS_PKGS)) -Istore -Ifs
$(O)/tests/%.o: PKG_CFLAGS = $(call pkgcflags,$(TEST_PKGS) $(STORE_PKGS)) \
	-Istore
$(O)/tests/fuzz/%.o: PKG_CFLAGS = $(call pkgcflags,$(STORE_PKGS)) -Istore

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBSTORE): $(STORE_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIBFS): $(FS_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(PXFS): $(TOOLS_OBJ) $(LIBFS) $(LIBSTORE)
	$(CC) $(SANFL) -pthread $(LDFLAGS) -o $@ $(TOOLS_OBJ) $(LIBFS) \
		$(LIBSTORE) $(call pkglibs,$(FS_PKGS) $(STORE_PKGS))

$(O)/tests/check_%: $(O)/tests/check_%.o $(LIBSTORE)
	$(CC) $(SANFL) -pthread $(LDFLAGS) -o $@ $< $(LIBSTORE) \
		$(call pkglibs,$(TEST_PKGS) $(STORE_PKGS))

# The inode table is fs/ code without FUSE: its suite links it alone.
$(O)/tests/check_inode.o: PKG_CFLAGS = \
	$(call pkgcflags,$(TEST_PKGS) $(STORE_PKGS)) -Istore -Ifs
$(O)/tests/check_inode: $(O)/tests/check_inode.o $(O)/fs/inode.o $(LIBSTORE)
	$(CC) $(SANFL) -pthread $(LDFLAGS) -o $@ $< $(O)/fs/inode.o \
		$(LIBSTORE) $(call pkglibs,$(TEST_PKGS) $(STORE_PKGS))

# The conformance suite and fsx that tests/it_posix.sh runs on a mount:
# plain C programs of one file each, no libraries.
$(O)/tests/posix/%: tests/posix/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

# The fuzz targets, built only by the fuzz-build below (clang, libFuzzer).
# fuzzlib*.o go in an archive so that a target links only the helpers it
# uses (fuzzlib_redis.o replaces getaddrinfo).
$(LIBFUZZ): $(FUZZLIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# Not intermediates: make would delete them and compile again each run.
.SECONDARY: $(FUZZERS:%=%.o)

$(O)/tests/fuzz/fuzz_%: $(O)/tests/fuzz/fuzz_%.o $(LIBFUZZ) $(LIBSTORE)
	$(CC) $(SANFL) -fsanitize=fuzzer -pthread $(LDFLAGS) -o $@ $< \
		$(LIBFUZZ) $(LIBSTORE) $(call pkglibs,$(STORE_PKGS))

# Unit suites first (fast, no mounts), then the integration scripts, which
# find the binary through PXFS.
check: unit integration

unit: $(CHECKS)
	@set -e; for t in $(CHECKS); do echo "== $$t"; $$t; done

integration: $(PXFS) $(POSIX)
	@PXFS=$(abspath $(PXFS)) tests/run_it.sh

# The long-running tests shorter: ASan looks for memory errors on the
# paths they take, which fewer iterations take too (make test's time).
# Reports go to files, so that those of the mount daemons (whose stderr
# is /dev/null once daemonized) count too: any file there fails the run.
SANLOG := $(abspath build-asan)/sanitizer-reports
asan:
	rm -rf $(SANLOG) && mkdir -p $(SANLOG)
	ASAN_OPTIONS=log_path=$(SANLOG)/asan \
	UBSAN_OPTIONS=log_path=$(SANLOG)/ubsan:print_stacktrace=1 \
	CRASH_ITERS=20 LOAD_SECONDS=3 LOAD_FILES=1000 \
		$(MAKE) O=build-asan SAN=1 WERROR=1 CFLAGS="-O1 -g" check
	@if [ -n "$$(ls -A $(SANLOG))" ]; then \
		echo "asan: sanitizer reports in $(SANLOG):" >&2; \
		head -n 40 $(SANLOG)/* >&2; exit 1; \
	fi

tsan:
	$(MAKE) O=build-tsan SANFL=-fsanitize=thread WERROR=1 \
		CFLAGS="-O1 -g" check

# Only the tests where threads share things, every report fatal.
tsan-smoke:
	$(MAKE) O=build-tsan SANFL=-fsanitize=thread WERROR=1 \
		CFLAGS="-O1 -g" all
	@tests/tsan_smoke.sh build-tsan

# libFuzzer needs clang; libstore is built again with coverage
# instrumentation, ASan and UBSan, in its own tree.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_SANFL := -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_MAKE = $(MAKE) O=build-fuzz CC=$(FUZZ_CC) SANFL="$(FUZZ_SANFL)" \
	WERROR=1 CFLAGS="-O1 -g"

fuzz-build: $(FUZZERS)

fuzz:
	$(FUZZ_MAKE) fuzz-build
	@tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

fuzz-smoke:
	$(FUZZ_MAKE) fuzz-build
	@tests/fuzz/run.sh --smoke build-fuzz $(FUZZ_SMOKE_SECONDS)

fuzz-seeds:
	$(FUZZ_MAKE) fuzz-build
	@tests/fuzz/run.sh --seeds build-fuzz

deps:
	@tools/deps.sh

# The README's two commands.
test: deps
	$(MAKE) WERROR=1 check
	$(MAKE) asan
	$(MAKE) tsan-smoke
	$(MAKE) fuzz-smoke

demo: deps
	$(MAKE) WERROR=1 $(PXFS)
	@PXFS=$(abspath $(PXFS)) tools/demo.sh

# A helper that makes a namespace of a million entries quickly.
MKINDEX := $(O)/tests/bench/mkindex

$(MKINDEX): $(O)/tests/bench/mkindex.o $(LIBSTORE)
	$(CC) $(SANFL) -pthread $(LDFLAGS) -o $@ $< $(LIBSTORE) \
		$(call pkglibs,$(STORE_PKGS))

bench: deps
	@tests/bench/deps.sh
	$(MAKE) WERROR=1 $(PXFS) $(MKINDEX)
	@PXFS=$(abspath $(PXFS)) MKINDEX=$(abspath $(MKINDEX)) \
		tests/bench/run.sh

# it_crash.sh at length (make check runs 50 iterations, seed 1).
CRASH_ITERS ?= 400
crash: $(PXFS)
	@seed=$${CRASH_SEED:-$$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}; \
	echo "make crash: $(CRASH_ITERS) iterations, CRASH_SEED=$$seed"; \
	CRASH_ITERS=$(CRASH_ITERS) CRASH_SEED=$$seed IT_TIMEOUT=3600 \
		IT_VERBOSE=1 \
		PXFS=$(abspath $(PXFS)) tests/run_it.sh it_crash

# it_load.sh at length (make check runs 5 s over 3000 files).
LOAD_SECONDS ?= 60
LOAD_FILES ?= 10000
load: $(PXFS) $(POSIX)
	@LOAD_SECONDS=$(LOAD_SECONDS) LOAD_FILES=$(LOAD_FILES) \
		IT_TIMEOUT=$$(( $(LOAD_SECONDS) + 600 )) IT_VERBOSE=1 \
		PXFS=$(abspath $(PXFS)) tests/run_it.sh it_load

# make install [PREFIX=/usr/local] [DESTDIR=staging]: the command, its
# mount(8) helper (mount.pxfs, and mount.fuse.pxfs for type fuse.pxfs),
# the manual page and the bash completion.  mount(8) looks for helpers in
# /sbin only: with PREFIX=/usr it finds mount.fuse.pxfs; otherwise fuse3's
# mount.fuse runs pxfs from /usr/local/bin, /usr/bin or /bin.
install: $(PXFS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(PXFS) $(DESTDIR)$(BINDIR)/pxfs
	sed 's|@BINDIR@|$(BINDIR)|g' tools/mount.pxfs.in >$(O)/mount.pxfs
	install -m 0755 $(O)/mount.pxfs $(DESTDIR)$(SBINDIR)/mount.pxfs
	ln -sf mount.pxfs $(DESTDIR)$(SBINDIR)/mount.fuse.pxfs
	install -m 0644 tools/pxfs.1 $(DESTDIR)$(MANDIR)/man1/pxfs.1
	install -m 0644 tools/pxfs.bash $(DESTDIR)$(BASHCOMPDIR)/pxfs

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pxfs $(DESTDIR)$(SBINDIR)/mount.pxfs \
		$(DESTDIR)$(SBINDIR)/mount.fuse.pxfs \
		$(DESTDIR)$(MANDIR)/man1/pxfs.1 $(DESTDIR)$(BASHCOMPDIR)/pxfs

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(shell find $(O) -name '*.d' 2>/dev/null)
