/* plat_fake.c - a test body of the platform boundary: the offline body for
 * files and registry (hook/offline/files.c, hives.c), with this file in
 * place of its stubs.c: "live" services and licence state played by
 * tests/tools/fakesvc, so that the live plan (restart, verify, trigger,
 * wait, rollback) runs on Linux.  Every service call is traced:
 *   > service_stop(ClipSVC)
 *   < 0
 * to the file named by KHRESET_FAKE_TRACE.  The retry task is played too:
 *   > task_install(\khreset\Retry)     > task_remove(\khreset\Retry)
 * with its state in ProgramData\fake\task on the volume (the task's name,
 * then its definition, one "key=value" a line), so task_query answers
 * consistently across runs.  Never linked into khreset. */
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "khreset.h"
#include "offline/offline.h"

extern char **environ;

int plat_is_offline(const kh_plat *p) { return 0; }

/* Events are not played: no-op, like the offline body. */
int plat_event(kh_plat *p, int id, const char *text) { return KH_OK; }

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

/* ---- the retry task ---- */
#define FAKE_DIR  "ProgramData\\fake"
#define FAKE_TASK FAKE_DIR "\\task"

/* 1 when the state file holds a task named name (first line). */
static int task_present(kh_plat *p, const char *name, char **text)
{
	unsigned char *buf = NULL;
	size_t len, n = strlen(name);
	int yes;

	*text = NULL;
	if (plat_read(p, FAKE_TASK, 1 << 16, &buf, &len) != KH_OK)
		return 0;
	yes = len > n && !strncmp((char *)buf, name, n) && buf[n] == '\n';
	if (yes)
		*text = (char *)buf;
	else
		free(buf);
	return yes;
}

int plat_task_install(kh_plat *p, const struct kh_task *t)
{
	char *s;
	int rc;

	trace("> task_install(%s)\n", t->name);
	s = kh_asprintf("%s\ndelay=%s\ninterval=%s\nmax_attempts=%d\ncommand=%s\nargs=%s\n",
			t->name, t->delay, t->interval, t->max_attempts,
			t->command ? t->command : "", t->args ? t->args : "");
	if (!s)
		rc = KH_ERR_NOMEM;
	else if ((rc = kh_test_fail("task_install")) == KH_OK &&
		 (rc = plat_mkdirs(p, FAKE_DIR)) == KH_OK)
		rc = plat_write_atomic(p, FAKE_TASK, s, strlen(s));
	free(s);
	trace("< %d\n", rc);
	return rc;
}

int plat_task_remove(kh_plat *p, const char *name)
{
	char *text;
	int rc = KH_OK;

	trace("> task_remove(%s)\n", name);
	if (task_present(p, name, &text)) {
		free(text);
		rc = plat_remove(p, FAKE_TASK);
	}
	trace("< %d\n", rc);
	return rc;
}

int plat_task_query(kh_plat *p, const char *name, int *exists, char **detail)
{
	char *text;

	*exists = task_present(p, name, &text);
	*detail = NULL;
	if (*exists) {
		char *def = strchr(text, '\n') + 1;

		/* one line: "delay=PT2M, interval=PT15M, ..." */
		for (char *c = def; *c; c++)
			if (*c == '\n' && c[1])
				*c = ',';
		def[strcspn(def, "\n")] = '\0';
		*detail = kh_asprintf("fake task: %s", def);
		free(text);
	}
	return KH_OK;      /* not traced: the trace lists changes */
}
