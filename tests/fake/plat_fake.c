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
 * consistently across runs.  Timeouts are kept: a stand-in still running
 * when its timeout ends is killed (KH_ERR_TIMEOUT); a stand-in's exit 75
 * is "not yet" (KH_ERR_INUSE), 4 "no such service".  The activation
 * command is played by "fakesvc exec ROOT PROGRAM ARGS...":
 *   > exec(C:\CMIT\activate.exe)
 * FAKE_BUSY_SECONDS=S: another process holds each archive entry for S s
 * from the first attempt to move it (ProgramData\fake\busy-until): the
 * move answers KH_ERR_INUSE until then (plat_rename is wrapped, ld
 * --wrap).  FAKE_CLIPSVC_HOLDS=NAME: ClipSVC holds archive entry NAME (of
 * its old archive) open without read sharing while it runs: a read of it
 * answers KH_ERR_INUSE unless ClipSVC was stopped
 * (ProgramData\fake\clipsvc-stopped, made by a stop, removed by a start;
 * plat_read is wrapped too).  Never linked into khreset. */
#include <signal.h>
#include <spawn.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "khreset.h"
#include "offline/offline.h"

#define FAKE_DIR  "ProgramData\\fake"

extern char **environ;
static void svc_note(kh_plat *p, const char *verb, const char *name, int rc);

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

/* Runs a stand-in, waiting up to timeout_s for it: its exit code, -1
 * when it cannot start, -2 when it was killed at the timeout. */
static int spawn_wait(char *const argv[], int timeout_s)
{
	struct timespec nap = { 0, 10 * 1000000L }, t0, now;
	pid_t pid;
	int st;

	if (!argv[0] || posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L >=
		    timeout_s * 1000L) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -2;
		}
		nanosleep(&nap, NULL);
	}
}

static int service(kh_plat *p, const char *verb, const char *name, int timeout_s)
{
	const char *svc = getenv("KHRESET_FAKE_SVC");
	char *argv[] = { (char *)svc, (char *)verb, (char *)name, p->root, NULL };
	int code, rc;

	trace("> service_%s(%s)\n", verb, name);
	code = spawn_wait(argv, timeout_s);
	rc = code == 0 ? KH_OK : code == 75 ? KH_ERR_INUSE : code == 4 ? KH_ERR_NOENT
	   : code == -2 ? KH_ERR_TIMEOUT : KH_ERR_SERVICE;
	trace("< %d\n", rc);
	svc_note(p, verb, name, rc);
	if (rc == KH_OK && !strcasecmp(name, "ClipSVC") && plat_mkdirs(p, FAKE_DIR) == KH_OK) {
		if (!strcmp(verb, "stop"))
			plat_write_atomic(p, FAKE_DIR "\\clipsvc-stopped", "1\n", 2);
		else
			plat_remove(p, FAKE_DIR "\\clipsvc-stopped");
		kh_clearerr();
	}
	if (rc == KH_ERR_INUSE)
		kh_seterr("service %s cannot accept the %s control now (started again)", name, verb);
	else if (rc == KH_ERR_NOENT)
		kh_seterr("service %s does not exist", name);
	else if (rc == KH_ERR_TIMEOUT)
		kh_seterr("service %s: %s did not complete within %d s", name, verb, timeout_s);
	else if (rc != KH_OK)
		kh_seterr("service %s: %s failed", name, verb);
	return rc;
}

int plat_service_stop(kh_plat *p, const char *name, int timeout_s)
{
	return service(p, "stop", name, timeout_s);
}

int plat_service_start(kh_plat *p, const char *name, int timeout_s)
{
	return service(p, "start", name, timeout_s);
}

