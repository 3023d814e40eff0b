# fokus — build, test, bench, demo.
#
#   make            install missing Debian packages (or name them), then build
#                   build/libfokus.a, build/lua/fokus/core.so (Lua module), build/fokus (host)
#   make demo       install missing Debian packages, build, run scripts/demo.lua
#   make test       install missing Debian packages, build, run C tests + busted specs
#                   (under Lua 5.4, 5.3, 5.2 and LuaJIT) + the Neovim host test
#   make bench      speed figures (not a test): C kernels and Lua calls against OpenBLAS
#                   at full strength and the FMA peak, measured in the same run
#   make fuzz       libFuzzer targets under ASan/UBSan for FUZZ_SECONDS each
#   make install    PREFIX=/usr/local DESTDIR=
#   make LUA=luajit|5.2|5.3|5.4   the module for that interpreter (default 5.4) in its
#                   own build dir (build/luajit/, build/lua5.2/, build/lua5.3/; 5.4: build/),
#                   installing its Debian packages when missing; `make install LUA=...`
#                   installs into its paths. build/fokus is always Lua 5.4.
#   make PORTABLE=1 baseline x86-64 build (SIMDe supplies the fallbacks)
#   make test SANITIZE=1 BUILD=build-asan   everything under ASan + UBSan

PREFIX      ?= /usr/local
DESTDIR     ?=
CC          ?= cc
BUILD       ?= build
FUZZ_SECONDS ?= 60

# Debian 12's libnginx-mod-http-lua runs on OpenResty's luajit2, which conflicts with the
# luajit packages: where it is installed, its dev package serves (same ABI), so that
# installing what fokus needs never removes it.
LUAJIT2     := $(shell dpkg-query -W -f='$${Status}' libluajit2-5.1-2 2>/dev/null | grep -q 'ok installed' && echo 1)
LUAJIT_DEBS := $(if $(LUAJIT2),libluajit2-5.1-dev,luajit libluajit-5.1-dev)

# The interpreter the module is built for (bindings/lcompat.h holds the differences).
# LuaJIT speaks the 5.1 API: its paths are the 5.1 ones. Each gets its own build dir,
# sharing $(BUILD)/libfokus.a (core/ has no Lua in it).
LUA         ?= 5.4
LUA_NAME    := $(patsubst lua%,%,$(notdir $(LUA)))
# an interpreter named otherwise (LUA=/usr/bin/lua, as luarocks passes it) is asked
ifeq ($(filter 5.4 5.3 5.2 5.1 jit,$(LUA_NAME)),)
LUA_NAME    := $(shell $(LUA) -e 'io.write(rawget(_G, "jit") and "jit" or _VERSION:sub(5))' 2>/dev/null)
endif
ifeq ($(LUA_NAME),5.4)
LUA_VERSION := 5.4
LUA_PC      := lua5.4
LUA_BUILD   := $(BUILD)
LUA_DEBS    := lua5.4 liblua5.4-dev
else ifeq ($(LUA_NAME),5.3)
LUA_VERSION := 5.3
LUA_PC      := lua5.3
LUA_BUILD   := $(BUILD)/lua5.3
LUA_DEBS    := lua5.3 liblua5.3-dev
else ifeq ($(LUA_NAME),5.2)
LUA_VERSION := 5.2
LUA_PC      := lua5.2
LUA_BUILD   := $(BUILD)/lua5.2
LUA_DEBS    := lua5.2 liblua5.2-dev
else ifneq ($(filter $(LUA_NAME),jit 5.1),)
LUA_VERSION := 5.1
LUA_PC      := luajit
LUA_BUILD   := $(BUILD)/luajit
LUA_DEBS    := $(LUAJIT_DEBS)
else
$(error LUA=$(LUA): expected luajit, 5.2, 5.3 or 5.4 (or the path of one of them))
endif

# Debian packages the build, tests and demo need (checked by `make deps`).
DEB_PACKAGES := lua5.4 liblua5.4-dev libsimde-dev libstb-dev lua-busted libjansson-dev \
                libutf8proc-dev zlib1g-dev pkg-config
# DejaVu Sans for the labels of pictures (found at run time; stb_easy_font without it)
DEB_PACKAGES += fonts-dejavu-core

