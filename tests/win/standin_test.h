/* standin_test.h - the control values of the Wine test stand-ins
 * (tests/win/standin_*.c): DWORD and string values under
 * HKLM\SOFTWARE\khreset-test that the tests set and the stand-ins read, or
 * the stand-ins write for the tests to read.  Static functions only.
 */
#ifndef KH_STANDIN_TEST_H
#define KH_STANDIN_TEST_H

#include <windows.h>
#include <wchar.h>

#define TEST_KEY L"SOFTWARE\\khreset-test"

static __attribute__((unused)) DWORD test_get(const wchar_t *name, DWORD def)
{
	DWORD v = 0, sz = sizeof(v);

	if (RegGetValueW(HKEY_LOCAL_MACHINE, TEST_KEY, name, RRF_RT_REG_DWORD, NULL, &v,
			 &sz) != ERROR_SUCCESS)
		return def;
	return v;
}

static void test_set(const wchar_t *name, DWORD v)
{
	RegSetKeyValueW(HKEY_LOCAL_MACHINE, TEST_KEY, name, REG_DWORD, &v, sizeof(v));
}

static __attribute__((unused)) void test_set_sz(const wchar_t *name, const wchar_t *s)
{
	RegSetKeyValueW(HKEY_LOCAL_MACHINE, TEST_KEY, name, REG_SZ, s,
			(DWORD)((wcslen(s) + 1) * sizeof(wchar_t)));
}

#endif /* KH_STANDIN_TEST_H */
