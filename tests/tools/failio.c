/* failio.c - an LD_PRELOAD shim for the tests: read(2), pread(2) or
 * mmap(2) of a file whose path ends as KH_FAILIO_PATH says fails with EIO,
 * as a failing disk would.  KH_FAILIO_CALL (read, pread, mmap or all, the
 * default) picks the call.  Without KH_FAILIO_PATH it only passes calls
 * on.  Built as build/tools/failio.so (not an executable like the other
 * tools). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int hit(int fd, const char *call)
{
	const char *want = getenv("KH_FAILIO_PATH"), *which = getenv("KH_FAILIO_CALL");
	char link[64], path[4096];
	ssize_t n;
	size_t w;

	if (fd < 0 || !want || !*want ||
	    (which && *which && strcmp(which, "all") && strcmp(which, call)))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 0)
		return 0;
	path[n] = '\0';
	w = strlen(want);
	return (size_t)n >= w && strcmp(path + n - w, want) == 0;
}

ssize_t read(int fd, void *buf, size_t len)
{
	static ssize_t (*real)(int, void *, size_t);

	if (!real)
		real = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	if (hit(fd, "read")) {
		errno = EIO;
		return -1;
	}
	return real(fd, buf, len);
}

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, void *, size_t, off_t);

	if (!real)
		real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, "pread");
	if (hit(fd, "pread")) {
		errno = EIO;
		return -1;
	}
	return real(fd, buf, len, off);
}

ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static void *(*real)(void *, size_t, int, int, int, off_t);

	if (!real)
		real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
	if (hit(fd, "mmap")) {
		errno = EIO;
		return MAP_FAILED;
	}
	return real(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}
