/* What the node has: GPUs from nvidia-smi when it is installed, else none; the CPU model from
 * /proc/cpuinfo, online cores and physical memory. config.hardware overrides any of it (for
 * GPUs nvidia-smi does not see, or to advertise less than the machine has). */
#include "miner_agent.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NVSMI_TIMEOUT_MS 5000
#define NVSMI_OUT_MAX 65536
#define GPUS_MAX 64

extern char **environ;

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

cJSON *ma_hw_parse_nvidia(const char *text) {
    cJSON *gpus = cJSON_CreateArray();
    char *copy = strdup(text ? text : "");
    if (!gpus || !copy) {
        free(copy);
        return gpus;
    }
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && cJSON_GetArraySize(gpus) < GPUS_MAX;
         line = strtok_r(NULL, "\n", &save)) {
        char *comma = strrchr(line, ',');
        if (!comma) continue;
        *comma = '\0';
        char *name = trim(line), *mem = trim(comma + 1), *end = NULL;
        errno = 0;
        long long mb = strtoll(mem, &end, 10);
        if (!*name || strlen(name) > 128 || end == mem || *end || errno || mb < 0 || mb > 100000000)
            continue;
        cJSON *g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "name", name);
        aitbc_json_add_i64(g, "memory_mb", mb);
        cJSON_AddItemToArray(gpus, g);
    }
    free(copy);
    return gpus;
}

void ma_hw_parse_cpu_model(const char *cpuinfo, char *out, size_t cap) {
    out[0] = '\0';
    for (const char *p = cpuinfo; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "model name", 10) != 0) continue;
        const char *colon = strchr(p, ':'), *eol = strchr(p, '\n');
        if (!colon || (eol && colon > eol)) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        size_t n = eol ? (size_t)(eol - colon) : strlen(colon);
        if (n >= cap) n = cap - 1;
        memcpy(out, colon, n);
        out[n] = '\0';
        return;
    }
}

int64_t ma_hw_parse_mem_mb(const char *meminfo) {
    const char *p = meminfo ? strstr(meminfo, "MemTotal:") : NULL;
    long long kb;
    if (!p || sscanf(p + 9, "%lld", &kb) != 1 || kb < 0) return -1;
    return kb / 1024;
}

static char *read_small(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = malloc(NVSMI_OUT_MAX + 1);
    size_t n = buf ? fread(buf, 1, NVSMI_OUT_MAX, f) : 0;
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

/* Output of nvidia-smi, or NULL when it is absent, fails or hangs. No shell involved. */
static char *run_nvidia_smi(void) {
    char *argv[] = {"nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits",
                    NULL};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "nvidia-smi", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return NULL;
    }
    char *out = malloc(NVSMI_OUT_MAX + 1);
    size_t n = 0;
    int64_t until = aitbc_mono_ms() + NVSMI_TIMEOUT_MS;
    while (out && n < NVSMI_OUT_MAX) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int64_t left = until - aitbc_mono_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) break;
        ssize_t got = read(fds[0], out + n, NVSMI_OUT_MAX - n);
        if (got <= 0) break;
        n += (size_t)got;
    }
    close(fds[0]);
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    if (!out || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    return out;
}

void ma_hw_detect(ma_agent *a) {
    ma_hw *hw = &a->hw;
    char *smi = run_nvidia_smi();
    hw->gpus = ma_hw_parse_nvidia(smi);
    free(smi);
    char *cpu = read_small("/proc/cpuinfo");
    ma_hw_parse_cpu_model(cpu ? cpu : "", hw->cpu_model, sizeof hw->cpu_model);
    free(cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    hw->cpu_cores = cores > 0 ? cores : 1;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    hw->memory_mb = pages > 0 && page > 0 ? (int64_t)pages / (1024 * 1024 / page) : -1;
    if (a->cfg.hardware) ma_hw_override(hw, a->cfg.hardware);
    a->api->log(a->ctx, AITBC_LOG_INFO, "hardware: %d GPU(s), CPU \"%s\" × %lld, %lld MiB",
                cJSON_GetArraySize(hw->gpus), hw->cpu_model, (long long)hw->cpu_cores,
                (long long)hw->memory_mb);
}

int ma_hw_check_override(const cJSON *o, char *why, size_t cap) {
    static const char *const keys[] = {"gpus", "cpu_model", "cpu_cores", "memory_mb", NULL};
    static const char *const gpu_keys[] = {"name", "memory_mb", NULL};
    const char *u = cJSON_IsObject(o) ? aitbc_json_unknown_key(o, keys) : NULL;
    int64_t v;
    if (!cJSON_IsObject(o) || u) {
        snprintf(why, cap, "must be an object of gpus, cpu_model, cpu_cores, memory_mb%s%s",
                 u ? "; unknown: " : "", u ? u : "");
        return AITBC_EINVAL;
    }
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(o, "gpus"), *g;
    if (gpus && (!cJSON_IsArray(gpus) || cJSON_GetArraySize(gpus) > GPUS_MAX)) {
        snprintf(why, cap, "gpus must be an array of at most %d GPUs", GPUS_MAX);
        return AITBC_EINVAL;
    }
    cJSON_ArrayForEach(g, gpus) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "name"));
        if (!cJSON_IsObject(g) || aitbc_json_unknown_key(g, gpu_keys) || !name || !name[0] ||
            strlen(name) > 128 ||
            aitbc_json_int(cJSON_GetObjectItemCaseSensitive(g, "memory_mb"), &v) != 0 || v < 0 ||
            v > 100000000) {
            snprintf(why, cap, "gpus: each is {name: 1..128 characters, memory_mb: integer}");
            return AITBC_EINVAL;
        }
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "cpu_model");
    if (m && (!cJSON_IsString(m) || strlen(m->valuestring) > 127)) {
        snprintf(why, cap, "cpu_model must be a string of at most 127 characters");
        return AITBC_EINVAL;
    }
    const char *ints[] = {"cpu_cores", "memory_mb"};
    for (int i = 0; i < 2; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, ints[i]);
        if (it && (aitbc_json_int(it, &v) != 0 || v < 0)) {
            snprintf(why, cap, "%s must be an integer >= 0", ints[i]);
            return AITBC_EINVAL;
        }
    }
    return 0;
}

void ma_hw_override(ma_hw *hw, const cJSON *o) {
    const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(o, "gpus");
    if (gpus) {
        cJSON_Delete(hw->gpus);
        hw->gpus = cJSON_Duplicate(gpus, 1);
    }
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "cpu_model"));
    if (model) snprintf(hw->cpu_model, sizeof hw->cpu_model, "%s", model);
    aitbc_json_int(cJSON_GetObjectItemCaseSensitive(o, "cpu_cores"), &hw->cpu_cores);
    aitbc_json_int(cJSON_GetObjectItemCaseSensitive(o, "memory_mb"), &hw->memory_mb);
}

void ma_hw_free(ma_hw *hw) {
    cJSON_Delete(hw->gpus);
    hw->gpus = NULL;
}
