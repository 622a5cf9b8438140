# khreset - build, test, demo, bench.  See README.md.
BUILD    ?= build
CC       ?= cc
SAN      ?=
CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter
PKGS      = libxml-2.0 jansson libcrypto hivex
KH_CFLAGS = -std=gnu11 $(WARN) -D_GNU_SOURCE -Ihook \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(SAN)
# minIni's Debian .pc file has a broken libdir; link it directly.
KH_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lminIni -lwim $(SAN)

# The build picks folders, not files: the portable core is hook/*.c, each
# platform body or dependency has its own folder.  Linux: core + offline/
# (mounted volume, hivex) + media/ (wimlib).  Windows (win/win.mk): core +
# win32/.  Objects mirror the source tree under $(BUILD)/obj.
HDRS        = $(wildcard hook/*.h hook/*/*.h)
CORE_SRC    = $(filter-out hook/main.c,$(wildcard hook/*.c))
OFFLINE_SRC = $(wildcard hook/offline/*.c)
MEDIA_SRC   = $(wildcard hook/media/*.c)
obj         = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
CORE_OBJ    = $(call obj,$(CORE_SRC) $(MEDIA_SRC))
OFFLINE_OBJ = $(call obj,$(OFFLINE_SRC))
MAIN_OBJ    = $(call obj,hook/main.c)
UNIT_SRC    = $(wildcard tests/unit/test_*.c)
UNIT_BIN    = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS       = $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))

PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all deps check check-unit check-integration check-asan demo bench media install clean
all: $(BUILD)/khreset $(TOOLS)

$(BUILD)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KH_CFLAGS) -c -o $@ $<

$(BUILD)/libkhcore.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/khreset: $(MAIN_OBJ) $(OFFLINE_OBJ) $(BUILD)/libkhcore.a
	$(CC) $(CFLAGS) -o $@ $^ $(KH_LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(HDRS) $(OFFLINE_OBJ) $(BUILD)/libkhcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KH_CFLAGS) -o $@ $< $(OFFLINE_OBJ) $(BUILD)/libkhcore.a $(KH_LIBS) -lcmocka

# khreset with the fake live platform (tests/fake): the live plan on Linux.
$(BUILD)/tests/khreset-fake: $(MAIN_OBJ) tests/fake/plat_fake.c $(OFFLINE_SRC) $(HDRS) $(BUILD)/libkhcore.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KH_CFLAGS) -o $@ $(MAIN_OBJ) tests/fake/plat_fake.c $(BUILD)/libkhcore.a $(KH_LIBS)

$(BUILD)/tools/%: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(KH_CFLAGS) -o $@ $< $(KH_LIBS)

deps:
	@sh tests/deps.sh

check-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

check-integration: $(BUILD)/khreset $(TOOLS) $(BUILD)/tests/khreset-fake
	@BUILD=$(BUILD) sh tests/integration/run.sh

# Everything, then again under AddressSanitizer + UBSan; then the Windows
# build (cross-built dependencies cached under build/win) and its Wine tests.
check: deps
	$(MAKE) all
	$(MAKE) check-unit
	$(MAKE) check-integration
	$(MAKE) check-asan
	$(MAKE) windows windows-test

check-asan:
	$(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	  all check-unit check-integration

demo: deps all
	@BUILD=$(BUILD) sh tests/demo.sh

bench: deps all
	@BUILD=$(BUILD) sh bench/run.sh

# The payload folder for `khreset bake` (BUNDLE=DIR PUBKEY=FILE optional).
media: deps all
	@BUILD=$(BUILD) sh setupcomplete/make-media.sh $(BUILD)/media

# The Linux build and its manual page, under $(DESTDIR)$(PREFIX).
install: $(BUILD)/khreset
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(BUILD)/khreset $(DESTDIR)$(PREFIX)/bin/khreset
	install -m 644 doc/khreset.8 $(DESTDIR)$(PREFIX)/share/man/man8/khreset.8

clean:
	rm -rf build
include win/win.mk
