# CMake toolchain file: cross-compile for 64-bit Windows with Debian's
# mingw-w64 (win32 thread model: no libwinpthread-1.dll).  Used by
# win/deps.sh for jansson.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(KH_HOST x86_64-w64-mingw32)
if(NOT KH_MINGW_CC)
  set(KH_MINGW_CC ${KH_HOST}-gcc-win32)
endif()
set(CMAKE_C_COMPILER ${KH_MINGW_CC})
set(CMAKE_RC_COMPILER ${KH_HOST}-windres)
set(CMAKE_AR ${KH_HOST}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${KH_HOST}-ranlib CACHE FILEPATH "")
set(CMAKE_FIND_ROOT_PATH /usr/${KH_HOST})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
