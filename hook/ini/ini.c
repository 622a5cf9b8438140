/* ini.c - minIni over a buffer: the memory cursor of minGlue.h and the
 * kh_ini API around minIni's browse and section lookup. */
#include <string.h>

#include "minIni.h"
#ifndef KH_MINGLUE_H
#error "minIni.h included a minGlue.h other than hook/ini/minGlue.h"
#endif

#include "khreset.h"
#include "ini.h"

struct kh_ini_mem *kh_ini_open(const char *name)
{
	struct kh_ini_mem *m = (struct kh_ini_mem *)(void *)name;

	m->pos = 0;
	m->line = 0;
	m->bad = 0;
	return m;
}

/* The next line, newline included, as fgets would give it, but never a
 * part of one: a line that does not fit, or holds a NUL, ends the text. */
int kh_ini_read(char *buf, int size, struct kh_ini_mem *m)
{
	const char *s = m->text + m->pos, *nl;
	size_t left = m->len - m->pos, n;

	if (m->bad || left == 0)
		return 0;
	nl = memchr(s, '\n', left);
	n = nl ? (size_t)(nl - s) + 1 : left;
	m->line++;
	if (memchr(s, '\0', n))
		m->bad = KH_INI_NUL;
	else if (size < 1 || n > (size_t)size - 1)
		m->bad = KH_INI_LONG;
	if (m->bad)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	m->pos += n;
	return 1;
}

struct trampoline {
	kh_ini_fn fn;
	void *ud;
	const struct kh_ini_mem *m;
};

static int call(const char *section, const char *key, const char *value, void *ud)
{
	struct trampoline *t = ud;

	return t->fn(section, key, value, t->m->line, t->ud);
}

int kh_ini_browse(const char *name, const void *text, size_t len, kh_ini_fn fn,
		  void *ud)
{
	struct kh_ini_mem m = { text, len, 0, 0, 0 };
	struct trampoline t = { fn, ud, &m };

	ini_browse(call, &t, (const char *)&m);
	if (m.bad == KH_INI_NUL)
		kh_seterr("%s line %d: NUL byte", name, m.line);
	else if (m.bad == KH_INI_LONG)
		kh_seterr("%s line %d: too long to read as INI", name, m.line);
	return m.bad ? KH_ERR_DATA : KH_OK;
}

int kh_ini_has_section(const void *text, size_t len, const char *section)
{
	struct kh_ini_mem m = { text, len, 0, 0, 0 };

	return ini_hassection(section, (const char *)&m);
}
