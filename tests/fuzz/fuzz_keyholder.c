/* fuzz_keyholder.c - libFuzzer target: archive entry bytes through
 * keyholder_check (libxml2 with no network, no DTD, no entities, bounded
 * work).  A refusal always says why; an acceptance never does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyholder.h"
#include "khreset.h"

#define need(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *why = (char *)1;
	int rc = keyholder_check(data, size, &why);

	if (rc == KH_OK)
		need(why == NULL);
	else
		need(rc == KH_ERR_DATA && why && *why);
	if (rc != KH_OK)
		free(why);
	need(keyholder_check(data, size, NULL) == rc);
	return 0;
}
