/* testutil.h - helpers the unit tests share: bounded formatting that fails
 * the test on truncation, and shell commands (the independent tools that
 * make fixtures: openssl, sha256sum, hivexregedit) run in a folder. */
#ifndef KH_TESTUTIL_H
#define KH_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "khreset.h"

static void tu_vfmt(char *out, size_t n, const char *f, va_list ap) __attribute__((unused));
static void tu_vfmt(char *out, size_t n, const char *f, va_list ap)
{
	int r = vsnprintf(out, n, f, ap);

	assert_true(r >= 0 && (size_t)r < n);
}

static void tu_fmt(char *out, size_t n, const char *f, ...) KH_PRINTF(3, 4) __attribute__((unused));
static void tu_fmt(char *out, size_t n, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	tu_vfmt(out, n, f, ap);
	va_end(ap);
}

/* Runs `cd dir && (command) >/dev/null 2>&1`; returns its exit status. */
static int tu_run(const char *dir, const char *f, ...) KH_PRINTF(2, 3) __attribute__((unused));
static int tu_run(const char *dir, const char *f, ...)
{
	char cmd[2048], full[2400];
	va_list ap;
	int r;

	va_start(ap, f);
	tu_vfmt(cmd, sizeof(cmd), f, ap);
	va_end(ap);
	tu_fmt(full, sizeof(full), "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd);
	r = system(full);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

#endif
