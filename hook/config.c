/* config.c - khreset.ini (SPEC section 6): syntax pass, then minIni values.
 *
 * The file is read once (kh_read_host, or plat_read from inside the Windows
 * root) and both passes work on those bytes.  minIni reads values but does
 * not report syntax errors, so a short pass over the lines checks the shape
 * first (section headers and key = value lines); minIni then hands over
 * each key with its line, and every invalid value is reported with the
 * file, line and key.  Unknown keys only warn.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ini/ini.h"
#include "khreset.h"
#include "taskxml.h"

#define VAL_MAX  1024
#define FILE_MAX (1 << 20)
#define KEY_PART_MAX  255      /* characters of one registry key name */
#define VALUE_NAME_MAX 16383   /* characters of a registry value name */
#define MAX_SEEN 256           /* keys one file may set */

static const char *const known[] = {
	"keyholder.archive_dir", "keyholder.install_dir", "keyholder.max_file_size",
	"bundle.dir", "bundle.public_key",
	"policy.require_upgrade", "policy.keep_backups",
	"clipsvc.service", "clipsvc.timeout", "clipsvc.root_keyholder",
	"activation.service", "activation.command", "activation.timeout",
	"activation.interval",
	"task.name", "task.delay", "task.interval", "task.jitter", "task.max_attempts",
	"log.level",
	NULL
};

/* A key already set, for the duplicate check: "sec.key" as written. */
struct seen {
	char *name;
	int line;
};

struct ctx {
	struct kh_config *c;
	const char *file;      /* name shown in messages */
	int line;              /* of the key being set */
	int err;
	const char *root_dir;  /* the volume's own file: its folder below the root */
	struct seen seen[MAX_SEEN];
	size_t n_seen;
};

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static int bad(struct ctx *x, const char *sec, const char *key, const char *why,
	       const char *val)
{
	kh_seterr("%s line %d: [%s] %s = '%s': %s", x->file, x->line, sec, key, val, why);
	x->err = KH_ERR_CONFIG;
	return 0;
}

/* Shape check: every line blank, a comment, [section] or key = value; no
 * NUL byte, no line longer than VAL_MAX - 2 bytes. */
static int syntax_pass(const char *text, size_t len, const char *file)
{
	char buf[VAL_MAX];
	int line = 0;

	for (size_t pos = 0; pos < len; ) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - p) : len - pos;
		char *s;

		pos += n + (nl != NULL);
		line++;
		if (n > VAL_MAX - 2) {
			kh_seterr("%s line %d: line longer than %d bytes", file, line,
				  VAL_MAX - 2);
			return KH_ERR_CONFIG;
		}
		if (memchr(p, '\0', n)) {
			kh_seterr("%s line %d: NUL byte", file, line);
			return KH_ERR_CONFIG;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		s = trim(buf);
		if (*s == '\0' || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || end == s + 1 || *trim(end + 1) != '\0') {
				kh_seterr("%s line %d: malformed section header '%s'",
					  file, line, s);
				return KH_ERR_CONFIG;
			}
			continue;
		}
		if (!strchr(s, '=') || *s == '=') {
			kh_seterr("%s line %d: expected 'key = value' or '[section]', got '%s'",
				  file, line, s);
			return KH_ERR_CONFIG;
		}
	}
	return KH_OK;
}

static int is_known(const char *sec, const char *key)
{
	char full[256];

	if (!kh_strcasecmp(sec, "registry"))
		return !strncasecmp(key, "value", 5) && key[5] &&
		       strspn(key + 5, "0123456789") == strlen(key + 5);
	snprintf(full, sizeof(full), "%s.%s", sec, key);
	for (const char *const *k = known; *k; k++)
		if (!kh_strcasecmp(*k, full))
			return 1;
	return 0;
}

static int setstr(char **dst, const char *val)
{
	char *s = *val ? kh_strdup(val) : NULL;

	if (*val && !s)
		return KH_ERR_NOMEM;
	free(*dst);
	*dst = s;
	return KH_OK;
}

static int getlong(struct ctx *x, const char *sec, const char *key,
		   const char *val, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	/* digits as written: no sign, no blank, no leading zero */
	if (errno || end == val || *end || v < lo || v > hi ||
	    strspn(val, "0123456789") != strlen(val) || (val[0] == '0' && val[1])) {
		char why[96];
		snprintf(why, sizeof(why), "expected a whole number from %ld to %ld",
			 lo, hi);
		return bad(x, sec, key, why, val);
	}
	*out = v;
	return 1;
}

