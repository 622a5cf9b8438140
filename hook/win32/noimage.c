/* noimage.c - --image on Windows: a VM disk is mounted with qemu's tools and
 * ntfs-3g, which the Linux build has; here it is a usage error (exit 64). */
#include "image/image.h"

int image_verb(kh_verb_fn verb, int argc, char **argv, struct kh_globals *g)
{
	return cli_usage_error(NULL, "--image needs the Linux build (qemu-storage-daemon, ntfs-3g)");
}
