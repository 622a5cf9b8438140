/* slc_test.c - a test-only native slc.dll for the Wine end-to-end suite
 * (tests/win/e2e.sh).  Wine's own slc.dll is a stub (SLGetLicensingStatus-
 * Information fails with SL_E_RIGHT_NOT_CONSUMED_SUCCESSFULLY), so the test
 * prefix replaces C:\windows\system32\slc.dll with this one and sets
 * WINEDLLOVERRIDES=slc=n.  khreset.exe is unchanged: it still loads slc.dll
 * from System32 (LOAD_LIBRARY_SEARCH_SYSTEM32).
 *
 * It reports the state the activation stand-in (standin_activation.c)
 * recorded: HKLM\SOFTWARE\khreset-test\Licensed = 1 -> one SKU with status 1
 * (licensed), otherwise status 3 (notification) with hrReason
 * 0xC004F074 (the activation server could not be reached/used).
 * HKLM\SOFTWARE\khreset-test\SlcFail = 1 makes SLOpen fail (a broken
 * licensing stack: khreset must say "unknown", not crash).
 *
 * Prototypes (slpublic.h, Windows SDK; mingw-w64's copy lacks them):
 *   HRESULT WINAPI SLOpen(HSLC *phSLC);
 *   HRESULT WINAPI SLClose(HSLC hSLC);
 *   HRESULT WINAPI SLGetLicensingStatusInformation(HSLC hSLC,
 *       const SLID *pAppID, const SLID *pProductSkuId, PCWSTR pwszRightName,
 *       UINT *pnStatusCount, SL_LICENSING_STATUS **ppLicensingStatus);
 *   the array is allocated with LocalAlloc; the caller frees it with LocalFree.
 *
 * Build: x86_64-w64-mingw32-gcc -shared -static -o slc.dll slc_test.c
 *        -ladvapi32 (exports by __declspec(dllexport); x64 has no decoration)
 */
#include <windows.h>

typedef GUID SLID;
typedef PVOID HSLC;
typedef enum _tagSLLICENSINGSTATUS {
	SL_LICENSING_STATUS_UNLICENSED,
	SL_LICENSING_STATUS_LICENSED,
	SL_LICENSING_STATUS_IN_GRACE_PERIOD,
	SL_LICENSING_STATUS_NOTIFICATION,
	SL_LICENSING_STATUS_LAST
} SLLICENSINGSTATUS;
typedef struct _tagSL_LICENSING_STATUS {
	SLID SkuId;
	SLLICENSINGSTATUS eStatus;
	DWORD dwGraceTime;
	DWORD dwTotalGraceDays;
	HRESULT hrReason;
	UINT64 qwValidityExpiration;
} SL_LICENSING_STATUS;

#define SL_E_APPLICATION_POLICIES_MISSING ((HRESULT)0xC004F072L)
#define SL_E_VL_KMS_NOT_REACHABLE         ((HRESULT)0xC004F074L)
#define SL_E_PRODUCT_SKU_NOT_INSTALLED    ((HRESULT)0xC004F014L)

/* Windows application ID 55c92734-d682-4d71-983e-d6ec3f16059f */
static const SLID windows_app = {
	0x55c92734, 0xd682, 0x4d71, { 0x98, 0x3e, 0xd6, 0xec, 0x3f, 0x16, 0x05, 0x9f }
};
/* a made-up SKU ID for the CMGE edition */
static const SLID cmge_sku = {
	0x2f7c1e4b, 0x8d3a, 0x4e21, { 0x9b, 0x6c, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f }
};
static int handle_tag;

static DWORD test_get(const wchar_t *name, DWORD def)
{
	DWORD v = 0, sz = sizeof(v);

	if (RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\khreset-test", name, RRF_RT_REG_DWORD,
			 NULL, &v, &sz) != ERROR_SUCCESS)
		return def;
	return v;
}

__declspec(dllexport) HRESULT WINAPI SLOpen(HSLC *phSLC)
{
	if (!phSLC)
		return E_INVALIDARG;
	if (test_get(L"SlcFail", 0) == 1) {
		*phSLC = NULL;
		return E_FAIL;
	}
	*phSLC = &handle_tag;
	return S_OK;
}

__declspec(dllexport) HRESULT WINAPI SLClose(HSLC hSLC)
{
	return hSLC == &handle_tag ? S_OK : E_INVALIDARG;
}

__declspec(dllexport) HRESULT WINAPI SLGetLicensingStatusInformation(HSLC hSLC,
	const SLID *pAppID, const SLID *pProductSkuId, PCWSTR pwszRightName,
	UINT *pnStatusCount, SL_LICENSING_STATUS **ppLicensingStatus)
{
	SL_LICENSING_STATUS *ls;

	(void)pwszRightName;
	if (hSLC != &handle_tag || !pnStatusCount || !ppLicensingStatus)
		return E_INVALIDARG;
	*pnStatusCount = 0;
	*ppLicensingStatus = NULL;
	if (!pAppID || !IsEqualGUID(pAppID, &windows_app))
		return SL_E_APPLICATION_POLICIES_MISSING;
	if (pProductSkuId && !IsEqualGUID(pProductSkuId, &cmge_sku))
		return SL_E_PRODUCT_SKU_NOT_INSTALLED;
	ls = LocalAlloc(LPTR, sizeof(*ls));
	if (!ls)
		return E_OUTOFMEMORY;
	ls->SkuId = cmge_sku;
	if (test_get(L"Licensed", 0) == 1) {
		ls->eStatus = SL_LICENSING_STATUS_LICENSED;
		ls->hrReason = S_OK;
	} else {
		ls->eStatus = SL_LICENSING_STATUS_NOTIFICATION;
		ls->hrReason = SL_E_VL_KMS_NOT_REACHABLE;
	}
	*pnStatusCount = 1;
	*ppLicensingStatus = ls;
	return S_OK;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
	(void)inst; (void)reason; (void)reserved;
	return TRUE;
}
