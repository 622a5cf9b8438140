/* fuzz_repairrec.c - libFuzzer target: the repair record's reader of a
 * status document (repairrec.c's rrec_from_status) on any bytes: a record
 * is taken only whole and valid - a name of an upgrade, a time that
 * formats back to itself, a backup ID - never crashing, leaking or reading
 * past the buffer. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "khreset.h"
#include "repairrec.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_rrec r;
	char when[32];
	int64_t t;
	int rc = rrec_from_status((const char *)data, size, &r);

	if (rc < -1 || rc > 1 || (rc != 1 && r.from != KH_RREC_ABSENT))
		__builtin_trap();
	if (rc != 1)
		return 0;
	kh_fmt_time(r.time, when);
	if (r.from != KH_RREC_STATUS || !r.upgrade[0] ||
	    !kh_utf8_valid(r.upgrade, strlen(r.upgrade)) || !backup_id_ok(r.backup_id) ||
	    !rrec_parse_time(when, &t) || t != r.time)
		__builtin_trap();
	return 0;
}
