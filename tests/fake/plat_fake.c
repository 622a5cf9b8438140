/* plat_fake.c - a test body of the platform boundary: the offline body for
 * files and registry, plus "live" services and licence state played by
 * tests/tools/fakesvc, so that the live plan (restart, verify, trigger,
 * wait, rollback) runs on Linux.  Every service call is traced:
 *   > service_stop(ClipSVC)
 *   < 0
 * to the file named by KHRESET_FAKE_TRACE.  Never linked into khreset. */
#define plat_is_offline    offline_is_offline
#define plat_service_stop  offline_service_stop
#define plat_service_start offline_service_start
#define plat_licence       offline_licence
#include "../../hook/plat_offline.c"
#undef plat_is_offline
#undef plat_service_stop
#undef plat_service_start
#undef plat_licence

#include <spawn.h>
#include <stdarg.h>
#include <sys/wait.h>

extern char **environ;

int plat_is_offline(const kh_plat *p) { return 0; }

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
	const char *path = getenv("KHRESET_FAKE_TRACE");
	va_list ap;
	FILE *f;

	if (!path || !(f = fopen(path, "a")))
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static int service(kh_plat *p, const char *verb, const char *name)
{
	const char *svc = getenv("KHRESET_FAKE_SVC");
	char *argv[] = { (char *)svc, (char *)verb, (char *)name, p->root, NULL };
	int st = 0, rc;
	pid_t pid;

	trace("> service_%s(%s)\n", verb, name);
	if (!svc || posix_spawn(&pid, svc, NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &st, 0) < 0)
		rc = KH_ERR_SERVICE;
	else
		rc = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? KH_OK : KH_ERR_SERVICE;
	trace("< %d\n", rc);
	if (rc != KH_OK)
		kh_seterr("service %s: %s failed", name, verb);
	return rc;
}

int plat_service_stop(kh_plat *p, const char *name, int timeout_s)
{
	return service(p, "stop", name);
}

int plat_service_start(kh_plat *p, const char *name, int timeout_s)
{
	return service(p, "start", name);
}

int plat_licence(kh_plat *p, enum kh_licence *st, uint32_t *reason)
{
	unsigned char *buf = NULL;
	size_t len;

	*st = KH_LIC_NOTIFICATION;
	*reason = 0xC004F200;
	if (plat_read(p, "ProgramData\\fake\\licence", 64, &buf, &len) == KH_OK &&
	    !strncmp((char *)buf, "licensed", 8)) {
		*st = KH_LIC_LICENSED;
		*reason = 0;
	}
	free(buf);
	trace("> licence() = %s\n", *st == KH_LIC_LICENSED ? "licensed" : "notification");
	return KH_OK;
}
