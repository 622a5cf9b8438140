/* win/include/sys/mman.h - Windows stand-in for the one <sys/mman.h> use in
 * the shared sources: memfd_create() for kh_memfile() (state.c).  The fd is
 * an anonymous temporary file (hook/win32/compat.c); its "/proc/self/fd/N"
 * name is understood by the Windows minIni glue (win/minGlue-win32.h). */
#ifndef KH_WIN_SYS_MMAN_H
#define KH_WIN_SYS_MMAN_H
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif
int kh_win_memfd(const char *name, unsigned int flags);
#define memfd_create(name, flags) kh_win_memfd((name), (flags))
#endif
