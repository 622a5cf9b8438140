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

int plat_exec(kh_plat *p, char *const argv[], int timeout_s, int *exit_code)
{
	*exit_code = -1;
	kh_seterr("offline: the activation command is deferred to the next boot");
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

/* ---------- evidence: what a mounted volume cannot say ---------- */

static int no_evidence(const char *what)
{
	kh_seterr("offline: %s cannot be read from a mounted volume", what);
	return KH_ERR_UNSUPPORTED;
}

int plat_svc_status(kh_plat *p, const char *name, struct kh_svc_status *st)
{
	return no_evidence("a service's state");
}

int plat_svc_config(kh_plat *p, const char *name, struct kh_svc_config *cfg)
{
	return no_evidence("a service's configuration");
}

void plat_free_svc_config(struct kh_svc_config *cfg) {}

int plat_svc_triggers(kh_plat *p, const char *name, struct kh_svc_trigger **t, size_t *n)
{
	*t = NULL;
	*n = 0;
	return no_evidence("a service's triggers");
}

void plat_free_svc_triggers(struct kh_svc_trigger *t, size_t n) {}

int plat_licence_skus(kh_plat *p, struct kh_sku_licence **list, size_t *n)
{
	*list = NULL;
	*n = 0;
	return no_evidence("the licence state");
}

void plat_free_licence_skus(struct kh_sku_licence *list, size_t n) {}

int plat_sddl(kh_plat *p, const char *path, char **sddl)
{
	*sddl = NULL;
	return no_evidence("an access list");
}

int plat_codepage(kh_plat *p, struct kh_codepage *cp)
{
	return no_evidence("the console code page");
}

int plat_ev_spawn(kh_plat *p, char *const argv[], kh_child **out)
{
	*out = NULL;
	kh_seterr("offline: nothing changes by itself on a mounted volume; no collector runs");
	return KH_ERR_UNSUPPORTED;
}

int plat_ev_finish(kh_child *c, int timeout_s) { return KH_OK; }
