# khreset - build, test, demo, bench.  See README.md.
BUILD    ?= build
CC       ?= cc
SAN      ?=
CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter
PKGS      = libxml-2.0 jansson libcrypto hivex blkid
KH_CFLAGS = -std=gnu11 $(WARN) -D_GNU_SOURCE -Ihook \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(SAN)
KH_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lwim $(SAN)

# minIni: minIni.c and minIni.h from Debian's source package, fetched once
# into the cache (tools/debsrc.sh; shared with win/win.mk), compiled with our
# glue hook/ini/minGlue.h - it parses memory, never opens a file.
MININI_VER  = 1.4+ds-1
DEBSRC     ?= build/debian
MININI_SRC  = $(DEBSRC)/libminini-$(MININI_VER)
INI_CFLAGS  = -Ihook/ini -I$(MININI_SRC)

# The build picks folders, not files: the portable core is hook/*.c, each
# platform body or dependency has its own folder.  Linux: core + ini/
# (minIni) + offline/ (mounted volume, hivex) + media/ (wimlib) + image/
# (--image: a VM disk mounted with qemu-storage-daemon, libblkid, ntfs-3g).  Windows
# (win/win.mk): core + ini/ + win32/.  Objects mirror the source tree under
# $(BUILD)/obj.
HDRS        = $(wildcard hook/*.h hook/*/*.h)
CORE_SRC    = $(filter-out hook/main.c,$(wildcard hook/*.c))
INI_SRC     = $(wildcard hook/ini/*.c)
OFFLINE_SRC = $(wildcard hook/offline/*.c)
MEDIA_SRC   = $(wildcard hook/media/*.c)
IMAGE_SRC   = $(wildcard hook/image/*.c)
obj         = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
CORE_OBJ    = $(call obj,$(CORE_SRC) $(INI_SRC) $(MEDIA_SRC) $(IMAGE_SRC)) $(BUILD)/obj/minIni.o
OFFLINE_OBJ = $(call obj,$(OFFLINE_SRC))
MAIN_OBJ    = $(call obj,hook/main.c)
UNIT_SRC    = $(wildcard tests/unit/test_*.c)
UNIT_BIN    = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
PRELOAD     = $(BUILD)/tools/failio.so
TOOLS       = $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(filter-out tests/tools/failio.c,\
              $(wildcard tests/tools/*.c))) $(PRELOAD)

PREFIX  ?= /usr/local
DESTDIR ?=

# The Debian package (debian/, debhelper): built from a copy of the tree
# under $(DEB_DIR), with the cross-built khreset.exe, then linted.
KH_VERSION := $(shell sed -n 's/^\#define KH_VERSION "\(.*\)"$$/\1/p' hook/khreset.h)
DEB_ARCH   := $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null)
WIN_BUILD  ?= build/win
DEB_DIR     = $(BUILD)/deb
DEB_SRC     = $(DEB_DIR)/khreset-$(KH_VERSION)
DEB_FILE    = $(DEB_DIR)/khreset_$(KH_VERSION)_$(DEB_ARCH).deb

.PHONY: all deps check check-all check-unit check-integration check-asan demo bench media install deb clean \
        fuzz fuzz-build fuzz-check
all: $(BUILD)/khreset $(TOOLS)

$(BUILD)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(KH_CFLAGS) -c -o $@ $<

$(MININI_SRC)/minIni.c:
	sh tools/debsrc.sh extract libminini $(MININI_VER) $(MININI_SRC) minIni.c minIni.h LICENSE
$(MININI_SRC)/minIni.h: $(MININI_SRC)/minIni.c

$(BUILD)/obj/minIni.o: $(MININI_SRC)/minIni.c hook/ini/minGlue.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=gnu11 -Wall $(INI_CFLAGS) $(SAN) -c -o $@ $<

$(call obj,$(INI_SRC)): KH_CFLAGS := $(INI_CFLAGS) $(KH_CFLAGS)
$(call obj,$(INI_SRC)): $(MININI_SRC)/minIni.h

$(BUILD)/libkhcore.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/khreset: $(MAIN_OBJ) $(OFFLINE_OBJ) $(BUILD)/libkhcore.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(KH_LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(HDRS) $(OFFLINE_OBJ) $(BUILD)/libkhcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KH_CFLAGS) -o $@ $< $(OFFLINE_OBJ) $(BUILD)/libkhcore.a $(KH_LIBS) -lcmocka

# khreset with the fake live platform (tests/fake): the live plan on Linux.
# The fake replaces one file of the offline body, stubs.c, at link time.
FAKE_OBJ    = $(call obj,$(filter-out hook/offline/stubs.c,$(OFFLINE_SRC)) tests/fake/plat_fake.c)
# plat_rename and plat_read are wrapped (ld --wrap): the fake can hold an
# archive entry.
$(BUILD)/tests/khreset-fake: $(MAIN_OBJ) $(FAKE_OBJ) $(BUILD)/libkhcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wl,--wrap=plat_rename -Wl,--wrap=plat_read -o $@ $^ $(KH_LIBS)

$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KH_CFLAGS) -o $@ $< $(KH_LIBS)

# An LD_PRELOAD shim for the tests (EIO on chosen files), no sanitizer.
$(PRELOAD): tests/tools/failio.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wall -shared -fPIC -o $@ $< -ldl

# Fuzzing: every tests/fuzz/fuzz_*.c is a libFuzzer target (it defines
# LLVMFuzzerTestOneInput), linked by clang with -fsanitize=fuzzer against
# the core and offline objects compiled again, instrumented (ASan + UBSan),
# under $(FUZZ_BUILD).  `make fuzz` runs each for FUZZ_SECONDS; `make
# check` runs each for FUZZ_CHECK_SECONDS, and only says so loudly when
# clang cannot build a libFuzzer target.  Seeds: tests/fuzz/seeds.sh.
FUZZ_CC            ?= clang
FUZZ_BUILD         ?= build/fuzz
FUZZ_SECONDS       ?= 180
FUZZ_CHECK_SECONDS ?= 20
FUZZ_SRC      = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN      = $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/bin/%)
FUZZ_MAKE     = $(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CFLAGS="-O1 -g -fno-omit-frame-pointer" \
                SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
FUZZ_RUN      = FUZZ_BUILD=$(FUZZ_BUILD) BUILD=$(BUILD) sh tests/fuzz/run.sh

$(BUILD)/bin/fuzz_%: tests/fuzz/fuzz_%.c $(HDRS) $(OFFLINE_OBJ) $(BUILD)/libkhcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KH_CFLAGS) -fsanitize=fuzzer -o $@ $< $(OFFLINE_OBJ) \
	  $(BUILD)/libkhcore.a $(KH_LIBS)

fuzz-build: all
	@sh tests/fuzz/run.sh --probe $(FUZZ_CC)
	+$(FUZZ_MAKE) $(FUZZ_BIN)

fuzz: fuzz-build
	@$(FUZZ_RUN) $(FUZZ_SECONDS) $(FUZZ_BIN)

fuzz-check: all
	+@if sh tests/fuzz/run.sh --probe $(FUZZ_CC); then \
	  $(FUZZ_MAKE) $(FUZZ_BIN) && $(FUZZ_RUN) $(FUZZ_CHECK_SECONDS) $(FUZZ_BIN); \
	else echo "*** make check: the fuzz step was SKIPPED (see above)"; fi

deps:
	@sh tests/deps.sh

check-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

check-integration: $(BUILD)/khreset $(TOOLS) $(BUILD)/tests/khreset-fake
	@BUILD=$(BUILD) sh tests/integration/run.sh

# Everything, then again under AddressSanitizer + UBSan, a short run of
# every fuzz target; then the Windows build (cross-built dependencies
# cached under build/win) and its Wine tests.
# The log goes to $(BUILD)/check.log; the last line adds up every suite's
# checks (tests/total.sh).
check: deps
	@mkdir -p $(BUILD)
	@{ $(MAKE) --no-print-directory check-all 2>&1; echo $$? >$(BUILD)/check.rc; } | \
	  tee $(BUILD)/check.log
	@sh tests/total.sh $(BUILD)/check.log "$$(cat $(BUILD)/check.rc)"

check-all:
	$(MAKE) all
	$(MAKE) check-unit
	$(MAKE) check-integration
	$(MAKE) check-asan
	$(MAKE) fuzz-check
	$(MAKE) windows windows-test

check-asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	  all check-unit check-integration

demo: deps all
	@BUILD=$(BUILD) sh tests/demo.sh

bench: deps all $(TOOLS) $(BUILD)/tests/khreset-fake
	@BUILD=$(BUILD) sh bench/run.sh

# The payload folder for `khreset bake` (BUNDLE=DIR PUBKEY=FILE optional).
media: deps all
	@BUILD=$(BUILD) sh setupcomplete/make-media.sh $(BUILD)/media

# The Linux build and its manual page, under $(DESTDIR)$(PREFIX).
install: $(BUILD)/khreset
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(BUILD)/khreset $(DESTDIR)$(PREFIX)/bin/khreset
	install -m 644 doc/khreset.8 $(DESTDIR)$(PREFIX)/share/man/man8/khreset.8

# dpkg-buildpackage in a copy of the sources (nothing is written beside the
# repository), the version from debian/changelog held to hook/khreset.h,
# then lintian: an error fails the build.
deb: $(WIN_BUILD)/khreset.exe $(MININI_SRC)/minIni.c
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version); [ "$$v" = "$(KH_VERSION)" ] || \
	  { echo "make deb: debian/changelog says $$v, hook/khreset.h $(KH_VERSION)" >&2; exit 1; }
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_SRC)/build/win
	cp -r Makefile hook doc setupcomplete tools win debian $(DEB_SRC)/
	cp $(WIN_BUILD)/khreset.exe $(DEB_SRC)/build/win/
	cd $(DEB_SRC) && KH_DEBSRC=$(abspath $(DEBSRC)) DEB_BUILD_OPTIONS=noddebs \
	  dpkg-buildpackage -b -uc -us >../build.log 2>&1 || { tail -n 30 ../build.log >&2; exit 1; }
	lintian --fail-on error --no-tag-display-limit $(DEB_FILE)
	@echo "make deb: $(DEB_FILE)"

clean:
	rm -rf build
include win/win.mk
