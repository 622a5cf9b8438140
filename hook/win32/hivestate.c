/* hivestate.c - the live body's answer to plat_hive_states: Windows keeps
 * its loaded hives and their logs itself, so none is listed. */
#include <stddef.h>

#include "platform.h"

size_t plat_hive_states(kh_plat *p, const struct kh_hive_state **out)
{
	*out = NULL;
	return 0;
}
