/*  fuzz: what the libFuzzer harnesses of tests/fuzz share.

    Each fuzz_<what>.c defines LLVMFuzzerTestOneInput for one parser of
    outside input; tests/fuzz/README.md says how to build and run them. */
#ifndef ONENET_FUZZ_H
#define ONENET_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The input as a NUL-terminated string (malloc'd, caller frees); bytes
   after an embedded NUL are kept but invisible to C string functions. */
char *fuzz_cstring (const uint8_t *data, size_t size);

/* Writes the input to this process's scratch file whose name ends in
   suffix (".yaml", ".conf") and returns its path, valid until the next
   call. Aborts when the file cannot be written: a broken harness must not
   pass as a clean run. */
const char *fuzz_scratch_file (const char *suffix, const uint8_t *data, size_t size);

/* The directory of this process's scratch files (created on first use). */
const char *fuzz_scratch_dir (void);

/* Checks what an adapter's parser produced for agency: bytes must be one
   serialized CaseEvent with event_id, of that agency, with a well-formed
   event type, a case number, an occurrence time, valid UTF-8 everywhere,
   keys that pass their check rules and attribute names given once: what
   the adapter promises to check before anything travels. Aborts
   otherwise. */
void fuzz_check_adapter_event (const uint8_t *bytes, size_t len, const char *agency,
                               const char *event_id);

#endif
