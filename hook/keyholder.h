/* keyholder.h - well-formedness check of keyholder XML with libxml2. */
#ifndef KH_KEYHOLDER_H
#define KH_KEYHOLDER_H

#include <stddef.h>

/*
 * KH_OK if buf is a well-formed XML document with no DOCTYPE.  Parsed with
 * XML_PARSE_NONET, no DTD loading, no entity substitution, no huge-input
 * relaxation.  Otherwise KH_ERR_DATA and *reason (malloc'd) says why, with
 * the line number when libxml2 gives one, e.g. "not well-formed XML (line 3:
 * Opening and ending tag mismatch)" or "DOCTYPE not allowed".
 * Safe to call many times; no global state left changed.
 */
int keyholder_check(const unsigned char *buf, size_t len, char **reason);

#endif
