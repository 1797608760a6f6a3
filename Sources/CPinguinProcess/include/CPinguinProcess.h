#ifndef CPINGUIN_PROCESS_H
#define CPINGUIN_PROCESS_H

#include <sys/types.h>

/// What a child process gets. Descriptors 0, 1 and 2 become `stdin_fd`, `stdout_fd` and
/// `stderr_fd`; every other descriptor is closed, whatever its close-on-exec flag says.
typedef struct pinguin_spawn_request {
    const char *path;
    char *const *argv;
    char *const *envp;
    int stdin_fd;
    int stdout_fd;
    int stderr_fd;
    /// Working directory (NULL: unchanged).
    const char *working_directory;
    /// Non-zero: the child leads a new process group, so it and its children can be killed as one.
    int new_process_group;
    /// Non-zero: drop to `gid`/`uid` (supplementary groups cleared) before exec.
    int change_user;
    uid_t uid;
    gid_t gid;
    /// Resource limits; a negative value leaves the limit as inherited.
    long long limit_address_space_bytes;
    long long limit_open_files;
    long long limit_cpu_seconds;
    long long limit_processes;
} pinguin_spawn_request;

/// Forks and executes `request->path`. The child resets every signal to its default action and
/// unblocks all signals (the parent ignores SIGPIPE; a plugin must not inherit that), sets the
/// limits, drops privileges last, then executes. Returns 0 and sets `*pid`, or an errno value: a
/// failure in the child before exec (no such file, permission denied, setuid refused) is reported
/// back to the parent through a close-on-exec pipe, so the caller sees it as a spawn error.
int pinguin_spawn(const pinguin_spawn_request *request, pid_t *pid);

/// pipe2 with O_CLOEXEC, so descriptors never leak into children spawned by other threads.
int pinguin_pipe_cloexec(int fds[2]);

#endif
