/* One exec job: spawn the command in its own process group with a clean environment and a memory
 * limit, feed the payload to stdin while draining stdout and stderr, and end the whole group on
 * timeout, cancel or an output flood. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <aitbc/errors.h>
#include <aitbc/json.h>
#include <aitbc/util.h>
#include "exec.h"

#define STDERR_TAIL 400        /* bytes of stderr quoted in a failure message */
#define POLL_MS 50             /* how often stop requests and the deadline are checked */
#define EXEC_FD_SCAN_MAX 65536 /* descriptors marked close-on-exec where close_range cannot */

typedef struct child {
    pid_t pid;
    int in, out, err; /* our ends; -1 once closed */
    char *stdout_buf;
    size_t stdout_len;
    int overflow; /* stdout passed max_output_bytes */
    char tail[STDERR_TAIL];
    size_t tail_len;
    int exited; /* waitid saw the child end (not yet reaped) */
    int status; /* from waitpid */
} child;

/* Between fork and exec only async-signal-safe calls: the parent may have other threads. */
static void exec_child(const exec_command *c, int in, int out, int err, int report) {
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the host blocks SIGTERM/SIGINT in its threads */
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL); /* an ignored SIGPIPE would survive exec */
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) goto failed;
    /* Nothing of the host (sockets, the database) may leak into the command. Kernels before 5.11
     * lack CLOSE_RANGE_CLOEXEC: mark the descriptors one by one there (report must stay open
     * until execve, so close-on-exec rather than close). */
    if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) != 0)
        for (int fd = 3; fd < EXEC_FD_SCAN_MAX; fd++)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(report, F_SETFD, FD_CLOEXEC);
    if (chdir(c->cwd) != 0) goto failed;
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    if (c->memory_bytes > 0) {
        struct rlimit as = {(rlim_t)c->memory_bytes, (rlim_t)c->memory_bytes};
        if (setrlimit(RLIMIT_AS, &as) != 0) goto failed;
    }
    execve(c->argv[0], c->argv, c->envp);
failed:;
    int e = errno;
    (void)!write(report, &e, sizeof e);
    _exit(127);
}

static int spawn(const exec_command *c, child *ch, int *exec_errno) {
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, rep[2] = {-1, -1};
    int rc = -1, saved_errno = 0;
    /* stdin is a socket so a command that exits without reading gets no SIGPIPE sent to us:
     * send(MSG_NOSIGNAL) returns EPIPE instead. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
        pipe2(err, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0)
        goto done;
    ch->pid = fork();
    if (ch->pid < 0) goto done;
    if (ch->pid == 0) exec_child(c, in[1], out[1], err[1], rep[1]);
    setpgid(ch->pid, ch->pid); /* also here: no window where a kill of the group misses it */
    close(rep[1]);
    rep[1] = -1;
    ssize_t n;
    do
        n = read(rep[0], exec_errno, sizeof *exec_errno);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof *exec_errno) *exec_errno = 0; /* EOF: exec succeeded */
    ch->in = in[0], ch->out = out[0], ch->err = err[0];
    in[0] = out[0] = err[0] = -1;
    fcntl(ch->in, F_SETFL, O_NONBLOCK);
    fcntl(ch->out, F_SETFL, O_NONBLOCK);
    fcntl(ch->err, F_SETFL, O_NONBLOCK);
    rc = 0;
