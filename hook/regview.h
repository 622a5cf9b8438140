/* regview.h - what `check` shows of the [registry] values: each one in
 * both registry views (issue 10 item 7: the activation client, a 32-bit
 * program, reads HKLM\SOFTWARE\WOW6432Node). */
#ifndef KH_REGVIEW_H
#define KH_REGVIEW_H

#include <stdio.h>
#include <jansson.h>

#include "config.h"
#include "platform.h"

struct kh_regseen {
	char *key;              /* as configured: "HKLM32\SOFTWARE\X" names view 32 */
	char *name;
	enum kh_regview view;   /* the view khreset writes it in */
	char *want;             /* the configured data */
	enum kh_regtype type;
	int rc[2];              /* per view (KH_VIEW_64, KH_VIEW_32): KH_OK,
				 * KH_ERR_NOENT (no such value), another error */
	char *data[2];          /* KH_OK: the value as text */
	char *why[2];           /* another error: what the read said */
};

/* Reads every configured value in both views; a value that cannot be read
 * is recorded, never fatal (only KH_ERR_NOMEM is returned). */
int regseen_read(kh_plat *p, const struct kh_config *c, struct kh_regseen **out, size_t *n);
void regseen_free(struct kh_regseen *v, size_t n);
/* 1 when the view it is written in holds the configured data. */
int regseen_set(const struct kh_regseen *v);
/* The status document's "registry" array (SPEC section 4). */
json_t *regseen_json(const struct kh_regseen *v, size_t n);
/* For people: two lines a value, its name, then both views. */
void regseen_human(FILE *out, const struct kh_regseen *v, size_t n);

#endif
