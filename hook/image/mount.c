/* mount.c - a VM disk's Windows partition, mounted: qemu-storage-daemon's
 * FUSE export, libblkid, ntfs-3g.
 *
 * Design: everything lives in a private folder (mkdtemp, 0700): "part",
 * the file qemu-storage-daemon exports the partition as (a raw node with
 * the partition's offset and size over the qcow2 or file node), and "vol",
 * where ntfs-3g mounts it.  Both helpers are our children, each in a
 * process group of its own (a Ctrl-C at the terminal reaches khreset,
 * which unmounts in order, not the helpers), run in the foreground
 * (ntfs-3g -o no_detach), so that unmounting waits until ntfs-3g has
 * written everything and exited before the export is stopped.  A helper is
 * ready when its mount point is a FUSE mount.  Read-only, every node is
 * opened read-only with qemu's locks shared (force-share): safe beside a
 * running VM.  The Windows partition is the NTFS one holding
 * Windows/System32/config/SYSTEM (looked up with the offline body's safe,
 * case-insensitive walk); candidates are tried largest first.
 */
#include <blkid/blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "khreset.h"
#include "platform.h"

#define FUSE_MAGIC   0x65735546
#define READY_S      30
#define POLL_MS      2         /* a helper is ready or gone within ms: poll often */
#define MAXPART      16
#define QEMU_LOCKS   8          /* permission bits qemu locks, per range */

extern char **environ;

struct kh_mount {
	char dir[PATH_MAX];         /* the private folder */
	char part[PATH_MAX + 32];    /* dir/part: the exported partition */
	char vol[PATH_MAX + 32];      /* dir/vol: the mount point */
	char qlog[PATH_MAX + 32], nlog[PATH_MAX + 32];
	pid_t qsd, ntfs;
	char note[256];
};

struct part {
	int no;                     /* 1.. as the table numbers it; 0: whole disk */
	uint64_t off, size;
	char fs[32];
};

/* ---------- the lock a running qemu holds ---------- */

int image_in_use(const char *disk, enum kh_disk_use *use)
{
	int fd = open(disk, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	*use = KH_DISK_FREE;
	if (fd < 0) {
		kh_seterr("disk image %s: %s", disk, strerror(errno));
		return errno == ENOENT ? KH_ERR_NOENT : KH_ERR_IO;
	}
	for (int base = 100; base <= 200; base += 100)
		for (int i = 0; i < QEMU_LOCKS; i++) {
			struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
					    .l_start = base + i, .l_len = 1 };

			if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
				*use = KH_DISK_IN_USE;
		}
	close(fd);
	return KH_OK;
}

/* ---------- helpers: spawn, readiness, stop ---------- */

static int spawn(char *const argv[], const char *log, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	r = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r) {
		kh_seterr("cannot run %s: %s (Debian: qemu-system-common, ntfs-3g)",
			  argv[0], strerror(r));
		return KH_ERR_IO;
	}
	return KH_OK;
}

/* The last line a helper wrote to its log ("" if none). */
static void last_line(const char *log, char *out, size_t size)
{
	char line[512];
	FILE *f = fopen(log, "r");

	out[0] = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (line[strspn(line, " \t\r\n")]) {
			line[strcspn(line, "\r\n")] = '\0';
			snprintf(out, size, "%.*s", (int)size - 1, line);
		}
	if (f)
		fclose(f);
}

static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits until path is a FUSE mount; fails when the helper exits first. */
static int ready(const char *what, const char *path, pid_t *pid, const char *log)
{
	char why[400];
	struct statfs fs;
	int st;

	for (int i = 0; i < READY_S * 1000 / POLL_MS; i++) {
		if (statfs(path, &fs) == 0 && fs.f_type == FUSE_MAGIC)
			return KH_OK;
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			*pid = 0;
			last_line(log, why, sizeof(why));
			kh_seterr("%s failed: %s", what, why[0] ? why : "it exited");
			return KH_ERR_IO;
		}
		nap(POLL_MS);
	}
	kh_seterr("%s: not ready after %d s", what, READY_S);
	return KH_ERR_TIMEOUT;
}

