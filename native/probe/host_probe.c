/*
 * host-probe: asks the kernel what it can enforce, for `stockade doctor` and the launcher's
 * preflight. Prints one JSON object on stdout. Each answer comes from making the call, not from
 * version numbers: a kernel may have the code but have it disabled.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)

/* The Landlock ABI version, or -errno when Landlock is unavailable (EOPNOTSUPP: built in but
 * disabled at boot; ENOSYS: not built in). */
static long landlock_abi(void) {
  long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return v < 0 ? -errno : v;
}

/* 0 when the process may create a namespace of `flag` kind (tried in a throwaway child), else errno. */
static int try_unshare(int flag) {
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) _exit(unshare(flag) == 0 ? 0 : (errno & 0x7f));
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return errno;
  return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

int main(void) {
  /* PR_GET_SECCOMP answers 0 (not filtered yet) when seccomp is built in, EINVAL otherwise. */
  int seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
  int seccomp_errno = seccomp < 0 ? errno : 0;
  long abi = landlock_abi();
  int userns = try_unshare(CLONE_NEWUSER);
  int mountns = try_unshare(CLONE_NEWNS);
  printf("{\"seccomp\":%s,\"seccomp_mode\":%d,\"seccomp_errno\":%d,\"landlock_abi\":%ld,"
         "\"userns_errno\":%d,\"mountns_errno\":%d,\"uid\":%u,\"euid\":%u}\n",
         seccomp >= 0 ? "true" : "false", seccomp, seccomp_errno, abi, userns, mountns,
         (unsigned)getuid(), (unsigned)geteuid());
  return 0;
}
