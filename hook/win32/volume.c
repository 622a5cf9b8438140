/* volume.c - the live body's answers about its own volume and hives:
 * Windows keeps its loaded hives and their logs itself, so none is listed,
 * and a running system's volume is never a read-only mount. */
#include <stddef.h>

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
