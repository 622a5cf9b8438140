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

/* The console's output code page as it was, when we changed it (0: not). */
static UINT saved_cp;

static void restore_cp(void)
{
	if (saved_cp)
		SetConsoleOutputCP(saved_cp);
	saved_cp = 0;
}

static BOOL WINAPI on_ctrl(DWORD type)
{
	(void)type;
	restore_cp();
	return FALSE;          /* the default handler ends the process */
}

/* UTF-8 text on a console: the output code page is switched only when
 * stdout or stderr is a console, and put back at exit (also on Ctrl+C).
 * SetupComplete's cmd.exe reads the rest of its batch file - and the
 * chained script - in the console's code page: leaving it at 65001 would
 * change how they are read.  Redirected output is bytes as written. */
static void console_utf8(void)
{
	DWORD mode;
	UINT cp;

	if (!GetConsoleMode(GetStdHandle(STD_OUTPUT_HANDLE), &mode) &&
	    !GetConsoleMode(GetStdHandle(STD_ERROR_HANDLE), &mode))
		return;
	if (!(cp = GetConsoleOutputCP()) || cp == CP_UTF8)
		return;
	if (SetConsoleOutputCP(CP_UTF8)) {
		saved_cp = cp;
		atexit(restore_cp);
		SetConsoleCtrlHandler(on_ctrl, TRUE);
	}
}

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
	console_utf8();
	return kh_main(argc, argv);
}
