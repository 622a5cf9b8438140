/* script.c - the SetupComplete script logic: text of a script or task
 * file, khreset's marker line and version, programs run from Windows\Temp. */
#include <stdlib.h>
#include <string.h>

#include "media.h"

char *script_text(const unsigned char *b, size_t len)
{
	int utf16 = len >= 2 && b[0] == 0xff && b[1] == 0xfe;
	size_t i = utf16 ? 2 : (len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf) ? 3 : 0;
	char *t = malloc(len + 1), *o = t;

	if (!t)
		return NULL;
	for (; i < len; i += utf16 ? 2 : 1) {
		unsigned c = b[i];
		if (utf16 && i + 1 < len && b[i + 1])
			c = '?';
		if (c)
			*o++ = (char)c;
	}
	*o = '\0';
	return t;
}

static void lower_slashes(char *s)
{
	for (; *s; s++)
		*s = *s == '/' ? '\\' : (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
}

/* Next line of text into a malloc'd, trimmed copy; NULL at the end. */
static char *next_line(const char **p)
{
	const char *s = *p, *e;
	char *l;

	if (!*s)
		return NULL;
	e = s + strcspn(s, "\r\n");
	*p = e + strspn(e, "\r\n");
	while (s < e && (*s == ' ' || *s == '\t' || *s == '@'))
		s++;
	if (!(l = strndup(s, (size_t)(e - s))))
		return NULL;
	for (size_t n = strlen(l); n && (l[n - 1] == ' ' || l[n - 1] == '\t'); n--)
		l[n - 1] = '\0';
	return l;
}

static int is_comment(const char *lower)
{
	return strncmp(lower, "::", 2) == 0 || strcmp(lower, "rem") == 0 ||
	       strncmp(lower, "rem ", 4) == 0 || strncmp(lower, "rem\t", 4) == 0;
}

int script_is_ours(const char *text)
{
	const char *p = text;
	char *l;
	int found = 0;

	while (!found && (l = next_line(&p))) {
		lower_slashes(l);
		found = strncmp(l, MARKER, strlen(MARKER)) == 0;
		free(l);
	}
	return found;
}

int script_mentions(const char *text, const char *name)
{
	const char *p = text;
	char *l;
	int found = 0;

	while (!found && (l = next_line(&p))) {
		lower_slashes(l);
		found = !is_comment(l) && strstr(l, name);
		free(l);
	}
	return found;
}

static const char *const temp_dirs[] = {
	"%windir%\\temp\\", "%systemroot%\\temp\\", "\\windows\\temp\\",
	"%temp%\\", "%tmp%\\", NULL
};
static const char *const prog_exts[] = {
	".exe", ".com", ".bat", ".cmd", ".ps1", ".vbs", ".js", ".wsf", ".hta",
	".msi", ".dll", NULL
};

static int ends_with_prog(const char *s, size_t n)
{
	for (size_t i = 0; prog_exts[i]; i++) {
		size_t m = strlen(prog_exts[i]);
		if (n >= m && strncmp(s + n - m, prog_exts[i], m) == 0)
			return 1;
	}
	return 0;
}

/* In a lowered line: a path under Windows\Temp.  need_prog: the path must
 * name a program (script lines); a task's <Command> always does. */
static int refs_temp(const char *l, int need_prog)
{
	for (size_t i = 0; temp_dirs[i]; i++) {
		const char *q = l;
		size_t quotes = 0;

		/* quotes counted once along the line: linear in its length */
		for (const char *m = strstr(l, temp_dirs[i]); m; m = strstr(m + 1, temp_dirs[i])) {
			size_t n;

			if (!need_prog)
				return 1;
			for (; q < m; q++)
				quotes += *q == '"';
			n = strcspn(m, quotes % 2 ? "\"" : "\" \t,;");
			if (ends_with_prog(m, n))
				return 1;
		}
	}
	return 0;
}

char *script_temp_line(const char *text)
{
	const char *p = text;
	char *l, *low;

	while ((l = next_line(&p))) {
		if (!(low = strdup(l))) {
			free(l);
			return NULL;
		}
		lower_slashes(low);
		if (!is_comment(low) && refs_temp(low, 1)) {
			free(low);
			return l;
		}
		free(low);
		free(l);
	}
	return NULL;
}

char *task_temp_command(const char *text)
{
	char *low = strdup(text), *hit = NULL;

	if (!low)
		return NULL;
	lower_slashes(low);         /* "</command>" now reads "<\command>" */
	for (char *s = strstr(low, "<command>"); s && !hit; s = strstr(s + 1, "<command>")) {
		char *b = s + strlen("<command>"), *e = strstr(b, "<\\command>");
		if (!e)
			break;
		*e = '\0';
		if (refs_temp(b, 0))
			hit = strndup(text + (b - low), (size_t)(e - b));
		*e = '<';
	}
	free(low);
	return hit;
}

/* 1 if name starts with prefix, in any case. */
static int name_starts(const char *name, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i]; i++) {
		char a = name[i], b = prefix[i];
		if (!a || ((a >= 'A' && a <= 'Z') ? a + 32 : a) != ((b >= 'A' && b <= 'Z') ? b + 32 : b))
			return 0;
	}
	return 1;
}

int script_is_chained(const char *name)
{
	return name_starts(name, "SetupComplete.chained");
}

char *script_version(const char *text)
{
	const char *v = strstr(text, "version=");

	return v ? strndup(v + 8, strcspn(v + 8, " \t\r\n")) : NULL;
}
