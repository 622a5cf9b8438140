/* media.h - what the media verbs share (private to hook/media/): the image
 * paths, the payload (payload.c) and the SetupComplete script logic
 * (script.c).  bake.c and lint.c are the verbs; wim.h is the wimlib layer.
 */
#ifndef KH_MEDIA_H
#define KH_MEDIA_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* Image paths (SPEC section 7): absolute, '\' separators, any case. */
#define SCRIPTS      "\\Windows\\Setup\\Scripts"
#define SC_PATH      SCRIPTS "\\SetupComplete.cmd"
#define KHDIR        SCRIPTS "\\khreset"
/* A foreign SetupComplete.cmd found by bake is kept beside ours under a
 * name Setup does not run by itself (it runs SetupComplete.cmd, and
 * ErrorHandler.cmd on a fatal error, nothing else there): same folder, so
 * its %~dp0 and relative paths are what they were.  Ours calls it. */
#define CHAINED_NAME "SetupComplete.chained.cmd"
#define CHAINED      SCRIPTS "\\" CHAINED_NAME
/* one no one calls any more: SetupComplete.chained.prev.cmd, prev2, ... */
#define CHAINED_PREV SCRIPTS "\\SetupComplete.chained.prev"
/* bakes before issue 10 kept it in khreset\ (its %~dp0 pointed there):
 * bake moves it back up, lint says so */
#define OLD_CHAINED  KHDIR "\\" CHAINED_NAME
#define CLIPSVC      "\\ProgramData\\Microsoft\\Windows\\ClipSVC"
#define ARCHIVE_DIR  CLIPSVC "\\Archive\\KeyHolder"
#define INSTALL_DIR  CLIPSVC "\\Install\\KeyHolder"
#define TASKS_DIR    "\\Windows\\System32\\Tasks"
#define SCRIPT_MAX   (1u << 20)    /* bake: a SetupComplete.cmd read to see if it is ours */
#define MARKER       "rem khreset-setupcomplete"   /* ours, followed by version= */

/* --- the payload (payload.c) --- */
struct pfile {
	char *rel;            /* image path under khreset\, '\' separators */
	char *host;
	unsigned char *data;
	size_t len;
};

struct payload {
	char *dir;
	char *bundle;         /* host path of bundle/ */
	struct pfile *f;      /* khreset.exe, khreset.ini, bundle\*, in that order */
	size_t n;
	struct pfile sc;      /* SetupComplete.cmd */
	char *sc_version;
};

/* Loads and checks the whole payload folder dir (every file read, the
 * bundle verified, khreset.ini pointing at it, SetupComplete.cmd ours)
 * before anything is written.  Bad payload: KH_ERR_DATA / KH_ERR_BUNDLE /
 * KH_ERR_CONFIG with kh_seterr() detail naming the file. */
int payload_load(const char *dir, struct payload *p);
void payload_free(struct payload *p);

/* --- SetupComplete and task text (script.c) --- */
/* A script or task file as 8-bit text (UTF-16LE squashed, BOM dropped,
 * NULs removed): enough to look for ASCII paths.  malloc'd; NULL: ENOMEM. */
char *script_text(const unsigned char *b, size_t len);
/* 1 if the script carries khreset's marker line. */
int script_is_ours(const char *text);
/* The version= value after the marker, malloc'd; NULL when there is none. */
char *script_version(const char *text);
/* 1 if a non-comment line mentions name (lowercase). */
int script_mentions(const char *text, const char *name);
/* The first line that runs a program from Windows\Temp, or the first task
 * <Command> there; malloc'd, NULL when none. */
char *script_temp_line(const char *text);
char *task_temp_command(const char *text);
/* 1 if name (any case) is a chained script: SetupComplete.chained*. */
int script_is_chained(const char *name);

/* A verb's JSON result on stdout. */
static inline void media_json(json_t *root)
{
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	fflush(stdout);
}

#endif