done:
    if (rc != 0) saved_errno = errno;
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (out[i] >= 0) close(out[i]);
        if (err[i] >= 0) close(err[i]);
        if (rep[i] >= 0) close(rep[i]);
    }
    if (rc != 0) errno = saved_errno; /* for the caller's message, whatever close() did */
    return rc;
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Reads what is there; 1 at EOF (fd closed), 0 otherwise. */
static int drain(child *ch, int *fd, size_t cap) {
    char buf[16384];
    for (;;) {
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n > 0 && fd == &ch->out) {
            if (ch->stdout_len + (size_t)n > cap) {
                ch->overflow = 1;
                return 0;
            }
            char *grown = realloc(ch->stdout_buf, ch->stdout_len + (size_t)n + 1);
            if (!grown) {
                ch->overflow = 1;
                return 0;
            }
            ch->stdout_buf = grown;
            memcpy(ch->stdout_buf + ch->stdout_len, buf, (size_t)n);
            ch->stdout_len += (size_t)n;
            ch->stdout_buf[ch->stdout_len] = '\0';
        } else if (n > 0) { /* stderr: keep only the end */
            size_t keep = (size_t)n >= STDERR_TAIL ? 0 : STDERR_TAIL - (size_t)n;
            if (ch->tail_len > keep) {
                memmove(ch->tail, ch->tail + ch->tail_len - keep, keep);
                ch->tail_len = keep;
            }
            size_t take = (size_t)n - ((size_t)n > STDERR_TAIL ? (size_t)n - STDERR_TAIL : 0);
            memcpy(ch->tail + ch->tail_len, buf + n - take, take);
            ch->tail_len += take;
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            close_fd(fd);
            return 1;
        } else if (errno == EAGAIN) {
            return 0;
        }
    }
}

/* Writes more of the payload; closes stdin when all is written or the command stopped reading. */
static void feed(child *ch, const char *data, size_t len, size_t *sent) {
    while (*sent < len) {
        ssize_t n = send(ch->in, data + *sent, len - *sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            *sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return;
        } else {
            break; /* EPIPE: the command does not want (the rest of) its input */
        }
    }
    close_fd(&ch->in);
}

/* Ends every process of the job's group. While the leader is unreaped its pid (= the group id)
 * cannot be reused, so this never hits a stranger. */
static void kill_group(child *ch) {
    kill(-ch->pid, SIGKILL);
}

static void reap(child *ch) {
    kill_group(ch);
    while (waitpid(ch->pid, &ch->status, 0) < 0 && errno == EINTR)
        ;
}

/* Printable ASCII only: the message goes into JSON that is hashed for the receipt. */
static void printable_tail(const child *ch, char *out, size_t cap) {
    size_t o = 0, i = 0;
    while (i < ch->tail_len && (ch->tail[i] == '\n' || ch->tail[i] == ' '))
        i++;
    for (; i < ch->tail_len && o + 1 < cap; i++) {
        unsigned char b = (unsigned char)ch->tail[i];
        out[o++] = b >= 32 && b < 127 ? (char)b : b == '\n' ? '|' : '?';
    }
    while (o > 0 && (out[o - 1] == '|' || out[o - 1] == ' '))
        o--;
    out[o] = '\0';
}

typedef enum { RAN, STOPPED, TIMED_OUT, TOO_MUCH } outcome;

