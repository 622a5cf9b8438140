/* stubs.c - what has no meaning on a mounted volume: service control and
 * the retry task (deferred to the next boot), licence state (unknown) and
 * events (none).  tests/fake/plat_fake.c replaces this file at link time. */
#include <stdint.h>

#include "khreset.h"
#include "platform.h"

int plat_is_offline(const kh_plat *p) { return 1; }

/* ---------- services, licence, events ---------- */

int plat_service_stop(kh_plat *p, const char *name, int timeout_s)
{
	kh_seterr("offline: service control is deferred to the next boot");
	return KH_ERR_UNSUPPORTED;
}

int plat_service_start(kh_plat *p, const char *name, int timeout_s)
{
	kh_seterr("offline: service control is deferred to the next boot");
	return KH_ERR_UNSUPPORTED;
}

int plat_licence(kh_plat *p, enum kh_licence *st, uint32_t *reason)
{
	*st = KH_LIC_UNKNOWN;
	*reason = 0;
	return KH_OK;
}

int plat_event(kh_plat *p, int id, const char *text) { return KH_OK; }

/* ---------- the retry task: live only ---------- */

static int no_task(void)
{
	kh_seterr("the retry task exists only on a live Windows system");
	return KH_ERR_UNSUPPORTED;
}

int plat_task_install(kh_plat *p, const struct kh_task *t) { return no_task(); }
int plat_task_remove(kh_plat *p, const char *name) { return no_task(); }

int plat_task_query(kh_plat *p, const char *name, int *exists, char **detail)
{
	*exists = 0;
	*detail = NULL;
	return no_task();
}
