# Extend attention, one sync at a time.
#
#   make compare   build, then check every contract on tests/cases/default.cases
#   make test      CMocka suites, then again under AddressSanitizer + UBSan
#   make docs      Doxygen HTML into build/docs (warnings are errors)
#   make bench     benchmarks (GPU parts where there is a GPU), results in bench/results
#   make fuzz      libFuzzer on the case parser (short and long files), validation + references, the
#                  generator with invented cases, the tensor-core model vs DESIGN 6.1 (FUZZ_SECONDS each)
#   make exercise N   check your solution of workshop exercise N (tutorials/)
#   make install   the library (static and shared), public headers, ea.pc and the tools into
#                  PREFIX (/usr/local; DESTDIR honoured); make uninstall removes them
#   make clean
#
# The first target a user runs also finds (or installs) the dependencies.

SHELL   := /bin/bash
CC      ?= cc
BUILD   ?= build
SAN     ?=
# FMA instructions make the reference's fmaf a single instruction; without
# them fmaf is a (correct, exact, slower) library call. AVX2 lets the tensor-core
# model's integer loops run 8 lanes wide. Either way the bits agree.
SIMD    := $(shell grep -qw fma /proc/cpuinfo 2>/dev/null && echo -mfma) \
           $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && echo -mavx2)
# -ffp-contract=off: the compiler must never fuse a*b+c on its own (DESIGN 2). -fPIC: the same
# objects make libea.a and libea.so.
CFLAGS  := -std=c11 -pthread -O3 -g -fPIC -Wall -Wextra -Wno-unused-parameter -ffp-contract=off $(SIMD) \
           -Iinclude -DEA_SOURCE_DIR=\"$(CURDIR)\" $(SAN)
LDFLAGS := -pthread $(SAN)
# The library's internal header (reference/ea_internal.h) is for reference/ and the tests only:
# optimized/, tools/ and bench/ build on the public headers (and optimized/'s own).
$(BUILD)/obj/reference/%.o $(BUILD)/obj/tests/%.o: private CFLAGS += -Ireference

# `make install`: where, and the headers a user of the library gets (test-only headers stay out).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PUBLIC_HEADERS := include/ea.h include/ea_math.h include/ea_rules.h include/ea_cases.h include/ea_cuda.h \
                  include/ea_cuda_runner.h include/ea_mma.h include/ea_mma_vectors.h
VERSION    := 0.1

# CUDA: built when nvcc is found (CI has it, with no GPU: the code compiles and
# the GPU tests skip). -fmad=false: nvcc must not fuse a*b+c either; no fast math.
NVCC      ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
# CUDA_ARCH, the GPU code nvcc generates. Default: the architecture of the first GPU nvidia-smi
# lists (compute capability 9.0 -> sm_90 code plus its PTX). With no GPU, or one older than sm_80
# (the tensor-core kernels need mma.sync bf16, cp.async: sm_80+) or unknown to this nvcc, a fat
# binary: sm_80, sm_86, sm_89 and sm_90 code plus compute_90 PTX (newer cards compile the PTX when
# they load it). The fat default is what the device-copy workflow relies on: built here without a
# GPU, the binaries carried to an H200 run their sm_90 code. Its sm_86 and sm_89 code is compiled
# from the compute_80 PTX: nvcc's front end runs twice rather than four times, and no kernel uses
# anything sm_86 or sm_89 added. It still costs build time (6_tensor_cores.cu takes about 3x as long
# as for one architecture); to build for one card only, say which (objects are rebuilt when the
# nvcc command line changes, build/cuda/flags):
#   make CUDA_ARCH="-gencode arch=compute_90,code=sm_90"
CUDA_FAT := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_80,code=sm_86 \
            -gencode arch=compute_80,code=sm_89 -gencode arch=compute_90,code=sm_90 \
            -gencode arch=compute_90,code=compute_90
