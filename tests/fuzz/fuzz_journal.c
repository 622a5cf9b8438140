/* fuzz_journal.c - libFuzzer target: the journal reader (state.c's
 * journal_parse over record.c) on any bytes, as recovery reads them, with
 * the default folders and one configured registry value: it must classify
 * every record (ok, damaged, trusted or not) without crashing, leaking or
 * reading past the buffer. */
#include <stddef.h>
#include <stdint.h>

#include "khreset.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kh_regval reg[] = {
		{ "HKLM\\SOFTWARE\\CMIT\\Active", "IntranetActivationServer", KH_REG_SZ, "x" },
	};
	static struct kh_config c = {
		.archive_dir = "ProgramData\\Microsoft\\Windows\\ClipSVC\\Archive\\KeyHolder",
		.install_dir = "ProgramData\\Microsoft\\Windows\\ClipSVC\\Install\\KeyHolder",
		.max_file_size = 1 << 20,
		.reg = reg,
		.n_reg = 1,
	};
	struct kh_journal j;

	if (journal_parse(data, size, &c, &j) == KH_OK) {
		for (size_t i = 0; i < j.n; i++)
			if (j.j[i].trusted && !j.j[i].rec->ok)
				__builtin_trap();     /* a damaged record is never trusted */
		journal_free(&j);
	}
	return 0;
}