/* SIGTERM, then SIGKILL after 10 s; waits for the child. */
static void stop(pid_t *pid)
{
	int st;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (int i = 0; i < 10000 / POLL_MS; i++) {
		pid_t w = waitpid(*pid, &st, WNOHANG);

		if (w == *pid || (w < 0 && errno == ECHILD)) {
			*pid = 0;
			return;
		}
		nap(POLL_MS);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &st, 0);
	*pid = 0;
}

/* ---------- qemu-storage-daemon ---------- */

/* "a,b" -> "a,,b": qemu's option syntax. */
static void qemu_escape(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s && o + 2 < size; s++) {
		if (*s == ',')
			out[o++] = ',';
		out[o++] = *s;
	}
	out[o] = '\0';
}

static int disk_format(const char *disk, const char **fmt, const char **proto)
{
	unsigned char magic[4] = { 0 };
	struct stat st;
	int fd = open(disk, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0 || fstat(fd, &st) < 0) {
		kh_seterr("disk image %s: %s", disk, strerror(errno));
		if (fd >= 0)
			close(fd);
		return KH_ERR_IO;
	}
	if (read(fd, magic, 4) != 4)
		memset(magic, 0, 4);
	close(fd);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		kh_seterr("disk image %s: not a file or block device", disk);
		return KH_ERR_DATA;
	}
	*proto = S_ISBLK(st.st_mode) ? "host_device" : "file";
	*fmt = memcmp(magic, "QFI\xfb", 4) == 0 ? "qcow2" : "raw";
	return KH_OK;
}

/* Exports disk's bytes [off, off + size) (size 0: all of it) as m->part. */
static int export_start(struct kh_mount *m, const char *disk, const struct part *pt,
			int writable)
{
	const char *fmt, *proto;
	char *node, exp[2 * sizeof(m->part) + 96], esc[2 * sizeof(m->part)];
	json_t *j;
	int r, fd;

	if ((r = disk_format(disk, &fmt, &proto)) != KH_OK)
		return r;
	if ((fd = open(m->part, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return KH_ERR_IO;
	close(fd);
	j = json_pack("{s:s, s:s, s:b, s:b, s:{s:s, s:b, s:b, s:{s:s, s:s, s:b}}}",
		      "driver", "raw", "node-name", "part", "read-only", !writable,
		      "force-share", !writable,
		      "file", "driver", fmt, "read-only", !writable, "force-share", !writable,
		      "file", "driver", proto, "filename", disk, "read-only", !writable);
	if (j && pt->size) {
		json_object_set_new(j, "offset", json_integer((json_int_t)pt->off));
		json_object_set_new(j, "size", json_integer((json_int_t)pt->size));
	}
	node = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!node)
		return KH_ERR_NOMEM;
	qemu_escape(m->part, esc, sizeof(esc));
	snprintf(exp, sizeof(exp), "type=fuse,id=khreset,node-name=part,mountpoint=%s,writable=%s",
		 esc, writable ? "on" : "off");
	{
		char *argv[] = { "qemu-storage-daemon", "--blockdev", node, "--export", exp, NULL };

		r = spawn(argv, m->qlog, &m->qsd);
	}
	free(node);
	if (r == KH_OK)
		r = ready("qemu-storage-daemon", m->part, &m->qsd, m->qlog);
	return r;
}

/* ---------- ntfs-3g ---------- */

static int ntfs_start(struct kh_mount *m, int writable)
{
	char *argv[] = { "ntfs-3g", "-o", writable ? "no_detach" : "no_detach,ro",
			 m->part, m->vol, NULL };
	struct statvfs vs;
	int r = spawn(argv, m->nlog, &m->ntfs);

	if (r == KH_OK)
		r = ready("ntfs-3g", m->vol, &m->ntfs, m->nlog);
	m->note[0] = '\0';
	if (r == KH_OK && writable && statvfs(m->vol, &vs) == 0 && (vs.f_flag & ST_RDONLY)) {
		FILE *f = fopen(m->nlog, "r");
		char line[256];

		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "hibernated") || strstr(line, "unclean") ||
			    strstr(line, "unsafe state")) {
				line[strcspn(line, "\r\n")] = '\0';
				snprintf(m->note, sizeof(m->note), "%s", line);
				break;
			}
		if (f)
			fclose(f);
	}
	return r;
}

