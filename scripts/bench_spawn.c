/* bench_spawn: runs one command with stdin from a file and prints its
 * user and system CPU time (microseconds) and peak RSS (KiB) from wait4(2),
 * then its exit status.
 *
 *   bench_spawn INPUT CMD [ARGS...]   ->   "utime_us stime_us maxrss_kib status"
 *
 * Why not from Python directly: Linux carries the peak RSS of the memory a
 * process had before exec(2) into its ru_maxrss, and a child forked (or
 * vforked) by a 10 MB Python reads at least 10 MB whatever it uses. This
 * launcher is small, so what it reports is the command's own peak. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_spawn INPUT CMD [ARGS...]\n");
    return 2;
  }
  pid_t pid = fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    int in = open(argv[1], O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(1, 2) < 0) _exit(127);
    close(in);
    execvp(argv[2], argv + 2);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) return 2;
  fprintf(stderr, "%ld %ld %ld %d\n", ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec,
         ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec, ru.ru_maxrss, status);
  return 0;
}
