/*  minGlue-win32.h - minIni glue for the Windows build of khreset: the
 *  stdio glue (minGlue-stdio.h) with two Windows adaptations:
 *   - file names are UTF-8, opened with _wfopen (msvcrt's fopen would take
 *     them in the ANSI code page);
 *   - "/proc/self/fd/N" (the name kh_memfile() gives a memfd on Linux) reads
 *     CRT descriptor N from its start, through a duplicate, as Linux does
 *     when reopening that path.
 *  Installed as minGlue.h by win/deps.sh.  Public domain, like the original.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <io.h>
#include <fcntl.h>
#include <windows.h>

static FILE *kh_ini_fopen(const char *name, const wchar_t *mode)
{
	static const char fdpfx[] = "/proc/self/fd/";
	FILE *f = NULL;
	wchar_t *w;
	int n;

	if (strncmp(name, fdpfx, sizeof(fdpfx) - 1) == 0) {
		char *end;
		long fd = strtol(name + sizeof(fdpfx) - 1, &end, 10);
		int d;

		if (*end || fd < 0 || mode[0] != L'r')
			return NULL;
		d = _dup((int)fd);
		if (d < 0)
			return NULL;
		if (_lseek(d, 0, SEEK_SET) != 0 || !(f = _fdopen(d, "rb")))
			_close(d);
		return f;
	}
	n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, -1, NULL, 0);
	if (n <= 0 || !(w = malloc((size_t)n * sizeof(wchar_t))))
		return NULL;
	MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, -1, w, n);
	f = _wfopen(w, mode);
	free(w);
	return f;
}

static int kh_ini_wpath(const char *name, wchar_t **w)
{
	int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, -1, NULL, 0);

	if (n <= 0 || !(*w = malloc((size_t)n * sizeof(wchar_t))))
		return 0;
	MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, -1, *w, n);
	return 1;
}

static int kh_ini_rename(const char *from, const char *to)
{
	wchar_t *a = NULL, *b = NULL;
	int ok = kh_ini_wpath(from, &a) && kh_ini_wpath(to, &b) &&
		MoveFileExW(a, b, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH);

	free(a);
	free(b);
	return ok;
}

static int kh_ini_remove(const char *name)
{
	wchar_t *w = NULL;
	int ok = kh_ini_wpath(name, &w) && DeleteFileW(w);

	free(w);
	return ok;
}

#define INI_FILETYPE                   FILE*
#define ini_openread(filename,file)    ((*(file) = kh_ini_fopen((filename),L"rb")) != NULL)
#define ini_openwrite(filename,file)   ((*(file) = kh_ini_fopen((filename),L"wb")) != NULL)
#define ini_openrewrite(filename,file) ((*(file) = kh_ini_fopen((filename),L"r+b")) != NULL)
#define ini_close(file)                (fclose(*(file)) == 0)
#define ini_read(buffer,size,file)     (fgets((buffer),(size),*(file)) != NULL)
#define ini_write(buffer,file)         (fputs((buffer),*(file)) >= 0)
#define ini_rename(source,dest)        kh_ini_rename((source), (dest))
#define ini_remove(filename)           kh_ini_remove(filename)

#define INI_FILEPOS                    long int
#define ini_tell(file,pos)             (*(pos) = ftell(*(file)))
#define ini_seek(file,pos)             (fseek(*(file), *(pos), SEEK_SET) == 0)

#define INI_REAL                       float
#define ini_ftoa(string,value)         sprintf((string),"%f",(value))
#define ini_atof(string)               (INI_REAL)strtod((string),NULL)
