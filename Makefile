# Build, test, benchmark and install the raft library.
# Targets: all (default), test (everything below that checks), test-unit,
# test-sim, test-svg, test-asan, test-clang, valgrind, check-symbols,
# soak SEEDS=N, bench, install, uninstall, clean.

VERSION       := 0.1.0
SOVERSION     := 0
PREFIX        ?= /usr/local
DESTDIR       ?=
CC            ?= cc
SEEDS         ?= 2000

WARN     := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wconversion -Wno-sign-conversion
CSTD     := -std=c11 -D_POSIX_C_SOURCE=200809L
OPT      ?= -O2 -g
CFLAGS   ?=
ALL_CFLAGS = $(CSTD) $(WARN) $(OPT) $(CFLAGS)
LIB_CFLAGS = $(ALL_CFLAGS) -fPIC -fvisibility=hidden -I.
TEST_CFLAGS = $(CSTD) -Wall -Wextra -Wpedantic -Werror -Wshadow $(OPT) $(CFLAGS) -I. -Isrc
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

B        ?= build
SRCS     := $(wildcard src/*.c)
OBJS     := $(patsubst src/%.c,$(B)/src/%.o,$(SRCS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
SIM_LIB_SRCS := $(filter-out tests/sim/main.c,$(wildcard tests/sim/*.c))
BENCH_SRCS := $(wildcard tests/bench/*.c)

LIBA     := $(B)/libraft.a
LIBSO    := $(B)/libraft.so.$(VERSION)

.PHONY: all test test-unit test-sim test-svg test-asan test-clang valgrind \
        soak bench install uninstall clean check-symbols

all: $(LIBA) $(LIBSO)

# One set of position-independent objects serves both libraries.
$(B)/src/%.o: src/%.c raft.h $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(LIBA): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(LIBSO): $(OBJS)
	$(CC) -shared -Wl,-soname,libraft.so.$(SOVERSION) -o $@ $^
	ln -sf libraft.so.$(VERSION) $(B)/libraft.so.$(SOVERSION)
	ln -sf libraft.so.$(VERSION) $(B)/libraft.so

# ---- tests ---------------------------------------------------------------

$(B)/test-unit: $(UNIT_SRCS) $(SIM_LIB_SRCS) $(wildcard tests/unit/*.h tests/sim/*.h) $(LIBA)
	$(CC) $(TEST_CFLAGS) $(UNIT_SRCS) $(SIM_LIB_SRCS) $(LIBA) $(CHECK_LIBS) -o $@

$(B)/sim: tests/sim/main.c $(SIM_LIB_SRCS) $(wildcard tests/sim/*.h) $(LIBA)
	$(CC) $(TEST_CFLAGS) tests/sim/main.c $(SIM_LIB_SRCS) $(LIBA) -o $@

test-unit: $(B)/test-unit
	$(B)/test-unit

test-sim: $(B)/sim
	$(B)/sim --seeds $(SEEDS)

# The timeline picture (sim --svg) of two runs, checked for shape; the
# check must also reject a truncated picture.
test-svg: $(B)/sim
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
	    build/clang/counter-bench

VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all

# The whole suite under memcheck.
valgrind: $(B)/test-unit $(B)/sim
	CK_FORK=no $(VALGRIND) $(B)/test-unit
	$(VALGRIND) $(B)/sim --seeds $(SEEDS)

test: all check-symbols test-clang test-unit test-sim test-svg test-asan valgrind fuzz-smoke test-e2e
	@echo "make test: all passed"

soak: $(B)/sim
	$(B)/sim --seeds $(SEEDS) --first $${FIRST:-0}

# ---- benchmark -------------------------------------------------------------

$(B)/bench: $(BENCH_SRCS) $(wildcard tests/bench/*.h) $(LIBA)
	$(CC) $(TEST_CFLAGS) $(BENCH_SRCS) $(LIBA) -o $@

bench: $(B)/bench
	bash tests/bench/run.sh $(B)/bench

# ---- fuzzing -----------------------------------------------------------------
# libFuzzer targets, built with clang into $(B)/fuzz/<target>; see
# fuzz/README.md. The library sources are compiled into each binary so they
# are instrumented too.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2
FUZZ_TARGETS := fuzz_decode fuzz_roundtrip fuzz_node fuzz_sim
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -Wall -Wextra -Wpedantic -Werror -I. -Isrc
FUZZ_BINS    := $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))
FUZZ_DEPS    := $(SRCS) raft.h $(wildcard src/*.h) fuzz/fuzz.h

.PHONY: fuzz fuzz-smoke fuzz-corpus

fuzz: $(FUZZ_BINS)

$(B)/fuzz/fuzz_sim: fuzz/fuzz_sim.c $(FUZZ_DEPS) $(SIM_LIB_SRCS) $(wildcard tests/sim/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests/sim $< $(SIM_LIB_SRCS) $(SRCS) -o $@

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

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 raft.h $(DESTDIR)$(PREFIX)/include/raft.h
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/libraft.a
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/libraft.so.$(VERSION)
	ln -sf libraft.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libraft.so.$(SOVERSION)
	ln -sf libraft.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libraft.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' raft.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/raft.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/raft.h $(DESTDIR)$(PREFIX)/lib/libraft.a \
	      $(DESTDIR)$(PREFIX)/lib/libraft.so.$(VERSION) \
	      $(DESTDIR)$(PREFIX)/lib/libraft.so.$(SOVERSION) \
	      $(DESTDIR)$(PREFIX)/lib/libraft.so \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/raft.pc

clean:
	rm -rf build

include examples/counter/counter.mk
