/* minGlue.h - minIni's glue for khreset: minIni parses memory, never a file.
 *
 * minIni.c (Debian's libminini source, compiled by the Makefile and
 * win/win.mk) finds this header through -Ihook/ini; it is the only
 * minGlue.h there.  The "file name" minIni passes around is a
 * struct kh_ini_mem * in disguise (ini.c): the bytes khreset has already
 * read safely.  A line that holds a NUL or does not fit minIni's buffer
 * ends the reading with `bad` set, so minIni never sees a split line.
 */
#ifndef KH_MINGLUE_H
#define KH_MINGLUE_H

#include <stddef.h>

#define INI_READONLY           /* no writer: nothing renames or removes files */
#define INI_ANSIONLY
#define INI_BUFFERSIZE 2048    /* section name + one line */

struct kh_ini_mem {
	const char *text;
	size_t len, pos;
	int line;              /* of the line last read, from 1 */
	int bad;               /* KH_INI_NUL or KH_INI_LONG: reading stopped there */
};
enum { KH_INI_NUL = 1, KH_INI_LONG };

struct kh_ini_mem *kh_ini_open(const char *name);
int kh_ini_read(char *buf, int size, struct kh_ini_mem *m);

#define INI_FILETYPE                struct kh_ini_mem *
#define ini_openread(name, file)    ((*(file) = kh_ini_open(name)) != NULL)
#define ini_read(buf, size, file)   kh_ini_read((buf), (size), *(file))
#define ini_close(file)             ((void)(file), 1)

#define INI_FILEPOS                 size_t
#define ini_tell(file, at)          (*(at) = (*(file))->pos)
#define ini_seek(file, at)          ((*(file))->pos = *(at), 1)

#endif
