/*
 * runstat: run a command and print what the kernel accounted for it (and
 * its threads): CPU time, page faults, context switches, wall time.
 *   runstat COMMAND [ARG...]
 * prints on stderr, after the command's own output:
 *   runstat wall=S user=S sys=S majflt=N minflt=N vcsw=N ivcsw=N status=N
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double secs(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec * 1e-6;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s COMMAND [ARG...]\n", argv[0]);
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror(argv[1]);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("wait4");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	fprintf(stderr, "runstat wall=%.3f user=%.3f sys=%.3f majflt=%ld minflt=%ld "
		"vcsw=%ld ivcsw=%ld status=%d\n",
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9,
		secs(ru.ru_utime), secs(ru.ru_stime), ru.ru_majflt, ru.ru_minflt,
		ru.ru_nvcsw, ru.ru_nivcsw, code);
	return code;
}
