/* fuzz_bundle.c - libFuzzer target: manifest.ini bytes through bundle_parse
 * (every check bundle_load makes before it reads the keyholders). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "digest.h"
#include "khreset.h"

#define need(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	kh_log_setlevel(-1);
	return 0;
}

static int lower_hex(const char *s)
{
	return kh_is_sha256_hex(s) && strspn(s, "0123456789abcdef") == 64;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_bundle *b = NULL;

	if (bundle_parse(data, size, "fuzz", &b) != KH_OK) {
		need(!b && kh_lasterr()[0]);
		return 0;
	}
	need(b->n >= 1 && b->n <= 256 && b->target_build >= 0);
	for (size_t i = 0; i < b->n; i++) {
		const struct kh_bundle_file *f = &b->files[i];

		need(kh_is_uuid_xml(f->name) && lower_hex(f->sha256) && !f->data);
		need(bundle_find(b, f->name) == f);
		for (size_t j = 0; j < f->n_good; j++)
			need(lower_hex(f->archive_good[j]));
		need(bundle_good_archived(f, f->n_good ? f->archive_good[0] : f->sha256));
	}
	bundle_free(b);
	return 0;
}