static int getbool(struct ctx *x, const char *sec, const char *key,
		   const char *val, int *out)
{
	static const char *const yes[] = { "true", "yes", "1", "on", NULL };
	static const char *const no[] = { "false", "no", "0", "off", NULL };

	for (int i = 0; yes[i]; i++) {
		if (!kh_strcasecmp(val, yes[i]))
			return *out = 1, 1;
		if (!kh_strcasecmp(val, no[i]))
			return *out = 0, 1;
	}
	return bad(x, sec, key, "expected true or false", val);
}

/* A path relative to the Windows root: no drive, no leading slash, no "..". */
static int relpath_ok(const char *v)
{
	if (!*v || *v == '\\' || *v == '/' || strchr(v, ':'))
		return 0;
	for (const char *p = v; *p;) {
		size_t n = strcspn(p, "\\/");
		if ((n == 2 && !strncmp(p, "..", 2)) || n == 0)
			return 0;
		p += n;
		if (*p)
			p++;
	}
	return 1;
}

/* REG_DWORD data exactly as both writers read it: decimal digits without
 * a sign or a leading zero ("010" is refused, not taken as octal or as
 * ten), or 0x / 0X and hex digits; at most 0xffffffff. */
static int dword_ok(const char *s)
{
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	const char *d = hex ? s + 2 : s;
	unsigned long long v = 0;

	if (!*d || strspn(d, hex ? "0123456789abcdefABCDEF" : "0123456789") != strlen(d) ||
	    (!hex && d[0] == '0' && d[1]))
		return 0;
	for (; *d; d++) {
		v = v * (hex ? 16 : 10) + (unsigned)(*d <= '9' ? *d - '0' : (*d | 0x20) - 'a' + 10);
		if (v > 0xffffffffULL)
			return 0;
	}
	return 1;
}

/* A registry name Windows takes as written: UTF-8 text, no control
 * character, at most max characters (UTF-16 code units, as Windows counts
 * them).  0 and why filled when not. */
