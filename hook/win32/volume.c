/* volume.c - the live body's answers about its own volume and hives:
 * Windows keeps its loaded hives and their logs itself, so none is listed,
 * a running system's volume is never a read-only mount, and --image (a VM
 * disk mounted with qemu's tools and ntfs-3g) is for the Linux build. */
#include <stddef.h>

#include "image/image.h"
#include "platform.h"

size_t plat_hive_states(kh_plat *p, const struct kh_hive_state **out)
{
	*out = NULL;
	return 0;
}

const char *plat_readonly_why(kh_plat *p)
{
	return NULL;
}

int image_verb(kh_verb_fn verb, int argc, char **argv, struct kh_globals *g)
{
	return cli_usage_error(NULL, "--image needs the Linux build (qemu-storage-daemon, ntfs-3g)");
}
