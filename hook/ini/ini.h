/* ini.h - INI text already in memory, parsed by minIni (see minGlue.h). */
#ifndef KH_INI_H
#define KH_INI_H

#include <stddef.h>

/* One key = value; line counts from 1.  Return 0 to stop. */
typedef int (*kh_ini_fn)(const char *section, const char *key, const char *value,
			 int line, void *ud);

/*
 * Calls fn for every key = value of text[0..len), in order.  KH_OK, or
 * KH_ERR_DATA when a line holds a NUL byte or is too long for minIni
 * (kh_seterr: "NAME line N: ..."); keys before that line were seen.
 */
int kh_ini_browse(const char *name, const void *text, size_t len, kh_ini_fn fn,
		  void *ud);
/* 1 if text has a [section] (case-insensitive) holding a key; minIni does
 * not count an empty one. */
int kh_ini_has_section(const void *text, size_t len, const char *section);

#endif
