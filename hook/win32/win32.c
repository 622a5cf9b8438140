/* win32.c - shared by the live body: process hardening before main(),
 * UTF-16 to UTF-8, the system's text for an error code, file times. */
#include <stdio.h>
#include <stdlib.h>

#include "win32.h"

/* Hardening that must precede everything else (SPEC section 9): only
 * System32 is searched for DLLs loaded at run time.  Runs before main(). */
__attribute__((constructor)) static void kh_win_early(void)
{
	SetDefaultDllDirectories(LOAD_LIBRARY_SEARCH_SYSTEM32);
	SetDllDirectoryW(L"");
	SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX);
}

char *from_w(const wchar_t *w, int wlen)
{
	int n;
	char *s;

	if (wlen == 0)
		return kh_strdup("");
	n = WideCharToMultiByte(CP_UTF8, 0, w, wlen, NULL, 0, NULL, NULL);
	if (n <= 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	if (WideCharToMultiByte(CP_UTF8, 0, w, wlen, s, n, NULL, NULL) != n) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

/* The system's text for a Win32 error or HRESULT, without the closing
 * ".\r\n" (malloc'd; NULL when it has none).  Language 0: FormatMessage's
 * own search order (neutral, thread, user, system, then US English), so a
 * Chinese Windows without English resources still gives a text - asking for
 * English alone fails there with ERROR_RESOURCE_LANG_NOT_FOUND. */
static char *sys_text(DWORD code)
{
	wchar_t wb[400];
	DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
				 NULL, code, 0, wb, sizeof(wb) / sizeof(wb[0]), NULL);

	while (n > 0 && (wb[n - 1] == L'\r' || wb[n - 1] == L'\n' || wb[n - 1] == L'.' ||
			 wb[n - 1] == L' '))
		n--;
	return n ? from_w(wb, (int)n) : NULL;
}

const char *werr(DWORD e)
{
	static char buf[512];
	char *t = sys_text(e);

	snprintf(buf, sizeof(buf), "error %lu%s%s", (unsigned long)e, t ? ": " : "",
		 t ? t : "");
	free(t);
	return buf;
}

const char *hrtext(HRESULT hr)
{
	static char buf[600];
	char *t = sys_text((DWORD)hr);

	snprintf(buf, sizeof(buf), "HRESULT 0x%08lX%s%s%s", (unsigned long)hr,
		 t ? " (" : "", t ? t : "", t ? ")" : "");
	free(t);
	return buf;
}

int64_t ft_to_unix(FILETIME ft)
{
	int64_t t = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);

	t -= 116444736000000000LL;         /* 1601-01-01 -> 1970-01-01 */
	return t >= 0 ? t / 10000000 : -((-t + 9999999) / 10000000);
}