DEB_PACKAGES += $(LUA_DEBS)
# The other hosts `make test` runs the suite under: installed like the rest when root;
# without them (and not root) their runs are skipped with a note.
HOST_PACKAGES := $(LUAJIT_DEBS) lua5.3 liblua5.3-dev lua5.2 liblua5.2-dev neovim
LUA_CFLAGS  := $(shell pkg-config --cflags $(LUA_PC) 2>/dev/null || echo -I/usr/include/$(LUA_PC))
# build/fokus embeds Lua 5.4 whatever LUA says (it is only built when LUA=5.4).
LUA_LIBS    := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
# Install paths: pkg-config's when PREFIX is Lua's own prefix (/usr on Debian), else the
# PREFIX-relative paths that lua5.4's default package.path/cpath search (/usr/local/...).
LUA_PREFIX  := $(shell pkg-config --variable=prefix $(LUA_PC) 2>/dev/null)
ifeq ($(PREFIX),$(LUA_PREFIX))
LUA_LMOD    := $(shell pkg-config --variable=INSTALL_LMOD $(LUA_PC))
LUA_CMOD    := $(shell pkg-config --variable=INSTALL_CMOD $(LUA_PC))
else
LUA_LMOD    := $(PREFIX)/share/lua/$(LUA_VERSION)
LUA_CMOD    := $(PREFIX)/lib/lua/$(LUA_VERSION)
endif
# luarocks passes the rock tree's directories
ifneq ($(LUADIR),)
LUA_LMOD    := $(LUADIR)
endif
ifneq ($(LIBDIR),)
LUA_CMOD    := $(LIBDIR)
endif
ifneq ($(LUA_INCDIR),)
LUA_CFLAGS  := -I$(LUA_INCDIR)
endif

ifeq ($(PORTABLE),1)
ARCH_FLAGS  := -march=x86-64 -mtune=generic -Wno-psabi
else
ARCH_FLAGS  := -march=native
endif

OPT         ?= -O3
ifeq ($(SANITIZE),1)
# make test SANITIZE=1 BUILD=build-asan: ASan + UBSan build of everything
OPT         := -O1 -g -fno-omit-frame-pointer
EXTRA_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
WARN        := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE $(OPT) $(ARCH_FLAGS) $(WARN) -fPIC -pthread \
               -fvisibility=hidden -DSIMDE_ENABLE_NATIVE_ALIASES_OFF -Icore $(EXTRA_CFLAGS)
DEP_LIBS    := -ljansson -lutf8proc -lz -lstb -lm -lpthread

# core/ has one folder per capability (see core/fokus.h); sources include each other's
# headers as "folder/header.h" from -Icore.
CORE_SRC    := $(sort $(wildcard core/*/*.c))
CORE_OBJ    := $(CORE_SRC:%.c=$(BUILD)/%.o)
BIND_SRC    := $(filter-out bindings/host.c,$(sort $(wildcard bindings/*.c)))
BIND_OBJ    := $(BIND_SRC:%.c=$(LUA_BUILD)/%.o)
CTEST_SRC   := $(sort $(wildcard tests/c/test_*.c))
CTEST_BIN   := $(CTEST_SRC:tests/c/%.c=$(BUILD)/tests/%)
BENCH_SRC   := $(sort $(wildcard tests/bench/bench_*.c))
BENCH_BIN   := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)
FUZZ_SRC    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
# make fuzz FUZZ=fuzz_bpe runs one target
ifneq ($(FUZZ),)
FUZZ_SRC    := tests/fuzz/$(FUZZ).c
endif
FUZZ_BIN    := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

LIB         := $(BUILD)/libfokus.a
MODULE      := $(LUA_BUILD)/lua/fokus/core.so
HOST        := $(BUILD)/fokus

# The random generator must give the same numbers with and without FMA contraction.
$(BUILD)/core/base/rng.o: CFLAGS_EXTRA := -ffp-contract=off

.PHONY: all programs module deps demo test check bench fuzz install uninstall clean

# `make` on a fresh machine: the packages first (deps), then the build through a
# recursive make that re-reads this Makefile with them installed (pkg-config etc.).
all: deps
	@$(MAKE) --no-print-directory programs

# build/fokus is a Lua 5.4 program: other LUA= builds make the module only.
programs: $(LIB) $(MODULE) $(if $(filter 5.4,$(LUA_VERSION)),$(HOST))

module: $(MODULE)

# Installs what is missing (root: apt-get; otherwise says what to run). The targets
# that need it build through a recursive make, so `make -j test` cannot compile
# before the packages are there (and the Makefile is re-read with them installed).
deps:
	@command -v dpkg-query >/dev/null || exit 0; \
	missing=""; for p in $(DEB_PACKAGES) $(EXTRA_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "fokus: installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "fokus: missing Debian packages:$$missing; install them with: sudo apt-get install -y$$missing" >&2; exit 1; \
	  fi; \
	fi; \
	missing=""; for p in $(OPTIONAL_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "fokus: installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || \
	      echo "fokus: could not install$$missing: the tests that need them are skipped" >&2; \
	  else \
	    echo "fokus: optional Debian packages missing:$$missing (sudo apt-get install -y$$missing); the tests that need them are skipped" >&2; \
	  fi; \
	fi

HEADERS     := $(wildcard core/*.h core/*/*.h bindings/*.h)
CORE_HEADERS := $(wildcard core/*.h core/*/*.h)

# core/ has no Lua in it: one set of objects for every LUA=.
$(BUILD)/core/%.o: core/%.c $(CORE_HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS_EXTRA) -c $< -o $@

$(LUA_BUILD)/bindings/%.o: bindings/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS_EXTRA) $(LUA_CFLAGS) -c $< -o $@

