/* test_platform.c - offline platform body: safe paths, files, lock, hives.
 *
 * Every test gets a fresh mkdtemp folder holding "root" (the Windows volume)
 * and "outside" (what a symlink may point at: must stay untouched).  Hives
 * are built at test time with build/tools/mkhive (env KH_TOOLS) and
 * `hivexregedit --merge`, and checked with the independent `hivexget`.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "khreset.h"
#include "platform.h"
#include "testutil.h"

struct fx {
	char tmp[64];
	char root[128];
	kh_plat *p;
};

/* ---------- helpers ---------- */


static void put(const struct fx *f, const char *rel, const char *text)
{
	char path[512];
	FILE *fp;

	tu_fmt(path, sizeof(path), "%s/%s", f->tmp, rel);
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void mkd(const struct fx *f, const char *rel)
{
	char path[512];

	tu_fmt(path, sizeof(path), "%s/%s", f->tmp, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void lnk(const struct fx *f, const char *target, const char *rel)
{
	char path[512];

	tu_fmt(path, sizeof(path), "%s/%s", f->tmp, rel);
	assert_int_equal(symlink(target, path), 0);
}

/* Content of tmp/rel, or "" when missing (static buffer). */
static const char *get(const struct fx *f, const char *rel)
{
	static char buf[4096];
	char path[512];
	size_t n;
	FILE *fp;

	tu_fmt(path, sizeof(path), "%s/%s", f->tmp, rel);
	buf[0] = '\0';
	if (!(fp = fopen(path, "rb")))
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int exists(const struct fx *f, const char *rel)
{
	char path[512];
	struct stat st;

	tu_fmt(path, sizeof(path), "%s/%s", f->tmp, rel);
	return lstat(path, &st) == 0;
}

static int is_link(const struct fx *f, const char *rel)
{
	char path[512];
	struct stat st;

	tu_fmt(path, sizeof(path), "%s/%s", f->tmp, rel);
	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Number of entries of tmp/rel whose name contains needle. */
static int count_names(const struct fx *f, const char *rel, const char *needle)
{
	struct kh_dirent *e;
	size_t n;
	int c = 0;
	kh_plat *q;

	assert_int_equal(plat_open(&q, f->tmp), KH_OK);
	assert_int_equal(plat_list(q, rel, &e, &n), KH_OK);
	for (size_t i = 0; i < n; i++)
		c += strstr(e[i].name, needle) != NULL;
	plat_free_list(e, n);
	plat_close(q);
	return c;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	chmod(path, 0700);
	return remove(path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/khplat.XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	tu_fmt(f->root, sizeof(f->root), "%s/root", f->tmp);
	mkd(f, "root");
	mkd(f, "outside");
	put(f, "outside/secret", "secret");
	assert_int_equal(plat_open(&f->p, f->root), KH_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	plat_close(f->p);
	nftw(f->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void assert_err_names(const char *what)
{
	assert_non_null(strstr(kh_lasterr(), what));
}

/* ---------- open ---------- */

static void test_open_live_is_usage(void **state)
{
	kh_plat *q = (kh_plat *)1;

	assert_int_equal(plat_open(&q, NULL), KH_ERR_USAGE);
	assert_null(q);
	assert_err_names("--root");
}

static void test_open_root_kinds(void **state)
{
	struct fx *f = *state;
	struct kh_dirent st;
	char path[256];
	kh_plat *q;

	/* the root itself may be reached through a symlink */
	lnk(f, "root", "rootlink");
	tu_fmt(path, sizeof(path), "%s/rootlink", f->tmp);
	assert_int_equal(plat_open(&q, path), KH_OK);
	assert_int_equal(plat_is_offline(q), 1);
	assert_int_equal(plat_stat(q, "", &st), KH_OK);
	assert_int_equal(st.type, KH_FT_DIR);
	plat_close(q);
	/* negative: missing, or a file */
	tu_fmt(path, sizeof(path), "%s/nothere", f->tmp);
	assert_int_equal(plat_open(&q, path), KH_ERR_NOENT);
	assert_err_names(path);
	tu_fmt(path, sizeof(path), "%s/outside/secret", f->tmp);
	assert_int_equal(plat_open(&q, path), KH_ERR_USAGE);
}

/* ---------- resolution ---------- */

static void test_case_insensitive(void **state)
{
	struct fx *f = *state;
	unsigned char *buf;
	size_t len;

	mkd(f, "root/ProgramData");
	mkd(f, "root/ProgramData/KeyHolder");
	put(f, "root/ProgramData/KeyHolder/A.xml", "<a/>");
	assert_int_equal(plat_read(f->p, "programdata\\KEYHOLDER\\a.XML", 100,
				   &buf, &len), KH_OK);
	assert_int_equal(len, 4);
	assert_string_equal((char *)buf, "<a/>");
	free(buf);
	/* exact spelling works too (fast path) */
	assert_int_equal(plat_read(f->p, "ProgramData/KeyHolder/A.xml", 100,
				   &buf, &len), KH_OK);
	free(buf);
	/* negative: a name that matches nothing */
	assert_int_equal(plat_read(f->p, "programdata/keyholder/b.xml", 100,
				   &buf, &len), KH_ERR_NOENT);
	assert_null(buf);
	assert_err_names("b.xml");
	assert_int_equal(plat_read(f->p, "programdata/nope/a.xml", 100, &buf,
				   &len), KH_ERR_NOENT);
}

/* Two spellings on a case-sensitive mount: the exact one wins, else the
 * strcmp-smallest; each stays stable (the folder cache keeps the case). */
static void test_case_ambiguous(void **state)
{
	struct fx *f = *state;
	unsigned char *buf;
	size_t len;

	mkd(f, "root/KH");
	mkd(f, "root/kh");
	put(f, "root/KH/x", "upper");
	put(f, "root/kh/x", "lower");
	for (int round = 0; round < 2; round++) {
		assert_int_equal(plat_read(f->p, "kh/x", 10, &buf, &len), KH_OK);
		assert_string_equal((char *)buf, "lower");
		free(buf);
		assert_int_equal(plat_read(f->p, "KH/x", 10, &buf, &len), KH_OK);
		assert_string_equal((char *)buf, "upper");
		free(buf);
		assert_int_equal(plat_read(f->p, "Kh/X", 10, &buf, &len), KH_OK);
		assert_string_equal((char *)buf, "upper");
		free(buf);
	}
}

static void test_symlink_in_middle_refused(void **state)
{
	struct fx *f = *state;
	unsigned char *buf = NULL;
	struct kh_dirent *e;
	size_t len, n;

	lnk(f, "../outside", "root/Link");
	assert_int_equal(plat_read(f->p, "Link/secret", 100, &buf, &len),
			 KH_ERR_UNSAFE);
	assert_null(buf);
	assert_err_names("Link/secret");
	/* found case-insensitively, still refused */
	assert_int_equal(plat_read(f->p, "link/secret", 100, &buf, &len),
			 KH_ERR_UNSAFE);
	assert_int_equal(plat_write_atomic(f->p, "link/new", "x", 1),
			 KH_ERR_UNSAFE);
	assert_int_equal(plat_append_sync(f->p, "link/secret", "x", 1),
			 KH_ERR_UNSAFE);
	assert_int_equal(plat_mkdirs(f->p, "link/sub"), KH_ERR_UNSAFE);
	assert_int_equal(plat_remove(f->p, "link/secret"), KH_ERR_UNSAFE);
	assert_int_equal(plat_list(f->p, "link", &e, &n), KH_ERR_UNSAFE);
	assert_int_equal(plat_rename(f->p, "link/secret", "stolen"),
			 KH_ERR_UNSAFE);
	assert_int_equal(plat_lock(f->p, "link/lock"), KH_ERR_UNSAFE);
	/* target untouched */
	assert_string_equal(get(f, "outside/secret"), "secret");
	assert_false(exists(f, "outside/new"));
	assert_false(exists(f, "outside/sub"));
	assert_false(exists(f, "outside/lock"));
	assert_false(exists(f, "root/stolen"));
	/* a file in the middle is refused too */
	put(f, "root/file", "f");
	assert_int_equal(plat_read(f->p, "file/x", 100, &buf, &len),
			 KH_ERR_UNSAFE);
	/* negative twin: the same through a real folder works */
	mkd(f, "root/real");
	put(f, "root/real/secret", "mine");
	assert_int_equal(plat_read(f->p, "REAL/secret", 100, &buf, &len), KH_OK);
	assert_string_equal((char *)buf, "mine");
	free(buf);
}

static void test_symlink_at_end_refused(void **state)
{
	struct fx *f = *state;
	unsigned char *buf = NULL;
	struct kh_dirent st;
	size_t len;

	mkd(f, "root/d");
	lnk(f, "../../outside/secret", "root/d/Lnk");
	assert_int_equal(plat_read(f->p, "d/lnk", 100, &buf, &len), KH_ERR_UNSAFE);
	assert_null(buf);
	assert_err_names("d/lnk");
	assert_int_equal(plat_write_atomic(f->p, "d/LNK", "x", 1), KH_ERR_UNSAFE);
	assert_int_equal(plat_append_sync(f->p, "d/lnk", "x", 1), KH_ERR_UNSAFE);
	assert_int_equal(plat_lock(f->p, "d/lnk"), KH_ERR_UNSAFE);
	assert_int_equal(plat_stat(f->p, "d/lnk", &st), KH_OK);
	assert_int_equal(st.type, KH_FT_LINK);
	assert_string_equal(get(f, "outside/secret"), "secret");
	assert_true(is_link(f, "root/d/Lnk"));
	/* rename moves the link itself, never its target */
	assert_int_equal(plat_rename(f->p, "d/lnk", "d/moved"), KH_OK);
	assert_true(is_link(f, "root/d/moved"));
	assert_false(exists(f, "root/d/Lnk"));
	assert_string_equal(get(f, "outside/secret"), "secret");
	assert_int_equal(count_names(f, "outside", ""), 1);
}

static void test_dotdot_and_absolute_refused(void **state)
{
	struct fx *f = *state;
	static const char *bad[] = {
		"a/../b", "..", "../outside/secret", "a/./b", ".", "a//b",
		"/etc/passwd", "\\Windows", "C:\\Windows", "a\\..\\..\\x",
	};
	unsigned char *buf;
	size_t len;

	mkd(f, "root/a");
	put(f, "root/a/b", "b");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(plat_read(f->p, bad[i], 100, &buf, &len),
				 KH_ERR_UNSAFE);
		assert_int_equal(plat_write_atomic(f->p, bad[i], "x", 1),
				 KH_ERR_UNSAFE);
		assert_int_equal(plat_mkdirs(f->p, bad[i]), KH_ERR_UNSAFE);
	}
	assert_string_equal(get(f, "outside/secret"), "secret");
	/* negative twin: both separators and a trailing one are fine */
	assert_int_equal(plat_read(f->p, "a\\b", 100, &buf, &len), KH_OK);
	free(buf);
	assert_int_equal(plat_read(f->p, "a/b/", 100, &buf, &len), KH_OK);
	free(buf);
}

/* ---------- files ---------- */

static void test_list_sorted_with_types(void **state)
{
	struct fx *f = *state;
	struct kh_dirent *e;
	size_t n;

	mkd(f, "root/K");
	put(f, "root/K/b.xml", "bb");
	put(f, "root/K/a.txt", "a");
	mkd(f, "root/K/A");
	lnk(f, "../../outside/secret", "root/K/c");
	assert_int_equal(plat_list(f->p, "k", &e, &n), KH_OK);
	assert_int_equal(n, 4);
	assert_string_equal(e[0].name, "A");
	assert_int_equal(e[0].type, KH_FT_DIR);
	assert_string_equal(e[1].name, "a.txt");
	assert_int_equal(e[1].type, KH_FT_FILE);
	assert_string_equal(e[2].name, "b.xml");
	assert_int_equal(e[2].type, KH_FT_FILE);
	assert_int_equal(e[2].size, 2);
	assert_true(e[2].mtime > 0);
	assert_string_equal(e[3].name, "c");
	assert_int_equal(e[3].type, KH_FT_LINK);
	plat_free_list(e, n);
	/* the root lists too */
	assert_int_equal(plat_list(f->p, "", &e, &n), KH_OK);
	assert_int_equal(n, 1);
	plat_free_list(e, n);
	/* negative: missing folder, or a file */
	assert_int_equal(plat_list(f->p, "nope", &e, &n), KH_ERR_NOENT);
	assert_int_equal(n, 0);
	assert_int_equal(plat_list(f->p, "k/b.xml", &e, &n), KH_ERR_UNSAFE);
}

static void test_stat(void **state)
{
	struct fx *f = *state;
	struct kh_dirent st;

	put(f, "root/F.txt", "12345");
	assert_int_equal(plat_stat(f->p, "f.TXT", &st), KH_OK);
	assert_int_equal(st.type, KH_FT_FILE);
	assert_int_equal(st.size, 5);
	assert_null(st.name);
	assert_int_equal(plat_stat(f->p, "", &st), KH_OK);
	assert_int_equal(st.type, KH_FT_DIR);
	assert_int_equal(plat_stat(f->p, "g.txt", &st), KH_ERR_NOENT);
}

static void test_read_toobig_and_nonregular(void **state)
{
	struct fx *f = *state;
	char big[101], path[512];
	unsigned char *buf = NULL;
	size_t len;

	memset(big, 'x', 100);
	big[100] = '\0';
	put(f, "root/big", big);
	assert_int_equal(plat_read(f->p, "big", 99, &buf, &len), KH_ERR_TOOBIG);
	assert_null(buf);
	assert_err_names("big");
	assert_int_equal(plat_read(f->p, "big", 100, &buf, &len), KH_OK);
	assert_int_equal(len, 100);
	assert_int_equal(buf[100], '\0');
	free(buf);
	put(f, "root/empty", "");
	assert_int_equal(plat_read(f->p, "empty", 0, &buf, &len), KH_OK);
	assert_int_equal(len, 0);
	free(buf);
	/* a folder and a FIFO are not read (and the FIFO does not block) */
	mkd(f, "root/dir");
	assert_int_equal(plat_read(f->p, "dir", 100, &buf, &len), KH_ERR_UNSAFE);
	tu_fmt(path, sizeof(path), "%s/root/fifo", f->tmp);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(plat_read(f->p, "fifo", 100, &buf, &len), KH_ERR_UNSAFE);
	assert_null(buf);
}

static void test_write_atomic(void **state)
{
	struct fx *f = *state;

	mkd(f, "root/S");
	put(f, "root/S/Status.json", "old");
	assert_int_equal(plat_write_atomic(f->p, "s/status.JSON", "new", 3), KH_OK);
	assert_string_equal(get(f, "root/S/Status.json"), "new");
	assert_false(exists(f, "root/S/status.JSON"));
	assert_int_equal(count_names(f, "root/S", "khtmp"), 0);
	/* a missing name is created with the given spelling */
	assert_int_equal(plat_write_atomic(f->p, "s/New.txt", "n", 1), KH_OK);
	assert_string_equal(get(f, "root/S/New.txt"), "n");
	assert_int_equal(count_names(f, "root/S", ""), 2);
	/* negative: missing folder, or a folder in the way; no temp left */
	assert_int_equal(plat_write_atomic(f->p, "nope/x", "x", 1), KH_ERR_NOENT);
	mkd(f, "root/S/sub");
	assert_int_equal(plat_write_atomic(f->p, "s/SUB", "x", 1), KH_ERR_UNSAFE);
	assert_int_equal(count_names(f, "root/S", "khtmp"), 0);
}

static void test_append_sync(void **state)
{
	struct fx *f = *state;

	mkd(f, "root/st");
	assert_int_equal(plat_append_sync(f->p, "st/journal", "a\n", 2), KH_OK);
	assert_int_equal(plat_append_sync(f->p, "ST/JOURNAL", "b\n", 2), KH_OK);
	assert_string_equal(get(f, "root/st/journal"), "a\nb\n");
	assert_int_equal(plat_append_sync(f->p, "none/journal", "x", 1),
			 KH_ERR_NOENT);
}

static void test_mkdirs(void **state)
{
	struct fx *f = *state;

	mkd(f, "root/ProgramData");
	assert_int_equal(plat_mkdirs(f->p, "programdata\\khreset\\backup"), KH_OK);
	assert_true(exists(f, "root/ProgramData/khreset/backup"));
	assert_false(exists(f, "root/programdata"));
	assert_int_equal(plat_mkdirs(f->p, "ProgramData/KHRESET/backup"), KH_OK);
	assert_int_equal(count_names(f, "root/ProgramData", ""), 1);
	/* negative: a file on the way */
	put(f, "root/file", "x");
	assert_int_equal(plat_mkdirs(f->p, "file/sub"), KH_ERR_UNSAFE);
}

static void test_rename_never_replaces(void **state)
{
	struct fx *f = *state;

	mkd(f, "root/A");
	mkd(f, "root/B");
	put(f, "root/A/x.xml", "x");
	put(f, "root/B/Y.xml", "y");
	assert_int_equal(plat_rename(f->p, "a/X.XML", "b/y.xml"), KH_ERR_EXISTS);
	assert_err_names("b/y.xml");
	assert_string_equal(get(f, "root/A/x.xml"), "x");
	assert_string_equal(get(f, "root/B/Y.xml"), "y");
	assert_int_equal(plat_rename(f->p, "a/nope", "b/z"), KH_ERR_NOENT);
	assert_int_equal(plat_rename(f->p, "a/x.xml", "nope/z"), KH_ERR_NOENT);
	/* negative twin: a free name works; the on-disk entry moves */
	assert_int_equal(plat_rename(f->p, "a/X.XML", "b/z.xml"), KH_OK);
	assert_false(exists(f, "root/A/x.xml"));
	assert_string_equal(get(f, "root/B/z.xml"), "x");
	/* a change of case only is allowed */
	assert_int_equal(plat_rename(f->p, "b/z.xml", "b/Z.xml"), KH_OK);
	assert_string_equal(get(f, "root/B/Z.xml"), "x");
	/* renaming a folder drops cached folders below it */
	put(f, "root/A/in", "in");
	assert_int_equal(plat_stat(f->p, "a/in", &(struct kh_dirent){0}), KH_OK);
	assert_int_equal(plat_rename(f->p, "a", "b/a2"), KH_OK);
	assert_int_equal(plat_stat(f->p, "a/in", &(struct kh_dirent){0}),
			 KH_ERR_NOENT);
	assert_int_equal(plat_stat(f->p, "b/a2/in", &(struct kh_dirent){0}),
			 KH_OK);
}

static void test_remove(void **state)
{
	struct fx *f = *state;

	put(f, "root/File", "x");
	mkd(f, "root/Empty");
	mkd(f, "root/Full");
	put(f, "root/Full/x", "x");
	lnk(f, "../outside/secret", "root/lnk");
	lnk(f, "../outside", "root/dlnk");
	assert_int_equal(plat_remove(f->p, "lnk"), KH_ERR_UNSAFE);
	assert_int_equal(plat_remove(f->p, "dlnk"), KH_ERR_UNSAFE);
	assert_int_equal(plat_remove(f->p, "full"), KH_ERR_UNSAFE);
	assert_int_equal(plat_remove(f->p, "nope"), KH_ERR_NOENT);
	assert_true(is_link(f, "root/lnk"));
	assert_true(is_link(f, "root/dlnk"));
	assert_string_equal(get(f, "root/Full/x"), "x");
	assert_string_equal(get(f, "outside/secret"), "secret");
	/* negative twin */
	assert_int_equal(plat_remove(f->p, "FILE"), KH_OK);
	assert_int_equal(plat_remove(f->p, "empty"), KH_OK);
	assert_false(exists(f, "root/File"));
	assert_false(exists(f, "root/Empty"));
}

static void test_lock_busy(void **state)
{
	struct fx *f = *state;
	kh_plat *q;

	mkd(f, "root/state");
	assert_int_equal(plat_open(&q, f->root), KH_OK);
	assert_int_equal(plat_lock(f->p, "state/lock"), KH_OK);
	assert_int_equal(plat_lock(q, "STATE/LOCK"), KH_ERR_BUSY);
	assert_int_equal(plat_lock(f->p, "state/lock"), KH_ERR_BUSY);
	plat_unlock(f->p);
	assert_int_equal(plat_lock(q, "state/lock"), KH_OK);
	plat_close(q);  /* releases */
	assert_int_equal(plat_lock(f->p, "state/lock"), KH_OK);
	/* negative: folder must exist */
	plat_unlock(f->p);
	assert_int_equal(plat_lock(f->p, "nope/lock"), KH_ERR_NOENT);
}

static void test_writable(void **state)
{
	struct fx *f = *state;
	pid_t pid;
	int status;

	assert_int_equal(plat_writable(f->p), KH_OK);
	assert_int_equal(count_names(f, "root", "probe"), 0);
	if (geteuid() != 0) {
		printf("# skip: plat_writable EPERM case needs root (to become "
		       "nobody)\n");
		return;
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int r;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		r = plat_writable(f->p);
		_exit(r == KH_ERR_PERM && strstr(kh_lasterr(), f->root) ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_offline_stubs(void **state)
{
	struct fx *f = *state;
	enum kh_licence st = KH_LIC_LICENSED;
	uint32_t reason = 7;

	assert_int_equal(plat_service_stop(f->p, "ClipSVC", 5), KH_ERR_UNSUPPORTED);
	assert_err_names("next boot");
	assert_int_equal(plat_service_start(f->p, "ClipSVC", 5),
			 KH_ERR_UNSUPPORTED);
	assert_int_equal(plat_licence(f->p, &st, &reason), KH_OK);
	assert_int_equal(st, KH_LIC_UNKNOWN);
	assert_int_equal(reason, 0);
	assert_int_equal(plat_event(f->p, 100, "x"), KH_OK);
}

/* ---------- registry ---------- */

static const char system_reg[] =
	"Windows Registry Editor Version 5.00\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SYSTEM\\Setup]\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SYSTEM\\Setup\\Source OS (Updated on 3/14/2020 10:20:30)]\r\n"
	"\"CurrentBuild\"=\"17134\"\r\n"
	"\"ProductName\"=\"Windows 10 Enterprise G\"\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SYSTEM\\Setup\\Source OS (Updated on 11/2/2021 8:05:09)]\r\n"
	"\"CurrentBuild\"=\"17763\"\r\n"
	"\"ProductName\"=\"Windows 10 Enterprise G N\"\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SYSTEM\\Setup\\Other]\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SYSTEM\\Setup\\source os (broken)]\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001]\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services]\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\ClipSVC]\r\n"
	"\"Start\"=dword:00000003\r\n"
	"\"ImagePath\"=hex(2):25,00,53,00,79,00,73,00,74,00,65,00,6d,00,52,00,6f,00,"
	"6f,00,74,00,25,00,00,00\r\n\r\n";

static const char software_reg[] =
	"Windows Registry Editor Version 5.00\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft]\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT]\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\r\n"
	"\"CurrentBuild\"=\"19045\"\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT]\r\n\r\n"
	"[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT\\Active]\r\n"
	"\"IntranetActivationServer\"=\"http://old.example.local\"\r\n\r\n";

static void run(const char *cmd)
{
	int st = system(cmd);

	if (st != 0)
		fail_msg("command failed (%d): %s", st, cmd);
}

/* Builds Windows/System32/config/<hive> from .reg text. */
static void make_hive(const struct fx *f, const char *hive, const char *reg)
{
	const char *tools = getenv("KH_TOOLS") ? getenv("KH_TOOLS") : "build/tools";
	char cmd[2048], regfile[64];

	if (!exists(f, "root/Windows")) {
		mkd(f, "root/Windows");
		mkd(f, "root/Windows/System32");
		mkd(f, "root/Windows/System32/config");
	}
	tu_fmt(regfile, sizeof(regfile), "%s.reg", hive);
	put(f, regfile, reg);
	tu_fmt(cmd, sizeof(cmd), "%s/mkhive %s/root/Windows/System32/config/%s",
	      tools, f->tmp, hive);
	run(cmd);
	tu_fmt(cmd, sizeof(cmd), "hivexregedit --merge --prefix "
	      "'HKEY_LOCAL_MACHINE\\%s' %s/root/Windows/System32/config/%s "
	      "%s/%s", hive, f->tmp, hive, f->tmp, regfile);
	run(cmd);
}

static void make_hives(const struct fx *f)
{
	make_hive(f, "SYSTEM", system_reg);
	make_hive(f, "SOFTWARE", software_reg);
}

/* Independent reader: hivexget's output (trailing newline cut), or NULL
 * when it fails (missing key or value).  Static buffer. */
static const char *hget(const struct fx *f, const char *hive, const char *key,
			const char *name)
{
	static char out[1024];
	char cmd[2048];
	size_t n;
	FILE *fp;
	int st;

	tu_fmt(cmd, sizeof(cmd), "hivexget %s/root/Windows/System32/config/%s "
	      "'%s' '%s' 2>/dev/null", f->tmp, hive, key, name);
	assert_non_null(fp = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, fp);
	out[n] = '\0';
	st = pclose(fp);
	if (st != 0)
		return NULL;
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
	return out;
}

static void test_reg_get(void **state)
{
	struct fx *f = *state;
	char *s = NULL;

	make_hives(f);
	assert_int_equal(plat_reg_get(f->p, "HKLM\\SOFTWARE\\Microsoft\\Windows NT"
				      "\\CurrentVersion", "CurrentBuild", &s), KH_OK);
	assert_string_equal(s, "19045");
	free(s);
	assert_int_equal(plat_reg_get(f->p, "hklm\\system\\CONTROLSET001\\services"
				      "\\clipsvc", "start", &s), KH_OK);
	assert_string_equal(s, "3");
	free(s);
	assert_int_equal(plat_reg_get(f->p, "HKLM\\SYSTEM\\ControlSet001\\Services"
				      "\\ClipSVC", "ImagePath", &s), KH_OK);
	assert_string_equal(s, "%SystemRoot%");
	free(s);
	/* negative: missing value, missing key, not HKLM\SYSTEM|SOFTWARE */
	assert_int_equal(plat_reg_get(f->p, "HKLM\\SYSTEM\\Setup", "Nope", &s),
			 KH_ERR_NOENT);
	assert_null(s);
	assert_int_equal(plat_reg_get(f->p, "HKLM\\SYSTEM\\Nope", "x", &s),
			 KH_ERR_NOENT);
	assert_int_equal(plat_reg_get(f->p, "HKCU\\Software\\x", "x", &s),
			 KH_ERR_USAGE);
	assert_int_equal(plat_reg_get(f->p, "HKLM\\SYSTEMX\\x", "x", &s),
			 KH_ERR_USAGE);
}

static void test_reg_set_and_undo(void **state)
{
	struct fx *f = *state;
	struct kh_regval vals[] = {
		{ "HKLM\\SOFTWARE\\CMIT\\Active", "IntranetActivationServer",
		  KH_REG_SZ, "http://vdi.example.local" },
		{ "HKLM\\SOFTWARE\\New\\Deep\\Key", "Mode", KH_REG_DWORD, "0x10" },
		{ "HKLM\\SYSTEM\\ControlSet001\\Services\\ClipSVC", "Start",
		  KH_REG_DWORD, "2" },
		{ "HKLM\\SYSTEM\\ControlSet001\\Services\\ClipSVC", "Note",
		  KH_REG_EXPAND_SZ, "%SystemRoot%\\caf\xc3\xa9" },
	};
	const size_t n = sizeof(vals) / sizeof(vals[0]);
	/* the old state, exact, keys first: what value-level undo journals */
	const char *keys[] = { "HKLM\\SOFTWARE\\New", "HKLM\\SOFTWARE\\New\\Deep",
			       "HKLM\\SOFTWARE\\New\\Deep\\Key" };
	struct kh_regraw old[7];
	const char *v;
	char *s;

	make_hives(f);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(plat_reg_read(f->p, keys[i], NULL, &old[i]), KH_OK);
		assert_false(old[i].present);
	}
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(plat_reg_read(f->p, vals[i].key, vals[i].name, &old[3 + i]),
				 KH_OK);
		assert_int_equal(old[3 + i].present, i == 0 || i == 2);
	}
	assert_int_equal(old[3].type, 1);
	assert_int_equal(old[3].len, 50);     /* "http://old.example.local" UTF-16LE + NUL */
	assert_memory_equal(old[3].data, "h\0t\0t\0p\0", 8);
	assert_int_equal(old[5].type, 4);
	assert_int_equal(old[5].len, 4);
	assert_memory_equal(old[5].data, "\3\0\0\0", 4);
	assert_int_equal(plat_reg_set(f->p, vals, n), KH_OK);
	/* independent reader */
	assert_non_null(v = hget(f, "SOFTWARE", "\\CMIT\\Active",
				 "IntranetActivationServer"));
	assert_string_equal(v, "http://vdi.example.local");
	assert_non_null(v = hget(f, "SOFTWARE", "\\New\\Deep\\Key", "Mode"));
	assert_string_equal(v, "16");
	assert_non_null(v = hget(f, "SYSTEM", "\\ControlSet001\\Services\\ClipSVC",
				 "Start"));
	assert_string_equal(v, "2");
	assert_non_null(v = hget(f, "SYSTEM", "\\ControlSet001\\Services\\ClipSVC",
				 "Note"));
	assert_string_equal(v, "%SystemRoot%\\caf\xc3\xa9");
	assert_int_equal(plat_reg_get(f->p, "HKLM\\SYSTEM\\ControlSet001\\Services"
				      "\\ClipSVC", "ImagePath", &s), KH_OK);
	assert_string_equal(s, "%SystemRoot%");   /* neighbour kept */
	free(s);
	assert_int_equal(count_names(f, "root/Windows/System32/config", "khtmp"), 0);
	/* undo restores old values, deletes the new ones and the keys made */
	assert_int_equal(plat_reg_restore(f->p, old, 7), KH_OK);
	assert_non_null(v = hget(f, "SOFTWARE", "\\CMIT\\Active",
				 "IntranetActivationServer"));
	assert_string_equal(v, "http://old.example.local");
	assert_null(hget(f, "SOFTWARE", "\\New\\Deep\\Key", "Mode"));
	plat_free_regraw(old, 7);
	assert_int_equal(plat_reg_read(f->p, "HKLM\\SOFTWARE\\New", NULL, &old[0]), KH_OK);
	assert_false(old[0].present);
	plat_free_regraw(old, 1);
	assert_non_null(v = hget(f, "SYSTEM", "\\ControlSet001\\Services\\ClipSVC",
				 "Start"));
	assert_string_equal(v, "3");
	assert_null(hget(f, "SYSTEM", "\\ControlSet001\\Services\\ClipSVC", "Note"));
	assert_non_null(v = hget(f, "SYSTEM", "\\ControlSet001\\Services\\ClipSVC",
				 "ImagePath"));
	assert_int_equal(count_names(f, "root/Windows/System32/config", "khtmp"), 0);
}

/* Any old type comes back byte for byte: REG_MULTI_SZ, REG_BINARY, a
 * string holding a TAB, a DWORD where a string is configured; a key with
 * a value of its own is not removed. */
static void test_reg_restore_any_type(void **state)
{
	struct fx *f = *state;
	static const char reg[] =
		"Windows Registry Editor Version 5.00\r\n\r\n"
		"[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT]\r\n\r\n"
		"[HKEY_LOCAL_MACHINE\\SOFTWARE\\CMIT\\Active]\r\n"
		"\"Multi\"=hex(7):61,00,00,00,62,00,00,00,00,00\r\n"
		"\"Bin\"=hex:de,ad,be,ef\r\n"
		"\"Tab\"=\"a\tb\"\r\n"
		"\"Mode\"=\"not a number\"\r\n\r\n";
	struct kh_regval vals[] = {
		{ "HKLM\\SOFTWARE\\CMIT\\Active", "Multi", KH_REG_SZ, "x" },
		{ "HKLM\\SOFTWARE\\CMIT\\Active", "Bin", KH_REG_DWORD, "1" },
		{ "HKLM\\SOFTWARE\\CMIT\\Active", "Tab", KH_REG_SZ, "y" },
		{ "HKLM\\SOFTWARE\\CMIT\\Active", "Mode", KH_REG_DWORD, "1" },
	};
	struct kh_regraw old[5], now;

	make_hive(f, "SOFTWARE", reg);
	assert_int_equal(plat_reg_read(f->p, "HKLM\\SOFTWARE\\CMIT", NULL, &old[0]), KH_OK);
	assert_true(old[0].present);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(plat_reg_read(f->p, vals[i].key, vals[i].name, &old[1 + i]),
				 KH_OK);
	assert_int_equal(old[1].type, 7);
	assert_int_equal(old[2].type, 3);
	assert_int_equal(old[2].len, 4);
	assert_int_equal(plat_reg_set(f->p, vals, 4), KH_OK);
	assert_string_equal(hget(f, "SOFTWARE", "\\CMIT\\Active", "Mode"), "1");
	assert_int_equal(plat_reg_restore(f->p, old, 5), KH_OK);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(plat_reg_read(f->p, vals[i].key, vals[i].name, &now), KH_OK);
		assert_int_equal(now.type, old[1 + i].type);
		assert_int_equal(now.len, old[1 + i].len);
		assert_memory_equal(now.data, old[1 + i].data, now.len);
		plat_free_regraw(&now, 1);
	}
	assert_string_equal(hget(f, "SOFTWARE", "\\CMIT\\Active", "Tab"), "a\tb");
	plat_free_regraw(old, 5);
	/* an absent key is removed only when empty: here it holds values */
	old[0] = (struct kh_regraw){ "HKLM\\SOFTWARE\\CMIT\\Active", NULL, 0, 0, NULL, 0 };
	assert_int_equal(plat_reg_restore(f->p, old, 1), KH_OK);
	assert_string_equal(hget(f, "SOFTWARE", "\\CMIT\\Active", "Tab"), "a\tb");
}

/* Offline the undo is the hive file: plat_hive_stage writes the new hive
 * beside the old one and touches nothing else. */
static void test_hive_stage(void **state)
{
	struct fx *f = *state;
	struct kh_regval vals[] = {
		{ "HKLM\\SOFTWARE\\CMIT\\Active", "IntranetActivationServer",
		  KH_REG_SZ, "http://vdi.example.local" },
	};
	struct kh_hivetmp *h;
	char path[512], cmd[1024], before[65];
	size_t n;

	make_hives(f);
	tu_fmt(path, sizeof(path), "%s/root/Windows/System32/config", f->tmp);
	tu_fmt(cmd, sizeof(cmd), "sha256sum < SOFTWARE | cut -c1-64 > ../../../../before");
	assert_int_equal(tu_run(path, "%s", cmd), 0);
	tu_fmt(before, sizeof(before), "%.64s", get(f, "before"));
	assert_int_equal(plat_hive_stage(f->p, vals, 1, &h, &n), KH_OK);
	assert_int_equal(n, 1);
	assert_string_equal(h[0].dir, "Windows\\System32\\config");
	assert_string_equal(h[0].name, "SOFTWARE");
	assert_string_equal(h[0].sha_old, before);
	assert_string_not_equal(h[0].sha_new, before);
	/* the hive itself is untouched; the temp holds the change */
	assert_int_equal(tu_run(path, "echo '%s  SOFTWARE' | sha256sum -c", before), 0);
	assert_int_equal(tu_run(path, "echo '%s  %s' | sha256sum -c", h[0].sha_new, h[0].temp), 0);
	assert_int_equal(tu_run(path, "test \"$(hivexget '%s' '\\CMIT\\Active' "
				"IntranetActivationServer)\" = http://vdi.example.local", h[0].temp), 0);
	assert_int_equal(count_names(f, "root/Windows/System32/config", "khtmp"), 1);
	plat_free_hivetmp(h, n);
	/* negative twin: an invalid value stages nothing */
	vals[0].type = KH_REG_DWORD;
	vals[0].data = "x";
	assert_int_equal(count_names(f, "root/Windows/System32/config", "khtmp"), 1);
	tu_run(path, "rm -f .SOFTWARE.khtmp.*");
	assert_int_equal(plat_hive_stage(f->p, vals, 1, &h, &n), KH_ERR_CONFIG);
	assert_int_equal(n, 0);
	assert_int_equal(count_names(f, "root/Windows/System32/config", "khtmp"), 0);
}

static void test_reg_set_rejects_bad_data(void **state)
{
	struct fx *f = *state;
	static const char *bad[] = { "12abc", "-1", "0x", "4294967296", "", "0x1g" };
	struct kh_regval v = { "HKLM\\SYSTEM\\Setup", "X", KH_REG_DWORD, NULL };
	struct kh_regval good[2] = {
		{ "HKLM\\SYSTEM\\Setup", "A", KH_REG_SZ, "a" },
		{ "HKLM\\SYSTEM\\Setup", "B", KH_REG_DWORD, "oops" },
	};
	const char *v2;
	char *s;

	make_hives(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v.data = (char *)bad[i];
		assert_int_equal(plat_reg_set(f->p, &v, 1), KH_ERR_CONFIG);
		assert_null(hget(f, "SYSTEM", "\\Setup", "X"));
	}
	/* all or nothing: the good value of the batch did not land either */
	assert_int_equal(plat_reg_set(f->p, good, 2), KH_ERR_CONFIG);
	assert_null(hget(f, "SYSTEM", "\\Setup", "A"));
	/* bad key prefix */
	good[1].key = "HKCU\\x";
	good[1].data = "1";
	assert_int_equal(plat_reg_set(f->p, good, 2), KH_ERR_USAGE);
	assert_null(hget(f, "SYSTEM", "\\Setup", "A"));
	/* names hivex would be handed that are not UTF-8: refused, nothing read */
	{
		struct kh_regval nu = { "HKLM\\SYSTEM\\Setup\\\xff", "X", KH_REG_SZ, "a" };
		struct kh_regraw raw;

		assert_int_equal(plat_reg_set(f->p, &nu, 1), KH_ERR_CONFIG);
		nu.key = "HKLM\\SYSTEM\\Setup";
		nu.name = "\xc0\xaf";                 /* an overlong '/' */
		assert_int_equal(plat_reg_set(f->p, &nu, 1), KH_ERR_CONFIG);
		assert_int_equal(plat_reg_read(f->p, nu.key, nu.name, &raw), KH_ERR_CONFIG);
		assert_int_equal(plat_reg_get(f->p, nu.key, "\xed\xa0\x80", &s), KH_ERR_CONFIG);
		nu.name = "caf\xc3\xa9 \xf0\x9f\x98\x80";   /* twin: good UTF-8 */
		assert_int_equal(plat_reg_set(f->p, &nu, 1), KH_OK);
	}
	/* negative twin: valid forms */
	v.data = "4294967295";
	assert_int_equal(plat_reg_set(f->p, &v, 1), KH_OK);
	assert_non_null(v2 = hget(f, "SYSTEM", "\\Setup", "X"));
	assert_string_equal(v2, "-1");          /* hivexget prints signed */
	assert_int_equal(plat_reg_get(f->p, "HKLM\\SYSTEM\\Setup", "X", &s),
			 KH_OK);
	assert_string_equal(s, "4294967295");
	free(s);
	v.data = "0XfF";
	assert_int_equal(plat_reg_set(f->p, &v, 1), KH_OK);
	assert_string_equal(hget(f, "SYSTEM", "\\Setup", "X"), "255");
}

/* Both hives are written before either is renamed into place: one that
 * cannot be opened changes neither. */
static void test_reg_set_all_hives_or_none(void **state)
{
	struct fx *f = *state;
	struct kh_regval vals[] = {
		{ "HKLM\\SYSTEM\\Setup", "A", KH_REG_SZ, "a" },
		{ "HKLM\\SOFTWARE\\CMIT\\Active", "B", KH_REG_SZ, "b" },
	};
	struct kh_regraw old[] = {
		{ "HKLM\\SYSTEM\\ControlSet001\\Services\\ClipSVC", "Start", 1, 4,
		  (unsigned char *)"\4\0\0\0", 4 },
		{ "HKLM\\SOFTWARE\\CMIT\\Active", "B", 0, 0, NULL, 0 },
	};
	struct kh_hivetmp *h;
	size_t n;

	make_hive(f, "SYSTEM", system_reg);   /* no SOFTWARE hive */
	assert_int_equal(plat_reg_set(f->p, vals, 2), KH_ERR_HIVE);
	assert_err_names("Windows/System32/config/SOFTWARE: not found");
	assert_null(hget(f, "SYSTEM", "\\Setup", "A"));
	assert_int_equal(count_names(f, "root/Windows/System32/config", "khtmp"), 0);
	/* the same for restore and for staging */
	assert_int_equal(plat_reg_restore(f->p, old, 2), KH_ERR_HIVE);
	assert_string_equal(hget(f, "SYSTEM", "\\ControlSet001\\Services\\ClipSVC",
				 "Start"), "3");
	assert_int_equal(plat_hive_stage(f->p, vals, 2, &h, &n), KH_ERR_HIVE);
	assert_int_equal(count_names(f, "root/Windows/System32/config", "khtmp"), 0);
	/* negative twin: with both hives, both change */
	make_hive(f, "SOFTWARE", software_reg);
	assert_int_equal(plat_reg_set(f->p, vals, 2), KH_OK);
	assert_string_equal(hget(f, "SYSTEM", "\\Setup", "A"), "a");
	assert_string_equal(hget(f, "SOFTWARE", "\\CMIT\\Active", "B"), "b");
	assert_int_equal(plat_reg_restore(f->p, old, 2), KH_OK);
	assert_string_equal(hget(f, "SYSTEM", "\\ControlSet001\\Services\\ClipSVC",
				 "Start"), "4");
	assert_null(hget(f, "SOFTWARE", "\\CMIT\\Active", "B"));
	assert_int_equal(plat_hive_stage(f->p, vals, 2, &h, &n), KH_OK);
	assert_int_equal(n, 2);
	assert_int_equal(count_names(f, "root/Windows/System32/config", "khtmp"), 2);
	plat_free_hivetmp(h, n);
}

static void copy_file(const struct fx *f, const char *from, const char *to,
		      long keep, long garble_at)
{
	char a[512], b[512];
	unsigned char buf[65536];
	size_t n;
	FILE *in, *out;

	tu_fmt(a, sizeof(a), "%s/%s", f->tmp, from);
	tu_fmt(b, sizeof(b), "%s/%s", f->tmp, to);
	assert_non_null(in = fopen(a, "rb"));
	assert_non_null(out = fopen(b, "wb"));
	n = fread(buf, 1, sizeof(buf), in);
	if (keep >= 0 && (size_t)keep < n)
		n = (size_t)keep;
	if (garble_at >= 0 && (size_t)garble_at + 16 <= n)
		memset(buf + garble_at, 0xA5, 16);
	assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static void test_missing_and_corrupt_hive(void **state)
{
	struct fx *f = *state;
	struct kh_source_os *l;
	struct kh_regval v = { "HKLM\\SOFTWARE\\X", "Y", KH_REG_SZ, "z" };
	char *s = NULL;
	size_t n;

	/* no config folder at all */
	assert_int_equal(plat_reg_get(f->p, "HKLM\\SYSTEM\\Setup", "x", &s),
			 KH_ERR_HIVE);
	assert_string_equal(kh_lasterr(),
		"registry hive Windows/System32/config/SYSTEM: not found");
	assert_int_equal(plat_source_os(f->p, &l, &n), KH_ERR_HIVE);
	/* folder but no SOFTWARE */
	make_hive(f, "SYSTEM", system_reg);
	assert_int_equal(plat_reg_set(f->p, &v, 1), KH_ERR_HIVE);
	assert_err_names("config/SOFTWARE: not found");
	/* truncated copy */
	copy_file(f, "root/Windows/System32/config/SYSTEM",
		  "root/Windows/System32/config/SOFTWARE", 3000, -1);
	assert_int_equal(plat_reg_get(f->p, "HKLM\\SOFTWARE\\X", "Y", &s),
			 KH_ERR_HIVE);
	assert_err_names("Windows/System32/config/SOFTWARE");
	/* garbled base block */
	copy_file(f, "root/Windows/System32/config/SYSTEM",
		  "root/Windows/System32/config/SOFTWARE", -1, 0x20);
	assert_int_equal(plat_reg_set(f->p, &v, 1), KH_ERR_HIVE);
	assert_err_names("Windows/System32/config/SOFTWARE");
	/* a symlinked hive is refused, its target untouched */
	unlink(strcat(strcpy((char[512]){0}, f->tmp),
		      "/root/Windows/System32/config/SOFTWARE"));
	lnk(f, "../../../../outside/secret", "root/Windows/System32/config/software");
	assert_int_equal(plat_reg_set(f->p, &v, 1), KH_ERR_UNSAFE);
	assert_string_equal(get(f, "outside/secret"), "secret");
	/* negative twin: the intact SYSTEM hive still reads (lower-case dirs) */
	assert_int_equal(plat_reg_get(f->p, "HKLM\\SYSTEM\\Setup\\Source OS "
				      "(Updated on 3/14/2020 10:20:30)",
				      "CurrentBuild", &s), KH_OK);
	assert_string_equal(s, "17134");
	free(s);
}

/* Zeroes the last-write time of key `name` in a hive file (nk cells store
 * the name at +0x4c from the "nk" signature, the time at +4). */
static void zero_key_time(const struct fx *f, const char *hive, const char *name)
{
	unsigned char buf[65536];
	char path[512];
	size_t n, nl = strlen(name);
	int done = 0;
	FILE *fp;

	tu_fmt(path, sizeof(path), "%s/root/Windows/System32/config/%s", f->tmp,
	      hive);
	assert_non_null(fp = fopen(path, "r+b"));
	n = fread(buf, 1, sizeof(buf), fp);
	for (size_t i = 0x1000; i + 0x4c + nl <= n; i++) {
		if (memcmp(buf + i, "nk", 2) != 0 ||
		    memcmp(buf + i + 0x4c, name, nl) != 0)
			continue;
		memset(buf + i + 4, 0, 8);
		done = 1;
	}
	assert_true(done);
	rewind(fp);
	assert_int_equal(fwrite(buf, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

/* Raw: the body reports what the hive holds; upgrade.c interprets it. */
static void test_source_os(void **state)
{
	struct fx *f = *state;
	struct kh_source_os *l;
	int64_t now = time(NULL);
	size_t n;

	make_hives(f);
	zero_key_time(f, "SYSTEM", "Source OS (Updated on 11/2/2021 8:05:09)");
	assert_int_equal(plat_source_os(f->p, &l, &n), KH_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (strstr(l[i].key, "2020")) {
			assert_string_equal(l[i].key, "Source OS (Updated on 3/14/2020 10:20:30)");
			assert_string_equal(l[i].build, "17134");
			assert_string_equal(l[i].product, "Windows 10 Enterprise G");
			/* key time: set by hivexregedit just now */
			assert_true(l[i].written > now - 3600 && l[i].written < now + 3600);
		} else if (strstr(l[i].key, "2021")) {
			assert_string_equal(l[i].build, "17763");
			assert_string_equal(l[i].product, "Windows 10 Enterprise G N");
			/* no key time: 0, not the date in the name */
			assert_int_equal(l[i].written, 0);
		} else {
			/* any case; values missing are NULL, not "" */
			assert_string_equal(l[i].key, "source os (broken)");
			assert_null(l[i].build);
			assert_null(l[i].product);
		}
	}
	plat_free_source_os(l, n);
}

static void test_source_os_none(void **state)
{
	struct fx *f = *state;
	struct kh_source_os *l;
	size_t n = 9;

	make_hive(f, "SYSTEM", "Windows Registry Editor Version 5.00\r\n\r\n"
		  "[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n");
	assert_int_equal(plat_source_os(f->p, &l, &n), KH_OK);
	assert_int_equal(n, 0);
	plat_free_source_os(l, n);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_live_is_usage),
		T(test_open_root_kinds),
		T(test_case_insensitive),
		T(test_case_ambiguous),
		T(test_symlink_in_middle_refused),
		T(test_symlink_at_end_refused),
		T(test_dotdot_and_absolute_refused),
		T(test_list_sorted_with_types),
		T(test_stat),
		T(test_read_toobig_and_nonregular),
		T(test_write_atomic),
		T(test_append_sync),
		T(test_mkdirs),
		T(test_rename_never_replaces),
		T(test_remove),
		T(test_lock_busy),
		T(test_writable),
		T(test_offline_stubs),
		T(test_reg_get),
		T(test_reg_set_and_undo),
		T(test_reg_set_rejects_bad_data),
		T(test_reg_set_all_hives_or_none),
		T(test_reg_restore_any_type),
		T(test_hive_stage),
		T(test_missing_and_corrupt_hive),
		T(test_source_os),
		T(test_source_os_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
