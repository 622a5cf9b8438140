/* wmain.c - Windows entry point: UTF-16 command line -> UTF-8 argv, then the
 * shared main() (hook/main.c compiled with -Dmain=kh_main for this build).
 * Linked with -municode.  The DLL search path is already restricted by a
 * constructor in hook/win32/win32.c, which runs before this.
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>

int kh_main(int argc, char **argv);

int wmain(int argc, wchar_t **wargv)
{
	char **argv;

	/* Every CRT stream binary: text mode would turn CRLF keyholders into LF
	 * (changing their digests) and stop reading signatures at byte 0x1A.
	 * Debian's binmode.o is empty, so this is set here. */
	_fmode = _O_BINARY;
	_setmode(_fileno(stdin), _O_BINARY);
	_setmode(_fileno(stdout), _O_BINARY);
	_setmode(_fileno(stderr), _O_BINARY);
	argv = calloc((size_t)argc + 1, sizeof(*argv));

	if (!argv) {
		fputs("khreset: out of memory\n", stderr);
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		int n = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);

		argv[i] = n > 0 ? malloc((size_t)n) : NULL;
		if (!argv[i] ||
		    WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, argv[i], n, NULL, NULL) != n) {
			fputs("khreset: cannot convert the command line\n", stderr);
			return 64;
		}
	}
	/* UTF-8 text on a console; redirected output is bytes as written. */
	SetConsoleOutputCP(CP_UTF8);
	return kh_main(argc, argv);
}
