/* fuzz_config.c - libFuzzer target: khreset.ini bytes through config_parse
 * (a host file) and config_parse_root (the volume's own file).  What is
 * accepted must hold what the writers rely on; nothing may leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "khreset.h"

#define need(cond) do { if (!(cond)) abort(); } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	kh_log_setlevel(-1);        /* unknown keys warn: not on stderr here */
	return 0;
}

/* REG_DWORD data as the writers read it: 0x-hex or plain decimal. */
static void dword_holds(const char *s)
{
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	char *end;
	unsigned long long v = strtoull(hex ? s + 2 : s, &end, hex ? 16 : 10);

	need(*s && *end == '\0' && v <= 0xffffffffULL);
	need(hex || s[0] != '0' || s[1] == '\0');
	need(s[hex ? 2 : 0] != '+' && s[hex ? 2 : 0] != '-' && s[hex ? 2 : 0] != ' ');
}

/* A path below the root: not absolute, no ".." component. */
static void below(const char *p)
{
	need(p[0] != '/' && p[0] != '\\' && !strchr(p, ':'));
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "\\/");

		need(n && !(n == 2 && s[0] == '.' && s[1] == '.'));
		s += n + (s[n] != '\0');
	}
}

static void holds(const struct kh_config *c)
{
	need(c->archive_dir && c->install_dir && c->bundle_dir && c->clipsvc_service);
	need(c->task_name && c->task_name[0] == '\\' && c->task_delay && c->task_interval);
	need(c->max_file_size >= 1024 && c->keep_backups >= 1);
	for (size_t i = 0; i < c->n_reg; i++) {
		const struct kh_regval *r = &c->reg[i];

		need(r->key && r->name && r->data);
		need(kh_utf8_valid(r->key, strlen(r->key)) && kh_utf8_valid(r->name, strlen(r->name)));
		need(kh_utf8_valid(r->data, strlen(r->data)));
		need(kh_u16len(r->name) <= 16383 && !strstr(r->key, "\\\\"));
		if (r->type == KH_REG_DWORD)
			dword_holds(r->data);
		for (size_t j = 0; j < i; j++)
			need(kh_strcasecmp(c->reg[j].key, r->key) || kh_strcasecmp(c->reg[j].name, r->name));
	}
	if (c->bundle_below_root) {
		below(c->bundle_dir);
		if (c->public_key)
			below(c->public_key);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_config *c = NULL;

	if (config_parse(data, size, "fuzz.ini", "/base", &c) == KH_OK) {
		holds(c);
		config_free(c);
	} else {
		need(!c && kh_lasterr()[0]);
	}
	if (config_parse_root(data, size, "fuzz.ini", "Windows/Setup/Scripts/khreset", &c) == KH_OK) {
		need(c->bundle_below_root);
		holds(c);
		config_free(c);
	}
	return 0;
}
