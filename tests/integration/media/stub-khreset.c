/* stub-khreset.c - stand-in khreset.exe for the SetupComplete.cmd test under
 * Wine: appends its arguments to %KH_STUB_LOG% and exits with %KH_STUB_RC%
 * for "run" (0 for any other verb). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *log = getenv("KH_STUB_LOG"), *rc = getenv("KH_STUB_RC");
	FILE *f = log ? fopen(log, "a") : NULL;

	if (f) {
		for (int i = 1; i < argc; i++)
			fprintf(f, "%s%s", i > 1 ? " " : "", argv[i]);
		fputc('\n', f);
		fclose(f);
	}
	if (argc > 1 && strcmp(argv[1], "run") == 0 && rc)
		return atoi(rc);
	return 0;
}
