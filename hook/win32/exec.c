/* exec.c - activation.command (SPEC section 3, step 8): one program, by
 * absolute path, no shell, no window, in a job object so that a timeout
 * ends it and whatever it started. */
#include <stdlib.h>
#include <string.h>

#include "win32.h"

/* One argument quoted as CommandLineToArgvW reads it back. */
static size_t quote(wchar_t *out, const wchar_t *a)
{
	size_t n = 0, bs = 0;
	int q = !*a || wcspbrk(a, L" \t\"") != NULL;

	if (q && out)
		out[n] = L'"';
	n += q;
	for (; *a; a++) {
		if (*a == L'\\') {
			bs++;
		} else {
			size_t k = *a == L'"' ? 2 * bs + 1 : bs;

			for (size_t i = 0; out && i < k; i++)
				out[n + i] = L'\\';
			n += k;
			bs = 0;
		}
		if (*a != L'\\') {
			if (out)
				out[n] = *a;
			n++;
		}
	}
	for (size_t i = 0; out && i < (q ? 2 * bs : bs); i++)
		out[n + i] = L'\\';
	n += q ? 2 * bs : bs;
	if (q && out)
		out[n] = L'"';
	return n + q;
}

static wchar_t *expand(const char *s)
{
	wchar_t *w = to_w(s), *x;
	DWORD n;

	if (!w)
		return NULL;
	n = ExpandEnvironmentStringsW(w, NULL, 0);
	x = n ? malloc(n * sizeof(*x)) : NULL;
	if (x && ExpandEnvironmentStringsW(w, x, n) != n) {
		free(x);
		x = NULL;
	}
	free(w);
	return x;
}

static void free_args(wchar_t **w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

int plat_exec(kh_plat *p, char *const argv[], int timeout_s, int *exit_code)
{
	STARTUPINFOW si = { .cb = sizeof(si) };
	PROCESS_INFORMATION pi = { 0 };
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim = { 0 };
	size_t n = 0, len = 1;
	wchar_t **w, *line = NULL, *o;
	HANDLE job = NULL;
	DWORD code = 0, e;
	int rc = KH_OK;

	(void)p;
	*exit_code = -1;
	while (argv[n])
		n++;
	if (!n || !(w = calloc(n, sizeof(*w))))
		return n ? KH_ERR_NOMEM : KH_ERR_USAGE;
	for (size_t i = 0; i < n; i++) {
		if (!(w[i] = expand(argv[i]))) {
			free_args(w, i);
			kh_seterr("%s: not UTF-8 text, or cannot be expanded", argv[i]);
			return KH_ERR_DATA;
		}
		len += quote(NULL, w[i]) + 1;
	}
	if (!((w[0][0] && w[0][1] == L':' && (w[0][2] == L'\\' || w[0][2] == L'/')) ||
	      (w[0][0] == L'\\' && w[0][1] == L'\\'))) {
		kh_seterr("activation command %s: not an absolute path", argv[0]);
		free_args(w, n);
		return KH_ERR_CONFIG;
	}
	if (!(line = o = calloc(len, sizeof(*line)))) {
		free_args(w, n);
		return KH_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		o += quote(o, w[i]);
		*o++ = i + 1 < n ? L' ' : L'\0';
	}
	lim.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
	if ((job = CreateJobObjectW(NULL, NULL)))
		SetInformationJobObject(job, JobObjectExtendedLimitInformation, &lim, sizeof(lim));
	if (!CreateProcessW(w[0], line, NULL, NULL, FALSE, CREATE_NO_WINDOW | CREATE_SUSPENDED,
			    NULL, NULL, &si, &pi)) {
		e = GetLastError();
		kh_seterr("activation command %s cannot be started: %s", argv[0], werr(e));
		rc = e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND ? KH_ERR_NOENT
									  : KH_ERR_IO;
		goto out;
	}
	if (job)
		AssignProcessToJobObject(job, pi.hProcess);
	ResumeThread(pi.hThread);
	if (WaitForSingleObject(pi.hProcess, timeout_s < 0 ? 0 : (DWORD)timeout_s * 1000u) !=
	    WAIT_OBJECT_0) {
		if (!job || !TerminateJobObject(job, 1))
			TerminateProcess(pi.hProcess, 1);
		WaitForSingleObject(pi.hProcess, 5000);
		kh_seterr("activation command %s still ran after %d s: ended", argv[0], timeout_s);
		rc = KH_ERR_TIMEOUT;
	} else if (GetExitCodeProcess(pi.hProcess, &code)) {
		*exit_code = (int)code;
	}
out:
	if (pi.hThread)
		CloseHandle(pi.hThread);
	if (pi.hProcess)
		CloseHandle(pi.hProcess);
	if (job)
		CloseHandle(job);
	free(line);
	free_args(w, n);
	return rc;
}