int plat_exec(kh_plat *p, char *const argv[], int timeout_s, int *exit_code)
{
	char *args[40] = { getenv("KHRESET_FAKE_SVC"), "exec", p->root };
	size_t n = 3;
	int code;

	for (size_t i = 0; argv[i] && n < 39; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	trace("> exec(%s)\n", argv[0]);
	code = spawn_wait(args, timeout_s);
	trace("< %d\n", code);
	*exit_code = code;
	if (code == -1) {
		kh_seterr("%s cannot be started", argv[0]);
		return KH_ERR_IO;
	}
	return code == -2 ? KH_ERR_TIMEOUT : KH_OK;
}

/* ---- an archive entry another process holds ---- */
int __real_plat_rename(kh_plat *p, const char *from, const char *to);
int __wrap_plat_rename(kh_plat *p, const char *from, const char *to);

static int in_archive(const char *path)
{
	const char *a = "ClipSVC\\Archive\\KeyHolder\\";

	for (; *path; path++)
		if (!strncasecmp(path, a, strlen(a)))
			return 1;
	return 0;
}

int __real_plat_read(kh_plat *p, const char *path, size_t max, unsigned char **buf,
		     size_t *len);
int __wrap_plat_read(kh_plat *p, const char *path, size_t max, unsigned char **buf,
		     size_t *len);

int __wrap_plat_read(kh_plat *p, const char *path, size_t max, unsigned char **buf,
		     size_t *len)
{
	const char *held = getenv("FAKE_CLIPSVC_HOLDS"), *leaf = strrchr(path, '\\');
	struct kh_dirent st;

	if (!held || !in_archive(path) || !leaf || strcasecmp(leaf + 1, held))
		return __real_plat_read(p, path, max, buf, len);
	if (plat_stat(p, FAKE_DIR "\\clipsvc-stopped", &st) == KH_OK) {
		free(st.name);
		return __real_plat_read(p, path, max, buf, len);
	}
	kh_clearerr();
	trace("> read(%s) held by ClipSVC\n", path);
	kh_seterr("cannot read %s yet: another process holds it open", path);
	return KH_ERR_INUSE;
}

int __wrap_plat_rename(kh_plat *p, const char *from, const char *to)
{
	const char *busy = getenv("FAKE_BUSY_SECONDS");
	unsigned char *buf = NULL;
	long long until = 0;
	size_t len;

	if (!busy || !in_archive(from))
		return __real_plat_rename(p, from, to);
	if (plat_read(p, FAKE_DIR "\\busy-until", 64, &buf, &len) == KH_OK)
		until = strtoll((char *)buf, NULL, 10);
	else {
		char text[32];

		until = (long long)time(NULL) + strtol(busy, NULL, 10);
		snprintf(text, sizeof(text), "%lld\n", until);
		if (plat_mkdirs(p, FAKE_DIR) == KH_OK)
			plat_write_atomic(p, FAKE_DIR "\\busy-until", text, strlen(text));
	}
	free(buf);
	kh_clearerr();
	if ((long long)time(NULL) >= until)
		return __real_plat_rename(p, from, to);
	trace("> rename(%s) busy\n", from);
	kh_seterr("%s: the process cannot access the file because it is being used by "
		  "another process", from);
	return KH_ERR_INUSE;
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

/* ---- evidence: what the collector reads ----
 * A service's state lives in ProgramData\fake\service-NAME, written by the
 * stop and start above: "running PID" (each start a new PID) or "stopped
 * PID EXIT"; none yet: stopped.  Only ClipSVC and CmitClientSVC exist (the
 * stand-ins of tests/tools/fakesvc).  Configuration, triggers, access
 * lists and code pages are what a CMGE VM shows, fixed. */
#include <poll.h>
#include <signal.h>
#include <time.h>

static int svc_known(const char *name)
{
	return !kh_strcasecmp(name, "ClipSVC") || !kh_strcasecmp(name, "CmitClientSVC");
}

static char *svc_file(const char *name)
{
	return kh_asprintf(FAKE_DIR "\\service-%s", name);
}

static void svc_read(kh_plat *p, const char *name, struct kh_svc_status *st)
{
	unsigned char *buf = NULL;
	char *path = svc_file(name);
	unsigned pid = 0, code = 0;
	size_t len;

	memset(st, 0, sizeof(*st));
	st->state = KH_SVC_STOPPED;
	if (path && plat_read(p, path, 256, &buf, &len) == KH_OK) {
		if (sscanf((char *)buf, "running %u", &pid) == 1) {
			st->state = KH_SVC_RUNNING;
			st->pid = pid;
		} else if (sscanf((char *)buf, "stopped %u %u", &pid, &code) == 2) {
			st->exit_code = code;
		}
	}
	free(buf);
	free(path);
}

static void svc_note(kh_plat *p, const char *verb, const char *name, int rc)
{
	struct kh_svc_status st;
	char *path = svc_file(name), *text;
	static unsigned next_pid;

	if (!path || !svc_known(name))
		goto out;
	svc_read(p, name, &st);
	if (!next_pid)
		next_pid = 1000 + (unsigned)getpid() % 1000 * 10;
	if (!strcmp(verb, "start") && rc == KH_OK)
		text = st.state == KH_SVC_RUNNING ? kh_asprintf("running %u\n", st.pid)
						  : kh_asprintf("running %u\n", next_pid++);
	else
		text = kh_asprintf("stopped %u %d\n", st.pid, rc == KH_OK ? 0 : 1);
	if (text && plat_mkdirs(p, FAKE_DIR) == KH_OK)
		plat_write_atomic(p, path, text, strlen(text));
	free(text);
out:
	free(path);
	kh_clearerr();
}

int plat_svc_status(kh_plat *p, const char *name, struct kh_svc_status *st)
{
	memset(st, 0, sizeof(*st));
	if (!svc_known(name)) {
		kh_seterr("service %s does not exist", name);
		return KH_ERR_NOENT;
	}
	svc_read(p, name, st);
	return KH_OK;
}

int plat_svc_config(kh_plat *p, const char *name, struct kh_svc_config *cfg)
{
	const char *svc = getenv("KHRESET_FAKE_SVC");

	memset(cfg, 0, sizeof(*cfg));
	if (!svc_known(name)) {
		kh_seterr("service %s does not exist", name);
		return KH_ERR_NOENT;
	}
	cfg->type = 0x20;                       /* shared process, as svchost */
	cfg->start_type = 3;                    /* demand (trigger start) */
	cfg->delayed = 0;
	cfg->account = kh_strdup("LocalSystem");
	cfg->binary = kh_asprintf("%s start %s", svc ? svc : "fakesvc", name);
	cfg->display = kh_strdup(name);
	return cfg->account && cfg->binary && cfg->display ? KH_OK : KH_ERR_NOMEM;
}

void plat_free_svc_config(struct kh_svc_config *cfg)
{
	free(cfg->account);
	free(cfg->binary);
	free(cfg->display);
	memset(cfg, 0, sizeof(*cfg));
}

/* ClipSVC starts on a custom trigger (an RPC interface), the activation
 * service has none. */
int plat_svc_triggers(kh_plat *p, const char *name, struct kh_svc_trigger **t, size_t *n)
{
	*t = NULL;
	*n = 0;
	if (!svc_known(name)) {
		kh_seterr("service %s does not exist", name);
		return KH_ERR_NOENT;
	}
	if (kh_strcasecmp(name, "ClipSVC"))
		return KH_OK;
	if (!(*t = calloc(1, sizeof(**t))) || !((*t)->data = calloc(1, sizeof(*(*t)->data))))
		goto nomem;
	**t = (struct kh_svc_trigger){ 20, 1, "bc90d167-9470-4139-a9ba-be0bbbf5b74d",
				       (*t)->data, 1 };
	(*t)->data[0].type = 2;
	if (!((*t)->data[0].value = kh_strdup("64d1d045-f675-460b-8a94-570246b36dab")))
		goto nomem;
	*n = 1;
	return KH_OK;
nomem:
	plat_free_svc_triggers(*t, 1);
	*t = NULL;
	return KH_ERR_NOMEM;
}

void plat_free_svc_triggers(struct kh_svc_trigger *t, size_t n)
{
	for (size_t i = 0; t && i < n; i++) {
		for (size_t k = 0; t[i].data && k < t[i].n_data; k++)
			free(t[i].data[k].value);
		free(t[i].data);
	}
	free(t);
}

/* One SKU, as plat_licence reports it. */
int plat_licence_skus(kh_plat *p, struct kh_sku_licence **list, size_t *n)
{
	enum kh_licence st;
	uint32_t reason;

	*n = 0;
	if (!(*list = calloc(1, sizeof(**list))))
		return KH_ERR_NOMEM;
	plat_licence(p, &st, &reason);
	snprintf((*list)->sku, sizeof((*list)->sku), "2f7c1e4b-8d3a-4e21-9b6c-1a2b3c4d5e6f");
	(*list)->name = kh_strdup("Windows(R), EnterpriseG edition (fake)");
	(*list)->status = st == KH_LIC_LICENSED ? 1 : 3;
	(*list)->reason = reason;
	*n = 1;
	return KH_OK;
}

void plat_free_licence_skus(struct kh_sku_licence *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i].name);
	free(list);
}

