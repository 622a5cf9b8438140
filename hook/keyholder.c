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
 * Design note.  Hostile input: no network, no DTD loading, no entity
 * substitution, no huge-input relaxation (XML_PARSE_HUGE stays off, so
 * libxml2's own limits on names, text and nesting hold).  A DOCTYPE stops
 * the parser the moment its name is read, before any entity declaration of
 * the internal subset is seen, so entity bombs and external entities never
 * get a chance.
 *
 * The document is checked by a SAX pass that builds no tree and bounds the
 * work: at most KH_XML_MAX_DEPTH nested elements, KH_XML_MAX_ATTRS
 * attributes (namespace declarations included) on one element and
 * KH_XML_MAX_NODES nodes.  libxml2 checks an element's attributes against
 * each other once the whole start tag is read, in time that grows with the
 * square of their number; so the input is handed to the parser in chunks,
 * and before each chunk the parser's own attribute table (ctxt->maxatts,
 * its capacity) and namespace stack (nsNr) are looked at: a start tag that
 * has already outgrown the bound stops the parser there.
 */
#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOWARNING)
#define CHUNK    4096
#define KH_STR_(x) #x
#define KH_STR(x)  KH_STR_(x)
#define ATTRS_WHY  "more than " KH_STR(KH_XML_MAX_ATTRS) " attributes on one element"

struct capture {
	xmlParserCtxtPtr ctxt;
	const unsigned char *buf;   /* the document, fed in CHUNKs */
	size_t len, pos;
	int doctype;          /* a DOCTYPE was seen */
	int root;             /* a root element was seen */
	int depth;
	long nodes;
	int in_text;          /* the last event was text: one node, many calls */
	char limit[128];      /* the bound that stopped the parser, "" none */
	int have;             /* first error captured */
	int line;
	char msg[256];
};

/* A bound was reached: why, for the reason; the parser stops (a SAX
 * callback may stop it, the input callback only ends the input). */
static void over(struct capture *c, const char *what, int stop)
{
	if (!c->limit[0])
		snprintf(c->limit, sizeof(c->limit), "%s", what);
	if (stop)
		xmlStopParser(c->ctxt);
}

static void on_error(void *data, xmlErrorPtr e)
{
	struct capture *c = data;
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
	struct capture *c = data;

	c->doctype = 1;
	xmlStopParser(c->ctxt);
}

static void count(struct capture *c)
{
	c->in_text = 0;
	if (++c->nodes > KH_XML_MAX_NODES)
		over(c, "more than " KH_STR(KH_XML_MAX_NODES) " nodes", 1);
}

static void on_start(void *data, const xmlChar *local, const xmlChar *prefix,
		     const xmlChar *uri, int nb_ns, const xmlChar **ns, int nb_attrs,
		     int nb_defaulted, const xmlChar **attrs)
{
	struct capture *c = data;

	c->root = 1;
	count(c);
	if (++c->depth > KH_XML_MAX_DEPTH)
		over(c, "elements nested more than " KH_STR(KH_XML_MAX_DEPTH) " deep", 1);
	if (nb_attrs + nb_ns > KH_XML_MAX_ATTRS)
		over(c, ATTRS_WHY, 1);
}

static void on_end(void *data, const xmlChar *local, const xmlChar *prefix,
		   const xmlChar *uri)
{
	struct capture *c = data;

	c->depth--;
	c->in_text = 0;
}

static void on_text(void *data, const xmlChar *s, int len)
{
	struct capture *c = data;

	if (!c->in_text)
		count(c);
	c->in_text = 1;
}

static void on_comment(void *data, const xmlChar *s)
{
	count(data);
}

static void on_pi(void *data, const xmlChar *target, const xmlChar *s)
{
	count(data);
}

/* The parser's input, a chunk at a time.  The attribute table grows to
 * at most twice what one start tag holds (plus 5 slots per attribute):
 * above 10 * (KH_XML_MAX_ATTRS + 1) slots the tag being read has more
 * attributes than allowed. */
static int feed(void *ctx, char *out, int size)
{
	struct capture *c = ctx;
	size_t n = c->len - c->pos;
	xmlParserCtxtPtr p = c->ctxt;

	if (p && (p->maxatts > 10 * (KH_XML_MAX_ATTRS + 1) ||
		  p->nsNr > 2 * KH_XML_MAX_ATTRS)) {
		over(c, ATTRS_WHY, 0);
		return -1;
	}
	if (n > CHUNK)
		n = CHUNK;
	if (n > (size_t)size)
		n = (size_t)size;
	memcpy(out, c->buf + c->pos, n);
	c->pos += n;
	return (int)n;
}

static int feed_close(void *ctx)
{
	return 0;
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
	struct capture c = { .buf = buf, .len = len };
	xmlSAXHandler sax;
	xmlParserCtxtPtr ctxt;
	int err;

	if (reason)
		*reason = NULL;
	if (!buf || len == 0)
		return fail(reason, kh_strdup("empty document"));
	if (len > INT_MAX)
		return fail(reason, kh_strdup("document too large"));
	init_once();
	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_text;
	sax.cdataBlock = on_text;
	sax.comment = on_comment;
	sax.processingInstruction = on_pi;
	sax.internalSubset = on_doctype;
	sax.serror = on_error;
	ctxt = xmlCreateIOParserCtxt(&sax, &c, feed, feed_close, &c, XML_CHAR_ENCODING_NONE);
	if (!ctxt)
		return fail(reason, kh_strdup("out of memory"));
	c.ctxt = ctxt;
	xmlCtxtUseOptions(ctxt, XML_OPTS);
	xmlParseDocument(ctxt);
	if (c.limit[0])
		err = fail(reason, kh_asprintf("too complex for a keyholder: %s", c.limit));
	else if (c.doctype)
		err = fail(reason, kh_strdup("DOCTYPE not allowed"));
	else if (!ctxt->wellFormed || ctxt->errNo != XML_ERR_OK)
		err = fail(reason, parse_reason(ctxt, &c));
	else if (!c.root)
		err = fail(reason, kh_strdup("no root element"));
	else
		err = KH_OK;
	if (err != KH_OK && reason && !*reason)
		err = KH_ERR_NOMEM;
	/* libxml2 keeps a DOCTYPE's entities, even in SAX mode, in a document
	 * of its own ("SAX compatibility mode"): ours to free */
	xmlFreeDoc(ctxt->myDoc);
	ctxt->myDoc = NULL;
	xmlFreeParserCtxt(ctxt);
	return err;
}
