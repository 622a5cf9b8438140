/* keyholder.c - well-formedness check of keyholder XML with libxml2. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "khreset.h"
#include "keyholder.h"

/*
 * Hostile input: no network, no DTD loading, no entity substitution, no
 * huge-input relaxation.  A DOCTYPE stops the parser the moment its name is
 * read, before any entity declaration of the internal subset is seen, so
 * entity bombs and external entities never get a chance.
 */
#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOWARNING)

struct capture {
	int doctype;          /* a DOCTYPE was seen */
	int have;             /* first error captured */
	int line;
	char msg[256];
};

static void on_error(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = data;
	struct capture *c = ctxt ? ctxt->_private : NULL;
	size_t n;

	if (!c || c->have || !e || e->level < XML_ERR_ERROR)
		return;
	c->have = 1;
	c->line = e->line;
	snprintf(c->msg, sizeof(c->msg), "%s", e->message ? e->message : "error");
	n = strlen(c->msg);
	while (n > 0 && (c->msg[n - 1] == '\n' || c->msg[n - 1] == ' ' ||
			 c->msg[n - 1] == '\r'))
		c->msg[--n] = '\0';
}

static void on_doctype(void *data, const xmlChar *name, const xmlChar *eid,
		       const xmlChar *sid)
{
	xmlParserCtxtPtr ctxt = data;
	struct capture *c = ctxt->_private;

	c->doctype = 1;
	xmlStopParser(ctxt);
}

static void init_once(void)
{
	static int done;

	if (!done) {
		xmlInitParser();
		done = 1;
	}
}

/* The reason for a parse failure: first error seen, else the last one. */
static char *parse_reason(xmlParserCtxtPtr ctxt, const struct capture *c)
{
	const xmlError *e;
	char msg[256];
	int line = c->line;

	if (c->have) {
		snprintf(msg, sizeof(msg), "%s", c->msg);
	} else if ((e = xmlCtxtGetLastError(ctxt)) && e->message) {
		size_t n;

		snprintf(msg, sizeof(msg), "%s", e->message);
		n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		line = e->line;
	} else {
		return kh_strdup("not well-formed XML");
	}
	if (line > 0)
		return kh_asprintf("not well-formed XML (line %d: %s)", line, msg);
	return kh_asprintf("not well-formed XML (%s)", msg);
}

static int fail(char **reason, char *why)
{
	if (reason)
		*reason = why;
	else
		free(why);
	return KH_ERR_DATA;
}

int keyholder_check(const unsigned char *buf, size_t len, char **reason)
{
	struct capture c = { 0 };
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	int err;

	if (reason)
		*reason = NULL;
	if (!buf || len == 0)
		return fail(reason, kh_strdup("empty document"));
	if (len > INT_MAX)
		return fail(reason, kh_strdup("document too large"));
	init_once();
	if (!(ctxt = xmlNewParserCtxt()))
		return fail(reason, kh_strdup("out of memory"));
	ctxt->_private = &c;
	ctxt->sax->serror = on_error;
	ctxt->sax->internalSubset = on_doctype;
	doc = xmlCtxtReadMemory(ctxt, (const char *)buf, (int)len, NULL, NULL,
				XML_OPTS);
	if (c.doctype || (doc && (doc->intSubset || doc->extSubset)))
		err = fail(reason, kh_strdup("DOCTYPE not allowed"));
	else if (!doc || !ctxt->wellFormed || ctxt->errNo != XML_ERR_OK)
		err = fail(reason, parse_reason(ctxt, &c));
	else if (!xmlDocGetRootElement(doc))
		err = fail(reason, kh_strdup("no root element"));
	else
		err = KH_OK;
	if (err != KH_OK && reason && !*reason)
		err = KH_ERR_NOMEM;
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return err;
}
