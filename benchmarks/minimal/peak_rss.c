/* Preloaded by mqtt_bench into each minimal program: at exit, writes the process's peak resident
 * memory (VmHWM, KiB) to the file named by $MQTT_BENCH_PEAK_RSS_FILE. The parent cannot learn it
 * from wait4(): a spawned child's ru_maxrss starts at the size of the process that spawned it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((destructor)) static void report_peak_rss(void)
{
    const char* path = getenv("MQTT_BENCH_PEAK_RSS_FILE");
    if (path == NULL)
        return;
    FILE* status = fopen("/proc/self/status", "r");
    if (status == NULL)
        return;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, status) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(status);
    FILE* out = fopen(path, "w");
    if (out == NULL)
        return;
    fprintf(out, "%ld\n", kib);
    fclose(out);
}
