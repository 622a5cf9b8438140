/* image.h - `khreset --image DISK VERB`: a VM disk (raw or qcow2) opened
 * by khreset itself.  Linux only.
 *
 * The disk is exposed through qemu-storage-daemon's FUSE export (a raw
 * node at the partition's offset over the file or qcow2 node, so raw and
 * qcow2 take the same path), the Windows partition found with libblkid and
 * mounted with ntfs-3g, the verb run on the mount in a child process, and
 * everything unmounted and stopped again - also when the verb fails or a
 * SIGINT, SIGTERM or SIGHUP arrives.
 */
#ifndef KH_IMAGE_H
#define KH_IMAGE_H

#include "cli.h"

/* Runs verb (check, run or restore; argv[0] its name) on the Windows
 * partition of g->image; the SPEC exit code. */
int image_verb(kh_verb_fn verb, int argc, char **argv, struct kh_globals *g);

/* --- mount.c: the machinery --- */
struct kh_mount;

enum kh_disk_use { KH_DISK_FREE, KH_DISK_IN_USE };

/* qemu's image lock (an fcntl OFD lock on bytes 100.. and 200.. of the
 * file): KH_DISK_IN_USE when a running qemu (a VM) holds the disk. */
int image_in_use(const char *disk, enum kh_disk_use *use);

/* Finds the Windows partition of disk (an NTFS file system holding
 * Windows/System32/config/SYSTEM) and mounts it under a private folder:
 * read-write when writable, else read-only with qemu's locks shared (safe
 * on a running VM's disk).  *m and *root (the mount point) are the
 * caller's to image_umount.  KH_ERR_DATA (no or several Windows
 * partitions, each partition named), KH_ERR_BUSY, KH_ERR_IO. */
int image_mount(const char *disk, int writable, struct kh_mount **m, const char **root);
/* Unmounts, waits for ntfs-3g to finish writing, stops the export,
 * removes the private folder.  KH_OK when all of it went. */
int image_umount(struct kh_mount *m);
/* What ntfs-3g said when it mounted (its own reason for a read-only
 * fallback, e.g. "Windows is hibernated"), NULL if nothing. */
const char *image_mount_note(const struct kh_mount *m);

#endif
