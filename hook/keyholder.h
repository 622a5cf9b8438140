/* keyholder.h - well-formedness check of keyholder XML with libxml2. */
#ifndef KH_KEYHOLDER_H
#define KH_KEYHOLDER_H

#include <stddef.h>

/* The work one document may cost: a keyholder is a small license file. */
#define KH_XML_MAX_DEPTH 64       /* nested elements */
#define KH_XML_MAX_ATTRS 64       /* attributes and xmlns declarations of one element */
#define KH_XML_MAX_NODES 20000    /* elements, text runs, comments, PIs */

/*
 * KH_OK if buf is a well-formed XML document with no DOCTYPE, within the
 * bounds above.  Parsed by a SAX pass (no tree) with XML_PARSE_NONET, no
 * DTD loading, no entity substitution, no huge-input relaxation; a
 * document over a bound is refused as soon as the parser gets there, so
 * the time taken grows with the size of the file, not faster.  Otherwise
 * KH_ERR_DATA and *reason (malloc'd) says why, with the line number when
 * libxml2 gives one, e.g. "not well-formed XML (line 3: Opening and ending
 * tag mismatch)", "DOCTYPE not allowed" or "too complex for a keyholder:
 * more than 64 attributes on one element".
 * Safe to call many times; no global state left changed.
 */
int keyholder_check(const unsigned char *buf, size_t len, char **reason);

#endif
