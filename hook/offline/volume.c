/* volume.c - what the offline body can say of the mounted volume itself:
 * whether it is read-only, and the likely reason. */
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include "khreset.h"
#include "offline.h"

#define FUSE_MAGIC 0x65735546

const char *plat_readonly_why(kh_plat *p)
{
	struct statvfs vs;
	struct statfs fs;

	if (fstatvfs(p->rootfd, &vs) < 0 || !(vs.f_flag & ST_RDONLY))
		return NULL;
	if (fstatfs(p->rootfd, &fs) == 0 && fs.f_type == FUSE_MAGIC)
		return "the volume is mounted read-only; ntfs-3g (also under guestmount) "
		       "mounts an NTFS volume read-only when Windows is hibernated or was "
		       "not shut down cleanly (Fast Startup): start the VM, shut it down "
		       "fully (shutdown /s /t 0, or turn Fast Startup off), then mount it again";
	return "the volume is mounted read-only: mount it read-write (the VM off)";
}