/* The folder's access list: what Windows gives ClipSVC's folders. */
int plat_sddl(kh_plat *p, const char *path, char **sddl)
{
	struct kh_dirent st;
	int rc;

	*sddl = NULL;
	if ((rc = plat_stat(p, path, &st)) != KH_OK)
		return rc;
	free(st.name);
	*sddl = kh_strdup("O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)");
	return *sddl ? KH_OK : KH_ERR_NOMEM;
}

/* A Chinese Windows: GBK everywhere. */
int plat_codepage(kh_plat *p, struct kh_codepage *cp)
{
	*cp = (struct kh_codepage){ 936, 936, 936, 936 };
	return KH_OK;
}

/* The collector: this executable again (/proc/self/exe), started with
 * SIGTERM blocked so that a stop sent before it is ready waits for it;
 * SIGTERM asks it to stop.  KHRESET_TEST_FAIL_AT=collect_spawn: it cannot
 * start. */
struct kh_child {
	pid_t pid;
};

int plat_ev_spawn(kh_plat *p, char *const argv[], kh_child **out)
{
	char *args[32] = { "khreset" };
	posix_spawnattr_t at;
	sigset_t hold;
	size_t n = 1;
	int e;

	*out = NULL;
	if ((e = kh_test_fail("collect_spawn")) != KH_OK)
		return e;
	for (; argv[n - 1] && n < 31; n++)
		args[n] = argv[n - 1];
	args[n] = NULL;
	if (!(*out = calloc(1, sizeof(**out))))
		return KH_ERR_NOMEM;
	sigemptyset(&hold);
	sigaddset(&hold, SIGTERM);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &hold);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	e = posix_spawn(&(*out)->pid, "/proc/self/exe", NULL, &at, args, environ);
	posix_spawnattr_destroy(&at);
	trace("> collect_spawn() = %d\n", e);
	if (e == 0)
		return KH_OK;
	free(*out);
	*out = NULL;
	kh_seterr("cannot start the collector: %s", strerror(e));
	return KH_ERR_IO;
}

int plat_ev_finish(kh_child *c, int timeout_s)
{
	struct timespec nap = { 0, 50 * 1000000L };
	int st, rc = KH_ERR_TIMEOUT;

	if (!c)
		return KH_OK;
	kill(c->pid, SIGTERM);
	for (int i = 0; i < timeout_s * 20; i++) {
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			rc = KH_OK;
			break;
		}
		nanosleep(&nap, NULL);
	}
	if (rc != KH_OK)
		kh_seterr("the collector (pid %ld) still runs after %d s", (long)c->pid, timeout_s);
	trace("> collect_finish() = %d\n", rc);
	free(c);
	return rc;
}
