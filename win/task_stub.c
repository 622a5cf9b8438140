/* task_stub.c - cmd_task for the Windows build until the real one exists.
 * task install|remove|status through the Task Scheduler 2.0 COM API is not
 * written yet (issue 3).  win/win.mk links this file only when no hook/
 * source other than main.c (whose cmd_task is Linux-only) defines cmd_task.
 */
#include <stdio.h>

#include "khreset.h"
#include "cli.h"

int cmd_task(int argc, char **argv, const struct kh_globals *g)
{
	(void)argc; (void)argv; (void)g;
	fprintf(stderr, "khreset: task: not implemented in this build yet\n");
	return KH_EXIT_FAILED;
}
