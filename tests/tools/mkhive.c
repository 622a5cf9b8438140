/* mkhive.c - write a minimal, valid, empty Windows registry hive (test tool).
 *
 * hivex cannot create a hive from nothing, so fixtures start from this one:
 *
 *   build/tools/mkhive FILE [ROOTNAME]
 *   hivexregedit --merge --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' FILE file.reg
 *
 * file.reg is an ordinary "Windows Registry Editor Version 5.00" text whose
 * keys start with the same prefix, e.g. [HKEY_LOCAL_MACHINE\SYSTEM\Setup].
 * hivexregedit creates a key only when its parent exists: list every parent
 * key before its children ([...\ControlSet001] before
 * [...\ControlSet001\Services]), and write DWORDs as dword:0000000a
 * (8 hex digits).
 * The result opens with hivex_open (read or HIVEX_OPEN_WRITE), hivexsh and
 * hivexregedit --export.  ROOTNAME defaults to "ROOT".
 *
 * Layout: a 4 KiB regf base block (checksum = XOR of its first 127 dwords),
 * then one 4 KiB hbin holding the root nk cell, one sk cell (security
 * descriptor every new key inherits: hivex_node_add_child needs it) and one
 * free cell covering the rest of the bin.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK    0x1000
#define NK_OFF   0x20          /* cell offsets are relative to the first hbin */

static unsigned char img[2 * BLOCK];

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static uint64_t filetime_now(void)
{
	return ((uint64_t)time(NULL) + 11644473600ULL) * 10000000ULL;
}

static void base_block(unsigned char *b, const char *rootname)
{
	uint32_t sum = 0;

	memcpy(b, "regf", 4);
	put32(b + 0x04, 1);               /* sequence 1 */
	put32(b + 0x08, 1);               /* sequence 2 (equal: clean) */
	put64(b + 0x0c, filetime_now());
	put32(b + 0x14, 1);               /* major version */
	put32(b + 0x18, 3);               /* minor version */
	put32(b + 0x1c, 0);               /* primary file */
	put32(b + 0x20, 1);               /* format: direct memory load */
	put32(b + 0x24, NK_OFF);          /* root cell */
	put32(b + 0x28, BLOCK);           /* size of the hbins */
	put32(b + 0x2c, 1);               /* clustering factor */
	for (size_t i = 0; rootname[i] && i < 31; i++)
		put16(b + 0x30 + 2 * i, (unsigned char)rootname[i]);
	for (int i = 0; i < 127; i++)
		sum ^= (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
		       (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
	if (sum == 0xffffffffu)
		sum = 0xfffffffeu;
	if (sum == 0)
		sum = 1;
	put32(b + 0x1fc, sum);
}

static size_t nk_len(const char *rootname)
{
	return (4 + 0x4c + strlen(rootname) + 7) & ~(size_t)7;
}

/* Root key: no subkeys, no values, no class; its sk cell follows it. */
static size_t nk_cell(unsigned char *c, const char *rootname, uint32_t sk_off)
{
	size_t namelen = strlen(rootname);
	size_t len = nk_len(rootname);

	put32(c, (uint32_t)-(int32_t)len);  /* negative size: cell in use */
	c += 4;
	memcpy(c, "nk", 2);
	put16(c + 0x02, 0x2c);            /* HIVE_ENTRY|NO_DELETE|COMP_NAME */
	put64(c + 0x04, filetime_now());
	put32(c + 0x10, 0xffffffffu);     /* parent: none */
	put32(c + 0x1c, 0xffffffffu);     /* subkey list */
	put32(c + 0x20, 0xffffffffu);     /* volatile subkey list */
	put32(c + 0x28, 0xffffffffu);     /* value list */
	put32(c + 0x2c, sk_off);          /* security */
	put32(c + 0x30, 0xffffffffu);     /* class name */
	put16(c + 0x48, (uint16_t)namelen);
	memcpy(c + 0x4c, rootname, namelen);
	return len;
}

/* Self-relative security descriptor: owner Administrators, group SYSTEM,
 * DACL Everyone full control, inherited by subkeys. */
static const unsigned char sd[] = {
	1, 0, 0x04, 0x80,                 /* rev, sbz, SE_DACL_PRESENT|SELF_REL */
	48, 0, 0, 0,                      /* owner offset */
	64, 0, 0, 0,                      /* group offset */
	0, 0, 0, 0,                       /* sacl: none */
	20, 0, 0, 0,                      /* dacl offset */
	/* ACL: rev 2, size 28, 1 ACE */
	2, 0, 28, 0, 1, 0, 0, 0,
	/* ACCESS_ALLOWED, CONTAINER_INHERIT, size 20, KEY_ALL_ACCESS, S-1-1-0 */
	0, 0x02, 20, 0, 0x3f, 0x00, 0x0f, 0x00,
	1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
	/* owner S-1-5-32-544 */
	1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0,
	/* group S-1-5-18 */
	1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0,
};

static size_t sk_cell(unsigned char *c, uint32_t sk_off)
{
	size_t len = (4 + 0x14 + sizeof(sd) + 7) & ~(size_t)7;

	put32(c, (uint32_t)-(int32_t)len);
	c += 4;
	memcpy(c, "sk", 2);
	put32(c + 0x04, sk_off);          /* previous sk: itself (only one) */
	put32(c + 0x08, sk_off);          /* next sk: itself */
	put32(c + 0x0c, 1);               /* reference count: the root */
	put32(c + 0x10, sizeof(sd));
	memcpy(c + 0x14, sd, sizeof(sd));
	return len;
}

static void hbin(unsigned char *h, const char *rootname)
{
	uint32_t sk_off = NK_OFF + (uint32_t)nk_len(rootname);
	size_t end;

	memcpy(h, "hbin", 4);
	put32(h + 0x04, 0);               /* offset of this bin */
	put32(h + 0x08, BLOCK);           /* size of this bin */
	put64(h + 0x14, filetime_now());
	nk_cell(h + NK_OFF, rootname, sk_off);
	end = sk_off + sk_cell(h + sk_off, sk_off);
	put32(h + end, BLOCK - end);      /* positive size: free cell */
}

static int write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *rootname = argc > 2 ? argv[2] : "ROOT";
	int fd;

	if (argc < 2 || argc > 3 || !*rootname || strlen(rootname) > 255) {
		fprintf(stderr, "usage: mkhive FILE [ROOTNAME]  (name 1-255 chars)\n");
		return 64;
	}
	base_block(img, rootname);
	hbin(img + BLOCK, rootname);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, img, sizeof(img)) < 0 || fsync(fd) < 0) {
		fprintf(stderr, "mkhive: %s: %s\n", argv[1], strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (close(fd) < 0) {
		fprintf(stderr, "mkhive: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
