# Build, test, benchmark and install the raft library.
#
#   make                 the static and shared libraries, in build/
#   make demo            the replicated counter demo (installs what it needs)
#   make test            everything that checks (installs what it needs);
#                        `make check` is the same
#   make install         PREFIX, LIBDIR, INCLUDEDIR, PKGCONFIGDIR, DESTDIR
#
# Other targets: test-unit, test-sim, test-asan, test-clang, valgrind,
# check-symbols, test-header, test-install, example-minimal,
# test-readme, test-svg, soak SEEDS=N, bench, bench-elections, fuzz,
# uninstall, clean. The user's CPPFLAGS, CFLAGS and LDFLAGS are added to
# every compile and link. Warnings are errors only where WERROR=-Werror is
# set, which `make test` and `make check` do.

VERSION       := 0.1.0
SOVERSION     := 0
PREFIX        ?= /usr/local
LIBDIR        ?= $(PREFIX)/lib
INCLUDEDIR    ?= $(PREFIX)/include
PKGCONFIGDIR  ?= $(LIBDIR)/pkgconfig
DESTDIR       ?=
CC            ?= cc
CXX           ?= c++
SEEDS         ?= 2000
# Seeds under memcheck (about 50 times slower than a plain run).
VALGRIND_SEEDS ?= 1000

WERROR   ?=
WARN     := -Wall -Wextra -Wpedantic $(WERROR) -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wconversion -Wno-sign-conversion
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L
OPT      ?= -O2 -g
CFLAGS   ?=
CPPFLAGS ?=
LDFLAGS  ?=
ALL_CFLAGS = $(CSTD) $(WARN) $(OPT) $(CPPFLAGS) $(CFLAGS)
LIB_CFLAGS = $(ALL_CFLAGS) -fPIC -fvisibility=hidden -I.
TEST_CFLAGS = $(CSTD) -Wall -Wextra -Wpedantic $(WERROR) -Wshadow $(OPT) $(CPPFLAGS) $(CFLAGS) -I. -Isrc
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