$(LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# The module does not link liblua: the host program provides the symbols.
$(MODULE): $(BIND_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) -shared -pthread -o $@ $(BIND_OBJ) $(LIB) $(DEP_LIBS)

$(HOST): bindings/host.c $(BIND_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(LUA_CFLAGS) -DFOKUS_SOURCE_ROOT='"$(CURDIR)"' -o $@ bindings/host.c \
	  $(BIND_OBJ) $(LIB) $(LUA_LIBS) $(DEP_LIBS) -Wl,-E

$(BUILD)/tests/%: tests/c/%.c $(LIB) tests/c/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fvisibility=default -o $@ $< $(LIB) $(DEP_LIBS)

# test_states embeds Lua: two lua_States on two threads, each with require "fokus".
$(BUILD)/tests/test_states: tests/c/test_states.c $(BIND_OBJ) $(LIB) tests/c/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(LUA_CFLAGS) -fvisibility=default -DFOKUS_SOURCE_ROOT='"$(CURDIR)"' -o $@ $< \
	  $(BIND_OBJ) $(LIB) $(LUA_LIBS) $(DEP_LIBS)

BLAS_INC    := /usr/include/x86_64-linux-gnu/openblas-pthread
BLAS_FLAGS  = $(if $(wildcard $(BLAS_INC)/cblas.h),-DFOKUS_HAVE_OPENBLAS -I$(BLAS_INC) -lopenblas)

$(BUILD)/bench/%: tests/bench/%.c $(LIB) tests/bench/bench.h tests/bench/blas_attend.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -fvisibility=default -o $@ $< $(LIB) $(DEP_LIBS) $(BLAS_FLAGS)

# Bench-only Lua module (OpenBLAS baselines and the FMA peak for bench_lua.lua); not
# part of fokus, never installed. Like the fokus module, it does not link liblua.
BLASBASE    := $(BUILD)/bench/blasbase.so
$(BLASBASE): tests/bench/lblasbase.c $(LIB) tests/bench/bench.h tests/bench/blas_attend.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(LUA_CFLAGS) -DFOKUS_HAVE_OPENBLAS -I$(BLAS_INC) -shared -o $@ $< $(LIB) \
	  $(DEP_LIBS) -lopenblas

# Headless: no display or terminal needed (progress lines only on a TTY); pictures in out/.
demo: deps
	@$(MAKE) --no-print-directory programs
	@mkdir -p out
	$(HOST) scripts/demo.lua
	$(HOST) scripts/regional_prompt.lua

# Under SANITIZE=1 the Lua module is instrumented: lua5.4 (busted) needs the ASan and
# UBSan runtimes preloaded to load it.
ifeq ($(SANITIZE),1)
TEST_ENV    := LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
               ASAN_OPTIONS=detect_leaks=0
endif

# The suite runs under Lua 5.4, then LuaJIT, 5.3 and 5.2 when they are installed (the
# module is built for each), and in headless Neovim (tests/hosts/nvim.lua).
test: OPTIONAL_PACKAGES := $(HOST_PACKAGES)
test: deps
	@$(MAKE) --no-print-directory programs $(CTEST_BIN)
	@if [ -f /usr/include/luajit-2.1/lua.h ]; then $(MAKE) --no-print-directory LUA=luajit programs || exit 1; fi
	@if [ -f /usr/include/lua5.3/lua.h ]; then $(MAKE) --no-print-directory LUA=5.3 programs || exit 1; fi
	@if [ -f /usr/include/lua5.2/lua.h ]; then $(MAKE) --no-print-directory LUA=5.2 programs || exit 1; fi
	@BUILD=$(BUILD) $(TEST_ENV) sh tests/run

check: test

# The environment may set OPENBLAS_CORETYPE=Haswell and OPENBLAS_L2_SIZE (a guard for
# old OpenBLAS builds); OpenBLAS reads them when it loads and would run AVX2 kernels.
# The baselines must be the best a user could pick, so the bench processes (only
# them: never the tests) run without both; each prints the kernel OpenBLAS chose.
BENCH_ENV   := env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE

bench: EXTRA_PACKAGES := libopenblas-dev
bench: deps
	@$(MAKE) --no-print-directory programs $(BENCH_BIN) $(BLASBASE)
	@for b in $(BENCH_BIN); do echo "== $$b"; $(BENCH_ENV) $$b || exit 1; done
	@echo "== Lua calls (build/fokus tests/bench/bench_lua.lua)"
	@$(BENCH_ENV) $(HOST) tests/bench/bench_lua.lua $(BUILD)/bench
	@echo "== Lua loop: 200 x matmul 2048^2 + 30 x attend (24,1178,1178,64)"
	@$(BENCH_ENV) $(HOST) tests/bench/bench_lua.lua $(BUILD)/bench loop
	@echo "== Lua tensor ops vs memory bandwidth (build/fokus tests/bench/bench_ops.lua)"
	@$(BENCH_ENV) $(HOST) tests/bench/bench_ops.lua $(BUILD)/bench
	@echo "== Custom attention variants (build/fokus tests/bench/bench_mods.lua)"
	@$(BENCH_ENV) $(HOST) tests/bench/bench_mods.lua

# Fuzzers: clang, libFuzzer, ASan + UBSan; corpus seeded from the dev oracles.
FUZZ_CC     := clang
FUZZ_FLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined -march=native -DSIMDE_ENABLE_NATIVE_ALIASES_OFF -Icore
$(BUILD)/fuzz/%: tests/fuzz/%.c $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(CORE_SRC) $(DEP_LIBS)

$(BUILD)/fuzz/seed: tests/fuzz/seed.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -o $@ $< -ljansson

fuzz: EXTRA_PACKAGES := clang libclang-rt-14-dev
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN) $(BUILD)/fuzz/seed
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p $(BUILD)/corpus/$$n; \
	  BUILD=$(BUILD) sh tests/fuzz/seed.sh $$n $(BUILD)/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 $(BUILD)/corpus/$$n 2>&1 | tail -n 12 || exit 1; done

install: $(MODULE)
	install -d $(DESTDIR)$(LUA_CMOD)/fokus $(DESTDIR)$(LUA_LMOD)/fokus
	install -m 0755 $(MODULE) $(DESTDIR)$(LUA_CMOD)/fokus/core.so
	for f in nodes/fokus/*.lua; do install -m 0644 $$f $(DESTDIR)$(LUA_LMOD)/fokus/; done
	install -d $(DESTDIR)$(LUA_LMOD)/fokus/stock
	for f in nodes/fokus/stock/*.lua; do install -m 0644 $$f $(DESTDIR)$(LUA_LMOD)/fokus/stock/; done

uninstall:
	rm -rf $(DESTDIR)$(LUA_CMOD)/fokus $(DESTDIR)$(LUA_LMOD)/fokus

clean:
	rm -rf $(BUILD)
