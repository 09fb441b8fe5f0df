/*  fuzz_settings: a config file and command-line flags, read by the hub's
    and the adapters' settings tables (common/settings.c over inih, then
    hub_config.c and adapter_config.c).

    Input: the file's text, optionally followed by a line "%%" and the
    flags, separated by white space (at most 32 of them). */
#include <stdlib.h>
#include <string.h>

#include "adapter_config.h"
#include "fuzz.h"
#include "hub_config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_FLAGS 32

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = fuzz_cstring (data, size);
    size_t file_len = size;
    char *flags = strstr (text, "\n%%\n");
    if (flags) {
        file_len = (size_t) (flags - text) + 1;
        flags += 4;
    }
    const char *path = fuzz_scratch_file (".conf", data, file_len);

    char prog[] = "onenet-fuzz", config_flag[] = "--config";
    char path_arg[320];
    strcpy (path_arg, path);
    char *argv[MAX_FLAGS + 4] = {prog, config_flag, path_arg};
    int argc = 3;
    char *save = NULL;
    for (char *tok = flags ? strtok_r (flags, " \t\r\n", &save) : NULL;
         tok && argc < MAX_FLAGS + 3; tok = strtok_r (NULL, " \t\r\n", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;

    /* getopt permutes argv: each reader gets its own copy */
    char *hub_argv[MAX_FLAGS + 4], *adapter_argv[MAX_FLAGS + 4];
    memcpy (hub_argv, argv, sizeof argv);
    memcpy (adapter_argv, argv, sizeof argv);
    hub_config_t hub;
    hub_config_load (&hub, argc, hub_argv);
    adapter_config_t adapter;
    adapter_config_load (&adapter, "onenet-adapter", "fuzz", argc, adapter_argv);
    free (text);
    return 0;
}
