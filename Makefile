# Extend attention, one sync at a time.
#
#   make compare   build, then check every contract on tests/cases/default.cases
#   make test      CMocka suites, then again under AddressSanitizer + UBSan
#   make docs      Doxygen HTML into build/docs (warnings are errors)
#   make clean
#
# The first target a user runs also finds (or installs) the dependencies.

CC      ?= cc
BUILD   ?= build
SAN     ?=
# FMA instructions make the reference's fmaf a single instruction; without
# them fmaf is a (correct, exact, slower) library call. Either way the bits agree.
SIMD    := $(shell grep -qw fma /proc/cpuinfo 2>/dev/null && echo -mfma)
# -ffp-contract=off: the compiler must never fuse a*b+c on its own (DESIGN 2).
CFLAGS  := -std=c11 -O3 -g -Wall -Wextra -Wno-unused-parameter -ffp-contract=off $(SIMD) \
           -Iinclude -Ireference -DEA_SOURCE_DIR=\"$(CURDIR)\" $(SAN)
LDFLAGS := $(SAN)

# Evaluated when a recipe runs, i.e. after `deps` had a chance to install them.
BLAS_CFLAGS   = $(shell pkg-config --cflags openblas)
BLAS_LIBS     = $(shell pkg-config --libs openblas)
CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka)
CMOCKA_LIBS   = $(shell pkg-config --libs cmocka)

LIB_SRC := reference/status.c reference/validate.c reference/unified.c reference/canonical.c \
           reference/two_stage.c reference/blas.c reference/naive64.c reference/cases.c \
           reference/problem.c reference/check.c reference/invariance.c
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB     := $(BUILD)/lib/libea.a
HEADERS := $(wildcard include/*.h reference/*.h tests/*.h)

TESTS     := test_math test_validate test_cases test_reference
TEST_BINS := $(TESTS:%=$(BUILD)/tests/%)
TOOLS     := $(BUILD)/bin/ea-compare

.SECONDARY:
.PHONY: all deps compare test test-cpu test-asan docs clean
.DEFAULT_GOAL := all

all: $(LIB) $(TOOLS) $(TEST_BINS)

deps:
	@bash tools/deps.sh

$(BUILD)/obj/%.o: %.c $(HEADERS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BLAS_CFLAGS) $(CMOCKA_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(BUILD)/bin/ea-compare: $(BUILD)/obj/tools/ea_compare.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(BLAS_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(CMOCKA_LIBS) $(BLAS_LIBS) -lm

compare: all
	$(BUILD)/bin/ea-compare --cases tests/cases/default.cases --backend cpu

# Each suite is its own process; the verdict is the exit code of every one.
test-cpu: all
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; OPENBLAS_NUM_THREADS=2 $$t; done
	@echo "== tests/cli_test.sh"; bash tests/cli_test.sh $(BUILD)

test-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" test-cpu

test: test-cpu test-asan
	@echo "make test: all suites passed (plain and ASan+UBSan)"

docs: | deps
	@mkdir -p $(BUILD)/docs
	doxygen docs/Doxyfile

clean:
	rm -rf build
