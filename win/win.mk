# win/win.mk - cross-build the live Windows khreset.exe with mingw-w64.
# Included from the top Makefile (`include win/win.mk`); all names here are
# prefixed WIN_ so they do not collide with the Linux build's.
#
#   make windows        deps (cached), build/win/khreset.exe, import check
#   make windows-deps   only the static libraries (win/deps.sh)
#   make windows-objs   only compile what compiles today (progress check)
#   make windows-size   size by library from the link map (after windows)
#   make windows-smoke  hook/win32 smoke test under Wine (tests/win/smoke.sh)
#   make windows-test   check-imports self-test, the smoke, task, e2e, firstboot and media tests
#
# The executable: the core hook/*.c, minIni (hook/ini/*.c + Debian's minIni.c,
# as in the Linux build) and the live body hook/win32/*.c, linked statically against
# build/win/deps, win32 thread model (no libwinpthread DLL), section garbage
# collection, stripped, and imports checked: system DLLs only.

WIN_HOST    := x86_64-w64-mingw32
WIN_CC      := $(shell command -v $(WIN_HOST)-gcc-win32 2>/dev/null || echo $(WIN_HOST)-gcc)
WIN_WINDRES := $(WIN_HOST)-windres
WIN_WINDMC  := $(WIN_HOST)-windmc
WIN_BUILD   ?= build/win
WIN_HOOK    ?= hook
WIN_DEPS    := $(WIN_BUILD)/deps
WIN_OBJDIR  := $(WIN_BUILD)/obj

# The executable is the portable core (hook/*.c), the minIni glue
# (hook/ini/*.c), the live body (hook/win32/*.c) and the media verbs
# (hook/media/*.c, bake and lint on wimlib); hook/offline/ is the Linux
# build's.  When win/deps.sh could not build wimlib (its source package not
# served: build/win/deps/.wimlib-missing says why), hook/win32/nomedia.c
# answers bake and lint instead (exit 64) - `make windows` decides after
# running deps.sh (WIN_MEDIA=1|0 forces it).  Objects mirror the source
# tree under $(WIN_OBJDIR); minIni.c (MININI_SRC, the top Makefile) is
# compiled as $(WIN_OBJDIR)/minIni.o.
WIN_MEDIA   ?= $(if $(wildcard $(WIN_DEPS)/lib/libwim.a),1,0)
WIN_INI_SRC  = $(wildcard $(WIN_HOOK)/ini/*.c)
WIN_BODY_SRC = $(filter-out $(if $(filter 1,$(WIN_MEDIA)),$(WIN_HOOK)/win32/nomedia.c),\
                 $(wildcard $(WIN_HOOK)/win32/*.c))
WIN_SRC      = $(wildcard $(WIN_HOOK)/*.c) $(WIN_INI_SRC) $(WIN_BODY_SRC) \
               $(if $(filter 1,$(WIN_MEDIA)),$(wildcard $(WIN_HOOK)/media/*.c))
WIN_HDRS     = $(wildcard $(WIN_HOOK)/*.h $(WIN_HOOK)/*/*.h)
WIN_OBJ      = $(patsubst %.c,$(WIN_OBJDIR)/%.o,$(WIN_SRC)) $(WIN_OBJDIR)/minIni.o

WIN_CFLAGS  ?= -O2
WIN_WARN     = -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter
# hook/win32/compat.h: gmtime_r, C99 stdio/vasprintf, kill/SIGKILL for the test
# seam.  LIBXML_STATIC: no dllimport of libxml2 symbols.
WIN_KHFLAGS  = -std=gnu11 $(WIN_WARN) -D_GNU_SOURCE -DLIBXML_STATIC \
               -D_WIN32_WINNT=0x0A00 -DWINVER=0x0A00 \
               -include $(WIN_HOOK)/win32/compat.h -I$(WIN_HOOK) \
               -I$(WIN_DEPS)/include \
               -I$(WIN_DEPS)/include/libxml2 \
               -ffunction-sections -fdata-sections
# Every CRT stream is binary (hook/win32/wmain.c sets _fmode; Debian's binmode.o is
# empty).  Libraries in dependency order; winpthread
# (static, via -static) only for clock_gettime/nanosleep.
WIN_LDFLAGS  = -static -s -Wl,--gc-sections -Wl,--no-insert-timestamp -Wl,--exclude-all-symbols \
               -Wl,--dynamicbase -Wl,--nxcompat -Wl,--high-entropy-va \
               -Wl,-Map,$(WIN_BUILD)/khreset.map
WIN_LIBS     = $(if $(filter 1,$(WIN_MEDIA)),$(WIN_DEPS)/lib/libwim.a) \
               $(WIN_DEPS)/lib/libxml2.a $(WIN_DEPS)/lib/libjansson.a \
               $(WIN_DEPS)/lib/libcrypto.a \
               -lws2_32 -lcrypt32 -lbcrypt -luser32 -ladvapi32 -lole32 \
               -loleaut32 -ltaskschd -luuid $(if $(filter 1,$(WIN_MEDIA)),-lntdll) \
               -lwinpthread

WIN_LIBA     = $(WIN_DEPS)/lib/libxml2.a $(WIN_DEPS)/lib/libjansson.a \
               $(WIN_DEPS)/lib/libcrypto.a

.PHONY: windows windows-deps windows-objs windows-size windows-clean windows-smoke windows-test