static outcome supervise(child *ch, const exec_command *c, const char *input, size_t input_len,
                         const aitbc_compute_ctl *ctl, int64_t deadline) {
    size_t sent = 0;
    feed(ch, input, input_len, &sent);
    for (;;) {
        if (ch->overflow) return TOO_MUCH;
        /* The deadline first: an agent's should_stop also turns true at ctl->deadline_ms. */
        int64_t left = deadline - aitbc_now_ms();
        if (left <= 0) return TIMED_OUT;
        if (ctl && ctl->should_stop && ctl->should_stop(ctl->user)) return STOPPED;
        if (!ch->exited) {
            siginfo_t si = {0};
            if (waitid(P_PID, (id_t)ch->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                si.si_pid == ch->pid) {
                ch->exited = 1;
                /* Children it left behind may hold stdout open; they end with their parent. */
                kill_group(ch);
            }
        }
        if (ch->exited && ch->out < 0 && ch->err < 0) return RAN;
        struct pollfd p[3];
        int n = 0;
        if (ch->in >= 0) p[n++] = (struct pollfd){ch->in, POLLOUT, 0};
        if (ch->out >= 0) p[n++] = (struct pollfd){ch->out, POLLIN, 0};
        if (ch->err >= 0) p[n++] = (struct pollfd){ch->err, POLLIN, 0};
        int wait_ms = left < POLL_MS ? (int)left : POLL_MS;
        if (poll(p, (nfds_t)n, wait_ms) <= 0) continue; /* n == 0: just waits for the exit */
        for (int i = 0; i < n; i++) {
            if (!p[i].revents) continue;
            if (p[i].fd == ch->in)
                feed(ch, input, input_len, &sent);
            else if (p[i].fd == ch->out)
                drain(ch, &ch->out, c->max_output_bytes);
            else if (p[i].fd == ch->err)
                drain(ch, &ch->err, 0);
        }
    }
}

static int result_of(child *ch, const exec_command *c, int64_t started, aitbc_compute_out *out) {
    char tail[STDERR_TAIL + 1];
    printable_tail(ch, tail, sizeof tail);
    if (WIFSIGNALED(ch->status))
        return aitbc_compute_fail(out, AITBC_EIO, 0, "command_failed",
                                  "%s was killed by signal %d%s%s", c->argv[0],
                                  WTERMSIG(ch->status), tail[0] ? ": " : "", tail);
    if (WEXITSTATUS(ch->status) != 0)
        return aitbc_compute_fail(out, AITBC_EIO, 0, "command_failed",
                                  "%s exited with status %d%s%s", c->argv[0],
                                  WEXITSTATUS(ch->status), tail[0] ? ": " : "", tail);
    cJSON *result = ch->stdout_buf ? aitbc_json_parse_strict(ch->stdout_buf, ch->stdout_len) : NULL;
    if (!cJSON_IsObject(result)) {
        cJSON_Delete(result);
        return aitbc_compute_fail(out, AITBC_EIO, 0, "invalid_output",
                                  "%s printed %zu bytes that are not one JSON object (UTF-8) on "
                                  "stdout",
                                  c->argv[0], ch->stdout_len);
    }
    out->result = result;
    if (c->bill_seconds) {
        out->units = (aitbc_now_ms() - started + 999) / 1000;
        out->unit_type = "second";
    } else {
        out->units = 1;
        out->unit_type = "job";
    }
    return 0;
}

int exec_run(const exec_command *c, const cJSON *payload, const aitbc_compute_ctl *ctl,
             aitbc_compute_out *out) {
    const int64_t started = aitbc_now_ms();
    if (!cJSON_IsObject(payload))
        return aitbc_compute_fail(out, AITBC_EINVAL, 0, "invalid_payload",
                                  "the payload must be a JSON object");
    char *input = aitbc_json_canonical(payload);
    if (!input) return aitbc_compute_fail(out, AITBC_ENOMEM, 1, "out_of_memory", "out of memory");
    child ch = {.pid = -1, .in = -1, .out = -1, .err = -1};
    int exec_errno = 0;
    if (spawn(c, &ch, &exec_errno) != 0) {
        int e = errno;
        free(input);
        return aitbc_compute_fail(out, AITBC_EIO, 1, "spawn_failed", "cannot start %s: %s",
                                  c->argv[0], strerror(e));
    }
    int64_t deadline = aitbc_compute_deadline(ctl, started, c->timeout_ms);
    outcome how = exec_errno ? RAN : supervise(&ch, c, input, strlen(input), ctl, deadline);
    free(input);
    reap(&ch);
    close_fd(&ch.in);
    close_fd(&ch.out);
    close_fd(&ch.err);
    int rc = 0;
    if (exec_errno)
        rc = aitbc_compute_fail(out, AITBC_EIO, 1, "spawn_failed", "cannot run %s: %s", c->argv[0],
                                strerror(exec_errno));
    else if (how == STOPPED)
        rc = aitbc_compute_fail(out, AITBC_EUNAVAIL, 1, "stopped",
                                "the job was stopped; its processes were killed");
    else if (how == TIMED_OUT)
        rc = aitbc_compute_fail(out, AITBC_EUNAVAIL, 0, "timeout",
                                "%s did not finish within %lld ms; its processes were killed",
                                c->argv[0], (long long)(deadline - started));
    else if (how == TOO_MUCH)
        rc = aitbc_compute_fail(out, AITBC_EIO, 0, "output_too_large",
                                "%s printed more than %zu bytes on stdout; it was killed",
                                c->argv[0], c->max_output_bytes);
    else
        rc = result_of(&ch, c, started, out);
    free(ch.stdout_buf);
    return rc;
}
