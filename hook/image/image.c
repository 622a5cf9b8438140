/* image.c - `khreset --image DISK check|run|restore`: the lock check, the
 * mount, the verb in a child process, and the unmount whatever happens.
 *
 * Design: this process supervises.  It mounts (mount.c), forks, and the
 * child runs the verb on the mount as --root would; the parent waits.  A
 * SIGINT, SIGTERM or SIGHUP is passed on to the child (a run killed there
 * is rolled back by the next run, as after any crash), and the parent
 * unmounts and detaches before it exits 128 + the signal.  The helpers are
 * in process groups of their own, so a Ctrl-C reaches only khreset.  Only
 * SIGKILL of this process leaves the mount behind (its folder is named in
 * the log).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image.h"
#include "khreset.h"

static volatile sig_atomic_t got_sig;
static volatile pid_t child;

static void on_signal(int sig)
{
	got_sig = sig;
	if (child > 0)
		kill(child, sig);
}

static void catch_signals(void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int has_arg(int argc, char **argv, const char *a, const char *b)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], a) || (b && !strcmp(argv[i], b)))
			return 1;
	return 0;
}

/* Test seam (SPEC section 10): KHRESET_TEST_IMAGE_SIGNAL=INT|TERM|HUP
 * sends that signal to this process once the verb's child exists. */
static void test_signal(void)
{
	const char *s = getenv("KHRESET_TEST_IMAGE_SIGNAL");
	int sig = !s ? 0 : !strcmp(s, "INT") ? SIGINT : !strcmp(s, "TERM") ? SIGTERM
		: !strcmp(s, "HUP") ? SIGHUP : 0;

	if (sig)
		kill(getpid(), sig);
}

/* How fresh what a read-only look sees is. */
static int freshness(const char *disk, int writable)
{
	enum kh_disk_use use;
	int rc = image_in_use(disk, &use);

	if (rc != KH_OK)
		return cli_fail(rc, "--image");
	if (use == KH_DISK_IN_USE && writable) {
		cli_say("%s is in use by a running VM (qemu holds its image lock): shut the VM "
			"down first; nothing was changed", disk);
		return KH_EXIT_BUSY;
	}
	if (use == KH_DISK_IN_USE)
		kh_log(KH_LOG_WARN, "image", "%s is in use by a running VM: opened read-only, "
		       "sharing its lock; what is read is what the guest had written to the disk "
		       "by now - its caches, the NTFS journal and the registry hives' transaction "
		       "logs may hold newer data", disk);
	else
		kh_log(KH_LOG_INFO, "image", "%s is not in use: read as the VM left it", disk);
	return 0;
}

static int run_child(kh_verb_fn verb, int argc, char **argv, struct kh_globals *g,
		     const char *root)
{
	sigset_t block, old;
	pid_t pid;
	int st, ex;

	/* no signal between fork and the child's own handlers */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	fflush(NULL);
	if ((pid = fork()) < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		cli_say("cannot fork: %s", strerror(errno));
		return KH_EXIT_FAILED;
	}
	if (pid == 0) {
		catch_signals(SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		g->root = root;
		exit(verb(argc, argv, g));
	}
	child = pid;
	sigprocmask(SIG_SETMASK, &old, NULL);
	test_signal();
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR) {
			st = 0x100;         /* exit 1 */
			break;
		}
	child = 0;
	ex = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return ex;
}

int image_verb(kh_verb_fn verb, int argc, char **argv, struct kh_globals *g)
{
	const char *name = argv[0], *root = NULL;
	struct kh_mount *m = NULL;
	int writable, rc, ex;

	if (strcmp(name, "check") && strcmp(name, "run") && strcmp(name, "restore"))
		return cli_usage_error(NULL, "--image works with check, run and restore, not %s", name);
	if (g->root)
		return cli_usage_error(name, "--image and --root exclude each other");
	if (has_arg(argc, argv, "--help", "-h"))
		return verb(argc, argv, g);
	writable = strcmp(name, "check") && !has_arg(argc, argv, "--list", NULL);
	if ((ex = freshness(g->image, writable)) != 0)
		return ex;
	catch_signals(on_signal);
	rc = image_mount(g->image, writable, &m, &root);
	if (rc != KH_OK) {
		ex = cli_fail(rc, "--image %s", g->image);
		goto out;
	}
	kh_log(KH_LOG_INFO, "image", "%s: the Windows partition mounted %s at %s", g->image,
	       writable ? "read-write" : "read-only", root);
	if (image_mount_note(m))
		cli_say("ntfs-3g: %s", image_mount_note(m));
	ex = got_sig ? 128 + got_sig : run_child(verb, argc, argv, g, root);
out:
	if ((rc = image_umount(m)) != KH_OK) {
		cli_fail(rc, "--image %s: unmounting", g->image);
		ex = ex ? ex : KH_EXIT_FAILED;
	}
	if (got_sig) {
		cli_say("interrupted (%s): %s unmounted and detached", strsignal(got_sig), g->image);
		ex = 128 + got_sig;
	}
	catch_signals(SIG_DFL);
	return ex;
}