, := ,
ifneq ($(NVCC),)
ifeq ($(origin CUDA_ARCH),undefined)
# "9.0, NVIDIA H200" -> "90 NVIDIA H200"; nothing without a driver or a GPU
GPU_INFO := $(shell nvidia-smi --query-gpu=compute_cap,name --format=csv,noheader 2>/dev/null | head -1 | \
                    sed -n 's/^ *\([0-9][0-9]*\)\.\([0-9]\) *, *\(.*[^ ]\) *$$/\1\2 \3/p')
GPU_SM   := $(firstword $(GPU_INFO))
GPU_NAME := $(wordlist 2,$(words $(GPU_INFO)),$(GPU_INFO))
GPU_OLD  := $(if $(GPU_SM),$(shell test $(GPU_SM) -lt 80 && echo yes))
GPU_NEW  := $(if $(GPU_SM),$(if $(filter sm_$(GPU_SM),$(shell $(NVCC) --list-gpu-code 2>/dev/null)),,yes))
FAT_WHY  := $(if $(GPU_OLD),$(GPU_NAME) is sm_$(GPU_SM)$(,) older than the kernels need,$(if \
              $(GPU_NEW),$(GPU_NAME) is sm_$(GPU_SM)$(,) unknown to this nvcc,no GPU found))
ifneq ($(if $(GPU_SM),$(if $(GPU_OLD)$(GPU_NEW),,yes)),)
CUDA_ARCH     := -gencode arch=compute_$(GPU_SM),code=sm_$(GPU_SM) \
                 -gencode arch=compute_$(GPU_SM),code=compute_$(GPU_SM)
CUDA_ARCH_WHY := sm_$(GPU_SM) (from nvidia-smi: $(GPU_NAME))
else
CUDA_ARCH     := $(CUDA_FAT)
CUDA_ARCH_WHY := fat binary: sm_80 sm_86 sm_89 sm_90 + compute_90 PTX ($(FAT_WHY))
endif
else
CUDA_ARCH_WHY := $(CUDA_ARCH) (set by CUDA_ARCH)
endif
endif
# -Xfatbin -compress-all: the GPU code is stored compressed (a fat build's binaries 3-4x smaller,
# unpacked when the program loads it).
NVCCFLAGS := -std=c++17 -O3 -fmad=false -lineinfo -Xcompiler -fPIC -Xfatbin -compress-all $(CUDA_ARCH) \
             -Iinclude -Ireference -Ikernels
