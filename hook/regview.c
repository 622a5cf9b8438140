/* regview.c - the [registry] values in both views, as `check` shows them:
 * the configured key's 64-bit view (HKLM\SOFTWARE\X) and its 32-bit view
 * (HKLM\SOFTWARE\WOW6432Node\X), whichever of them khreset writes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "khreset.h"
#include "regview.h"

static const char *const view_name[2] = { "64", "32" };

int regseen_read(kh_plat *p, const struct kh_config *c, struct kh_regseen **out, size_t *n)
{
	struct kh_regseen *v;
	char plain[1100];

	*out = NULL;
	*n = 0;
	if (!c->n_reg)
		return KH_OK;
	if (!(v = calloc(c->n_reg, sizeof(*v))))
		return KH_ERR_NOMEM;
	for (size_t i = 0; i < c->n_reg; i++) {
		const struct kh_regval *r = &c->reg[i];

		v[i].view = plat_reg_view_of(r->key, plain, sizeof(plain));
		v[i].type = r->type;
		v[i].key = kh_strdup(r->key);
		v[i].name = kh_strdup(r->name);
		v[i].want = kh_strdup(r->data);
		if (!v[i].key || !v[i].name || !v[i].want) {
			regseen_free(v, c->n_reg);
			return KH_ERR_NOMEM;
		}
		for (int w = KH_VIEW_64; w <= KH_VIEW_32; w++) {
			kh_clearerr();
			v[i].rc[w] = plain[0] ? plat_reg_get_view(p, plain, r->name, w, &v[i].data[w])
					      : KH_ERR_CONFIG;
			if (v[i].rc[w] != KH_OK && v[i].rc[w] != KH_ERR_NOENT)
				v[i].why[w] = kh_strdup(kh_lasterr()[0] ? kh_lasterr()
									 : kh_errstr(v[i].rc[w]));
		}
	}
	kh_clearerr();
	*out = v;
	*n = c->n_reg;
	return KH_OK;
}

void regseen_free(struct kh_regseen *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].key);
		free(v[i].name);
		free(v[i].want);
		for (int w = 0; w < 2; w++) {
			free(v[i].data[w]);
			free(v[i].why[w]);
		}
	}
	free(v);
}

/* A DWORD as config writes it (decimal or 0x-hex) and as the bodies read
 * it back (decimal). */
static int dword(const char *s, unsigned long long *x)
{
	int hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	char *end;

	errno = 0;
	*x = strtoull(hex ? s + 2 : s, &end, hex ? 16 : 10);
	return *s && !errno && !*end;
}

int regseen_set(const struct kh_regseen *v)
{
	const char *got = v->data[v->view];
	unsigned long long a, b;

	if (v->rc[v->view] != KH_OK || !got)
		return 0;
	if (v->type == KH_REG_DWORD)
		return dword(got, &a) && dword(v->want, &b) && a == b;
	return !strcmp(got, v->want);
}

json_t *regseen_json(const struct kh_regseen *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *vals = json_object(), *errs = json_object();

		for (int w = 0; w < 2; w++) {
			json_object_set_new(vals, view_name[w], v[i].rc[w] == KH_OK && v[i].data[w]
						  ? json_string(v[i].data[w]) : json_null());
			if (v[i].why[w])
				json_object_set_new(errs, view_name[w], json_string(v[i].why[w]));
		}
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:o}",
			"key", v[i].key, "name", v[i].name, "view", view_name[v[i].view],
			"data", v[i].want, "values", vals, "set", regseen_set(&v[i]),
			"errors", errs));
	}
	return a;
}

#define ESC(s) kh_escape((s), (char[1024]){ 0 }, 1024)

void regseen_human(FILE *out, const struct kh_regseen *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "registry:  %s | %s: %s\n          ", ESC(v[i].key), ESC(v[i].name),
			regseen_set(&v[i]) ? "set" : "NOT set");
		for (int w = 0; w < 2; w++) {
			fprintf(out, "%s %s-bit view%s: ", w ? ";" : "", view_name[w],
				w == (int)v[i].view ? " (written)" : "");
			if (v[i].rc[w] == KH_OK)
				fprintf(out, "%s", ESC(v[i].data[w] ? v[i].data[w] : ""));
			else if (v[i].rc[w] == KH_ERR_NOENT)
				fprintf(out, "(none)");
			else
				fprintf(out, "(unreadable: %s)", ESC(v[i].why[w] ? v[i].why[w] : "?"));
		}
		fputc('\n', out);
	}
}