# deps first, then a make that sees whether wimlib is there (WIN_MEDIA).
windows: windows-deps
	@$(MAKE) --no-print-directory $(WIN_BUILD)/khreset.exe
	@[ -f $(WIN_DEPS)/.wimlib-missing ] && \
	  echo "windows: khreset.exe built WITHOUT bake and lint: $$(head -n 1 $(WIN_DEPS)/.wimlib-missing)" >&2 || :
	sh win/check-imports.sh $(WIN_BUILD)/khreset.exe
	sh win/check-size.sh $(WIN_BUILD)/khreset.exe

# deps.sh is itself cached (stamps per library and options), so running it
# is cheap; make reruns it when it or its inputs change.
windows-deps:
	W=$(WIN_BUILD) sh win/deps.sh

$(WIN_LIBA) &: win/deps.sh tools/debsrc.sh win/toolchain-mingw64.cmake
	W=$(WIN_BUILD) sh win/deps.sh
	touch $(WIN_LIBA)

# The shared main() becomes kh_main(); hook/win32/wmain.c is the entry point.
$(WIN_OBJDIR)/$(WIN_HOOK)/main.o: $(WIN_HOOK)/main.c $(WIN_HDRS) | $(WIN_LIBA)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CFLAGS) $(WIN_KHFLAGS) -Dmain=kh_main -c -o $@ $<

$(WIN_OBJDIR)/%.o: %.c $(WIN_HDRS) | $(WIN_LIBA)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CFLAGS) $(WIN_KHFLAGS) -c -o $@ $<

# minIni with our glue first on the include path (never a stale deps copy).
$(WIN_OBJDIR)/minIni.o: $(MININI_SRC)/minIni.c $(WIN_HOOK)/ini/minGlue.h
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CFLAGS) -std=gnu11 -Wall -ffunction-sections -fdata-sections \
	  $(INI_CFLAGS) -c -o $@ $<

$(patsubst %.c,$(WIN_OBJDIR)/%.o,$(WIN_INI_SRC)): WIN_KHFLAGS := $(INI_CFLAGS) $(WIN_KHFLAGS)
$(patsubst %.c,$(WIN_OBJDIR)/%.o,$(WIN_INI_SRC)): $(MININI_SRC)/minIni.h

# Event message table (Event Viewer text for source "khreset").
$(WIN_OBJDIR)/khreset_msg.o: win/khreset.mc win/khreset.rc win/khreset.manifest
	@mkdir -p $(WIN_OBJDIR)/mc
	cp win/khreset.mc $(WIN_OBJDIR)/mc/khreset_msg.mc
	$(WIN_WINDMC) -h $(WIN_OBJDIR)/mc -r $(WIN_OBJDIR)/mc -b $(WIN_OBJDIR)/mc/khreset_msg.mc
	$(WIN_WINDRES) -I$(WIN_OBJDIR)/mc -Iwin -i win/khreset.rc -o $@

$(WIN_BUILD)/khreset.exe: $(WIN_OBJ) $(WIN_OBJDIR)/khreset_msg.o $(WIN_LIBA)
	$(WIN_CC) -municode -o $@ $(WIN_OBJ) $(WIN_OBJDIR)/khreset_msg.o \
	  $(WIN_LDFLAGS) $(WIN_LIBS)
	@ls -l $@

# Compiles each Windows source on its own and says which fail (keeps going).
windows-objs: | $(WIN_LIBA) $(MININI_SRC)/minIni.h
	@mkdir -p $(WIN_OBJDIR); ok=0; bad=0; \
	for s in $(WIN_SRC); do o=$(WIN_OBJDIR)/$${s%.c}.o; mkdir -p $$(dirname $$o); \
	  x=; [ $$s = $(WIN_HOOK)/main.c ] && x=-Dmain=kh_main; \
	  case $$s in $(WIN_HOOK)/ini/*) x="$(INI_CFLAGS)";; esac; \
	  if $(WIN_CC) $$x $(WIN_CFLAGS) $(WIN_KHFLAGS) -c -o $$o $$s 2>$$o.err; then \
	    ok=$$((ok+1)); else bad=$$((bad+1)); echo "FAIL $$s (see $$o.err)"; fi; done; \
	echo "windows-objs: $$ok compiled, $$bad failed"

windows-size: $(WIN_BUILD)/khreset.exe
	sh win/size-report.sh $(WIN_BUILD)/khreset.map $(WIN_BUILD)/khreset.exe

windows-clean:
	rm -rf $(WIN_OBJDIR) $(WIN_BUILD)/khreset.exe $(WIN_BUILD)/khreset.map

# Platform-body smoke test under Wine (tests/win/smoke.sh, about 25 s).
windows-smoke: $(WIN_LIBA)
	W=$(WIN_BUILD) sh tests/win/smoke.sh

# All Windows-side tests: the import checker's own test, the smoke test,
# the retry task's registration under Wine (tests/win/task.sh), the field
# case end to end (tests/win/e2e.sh), the first boot with stand-ins that
# misbehave (tests/win/firstboot.sh), then bake and lint through khreset.exe
# against the Linux build and tools (tests/win/media.sh; needs the Linux
# build/khreset too).
windows-test: $(WIN_LIBA)
	W=$(WIN_BUILD) sh tests/win/check-imports-test.sh
	W=$(WIN_BUILD) sh tests/win/smoke.sh
	W=$(WIN_BUILD) sh tests/win/task.sh
	$(MAKE) --no-print-directory windows && W=$(WIN_BUILD) sh tests/win/e2e.sh
	W=$(WIN_BUILD) sh tests/win/firstboot.sh
	W=$(WIN_BUILD) sh tests/win/collect.sh
	$(MAKE) --no-print-directory $(BUILD)/khreset && W=$(WIN_BUILD) BUILD=$(BUILD) sh tests/win/media.sh
