#define _GNU_SOURCE
#include "CPinguinProcess.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int pinguin_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno;
}

static void report_and_exit(int report_fd, int error) {
    ssize_t ignored = write(report_fd, &error, sizeof error);
    (void)ignored;
    _exit(127);
}

static int set_limit(int resource, long long value) {
    if (value < 0) return 0;
    struct rlimit limit = {(rlim_t)value, (rlim_t)value};
    return setrlimit(resource, &limit);
}

/// Moves `fd` to `target`; a descriptor already at its place only loses close-on-exec.
static int place(int fd, int target) {
    if (fd == target) {
        int flags = fcntl(fd, F_GETFD);
        return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    return dup2(fd, target) < 0 ? -1 : 0;
}

int pinguin_spawn(const pinguin_spawn_request *request, pid_t *pid) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;

    pid_t child = fork();
    if (child < 0) {
        int error = errno;
        close(report[0]);
        close(report[1]);
        return error;
    }
    if (child == 0) {
        sigset_t all;
        sigfillset(&all);
        for (int signal_number = 1; signal_number < NSIG; signal_number++) {
            if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
            struct sigaction action;
            memset(&action, 0, sizeof action);
            action.sa_handler = SIG_DFL;
            sigaction(signal_number, &action, NULL);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);

        if (request->new_process_group && setpgid(0, 0) != 0) report_and_exit(report[1], errno);

        // Copy the three above 2 first, so dup2 into 0..2 never overwrites one still needed.
        int in = fcntl(request->stdin_fd, F_DUPFD_CLOEXEC, 3);
        int out = fcntl(request->stdout_fd, F_DUPFD_CLOEXEC, 3);
        int err = fcntl(request->stderr_fd, F_DUPFD_CLOEXEC, 3);
        if (in < 0 || out < 0 || err < 0) report_and_exit(report[1], errno);
        if (place(in, 0) != 0 || place(out, 1) != 0 || place(err, 2) != 0) report_and_exit(report[1], errno);

        // Close everything above 2 except the report pipe (close-on-exec closes it at exec).
        for (int fd = 3; fd < report[1]; fd++) close(fd);
#ifdef SYS_close_range
        if (syscall(SYS_close_range, (unsigned)report[1] + 1, ~0U, 0) != 0)
#endif
        {
            long highest = sysconf(_SC_OPEN_MAX);
            if (highest < 0 || highest > 1 << 20) highest = 1 << 20;
            for (long fd = report[1] + 1; fd < highest; fd++) close((int)fd);
        }

        if (request->working_directory && chdir(request->working_directory) != 0) report_and_exit(report[1], errno);
        if (set_limit(RLIMIT_AS, request->limit_address_space_bytes) != 0 ||
            set_limit(RLIMIT_NOFILE, request->limit_open_files) != 0 ||
            set_limit(RLIMIT_CPU, request->limit_cpu_seconds) != 0 ||
            set_limit(RLIMIT_NPROC, request->limit_processes) != 0) {
            report_and_exit(report[1], errno);
        }
        if (request->change_user) {
            if (setgroups(0, NULL) != 0) report_and_exit(report[1], errno);
            if (setresgid(request->gid, request->gid, request->gid) != 0) report_and_exit(report[1], errno);
            if (setresuid(request->uid, request->uid, request->uid) != 0) report_and_exit(report[1], errno);
        }
        execve(request->path, request->argv, request->envp);
        report_and_exit(report[1], errno);
    }

    close(report[1]);
    int child_error = 0;
    ssize_t got;
    do {
        got = read(report[0], &child_error, sizeof child_error);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof child_error) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return child_error;
    }
    // The report pipe closed at exec: by now the child leads its own group (when asked to).
    *pid = child;
    return 0;
}