static int ntfs_stop(struct kh_mount *m)
{
	int st, r = KH_OK;

	if (m->ntfs <= 0)
		return KH_OK;
	for (int i = 0; umount2(m->vol, 0) < 0; i++) {
		if (errno == EINVAL || errno == ENOENT)
			break;              /* not mounted (any more) */
		if (errno != EBUSY || i == 5000 / POLL_MS) {
			kh_seterr("cannot unmount %s: %s; detached lazily", m->vol, strerror(errno));
			umount2(m->vol, MNT_DETACH);
			r = KH_ERR_IO;
			break;
		}
		nap(POLL_MS);
	}
	waitpid(m->ntfs, &st, 0);     /* ntfs-3g exits when all is written */
	m->ntfs = 0;
	return r;
}

/* ---------- partitions ---------- */

static void fs_type(int fd, struct part *pt)
{
	blkid_probe pr = blkid_new_probe();
	const char *t = NULL;

	pt->fs[0] = '\0';
	if (!pr)
		return;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)pt->off, (blkid_loff_t)pt->size) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
		if (blkid_do_safeprobe(pr) == 0 &&
		    blkid_probe_lookup_value(pr, "TYPE", &t, NULL) == 0)
			snprintf(pt->fs, sizeof(pt->fs), "%s", t);
	}
	blkid_free_probe(pr);
}

/* The partitions of the exported disk (none in a table: the whole disk). */
static int partitions(const char *path, struct part *pts, size_t *n)
{
	blkid_probe pr = blkid_new_probe_from_filename(path);
	blkid_partlist ls;
	int fd, cnt = 0;

	*n = 0;
	if (!pr) {
		kh_seterr("cannot read the partition table of %s: %s", path, strerror(errno));
		return KH_ERR_IO;
	}
	blkid_probe_enable_partitions(pr, 1);
	ls = blkid_probe_get_partitions(pr);
	if (ls)
		cnt = blkid_partlist_numof_partitions(ls);
	for (int i = 0; i < cnt && *n < MAXPART; i++) {
		blkid_partition par = blkid_partlist_get_partition(ls, i);

		pts[*n].no = blkid_partition_get_partno(par);
		pts[*n].off = (uint64_t)blkid_partition_get_start(par) * 512;
		pts[*n].size = (uint64_t)blkid_partition_get_size(par) * 512;
		(*n)++;
	}
	blkid_free_probe(pr);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return KH_ERR_IO;
	if (*n == 0) {              /* no table: a file system on the whole disk */
		struct stat st;

		pts[0].no = 0;
		pts[0].off = 0;
		pts[0].size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
		*n = 1;
	}
	for (size_t i = 0; i < *n; i++)
		fs_type(fd, &pts[i]);
	close(fd);
	return KH_OK;
}

/* Largest first: Windows is the big NTFS; System Reserved and Recovery
 * are small ones. */
static int by_size(const void *a, const void *b)
{
	const struct part *x = a, *y = b;

	return x->size < y->size ? 1 : x->size > y->size ? -1 : x->no - y->no;
}

static int is_windows(const char *vol)
{
	struct kh_dirent st;
	kh_plat *p;
	int win;

	if (plat_open(&p, vol) != KH_OK) {
		kh_clearerr();
		return 0;
	}
	win = plat_stat(p, "Windows/System32/config/SYSTEM", &st) == KH_OK && st.type == KH_FT_FILE;
	plat_close(p);
	kh_clearerr();
	return win;
}

static void describe(char *out, size_t size, const struct part *pt, const char *what)
{
	size_t at = strlen(out);

	snprintf(out + at, size - at, "%s%s %d: %s, %llu MiB%s%s", at ? "; " : "",
		 pt->no ? "partition" : "whole disk", pt->no, pt->fs[0] ? pt->fs : "no file system",
		 (unsigned long long)(pt->size >> 20), what ? ", " : "", what ? what : "");
}

/* ---------- the mount ---------- */

