/* fuzz_manifest.c - libFuzzer target: a backup manifest's reader
 * (state.c's manifest_parse over record.c) on any bytes: it accepts a
 * manifest only whole and well formed, never crashing, leaking or reading
 * past the buffer. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "khreset.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_backup b;

	if (manifest_parse("20240102T030405Z", data, size, &b) == KH_OK)
		for (size_t i = 0; i < b.n; i++)
			if (!b.files[i].name[0] || strchr(b.files[i].name, '\\'))
				__builtin_trap();     /* names are always one component */
	backup_free(&b);
	return 0;
}
