/* Jobs for people: a short summary, the result's text, and the progress line while waiting. */
#include "cli.h"

#include <aitbc/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const cJSON *o, const char *k) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return s ? s : "-";
}

/* progress as a percentage, or -1 when null */
static int percent(const cJSON *job) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(job, "progress");
    return cJSON_IsNumber(p) ? (int)(p->valuedouble * 100 + 0.5) : -1;
}

void cli_show_job(const cJSON *job) {
    int pc = percent(job);
    printf("job        %s\n", str(job, "job_id"));
    printf("state      %s", str(job, "state"));
    if (pc >= 0) printf(" (%d%%)", pc);
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(job, "pending_reason")))
        printf(" (%s)", str(job, "pending_reason"));
    printf("\ntype       %s\n", str(cJSON_GetObjectItemCaseSensitive(job, "payload"), "type"));
    printf("miner      %s\n", str(job, "assigned_miner"));
    printf("price      %s AIT (max %s, %s)\n", str(job, "price"), str(job, "max_price"),
           str(job, "payment_status"));
    printf("created    %s\n", str(job, "created_at"));
    printf("completed  %s\n", str(job, "completed_at"));
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(job, "error");
    if (cJSON_IsObject(e)) printf("error      %s: %s\n", str(e, "code"), str(e, "message"));
}

void cli_show_result(const cJSON *job) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(job, "result");
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "text"));
    if (text) {
        fputs(text, stdout);
        if (!text[0] || text[strlen(text) - 1] != '\n') putchar('\n');
    } else if (r && !cJSON_IsNull(r)) {
        cli_print_json(r);
    }
}

void cli_show_progress(const cJSON *job, int tty, int done) {
    static char last[96];
    char now[96];
    int pc = percent(job);
    const char *state = str(job, "state");
    if (pc >= 0)
        snprintf(now, sizeof now, "%s %d%%", state, pc);
    else
        snprintf(now, sizeof now, "%s", state);
    if (!tty) {
        if (strcmp(now, last) != 0) fprintf(stderr, "%s: %s\n", str(job, "job_id"), now);
    } else {
        char bar[21];
        int filled = pc > 0 ? pc / 5 : 0;
        for (int i = 0; i < 20; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[20] = 0;
        fprintf(stderr, "\r\033[K%s [%s] %s", str(job, "job_id"), bar, now);
        if (done) fputc('\n', stderr);
    }
    fflush(stderr);
    snprintf(last, sizeof last, "%s", now);
}