static int dir_make(struct kh_mount *m)
{
	const char *tmp = getenv("TMPDIR");
	int n = snprintf(m->dir, sizeof(m->dir), "%s/khreset-image.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");

	if (n < 0 || (size_t)n >= sizeof(m->dir) || !mkdtemp(m->dir)) {
		kh_seterr("cannot make a private folder for the mount: %s", strerror(errno));
		return KH_ERR_IO;
	}
	snprintf(m->part, sizeof(m->part), "%s/part", m->dir);
	snprintf(m->vol, sizeof(m->vol), "%s/vol", m->dir);
	snprintf(m->qlog, sizeof(m->qlog), "%s/qemu-storage-daemon.log", m->dir);
	snprintf(m->nlog, sizeof(m->nlog), "%s/ntfs-3g.log", m->dir);
	if (mkdir(m->vol, 0700) < 0) {
		kh_seterr("cannot make %s: %s", m->vol, strerror(errno));
		return KH_ERR_IO;
	}
	return KH_OK;
}

static int mount_part(struct kh_mount *m, const char *disk, const struct part *pt, int writable)
{
	int r = export_start(m, disk, pt, writable);

	if (r == KH_OK)
		r = ntfs_start(m, writable);
	return r;
}

static int unmount_part(struct kh_mount *m)
{
	int r = ntfs_stop(m);

	stop(&m->qsd);
	return r;
}

/* Mounts each NTFS candidate read-only and keeps the Windows one(s). */
static int find_windows(struct kh_mount *m, const char *disk, struct part *pts, size_t n,
			size_t *win, size_t *nwin, char *seen, size_t seen_size)
{
	int r;

	*nwin = 0;
	qsort(pts, n, sizeof(*pts), by_size);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(pts[i].fs, "ntfs")) {
			describe(seen, seen_size, &pts[i], NULL);
			continue;
		}
		if ((r = mount_part(m, disk, &pts[i], 0)) != KH_OK) {
			unmount_part(m);
			return r;
		}
		if (is_windows(m->vol)) {
			win[(*nwin)++] = i;
			describe(seen, seen_size, &pts[i], "Windows");
		} else
			describe(seen, seen_size, &pts[i], "no Windows/System32/config/SYSTEM");
		if ((r = unmount_part(m)) != KH_OK)
			return r;
	}
	return KH_OK;
}

int image_mount(const char *disk, int writable, struct kh_mount **out, const char **root)
{
	struct kh_mount *m = calloc(1, sizeof(*m));
	struct part whole = { 0 }, pts[MAXPART];
	size_t n = 0, win[MAXPART], nwin = 0;
	char seen[1024] = "";
	int r;

	*out = NULL;
	if (!m)
		return KH_ERR_NOMEM;
	if ((r = dir_make(m)) != KH_OK)
		goto fail;
	/* the whole disk, read-only, for libblkid */
	if ((r = export_start(m, disk, &whole, 0)) == KH_OK)
		r = partitions(m->part, pts, &n);
	stop(&m->qsd);
	if (r == KH_OK)
		r = find_windows(m, disk, pts, n, win, &nwin, seen, sizeof(seen));
	if (r == KH_OK && nwin != 1) {
		kh_seterr("disk image %s: %s Windows partition (%s)", disk,
			  nwin ? "more than one" : "no", seen[0] ? seen : "no partitions");
		r = KH_ERR_DATA;
	}
	if (r == KH_OK)
		r = mount_part(m, disk, &pts[win[0]], writable);
	if (r != KH_OK)
		goto fail;
	*out = m;
	*root = m->vol;
	return KH_OK;
fail:
	image_umount(m);
	return r;
}

int image_umount(struct kh_mount *m)
{
	int r;

	if (!m)
		return KH_OK;
	r = unmount_part(m);
	if (m->dir[0]) {
		unlink(m->qlog);
		unlink(m->nlog);
		unlink(m->part);
		if (rmdir(m->vol) < 0 && errno != ENOENT && r == KH_OK) {
			kh_seterr("cannot remove %s: %s", m->vol, strerror(errno));
			r = KH_ERR_IO;
		}
		rmdir(m->dir);
	}
	free(m);
	return r;
}

const char *image_mount_note(const struct kh_mount *m)
{
	return m && m->note[0] ? m->note : NULL;
}
