/* win32.h - what the files of the live body (hook/win32/) share; private to
 * that folder: the core sees only platform.h.
 *
 * Text crosses platform.h as UTF-8; Windows gets UTF-16.  The names are
 * short and unprefixed because nothing outside hook/win32 includes this.
 */
#ifndef KH_WIN32_H
#define KH_WIN32_H

#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <stdint.h>
#include <wchar.h>

#include "khreset.h"
#include "platform.h"

struct kh_plat {
	wchar_t wroot[8];        /* L"C:\\" */
	char root[8];            /* "C:\\" */
	HANDLE mutex;            /* events.c: plat_lock */
	HMODULE slc;             /* licence.c */
	HANDLE evsrc;            /* events.c */
};

/* ---- text and error text (win32.c) ---- */
/* UTF-8 to UTF-16 (malloc'd; NULL for NULL, invalid UTF-8 or no memory):
 * the one in hook/win32/compat.c. */
static inline wchar_t *to_w(const char *s)
{
	return kh_win_utf8_to_w(s);
}
/* UTF-16 to UTF-8 (malloc'd; NULL on failure); wlen < 0: NUL-terminated. */
char *from_w(const wchar_t *w, int wlen);
/* "error N: text" for a Win32 error (static buffer, for kh_seterr). */
const char *werr(DWORD e);
/* "HRESULT 0x80070005 (Access is denied)" (static buffer, for kh_seterr). */
const char *hrtext(HRESULT hr);
/* FILETIME (100 ns since 1601) to seconds since the Unix epoch. */
int64_t ft_to_unix(FILETIME ft);

/* ---- paths and checked opens (files.c) ---- */
/* Checks a root-relative path and returns "\\?\C:\a\b" (malloc'd); empty
 * path or "\" is the root itself.  KH_ERR_UNSAFE for a bad component. */
int full_path(const kh_plat *p, const char *rel, wchar_t **out);
/* Splits "\\?\C:\a\b\c" into parent "\\?\C:\a\b" (new string) and leaf. */
int split_parent(const wchar_t *full, wchar_t **parent, const wchar_t **leaf);

enum { WANT_ANY, WANT_FILE, WANT_DIR };
/* Opens the entry itself (never what a reparse point names), checks that
 * its final path is exactly full and, per want, that it is a regular file /
 * a folder and not a reparse point.  rel names it in errors. */
int open_checked(const wchar_t *full, const char *rel, DWORD access, DWORD share,
		 DWORD disposition, int want, HANDLE *out, BY_HANDLE_FILE_INFORMATION *info);
/* full_path + open_checked (OPEN_EXISTING) of the root-relative path rel. */
int open_rel(const kh_plat *p, const char *rel, DWORD access, DWORD share, int want,
	     HANDLE *out, BY_HANDLE_FILE_INFORMATION *info);

#endif