B        ?= build
SRCS     := $(wildcard src/*.c)
OBJS     := $(patsubst src/%.c,$(B)/src/%.o,$(SRCS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
SIM_LIB_SRCS := $(filter-out tests/sim/main.c,$(wildcard tests/sim/*.c))
BENCH_SRCS := $(wildcard tests/bench/*.c)

LIBA     := $(B)/libraft.a
LIBSO    := $(B)/libraft.so.$(VERSION)

.PHONY: all test check test-all test-unit test-sim test-asan test-clang valgrind \
        soak bench bench-elections install uninstall clean check-symbols test-header \
        test-install deps-test deps-demo example-minimal test-readme test-svg FORCE

all: $(LIBA) $(LIBSO)

# Everything built in $(B) depends on this file, rewritten only when the
# compiler or the flags change, so `make test` after a plain `make` (or a
# different CFLAGS) rebuilds rather than reusing objects built otherwise.
FLAGS := $(B)/.flags
$(FLAGS): FORCE
	@mkdir -p $(B)
	@echo '$(CC) $(CXX) $(LIB_CFLAGS) $(TEST_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || \
	  echo '$(CC) $(CXX) $(LIB_CFLAGS) $(TEST_CFLAGS) $(LDFLAGS)' > $@

# One set of position-independent objects serves both libraries.
$(B)/src/%.o: src/%.c raft.h $(wildcard src/*.h) $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(LIBA): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(LIBSO): $(OBJS)
	$(CC) -shared -Wl,-soname,libraft.so.$(SOVERSION) $(LDFLAGS) -o $@ $(OBJS)
	ln -sf libraft.so.$(VERSION) $(B)/libraft.so.$(SOVERSION)
	ln -sf libraft.so.$(VERSION) $(B)/libraft.so

# ---- tests ---------------------------------------------------------------

$(B)/test-unit: $(UNIT_SRCS) $(SIM_LIB_SRCS) $(wildcard tests/unit/*.h tests/sim/*.h) $(LIBA)
	$(CC) $(TEST_CFLAGS) $(UNIT_SRCS) $(SIM_LIB_SRCS) $(LIBA) $(LDFLAGS) $(CHECK_LIBS) -o $@

$(B)/sim: tests/sim/main.c $(SIM_LIB_SRCS) $(wildcard tests/sim/*.h) $(LIBA)
	$(CC) $(TEST_CFLAGS) tests/sim/main.c $(SIM_LIB_SRCS) $(LIBA) $(LDFLAGS) -o $@

test-unit: $(B)/test-unit
	$(B)/test-unit

test-sim: $(B)/sim
	$(B)/sim --seeds $(SEEDS)

# Election figures, PreVote and CheckQuorum on and off (not part of test:
# it prints measurements and asserts only the safety checks).
bench-elections: $(B)/sim
	$(B)/sim --figures --seeds $${FIG_SEEDS:-20}

# The timeline picture (sim --svg) of two runs, checked for shape; the
# check must also reject a truncated picture. The README's picture must be
# what the simulator draws for its seed today (a change to the simulator
# that changes that run changes the picture and its description).
test-svg: $(B)/sim
	$(B)/sim --seed 331 --svg $(B)/readme-timeline.svg > /dev/null
	@if ! cmp -s docs/timeline.svg $(B)/readme-timeline.svg; then \
	    echo "docs/timeline.svg is not what 'sim --seed 331 --svg' draws now:"; \
	    echo "redraw it (README.md, 'A picture of a run') and check its description"; \
	    exit 1; fi
	$(B)/sim --seed 35 --svg $(B)/seed-35.svg > /dev/null
	sh tests/sim/check_svg.sh $(B)/seed-35.svg 5
	$(B)/sim --seed 1 --nodes 9 --events 20000 --svg $(B)/seed-1.svg > /dev/null
	sh tests/sim/check_svg.sh $(B)/seed-1.svg 9
	head -c 4000 $(B)/seed-35.svg > $(B)/seed-35-cut.svg
	@if sh tests/sim/check_svg.sh $(B)/seed-35-cut.svg > /dev/null; then \
	    echo "check_svg.sh accepted a truncated picture"; exit 1; fi
	@echo "svg ok"

check-symbols: $(LIBA) $(LIBSO)
	@bad=$$(nm -g --defined-only $(LIBA) | awk 'NF==3 {print $$3}' | grep -v '^raft_' | grep -v '^raft__' || true); \
	 if [ -n "$$bad" ]; then echo "non-raft globals in libraft.a: $$bad"; exit 1; fi
	@bad=$$(nm -D --defined-only $(LIBSO) | awk 'NF==3 {print $$3}' | grep -v '^raft_' || true); \
	 if [ -n "$$bad" ]; then echo "non-raft exports in libraft.so: $$bad"; exit 1; fi
	@bad=$$(nm -D --defined-only $(LIBSO) | awk 'NF==3 {print $$3}' | grep '^raft__' || true); \
	 if [ -n "$$bad" ]; then echo "internal symbols exported from libraft.so: $$bad"; exit 1; fi
	@echo "symbols ok: only raft_* exported"

# Sanitizer build in its own directory, with clang: its UBSan also reports
# pointer arithmetic on NULL, which gcc's does not.
test-asan:
	$(MAKE) B=build/asan CC=clang OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    build/asan/test-unit build/asan/sim
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/asan/test-unit
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build/asan/sim --seeds $(SEEDS)

# Everything must also compile warning-free with clang.
test-clang:
	$(MAKE) B=build/clang CC=clang build/clang/libraft.a build/clang/libraft.so.$(VERSION) \
	    build/clang/test-unit build/clang/sim build/clang/bench \
	    build/clang/counter-server build/clang/counter-cli build/clang/counter-e2e \
	    build/clang/counter-bench build/clang/counter-storage-test build/clang/counter-sessions-test \
	    build/clang/minimal

VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all

# The unit tests and VALGRIND_SEEDS simulator seeds under memcheck, and
# counter-cli's commands against servers that cannot be reached.
valgrind: $(B)/test-unit $(B)/sim $(B)/counter-cli
	CK_FORK=no $(VALGRIND) $(B)/test-unit
	$(VALGRIND) $(B)/sim --seeds $(VALGRIND_SEEDS)
	bash tests/e2e/cli_unreachable.sh $(B) "$(VALGRIND)"

# The README's test command: installs what is missing (or says how), then
# builds everything with warnings as errors and runs every check.
test check:
	@bash scripts/deps.sh test
	@$(MAKE) --no-print-directory WERROR=-Werror test-all

test-all: all check-symbols test-header test-install example-minimal test-clang test-unit test-sim test-svg \
          test-asan valgrind fuzz-smoke test-e2e
	@echo "make test: all passed"

deps-test:
	@bash scripts/deps.sh test

deps-demo:
	@bash scripts/deps.sh demo

# The public header alone, as C99, C11, C17 and C2x with gcc and clang and
# as C++11 through C++20 with g++ and clang++, warning-free. (Not with
# -Wshadow in C++, which reports raft_status() and raft_progress() for
# sharing their struct's name, as POSIX's stat() does.)
HEADER_TEST := tests/header/header_test.c
test-header: $(HEADER_TEST) raft.h
	@for cc in $(CC) clang; do for std in c99 c11 c17 c2x; do \
	  $$cc -std=$$std -Wall -Wextra -Wpedantic -Werror -Wshadow -I. \
	       -c $(HEADER_TEST) -o /dev/null || exit 1; done; done
	@for cxx in $(CXX) clang++; do for std in c++11 c++14 c++17 c++20; do \
	  $$cxx -x c++ -std=$$std -Wall -Wextra -Wpedantic -Werror -I. \
	       -c $(HEADER_TEST) -o /dev/null || exit 1; done; done
	@echo "header ok: C99, C11, C17, C2x; C++11, C++14, C++17, C++20"

# Install into a staging directory, then build a program against the
# installed header and libraries: statically, dynamically (found through
# an rpath), and through the installed pkg-config file.
STAGE := $(B)/stage
test-install: all
	@rm -rf $(STAGE)
	@$(MAKE) --no-print-directory install DESTDIR=$(abspath $(STAGE)) PREFIX=/usr/local >/dev/null
	$(CC) -Wall -Wextra $(WERROR) $(CPPFLAGS) $(CFLAGS) -I$(STAGE)/usr/local/include tests/header/use_installed.c \
	    $(STAGE)/usr/local/lib/libraft.a $(LDFLAGS) -o $(STAGE)/static
	$(STAGE)/static static
	$(CC) -Wall -Wextra $(WERROR) $(CPPFLAGS) $(CFLAGS) -I$(STAGE)/usr/local/include tests/header/use_installed.c \
	    -L$(STAGE)/usr/local/lib -Wl,-rpath,$(abspath $(STAGE))/usr/local/lib -lraft $(LDFLAGS) \
	    -o $(STAGE)/dynamic
	$(STAGE)/dynamic dynamic
	$(CC) -Wall -Wextra $(WERROR) $(CPPFLAGS) $(CFLAGS) tests/header/use_installed.c \
	    $$(PKG_CONFIG_PATH=$(STAGE)/usr/local/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$(abspath $(STAGE)) \
	       pkg-config --cflags --libs raft) -Wl,-rpath,$(abspath $(STAGE))/usr/local/lib $(LDFLAGS) \
	    -o $(STAGE)/pkgconfig
	$(STAGE)/pkgconfig pkg-config

soak: $(B)/sim
	$(B)/sim --seeds $(SEEDS) --first $${FIRST:-0}

# ---- minimal example -------------------------------------------------------
# Three nodes in one process, in memory; exits non-zero if they disagree.
# test-readme checks that README.md's code is copied from it verbatim.

$(B)/minimal: examples/minimal/minimal.c $(LIBA)
	$(CC) $(TEST_CFLAGS) $< $(LIBA) $(LDFLAGS) -o $@

example-minimal: $(B)/minimal test-readme
	$(B)/minimal

test-readme:
	bash tests/readme/check.sh

# ---- benchmark -------------------------------------------------------------

$(B)/bench: $(BENCH_SRCS) $(wildcard tests/bench/*.h) $(LIBA)
	$(CC) $(TEST_CFLAGS) $(BENCH_SRCS) $(LIBA) $(LDFLAGS) -o $@

bench: $(B)/bench
	bash tests/bench/run.sh $(B)/bench

# ---- fuzzing -----------------------------------------------------------------
# libFuzzer targets, built with clang into $(B)/fuzz/<target>; see
# fuzz/README.md. The library sources are compiled into each binary so they
# are instrumented too.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_TARGETS := fuzz_decode fuzz_roundtrip fuzz_node fuzz_sim fuzz_storage
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -Wall -Wextra -Wpedantic $(WERROR) -I. -Isrc
FUZZ_BINS    := $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))
FUZZ_DEPS    := $(SRCS) raft.h $(wildcard src/*.h) fuzz/fuzz.h $(FLAGS)

.PHONY: fuzz fuzz-smoke fuzz-corpus

fuzz: $(FUZZ_BINS)

$(B)/fuzz/fuzz_sim: fuzz/fuzz_sim.c $(FUZZ_DEPS) $(SIM_LIB_SRCS) $(wildcard tests/sim/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests/sim $< $(SIM_LIB_SRCS) $(SRCS) -o $@

# The counter example's storage, with the helpers it uses (no library code).
FUZZ_STORAGE_SRCS := examples/counter/storage.c examples/counter/proto.c
$(B)/fuzz/fuzz_storage: fuzz/fuzz_storage.c $(FUZZ_DEPS) $(FUZZ_STORAGE_SRCS) \
                        examples/counter/storage.h examples/counter/proto.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iexamples/counter $< $(FUZZ_STORAGE_SRCS) -o $@

$(B)/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(SRCS) -o $@

# Each target for FUZZ_SECONDS from a scratch copy of its seed corpus (plus
# its regression inputs), FUZZ_JOBS at a time; fails on any crash, leak,
# timeout or check failure.
fuzz-smoke: $(FUZZ_BINS)
	bash fuzz/smoke.sh $(B)/fuzz $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

# Regenerate the committed seed corpora under fuzz/corpus/.
$(B)/fuzz/gen_corpus: fuzz/gen_corpus.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $< $(SRCS) -o $@

fuzz-corpus: $(B)/fuzz/gen_corpus
	$(B)/fuzz/gen_corpus fuzz/corpus

# ---- install -------------------------------------------------------------
# The runtime linker finds the installed libraft.so.0 by itself when LIBDIR
# is one of its directories (/usr/local/lib and /usr/lib on Debian): a
# plain install as root refreshes its cache with ldconfig. For any other
# LIBDIR, link with -Wl,-rpath,$(LIBDIR) or set LD_LIBRARY_PATH.

install: all
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 raft.h $(DESTDIR)$(INCLUDEDIR)/raft.h
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/libraft.a
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/libraft.so.$(VERSION)
	ln -sf libraft.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libraft.so.$(SOVERSION)
	ln -sf libraft.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libraft.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' raft.pc.in \
	    > $(DESTDIR)$(PKGCONFIGDIR)/raft.pc
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
	  ldconfig; echo "ldconfig: runtime linker cache refreshed"; fi

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/raft.h $(DESTDIR)$(LIBDIR)/libraft.a \
	      $(DESTDIR)$(LIBDIR)/libraft.so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR)/libraft.so.$(SOVERSION) \
	      $(DESTDIR)$(LIBDIR)/libraft.so \
	      $(DESTDIR)$(PKGCONFIGDIR)/raft.pc

clean:
	rm -rf build

include examples/counter/counter.mk
