/* licence.c - the licence state of Windows through slc.dll, loaded from
 * System32 at run time; any failure is KH_LIC_UNKNOWN, never an error.
 */
#include "win32.h"

/* slc.dll, declared here: mingw-w64's slpublic.h lacks these. */
typedef void *kh_hslc;
typedef struct {
	GUID SkuId;
	int eStatus;            /* SLLICENSINGSTATUS */
	DWORD dwGraceTime;
	DWORD dwTotalGraceDays;
	HRESULT hrReason;
	UINT64 qwValidityExpiration;
} kh_sl_licensing_status;
typedef HRESULT (WINAPI *kh_slopen_fn)(kh_hslc *);
typedef HRESULT (WINAPI *kh_slclose_fn)(kh_hslc);
typedef HRESULT (WINAPI *kh_slgetstatus_fn)(kh_hslc, const GUID *, const GUID *, PCWSTR,
					    UINT *, kh_sl_licensing_status **);

/* Windows application ID 55c92734-d682-4d71-983e-d6ec3f16059f */
static const GUID kh_windows_appid = {
	0x55c92734, 0xd682, 0x4d71, { 0x98, 0x3e, 0xd6, 0xec, 0x3f, 0x16, 0x05, 0x9f }
};

int plat_licence(kh_plat *p, enum kh_licence *st, uint32_t *reason)
{
	kh_slopen_fn slopen;
	kh_slclose_fn slclose;
	kh_slgetstatus_fn slget;
	kh_hslc h = NULL;
	kh_sl_licensing_status *ls = NULL;
	UINT count = 0;
	HRESULT hr;
	int best = -1, rank_best = -1;
	static const int rank[] = { 1, 4, 3, 2 };   /* unlic, licensed, grace, notif */
	static const enum kh_licence map[] = { KH_LIC_UNLICENSED, KH_LIC_LICENSED,
					       KH_LIC_GRACE, KH_LIC_NOTIFICATION };

	*st = KH_LIC_UNKNOWN;
	*reason = 0;
	if (!p->slc)
		p->slc = LoadLibraryExW(L"slc.dll", NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
	if (!p->slc) {
		kh_log(KH_LOG_WARN, "licence", "cannot load slc.dll from System32: %s",
		       werr(GetLastError()));
		return KH_OK;
	}
	slopen = (kh_slopen_fn)(void (*)(void))GetProcAddress(p->slc, "SLOpen");
	slclose = (kh_slclose_fn)(void (*)(void))GetProcAddress(p->slc, "SLClose");
	slget = (kh_slgetstatus_fn)(void (*)(void))GetProcAddress(p->slc,
								  "SLGetLicensingStatusInformation");
	if (!slopen || !slclose || !slget) {
		kh_log(KH_LOG_WARN, "licence", "slc.dll lacks SLOpen/SLGetLicensingStatusInformation");
		return KH_OK;
	}
	hr = slopen(&h);
	if (FAILED(hr) || !h) {
		kh_log(KH_LOG_WARN, "licence", "SLOpen failed: 0x%08lx", (unsigned long)hr);
		return KH_OK;
	}
	hr = slget(h, &kh_windows_appid, NULL, NULL, &count, &ls);
	if (FAILED(hr) || !ls || count == 0) {
		kh_log(KH_LOG_WARN, "licence", "SLGetLicensingStatusInformation: 0x%08lx, %u entries",
		       (unsigned long)hr, count);
	} else {
		/* several SKUs may answer: the best state wins */
		for (UINT i = 0; i < count && i < 4096; i++) {
			int s = ls[i].eStatus;

			if (s < 0 || s > 3)
				continue;
			if (rank[s] > rank_best) {
				rank_best = rank[s];
				best = (int)i;
			}
		}
		if (best >= 0) {
			*st = map[ls[best].eStatus];
			*reason = (uint32_t)ls[best].hrReason;
		}
	}
	if (ls)
		LocalFree(ls);
	slclose(h);
	return KH_OK;
}