# CUDA objects are the same for the plain and the sanitizer builds: build them once.
CUDA_OBJDIR := build/cuda
ifneq ($(NVCC),)
GPU_SRC   := optimized/context.c optimized/strategies.c optimized/graph.c optimized/runner.c
# The numbered attention kernels (kernels/README.md), then the index kernels of the strategies, the
# plan's block schedule of the tensor-core kernel and the checks of its fast arithmetic.
GPU_OBJ   := $(patsubst kernels/%.cu,$(CUDA_OBJDIR)/%.o,$(sort $(wildcard kernels/attention/*.cu))) $(CUDA_OBJDIR)/index.o \
             $(CUDA_OBJDIR)/block_order.o $(CUDA_OBJDIR)/tc_fast_math_check.o
GPU_CFLAGS := -I$(CUDA_HOME)/include -Ikernels
GPU_LIBS  := -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lpthread -lrt -lstdc++
else
GPU_SRC   := optimized/cuda_stub.c
GPU_OBJ   :=
GPU_CFLAGS :=
GPU_LIBS  :=
endif
# NCCL, for ea-bench-sync --tp (tensor parallelism over several GPUs): tools/find-nccl.sh looks at
# NCCL_HOME, the CUDA toolkit, Debian's libnccl-dev and the CUDA 13 wheel (nvidia-nccl-cu13), in
# that order. Without it (or with NCCL=0) everything else builds the same and --tp says it was not
# built. The program loads NCCL only when --tp runs (dlopen): from where make found it, else from
# LD_LIBRARY_PATH or the system; the one-GPU mode needs no NCCL at run time.
ifneq ($(NVCC),)
ifneq ($(NCCL),0)
NCCL_FOUND := $(shell NCCL_HOME='$(NCCL_HOME)' bash tools/find-nccl.sh "$(CUDA_HOME)")
endif
endif
ifneq ($(NCCL_FOUND),)
NCCL_CFLAGS := -DEA_HAVE_NCCL -I$(word 1,$(NCCL_FOUND)) -DEA_NCCL_LIB='"$(word 2,$(NCCL_FOUND))/$(word 3,$(NCCL_FOUND))"'
NCCL_LIBS   := -ldl
NCCL_WHY    := $(word 2,$(NCCL_FOUND))/$(word 3,$(NCCL_FOUND)) (header in $(word 1,$(NCCL_FOUND))): ea-bench-sync --tp built (NCCL loaded when --tp runs)
else
NCCL_WHY    := $(if $(filter 0,$(NCCL)),off (NCCL=0),$(if $(NVCC),not found in NCCL_HOME$(,) the CUDA toolkit$(,) the system or Python (to get it: pip install nvidia-nccl-cu13$(,) or apt-get install libnccl-dev),no CUDA)): ea-bench-sync --tp not built
endif
# Binaries find bundled libraries (tools/bundle-libs.sh) next to them first.
RPATH := -Wl,-rpath,'$$ORIGIN/../lib'

# Evaluated when a recipe runs, i.e. after `deps` had a chance to install them.
BLAS_CFLAGS   = $(shell pkg-config --cflags openblas)
BLAS_LIBS     = $(shell pkg-config --libs openblas)
CMOCKA_CFLAGS = $(shell pkg-config --cflags cmocka)
CMOCKA_LIBS   = $(shell pkg-config --libs cmocka)

LIB_SRC := reference/status.c reference/validate.c reference/unified.c reference/canonical.c \
           reference/two_stage.c reference/blas.c reference/naive64.c reference/cases.c \
           reference/problem.c reference/shard.c reference/cost.c reference/check.c reference/invariance.c \
           reference/mma.c reference/mma_inputs.c reference/mma_vectors.c reference/tensor_core.c \
           optimized/sync_name.c optimized/kernel_table.c $(GPU_SRC)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(GPU_OBJ)
LIB     := $(BUILD)/lib/libea.a
SHLIB   := $(BUILD)/lib/libea.so
HEADERS := $(wildcard include/*.h reference/*.h tests/*.h tests/fuzz/*.h kernels/*.h kernels/attention/*.cuh optimized/*.h)

TESTS     := test_math test_validate test_cases test_cost test_check test_hostile test_long_request test_reference test_mma test_tc_reference test_gpu
TEST_BINS := $(TESTS:%=$(BUILD)/tests/%)
# The fuzz targets, driven by a replay main: `make test` re-runs the committed corpus and every
# regression input with the test build's sanitizers.
FUZZ_TARGETS := cases long batch problem mma
REPLAY_BINS  := $(FUZZ_TARGETS:%=$(BUILD)/tests/replay_%)
TOOLS     := $(BUILD)/bin/ea-compare $(BUILD)/bin/ea-determinism $(if $(NVCC),$(BUILD)/bin/ea-bench-kernel $(BUILD)/bin/ea-bench-sync $(BUILD)/bin/ea-mma-probe)

.SECONDARY:
.PHONY: FORCE all deps compare test test-cpu test-asan docs bench fuzz exercise exercises-check install uninstall clean
.DEFAULT_GOAL := all
FORCE:

all: $(LIB) $(SHLIB) $(TOOLS) $(TEST_BINS) $(REPLAY_BINS)
	@bash tools/bundle-libs.sh $(BUILD)/lib $(TOOLS) $(TEST_BINS)

deps:
	@NVCC="$(NVCC)" bash tools/deps.sh

# The compilers' command lines, each kept in a file that is rewritten (and its objects rebuilt) only
# when it changes. The C one leaves out the source folder: an exercise's copy of the tree builds
# the same objects elsewhere. The CUDA one says the architecture, once per make run.
C_COMMAND = $(CC) $(filter-out -DEA_SOURCE_DIR=%,$(CFLAGS)) $(GPU_CFLAGS)
$(BUILD)/obj/flags: FORCE | deps
	@mkdir -p $(dir $@)
	@printf '%s\n' '$(C_COMMAND)' | cmp -s - $@ || printf '%s\n' '$(C_COMMAND)' > $@

$(CUDA_OBJDIR)/flags: FORCE | deps
	@mkdir -p $(dir $@)
	@echo "CUDA arch: $(CUDA_ARCH_WHY)"
	@printf '%s\n' '$(NVCC) $(NVCCFLAGS)' | cmp -s - $@ || printf '%s\n' '$(NVCC) $(NVCCFLAGS)' > $@

$(BUILD)/obj/%.o: %.c $(HEADERS) $(BUILD)/obj/flags | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BLAS_CFLAGS) $(CMOCKA_CFLAGS) $(GPU_CFLAGS) -c $< -o $@

# -Xptxas -v: registers, shared memory, spills of every kernel, kept in build/cuda/*.ptxas
$(CUDA_OBJDIR)/%.o: kernels/%.cu $(HEADERS) $(CUDA_OBJDIR)/flags | deps
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Xptxas -v -c $< -o $@ 2> $(CUDA_OBJDIR)/$*.ptxas || { cat $(CUDA_OBJDIR)/$*.ptxas; exit 1; }
	@grep -E "spill|stack frame" $(CUDA_OBJDIR)/$*.ptxas | sort | uniq -c | sed 's|^|ptxas $*: |'

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@ # ar only adds: an object no longer listed (a renamed kernel) must not stay in
	ar rcs $@ $^

# The shared library carries what it needs: OpenBLAS as a dependency, the CUDA runtime linked in
# statically (its symbols kept private), so a user links -lea alone.
$(SHLIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libea.so -Wl,--no-undefined -Wl,--exclude-libs,ALL $^ -o $@ \
	    $(BLAS_LIBS) $(GPU_LIBS) -lm

$(BUILD)/bin/ea-compare: $(BUILD)/obj/tools/ea_compare.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(RPATH) $^ -o $@ $(BLAS_LIBS) $(GPU_LIBS) -lm

$(BUILD)/bin/ea-determinism: $(BUILD)/obj/tools/ea_determinism.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(RPATH) $^ -o $@ $(BLAS_LIBS) $(GPU_LIBS) -lm

$(BUILD)/obj/bench/ea_bench_kernel.o: bench/ea_bench_device.h

# with the kernels that measure the card's tensor-core rate (kernels/mma_rate.cu, wgmma_rate.cu) and
# kernel 6's floor (kernels/tc_floor.cu)
$(BUILD)/bin/ea-bench-kernel: $(BUILD)/obj/bench/ea_bench_kernel.o $(CUDA_OBJDIR)/mma_rate.o \
                              $(CUDA_OBJDIR)/wgmma_rate.o $(CUDA_OBJDIR)/tc_floor.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(RPATH) $^ -o $@ $(BLAS_LIBS) $(GPU_LIBS) -lm

# ea-bench-sync: the one-GPU mode, the shared layer model, and --tp (with NCCL, or its stub). The
# NCCL flags are kept in a file like the compilers' (switching NCCL on or off rebuilds sync_tp.o).
SYNC_OBJ := $(BUILD)/obj/bench/ea_bench_sync.o $(BUILD)/obj/bench/sync_common.o $(BUILD)/obj/bench/sync_tp.o
$(SYNC_OBJ): bench/sync_common.h bench/sync_tp.h
$(BUILD)/obj/bench/sync_tp.o: private CFLAGS += $(NCCL_CFLAGS)
$(BUILD)/obj/bench/sync_tp.o: $(BUILD)/obj/nccl.flags
$(BUILD)/obj/nccl.flags: FORCE | deps
	@mkdir -p $(dir $@)
	@echo "NCCL: $(NCCL_WHY)"
	@printf '%s\n' '$(NCCL_CFLAGS) $(NCCL_LIBS)' | cmp -s - $@ || printf '%s\n' '$(NCCL_CFLAGS) $(NCCL_LIBS)' > $@

$(BUILD)/bin/ea-bench-sync: $(SYNC_OBJ) $(LIB) $(BUILD)/obj/nccl.flags
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(RPATH) -Wl,-rpath,$(CUDA_HOME)/lib64 $(filter-out %.flags,$^) -o $@ $(BLAS_LIBS) \
	    -L$(CUDA_HOME)/lib64 -lcublas $(NCCL_LIBS) $(GPU_LIBS) -lm

# The warpgroup kernels (the probe's, the rate's): wgmma exists on sm_90a alone, so that is their
# only target (whatever CUDA_ARCH says); on other cards they do not run, and their tools say so.
$(CUDA_OBJDIR)/wgmma_%.o: kernels/wgmma_%.cu $(HEADERS) $(CUDA_OBJDIR)/flags | deps
	@mkdir -p $(dir $@)
	$(NVCC) $(filter-out -gencode arch=%,$(NVCCFLAGS)) -gencode arch=compute_90a,code=sm_90a -Xptxas -v -c $< -o $@ \
	    2> $(basename $@).ptxas || { cat $(basename $@).ptxas; exit 1; }
	@grep -E "spill|stack frame|C75" $(basename $@).ptxas | sort | uniq -c | sed 's|^|ptxas wgmma_$*: |'

# The tensor-core probe (needs nvcc): the real mma instruction against the model of ea_mma.h.
$(BUILD)/bin/ea-mma-probe: $(BUILD)/obj/tools/ea_mma_probe.o $(CUDA_OBJDIR)/mma_probe.o \
                           $(CUDA_OBJDIR)/wgmma_probe.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(RPATH) $^ -o $@ $(BLAS_LIBS) $(GPU_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(RPATH) $^ -o $@ $(CMOCKA_LIBS) $(BLAS_LIBS) $(GPU_LIBS) -lm

$(BUILD)/tests/replay_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(RPATH) $^ -o $@ $(BLAS_LIBS) $(GPU_LIBS) -lm

compare: all
	$(BUILD)/bin/ea-compare --cases tests/cases/default.cases --backend all

# Each suite is its own process; the verdict is the exit code of every one.
test-cpu: all
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; OPENBLAS_NUM_THREADS=2 $$t; done
	@echo "== tests/cli_test.sh"; bash tests/cli_test.sh $(BUILD)
	@echo "== tests/install_test.sh"; MAKE="$(MAKE)" SAN="$(SAN)" bash tests/install_test.sh $(BUILD)
	@set -e; for t in $(FUZZ_TARGETS); do echo "== fuzz corpus and regressions: $$t"; \
	    $(BUILD)/tests/replay_$$t $$(find tests/fuzz/corpus/$$t $$(ls -d tests/fuzz/regressions/$$t 2>/dev/null) \
	        -type f | sort); done

test-asan:
	@ASAN_OPTIONS=protect_shadow_gap=0 $(MAKE) --no-print-directory BUILD=build/asan \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" test-cpu

test: test-cpu test-asan
	@echo "make test: all suites passed (plain and ASan+UBSan)"

# The library as another project uses it: `pkg-config --cflags --libs ea` (static linking:
# --static). ea.pc is written with the PREFIX given here; DESTDIR only moves the files.
install: $(LIB) $(SHLIB) $(TOOLS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libea.a
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/libea.so
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	@{ echo 'prefix=$(PREFIX)'; \
	   echo 'libdir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))'; \
	   echo 'includedir=$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))'; \
	   echo; \
	   echo 'Name: ea'; \
	   echo 'Description: Extend attention: CPU references (OpenBLAS), CUDA kernels, case files'; \
	   echo 'Version: $(VERSION)'; \
	   echo 'Requires.private: openblas'; \
	   echo 'Libs: -L$${libdir} -lea'; \
	   echo 'Libs.private: $(strip $(GPU_LIBS) -lm -pthread)'; \
	   echo 'Cflags: -I$${includedir}'; } > $(DESTDIR)$(LIBDIR)/pkgconfig/ea.pc
	@echo "installed into $(DESTDIR)$(PREFIX): libea.a, libea.so, pkgconfig/ea.pc, \
	    $(words $(PUBLIC_HEADERS)) headers, $(words $(TOOLS)) tools"

# `make print-VAR`: a variable's value (tests/install_test.sh reads PUBLIC_HEADERS).
print-%:
	@echo $($*)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(LIBDIR)/,libea.a libea.so pkgconfig/ea.pc) \
	    $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(PUBLIC_HEADERS))) \
	    $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(TOOLS)))

# Fuzzing with libFuzzer (clang): each target for FUZZ_SECONDS on a scratch copy of the committed
# corpus. A crash, sanitizer report, leak or timeout fails; the input is left in build/fuzz/.
FUZZ_SECONDS ?= 60
# Inputs up to 64 KiB: long case files, many mma elements (fuzz_long makes files 64 times longer still).
FUZZ_MAX_LEN ?= 65536
FUZZ_SRC := $(filter-out reference/blas.c,$(filter reference/%,$(LIB_SRC)))
FUZZ_FLAGS := -std=c11 -pthread -O1 -g -ffp-contract=off -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
              -Iinclude -Ireference

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	@bash tools/fuzz-deps.sh
	clang $(FUZZ_FLAGS) tests/fuzz/fuzz_$*.c $(FUZZ_SRC) -o $@ -lm

fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    rm -rf build/fuzz/work_$$t; mkdir -p build/fuzz/work_$$t; \
	    echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	    build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -max_len=$(FUZZ_MAX_LEN) \
	        -artifact_prefix=build/fuzz/$$t- -print_final_stats=1 build/fuzz/work_$$t tests/fuzz/corpus/$$t \
	        2>&1 | grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|cov:|ERROR|SUMMARY|Test unit written" | tail -6; \
	    test $${PIPESTATUS[0]} -eq 0 || { echo "fuzz $$t: FAILED (see build/fuzz/$$t-*)"; exit 1; }; done
	@echo "make fuzz: no crash, sanitizer report or timeout"

# Workshop exercises: `make exercise N` checks tutorials/exercises/NN/ with the real tests;
# `make exercise N FROM=solutions` checks the reference solution. CI (`exercises-check`): the
# exercises match the sources, every unsolved one builds and fails pointing at its TODO, every
# solution passes.
FROM ?= exercises
ifeq ($(firstword $(MAKECMDGOALS)),exercise)
EXERCISE_ARGS := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
$(eval $(EXERCISE_ARGS):;@:)
endif
exercise: | deps
	@test -n "$(EXERCISE_ARGS)" || { echo "usage: make exercise N [FROM=solutions]"; exit 2; }
	@python3 tutorials/exercise.py run $(EXERCISE_ARGS) --from $(FROM)

exercises-check: | deps
	@python3 tutorials/exercise.py check-fresh
	@python3 tutorials/exercise.py check-skeletons
	@set -e; for n in $$(python3 tutorials/exercise.py numbers); do rc=0; python3 tutorials/exercise.py run $$n --from solutions || rc=$$?; \
	    [ $$rc = 0 ] || { [ $$rc = 77 ] && ! nvidia-smi -L >/dev/null 2>&1; } || exit $$rc; done

# Benchmarks: CPU timings everywhere; the GPU ones (and their PyTorch peers) where there is a GPU.
bench: all
	BUILD=$(BUILD) bash bench/run.sh

docs: | deps
	@mkdir -p $(BUILD)/docs
	doxygen docs/Doxyfile

clean:
	rm -rf build