static int name_ok(const char *what, const char *s, size_t max, char *why, size_t size)
{
	const char *bad = NULL;

	/* UTF-8 already: browse checks every value */
	for (const char *p = s; !bad && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			bad = "holds a control character";
	if (bad) {
		snprintf(why, size, "%s %s", what, bad);
		return 0;
	}
	if (kh_u16len(s) > max) {
		snprintf(why, size, "%s is %zu characters long, more than the %zu Windows allows",
			 what, kh_u16len(s), max);
		return 0;
	}
	return 1;
}

/* HKLM\SOFTWARE\a\b: every part after the hive a usable key name. */
static int regkey_ok(struct ctx *x, const char *key, const char *val, const char *k)
{
	const char *p = strchr(strchr(k, '\\') + 1, '\\') + 1;     /* past HKLM\HIVE\ */
	char part[VAL_MAX], what[80], why[200];

	for (;;) {
		size_t n = strcspn(p, "\\");

		if (!n)
			return bad(x, "registry", key, "the key has an empty part "
				   "(two '\\' in a row, or one at its end)", val);
		memcpy(part, p, n);
		part[n] = '\0';
		snprintf(what, sizeof(what), "key part '%.32s%s'", part, n > 32 ? "..." : "");
		if (!name_ok(what, part, KEY_PART_MAX, why, sizeof(why)))
			return bad(x, "registry", key, why, val);
		if (!p[n])
			return 1;
		p += n + 1;
	}
}

/* The key as the 64-bit view spells it: HKLM32\SOFTWARE\X is
 * HKLM\SOFTWARE\WOW6432Node\X. */
static void regkey_stored(const char *k, char *buf, size_t size)
{
	char plain[VAL_MAX + 8];

	if (plat_reg_view_of(k, plain, sizeof(plain)) == KH_VIEW_32)
		snprintf(buf, size, "HKLM\\SOFTWARE\\WOW6432Node%s", plain + 13);
	else
		snprintf(buf, size, "%s", k);
}

/* The same value set twice ([registry] key and name compare as Windows
 * compares them; HKLM32\SOFTWARE\X is HKLM\SOFTWARE\WOW6432Node\X). */
static int regdup(struct ctx *x, const char *key, const char *val, const struct kh_regval *r)
{
	char a[VAL_MAX + 32], b[VAL_MAX + 32];

	regkey_stored(r->key, b, sizeof(b));
	for (size_t i = 0; i + 1 < x->c->n_reg; i++) {
		const struct kh_regval *o = &x->c->reg[i];

		regkey_stored(o->key, a, sizeof(a));
		if (!kh_strcasecmp(a, b) && !kh_strcasecmp(o->name, r->name))
			return bad(x, "registry", key,
				   "sets the same value as an earlier [registry] entry", val);
	}
	return 1;
}

static int parse_regval(struct ctx *x, const char *key, const char *val)
{
	char buf[VAL_MAX], *f[4], *save = NULL, *tok;
	struct kh_regval *r, *nv;
	char why[200];
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", val);
	for (tok = strtok_r(buf, "|", &save); tok && n < 4;
	     tok = strtok_r(NULL, n == 3 ? "" : "|", &save))
		f[n++] = trim(tok);
	if (n != 4 || !*f[0] || !*f[1] || !*f[2])
		return bad(x, "registry", key, "expected 'KEY | NAME | TYPE | DATA'", val);
	if (!strncasecmp(f[0], "HKLM32\\SYSTEM\\", 14))
		return bad(x, "registry", key, "HKLM\\SYSTEM is the same in both registry views: "
			   "write HKLM\\SYSTEM\\", val);
	if (!strncasecmp(f[0], "HKLM32\\SOFTWARE\\WOW6432Node\\", 26) ||
	    !kh_strcasecmp(f[0], "HKLM32\\SOFTWARE\\WOW6432Node"))
		return bad(x, "registry", key, "HKLM32\\ is already the 32-bit view (its "
			   "SOFTWARE\\WOW6432Node): write HKLM32\\SOFTWARE\\X", val);
	if (strncasecmp(f[0], "HKLM\\SOFTWARE\\", 14) &&
	    strncasecmp(f[0], "HKLM32\\SOFTWARE\\", 16) &&
	    strncasecmp(f[0], "HKLM\\SYSTEM\\", 12))
		return bad(x, "registry", key,
			   "key must start with HKLM\\SOFTWARE\\, HKLM32\\SOFTWARE\\ (the "
			   "32-bit view) or HKLM\\SYSTEM\\", val);
	if (!regkey_ok(x, key, val, f[0]))
		return 0;
	if (!name_ok("value name", f[1], VALUE_NAME_MAX, why, sizeof(why)))
		return bad(x, "registry", key, why, val);
	nv = realloc(x->c->reg, (x->c->n_reg + 1) * sizeof(*nv));
	if (!nv)
		return x->err = KH_ERR_NOMEM, 0;
	x->c->reg = nv;
	r = &nv[x->c->n_reg];
	memset(r, 0, sizeof(*r));
	if (!kh_strcasecmp(f[2], "REG_SZ"))
		r->type = KH_REG_SZ;
	else if (!kh_strcasecmp(f[2], "REG_EXPAND_SZ"))
		r->type = KH_REG_EXPAND_SZ;
	else if (!kh_strcasecmp(f[2], "REG_DWORD")) {
		if (!dword_ok(f[3]))
			return bad(x, "registry", key, "REG_DWORD data must be a 32-bit number: "
				   "decimal digits without sign or leading zero, or 0x and hex "
				   "digits", val);
		r->type = KH_REG_DWORD;
	} else
		return bad(x, "registry", key,
			   "type must be REG_SZ, REG_EXPAND_SZ or REG_DWORD", val);
	r->key = kh_strdup(f[0]);
	r->name = kh_strdup(f[1]);
	r->data = kh_strdup(f[3]);
	x->c->n_reg++;
	if (!r->key || !r->name || !r->data)
		return x->err = KH_ERR_NOMEM, 0;
	return regdup(x, key, val, r);
}

static int set_key(struct ctx *x, const char *sec, const char *key, const char *val)
{
	struct kh_config *c = x->c;
	long l;

#define IS(s, k) (!kh_strcasecmp(sec, s) && !kh_strcasecmp(key, k))
	if (IS("keyholder", "archive_dir") || IS("keyholder", "install_dir")) {
		if (!relpath_ok(val))
			return bad(x, sec, key, "expected a path relative to the Windows root", val);
		return setstr(key[0] == 'a' || key[0] == 'A' ? &c->archive_dir
							     : &c->install_dir, val) == KH_OK;
	}
	if (IS("keyholder", "max_file_size")) {
		if (!getlong(x, sec, key, val, 1024, 64L << 20, &l))
			return 0;
		c->max_file_size = (size_t)l;
	} else if (IS("bundle", "dir") || IS("bundle", "public_key")) {
		int dir = key[0] == 'd' || key[0] == 'D';

		if (dir && !*val)
			return bad(x, sec, key, "must not be empty", val);
		if (*val && x->root_dir && !relpath_ok(val))
			return bad(x, sec, key, "expected a path relative to this file's folder: "
				   "the volume's own khreset.ini cannot name a path outside the "
				   "volume (no drive, no leading '\\' or '/', no '..')", val);
		return setstr(dir ? &c->bundle_dir : &c->public_key, val) == KH_OK;
	} else if (IS("policy", "require_upgrade")) {
		return getbool(x, sec, key, val, &c->require_upgrade);
	} else if (IS("policy", "keep_backups")) {
		if (!getlong(x, sec, key, val, 1, 1000, &l))
			return 0;
		c->keep_backups = (int)l;
	} else if (IS("clipsvc", "service")) {
		if (!*val)
			return bad(x, sec, key, "must not be empty", val);
		return setstr(&c->clipsvc_service, val) == KH_OK;
	} else if (IS("clipsvc", "timeout")) {
		if (!getlong(x, sec, key, val, 1, 3600, &l))
			return 0;
		c->clipsvc_timeout = (int)l;
	} else if (IS("clipsvc", "root_keyholder")) {
		if (*val && !kh_is_uuid_xml(val))
			return bad(x, sec, key, "expected a keyholder file name <uuid>.xml of the "
				   "bundle (empty: the bundle's first [install] file)", val);
		return setstr(&c->root_keyholder, val) == KH_OK;
	} else if (IS("activation", "service")) {
		return setstr(&c->activation_service, val) == KH_OK;
	} else if (IS("activation", "command")) {
		if (*val && !(val[0] == '"' || (val[1] == ':' && (val[2] == '\\' || val[2] == '/')) ||
			      val[0] == '%'))
			return bad(x, sec, key, "must be an absolute path (C:\\...)", val);
		return setstr(&c->activation_command, val) == KH_OK;
	} else if (IS("activation", "timeout")) {
		if (!getlong(x, sec, key, val, 0, 86400, &l))
			return 0;
		c->activation_timeout = (int)l;
	} else if (IS("activation", "interval")) {
		if (!getlong(x, sec, key, val, 1, 3600, &l))
			return 0;
		c->activation_interval = (int)l;
	} else if (IS("task", "name")) {
		if (val[0] != '\\')
			return bad(x, sec, key, "must start with '\\'", val);
		return setstr(&c->task_name, val) == KH_OK;
	} else if (IS("task", "delay") || IS("task", "interval")) {
		int delay = key[0] == 'd' || key[0] == 'D';
		long long secs;

		/* the parser the task definition uses: P[nD][T[nH][nM][nS]] */
		if (taskxml_parse_duration(val, &secs) != KH_OK)
			return bad(x, sec, key, "expected an ISO 8601 duration "
				   "P[nD][T[nH][nM][nS]] such as PT2M", val);
		if (!delay && (secs < 60 || secs > 31 * 86400))
			return bad(x, sec, key, "the repetition interval must be from PT1M "
				   "to P31D (Task Scheduler's range)", val);
		return setstr(delay ? &c->task_delay : &c->task_interval, val) == KH_OK;
	} else if (IS("task", "jitter")) {
		if (!getlong(x, sec, key, val, 0, 86400, &l))
			return 0;
		c->task_jitter = (int)l;
	} else if (IS("task", "max_attempts")) {
		if (!getlong(x, sec, key, val, 1, 1000, &l))
			return 0;
		c->task_max_attempts = (int)l;
	} else if (IS("log", "level")) {
		static const char *const lv[] = { "error", "warn", "info", "debug" };
		for (int i = 0; i < 4; i++)
			if (!kh_strcasecmp(val, lv[i]))
				return c->log_level = i, 1;
		return bad(x, sec, key, "expected error, warn, info or debug", val);
	} else if (!kh_strcasecmp(sec, "registry")) {
		return parse_regval(x, key, val);
	}
#undef IS
	return 1;
}

/* A key set twice (sections and keys compare case-insensitively, also
 * across repeated [section] headers): the file says two things. */
static int once(struct ctx *x, const char *sec, const char *key, const char *val)
{
	char *name = kh_asprintf("%s.%s", sec, key);

	if (!name)
		return x->err = KH_ERR_NOMEM, 0;
	for (size_t i = 0; i < x->n_seen; i++) {
		char why[64];

		if (kh_strcasecmp(x->seen[i].name, name))
			continue;
		free(name);
		snprintf(why, sizeof(why), "given twice (first on line %d)", x->seen[i].line);
		return bad(x, sec, key, why, val);
	}
	if (x->n_seen == MAX_SEEN) {
		free(name);
		return bad(x, sec, key, "more keys than one khreset.ini may set", val);
	}
	x->seen[x->n_seen].name = name;
	x->seen[x->n_seen++].line = x->line;
	return 1;
}

static int browse(const char *sec, const char *key, const char *val, int line, void *ud)
{
	struct ctx *x = ud;

	x->line = line;
	if (!is_known(sec, key)) {
		kh_log(KH_LOG_WARN, "config", "%s line %d: unknown key [%s] %s (ignored)",
		       x->file, line, sec, key);
		return 1;
	}
	if (!kh_utf8_valid(val, strlen(val)))
		return bad(x, sec, key, "the value is not UTF-8 text", val);
	return once(x, sec, key, val) && set_key(x, sec, key, val);
}

static int defaults(struct kh_config *c)
{
	c->archive_dir = kh_strdup("ProgramData\\Microsoft\\Windows\\ClipSVC\\Archive\\KeyHolder");
	c->install_dir = kh_strdup("ProgramData\\Microsoft\\Windows\\ClipSVC\\Install\\KeyHolder");
	c->max_file_size = 1048576;
	c->bundle_dir = kh_strdup("bundle");
	c->require_upgrade = 1;
	c->keep_backups = 10;
	c->clipsvc_service = kh_strdup("ClipSVC");
	c->clipsvc_timeout = 60;
	c->activation_service = kh_strdup("CmitClientSVC");
	c->activation_timeout = 120;
	c->activation_interval = 5;
	c->task_name = kh_strdup("\\khreset\\Retry");
	c->task_delay = kh_strdup("PT2M");
	c->task_interval = kh_strdup("PT15M");
	c->task_jitter = 300;
	c->task_max_attempts = 12;
	c->log_level = KH_LOG_INFO;
	c->reg = calloc(1, sizeof(*c->reg));
	if (!c->reg)
		return KH_ERR_NOMEM;
	c->n_reg = 1;
	c->reg[0].key = kh_strdup("HKLM\\SOFTWARE\\CMIT\\Active");
	c->reg[0].name = kh_strdup("IntranetActivationServer");
	c->reg[0].type = KH_REG_SZ;
	c->reg[0].data = kh_strdup("http://vdi.example.local");
	if (!c->archive_dir || !c->install_dir || !c->bundle_dir ||
	    !c->clipsvc_service || !c->activation_service || !c->task_name ||
	    !c->task_delay || !c->task_interval || !c->reg[0].key || !c->reg[0].name || !c->reg[0].data)
		return KH_ERR_NOMEM;
	return KH_OK;
}

static void free_reg(struct kh_config *c)
{
	for (size_t i = 0; i < c->n_reg; i++) {
		free(c->reg[i].key);
		free(c->reg[i].name);
		free(c->reg[i].data);
	}
	free(c->reg);
	c->reg = NULL;
	c->n_reg = 0;
}

/* Host path p made absolute against base (unless already absolute). */
static int resolve_host(char **p, const char *base)
{
	char *s;

	if (!*p || (*p)[0] == '/' || !base)
		return KH_OK;
#ifdef _WIN32
	if ((*p)[0] == '\\' || ((*p)[0] && (*p)[1] == ':'))
		return KH_OK;          /* X:\..., \\server\..., \... */
#endif
	s = kh_asprintf("%s/%s", base, *p);
	if (!s)
		return KH_ERR_NOMEM;
	for (char *q = s; *q; q++)
		if (*q == '\\')
			*q = '/';
	free(*p);
	*p = s;
	return KH_OK;
}

static char *dirname_of(const char *path)
{
	const char *slash = strrchr(path, '/');
#ifdef _WIN32
	const char *bs = strrchr(path, '\\');

	if (bs && (!slash || bs > slash))
		slash = bs;
#endif

	if (!slash)
		return kh_strdup(".");
	if (slash == path)
		return kh_strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static void seen_free(struct ctx *x)
{
	for (size_t i = 0; i < x->n_seen; i++)
		free(x->seen[i].name);
}

/* root_dir: the file is the volume's own, in that folder below the root. */
static int parse(struct kh_config *c, const char *text, size_t len, const char *shown,
		 const char *root_dir)
{
	struct ctx x = { .c = c, .file = shown, .root_dir = root_dir };
	int rc;

	/* Notepad's UTF-8 signature is not part of the first line */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		text += 3;
		len -= 3;
	} else if (len >= 2 && (!memcmp(text, "\xff\xfe", 2) || !memcmp(text, "\xfe\xff", 2))) {
		kh_seterr("%s: saved as UTF-16; save it as UTF-8", shown);
		return KH_ERR_CONFIG;
	}
	if ((rc = syntax_pass(text, len, shown)) != KH_OK)
		return rc;
	/* A file with [registry] replaces the built-in values. */
	if (kh_ini_has_section(text, len, "registry"))
		free_reg(c);
	rc = kh_ini_browse(shown, text, len, browse, &x);
	seen_free(&x);
	if (rc != KH_OK)
		return rc == KH_ERR_DATA ? KH_ERR_CONFIG : rc;
	return x.err;
}

/* dir\rel, '\' separated (a path below the Windows root). */
static int join_root(char **p, const char *dir)
{
	char *s;

	if (!*p)
		return KH_OK;
	if (!(s = kh_asprintf("%s\\%s", dir, *p)))
		return KH_ERR_NOMEM;
	for (char *q = s; *q; q++)
		if (*q == '/')
			*q = '\\';
	free(*p);
	*p = s;
	return KH_OK;
}

static int load_text(const void *text, size_t len, const char *shown, const char *base,
		     const char *root_dir, struct kh_config **out)
{
	struct kh_config *c = calloc(1, sizeof(*c));
	char *dir = NULL;
	int rc;

	*out = NULL;
	if (!c)
		return KH_ERR_NOMEM;
	if ((rc = defaults(c)) != KH_OK)
		goto fail;
	if (text) {
		if ((rc = parse(c, text, len, shown, root_dir)) != KH_OK)
			goto fail;
		if (!(c->path = kh_strdup(shown)) ||
		    (!base && !root_dir && !(dir = dirname_of(shown)))) {
			rc = KH_ERR_NOMEM;
			goto fail;
		}
		base = base ? base : dir;
	}
	if (root_dir) {
		c->bundle_below_root = 1;
		rc = join_root(&c->bundle_dir, root_dir);
		if (rc == KH_OK)
			rc = join_root(&c->public_key, root_dir);
	} else if ((rc = resolve_host(&c->bundle_dir, base)) == KH_OK) {
		rc = resolve_host(&c->public_key, base);
	}
	if (rc != KH_OK)
		goto fail;
	free(dir);
	*out = c;
	return KH_OK;
fail:
	free(dir);
	config_free(c);
	return rc;
}

int config_parse(const void *text, size_t len, const char *shown, const char *base,
		 struct kh_config **out)
{
	return load_text(text, len, shown, base, NULL, out);
}

int config_parse_root(const void *text, size_t len, const char *shown, const char *dir,
		      struct kh_config **out)
{
	return load_text(text, len, shown, NULL, dir, out);
}

int config_load(const char *path, const char *default_base, struct kh_config **out)
{
	unsigned char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!path)
		return config_parse(NULL, 0, NULL, default_base, out);
	if ((rc = kh_read_host(path, FILE_MAX, &text, &len)) != KH_OK)
		return rc;
	rc = config_parse(text, len, path, NULL, out);
	free(text);
	return rc;
}

void config_free(struct kh_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->archive_dir);
	free(c->install_dir);
	free(c->bundle_dir);
	free(c->public_key);
	free(c->clipsvc_service);
	free(c->root_keyholder);
	free(c->activation_service);
	free(c->activation_command);
	free_reg(c);
	free(c->task_name);
	free(c->task_delay);
	free(c->task_interval);
	free(c);
}

int config_budget_s(const struct kh_config *c, int wait_s)
{
	return wait_s >= 0 ? wait_s : 2 * c->clipsvc_timeout + c->activation_timeout;
}
